#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Snapshot and restore (issue 13 slice 1): --migrate-to file:PATH stops the
# guest at --migrate-at, writes the stream and exits 0; --incoming
# file:PATH (no ELF) resumes it where it stopped, its log continuing the
# source's sequence numbers. A damaged snapshot is refused with exit 2.
. "$(dirname "$0")/common.bash"
need_kvm

SNAP="$TMP/snap.mvms"

# migrate ARGS...: source with ARGS and --migrate-to file:$SNAP, then the
# destination; sets SRC_RC and DST_RC, logs in $TMP/src.jsonl, $TMP/dst.jsonl.
migrate() {
	rm -f "$SNAP"
	run -m 16M --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" "$@" "$GUEST"
	SRC_RC=$RC
	cp "$TMP/out" "$TMP/src.out"
	cp "$TMP/err" "$TMP/src.err"
	run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
	DST_RC=$RC
	cp "$TMP/out" "$TMP/dst.out"
	cp "$TMP/err" "$TMP/dst.err"
}

logs_one_run() {
	migration_logs_ok "$TMP/src.jsonl" "$TMP/dst.jsonl" "${1:-migrated run}"
}

# 1. hello, migrated at its first exit.
migrate --migrate-at seq:1
if [ "$SRC_RC" -eq 0 ] && [ "$DST_RC" -eq 0 ]; then
	pass "hello: source and destination exit 0"
else
	fail "hello: source exit $SRC_RC, destination exit $DST_RC"
	cat "$TMP/src.err" "$TMP/dst.err"
fi
if [ -f "$SNAP" ] && [ "$(stat -c %a "$SNAP")" = 600 ]; then
	pass "snapshot written, mode 0600"
else
	fail "snapshot missing or not mode 0600"
fi
grep -qF "migrated to file:$SNAP" "$TMP/src.err" || fail "source does not say it migrated"
logs_one_run && pass "hello: the two logs read as one run" || FAILS=$((FAILS + 1))
json_lines_ok "$TMP/dst.jsonl" || fail "destination log is not JSON Lines"

# 2. Stopped right after SYNC boot: the rest of the scenario runs at the destination.
migrate --cmdline scenario=sev --migrate-at boot
if [ "$SRC_RC" -eq 0 ] && [ "$DST_RC" -eq 0 ] && grep -q "no SEV: sharing nothing" "$TMP/dst.out" &&
	! grep -q "no SEV: sharing nothing" "$TMP/src.out"; then
	pass "migrate-at boot: the scenario finishes at the destination"
else
	fail "migrate-at boot: source $SRC_RC destination $DST_RC"
	cat "$TMP/src.out" "$TMP/dst.out" "$TMP/dst.err"
fi

# 3. Two vCPUs, at every CPU_ON: the guest asserts each CPU_ON's RAX, so a
#    pending ucall completed twice or never shows up as an assertion.
for n in 2 3 4 5 6; do
	migrate -c 2 --cmdline scenario=hostile-cpu-on --migrate-at "seq:$n"
	if [ "$SRC_RC" -ne 0 ] || [ "$DST_RC" -ne 0 ] || ! grep -q "refusals as documented" "$TMP/src.out" "$TMP/dst.out"; then
		fail "2 vCPUs at seq:$n: source $SRC_RC destination $DST_RC"
		cat "$TMP/src.err" "$TMP/dst.err"
	elif ! logs_one_run >/dev/null; then
		fail "2 vCPUs at seq:$n: logs do not read as one run"
		logs_one_run
	fi
done
pass "2 vCPUs migrated at seq:2..6 (every CPU_ON)"

# 4. Determinism: under --sched=serial --seed S the migrated run's events
#    (source then destination) equal those of the same run whose point
#    never comes, migration events aside.
run -m 16M -c 2 --sched=serial --seed 5 --cmdline scenario=hostile-cpu-on \
	--log "$TMP/ref.jsonl" --migrate-to "file:$TMP/never" --migrate-at seq:1000000 "$GUEST"
expect_rc 0 "reference run (point never comes)"
[ -e "$TMP/never" ] && fail "a point that never comes wrote a snapshot"
for n in 3 5; do
	migrate -c 2 --sched=serial --seed 5 --cmdline scenario=hostile-cpu-on --migrate-at "seq:$n"
	events_equal "$TMP/ref.jsonl" -- "$TMP/src.jsonl" "$TMP/dst.jsonl" &&
		pass "serial seed 5 at seq:$n: same events as the unmigrated run" ||
		fail "serial seed 5 at seq:$n: events differ"
done

# 4b. Under SEV, stopped right after a MAP_GPA_RANGE exit (a seq that is a
#    hypercall event): KVM completes it once, with immediate_exit, so the
#    guest sees RAX 0 (bench-exit asserts every return) and the hypercalls
#    and check verdicts of source then destination equal the unmigrated
#    run's, none repeated, none lost.
same_run() { # REF SRC DST: hypercall, check, sync, cpu_on, wrmsr events equal
	python3 - "$@" <<'PY'
import json, sys
keep = ("hypercall", "check", "sync", "cpu_on", "wrmsr", "rdmsr", "ucall")
# Sequence numbers (also the provenance in runs[]) shift by the
# migration's own events; everything else must be equal.
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in ("seq", "t_ns", "by_seq")}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
# The guest's memory check after the migration: no unmigrated run has it.
def kept(e):
    return e["type"] in keep and not (e["type"] == "sync" and e["tag"] == "migration_verify")
def ev(paths):
    return [strip(e) for p in paths for e in map(json.loads, open(p)) if kept(e)]
ref, mig = ev(sys.argv[1:2]), ev(sys.argv[2:4])
if ref != mig:
    n = next((i for i, (a, b) in enumerate(zip(ref, mig)) if a != b), min(len(ref), len(mig)))
    print(f"  differ at event {n} of {len(ref)}/{len(mig)}: {ref[n:n+1]} vs {mig[n:n+1]}")
    sys.exit(1)
print(f"  {len(ref)} events equal")
PY
}
BENCH='scenario=bench-exit n=400 rounds=4'
run -m 16M --sev --sched=serial --seed 9 --cmdline "$BENCH" --log "$TMP/ref.jsonl" \
	--migrate-to "file:$TMP/never" --migrate-at seq:100000000 --migrate-force "$GUEST"
expect_rc 0 "bench-exit reference"
for k in 50 333; do
	n=$(python3 -c 'import json,sys; print([e["seq"] for e in map(json.loads, open(sys.argv[1])) if e["type"]=="hypercall"][int(sys.argv[2])])' "$TMP/ref.jsonl" "$k")
	migrate --sev --sched=serial --seed 9 --cmdline "$BENCH" --migrate-at "seq:$n" --migrate-force
	if [ "$SRC_RC" -eq 0 ] && [ "$DST_RC" -eq 0 ] && same_run "$TMP/ref.jsonl" "$TMP/src.jsonl" "$TMP/dst.jsonl"; then
		pass "stopped in the MAP_GPA_RANGE exit at seq $n: completed once, RAX 0, same hypercalls"
	else
		fail "stopped in the MAP_GPA_RANGE exit at seq $n: source $SRC_RC destination $DST_RC"
		cat "$TMP/dst.err"
	fi
done
KEXEC2='scenario=kexec strategy=upstream cycles=2'
run -m 16M --sev -c 2 --sched=serial --seed 3 --cmdline "$KEXEC2" --log "$TMP/ref.jsonl" \
	--migrate-to "file:$TMP/never" --migrate-at seq:100000000 "$GUEST"
expect_rc 0 "kexec reference"
for at in ready kexec_begin ready:2; do
	migrate --sev -c 2 --sched=serial --seed 3 --cmdline "$KEXEC2" --migrate-at "$at"
	if [ "$SRC_RC" -eq 0 ] && [ "$DST_RC" -eq 0 ] && same_run "$TMP/ref.jsonl" "$TMP/src.jsonl" "$TMP/dst.jsonl"; then
		pass "serial kexec, 2 vCPUs, at $at: hypercalls and check verdicts as unmigrated"
	else
		fail "serial kexec at $at: source $SRC_RC destination $DST_RC, or events differ"
	fi
done

# 5. A damaged snapshot: truncated at every section boundary (and inside
#    each section), bytes flipped at random offsets: always exit 2, never
#    0, never a crash or a hang.
migrate -c 2 --cmdline scenario=hostile-cpu-on --migrate-at seq:5
cp "$SNAP" "$TMP/good.mvms"
python3 - "$TMP/good.mvms" "$TMP" <<'PY'
import random, struct, sys
data = open(sys.argv[1], "rb").read()
cuts, off = [0, 8, 23, 24], 24
while off < len(data):
    length = struct.unpack_from("<Q", data, off + 8)[0]
    cuts += [off, off + 12, off + 24, off + 24 + length // 2, off + 24 + length]
    off += 24 + length + 4
cuts = sorted(set(c for c in cuts if c < len(data)))
with open(sys.argv[2] + "/cuts", "w") as f:
    f.write("\n".join(map(str, cuts)) + "\n")
rng = random.Random(13)
with open(sys.argv[2] + "/flips", "w") as f:
    for _ in range(40):
        f.write(f"{rng.randrange(len(data))} {rng.randrange(1, 256)}\n")
PY
bad=0
while read -r cut; do
	head -c "$cut" "$TMP/good.mvms" >"$SNAP"
	timeout 20 "$VMM" --incoming "file:$SNAP" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -ne 2 ] || ! grep -q "offset" "$TMP/err"; then
		fail "truncated at $cut bytes: exit $rc, want 2 with an offset"
		sed -n 1,3p "$TMP/err"
		bad=1
	fi
done <"$TMP/cuts"
[ "$bad" -eq 0 ] && pass "truncation at $(wc -l <"$TMP/cuts") points (every section boundary): exit 2, offset named"
bad=0
while read -r at x; do
	python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[int(sys.argv[3])]^=int(sys.argv[4]); open(sys.argv[2],"wb").write(d)' \
		"$TMP/good.mvms" "$SNAP" "$at" "$x"
	timeout 20 "$VMM" --incoming "file:$SNAP" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -ne 2 ]; then
		fail "byte $at ^ $x: exit $rc, want 2"
		sed -n 1,3p "$TMP/err"
		bad=1
	fi
done <"$TMP/flips"
[ "$bad" -eq 0 ] && pass "40 random byte flips: exit 2"
cat "$TMP/good.mvms" "$TMP/good.mvms" >"$SNAP"
timeout 20 "$VMM" --incoming "file:$SNAP" >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "offset" "$TMP/err" && pass "bytes after END: exit 2" ||
	fail "a snapshot followed by another: not refused"

# 6. Usage: --incoming takes no ELF, --migrate-to needs a point.
run --incoming "file:$SNAP" "$GUEST"
expect_rc 2 "--incoming with an ELF" && pass "--incoming with an ELF: exit 2"
run -m 16M --migrate-to "file:$SNAP" "$GUEST"
expect_rc 2 "--migrate-to without --migrate-at" && pass "--migrate-to needs --migrate-at"
run -m 16M --migrate-to "file:$SNAP" --migrate-at nope "$GUEST"
expect_rc 2 "--migrate-at nope" && pass "--migrate-at with an unknown tag: exit 2"
run --incoming "file:$TMP/missing"
expect_rc 2 "--incoming of a missing file" && pass "missing snapshot: exit 2"
finish
