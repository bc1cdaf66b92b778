#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Where the exit hot path spends its time: perf record over a guest loop of
# MAP_GPA_RANGE calls (scenario=bench-exit, log to a file), top symbols.
#   bench/profile.sh [--quick] [--json FILE]
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
n=20000
bench_quick() { n=2000; }
bench_init "[--quick] [--json FILE]" "$@"
bench_tmp
if ! command -v perf >/dev/null || ! perf record -o "$tmp/probe.data" true >/dev/null 2>&1; then
	echo '{"benchmark":"profile","skipped":"perf not available","figures":[]}' >"$json"
	echo "profile: perf not available, skipped"
	exit 0
fi
perf record -q -o "$tmp/perf.data" -F 4999 "$VMM" --sev --log "$tmp/run.jsonl" \
	--cmdline "scenario=bench-exit n=$n" "$GUEST" >/dev/null 2>&1
perf report -i "$tmp/perf.data" --no-children --sort dso,sym --stdio >"$tmp/report.txt" 2>/dev/null
grep -E '^ +[0-9.]+%' "$tmp/report.txt" | sed -n 1,15p >"$tmp/top.txt" || true
python3 - "$json" "$tmp/report.txt" <<'PY'
import json, re, sys
rows = []
for line in open(sys.argv[2]):
    m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if m:
        rows.append({"percent": float(m.group(1)), "dso": m.group(2), "space": m.group(3),
                     "symbol": m.group(4).strip()})
user = sum(r["percent"] for r in rows if "mini-vmm" in r["dso"])
rows_all, rows = rows, rows[:15]
res = {"benchmark": "profile", "top": rows,
       "mini_vmm_code_percent": round(user, 2),
       "summary": "the hypervisor's world switch (pvm_do_event_irqoff, MSR accesses of the "
                  "switch) and the KVM_RUN ioctl dominate; mini-vmm's own code is %.1f%% of "
                  "samples" % user,
       "figures": [{"figure": "samples in mini-vmm's own code", "value": round(user, 2),
                    "unit": "%"}] +
                  [{"figure": "top: %s %s" % (r["dso"], r["symbol"]), "value": r["percent"],
                    "unit": "%"} for r in rows[:3]]}
json.dump(res, open(sys.argv[1], "w"), indent=1)
print("profile:", res["summary"])
for r in rows[:8]:
    print("  %6.2f%%  %-20s %s" % (r["percent"], r["dso"], r["symbol"]))
PY
