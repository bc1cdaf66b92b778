#!/usr/bin/env bash
# Self-kexec, reboot=offline (the idealised model: each CPU runs its
# strategy hook as it leaves its work, the boot CPU does no device work):
# every strategy on 1 vCPU for 50 cycles passes the checks, except none,
# which must fail and name the stale pages of the previous generation. The
# truth audit catches a guest lying in either direction. reboot=linux has
# its own tests (reboot_linux.sh).
set -u
[ -w /dev/kvm ] || exit 77
fail=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT

for s in v12 every-cpu last-cpu msr-off mute generation upstream stop-unshare; do
	extra=()
	[ "$s" = generation ] && extra=(--gen-filter)
	"$VMM" --sev --check "${extra[@]}" --cmdline "scenario=kexec strategy=$s reboot=offline cycles=50" \
		"$GUEST" >/dev/null 2>"$err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: strategy $s on 1 vCPU exited $rc"
		head -5 "$err"
		fail=1
	fi
done

"$VMM" --sev --check --cmdline "scenario=kexec strategy=none reboot=offline cycles=50" "$GUEST" >/dev/null 2>"$err"
rc=$?
if [ $rc -ne 1 ]; then
	echo "FAIL: strategy none exited $rc, want 1"
	fail=1
fi
if ! grep -q "stale_shared .*shared by vCPU 0 in generation 1 at event #" "$err"; then
	echo "FAIL: strategy none: report does not name the stale pages with provenance"
	head -5 "$err"
	fail=1
fi

for f in silent-share:host_private_guest_shared unmapped-share:host_shared_guest_private; do
	"$VMM" --sev --check --cmdline "scenario=sev fault=${f%%:*}" "$GUEST" >/dev/null 2>"$err"
	rc=$?
	if [ $rc -ne 1 ] || ! grep -q "${f#*:}" "$err"; then
		echo "FAIL: truth audit did not catch fault ${f%%:*} (rc $rc)"
		cat "$err"
		fail=1
	fi
done

# Same seed, same log (minus time fields), same verdict, in serial mode.
d=$(mktemp -d)
for r in a b; do
	"$VMM" --sev --check -c 2 --sched=serial --seed 7 --log "$d/$r.jsonl" \
		--cmdline "scenario=kexec strategy=v12 reboot=offline cycles=20" "$GUEST" >/dev/null 2>&1
	echo $? >"$d/$r.rc"
done
if ! cmp -s <("$SRC/scripts/log-strip" "$d/a.jsonl") <("$SRC/scripts/log-strip" "$d/b.jsonl") || ! cmp -s "$d/a.rc" "$d/b.rc"; then
	echo "FAIL: --sched=serial --seed 7 is not deterministic"
	diff <("$SRC/scripts/log-strip" "$d/a.jsonl") <("$SRC/scripts/log-strip" "$d/b.jsonl") | head -5
	fail=1
fi
lines=$(wc -l <"$d/a.jsonl")
if [ "$lines" -lt 300 ]; then
	echo "FAIL: determinism run too short ($lines events)"
	fail=1
fi
rm -rf "$d"
exit $fail
