#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Host side of one MAP_GPA_RANGE, in-process (build/bench/bench_hypercall):
# hypercall_handle() on a VM set up without /dev/kvm, fragmented and
# contiguous calls, with and without the log, one and two vCPU threads.
#   bench/hypercall.sh [--quick] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
json=$root/bench/results/hypercall.json
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) args+=(--quick) ;;
	--json) json=$2; shift ;;
	*) echo "usage: $0 [--quick] [--json FILE]" >&2; exit 2 ;;
	esac
	shift
done
mkdir -p "$(dirname "$json")"
exec "$BUILD/bench/bench_hypercall" "${args[@]}" --json "$json"
