# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the integration tests (sourced; not a test itself: ctest
# globs *.sh). Environment from ctest: VMM, GUEST, SRC, BUILD.
set -u
: "${VMM:?VMM (the mini-vmm binary) is not set}"
: "${GUEST:?GUEST (guest.elf) is not set}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-it.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
RC=0
MS=0

have_kvm() {
	[ -w /dev/kvm ]
}

# Skip the whole test (ctest SKIP_RETURN_CODE) without a usable /dev/kvm.
need_kvm() {
	have_kvm && return 0
	echo "SKIP: /dev/kvm is missing or not writable"
	exit 77
}

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

pass() {
	echo "ok: $*"
}

# run ARGS...: run the VMM, stdout to $TMP/out, stderr to $TMP/err; sets RC
# and MS (wall time in milliseconds).
run() {
	local t0 t1
	t0=$(date +%s%N)
	"$VMM" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

show_output() {
	echo "  command exit $RC after $MS ms; stdout:"
	sed -n '1,15s/^/    /p' "$TMP/out"
	echo "  stderr:"
	sed -n '1,15s/^/    /p' "$TMP/err"
}

# expect_rc WANT WHAT: check the last run's exit status.
expect_rc() {
	if [ "$RC" -ne "$1" ]; then
		fail "$2: exit status $RC, want $1"
		show_output
		return 1
	fi
	return 0
}

# Every line of a JSON Lines file parses.
json_lines_ok() {
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"
}

# migration_logs_ok SRC DST WHAT: a migrated run's two logs read as one run
# (seq strictly increasing across source then destination, one start in
# the source, no exit there, one exit with status 0 in the destination),
# every bitmap check passed, migration_done on both sides. Prints a summary.
migration_logs_ok() {
	python3 - "$@" <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
dst = [json.loads(l) for l in open(sys.argv[2])]
what, bad = sys.argv[3], []
seqs = [e["seq"] for e in src + dst]
if any(b <= a for a, b in zip(seqs, seqs[1:])):
    bad.append("seq not strictly increasing across the two logs")
ts, td = [e["type"] for e in src], [e["type"] for e in dst]
if ts.count("start") != 1 or "exit" in ts or "start" in td or td.count("exit") != 1:
    bad.append(f"want one start (source) and one exit (destination): {ts.count('start')}, "
               f"{ts.count('exit')}; {td.count('start')}, {td.count('exit')}")
if any(not e["pass"] for e in src + dst if e["type"] == "check"):
    bad.append("a bitmap check failed")
x = [e for e in dst if e["type"] == "exit"]
if x and x[0]["status"] != 0:
    bad.append(f"destination exit status {x[0]['status']}: {x[0]['reason']}")
# The guest checked its memory after the move (or said it would not), and
# found nothing wrong.
vs = [e for e in dst if e["type"] == "migration_verify"]
if not vs:
    bad.append("no migration_verify at the destination")
for v in vs:
    if v["reported"] and (v.get("corrupted") or v.get("runs") or v.get("error")):
        bad.append(f"the guest found its memory corrupted: {v}")
done = {e.get("side"): e for e in src + dst if e["type"] == "migration_done"}
if set(done) != {"source", "destination"}:
    bad.append(f"migration_done sides {sorted(done)}")
else:
    s, d = done["source"], done["destination"]
    print(f"  {what}: {s['rounds']} round(s), {s['pages_private']} private + {s['pages_shared']} "
          f"shared page records, {s['bytes']} bytes, downtime source {s['downtime_us']} us, "
          f"destination {d['downtime_us']} us")
for b in bad:
    print(f"FAIL: {what}: {b}")
sys.exit(1 if bad else 0)
PY
}

# events_equal REF... -- MIG...: the logs REF (one unmigrated run) and MIG
# (its migrated twin, source then destination) hold the same events,
# migration events, start/exit and the guest's memory check aside. seq and
# t_ns are not compared; a provenance seq (runs[].seq) is compared as the
# position of the event it names among the compared ones.
events_equal() {
	python3 - "$@" <<'PY'
import json, sys
args = sys.argv[1:]
cut = args.index("--")
def ev(paths):
    kept, pos = [], {0: 0}
    for p in paths:
        for l in open(p):
            e = json.loads(l)
            if e["type"].startswith("migration") or e["type"] in ("start", "exit"):
                continue
            if e["type"] == "sync" and e["tag"] == "migration_verify":
                continue
            pos[e["seq"]] = len(kept) + 1
            kept.append(e)
    out = []
    for e in kept:
        e = {k: v for k, v in e.items() if k not in ("seq", "t_ns")}
        for r in e.get("runs", []):
            if "seq" in r:
                r["seq"] = pos.get(r["seq"], ("not an event", r["seq"]))
        out.append(e)
    return out
ref, mig = ev(args[:cut]), ev(args[cut + 1:])
if ref != mig:
    for i, (a, b) in enumerate(zip(ref, mig)):
        if a != b:
            print(f"first difference at event {i}:\n  unmigrated {a}\n  migrated   {b}")
            break
    else:
        print(f"{len(ref)} events unmigrated, {len(mig)} migrated")
    sys.exit(1)
print(f"  {len(ref)} events, {sum(1 for e in ref if e['type'] == 'inject')} injections, "
      "as in the unmigrated run")
PY
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
