#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A guest #GP without an IDT is a triple fault: exit 3, and the message
# names the exception vector (KVM_GET_VCPU_EVENTS, docs/PVM.md).
. "$(dirname "$0")/common.bash"
need_kvm

run --cmdline scenario=fault "$GUEST"
expect_rc 3 "scenario=fault" && pass "scenario=fault exits 3"
if grep -q "vector 13" "$TMP/err"; then
	pass "stderr names vector 13"
else
	fail "stderr does not name 'vector 13'"
	show_output
fi
grep -q "triple fault" "$TMP/err" || fail "stderr does not say 'triple fault'"
grep -q "faulting on purpose" "$TMP/out" || fail "console output before the fault was lost"
[ "$MS" -lt 5000 ] || fail "scenario=fault took $MS ms"
finish
