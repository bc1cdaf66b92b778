#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A guest spinning without exits is stopped by --timeout: exit 124 soon
# after the deadline, with a message.
. "$(dirname "$0")/common.bash"
need_kvm

run --cmdline scenario=spin --timeout 1 "$GUEST"
expect_rc 124 "scenario=spin --timeout 1" && pass "spin exits 124"
if [ "$MS" -lt 900 ] || [ "$MS" -gt 3000 ]; then
	fail "spin --timeout 1 took $MS ms, want about 1 s (at most 3 s)"
else
	pass "stopped after $MS ms"
fi
grep -q "timeout" "$TMP/err" || {
	fail "stderr does not mention the timeout"
	show_output
}
finish
