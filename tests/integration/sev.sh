#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The emulated SEV guest shares its boot pages. Three views of the final
# bitmap must agree: the log's last snapshot, --dump-bitmap, and what the
# guest says it shared (plus the firmware window). Every hypercall is
# accepted, every check passes. Without --sev the guest shares nothing.
. "$(dirname "$0")/common.bash"
need_kvm

# analyse LOG OUT: the three views, the hypercalls and the checks.
analyse() {
	python3 - "$1" "$2" <<'PY'
import json, re, sys

log, out = sys.argv[1], open(sys.argv[2]).read()
ev = [json.loads(l) for l in open(log)]
bad = []

hc = [e for e in ev if e["type"] == "hypercall"]
if not hc:
    bad.append("no hypercall events")
for e in hc:
    if e["verdict"] != "ok" or e["ret"] != 0:
        bad.append(f"hypercall seq {e['seq']}: verdict {e['verdict']} ret {e['ret']}")

checks = [e for e in ev if e["type"] == "check"]
if not checks:
    bad.append("no check events (--check)")
for e in checks:
    if e["pass"] is not True:
        bad.append(f"check {e['check']} failed: {e['violations']}")

snaps = [e for e in ev if e["type"] == "bitmap" and e["at"] == "exit"]
if len(snaps) != 1:
    bad.append(f"{len(snaps)} bitmap events at exit, want 1")
    snaps = [{"runs": []}]
log_runs = [(int(r["start"], 16), int(r["end"], 16), str(r["by"]), r["gen"], r["seq"])
            for r in snaps[-1]["runs"]]
for s, e, *_ in log_runs:
    if e <= s or s % 4096 or e % 4096:
        bad.append(f"bad run [{s:#x}, {e:#x})")
if sorted(log_runs) != log_runs:
    bad.append("log runs not sorted")

# --dump-bitmap: "  [0xa0000, 0xc1000) 33 page(s) firmware"
dump = []
for m in re.finditer(r"^  \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) (\d+) page\(s\) "
                     r"(?:(firmware)|vcpu (\d+) gen (\d+) seq (\d+))$", out, re.M):
    s, e, n = int(m[1], 16), int(m[2], 16), int(m[3])
    if (e - s) // 4096 != n:
        bad.append(f"dump run [{s:#x}, {e:#x}) says {n} pages")
    if m[4]:
        dump.append((s, e, "firmware"))
    else:
        dump.append((s, e, m[5], int(m[6]), int(m[7])))
total = re.search(r"^shared runs \((\d+) pages\):$", out, re.M)
if not total:
    bad.append("no --dump-bitmap output")
elif int(total[1]) != snaps[-1].get("shared_pages", -1):
    bad.append(f"dump says {total[1]} pages, log {snaps[-1].get('shared_pages')}")
log_cmp = [r[:3] if r[2] == "firmware" else r for r in log_runs]
if log_cmp != dump:
    bad.append(f"log runs {log_cmp} != --dump-bitmap {dump}")

# The firmware shares its window [0xa0000, 0xc0000) and one ucall page per
# vCPU from 0xc0000 on (1 vCPU here): one run.
fw = [r for r in log_runs if r[2] == "firmware"]
if [(r[0], r[1]) for r in fw] != [(0xa0000, 0xc1000)]:
    bad.append(f"firmware runs {fw}, want [0xa0000, 0xc1000) by firmware")

# The guest: "shared: .bss..decrypted 0x..., pv 0x... x1, bounce 2M 0x..., bounce 4K 0x... x8"
m = re.search(r"^shared: \.bss\.\.decrypted (0x[0-9a-f]+), pv (0x[0-9a-f]+) x(\d+), "
              r"bounce 2M (0x[0-9a-f]+), bounce 4K (0x[0-9a-f]+) x(\d+)$", out, re.M)
if not m:
    bad.append("the guest did not print its 'shared:' line")
else:
    dec, pv, npv, b2, b4, nb4 = (int(m[i], 0) for i in range(1, 7))
    want = {(0xa0000, 0xc1000), (dec, dec + 4096), (pv, pv + npv * 4096),
            (b2, b2 + (2 << 20)), (b4, b4 + nb4 * 4096)}
    def merged(runs):
        # Union of [s, e) intervals as sorted disjoint intervals (no page sets:
        # a bogus 1 TiB run must not eat the test's memory).
        out = []
        for s, e in sorted(runs):
            if out and s <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return [tuple(r) for r in out]
    got = merged((r[0], r[1]) for r in log_runs)
    if got != merged(want):
        bad.append("bitmap != the guest's shared pages + firmware: host "
                   f"{[(hex(s), hex(e)) for s, e in got]}, guest "
                   f"{[(hex(s), hex(e)) for s, e in merged(want)]}")
print(f"{len(hc)} hypercalls, {len(checks)} checks, {len(log_runs)} runs, "
      f"{snaps[-1].get('shared_pages')} shared pages")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
}

for extra in "" "--hypercall=port"; do
	what="--sev --check ${extra:+$extra }--dump-bitmap scenario=sev"
	run --sev --check $extra --log "$TMP/sev.jsonl" --dump-bitmap --cmdline scenario=sev "$GUEST"
	expect_rc 0 "$what" || continue
	if ! json_lines_ok "$TMP/sev.jsonl"; then
		fail "$what: log lines do not all parse"
		continue
	fi
	if analyse "$TMP/sev.jsonl" "$TMP/out"; then
		pass "$what"
	else
		fail "$what: the views of the bitmap disagree (above)"
	fi
	if [ "$extra" = "--hypercall=port" ] &&
		! grep -q '"type":"start".*"transport":"port"' "$TMP/sev.jsonl"; then
		fail "--hypercall=port: the start event does not record transport port"
	fi
done

# Without --sev: the guest sees no SEV, shares nothing, makes no hypercall.
run --log "$TMP/nosev.jsonl" --cmdline scenario=sev "$GUEST"
if expect_rc 0 "scenario=sev without --sev"; then
	json_lines_ok "$TMP/nosev.jsonl" || fail "without --sev: log lines do not all parse"
	n=$(grep -c '"type":"hypercall"' "$TMP/nosev.jsonl")
	if [ "$n" -ne 0 ]; then
		fail "without --sev: $n hypercall events, want 0"
	else
		pass "without --sev: no hypercall"
	fi
	grep -q "no SEV" "$TMP/out" || fail "without --sev: the guest did not say 'no SEV'"
	grep -q '"type":"bitmap"' "$TMP/nosev.jsonl" &&
		fail "without --sev: bitmap events in the log"
fi
finish
