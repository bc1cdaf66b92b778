#!/bin/sh
# Run mini-vmm inside the nested VM and check what the log says.
#   mvm-run.sh EXPECT_TRANSPORT [mini-vmm args...]
# EXPECT_TRANSPORT: vmmcall, vmcall, port or any. The guest is ./guest.elf.
# Exit status: mini-vmm's, or 90 when the log's start event shows another
# transport than expected.
want=$1
shift
cd "$(dirname "$0")"
log=/tmp/mvm.$$.jsonl
./mini-vmm-static --log "$log" "$@" ./guest.elf
rc=$?
start=$(head -n 1 "$log")
echo "start event: $start"
if [ "$want" != any ] && ! echo "$start" | grep -q "\"transport\":\"$want\""; then
	echo "expected transport $want"
	rc=90
fi
grep '"type":"exit"' "$log"
rm -f "$log"
exit $rc
