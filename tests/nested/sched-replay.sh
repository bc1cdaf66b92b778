#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Replay a committed schedule and compare the log with the committed one.
#   sched-replay.sh SCHEDULE EXPECTED_LOG [mini-vmm args...]
# Runs ./mini-vmm-static (or $VMM) --schedule SCHEDULE --log LOG args
# ./guest.elf (or $GUEST) and compares LOG, reduced to what does not depend
# on the hypervisor (every event but start, launch and exit, without the
# *_ns fields and the hypercall transport), with EXPECTED_LOG, reduced the
# same way when it was made (docs/schedule.md). Exit status: mini-vmm's, or
# 91 when the logs differ. SCHED_REPLAY_WRITE=1 writes EXPECTED_LOG instead.
# Plain sh and sed: busybox runs it in the VM.
sched=$1 want=$2
shift 2
here=$(dirname "$0")
vmm=${VMM:-$here/mini-vmm-static}
guest=${GUEST:-$here/guest.elf}
log=/tmp/sched-replay.$$.jsonl
"$vmm" --schedule "$sched" --log "$log" "$@" "$guest"
rc=$?
reduce() {
	grep -v -e '"type":"start"' -e '"type":"launch"' -e '"type":"exit"' "$1" |
		sed -e 's/,"[a-z_]*_ns":[0-9]*//g' -e 's/,"transport":"[a-z]*"//'
}
if [ "${SCHED_REPLAY_WRITE:-}" = 1 ]; then
	reduce "$log" >"$want"
elif ! reduce "$log" | cmp -s - "$want"; then
	echo "the replay's log differs from $want:"
	reduce "$log" | diff "$want" - | head -n 10
	rc=91
else
	echo "the replay's log is $want's ($(grep -c . "$want") events)"
fi
rm -f "$log"
exit $rc
