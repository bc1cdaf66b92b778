#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The software PSP per 4 KiB page against OpenSSL's own primitives
# (build/bench/bench_psp; see the comment at the top of bench_psp.c).
#   bench/psp.sh [--quick] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BUILD:-$root/build}/bench/bench_psp
args=()
json=$root/bench/results/psp.json
while [ $# -gt 0 ]; do
	case $1 in
	--quick) args+=(--quick) ;;
	--json) json=$2; shift ;;
	*) echo "usage: $0 [--quick] [--json FILE]" >&2; exit 2 ;;
	esac
	shift
done
mkdir -p "$(dirname "$json")"
exec "$BIN" "${args[@]}" --json "$json"
