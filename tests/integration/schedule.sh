#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Schedules as data (issue 15, docs/schedule.md):
#  1. a recorded v12 seed replays to a byte-identical log (scripts/log-strip),
#     with and without the seed (the seed then only shows in the start
#     event), and its replay records the same schedule;
#  2. recording changes nothing: the seeded log without --schedule-out is
#     the same;
#  3. an edited schedule diverges with exit 2 and names the step; a changed
#     command line or ELF is refused naming the line;
#  4. PCT runs are deterministic per seed and replay from their schedule;
#  5. scripts/race-shrink on a failing v12 seed: at most its preemptions,
#     the same violation kind on the same page run, the same result twice,
#     and the shrunk schedule replays exactly.
. "$(dirname "$0")/common.bash"
need_kvm
: "${SRC:?}"
STRIP=$SRC/scripts/log-strip
V12="scenario=kexec strategy=v12 cycles=2"
BASE=(--sev --check -c 2 --cmdline "$V12")

# 1. record seed 1 (fails under reboot=linux), replay it
run "${BASE[@]}" --sched=serial --seed 1 --log "$TMP/rec.jsonl" --schedule-out "$TMP/rec.sched" "$GUEST"
expect_rc 1 "v12 seed 1, recorded" && pass "v12 seed 1 fails (exit 1) and is recorded"
grep -q '^preempt ' "$TMP/rec.sched" || fail "the recorded schedule holds no preemption"
grep -q '^end ' "$TMP/rec.sched" || fail "the recorded schedule has no end line"
grep -q '"type":"sched"' "$TMP/rec.jsonl" || fail "no sched events in the serial log"
run "${BASE[@]}" --sched=serial --seed 1 --log "$TMP/plain.jsonl" "$GUEST"
cmp -s <("$STRIP" "$TMP/rec.jsonl") <("$STRIP" "$TMP/plain.jsonl") &&
	pass "recording leaves the seeded log as it is" || fail "--schedule-out changed the log"

run "${BASE[@]}" --seed 1 --schedule "$TMP/rec.sched" --log "$TMP/rep.jsonl" \
	--schedule-out "$TMP/rep.sched" "$GUEST"
expect_rc 1 "replay of seed 1" &&
	if cmp -s <("$STRIP" "$TMP/rec.jsonl") <("$STRIP" "$TMP/rep.jsonl"); then
		pass "the replay's log is byte-identical (log-strip)"
	else
		fail "the replay's log differs"
		diff <("$STRIP" "$TMP/rec.jsonl") <("$STRIP" "$TMP/rep.jsonl") | head -5
	fi
cmp -s <(grep -v '^strategy ' "$TMP/rec.sched") <(grep -v '^strategy ' "$TMP/rep.sched") &&
	pass "the replay records the same schedule" || fail "the replay recorded another schedule"
# No seed at all: the decisions come from the file; only start.seed differs.
run "${BASE[@]}" --schedule "$TMP/rec.sched" --log "$TMP/noseed.jsonl" "$GUEST"
expect_rc 1 "replay without a seed" &&
	if cmp -s <("$STRIP" "$TMP/rec.jsonl" | tail -n +2) <("$STRIP" "$TMP/noseed.jsonl" | tail -n +2); then
		pass "replayed without --seed: the same log after the start event"
	else
		fail "replay without --seed differs"
	fi

# 3. edits: drop the third preemption; change the command line; the ELF.
# Without it the vCPU keeps running: the run differs from the file at the
# next decision line at the latest, and the message names that step.
line=$(grep -n '^preempt ' "$TMP/rec.sched" | sed -n 3p)
step=$(echo "$line" | cut -d' ' -f2)
next=$(sed -n "$((${line%%:*} + 1)),\$p" "$TMP/rec.sched" | grep -m1 -E '^(preempt|stay|switch|inject|irq) ' | cut -d' ' -f2)
sed "${line%%:*}d" "$TMP/rec.sched" >"$TMP/edit.sched"
run "${BASE[@]}" --schedule "$TMP/edit.sched" "$GUEST"
got=$(sed -n 's/.*diverged at step \([0-9]*\):.*/\1/p' "$TMP/err")
expect_rc 2 "schedule without line ${line%%:*}" &&
	if [ -n "$got" ] && [ "$got" -ge "$step" ] && [ "$got" -le "$next" ]; then
		pass "dropping step $step's preemption diverges at step $got: $(tail -1 "$TMP/err" | cut -c1-100)..."
	else
		fail "the divergence message names no step in [$step, $next]: $(tail -1 "$TMP/err")"
	fi
run "${BASE[@]}" --schedule-lenient --schedule "$TMP/edit.sched" "$GUEST"
[ "$RC" -eq 0 ] || [ "$RC" -eq 1 ] && pass "--schedule-lenient runs it through (exit $RC)" ||
	fail "lenient replay exit $RC"
sed 's/^cmdline .*/& cycles=3/' "$TMP/rec.sched" >"$TMP/cmd.sched"
run "${BASE[@]}" --schedule "$TMP/cmd.sched" "$GUEST"
expect_rc 2 "schedule of another command line" && grep -q "line [0-9]*: recorded 'cmdline" "$TMP/err" &&
	pass "another command line is refused" || fail "command line change: $(cat "$TMP/err")"
cp "$GUEST" "$TMP/other.elf"
printf 'x' >>"$TMP/other.elf"
run --sev --check -c 2 --cmdline "$V12" --schedule "$TMP/rec.sched" "$TMP/other.elf"
expect_rc 2 "schedule of another ELF" && grep -q "recorded 'elf-sha256" "$TMP/err" &&
	pass "another ELF is refused by its SHA-256" || fail "ELF change: $(cat "$TMP/err")"

# 4. PCT: deterministic per seed, replays from its schedule
for seed in 4 5; do
	run "${BASE[@]}" --sched=pct --depth 2 --seed $seed --log "$TMP/p1.jsonl" --schedule-out "$TMP/p.sched" "$GUEST"
	rc1=$RC
	run "${BASE[@]}" --sched=pct --depth 2 --seed $seed --log "$TMP/p2.jsonl" "$GUEST"
	[ "$rc1" = "$RC" ] && cmp -s <("$STRIP" "$TMP/p1.jsonl") <("$STRIP" "$TMP/p2.jsonl") &&
		pass "pct depth 2 seed $seed: the same log twice (exit $RC)" || fail "pct seed $seed is not deterministic"
	run "${BASE[@]}" --seed $seed --schedule "$TMP/p.sched" --log "$TMP/p3.jsonl" "$GUEST"
	[ "$rc1" = "$RC" ] && cmp -s <("$STRIP" "$TMP/p1.jsonl") <("$STRIP" "$TMP/p3.jsonl") &&
		pass "pct seed $seed replays from its schedule" || fail "pct seed $seed: replay exit $RC, log differs"
done
# The depth at which PCT finds the v12 race (docs/schedule.md): depth 1,
# seed 4 already (priorities alone, the device's draws and YIELDs).
run "${BASE[@]}" --sched=pct --depth 1 --seed 4 "$GUEST"
expect_rc 1 "pct depth 1 seed 4 on v12" && pass "PCT finds the v12 race at depth 1 (seed 4)"
run --sev --check -c 2 --cmdline "scenario=kexec strategy=upstream cycles=2" --sched=pct --depth 3 --seed 4 "$GUEST"
expect_rc 0 "pct depth 3 seed 4 on upstream" && pass "upstream passes under PCT"

# 5. race-shrink
shrink() {
	"$SRC/scripts/race-shrink" --vmm "$VMM" --out "$TMP/shrunk$1.sched" --inevitable 4 \
		"${BASE[@]}" --sched=serial --seed 1 "$GUEST" >"$TMP/shrink$1.out" 2>"$TMP/shrink$1.err"
}
shrink 1
rc=$?
last=$(tail -1 "$TMP/shrink1.out")
if [ $rc -ne 0 ]; then
	fail "race-shrink exit $rc: $(cat "$TMP/shrink1.err")"
elif [[ $last =~ ^shrunk:\ ([0-9]+)\ -\>\ ([0-9]+)\ preemptions,\ fails:\ ([a-z_]+)\ at\ \[(0x[0-9a-f]+),\ (0x[0-9a-f]+)\)$ ]]; then
	m=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
	want=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "check" and not e["pass"]:
        v = e["violations"][0]; print(v["kind"], v["start"], v["end"]); break' "$TMP/rec.jsonl")
	got="${BASH_REMATCH[3]} ${BASH_REMATCH[4]} ${BASH_REMATCH[5]}"
	[ "$m" = "$(grep -c '^preempt ' "$TMP/rec.sched")" ] || fail "race-shrink counts $m preemptions, the schedule has others"
	[ "$n" -le "$m" ] && pass "shrunk $m -> $n preemptions" || fail "shrunk to more: $m -> $n"
	[ "$got" = "$want" ] && pass "the same failure: $got" || fail "failure $got, the seed's is $want"
	[ "$n" = "$(grep -c '^preempt ' "$TMP/shrunk1.sched")" ] || fail "the shrunk file holds other than $n preemptions"
	grep -q '^ seq  vCPU 0 .*| vCPU 1' "$TMP/shrink1.out" || fail "no two-column timeline"
	grep -q '^provenance: ' "$TMP/shrink1.out" || fail "no provenance line"
	grep -q '^inevitable from step ' "$TMP/shrink1.out" || fail "no inevitability line"
else
	fail "race-shrink's last line: '$last'"
fi
shrink 2
cmp -s "$TMP/shrunk1.sched" "$TMP/shrunk2.sched" &&
	cmp -s <(grep -v '^shrunk schedule' "$TMP/shrink1.out") <(grep -v '^shrunk schedule' "$TMP/shrink2.out") &&
	pass "race-shrink gives the same result twice" || fail "race-shrink is not deterministic"
run "${BASE[@]}" --schedule "$TMP/shrunk1.sched" --log "$TMP/sh.jsonl" "$GUEST"
expect_rc 1 "replay of the shrunk schedule" && pass "the shrunk schedule replays (exit 1)"

# 6. The nested list's replay entry (tests/nested/tests.list replay_*): its
# script records, replays and compares here as it does in the kvm_amd VM.
entry=$(grep '^replay_v12_seed1 ' "$SRC/tests/nested/tests.list")
if [ -z "$entry" ]; then
	fail "tests/nested/tests.list has no replay_v12_seed1 entry"
else
	eval "set -- ${entry#*sched-replay.sh}"
	want=$(echo "$entry" | awk '{print $2}')
	VMM=$VMM GUEST=$GUEST sh "$SRC/tests/nested/sched-replay.sh" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	expect_rc "$want" "replay_v12_seed1 here" && grep -q "^sched-log-sha256 [0-9a-f]\{64\}$" "$TMP/out" &&
		pass "the nested list's replay entry: replay = recording here, $(head -1 "$TMP/out")"
fi
finish
