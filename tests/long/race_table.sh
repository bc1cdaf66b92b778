#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The race table (issue 11): 200 seeds, serial schedule, device on (its
# default rate), 1 and 2 vCPUs, reboot=linux and reboot=offline. For each
# strategy the test asserts whether it fails for some seed or for none, as
# the model gives it, and that the first failing seed of every failing
# strategy replays to a byte-identical log (scripts/log-strip).
#
# Why each cell is what it is (the order of the code, README "Race table"):
#  - none: nothing resets, every run fails.
#  - linux, 1 vCPU: v12, every-cpu, last-cpu, msr-off reset inside the
#    notifier; afterwards the boot CPU runs the work its device interrupts
#    queued (usermodehelper_disable sleeps, kworkers run) before
#    device_shutdown: one thread races with itself. mute survives: after its
#    reset no MAP_GPA_RANGE is issued. generation (host side), upstream
#    (reset in the new kernel, migration blocked meanwhile) and
#    stop-unshare (conversions stopped, then every shared page unshared)
#    survive.
#  - linux, 2 vCPUs: the same, and mute fails too: an AP between its flag
#    check and its hypercall when the notifier's reset runs.
#  - offline, 1 vCPU: no device work after any reset: only none fails.
#  - offline, 2 vCPUs: v12 and msr-off reset on CPU0 while the AP still
#    works; every-cpu and last-cpu run on each CPU as it leaves its loop.
set -u
[ -w /dev/kvm ] || exit 77
: "${VMM:?}" "${GUEST:?}" "${SRC:?}" "${BUILD:?}"
out=$BUILD/race-table
rm -rf "$out"
mkdir -p "$out"
fail=0

# config: cpus reboot; then "strategy:some|none" for all nine
check() {
	local cpus=$1 reboot=$2 dir=$out/c$1-$2
	shift 2
	"$SRC/scripts/race-hunt" --runs 200 --cpus "$cpus" --reboot "$reboot" --vmm "$VMM" \
		--guest "$GUEST" --csv "$dir/race.csv" >"$dir.txt" 2>/dev/null
	cat "$dir.txt" | sed -n '1,11p'
	for want in "$@"; do
		local s=${want%%:*} w=${want#*:} f e
		f=$(awk -F, -v s="$s" '$1==s{print $3}' "$dir/race.csv")
		e=$(awk -F, -v s="$s" '$1==s{print $4}' "$dir/race.csv")
		if [ "${e:-1}" != 0 ]; then
			echo "FAIL: $cpus cpu(s) reboot=$reboot $s: ${e:-?} error(s)"
			fail=1
		elif [ "$w" = some ] && [ "${f:-0}" -eq 0 ]; then
			echo "FAIL: $cpus cpu(s) reboot=$reboot $s: no seed fails, the model says some"
			fail=1
		elif [ "$w" = none ] && [ "${f:-1}" -ne 0 ]; then
			echo "FAIL: $cpus cpu(s) reboot=$reboot $s: $f seed(s) fail, the model says none"
			fail=1
		fi
	done
	# Replay every printed command (first failing seed of each strategy).
	grep -E '^  # [a-z0-9-]+ seed [0-9]+' "$dir.txt" | while read -r _ s _ seed _; do
		local cmd kept replay
		kept=$dir/logs/$s-seed$seed.jsonl
		replay=$dir/replay-$s-seed$seed.jsonl
		cmd=$(grep -A1 -E "^  # $s seed $seed " "$dir.txt" | tail -1)
		eval "$cmd" >/dev/null 2>&1
		if ! cmp -s <("$SRC/scripts/log-strip" "$kept") <("$SRC/scripts/log-strip" "$replay"); then
			echo "FAIL: $cpus cpu(s) reboot=$reboot $s seed $seed does not replay identically"
			echo 1 >"$out/replay-failed"
		fi
	done
}

check 1 linux v12:some every-cpu:some last-cpu:some msr-off:some mute:none generation:none \
	upstream:none stop-unshare:none none:some
check 2 linux v12:some every-cpu:some last-cpu:some msr-off:some mute:some generation:none \
	upstream:none stop-unshare:none none:some
check 1 offline v12:none every-cpu:none last-cpu:none msr-off:none mute:none generation:none \
	upstream:none stop-unshare:none none:some
check 2 offline v12:some every-cpu:none last-cpu:none msr-off:some mute:none generation:none \
	upstream:none stop-unshare:none none:some
[ -e "$out/replay-failed" ] && fail=1
[ $fail -eq 0 ] && echo "PASS: every cell as the model gives it, failing seeds replay identically"
exit $fail
