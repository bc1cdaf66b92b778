#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# SEV snapshots (issue 13 slice 1): the bitmap decides per page, shared
# pages go as the host view, private ones through SEND_UPDATE_DATA of the
# ciphertext; the destination's PSP receives them (RECEIVE_START with the
# target key stored beside the snapshot, PATH.key, mode 0600) and the guest
# goes on through its kexecs with every bitmap check passing.
. "$(dirname "$0")/common.bash"
need_kvm

SNAP="$TMP/snap.mvms"

# sev_migrate WHAT ARGS...: source with ARGS, destination; both must exit 0,
# the destination's checks all pass and the logs read as one run.
sev_migrate() {
	local what=$1
	shift
	rm -f "$SNAP" "$SNAP.key"
	run -m 16M --sev --log "$TMP/src.jsonl" --migrate-to "file:$SNAP" "$@" "$GUEST"
	if [ "$RC" -ne 0 ] || [ ! -f "$SNAP" ]; then
		fail "$what: source exit $RC"
		show_output
		return 1
	fi
	cp "$TMP/out" "$TMP/src.out"
	run --log "$TMP/dst.jsonl" --incoming "file:$SNAP"
	if [ "$RC" -ne 0 ]; then
		fail "$what: destination exit $RC"
		show_output
		return 1
	fi
	migration_logs_ok "$TMP/src.jsonl" "$TMP/dst.jsonl" "$what" || { FAILS=$((FAILS + 1)); return 1; }
	pass "$what"
}

sev_migrate "default story at ready" --migrate-at ready
[ "$(stat -c %a "$SNAP.key")" = 600 ] && pass "target key beside the snapshot, mode 0600" ||
	fail "target key missing or not 0600"
grep -q "kexec: done after generation 2" "$TMP/out" || fail "the destination did not finish the story"
for at in kexec_begin reset_done ready:2; do
	sev_migrate "kexec, 1 vCPU, at $at" --cmdline 'scenario=kexec strategy=upstream cycles=2' \
		--migrate-at "$at"
done
for at in ready kexec_begin ready:2 seq:60; do
	sev_migrate "kexec, 2 vCPUs serial, at $at" -c 2 --sched=serial --seed 3 \
		--cmdline 'scenario=kexec strategy=upstream cycles=2' --migrate-at "$at"
done
sev_migrate "kexec, 2 vCPUs parallel, at kexec_begin" -c 2 \
	--cmdline 'scenario=kexec strategy=upstream cycles=2' --migrate-at kexec_begin

# READY gate: at boot:2 (upstream: not migratable until its reset is
# done) the source waits for READY and migrates there.
sev_migrate "kexec at boot:2, waiting for READY" --cmdline 'scenario=kexec strategy=upstream cycles=2' \
	--migrate-at boot:2
python3 - "$TMP/src.jsonl" <<'PY' && pass "boot:2: migration_wait_ready, then the migration at READY" || fail "boot:2: no wait for READY"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [e["type"] for e in ev]
w, s = t.index("migration_wait_ready"), t.index("migration_start")
ready = [e for e in ev[w:s] if e["type"] == "wrmsr" and e.get("migratable")]
sys.exit(0 if w < s and ready else 1)
PY
# A guest that never writes READY again (CPU offline, no fix): no migration
# after --migrate-wait, the source finishes its run; --migrate-force overrides.
rm -f "$SNAP" "$SNAP.key"
run -m 16M --sev -c 2 --cmdline scenario=hotplug --log "$TMP/h.jsonl" --migrate-to "file:$SNAP" \
	--migrate-at cpu_online --migrate-wait 0 "$GUEST"
if expect_rc 0 "hotplug, --migrate-wait 0" && [ ! -e "$SNAP" ] &&
	grep -q '"type":"migration_failed"' "$TMP/h.jsonl" && grep -q '"type":"exit"' "$TMP/h.jsonl"; then
	pass "no READY within --migrate-wait: migration_failed, the guest finishes here, exit 0"
else
	fail "no READY: want migration_failed and a complete run"
fi
sev_migrate "hotplug at cpu_online with --migrate-force" -c 2 --cmdline scenario=hotplug \
	--migrate-at cpu_online --migrate-force
grep -q '"type":"migration_forced"' "$TMP/src.jsonl" &&
	pass "--migrate-force: logged as migration_forced" || fail "--migrate-force: no migration_forced"

# Without its target key an SEV snapshot cannot be received.
rm -f "$SNAP.key"
run --incoming "file:$SNAP"
expect_rc 2 "SEV snapshot without its key" && grep -q "target key" "$TMP/err" &&
	pass "SEV snapshot without PATH.key: exit 2, named" || fail "no 'target key' message"
# Another snapshot's key: RECEIVE_START refuses the session (the wrap MAC).
sev_migrate "second snapshot" --migrate-at ready
cp "$SNAP" "$TMP/b.mvms"
cp "$SNAP.key" "$TMP/b.mvms.key"
sev_migrate "third snapshot" --migrate-at ready
cp "$TMP/b.mvms.key" "$SNAP.key"
run --incoming "file:$SNAP"
expect_rc 2 "SEV snapshot with another snapshot's key" && grep -q "RECEIVE_START" "$TMP/err" &&
	pass "another snapshot's key: RECEIVE_START refuses, exit 2" || fail "wrong key accepted"
# A PSP packet changed and the stream's CRCs made to match again (CRC32C
# is no MAC: anyone on the wire can redo it): RECEIVE_UPDATE_DATA refuses
# the packet (its MAC), logged as migration_packet_refused, exit 2, and
# the guest never runs.
sev_migrate "snapshot to tamper with" --migrate-at ready
cp "$SNAP.key" "$TMP/keep.key"
python3 - "$SNAP" <<'PY'
import struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b, c=0):
    c ^= 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
assert crc32c(b"123456789") == 0xE3069283
path = sys.argv[1]
s = bytearray(open(path, "rb").read())
off = 24
while off + 24 <= len(s):
    typ, sid, length, seq, hcrc = struct.unpack_from("<4sIQII", s, off)
    pay = off + 24
    if typ == b"RAM ":
        r = pay
        while r < pay + length:
            gpa, kind = struct.unpack_from("<QI", s, r)
            if kind == 2:                      # PRIVATE_PSP: header 52, then ciphertext
                s[r + 16 + 52 + 100] ^= 0x01
                crc = crc32c(bytes(s[pay:pay + length]) + struct.pack("<I", hcrc))
                struct.pack_into("<I", s, pay + length, crc)
                open(path, "wb").write(s)
                print("flipped a ciphertext byte of page %#x" % gpa)
                sys.exit(0)
            r += 16 + (4096 if kind == 1 else 4148 if kind == 2 else 0)
    off = pay + length + 4
sys.exit("no PSP page record found")
PY
run --log "$TMP/tamper.jsonl" --incoming "file:$SNAP"
if [ "$RC" -eq 2 ] && grep -q "RECEIVE_UPDATE_DATA of page" "$TMP/err" &&
	grep -q '"type":"migration_packet_refused".*"status"' "$TMP/tamper.jsonl" &&
	grep -q '"type":"migration_refused","vcpu":-1,"gen":[0-9]*,"section":"RAM"' "$TMP/tamper.jsonl" &&
	! grep -q '"type":"exit"' "$TMP/tamper.jsonl"; then
	pass "a PSP packet with matching CRCs but a broken MAC: migration_packet_refused, exit 2"
else
	fail "tampered PSP packet: exit $RC"
	show_output
	cat "$TMP/tamper.jsonl" 2>/dev/null | tail -3
fi
finish
