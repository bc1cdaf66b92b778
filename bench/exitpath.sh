#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Exit path: N MAP_GPA_RANGE calls through the full handler (validation,
# bitmap, provenance, JSON log to a file) against N bare exits of the same
# transport (port 0xEC: the VMM only writes RAX back through the sync regs,
# as the hypercall path does, so both pay the same hypervisor cost),
# interleaved in one guest run (scenario=bench-exit). Times come from the VMM's own log time stamps.
#   bench/exitpath.sh [--quick] [--json FILE]
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
n=50000
reps=5
bench_quick() { n=5000 reps=1; }
bench_init "[--quick] [--json FILE]" "$@"
bench_tmp
for r in $(seq "$reps"); do
	"$VMM" --sev --log "$tmp/run$r.jsonl" --cmdline "scenario=bench-exit n=$n rounds=20" \
		"$GUEST" >/dev/null
done
python3 - "$json" "$n" "$tmp"/run*.jsonl <<'PY'
import json, statistics, sys
out, n, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = []
for path in logs:
    ev = [json.loads(l) for l in open(path)]
    marks = [e for e in ev if e.get("type") == "sync" and e.get("tag") == "bench"]
    bare = full = 0
    for a, b in zip(marks, marks[1:]):
        if a["arg"] == 0:
            bare += b["t_ns"] - a["t_ns"]
        else:
            full += b["t_ns"] - a["t_ns"]
    start = next(e for e in ev if e["type"] == "start")
    end = next(e for e in ev if e["type"] == "exit")
    rows.append({"bare_us": bare / n / 1e3, "full_us": full / n / 1e3, "ratio": full / bare,
                 "transport": start["transport"], "hypervisor": start["hypervisor"]})
med = lambda k: statistics.median(r[k] for r in rows)
res = {"benchmark": "exitpath", "calls_per_run": n, "runs": len(rows),
       "transport": rows[0]["transport"], "hypervisor": rows[0]["hypervisor"],
       "bare_us_per_exit": round(med("bare_us"), 2), "full_us_per_call": round(med("full_us"), 2),
       "ratio_full_over_bare": round(med("ratio"), 3),
       "target": "ratio <= 1.05", "met": med("ratio") <= 1.05, "per_run": rows}
res["figures"] = [
    {"figure": "bare %s exit round trip" % res["transport"], "value": res["bare_us_per_exit"], "unit": "us"},
    {"figure": "MAP_GPA_RANGE, full handler + log", "value": res["full_us_per_call"], "unit": "us"},
    {"figure": "ratio full / bare", "value": res["ratio_full_over_bare"], "target": "<= 1.05", "met": res["met"]},
]
json.dump(res, open(out, "w"), indent=1)
print("exitpath (%s on %s): bare %.1f us/exit, full handler %.1f us/call, ratio %.3f, "
      "target <= 1.05: %s" % (
          res["transport"], res["hypervisor"], res["bare_us_per_exit"], res["full_us_per_call"],
          res["ratio_full_over_bare"], "met" if res["met"] else "NOT met"))
PY
