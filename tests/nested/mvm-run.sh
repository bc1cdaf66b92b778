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
# Benchmark markers (scenario=bench-exit), for timing under TCG.
awk -F'"t_ns":' '/"tag":"bench"/ {split($2, a, ","); t[n++] = a[1]} END {for (i = 0; i + 1 < n; i++) if (i % 2 == 0) b += t[i+1] - t[i]; else f += t[i+1] - t[i]; if (n) printf "bench: bare %d ns, full %d ns (sums)\n", b, f}' "$log"
rm -f "$log"
exit $rc
