#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest checks its whole command line at boot, before any scenario
# runs (guest-stub/cmdline.c, README "Guest command line"): an unknown key,
# a value not in the key's list, a malformed number, a word that is not
# KEY=VALUE or a key given twice is a guest ABORT (exit 3) whose message
# names the word, never a silent default. No --sev: the check comes first.
. "$(dirname "$0")/common.bash"
need_kvm

# check_bad CMDLINE WORD...: exit 3, stderr names every WORD, no scenario ran.
check_bad() {
	local cmdline=$1 w
	shift
	run --cmdline "$cmdline" "$GUEST"
	expect_rc 3 "--cmdline '$cmdline'" || return
	for w in "guest assertion failed" "$@"; do
		if ! grep -qF -- "$w" "$TMP/err"; then
			fail "--cmdline '$cmdline': stderr does not name \"$w\""
			show_output
			return
		fi
	done
	if grep -qE "hello from mini-vmm guest|^kexec:" "$TMP/out"; then
		fail "--cmdline '$cmdline': the scenario ran before the check"
		show_output
		return
	fi
	pass "--cmdline '$cmdline': $(cat "$TMP/err")"
}

check_bad 'scenario=kexec strategy=v13' "unknown strategy 'v13'" "upstream"
# Still a typo once reboot= is a key (then its value is the unknown word).
check_bad 'scenario=hello reboot=linx' "reboot" "linx"
check_bad 'scenario=hello cycles=abc' "malformed number" "'cycles'" "abc"
check_bad 'scenario=kexec cycles=1x strategy=v12' "'cycles'" "1x"
check_bad 'scenario=hello io=-1' "'io'" "-1"
check_bad 'scenario=hello fault=silent' "unknown fault 'silent'" "silent-share"
check_bad 'scenario=nope' "unknown scenario 'nope'"
check_bad 'scenario=hostile-nope' "unknown scenario 'hostile-nope'"
check_bad 'scenario=hello quiet' "'quiet'" "KEY=VALUE"
check_bad 'scenario=hello =5' "unknown command-line key ''"
check_bad 'scenario=kexec cycles=1 cycles=2' "'cycles'" "twice"
check_bad 'strategy=upstream scenario=hello strategy=upstream' "'strategy'" "twice"
check_bad "scenario=hello verbose=$(printf '1%.0s' $(seq 80))" "too long"
# The log names the word too (guest_abort event).
run --log "$TMP/abort.jsonl" --cmdline 'scenario=hello reboot=linx' "$GUEST"
if ! grep -q '"type":"guest_abort".*reboot' "$TMP/abort.jsonl"; then
	fail "guest_abort event does not name the key"
fi

# Every key of the table, with a valid value, is accepted (hello ignores them).
good='scenario=hello strategy=v12 cycles=0x10 io=3 verbose=1 fault=silent-share n=5 rounds=1 flood=7'
run --cmdline "  $good  " "$GUEST"
if expect_rc 0 "--cmdline '$good'"; then
	grep -q "hello from mini-vmm guest" "$TMP/out" || fail "every key: no hello line"
	pass "every known key with a valid value runs"
fi
run --cmdline "" "$GUEST"
expect_rc 0 "empty --cmdline" && pass "empty --cmdline runs hello"
finish
