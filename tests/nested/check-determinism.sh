#!/usr/bin/env bash
# Cross-hypervisor determinism: for every seeded serial entry of the list
# (name serial_* or race_*), the exit status mini-vmm had on kvm_amd (from
# the serial log) must equal that of the same command on this host's
# /dev/kvm (kvm_pvm here).
#   check-determinism.sh LIST OUTDIR VMM GUEST
set -u
list=$1 out=$2 vmm=$3 guest=$4
log=$out/serial.log
[ -f "$log" ] || { echo "no serial log: nested boot skipped"; exit 77; }
[ -w /dev/kvm ] || exit 77
fail=0 n=0
while read -r name _ cmd; do
	case $name in serial_* | race_*) ;; *) continue ;; esac
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
