#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Judge one test of the nested harness from the serial log run-nested.sh left:
#   check-result.sh OUTDIR NAME
# 0 its NESTED-RESULT line says PASS; 1 it says FAIL, the line is missing,
# the VM panicked or never printed NESTED-DONE (then the last 40 lines of the
# log are printed); 77 the boot was skipped (no QEMU or no kernel).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 OUTDIR NAME" >&2; exit 2; }
OUT=$1 NAME=$2
LOG=$OUT/serial.log

if [[ -f $OUT/SKIPPED ]]; then
  echo "nested.$NAME: skipped: $(cat "$OUT/SKIPPED")"
  exit 77
fi
tail_log() {
  echo "---- last 40 lines of $LOG ----"
  tail -n 40 "$LOG"
}
if [[ ! -f $LOG ]]; then
  echo "nested.$NAME: FAIL: no serial log $LOG (did nested.boot run?)"
  exit 1
fi

# The test's own output, whatever happens below.
grep -F "[$NAME] " "$LOG" || true
result=$(awk -v n="$NAME" '$1 == "NESTED-RESULT" && $2 == n' "$LOG")

bad=""
if grep -q 'Kernel panic' "$LOG"; then
  bad="kernel panic in the VM"
elif ! grep -q '^NESTED-DONE' "$LOG"; then
  bad="the VM never printed NESTED-DONE (crash, hang or timeout)"
fi
if [[ -n $bad ]]; then
  echo "nested.$NAME: FAIL: $bad${result:+ (own result: $result)}"
  tail_log
  exit 1
fi
if [[ -z $result ]]; then
  echo "nested.$NAME: FAIL: no NESTED-RESULT line for $NAME"
  grep -E '^NESTED-(ERROR|INFO)' "$LOG" || true
  exit 1
fi
if [[ $(wc -l <<<"$result") -ne 1 ]]; then
  echo "nested.$NAME: FAIL: more than one NESTED-RESULT line for $NAME"
  exit 1
fi
read -r _ name rc expected verdict extra <<<"$result"
echo "$result"
if [[ $name != "$NAME" || -n $extra || ! $rc =~ ^[0-9]+$ || ! $expected =~ ^[0-9]+$ ]]; then
  echo "nested.$NAME: FAIL: malformed result line"
  exit 1
fi
if [[ $verdict == PASS && $rc == "$expected" ]]; then
  exit 0
fi
echo "nested.$NAME: FAIL: exit status $rc, expected $expected"
exit 1
