#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The mission's command (issue 11 item 7): `mini-vmm --sev GUEST.ELF` with
# no other option shares pages, kexecs once (strategy upstream), prints the
# shared runs and the verdict at every checked reset, and exits 0 because
# every check passed. The printed runs are the log's. --no-check runs no
# check; a --cmdline replaces the story entirely.
. "$(dirname "$0")/common.bash"
need_kvm

# The command itself, nothing else.
run --sev "$GUEST"
if expect_rc 0 "mini-vmm --sev guest.elf"; then
	for s in "kexec: generation 1, strategy upstream, 1 cycle(s) left" \
		"mini-vmm: generation 1 ready: reset check pass, truth check pass; shared runs (" \
		"mini-vmm: generation 2 ready: reset check pass, truth check pass; shared runs (" \
		"  [0xa0000, 0xc1000) 33 page(s) firmware" "kexec: done after generation 2"; do
		grep -qF -- "$s" "$TMP/out" || fail "mini-vmm --sev: stdout lacks '$s'"
	done
	grep -q "all [1-9][0-9]* bitmap checks passed" "$TMP/err" ||
		fail "mini-vmm --sev: no final verdict on stderr"
	[ "$FAILS" -eq 0 ] && pass "mini-vmm --sev guest.elf: kexec, checked bitmaps, exit 0"
	[ "$FAILS" -eq 0 ] || show_output
fi

# story_log LOG OUT WANT_CHECKS: the log's view of the same run. WANT_CHECKS
# 1: every reset/READY checked and passed, 0: no check at all.
story_log() {
	python3 - "$@" <<'PY'
import json, re, sys

log, out, want = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3] == "1"
ev = [json.loads(l) for l in open(log)]
bad = []
start = ev[0]
# The story's words (more may join it: reboot=linux).
if not {"scenario=kexec", "strategy=upstream", "cycles=1"} <= set(start["cmdline"].split()):
    bad.append(f"start cmdline {start['cmdline']!r}")
if start["sev"] is not True or start["check"] is not want:
    bad.append(f"start sev {start['sev']} check {start['check']}")
x = [e for e in ev if e["type"] == "exit"][0]
if x["status"] != 0:
    bad.append(f"exit status {x['status']}")
if want and (x["checks_run"] < 4 or x["checks_failed"]):
    bad.append(f"checks_run {x['checks_run']} checks_failed {x['checks_failed']}")
if not want and x["checks_run"] != 0:
    bad.append(f"--no-check: checks_run {x['checks_run']}")
checks = [e for e in ev if e["type"] == "check"]
if want and not all(c["pass"] for c in checks):
    bad.append("a check failed")
if not want and checks:
    bad.append(f"--no-check: {len(checks)} check events")
if not [e for e in ev if e["type"] == "sync" and e["tag"] == "kexec_begin"]:
    bad.append("no kexec_begin")
# Every printed point is a READY sync of the log, with the same runs.
ready = [e for e in ev if e["type"] == "sync" and e["tag"] == "ready"]
blocks = re.findall(r"^mini-vmm: generation (\d+) ready: (.*); shared runs \((\d+) pages\):\n"
                    r"((?:  \[.*\n)*)", out, re.M)
if [int(b[0]) for b in blocks] != [e["gen"] for e in ready] or len(blocks) != 2:
    bad.append(f"printed generations {[b[0] for b in blocks]}, log READY "
               f"{[e['gen'] for e in ready]}")
for b, e in zip(blocks, ready):
    verdict = "reset check pass, truth check pass" if want else "not checked (--no-check)"
    if b[1] != verdict:
        bad.append(f"generation {b[0]}: verdict {b[1]!r}, want {verdict!r}")
    if int(b[2]) != e["shared_pages"]:
        bad.append(f"generation {b[0]}: {b[2]} pages printed, log {e['shared_pages']}")
    printed = re.findall(r"^  \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) ", b[3], re.M)
    logged = [(r["start"], r["end"]) for r in e["runs"]]
    if printed != logged:
        bad.append(f"generation {b[0]}: printed runs {printed} != log {logged}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
}

run --sev --log "$TMP/story.jsonl" "$GUEST"
if expect_rc 0 "--sev --log"; then
	if story_log "$TMP/story.jsonl" "$TMP/out" 1; then
		pass "--sev: the printed runs and verdicts are the log's; every check passed"
	else
		fail "--sev: log and output disagree (above)"
	fi
fi

# --check is accepted and changes nothing.
run --sev --check "$GUEST"
expect_rc 0 "--sev --check" && grep -qF "truth check pass" "$TMP/out" &&
	pass "--sev --check: same story"

run --sev --no-check --log "$TMP/nocheck.jsonl" "$GUEST"
if expect_rc 0 "--sev --no-check"; then
	if story_log "$TMP/nocheck.jsonl" "$TMP/out" 0; then
		pass "--sev --no-check: checks_run 0, runs still printed"
	else
		fail "--sev --no-check: (above)"
	fi
fi

# --log -: the log alone on stdout, the story with the console on stderr.
run --sev --log - "$GUEST"
if expect_rc 0 "--sev --log -"; then
	if ! json_lines_ok "$TMP/out" || ! grep -q "^mini-vmm: generation 2 ready" "$TMP/err"; then
		fail "--sev --log -: want JSON on stdout and the story on stderr"
		show_output
	else
		pass "--sev --log -: story on stderr"
	fi
fi

# A --cmdline replaces the story entirely.
run --sev --cmdline scenario=sev "$GUEST"
if expect_rc 0 "--sev --cmdline scenario=sev"; then
	if grep -qE "^mini-vmm: generation|^kexec:" "$TMP/out"; then
		fail "--cmdline scenario=sev: the default story ran"
		show_output
	else
		pass "--cmdline replaces the story"
	fi
fi
finish
