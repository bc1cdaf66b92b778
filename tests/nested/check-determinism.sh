#!/usr/bin/env bash
# Cross-hypervisor determinism: for every seeded serial entry of the list
# (name serial_* or race_*), the exit status mini-vmm had on kvm_amd (from
# the serial log) must equal that of the same command on this host's
# /dev/kvm (kvm_pvm here); for every schedule replay (replay_*), the replay
# log's digest printed in the VM must equal the one the same replay gives
# here: the same schedule, the same log on both hypervisors.
#   check-determinism.sh LIST OUTDIR VMM GUEST
set -u
list=$1 out=$2 vmm=$3 guest=$4
log=$out/serial.log
[ -f "$log" ] || { echo "no serial log: nested boot skipped"; exit 77; }
[ -w /dev/kvm ] || exit 77
fail=0 n=0
here=$(cd "$(dirname "$0")" && pwd)
while read -r name _ cmd; do
	case $name in
	replay_*)
		nested=$(sed -n "s/^\[$name\] sched-log-sha256 //p" "$log" | tr -d '\r')
		eval "set -- $cmd"
		shift 1
		local_sha=$(VMM=$vmm GUEST=$guest sh "$here/sched-replay.sh" "$@" |
			sed -n 's/^sched-log-sha256 //p')
		n=$((n + 1))
		if [ -z "$nested" ] || [ "$nested" != "$local_sha" ]; then
			echo "FAIL: $name: replay log digest on kvm_amd ${nested:-missing}, here $local_sha"
			fail=1
		else
			echo "ok: $name: the same replay log on both ($local_sha)"
		fi
		continue
		;;
	serial_* | race_*) ;;
	*) continue ;;
	esac
	nested=$(awk -v n="$name" '$1 == "NESTED-RESULT" && $2 == n {print $3}' "$log")
	# cmd is "mvm-run.sh TRANSPORT args..." with shell quoting
	eval "set -- $cmd"
	shift 2
	"$vmm" "$@" "$guest" >/dev/null 2>&1
	local_rc=$?
	n=$((n + 1))
	if [ "$nested" != "$local_rc" ]; then
		echo "FAIL: $name: kvm_amd exit ${nested:-missing}, this host exit $local_rc"
		fail=1
	else
		echo "ok: $name: exit $local_rc on both"
	fi
done < <(grep -vE '^[[:space:]]*(#|$)' "$list")
[ $n -gt 0 ] || { echo "FAIL: no seeded entries in $list"; exit 1; }
exit $fail
