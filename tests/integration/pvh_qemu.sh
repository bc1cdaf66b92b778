#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# guest.elf also boots through its Xen PVH entry (guest-stub/pvh.S): QEMU
# -kernel finds XEN_ELFNOTE_PHYS32_ENTRY, enters pvh_start32 in 32-bit
# protected mode, the guest builds its own long-mode map and runs
# scenario=hello. Without mini-vmm's params module the console goes byte by
# byte to port 0xE9 (QEMU's debugcon) and the DONE ucall (port 0xEA) is
# ignored, so the guest halts forever: wait for the hello line, then kill
# QEMU. TCG only (no /dev/kvm needed); skips without qemu-system-x86_64.
. "$(dirname "$0")/common.bash"

QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "SKIP: $QEMU is not installed"
	exit 77
fi
HELLO="hello from mini-vmm guest"

# The note: type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY), owner Xen, in a PT_NOTE.
if command -v readelf >/dev/null 2>&1; then
	if readelf -nW "$GUEST" | grep -Eq 'Xen +0x00000004.*(0x00000012|PHYS32_ENTRY)'; then
		pass "ELF note XEN_ELFNOTE_PHYS32_ENTRY present"
	else
		fail "no Xen PHYS32_ENTRY note in $GUEST"
		readelf -nW "$GUEST" | sed 's/^/    /'
	fi
	readelf -lW "$GUEST" | grep -q '^ *NOTE ' || fail "no PT_NOTE program header"
fi

CON="$TMP/debugcon.txt"
t0=$(date +%s%N)
"$QEMU" -accel tcg -kernel "$GUEST" -append scenario=hello -nographic -no-reboot -m 256M \
	-debugcon "file:$CON" -device isa-debug-exit </dev/null >"$TMP/qemu.out" 2>"$TMP/qemu.err" &
QPID=$!
got=0
# Up to 60 s, 0.1 s a step.
for _ in $(seq 1 600); do
	# The whole line: debugcon is written a byte at a time.
	if [ -f "$CON" ] && grep -qF "$HELLO" "$CON" && [ -z "$(tail -c1 "$CON")" ]; then
		got=1
		break
	fi
	kill -0 "$QPID" 2>/dev/null || break
	sleep 0.1
done
MS=$((($(date +%s%N) - t0) / 1000000))
if kill -0 "$QPID" 2>/dev/null; then
	kill "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	QRC=running
else
	wait "$QPID" 2>/dev/null
	QRC=$?
fi

if [ "$got" -eq 1 ]; then
	pass "QEMU TCG booted guest.elf via PVH: hello line after $MS ms"
else
	fail "no '$HELLO' line in QEMU's debugcon after $MS ms (QEMU: $QRC)"
fi
for s in "cmdline 'scenario=hello'" "memmap (" ") RAM" ") reserved" "modules: 0" "$HELLO: page tables at 0x"; do
	grep -qF "$s" "$CON" 2>/dev/null || fail "debugcon lacks '$s'"
done
if [ "$FAILS" -ne 0 ]; then
	echo "  debugcon:"
	sed -n '1,30s/^/    /p' "$CON" 2>/dev/null
	echo "  QEMU stderr:"
	sed -n '1,15s/^/    /p' "$TMP/qemu.err"
else
	sed -n '/^mini-vmm guest:/,$s/^/    /p' "$CON"
fi
finish
