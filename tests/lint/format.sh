#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every C source and header is as clang-format (.clang-format) writes it.
set -u
root=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v clang-format >/dev/null || { echo "SKIP: no clang-format"; exit 77; }
cd "$root" || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find vmm guest-stub include tests bench fuzz -name '*.[ch]')
# shellcheck disable=SC2086
if ! out=$(clang-format --dry-run --Werror $files 2>&1); then
	echo "$out" | grep -E '^[^ ].*error' | sed 's/: error.*//' | sort -u | sed 's/^/not formatted: /'
	exit 1
fi
echo "$(echo "$files" | wc -w) files formatted"
