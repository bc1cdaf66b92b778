#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Regenerate the nested list's committed schedule and its log after a guest
# change (docs/schedule.md, Limits):  tests/nested/regen-schedule.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build}
V12='scenario=kexec strategy=v12 cycles=2'
scripts/race-shrink --vmm "$B/mini-vmm" --out tests/nested/v12-seed1.sched --sev --check -c 2 \
	--sched=serial --seed 1 --cmdline "$V12" "$B/guest-stub/guest.elf"
cd tests/nested
SCHED_REPLAY_WRITE=1 VMM=../../$B/mini-vmm GUEST=../../$B/guest-stub/guest.elf \
	sh ./sched-replay.sh v12-seed1.sched v12-seed1.log --sev --check -c 2 --cmdline "$V12" >/dev/null 2>&1 || [ $? -eq 1 ]
