#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The software PSP per 4 KiB page against OpenSSL's own primitives
# (build/bench/bench_psp; see the comment at the top of bench_psp.c).
#   bench/psp.sh [--quick] [--json FILE]
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
args=()
bench_quick() { args+=(--quick); }
bench_init "[--quick] [--json FILE]" "$@"
exec "$BUILD/bench/bench_psp" "${args[@]}" --json "$json"
