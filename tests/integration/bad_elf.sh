#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unusable guest images are usage errors (exit 2) with one line on stderr
# that names the file. The ELF is checked before /dev/kvm is opened, so
# this test runs without KVM too.
. "$(dirname "$0")/common.bash"

# check_bad FILE WHAT [WORD]: exit 2, one stderr line naming FILE (and WORD).
check_bad() {
	local file=$1 what=$2 word=${3:-}
	local lines

	run "$file"
	expect_rc 2 "$what" || return
	lines=$(wc -l <"$TMP/err")
	if [ "$lines" -ne 1 ]; then
		fail "$what: $lines lines on stderr, want 1"
		show_output
	elif ! grep -qF -- "$file" "$TMP/err"; then
		fail "$what: message does not name $file: $(cat "$TMP/err")"
	elif [ -n "$word" ] && ! grep -qiF -- "$word" "$TMP/err"; then
		fail "$what: message does not say '$word': $(cat "$TMP/err")"
	else
		pass "$what: $(cat "$TMP/err")"
	fi
	[ -s "$TMP/out" ] && fail "$what: unexpected stdout: $(head -c 200 "$TMP/out")"
}

printf 'this is not an ELF file\n' >"$TMP/text.elf"
check_bad "$TMP/text.elf" "non-ELF file" "not an ELF"

: >"$TMP/empty.elf"
check_bad "$TMP/empty.elf" "empty file" "not an ELF"

head -c 100 "$GUEST" >"$TMP/trunc100.elf"
check_bad "$TMP/trunc100.elf" "ELF cut at 100 bytes" "program headers"

head -c 40 "$GUEST" >"$TMP/trunc40.elf"
check_bad "$TMP/trunc40.elf" "ELF cut inside its header" "truncated"

check_bad "$TMP/does-not-exist.elf" "missing file" "No such file"

check_bad "$TMP" "a directory" "directory"

# A minimal, otherwise valid ELF32 i386 executable: header + one PT_LOAD.
python3 - "$TMP/elf32.elf" <<'PY'
import struct, sys
ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)          # ELFCLASS32, LSB, v1
ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1,       # ET_EXEC, EM_386
                           0x100000, 52, 0, 0, 52, 32, 1, 0, 0, 0)
phdr = struct.pack("<IIIIIIII", 1, 0x1000, 0x100000, 0x100000, 16, 16, 5, 0x1000)
open(sys.argv[1], "wb").write((ehdr + phdr).ljust(0x1000, b"\0") + b"\xf4" * 16)
PY
check_bad "$TMP/elf32.elf" "ELF32 image" "ELFCLASS64"

# The real guest with e_machine patched to EM_AARCH64 (183).
cp "$GUEST" "$TMP/arm.elf"
printf '\xb7\x00' | dd of="$TMP/arm.elf" bs=1 seek=18 conv=notrunc status=none
check_bad "$TMP/arm.elf" "wrong e_machine" "EM_X86_64"

# A shared object instead of an executable (e_type ET_DYN).
cp "$GUEST" "$TMP/dyn.elf"
printf '\x03\x00' | dd of="$TMP/dyn.elf" bs=1 seek=16 conv=notrunc status=none
check_bad "$TMP/dyn.elf" "ET_DYN image" "ET_EXEC"
finish
