#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Boot one QEMU (TCG, -cpu max: AMD with SVM) VM running Debian's kernel with
# kvm_amd, run every test of a list file inside it and leave the serial log
# in OUTDIR/serial.log for check-result.sh. See tests/nested/README.md.
#
#   run-nested.sh LIST OUTDIR [FILE...]
#
# FILEs (static binaries, guest images, scripts) are copied into /tests in
# the initramfs; the tests run there with /bin/sh.
#
# Exit status: 0 the VM ran the whole list (NESTED-DONE seen; the tests'
# own results are judged by check-result.sh), 1 the harness or the VM
# failed, 77 skipped (no QEMU/busybox/cpio/kmod, or no kernel could be
# fetched) unless MINIVMM_NESTED_REQUIRED=1, which turns skips into failures.
#
# Environment:
#   MINIVMM_NESTED_TIMEOUT       host-side limit for one boot in s (240)
#   MINIVMM_NESTED_ATTEMPTS      boots tried when one hangs (3)
#   MINIVMM_NESTED_TEST_TIMEOUT  limit per test inside the VM in s (300)
#   MINIVMM_NESTED_CACHE         kernel cache (~/.cache/mini-vmm/nested)
#   MINIVMM_NESTED_APPEND        extra kernel command line, e.g. kvm_amd.npt=0
#   MINIVMM_NESTED_QEMU_ARGS     extra QEMU arguments (split on spaces)
#   MINIVMM_NESTED_MODULES       modules to pack, dependencies added
#                                (irqbypass ccp kvm kvm_amd)
#   MINIVMM_NESTED_REQUIRED      1: fail instead of skipping
#   MINIVMM_NESTED_VERBOSE       1: copy the serial console to stdout live
#   QEMU                         QEMU binary (qemu-system-x86_64)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "run-nested: $*" >&2; }
die() { log "$*"; exit 1; }
skip() {
  log "SKIP: $*"
  if [[ ${MINIVMM_NESTED_REQUIRED:-0} == 1 ]]; then
    log "MINIVMM_NESTED_REQUIRED=1: treating the skip as a failure"
    echo "$*" >"$OUT/FAILED"
    exit 1
  fi
  echo "$*" >"$OUT/SKIPPED"
  exit 77
}

[[ $# -ge 2 ]] || { echo "usage: $0 LIST OUTDIR [FILE...]" >&2; exit 2; }
LIST=$1 OUT=$2
shift 2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Never let a stale log from an earlier boot answer for this one.
rm -rf "$OUT/serial.log" "$OUT/SKIPPED" "$OUT/FAILED" "$OUT/initramfs" "$OUT/initramfs.cpio.gz"
[[ -f $LIST ]] || die "no list file $LIST"

TIMEOUT=${MINIVMM_NESTED_TIMEOUT:-240}
TEST_TIMEOUT=${MINIVMM_NESTED_TEST_TIMEOUT:-300}
QEMU=${QEMU:-qemu-system-x86_64}
[[ $TIMEOUT =~ ^[0-9]+$ && $TEST_TIMEOUT =~ ^[0-9]+$ ]] || die "timeouts must be whole seconds"

# ---- the list: NAME EXPECTED_RC COMMAND... ('#' comments, blank lines) ----
declare -A seen=()
ntests=0
while IFS= read -r line || [[ -n $line ]]; do
  line=${line%$'\r'}
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ ! $line =~ ^[[:space:]]*([A-Za-z0-9_.-]+)[[:space:]]+([0-9]+)[[:space:]]+[^[:space:]] ]]; then
    die "$LIST: bad line (want: NAME EXPECTED_RC COMMAND...): $line"
  fi
  name=${BASH_REMATCH[1]}
  [[ -z ${seen[$name]:-} ]] || die "$LIST: duplicate test name $name"
  seen[$name]=1
  ntests=$((ntests + 1))
done <"$LIST"
[[ $ntests -gt 0 ]] || die "$LIST has no tests"

# ---- host tools ----
command -v "$QEMU" >/dev/null || skip "$QEMU not installed (run scripts/install-nested-deps as root)"
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] || skip "busybox not installed (busybox-static; run scripts/install-nested-deps)"
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP; then
  skip "$BUSYBOX is dynamically linked: install busybox-static"
fi
for tool in cpio depmod modinfo gzip; do
  command -v "$tool" >/dev/null || skip "$tool not installed (run scripts/install-nested-deps)"
done

# ---- kernel ----
if ! kinfo=$("$HERE/fetch-kernel.sh" "${MINIVMM_NESTED_CACHE:-}"); then
  skip "could not fetch the kernel (see fetch-kernel messages above)"
fi
KVER=$(sed -n 's/^KVER=//p' <<<"$kinfo")
VMLINUZ=$(sed -n 's/^VMLINUZ=//p' <<<"$kinfo")
MODULES=$(sed -n 's/^MODULES=//p' <<<"$kinfo")
[[ -f $VMLINUZ && -d $MODULES ]] || die "fetch-kernel gave no usable paths: $kinfo"

t0=$EPOCHREALTIME
ROOT=$OUT/initramfs
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,tests}

# ---- busybox with its applets ----
cp "$BUSYBOX" "$ROOT/bin/busybox"
while IFS= read -r applet; do
  [[ -n $applet && $applet != bin/busybox ]] || continue
  mkdir -p "$ROOT/$(dirname "$applet")"
  ln -sf /bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)
[[ -e $ROOT/bin/sh ]] || ln -sf busybox "$ROOT/bin/sh"

# ---- modules: kvm_amd and everything it depends on ----
declare -A modpath=()
while IFS= read -r -d '' ko; do
  base=${ko##*/}
  base=${base%%.ko*}
  modpath[${base//-/_}]=$ko
done < <(find "$MODULES/kernel" -name '*.ko*' -print0)

declare -A want=()
order=() # dependencies first
add_module() {
  local m=${1//-/_} dep deps
  [[ -n ${want[$m]:-} ]] && return 0
  want[$m]=1
  [[ -n ${modpath[$m]:-} ]] || die "module $m not in $MODULES"
  deps=$(modinfo -F depends "${modpath[$m]}")
  for dep in ${deps//,/ }; do
    add_module "$dep"
  done
  order+=("$m")
}
for m in ${MINIVMM_NESTED_MODULES:-irqbypass ccp kvm kvm_amd}; do
  add_module "$m"
done
DEST=$ROOT/lib/modules/$KVER
mkdir -p "$DEST"
for f in modules.order modules.builtin modules.builtin.modinfo; do
  [[ -f $MODULES/$f ]] && cp "$MODULES/$f" "$DEST/"
done
for m in "${order[@]}"; do
  src=${modpath[$m]}
  rel=${src#"$MODULES"/}
  mkdir -p "$DEST/$(dirname "$rel")"
  case $src in
    *.ko) cp "$src" "$DEST/$rel" ;;
    *.ko.xz) xz -dc "$src" >"$DEST/${rel%.xz}" ;;
    *.ko.zst) zstd -qdc "$src" >"$DEST/${rel%.zst}" ;;
    *.ko.gz) gzip -dc "$src" >"$DEST/${rel%.gz}" ;;
    *) die "unknown module format: $src" ;;
  esac
done
depmod -b "$ROOT" "$KVER"
printf '%s\n' "${order[@]}" >"$ROOT/modules.load"

# ---- the tests and their files ----
tr -d '\r' <"$LIST" >"$ROOT/tests.list"
for f in "$@"; do
  [[ -e $f ]] || die "extra file $f does not exist (built yet?)"
  if [[ -f $f ]] && command -v readelf >/dev/null && readelf -l "$f" 2>/dev/null | grep -q INTERP; then
    log "warning: $f is dynamically linked; it will not run in the initramfs"
  fi
  cp -a "$f" "$ROOT/tests/"
done
cat >"$ROOT/nested.conf" <<EOF
TEST_TIMEOUT=$TEST_TIMEOUT
EOF
cp "$HERE/init.sh" "$ROOT/init"
chmod 0755 "$ROOT/init"

INITRD=$OUT/initramfs.cpio.gz
(cd "$ROOT" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$INITRD"
log "initramfs $(du -k "$INITRD" | cut -f1) KiB, modules: ${order[*]}, $ntests tests (packed in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"

# ---- boot ----
APPEND="console=ttyS0 panic=-1 quiet ${MINIVMM_NESTED_APPEND:-}"
QEMU_CMD=("$QEMU" -accel tcg -cpu max -m 1G -smp 2 -nographic -no-reboot
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND")
# shellcheck disable=SC2206 # word splitting of the extra arguments is wanted
QEMU_CMD+=(${MINIVMM_NESTED_QEMU_ARGS:-})
# The whole list normally takes 15-40 s. About one boot in four of the
# TCG-emulated L1 kernel wedges with nested SVM (QEMU stays busy, no more
# console output, the in-VM per-test timeout never fires): such a boot is
# retried, its log kept as serial.log.hungN, and the retry is reported.
ATTEMPTS=${MINIVMM_NESTED_ATTEMPTS:-3}
for attempt in $(seq 1 "$ATTEMPTS"); do
  log "booting, attempt $attempt of $ATTEMPTS (timeout ${TIMEOUT} s): ${QEMU_CMD[*]}"
  t1=$(date +%s)
  set +e
  if [[ ${MINIVMM_NESTED_VERBOSE:-0} == 1 ]]; then
    timeout -k 10 "$TIMEOUT" "${QEMU_CMD[@]}" </dev/null 2>"$OUT/qemu.stderr" | tee "$OUT/serial.log"
    qrc=${PIPESTATUS[0]}
  else
    timeout -k 10 "$TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$OUT/serial.log" 2>"$OUT/qemu.stderr"
    qrc=$?
  fi
  set -e
  [[ $qrc -eq 124 || $qrc -eq 137 ]] || break
  [[ $attempt -lt $ATTEMPTS ]] || break
  cp "$OUT/serial.log" "$OUT/serial.log.hung$attempt"
  log "attempt $attempt: the VM hung after $(grep -c '^NESTED-RESULT' "$OUT/serial.log") result(s) (last: $(grep '^NESTED-RESULT' "$OUT/serial.log" | tail -1)); retrying"
done
secs=$(( $(date +%s) - t1 ))
log "QEMU exited with $qrc after $secs s; serial log $OUT/serial.log"
[[ -s $OUT/qemu.stderr ]] && sed 's/^/run-nested: qemu: /' "$OUT/qemu.stderr" >&2

tr -d '\r' <"$OUT/serial.log" >"$OUT/serial.log.tmp" && mv "$OUT/serial.log.tmp" "$OUT/serial.log"
grep -E '^NESTED-(RESULT|ERROR|INFO)' "$OUT/serial.log" || true
pass=$(grep -c -E '^NESTED-RESULT .* PASS$' "$OUT/serial.log" || true)
fail=$(grep -c -E '^NESTED-RESULT .* FAIL$' "$OUT/serial.log" || true)
echo "nested: $pass passed, $fail failed, $((ntests - pass - fail)) missing of $ntests (boot ${secs} s)"

bad=""
[[ $qrc -eq 124 || $qrc -eq 137 ]] && bad="VM timed out after ${TIMEOUT} s"
grep -q -E 'Kernel panic|end Kernel panic' "$OUT/serial.log" && bad="kernel panic"
grep -q '^NESTED-ERROR' "$OUT/serial.log" && bad="$(grep -m1 '^NESTED-ERROR' "$OUT/serial.log")"
grep -q '^NESTED-DONE' "$OUT/serial.log" || bad="${bad:-no NESTED-DONE in the serial log}"
if [[ -n $bad ]]; then
  log "FAILED: $bad; last 40 lines of the serial log:"
  tail -n 40 "$OUT/serial.log" >&2
  echo "$bad" >"$OUT/FAILED"
  exit 1
fi
exit 0
