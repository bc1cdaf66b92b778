# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the integration tests (sourced; not a test itself: ctest
# globs *.sh). Environment from ctest: VMM, GUEST, SRC, BUILD.
set -u
: "${VMM:?VMM (the mini-vmm binary) is not set}"
: "${GUEST:?GUEST (guest.elf) is not set}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-it.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
RC=0
MS=0

have_kvm() {
	[ -w /dev/kvm ]
}

# Skip the whole test (ctest SKIP_RETURN_CODE) without a usable /dev/kvm.
need_kvm() {
	have_kvm && return 0
	echo "SKIP: /dev/kvm is missing or not writable"
	exit 77
}

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

pass() {
	echo "ok: $*"
}

# run ARGS...: run the VMM, stdout to $TMP/out, stderr to $TMP/err; sets RC
# and MS (wall time in milliseconds).
run() {
	local t0 t1
	t0=$(date +%s%N)
	"$VMM" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

show_output() {
	echo "  command exit $RC after $MS ms; stdout:"
	sed -n '1,15s/^/    /p' "$TMP/out"
	echo "  stderr:"
	sed -n '1,15s/^/    /p' "$TMP/err"
}

# expect_rc WANT WHAT: check the last run's exit status.
expect_rc() {
	if [ "$RC" -ne "$1" ]; then
		fail "$2: exit status $RC, want $1"
		show_output
		return 1
	fi
	return 0
}

# Every line of a JSON Lines file parses.
json_lines_ok() {
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
