#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Campaigns on GNU parallel (issue 14): scripts/race-hunt gives the same
# table for the same seeds run with one job and with two, after being
# killed and resumed, and spread over two hosts through ssh to this machine
# (sshd started here with a throwaway key on a port of 127.0.0.1; that part
# is skipped where sshd cannot run). "Same table": every CSV column but the
# wall time. The same for a --migrate campaign over the two hosts.
. "$(dirname "$0")/common.bash"
need_kvm
command -v parallel >/dev/null || { echo "SKIP: GNU parallel missing"; exit 77; }
VMM=$(realpath "$VMM")
GUEST=$(realpath "$GUEST")
hunt=(env PYTHONUNBUFFERED=1 "$SRC/scripts/race-hunt" --runs 20 --strategies v12,mute,upstream
	--cycles 2 --vmm "$VMM" --guest "$GUEST")

table() { # CSV without median_ms
	cut -d, -f1-8 "$1"
}

"${hunt[@]}" --jobs 1 --csv "$TMP/seq/race.csv" >"$TMP/seq.txt" 2>/dev/null ||
	fail "sequential campaign exited $?"
"${hunt[@]}" --jobs 2 --csv "$TMP/par/race.csv" >"$TMP/par.txt" 2>/dev/null ||
	fail "parallel campaign exited $?"
if cmp -s <(table "$TMP/seq/race.csv") <(table "$TMP/par/race.csv"); then
	pass "-j 1 and -j 2 give the same table"
else
	fail "-j 1 and -j 2 differ"
	diff <(table "$TMP/seq/race.csv") <(table "$TMP/par/race.csv")
fi
grep -q "^v12 " "$TMP/seq.txt" || fail "no table printed"
[ "$(awk -F, '$1=="v12"{print $3}' "$TMP/seq/race.csv")" -ge 1 ] ||
	fail "v12 never failed in 20 seeds: the table proves nothing"

# Killed after some jobs, then resumed: the same table.
setsid "${hunt[@]}" --jobs 2 --csv "$TMP/res/race.csv" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	n=$(find "$TMP/res/jobs" -name '*.row' 2>/dev/null | wc -l)
	[ "$n" -ge 15 ] && break
	sleep 0.1
done
kill -TERM -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_before=$(find "$TMP/res/jobs" -name '*.row' | wc -l)
if [ "$done_before" -ge 60 ]; then
	echo "note: the campaign finished before it could be killed"
fi
"${hunt[@]}" --jobs 2 --resume --csv "$TMP/res/race.csv" >/dev/null 2>&1 ||
	fail "resumed campaign exited $?"
reran=$(($(wc -l <"$TMP/res/joblog") - 1))
if cmp -s <(table "$TMP/seq/race.csv") <(table "$TMP/res/race.csv"); then
	pass "killed after $done_before of 60 jobs and resumed: the same table (joblog: $reran jobs)"
else
	fail "the resumed campaign's table differs"
	diff <(table "$TMP/seq/race.csv") <(table "$TMP/res/race.csv")
fi

# Two hosts: this one (":") and 127.0.0.1 through a throwaway sshd.
sshd=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd" ] || ! command -v ssh-keygen >/dev/null; then
	echo "SKIP (part): no sshd here"
	finish
fi
ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$TMP/user_key"
cp "$TMP/user_key.pub" "$TMP/authorized_keys"
chmod 600 "$TMP/authorized_keys"
port=$((20000 + RANDOM % 20000))
cat >"$TMP/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $TMP/host_key
AuthorizedKeysFile $TMP/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile $TMP/sshd.pid
EOF
mkdir -p /run/sshd 2>/dev/null
if ! "$sshd" -f "$TMP/sshd_config" -E "$TMP/sshd.log" 2>/dev/null; then
	echo "SKIP (part): sshd does not start here: $(tail -1 "$TMP/sshd.log" 2>/dev/null)"
	finish
fi
trap 'kill "$(cat "$TMP/sshd.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$TMP"' EXIT
export PARALLEL_SSH="ssh -p $port -i $TMP/user_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
ok=0
for _ in $(seq 1 50); do
	$PARALLEL_SSH "$(id -un)@127.0.0.1" true 2>/dev/null && { ok=1; break; }
	sleep 0.1
done
if [ $ok -eq 0 ]; then
	echo "SKIP (part): cannot log in to the test sshd"
	finish
fi
printf '1/:\n1/%s@127.0.0.1\n' "$(id -un)" >"$TMP/hosts"
"${hunt[@]}" --sshloginfile "$TMP/hosts" --csv "$TMP/ssh/race.csv" >/dev/null 2>&1 ||
	fail "two-host campaign exited $?"
hosts=$(awk -F'\t' 'NR > 1 {print $2}' "$TMP/ssh/joblog" | sort -u | tr '\n' ' ')
if cmp -s <(table "$TMP/seq/race.csv") <(table "$TMP/ssh/race.csv"); then
	pass "two hosts ($hosts) give the same table as one"
else
	fail "the two-host table differs"
	diff <(table "$TMP/seq/race.csv") <(table "$TMP/ssh/race.csv")
fi
case $hosts in *127.0.0.1*) ;; *) fail "no job ran on the ssh host (joblog hosts: $hosts)" ;; esac

# --migrate over the same two hosts: each job (reference run, destination,
# source, over a unix socket on the host that runs it) writes its row to
# the shared DIR; the table is the local one.
mhunt=(env PYTHONUNBUFFERED=1 "$SRC/scripts/race-hunt" --migrate --runs 6 --strategies v12,upstream
	--cycles 2 --vmm "$VMM" --guest "$GUEST")
mtable() { # the columns that do not measure time
	python3 - "$1" <<'PY'
import csv, sys
timed = ("median_ms", "msr_blocked_median_ms", "msr_blocked_max_ms",
         "ready_wait_median_ms", "downtime_median_us")
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join("%s=%s" % (k, v) for k, v in r.items() if k not in timed))
PY
}
"${mhunt[@]}" --jobs 2 --csv "$TMP/mloc/race.csv" >/dev/null 2>&1 || fail "local --migrate campaign exited $?"
"${mhunt[@]}" --sshloginfile "$TMP/hosts" --csv "$TMP/mssh/race.csv" >/dev/null 2>&1 ||
	fail "two-host --migrate campaign exited $?"
mhosts=$(awk -F'\t' 'NR > 1 {print $2}' "$TMP/mssh/joblog" | sort -u | tr '\n' ' ')
if [ -s "$TMP/mloc/race.csv" ] && cmp -s <(mtable "$TMP/mloc/race.csv") <(mtable "$TMP/mssh/race.csv") &&
	grep -q '^v12,6,' "$TMP/mssh/race.csv"; then
	pass "--migrate on two hosts ($mhosts) gives the local table"
else
	fail "the two-host --migrate table differs"
	diff <(mtable "$TMP/mloc/race.csv") <(mtable "$TMP/mssh/race.csv")
fi
case $mhosts in *127.0.0.1*) ;; *) fail "no --migrate job ran on the ssh host (joblog hosts: $mhosts)" ;; esac
finish
