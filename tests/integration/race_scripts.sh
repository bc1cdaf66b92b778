#!/usr/bin/env bash
# scripts/race-hunt and scripts/plot-log end to end: 10 seeds of v12 and
# upstream (2 cpus, serial), upstream must never fail and v12 must fail at
# least once; v12's first failing seed must replay to the identical log
# (minus timing fields); both plots must come out non-empty.
# Env from ctest: VMM, GUEST, SRC, BUILD.  Exit 77 = skipped.
set -u

[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not writable"; exit 77; }
: "${VMM:?}" "${GUEST:?}" "${SRC:?}" "${BUILD:?}"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

out=$BUILD/race-test
rm -rf "$out"
mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }

"$SRC/scripts/race-hunt" --runs 10 --strategies v12,upstream --cycles 2 \
    --vmm "$VMM" --guest "$GUEST" --csv "$out/race.csv" >"$out/table.txt" \
    2>"$out/progress.txt"
rc=$?
cat "$out/table.txt"
[ $rc -eq 0 ] || fail "race-hunt exited $rc"
[ -s "$out/table.txt" ] || fail "no table"
[ -s "$out/race.csv" ] || fail "no CSV"
grep -q '^strategy  *runs  *failures  *errors' "$out/table.txt" ||
    fail "table header missing"

# strategy,runs,failures,errors,failure_rate,ci95_low,ci95_high,first_failing_seed,median_ms
field() { # strategy column-name
    python3 - "$out/race.csv" "$1" "$2" <<'EOF'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["strategy"] == sys.argv[2]:
        print(r[sys.argv[3]])
EOF
}
[ "$(field upstream runs)" = 10 ] || fail "upstream: runs != 10"
[ "$(field v12 runs)" = 10 ] || fail "v12: runs != 10"
[ "$(field upstream failures)" = 0 ] || fail "upstream failed $(field upstream failures) of 10"
[ "$(field upstream errors)" = 0 ] || fail "upstream errors"
[ "$(field v12 errors)" = 0 ] || fail "v12 errors"
vf=$(field v12 failures)
[ "${vf:-0}" -ge 1 ] || fail "v12 never failed in 10 seeds"
seed=$(field v12 first_failing_seed)
[ -n "$seed" ] || fail "no first failing seed for v12"
grep -q -- "--seed $seed .*strategy=v12" "$out/table.txt" ||
    fail "no replay command for v12 seed $seed"

# replay the first failing seed: must fail again with the same log
kept=$out/logs/v12-seed$seed.jsonl
[ -s "$kept" ] || fail "kept log $kept missing"
replay=$out/replay.jsonl
"$VMM" --sev --check -c 2 --sched=serial --seed "$seed" --timeout 60 \
    --log "$replay" --cmdline 'scenario=kexec strategy=v12 cycles=2' \
    "$(cd "$(dirname "$GUEST")" && pwd)/$(basename "$GUEST")" \
    >/dev/null 2>"$out/replay.err"
rc=$?
[ $rc -eq 1 ] || fail "replay of v12 seed $seed exited $rc, expected 1"
if ! diff <("$SRC/scripts/log-strip" "$kept") <("$SRC/scripts/log-strip" "$replay") \
    >"$out/replay.diff"; then
    head -4 "$out/replay.diff"
    fail "replayed log differs"
fi
echo "replay identical: $(wc -l <"$kept") events"

# plots (skip this part only if gnuplot is missing)
if command -v gnuplot >/dev/null; then
    "$SRC/scripts/plot-log" "$replay" "$out/bitmap.png" \
        --csv "$out/race.csv" "$out/rates.png" || fail "plot-log failed"
    [ -s "$out/bitmap.png" ] || fail "bitmap.png empty"
    [ -s "$out/rates.png" ] || fail "rates.png empty"
    head -c 8 "$out/bitmap.png" | grep -q PNG || fail "bitmap.png not a PNG"
else
    echo "note: gnuplot not installed, plots not checked"
fi
echo "PASS"
