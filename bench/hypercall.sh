#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Host side of one MAP_GPA_RANGE, in-process (build/bench/bench_hypercall):
# hypercall_handle() on a VM set up without /dev/kvm, fragmented and
# contiguous calls, with and without the log, one and two vCPU threads.
#   bench/hypercall.sh [--quick] [--json FILE]
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
args=()
bench_quick() { args+=(--quick); }
bench_init "[--quick] [--json FILE]" "$@"
exec "$BUILD/bench/bench_hypercall" "${args[@]}" --json "$json"
