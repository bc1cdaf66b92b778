#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Campaigns that migrate (issue 14 item 1): scripts/race-hunt --migrate
# migrates every run once at a migratable SYNC point drawn from the seed.
#  - the point: over the socket with --migrate-rounds 0 (the default) the
#    source stops at exactly that SYNC (its last guest event is the sync
#    event), and the source's and destination's events read as the
#    reference run's, migration events and the guest's memory check aside;
#  - the blocked windows derived from the logs are the VMM's own summary;
#  - 5 seeds give the same table with -j 1 and -j 2, and a campaign killed
#    halfway and resumed gives it too ("same table": every CSV column but
#    the wall-time ones);
#  - --migrate-points all (through snapshots): one job per migratable point;
#  - live pre-copy (--migrate-rounds 8): the rows say where the source
#    stopped (the guest runs on while the rounds go out);
#  - plot-log --timeline draws a kept run, and a corrupted run's provenance;
#  - --inject: holds a stop ends, the table the same at -j 1 and -j 2;
#  - --sched pct is refused with the reason.
. "$(dirname "$0")/common.bash"
need_kvm
command -v parallel >/dev/null || { echo "SKIP: GNU parallel missing"; exit 77; }
VMM=$(realpath "$VMM")
GUEST=$(realpath "$GUEST")
hunt=(env PYTHONUNBUFFERED=1 "$SRC/scripts/race-hunt" --migrate --runs 5 --strategies v12,upstream
	--cycles 2 --reboot linux --vmm "$VMM" --guest "$GUEST")

# table CSV: the columns that do not measure time.
table() {
	python3 - "$1" <<'PY'
import csv, sys
timed = ("median_ms", "msr_blocked_median_ms", "msr_blocked_max_ms",
         "ready_wait_median_ms", "downtime_median_us")
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join("%s=%s" % (k, v) for k, v in r.items() if k not in timed))
PY
}

"${hunt[@]}" --jobs 1 --csv "$TMP/seq/race.csv" >"$TMP/seq.txt" 2>/dev/null ||
	fail "sequential campaign exited $?"
grep -q "^v12 " "$TMP/seq.txt" && grep -q "downtime us" "$TMP/seq.txt" || fail "no migration table printed"
sed -n '/^strategy  migrations/,/^$/p' "$TMP/seq.txt"

# Every row: migrated once, stopped at its point, verified or counted unverified.
python3 - "$TMP/seq/jobs" <<'PY' && pass "10 jobs: each migrated once, the source stopped at the drawn SYNC (stop_seq = point_seq)" || fail "job rows"
import csv, glob, sys
rows = [r for p in sorted(glob.glob(sys.argv[1] + "/*.row")) for r in csv.DictReader(open(p))]
bad = [r for r in rows if r["migrated"] != "1" or r["stop_seq"] != r["point_seq"]
       or r["verified"] not in ("0", "1") or r["rc"] not in ("0", "1")]
for r in bad:
    print("  bad row:", dict(r))
sys.exit(1 if bad or len(rows) != 10 else 0)
PY

# The point: replay seed 3 of v12 by hand, reference run and migration, and
# compare. The reference plans the migration at a point that never comes,
# as race-hunt's does (the same boot parameters).
ref() {
	"$VMM" --sev --check -c 2 --sched=serial --seed 3 --timeout 60 -m 16M "$@" \
		--cmdline 'scenario=kexec strategy=v12 cycles=2 reboot=linux' "$GUEST" >/dev/null 2>&1
}
ref --migrate-to "file:$TMP/never" --migrate-at seq:18446744073709551615 --log "$TMP/ref.jsonl"
n=$(python3 -c 'import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))["point_seq"])' \
	"$TMP/seq/jobs/v12-seed3.row")
"$VMM" --log "$TMP/dst.jsonl" --incoming "unix:$TMP/m.sock" >/dev/null 2>&1 &
dpid=$!
for _ in $(seq 100); do [ -S "$TMP/m.sock" ] && break; sleep 0.05; done
ref --migrate-to "unix:$TMP/m.sock" --migrate-rounds 0 --migrate-at "seq:$n" --log "$TMP/src.jsonl"
wait "$dpid"
python3 - "$TMP/ref.jsonl" "$TMP/src.jsonl" "$TMP/dst.jsonl" "$n" <<'PY' && pass "v12 seed 3 at seq:$n: the source stops at that migratable SYNC; source + destination = the reference run, migration events aside" || fail "v12 seed 3 at seq:$n: not the reference run"
import json, sys
ld = lambda p: [json.loads(l) for l in open(p)]
ref, src, dst, n = ld(sys.argv[1]), ld(sys.argv[2]), ld(sys.argv[3]), int(sys.argv[4])
point = [e for e in ref if e["seq"] == n][0]
assert point["type"] == "sync" and point["migratable"], point
guest = [e for e in src if not e["type"].startswith("migration") and e["type"] not in ("sched", "check", "bitmap")]
assert guest[-1]["seq"] == n, ("source's last guest event", guest[-1])
start = [e for e in src if e["type"] == "migration_start"][0]
assert start["seq"] == n + 1, start
# After the point the migration's own events shift every seq by as many: a
# provenance (runs[].seq, violations[].by_seq) names its event by the
# reference's number once mapped, event for event.
# The guest's memory check after the migration (its SYNC) has no reference.
keep = lambda evs: [e for e in evs if not e["type"].startswith("migration")
                    and e["type"] not in ("start", "exit")
                    and not (e["type"] == "sync" and e["tag"] == "migration_verify")]
seqmap = {m["seq"]: r["seq"] for r, m in zip(keep(ref), keep(src + dst))}
def strip(evs, mapped):
    out = []
    for e in keep(evs):
        e = json.loads(json.dumps(e))
        for r in e.get("runs", []):
            r["seq"] = seqmap.get(r["seq"], r["seq"]) if mapped else r["seq"]
        for v in e.get("violations", []):
            v["by_seq"] = seqmap.get(v.get("by_seq"), v.get("by_seq")) if mapped else v.get("by_seq")
        out.append({k: v for k, v in e.items() if k not in ("seq", "t_ns")})
    return out
# before the point, event for event (seq too)
# before the point, event for event (seq too; start has the probe's time)
upto = lambda evs: [dict(e, t_ns=0) for e in evs if e["seq"] <= n and e["type"] != "start"]
assert upto(ref) == upto(src), "the serial schedule before the point differs"
a, b = strip(ref, False), strip(src + dst, True)
if a != b:
    i = next(i for i, (x, y) in enumerate(zip(a + [None], b + [None])) if x != y)
    print("  first difference at event", i, "\n   ref:", a[i] if i < len(a) else None,
          "\n   mig:", b[i] if i < len(b) else None)
    sys.exit(1)
PY

# The blocked windows race-hunt derives are the VMM's migration summary.
python3 - "$SRC/scripts/race-hunt" "$TMP/ref.jsonl" <<'PY' && pass "blocked windows from the msr events = the migration summary (windows, events)" || fail "blocked windows differ from the summary"
import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader("rh", sys.argv[1])
rh = importlib.util.module_from_spec(importlib.util.spec_from_loader("rh", loader))
loader.exec_module(rh)
ev = [json.loads(l) for l in open(sys.argv[2])]
w = rh.blocked_windows(ev)
m = [e for e in ev if e["type"] == "migration"][-1]
print("  windows (events):", [x[0] for x in w], "summary:", m["blocked_windows"], m["blocked_events"])
sys.exit(0 if len(w) == m["blocked_windows"] and sum(x[0] for x in w) == m["blocked_events"] else 1)
PY

"${hunt[@]}" --jobs 2 --csv "$TMP/par/race.csv" >/dev/null 2>&1 || fail "parallel campaign exited $?"
if cmp -s <(table "$TMP/seq/race.csv") <(table "$TMP/par/race.csv"); then
	pass "--migrate: -j 1 and -j 2 give the same table"
else
	fail "--migrate: -j 1 and -j 2 differ"
	diff <(table "$TMP/seq/race.csv") <(table "$TMP/par/race.csv")
fi

# Killed after some jobs, then resumed: the same table.
setsid "${hunt[@]}" --jobs 2 --csv "$TMP/res/race.csv" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	n=$(find "$TMP/res/jobs" -name '*.row' 2>/dev/null | wc -l)
	[ "$n" -ge 4 ] && break
	sleep 0.05
done
kill -TERM -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_before=$(find "$TMP/res/jobs" -name '*.row' | wc -l)
[ "$done_before" -ge 10 ] && echo "note: the campaign finished before it could be killed"
"${hunt[@]}" --jobs 2 --resume --csv "$TMP/res/race.csv" >/dev/null 2>&1 ||
	fail "resumed campaign exited $?"
if cmp -s <(table "$TMP/seq/race.csv") <(table "$TMP/res/race.csv"); then
	pass "--migrate: killed after $done_before of 10 jobs and resumed: the same table"
else
	fail "--migrate: the resumed campaign's table differs"
	diff <(table "$TMP/seq/race.csv") <(table "$TMP/res/race.csv")
fi

# Every point of 2 seeds: one job per migratable point of the reference
# run, through snapshots (--migrate-via file) this time.
"$SRC/scripts/race-hunt" --migrate --migrate-via file --migrate-points all --runs 2 --strategies upstream --cycles 1 \
	--vmm "$VMM" --guest "$GUEST" --jobs 2 --csv "$TMP/all/race.csv" >"$TMP/all.txt" 2>/dev/null ||
	fail "--migrate-points all exited $?"
python3 - "$TMP/all" <<'PY' && pass "--migrate-points all: one migration per migratable point, each stopped at its own" || fail "--migrate-points all"
import csv, glob, json, sys
d = sys.argv[1]
want = sum(len(json.load(open(p))["points"]) for p in glob.glob(d + "/points/*.json"))
rows = [r for p in glob.glob(d + "/jobs/*.row") for r in csv.DictReader(open(p))]
table = next(csv.DictReader(open(d + "/race.csv")))
ok = all(r["migrated"] == "1" and r["stop_seq"] == r["point_seq"] for r in rows)
for r in rows:
    if r["migrated"] != "1" or r["stop_seq"] != r["point_seq"]:
        print("  bad row:", dict(r))
print("  %d points, %d jobs, %s migrations" % (want, len(rows), table["migrations"]))
sys.exit(0 if ok and want == len(rows) == int(table["migrations"]) and want > 2 else 1)
PY

# Live pre-copy over the socket (--migrate-rounds 8): the guest runs on
# while the rounds go out, so the source stops at or after its point.
# 300 cycles: a guest that outlives the rounds on a loaded host too (one
# that ends first makes the source cancel: migration_failed, allowed).
"$SRC/scripts/race-hunt" --migrate --migrate-rounds 8 --runs 3 --cycles 300 --strategies upstream --vmm "$VMM" \
	--guest "$GUEST" --jobs 1 --csv "$TMP/unix/race.csv" >"$TMP/unix.txt" 2>/dev/null ||
	fail "--migrate-rounds 8 exited $?"
python3 - "$TMP/unix" <<'PY' && pass "--migrate-rounds 8: live pre-copy, downtime and ready wait measured, stop_seq at or after the point" || { fail "--migrate-rounds 8"; cat "$TMP/unix.txt"; }
import csv, glob, sys
rows = [r for p in glob.glob(sys.argv[1] + "/jobs/*.row") for r in csv.DictReader(open(p))]
for r in rows:
    print("  seed %s: point %s, stopped at %s, %s rounds, downtime %s us"
          % (r["seed"], r["point_seq"], r["stop_seq"], r["rounds"], r["downtime_us"]))
ok = [r for r in rows if r["migrated"] == "1" and int(r["stop_seq"]) >= int(r["point_seq"])
      and r["downtime_us"] != "" and r["ready_wait_ns"] != ""]
cancelled = [r for r in rows if r["migration_failed"] == "1"]
sys.exit(0 if len(rows) == 3 and len(ok) + len(cancelled) == 3 and ok else 1)
PY

# The timeline of a kept run (v12 fails every seed it migrates after its
# checks failed): PNG and SVG; then with a migration_verify event in the
# spec's form added to the destination's log, its provenance marked.
if command -v gnuplot >/dev/null; then
	src=$(ls "$TMP"/seq/logs/*.src.jsonl 2>/dev/null | head -1)
	if [ -n "$src" ] && "$SRC/scripts/plot-log" --timeline "$src" "${src%.src.jsonl}.dst.jsonl" \
		"$TMP/tl.png" >/dev/null && "$SRC/scripts/plot-log" --timeline "$src" \
		"${src%.src.jsonl}.dst.jsonl" "$TMP/tl.svg" >/dev/null && [ -s "$TMP/tl.png" ] &&
		grep -q "<svg" "$TMP/tl.svg"; then
		pass "plot-log --timeline: PNG and SVG of $(basename "${src%.src.jsonl}")"
	else
		fail "plot-log --timeline on ${src:-no kept log}"
	fi
	python3 - "$src" "${src%.src.jsonl}.dst.jsonl" "$TMP/fake.dst.jsonl" <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
dst = [json.loads(l) for l in open(sys.argv[2])]
hc = [e for e in src if e["type"] == "hypercall" and not e["encrypted"]][-1]
done = [e for e in dst if e["type"] == "migration_done"][0]
with open(sys.argv[3], "w") as f:
    for e in dst:
        f.write(json.dumps(e) + "\n")
        if e is done:
            f.write(json.dumps({"seq": e["seq"], "t_ns": e["t_ns"], "type": "migration_verify",
                "vcpu": -1, "gen": e["gen"], "reported": True, "checked": 100, "corrupted": 2,
                "runs": [{"start": hc["gpa"], "end": hex(int(hc["gpa"], 16) + 4096), "pages": 1,
                          "sent": "shared", "entry": "shared", "by": hc["vcpu"], "gen": hc["gen"],
                          "seq": hc["seq"]},
                         {"start": "0x200000", "end": "0x201000", "pages": 1, "sent": "private",
                          "entry": "private"}]})
                    + "\n")
PY
	if "$SRC/scripts/plot-log" --keep --timeline "$src" "$TMP/fake.dst.jsonl" "$TMP/tlv.png" \
		>/dev/null 2>"$TMP/keep.txt" && d=$(sed -n 's/.*data kept in //p' "$TMP/keep.txt") &&
		[ -s "$d/tl-prov.dat" ] && grep -q "bitmap shared by vCPU" "$d/tlv.png.gp"; then
		pass "plot-log --timeline: a corrupted run's entry marked at the seq of its MAP_GPA_RANGE"
	else
		fail "plot-log --timeline: no provenance mark"
	fi
	rm -rf "${d:-/nonexistent}"
fi

# A guest that dies at the destination is the migrated guest failing, not
# the tool: strategy none leaves old shares in the bitmap where the new
# kernel puts its page tables (seeds 1 and 2 crash so), a failure counted
# in destination_crashes, never an error.
"$SRC/scripts/race-hunt" --migrate --runs 2 --strategies none --cycles 2 --reboot linux \
	--vmm "$VMM" --guest "$GUEST" --csv "$TMP/none/race.csv" >"$TMP/none.txt" 2>/dev/null
rc=$?
python3 - "$TMP/none/race.csv" <<'PY' && [ $rc -eq 0 ] &&
import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
print("  none: %s failures, %s errors, %s destination crashes" % (r["failures"], r["errors"],
                                                                  r["destination_crashes"]))
sys.exit(0 if r["errors"] == "0" and int(r["destination_crashes"]) >= 1 and r["failures"] == "2"
         else 1)
PY
	pass "destination crashes: failures, counted apart, no errors" ||
	fail "destination crashes: exit $rc, or counted as errors"

# --inject: every migratable point of seed 1, through snapshots. An exit
# held when the stop comes is handled as part of the stop (column
# held_at_stop); the table is the same at -j 1 and -j 2, and upstream never
# corrupts.
inj=(env PYTHONUNBUFFERED=1 "$SRC/scripts/race-hunt" --migrate --runs 1 --strategies v12,upstream
	--inject vcpu=1,kind=hypercall,prob=0.5,delay=5 --migrate-points all --migrate-via file
	--vmm "$VMM" --guest "$GUEST")
"${inj[@]}" --jobs 2 --csv "$TMP/inj2/race.csv" >"$TMP/inj2.txt" 2>&1
rc2=$?
"${inj[@]}" --jobs 1 --csv "$TMP/inj1/race.csv" >"$TMP/inj1.txt" 2>&1
rc1=$?
sed -n '/^strategy  migrations/,/^$/p' "$TMP/inj2.txt"
if [ $rc1 -le 1 ] && [ $rc2 -le 1 ] && [ "$(table "$TMP/inj1/race.csv")" = "$(table "$TMP/inj2/race.csv")" ] &&
	python3 - "$TMP/inj2/race.csv" <<'PY'; then
import csv, sys
rows = {r["strategy"]: r for r in csv.DictReader(open(sys.argv[1]))}
bad = []
for s, r in rows.items():
    if r["errors"] != "0" or int(r["held_at_stop"]) < 1 or int(r["migrations"]) < 10:
        bad.append(f"{s}: {r['errors']} errors, {r['held_at_stop']} held at stop, "
                   f"{r['migrations']} migrations")
if rows["upstream"]["corrupting_migrations"] != "0":
    bad.append(f"upstream corrupted: {rows['upstream']}")
print("  held at stop: " + ", ".join(f"{s} {r['held_at_stop']} of {r['migrations']}"
                                     for s, r in rows.items()))
sys.exit("; ".join(bad) if bad else 0)
PY
	pass "--migrate --inject: holds ended by the stop, the same table at -j 1 and -j 2"
else
	fail "--migrate --inject: exit $rc1/$rc2, tables differ, or no hold at a stop"
	tail -5 "$TMP/inj2.txt"
fi

# Refused combinations say why.
"$SRC/scripts/race-hunt" --migrate --sched pct --runs 1 --vmm "$VMM" --guest "$GUEST" \
	--csv "$TMP/x/race.csv" >/dev/null 2>"$TMP/pct.err"
rc=$?
[ $rc -eq 2 ] && grep -q "refuses --sched=pct" "$TMP/pct.err" &&
	pass "--migrate --sched pct: usage error naming the VMM's refusal" || fail "--migrate --sched pct: exit $rc"
finish
