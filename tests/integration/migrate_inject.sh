#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# --inject with --migrate-to (issue 14): an exit an injection holds when a
# migration stops the guest is handled as part of the stop, before the
# state is saved, as a real VMM's vCPU thread finishes the exit it is
# handling before it counts as stopped. So no stream carries a
# half-handled exit: a held MAP_GPA_RANGE reaches the bitmap the stream
# sends, and KVM completes it once. Without that, KVM would complete the
# exit unhandled (RAX junk, the bitmap short of the range): the guest's
# own assertion on the hypercall's result fails at the destination.
. "$(dirname "$0")/common.bash"
need_kvm

SNAP="$TMP/snap.mvms"
UP='scenario=kexec strategy=upstream cycles=2'
INJ='vcpu=1,kind=hypercall,prob=0.5,delay=5'
SER=(-m 16M --sev -c 2 --sched serial --seed 1 --inject "$INJ")

# The reference: the same run with a point that never comes.
run "${SER[@]}" --cmdline "$UP" --log "$TMP/ref.jsonl" --migrate-to "file:$TMP/never" \
	--migrate-at seq:100000000 "$GUEST"
expect_rc 0 "upstream, 2 vCPUs, serial, --inject: reference run"
# Points right after each injection: the held exit spans the stop.
points=$(python3 - "$TMP/ref.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(str(e["seq"] + 1) for e in ev if e["type"] == "inject"))
PY
)
[ -n "$points" ] || fail "the reference run made no injection"

# held_ok SRC DST: the source's stop ended a hold (inject_end, why
# migration), the held vCPU's exit was handled once, between the stop's
# migration_start and migration_done, and the destination went on.
held_ok() {
	python3 - "$@" <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
types = [e["type"] for e in src]
ends = [i for i, e in enumerate(src) if e["type"] == "inject_end"]
if len(ends) != 1 or src[ends[0]]["why"] != "migration":
    sys.exit(f"want one inject_end (why migration), got {[src[i] for i in ends]}")
i = ends[0]
v = src[i]["vcpu"]
start, done = types.index("migration_start"), types.index("migration_done")
if not start < i < done:
    sys.exit(f"inject_end at {i} is not inside the stop [{start}, {done}]")
# The exit held was a hypercall: handled once, after inject_end, before done.
hc = [e for e in src[i + 1:done] if e["type"] == "hypercall" and e["vcpu"] == v]
if len(hc) != 1:
    sys.exit(f"want the held hypercall handled once during the stop, got {hc}")
print(f"  vCPU {v}'s held MAP_GPA_RANGE (gpa {hc[0]['gpa']}, {hc[0]['npages']} pages, "
      f"hold_left {src[i]['hold_left']}) handled at the stop, event #{hc[0]['seq']}")
PY
}

# 1. Through a snapshot, at every point right after an injection.
n_held=0
for p in $points; do
	rm -f "$SNAP" "$SNAP.key"
	run "${SER[@]}" --cmdline "$UP" --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" \
		--migrate-at "seq:$p" "$GUEST"
	src_rc=$RC
	run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
	if [ "$src_rc" -ne 0 ] || [ "$RC" -ne 0 ]; then
		fail "upstream at seq:$p with a held exit: source $src_rc, destination $RC"
		show_output
		continue
	fi
	migration_logs_ok "$TMP/src.jsonl" "$TMP/dst.jsonl" "upstream at seq:$p" ||
		FAILS=$((FAILS + 1))
	if grep -q '"type":"inject_end"' "$TMP/src.jsonl"; then
		if held_ok "$TMP/src.jsonl" "$TMP/dst.jsonl"; then
			n_held=$((n_held + 1))
		else
			fail "upstream at seq:$p: the held exit"
		fi
		cp "$TMP/src.jsonl" "$TMP/held-src.jsonl"
		cp "$TMP/dst.jsonl" "$TMP/held-dst.jsonl"
		held_point=$p
	fi
done
[ "$n_held" -ge 2 ] && pass "upstream, serial, --inject: $n_held migrations stopped a held MAP_GPA_RANGE; each handled at the stop, the destination exits 0 and the guest's memory is intact" ||
	fail "only $n_held migrations stopped a held exit (points $points)"

# 2. Over a unix socket, stopped at the point (--migrate-rounds 0): the
#    same events as through the snapshot, the held exit included.
if [ -n "${held_point:-}" ]; then
	sock="$TMP/mig.sock"
	"$VMM" --log "$TMP/udst.jsonl" --incoming "unix:$sock" >"$TMP/udst.out" 2>&1 &
	dpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	run "${SER[@]}" --cmdline "$UP" --log "$TMP/usrc.jsonl" --migrate-to "unix:$sock" \
		--migrate-rounds 0 --migrate-at "seq:$held_point" "$GUEST"
	src_rc=$RC
	wait $dpid
	dst_rc=$?
	if [ "$src_rc" -eq 0 ] && [ "$dst_rc" -eq 0 ] && held_ok "$TMP/usrc.jsonl" "$TMP/udst.jsonl" &&
		events_equal "$TMP"/held-src.jsonl "$TMP"/held-dst.jsonl -- "$TMP"/usrc.jsonl "$TMP"/udst.jsonl; then
		pass "over unix (--migrate-rounds 0) at seq:$held_point: the same events as through the snapshot"
	else
		fail "over unix at seq:$held_point: source $src_rc, destination $dst_rc"
		cat "$TMP/udst.out"
	fi
fi

# 3. With no hold at the stop, a migrated run with --inject keeps the
#    unmigrated run's events (the rules and every vCPU's injection PRNG
#    travel in the stream).
quiet_point=$(python3 - "$TMP/ref.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
inj = {e["seq"] for e in ev if e["type"] == "inject"}
# A READY write of generation 2, when no injection holds an exit.
for i, e in enumerate(ev):
    if e["type"] == "sync" and e["tag"] == "ready" and e["gen"] >= 2:
        print(e["seq"] + 1)
        break
PY
)
rm -f "$SNAP" "$SNAP.key"
run "${SER[@]}" --cmdline "$UP" --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" \
	--migrate-at "seq:$quiet_point" "$GUEST"
src_rc=$RC
run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
if grep -q '"type":"inject_end"' "$TMP/src.jsonl"; then
	fail "seq:$quiet_point was to be a point without a hold"
elif [ "$src_rc" -eq 0 ] && [ "$RC" -eq 0 ] &&
	events_equal "$TMP/ref.jsonl" -- "$TMP/src.jsonl" "$TMP/dst.jsonl"; then
	pass "serial --inject, migrated at seq:$quiet_point (no hold): the unmigrated run's events"
else
	fail "serial --inject at seq:$quiet_point: source $src_rc, destination $RC, or events differ"
fi

# 4. An injection never holds the guest's memory check, which the
#    unmigrated run does not have: every ucall of vCPU 0 is held here.
rm -f "$SNAP" "$SNAP.key"
run -m 16M --sev -c 2 --sched serial --seed 1 --inject vcpu=0,kind=ucall,prob=1,delay=1 \
	--cmdline "$UP" --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" --migrate-at ready:2 "$GUEST"
src_rc=$RC
run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
if [ "$src_rc" -eq 0 ] && [ "$RC" -eq 0 ] &&
	migration_logs_ok "$TMP/src.jsonl" "$TMP/dst.jsonl" "every ucall of vCPU 0 held" &&
	python3 - "$TMP/dst.jsonl" <<'PY'; then
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
i = next(i for i, e in enumerate(ev) if e["type"] == "migration_verify")
prev = [e for e in ev[:i] if e["vcpu"] == 0 and e["type"] != "sched"]
if prev and prev[-1]["type"] == "inject":
    sys.exit(f"the memory check's SYNC was held: {prev[-1]}")
if not any(e["type"] == "inject" for e in ev):
    sys.exit("no injection at the destination at all")
PY
	pass "kind=ucall,prob=1: the destination holds every ucall of vCPU 0 but the memory check's"
else
	fail "kind=ucall,prob=1: source $src_rc, destination $RC"
fi

# 5. The parallel scheduler: an injection sleeps in the vCPU thread, which
#    a stop waits for; live pre-copy over unix, every hypercall of vCPU 1
#    delayed 1 ms. A long guest, so that it outlives a pre-copy that has
#    to wait for READY again (a kexec withdraws it).
sock="$TMP/par.sock"
rm -f "$sock"
"$VMM" --log "$TMP/pdst.jsonl" --incoming "unix:$sock" >"$TMP/pdst.out" 2>&1 &
dpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
run -m 16M --sev -c 2 --inject vcpu=1,kind=hypercall,prob=1,delay=1000 \
	--cmdline 'scenario=kexec strategy=upstream cycles=200' --log "$TMP/psrc.jsonl" \
	--migrate-to "unix:$sock" --migrate-rounds 2 --migrate-at ready:2 "$GUEST"
src_rc=$RC
wait $dpid
dst_rc=$?
if [ "$src_rc" -eq 0 ] && [ "$dst_rc" -eq 0 ] &&
	migration_logs_ok "$TMP/psrc.jsonl" "$TMP/pdst.jsonl" "parallel, --inject delay=1000 us"; then
	pass "parallel --inject, live over unix: both exit 0, the guest's memory intact"
else
	fail "parallel --inject over unix: source $src_rc, destination $dst_rc"
	cat "$TMP/pdst.out"
fi

finish
