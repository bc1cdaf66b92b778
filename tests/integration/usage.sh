#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Command-line errors exit 2 with a message naming the option; --help and
# --version exit 0; an unknown guest scenario is a guest failure (exit 3).
. "$(dirname "$0")/common.bash"

# check_usage WORD ARGS...: exit 2, one stderr line containing WORD.
check_usage() {
	local word=$1
	shift
	run "$@"
	expect_rc 2 "mini-vmm $*" || return
	if [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$word" "$TMP/err"; then
		fail "mini-vmm $*: want one stderr line naming '$word'"
		show_output
	else
		pass "mini-vmm $*: $(cat "$TMP/err")"
	fi
}

check_usage "-m 1K" -m 1K "$GUEST"
check_usage "-m 2T" -m 2T "$GUEST"
check_usage "--cpus 0" --cpus 0 "$GUEST"
check_usage "--cpus 65" --cpus 65 "$GUEST"
check_usage "--sev=hw" --sev=hw "$GUEST"
check_usage "--cbit 47" --cbit 47 "$GUEST"
check_usage "--timeout 0" --timeout 0 "$GUEST"
check_usage "--hypercall=magic" --hypercall=magic "$GUEST"
check_usage "--frobnicate" --frobnicate "$GUEST"
check_usage "--log" "$GUEST" --log
check_usage "no guest ELF" --sev
check_usage "exactly one guest ELF" "$GUEST" "$GUEST"
check_usage "--no-check" --no-check=1 "$GUEST"
# A guest script only scenario=script reads: decided before anything boots.
check_usage "scenario=script" --guest-script "$TMP/none.txt" "$GUEST"
check_usage "scenario=script" --sev --guest-script "$TMP/none.txt" "$GUEST"
check_usage "scenario=script" --guest-script "$TMP/none.txt" --cmdline scenario=sev "$GUEST"

# check_info PATTERN ARGS...: exit 0, PATTERN on stdout, nothing on stderr.
check_info() {
	local pattern=$1
	shift
	run "$@"
	expect_rc 0 "mini-vmm $*" || return
	if ! grep -q -- "$pattern" "$TMP/out" || [ -s "$TMP/err" ]; then
		fail "mini-vmm $*: want '$pattern' on stdout and nothing on stderr"
		show_output
	else
		pass "mini-vmm $*"
	fi
}

check_info "^usage: mini-vmm" --help
check_info "^usage: mini-vmm" -h
check_info "^mini-vmm [0-9]" --version
check_info "^mini-vmm [0-9]" -V

if have_kvm; then
	run --cmdline scenario=nope "$GUEST"
	expect_rc 3 "--cmdline scenario=nope" && pass "unknown scenario exits 3"
	if ! grep -q "unknown scenario" "$TMP/out" "$TMP/err"; then
		fail "unknown scenario: no 'unknown scenario' in the output"
		show_output
	fi
else
	echo "skipped: unknown scenario (needs /dev/kvm)"
fi
finish
