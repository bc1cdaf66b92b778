#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the libFuzzer targets with clang in build-fuzz and run each one for
# a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 s, every target)
#
# Environment: FUZZ_PARALLEL=N runs N targets at a time (default 1),
# BUILD=dir (default build-fuzz), FUZZ_ARGS="..." extra libFuzzer flags.
#
# Each target first re-runs its reproducers (fuzz/regressions/TARGET/),
# then fuzzes a working corpus (BUILD/corpus/TARGET, seeded from
# fuzz/corpus/TARGET; the seeds in the tree are left untouched). Crash
# inputs land in BUILD/artifacts/TARGET/, logs in BUILD/logs/TARGET.log.
# Prints the executions per target; exits 1 if any target crashed.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-fuzz}
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(elf dispatch hypercall ucall options script psp_receive psp_session stream schedule)
PARALLEL=${FUZZ_PARALLEL:-1}

case $SECONDS_PER_TARGET in
'' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 2; }

CC=clang cmake -S "$SRC" -B "$BUILD" -DMINIVMM_FUZZ=ON >/dev/null || exit 2
cmake --build "$BUILD" --target fuzz -j"$(nproc)" >/dev/null || {
	echo "run.sh: build failed (cmake --build $BUILD --target fuzz)" >&2
	exit 2
}
mkdir -p "$BUILD/logs"

# run_target NAME: regressions, then a bounded fuzzing run. Status 0 = no crash.
run_target() {
	local t=$1 bin=$BUILD/fuzz/fuzz_$1 corpus=$BUILD/corpus/$1 art=$BUILD/artifacts/$1/
	local log=$BUILD/logs/$1.log
	mkdir -p "$corpus" "$art"
	cp -n "$SRC/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null
	: >"$log"
	if compgen -G "$SRC/fuzz/regressions/$t/*" >/dev/null; then
		"$bin" -runs=1 "$SRC/fuzz/regressions/$t/"* >>"$log" 2>&1 || return 1
	fi
	# close_fd_mask=2: the target's own stderr (check reports) is noise;
	# sanitizer and libFuzzer reports still reach the log.
	"$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 \
		-close_fd_mask=2 -artifact_prefix="$art" ${FUZZ_ARGS:-} "$corpus" >>"$log" 2>&1
}

declare -A pids
status=0
report() {
	local t=$1 rc=$2 log=$BUILD/logs/$1.log n
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		printf '%-12s %12s executions  ok\n' "$t" "${n:-?}"
	elif [ "$rc" -eq 72 ] && grep -q 'libFuzzer: run interrupted' "$log"; then
		# libFuzzer's -interrupt_exitcode: stopped by a signal, not a crash.
		printf '%-12s %12s executions  interrupted\n' "$t" "${n:-?}"
		status=1
	else
		printf '%-12s %12s executions  CRASH (exit %d): see %s and %s\n' "$t" "${n:-?}" \
			"$rc" "$log" "$BUILD/artifacts/$t/"
		grep -m1 -E 'ERROR:|deadly signal' "$log" | sed 's/^/           /'
		status=1
	fi
}

running=()
for t in "${TARGETS[@]}"; do
	[ -x "$BUILD/fuzz/fuzz_$t" ] || { echo "run.sh: no target fuzz_$t" >&2; exit 2; }
	run_target "$t" &
	pids[$t]=$!
	running+=("$t")
	if [ ${#running[@]} -ge "$PARALLEL" ]; then
		first=${running[0]}
		wait "${pids[$first]}"
		report "$first" $?
		running=("${running[@]:1}")
	fi
done
for t in "${running[@]}"; do
	wait "${pids[$t]}"
	report "$t" $?
done
exit $status
