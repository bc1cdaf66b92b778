#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# SEV launch (DESIGN.md "SEV platform emulation"): the launch event's launch
# digest is the same for the same inputs and changes with the command line
# or the RAM size; the measurement differs run to run (fresh mnonce); -v
# prints the event's values; scripts/log-strip drops measurement and mnonce
# so seeded runs still compare equal; no launch without --sev; and with real
# ciphertext in private pages a ucall struct there is still refused.
. "$(dirname "$0")/common.bash"
need_kvm

# launch_field LOG KEY: the value of KEY in the log's only launch event
# (empty and a FAIL when there is not exactly one).
launch_field() {
	python3 - "$1" "$2" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
launch = [e for e in ev if e["type"] == "launch"]
if len(launch) != 1:
    sys.exit(f"{len(launch)} launch events, want 1")
start = [i for i, e in enumerate(ev) if e["type"] == "start"]
if not start or ev.index(launch[0]) != start[0] + 1:
    sys.exit("the launch event does not follow the start event")
v = launch[0].get(sys.argv[2])
if not isinstance(v, str):
    sys.exit(f"{sys.argv[2]} is {v!r}, not a string")
print(v)
PY
}

# launch_run NAME ARGS...: run with --log $TMP/NAME.jsonl; sets LD_NAME etc.
launch_run() {
	local name=$1 key v
	shift
	run --sev --log "$TMP/$name.jsonl" "$@" "$GUEST"
	expect_rc 0 "launch run $name ($*)" || return 1
	json_lines_ok "$TMP/$name.jsonl" || { fail "$name: log lines do not all parse"; return 1; }
	cp "$TMP/err" "$TMP/$name.err"
	for key in policy ld measurement mnonce; do
		v=$(launch_field "$TMP/$name.jsonl" "$key" 2>&1) || { fail "$name: $v"; return 1; }
		printf -v "${key}_$name" '%s' "$v"
	done
}

hex_len() { # hex_len VALUE N: VALUE is exactly N lowercase hex digits
	[[ $1 =~ ^[0-9a-f]+$ ]] && [ ${#1} -eq "$2" ]
}

launch_run a -v --cmdline scenario=hello || finish
launch_run b --cmdline scenario=hello || finish
launch_run c --cmdline scenario=sev || finish
launch_run d -m 512M --cmdline scenario=hello || finish

# shellcheck disable=SC2154 # set by printf -v in launch_run
{
	for r in a b; do
		v=ld_$r; hex_len "${!v}" 64 || fail "run $r: ld '${!v}' is not 64 hex digits"
		v=measurement_$r; hex_len "${!v}" 64 || fail "run $r: measurement '${!v}' is not 64 hex digits"
		v=mnonce_$r; hex_len "${!v}" 32 || fail "run $r: mnonce '${!v}' is not 32 hex digits"
	done
	[ "$policy_a" = 0x18000003 ] || fail "policy $policy_a, want 0x18000003 (NODBG|NOKS, API 0.24)"
	if [ "$ld_a" = "$ld_b" ]; then
		pass "same ELF, cmdline, -m, -c: same ld ($ld_a)"
	else
		fail "same inputs, two launch digests: $ld_a, $ld_b"
	fi
	if [ "$ld_a" != "$ld_c" ]; then
		pass "other cmdline: other ld"
	else
		fail "scenario=hello and scenario=sev measure the same ld"
	fi
	if [ "$ld_a" != "$ld_d" ]; then
		pass "other -m: other ld"
	else
		fail "-m 256M and -m 512M measure the same ld"
	fi
	if [ "$measurement_a" != "$measurement_b" ] && [ "$mnonce_a" != "$mnonce_b" ]; then
		pass "two runs: two measurements and mnonces"
	else
		fail "two runs share a measurement or mnonce: $measurement_a/$mnonce_a, $measurement_b/$mnonce_b"
	fi
	want="mini-vmm: launch policy $policy_a ld $ld_a measurement $measurement_a mnonce $mnonce_a"
	if grep -qxF "$want" "$TMP/a.err"; then
		pass "-v prints the launch on one line"
	else
		fail "-v: no line '$want' on stderr"
	fi
	grep -q "launch" "$TMP/b.err" && fail "without -v the launch is printed"
}

# Seeded serial runs: same keys and nonces; log-strip drops the two fields anyway.
for r in s1 s2; do
	launch_run "$r" -c 2 --sched=serial --seed 5 --cmdline scenario=hello || finish
	"$SRC/scripts/log-strip" "$TMP/$r.jsonl" >"$TMP/$r.stripped"
done
if cmp -s "$TMP/s1.stripped" "$TMP/s2.stripped"; then
	pass "--sched=serial --seed 5 twice: identical stripped logs"
else
	fail "--sched=serial --seed 5: stripped logs differ"
	diff "$TMP/s1.stripped" "$TMP/s2.stripped" | head -4
fi
if grep '"type":"launch"' "$TMP/s1.stripped" | grep -qE '"(measurement|mnonce)"'; then
	fail "log-strip keeps measurement or mnonce"
elif ! grep '"type":"launch"' "$TMP/s1.stripped" | grep -q '"ld":'; then
	fail "log-strip dropped ld (stable, it must stay)"
else
	pass "log-strip drops measurement and mnonce, keeps ld"
fi

# Without --sev: no PSP, no launch.
run --log "$TMP/nosev.jsonl" --cmdline scenario=hello "$GUEST"
if expect_rc 0 "scenario=hello without --sev"; then
	if grep -q '"type":"launch"' "$TMP/nosev.jsonl"; then
		fail "without --sev: a launch event"
	else
		pass "without --sev: no launch event"
	fi
fi

# Private pages now read as real AES-XTS ciphertext: still refused, named.
run --sev --timeout 20 --cmdline scenario=hostile-ucall-private "$GUEST"
if expect_rc 3 "hostile-ucall-private"; then
	if grep -q "maps private: the host sees only ciphertext there" "$TMP/out" "$TMP/err"; then
		pass "hostile-ucall-private: exit 3, refused as ciphertext"
	else
		fail "hostile-ucall-private: exit 3 without its message"
		show_output
	fi
fi
finish
