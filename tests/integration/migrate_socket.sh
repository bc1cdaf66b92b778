#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Live migration over sockets (issue 13 slice 2): the destination listens
# (--incoming unix:PATH or tcp:127.0.0.1:PORT) and sends its PDH key first,
# the source runs SEND_START with it, and SEND_FINISH only once the
# destination acknowledged the complete stream. A destination that dies
# mid-stream costs nothing: the source cancels (SEND_CANCEL), logs
# migration_failed and finishes the run itself with exit 0.
. "$(dirname "$0")/common.bash"
need_kvm

# Long enough for the pre-copy rounds to finish before the guest does.
KEXEC='scenario=kexec strategy=upstream cycles=300'

# wait_listen URI: until the destination listens (unix: the socket exists).
wait_listen() {
	for _ in $(seq 100); do
		case $1 in
		unix:*) [ -S "${1#unix:}" ] && return 0 ;;
		# A probe connection would be the one the destination accepts:
		# look for the listening socket instead.
		tcp:*) grep -qi ":$(printf %04X "${1##*:}") 00000000:0000 0A" /proc/net/tcp && return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}

# live URI WHAT SOURCE-ARGS...: destination in the background, then the source.
live() {
	local uri=$1 what=$2 dpid drc
	shift 2
	"$VMM" --log "$TMP/dst.jsonl" --incoming "$uri" >"$TMP/dst.out" 2>"$TMP/dst.err" &
	dpid=$!
	if ! wait_listen "$uri"; then
		fail "$what: the destination does not listen on $uri"
		kill "$dpid" 2>/dev/null
		return 1
	fi
	run -m 16M --log "$TMP/src.jsonl" --migrate-to "$uri" "$@" "$GUEST"
	wait "$dpid"
	drc=$?
	if [ "$RC" -ne 0 ] || [ "$drc" -ne 0 ]; then
		fail "$what: source exit $RC, destination exit $drc"
		show_output
		sed -n 1,5p "$TMP/dst.err"
		return 1
	fi
	migration_logs_ok "$TMP/src.jsonl" "$TMP/dst.jsonl" "$what" || { FAILS=$((FAILS + 1)); return 1; }
	pass "$what"
}

# Pre-copy: a guest writing 256 pages on every pass (scenario=dirty, its
# writes checked at the end) needs more than one live round on any host,
# fast or loaded: each round finds them dirty again.
live "unix:$TMP/m.sock" "unix, SEV dirty, pre-copy" --sev --cmdline 'scenario=dirty n=256 rounds=20000' \
	--migrate-at bench --migrate-force
python3 - "$TMP/src.jsonl" <<'PY' && pass "pre-copy: more than one live round, logged" || fail "pre-copy: want more than one migration_round"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
rounds = [e for e in ev if e["type"] == "migration_round"]
done = [e for e in ev if e["type"] == "migration_done"][0]
print("  rounds:", [(e["round"], e["pages"]) for e in rounds], "then stop-and-copy;",
      "downtime", done["downtime_us"], "us")
sys.exit(0 if len(rounds) >= 2 and rounds[1]["pages"] > 0 else 1)
PY
live "unix:$TMP/m.sock" "unix, SEV kexec, 1 vCPU, at ready" --sev --cmdline "$KEXEC" --migrate-at ready
live "unix:$TMP/m.sock" "unix, SEV kexec, 2 vCPUs serial, at kexec_begin" --sev -c 2 --sched=serial \
	--seed 7 --cmdline "$KEXEC" --migrate-at kexec_begin
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
live "tcp:127.0.0.1:$PORT" "tcp, SEV kexec, 2 vCPUs, at ready:2" --sev -c 2 --cmdline "$KEXEC" \
	--migrate-at ready:2

# The destination dies mid-stream: a relay passes the greeting and 20000
# bytes of the stream to a real destination, then closes both ends.
"$VMM" --incoming "unix:$TMP/real.sock" >"$TMP/dst.out" 2>"$TMP/dst.err" &
dpid=$!
wait_listen "unix:$TMP/real.sock" || fail "destination does not listen"
python3 - "$TMP/relay.sock" "$TMP/real.sock" 20000 <<'PY' &
import socket, sys, os
ls = socket.socket(socket.AF_UNIX); ls.bind(sys.argv[1]); ls.listen(1)
src, _ = ls.accept()
dst = socket.socket(socket.AF_UNIX); dst.connect(sys.argv[2])
src.sendall(dst.recv(112, socket.MSG_WAITALL))
left = int(sys.argv[3])
while left > 0:
    b = src.recv(min(left, 65536))
    if not b:
        break
    dst.sendall(b)
    left -= len(b)
dst.close(); src.close(); os.unlink(sys.argv[1])
PY
rpid=$!
wait_listen "unix:$TMP/relay.sock" || fail "relay does not listen"
run -m 16M --sev -c 2 --cmdline "$KEXEC" --log "$TMP/src.jsonl" --migrate-to "unix:$TMP/relay.sock" \
	--migrate-at ready "$GUEST"
wait "$rpid"
wait "$dpid"
drc=$?
if [ "$RC" -eq 0 ] && [ "$drc" -eq 2 ] && grep -q '"type":"migration_failed"' "$TMP/src.jsonl" &&
	grep -q '"type":"exit".*"status":0' "$TMP/src.jsonl" && grep -q "kexec: done" "$TMP/out"; then
	pass "destination gone mid-stream: it exits 2, the source cancels, logs migration_failed and finishes its run (exit 0)"
else
	fail "destination gone mid-stream: source exit $RC, destination exit $drc"
	show_output
	cat "$TMP/dst.err"
fi

# Nobody listening: the same, at connect.
run -m 16M --sev --log "$TMP/src.jsonl" --migrate-to "unix:$TMP/nobody.sock" --migrate-at ready "$GUEST"
expect_rc 0 "no destination" && grep -q '"type":"migration_failed"' "$TMP/src.jsonl" &&
	pass "no destination: migration_failed, exit 0" || fail "no destination: no migration_failed"
run -m 16M --migrate-to "tcp:localhost:4444" --migrate-at ready "$GUEST"
expect_rc 2 "tcp with a host name" && pass "tcp: a host name is refused (numeric IPv4 only)"
finish
