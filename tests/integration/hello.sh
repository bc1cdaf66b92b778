#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The default guest boots, prints its memory map and finishes in well under
# a second, natively: on kvm_pvm a guest that falls back to emulation still
# passes functionally, so the speed and the insn_emulation statistic are
# what this test checks (docs/PVM.md).
. "$(dirname "$0")/common.bash"
need_kvm

run --log "$TMP/hello.jsonl" "$GUEST"
expect_rc 0 "hello" && pass "hello exits 0"
if [ "$MS" -ge 1000 ]; then
	fail "hello took $MS ms, want well under a second"
else
	pass "hello took $MS ms"
fi
for s in "memmap (" "RAM" "reserved" "hello from mini-vmm guest"; do
	grep -qF "$s" "$TMP/out" || fail "console lacks '$s'"
done
if ! json_lines_ok "$TMP/hello.jsonl"; then
	fail "log lines do not all parse as JSON"
fi

python3 - "$TMP/hello.jsonl" <<'PY' || FAILS=$((FAILS + 1))
import json, sys

ev = [json.loads(l) for l in open(sys.argv[1])]
bad = []
start = [e for e in ev if e["type"] == "start"]
end = [e for e in ev if e["type"] == "exit"]
if len(start) != 1 or len(end) != 1:
    bad.append(f"want one start and one exit event, got {len(start)} and {len(end)}")
else:
    s, x = start[0], end[0]
    print(f"hypervisor {s['hypervisor']}, native {s['native']}, probe loop "
          f"{s['probe_loop_ns']} ns, transport {s['transport']}, cpuid {s.get('cpuid')}, "
          f"insn_emulation {x['insn_emulation']}, first run after {x['first_run_ns']} ns")
    if s["hypervisor"] == "kvm_pvm" and s["native"] is not True:
        bad.append("kvm_pvm: start event says native is not true (guest emulated)")
    if s.get("cpuid") not in ("agrees", "differs"):
        bad.append(f"start event cpuid {s.get('cpuid')!r}: want agrees or differs")
    if x["insn_emulation"] >= 1000:
        bad.append(f"insn_emulation {x['insn_emulation']} >= 1000: the guest ran emulated")
    if x["status"] != 0 or x["reason"] != "guest finished":
        bad.append(f"exit event status {x['status']} reason {x['reason']!r}")
seqs = [e["seq"] for e in ev]
if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
    bad.append("seq numbers not strictly increasing")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
# --log -: the log alone on stdout (every line JSON), the console on stderr.
run --log - "$GUEST"
if expect_rc 0 "hello --log -"; then
	if ! json_lines_ok "$TMP/out"; then
		fail "--log -: stdout is not pure JSON Lines"
		show_output
	elif ! grep -q '"type":"exit"' "$TMP/out" || ! grep -q "memmap (" "$TMP/err"; then
		fail "--log -: want the events on stdout and the console on stderr"
		show_output
	else
		pass "--log -: events on stdout, console on stderr"
	fi
fi
finish
