#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest checks its memory after a migration (issue 13 slice 5). With a
# migration planned the guest keeps a GPA/generation/version pattern in
# the RAM it does not use and in its shared pages; the destination bumps
# the counter in vCPU 0's ucall page; the guest checks every page and
# reports; the destination logs migration_verify, names each corrupted
# run with how it was sent and the bitmap entry that decided it, and
# exits 1. Nothing here tells the emulated platform which pages to spoil:
# the corruption comes from the bitmap sending a page the wrong way.
. "$(dirname "$0")/common.bash"
need_kvm

SNAP="$TMP/snap.mvms"
V12='scenario=kexec strategy=v12 cycles=2'

# snap_migrate ARGS...: source with ARGS to file:, then the destination;
# sets SRC_RC and DST_RC, logs in $TMP/src.jsonl and $TMP/dst.jsonl.
snap_migrate() {
	rm -f "$SNAP" "$SNAP.key"
	run -m 16M --sev --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" "$@" "$GUEST"
	SRC_RC=$RC
	cp "$TMP/out" "$TMP/src.out"
	run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
	DST_RC=$RC
	cat "$TMP/out" "$TMP/err" >"$TMP/dst.out"
}

# verify_says SRC DST WANT: the destination's migration_verify events
# agree with WANT (corrupt SENT: corrupted runs, all sent SENT, each
# naming its entry; clean: reported, nothing corrupted; unreported).
verify_says() {
	python3 - "$@" <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
dst = [json.loads(l) for l in open(sys.argv[2])]
want = sys.argv[3:]
vs = [e for e in dst if e["type"] == "migration_verify"]
bad = []
if want[0] == "unreported":
    if [v["reported"] for v in vs] != [False]:
        bad.append(f"want one unreported migration_verify, got {vs}")
elif not vs or not all(v["reported"] for v in vs):
    bad.append(f"the guest did not report: {vs}")
elif want[0] == "clean":
    if any(v["corrupted"] or v["runs"] for v in vs) or not vs[0]["checked"]:
        bad.append(f"want a clean check of some pages: {vs}")
else:
    sent = want[1]
    v = vs[0]
    runs = v["runs"]
    if not v["corrupted"] or sum(r["pages"] for r in runs) != v["corrupted"]:
        bad.append(f"want corrupted pages named by runs: {v}")
    hc = {e["seq"]: e for e in src if e["type"] == "hypercall"}
    for r in runs:
        if r["sent"] != sent:
            bad.append(f"run {r} was not sent {sent}")
        # The provenance of a shared entry is the MAP_GPA_RANGE that set it.
        if r["entry"] == "shared":
            h = hc.get(r["seq"])
            lo, hi = int(r["start"], 16), int(r["end"], 16)
            if (not h or h["encrypted"] or int(h["gpa"], 16) > lo or
                    int(h["gpa"], 16) + h["npages"] * 4096 < hi):
                bad.append(f"run {r}: event #{r['seq']} in the source is not the "
                           f"MAP_GPA_RANGE that shared it: {h}")
        if (r["entry"] == "shared") != (sent == "shared"):
            bad.append(f"run {r}: the bitmap entry and the way it was sent disagree")
    print(f"  {v['corrupted']} of {v['checked']} pages corrupted: " +
          ", ".join(f"[{r['start']}, {r['end']}) sent {r['sent']}" +
                    (f" (entry from #{r['seq']}, vCPU {r['by']}, gen {r['gen']})"
                     if r["entry"] == "shared" else "") for r in runs[:4]))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
}

# 1. v12, 2 vCPUs, serial, seed 1: its race leaves two bounce buffers
#    shared in the bitmap at generation 3's READY (the bitmap check says
#    stale_shared). Migrated there, they go as plaintext; the guest, which
#    keeps its pattern in them with the C-bit set, reads garbage.
snap_migrate --check -c 2 --sched=serial --seed 1 --cmdline "$V12" --migrate-at ready:3
if [ "$SRC_RC" -eq 1 ] && [ "$DST_RC" -eq 1 ] && verify_says "$TMP/src.jsonl" "$TMP/dst.jsonl" corrupt shared &&
	grep -q "migration corrupted guest memory" "$TMP/dst.out" &&
	grep -q "the bitmap said shared, since the MAP_GPA_RANGE of event" "$TMP/dst.out"; then
	pass "v12 seed 1 at ready:3: the stale shared entries corrupt the pages they name"
else
	fail "v12 seed 1 at ready:3: source $SRC_RC destination $DST_RC"
	sed -n '1,12s/^/    /p' "$TMP/dst.out"
fi

# 2. The other way: migrated right after v12's reset in the reboot
#    notifier, while the old kernel still has its boot pages shared: the
#    bitmap says private, so they go through the secure processor, and the
#    guest reads ciphertext in its shared pages. The point is the first
#    migration_point of the plain run that would copy a guest-shared page
#    as private.
run -m 16M --sev --check -c 2 --sched=serial --seed 1 --log "$TMP/plain.jsonl" --cmdline "$V12" "$GUEST"
point=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
p = [e for e in ev if e["type"] == "migration_point" and e["host_private_guest_shared"]]
s = [e for e in ev if e["type"] == "sync" and e["seq"] > p[0]["seq"]]
print(s[0]["seq"])' "$TMP/plain.jsonl")
snap_migrate --check -c 2 --sched=serial --seed 1 --cmdline "$V12" --migrate-at "seq:$point"
if [ "$DST_RC" -eq 1 ] && verify_says "$TMP/src.jsonl" "$TMP/dst.jsonl" corrupt private; then
	pass "v12 seed 1 at seq:$point (after the notifier's reset): shared pages sent private read wrong"
else
	fail "v12 seed 1 at seq:$point: source $SRC_RC destination $DST_RC"
	sed -n '1,12s/^/    /p' "$TMP/dst.out"
fi

# 3. The same migration over a unix socket with --migrate-rounds 0 (stop
#    at the point, copy, as a snapshot does): the same pages corrupted.
rm -f "$TMP/sock"
"$VMM" --log "$TMP/dst-sock.jsonl" --incoming "unix:$TMP/sock" >"$TMP/dst-sock.out" 2>&1 &
dst_pid=$!
for _ in $(seq 100); do [ -S "$TMP/sock" ] && break; sleep 0.05; done
run -m 16M --sev --check -c 2 --sched=serial --seed 1 --log "$TMP/src-sock.jsonl" \
	--migrate-to "unix:$TMP/sock" --migrate-rounds 0 --migrate-at ready:3 --cmdline "$V12" "$GUEST"
wait "$dst_pid"
sock_rc=$?
# Case 1's snapshot again, to compare the runs.
snap_migrate --check -c 2 --sched=serial --seed 1 --cmdline "$V12" --migrate-at ready:3
if [ "$sock_rc" -eq 1 ] && verify_says "$TMP/src-sock.jsonl" "$TMP/dst-sock.jsonl" corrupt shared &&
	python3 -c '
import json, sys
def runs(p):
    return [(r["start"], r["end"], r["sent"]) for e in map(json.loads, open(p))
            if e["type"] == "migration_verify" for r in e["runs"]]
sys.exit(runs(sys.argv[1]) != runs(sys.argv[2]) or not runs(sys.argv[1]))' "$TMP/dst.jsonl" "$TMP/dst-sock.jsonl"; then
	pass "v12 seed 1 at ready:3 over unix: the same runs corrupted as through a snapshot"
else
	fail "v12 seed 1 at ready:3 over unix: destination $sock_rc, or other runs"
	sed -n '1,12s/^/    /p' "$TMP/dst-sock.out"
fi

# 4. upstream and stop-unshare keep the bitmap right at every READY: over
#    50 seeds and the three READYs of two kexecs, no page is ever corrupted.
bad=0 n=0
for strategy in upstream stop-unshare; do
	for seed in $(seq 50); do
		for at in ready:1 ready:2 ready:3; do
			snap_migrate --check -c 2 --sched=serial --seed "$seed" \
				--cmdline "scenario=kexec strategy=$strategy cycles=2" --migrate-at "$at"
			n=$((n + 1))
			if [ "$SRC_RC" -ne 0 ] || [ "$DST_RC" -ne 0 ] ||
				! verify_says "$TMP/src.jsonl" "$TMP/dst.jsonl" clean >/dev/null; then
				bad=$((bad + 1))
				echo "  $strategy seed $seed at $at: source $SRC_RC destination $DST_RC"
			fi
		done
	done
done
[ "$bad" -eq 0 ] && pass "upstream and stop-unshare: $n migrations at READY, none corrupted" ||
	fail "upstream/stop-unshare: $bad of $n migrations at READY failed or corrupted"

# 5. verify=off: no pattern, no check, and the destination says so.
snap_migrate --cmdline 'scenario=kexec strategy=upstream cycles=1 verify=off' --migrate-at ready
if [ "$DST_RC" -eq 0 ] && verify_says "$TMP/src.jsonl" "$TMP/dst.jsonl" unreported &&
	! grep -q "verify: pattern" "$TMP/src.out"; then
	pass "verify=off: no pattern, migration_verify reported false"
else
	fail "verify=off: destination $DST_RC"
fi

# 6. Without a planned migration the guest keeps no pattern at all.
run -m 16M --sev --cmdline 'scenario=kexec strategy=upstream cycles=1' "$GUEST"
[ "$RC" -eq 0 ] && ! grep -q "verify: pattern" "$TMP/out" && pass "no migration planned: no pattern" ||
	fail "a run without --migrate-to wrote the pattern (exit $RC)"

finish
