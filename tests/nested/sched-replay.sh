#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Record a schedule, replay it, compare the two logs; print the replay
# log's digest so that the host can compare it with its own.
#   sched-replay.sh [mini-vmm args...]      (args include --sched=serial)
# Runs ./mini-vmm-static (or $VMM) with --schedule-out, then with
# --schedule, on ./guest.elf (or $GUEST). The logs are reduced to what does
# not depend on the hypervisor (every event but start, launch and exit,
# without the *_ns fields and the hypercall transport). Prints
# "sched-log-sha256 DIGEST" of the replay's reduced log. Exit status: the
# replay's, or 91 when replay and recording differ. Plain sh and sed:
# busybox runs it in the nested VM; tests/nested/check-determinism.sh runs
# it on the host and compares the digests (docs/schedule.md).
here=$(dirname "$0")
vmm=${VMM:-$here/mini-vmm-static}
guest=${GUEST:-$here/guest.elf}
t=/tmp/sched-replay.$$
reduce() {
	grep -v -e '"type":"start"' -e '"type":"launch"' -e '"type":"exit"' "$1" |
		sed -e 's/,"[a-z_]*_ns":[0-9]*//g' -e 's/,"transport":"[a-z]*"//'
}
"$vmm" --schedule-out "$t.sched" --log "$t.rec" "$@" "$guest" >/dev/null 2>&1
"$vmm" --schedule "$t.sched" --log "$t.rep" "$@" "$guest" >/dev/null 2>&1
rc=$?
reduce "$t.rec" >"$t.a"
reduce "$t.rep" >"$t.b"
if ! cmp -s "$t.a" "$t.b"; then
	echo "the replay's log differs from the recording's:"
	diff "$t.a" "$t.b" | head -n 10
	rc=91
else
	echo "replay = recording ($(grep -c . "$t.b") events, $(grep -c . "$t.sched") schedule lines)"
fi
echo "sched-log-sha256 $(sha256sum <"$t.b" | cut -d' ' -f1)"
rm -f "$t.sched" "$t.rec" "$t.rep" "$t.a" "$t.b"
exit $rc
