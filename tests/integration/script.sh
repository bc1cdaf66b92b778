#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# scenario=script: the guest issues the hypercalls of a script file, one per
# line ("map GPA NPAGES ATTRS [GEN] [expect RET]"). Every malformed call gets
# -KVM_EINVAL with the documented verdict and leaves the bitmap alone; a bad
# script line or a wrong 'expect' stops the guest (exit 3) naming the line.
. "$(dirname "$0")/common.bash"
need_kvm

# The 256 MiB default guest. Comments give the verdict the log must show.
cat >"$TMP/calls.txt" <<'SCRIPT'
# valid calls
map 0x300000 4 0 expect 0
map 0x400000 512 1 expect 0
map 0x301000 1 0x10 expect 0
# malformed calls, each refused with -KVM_EINVAL
map 0x300001 1 0 expect -22
map 0x300000 0 0 expect -22
map 0xfffffffffffff000 2 0 expect -22
map 0x1000 0xffffffffffffffff 0 expect -22
map 0x10000000 1 0 expect -22
map 0xffe0000 0x40 0 expect -22
map 0x300000 1 0x20 expect -22
map 0x300000 1 0x8000000000000000 expect -22
map 0x300000 1 3 expect -22
map 0x300000 512 15 expect -22
map 0x301000 512 1 expect -22
map 0x400000 511 1 expect -22
SCRIPT
verdicts="ok ok ok gpa_unaligned zero_pages outside_memory wrap outside_memory outside_memory"
verdicts="$verdicts reserved_attr reserved_attr bad_page_size bad_page_size size_misaligned"
verdicts="$verdicts size_misaligned"

run --sev --guest-script "$TMP/calls.txt" --log "$TMP/s.jsonl" --dump-bitmap \
	--cmdline scenario=script "$GUEST"
if expect_rc 0 "script of good and bad calls"; then
	json_lines_ok "$TMP/s.jsonl" || fail "log lines do not all parse"
	if python3 - "$TMP/s.jsonl" "$verdicts" <<'PY'; then
import json, sys

ev = [json.loads(l) for l in open(sys.argv[1])]
want = sys.argv[2].split()
bad = []
hc = [e for e in ev if e["type"] == "hypercall"]
got = [e["verdict"] for e in hc]
if got != want:
    bad.append(f"verdicts {got}\n      want {want}")
for e in hc:
    if e["ret"] != (0 if e["verdict"] == "ok" else -22):
        bad.append(f"seq {e['seq']}: verdict {e['verdict']} ret {e['ret']}")
    if e["transport"] != "port":
        bad.append(f"seq {e['seq']}: transport {e['transport']}")
x = [e for e in ev if e["type"] == "exit"]
nerr = len(want) - want.count("ok")
if not x or x[0]["hypercalls"] != len(want) or x[0]["hypercall_errors"] != nerr:
    bad.append(f"exit event: want {len(want)} hypercalls, {nerr} errors: {x}")
# Only the valid calls in the final bitmap: 0x300000 x4 shared, then 0x301000
# private again, 2 MiB at 0x400000; plus the firmware window.
snap = [e for e in ev if e["type"] == "bitmap" and e["at"] == "exit"]
runs = [(int(r["start"], 16), int(r["end"], 16)) for r in snap[-1]["runs"]] if snap else []
expect = [(0xa0000, 0xc1000), (0x300000, 0x301000), (0x302000, 0x304000), (0x400000, 0x600000)]
if runs != expect:
    bad.append(f"bitmap at exit {[(hex(a), hex(b)) for a, b in runs]}\n"
               f"      want {[(hex(a), hex(b)) for a, b in expect]}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
		pass "verdicts, return values and the bitmap at exit"
	else
		fail "script of good and bad calls: the log does not match (above)"
	fi
	grep -q "^script: 15 call(s)" "$TMP/out" || fail "the guest did not report 15 calls"
fi

# check_abort SCRIPT_TEXT LINE WHAT: exit 3, the output names the line.
check_abort() {
	printf '%b' "$1" >"$TMP/bad.txt"
	run --sev --guest-script "$TMP/bad.txt" --cmdline scenario=script "$GUEST"
	expect_rc 3 "$3" || return
	if grep -q "guest-script:$2:" "$TMP/err" && grep -q "line $2" "$TMP/out"; then
		pass "$3: $(cat "$TMP/err")"
	else
		fail "$3: output does not name line $2"
		show_output
	fi
}

check_abort 'map 0x300000 1 0\nmap 0x1000\n' 2 "short line 'map 0x1000'"
check_abort '# comment\n\nfrobnicate\n' 3 "unknown command 'frobnicate'"
check_abort 'map 0x300000 1 zero\n' 1 "non-numeric argument"
check_abort 'map 0x300000 1 0 expect -22\n' 1 "wrong expect (call succeeds)"
check_abort 'map 0x300001 1 0 expect 0\n' 1 "wrong expect (call fails)"

# The script is a usage error when it cannot be read.
run --sev --guest-script "$TMP/missing.txt" --cmdline scenario=script "$GUEST"
if expect_rc 2 "missing --guest-script file"; then
	grep -q "missing.txt" "$TMP/err" || fail "missing script: message does not name the file"
fi
finish
