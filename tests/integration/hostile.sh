#!/usr/bin/env bash
# Hostile guests (issue 8): every scenario=hostile-NAME ends in its
# documented verdict (README "Hostile guests"), quickly, never a hang.
set -u
[ -w /dev/kvm ] || exit 77
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# name  cpus  extra-options  want-status  want-text
expect() {
	local name=$1 cpus=$2 extra=$3 want=$4 text=$5 rc t0 ms
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	timeout 60 "$VMM" --sev -c "$cpus" --timeout 20 $extra --cmdline "scenario=hostile-$name" \
		"$GUEST" >"$out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $rc -ne "$want" ] || ! grep -q -- "$text" "$out"; then
		echo "FAIL: hostile-$name: exit $rc (want $want), output:"
		tail -3 "$out"
		fail=1
	else
		echo "ok: hostile-$name -> $rc in $ms ms ($text)"
	fi
}

expect ucall-outside 1 "" 3 "bad ucall pointer"
expect ucall-straddle 1 "" 3 "bad ucall pointer"
expect ucall-unaligned 1 "" 3 "misaligned or malformed"
expect ucall-vmm 1 "" 3 "reserved region"
expect ucall-badcmd 1 "" 3 "malformed struct ucall"
# The ABI in shared pages: a ucall struct or string in a private page is
# ciphertext to the host, refused and named; without SEV the same struct is
# an ordinary DONE.
expect ucall-private 1 "" 3 "maps private: the host sees only ciphertext there"
expect ucall-private-string 1 "" 3 "private page: the host sees only ciphertext"
timeout 60 "$VMM" --timeout 20 --cmdline scenario=hostile-ucall-private "$GUEST" >"$out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: hostile-ucall-private without --sev: exit $rc (want 0)"
	tail -3 "$out"
	fail=1
else
	echo "ok: hostile-ucall-private without --sev -> 0 (no encryption, plain DONE)"
fi
expect hypercall 1 "" 0 "cases as documented"
expect hypercall 1 "-m 5G" 0 "cases as documented"
expect msr-values 1 "" 0 "read back"
# Lying memory-check reports: logged as refused or with no runs, the run goes on.
expect verify 1 "--log /dev/stdout" 0 '"type":"migration_verify".*"error":"the report has too many runs"'
expect verify 1 "--log /dev/stdout" 0 '"type":"migration_verify".*"corrupted":3,"truncated":false,"runs":\[\]'
expect msr-reserved 1 "" 3 "vector 13"
expect msr-unknown 1 "" 3 "vector 13"
expect msr-sev-write 1 "" 3 "vector 13"
expect ap-fault 2 "" 3 "vCPU 1: triple fault"
expect cpu-on 2 "" 0 "refusals as documented"
expect noyield 2 "--sched=serial" 3 "must YIELD"
# vmcall: on kvm_pvm (native) the instruction returns -1 without an exit;
# where it spins inside KVM_RUN the VMM reports it (exit 3); on hardware
# KVM it is a normal KVM_EXIT_HYPERCALL. Never a timeout.
timeout 60 "$VMM" --sev --timeout 20 --cmdline scenario=hostile-vmcall "$GUEST" >"$out" 2>&1
rc=$?
if [ $rc -ne 0 ] && ! grep -q "re-executes it" "$out"; then
	echo "FAIL: hostile-vmcall exited $rc"
	cat "$out"
	fail=1
else
	echo "ok: hostile-vmcall -> $rc: $(grep -E 'vmcall|re-executes' "$out" | head -1)"
fi

# On kvm_pvm in emulated mode vmcall spins inside KVM_RUN: the VMM must
# notice and name the instruction, well before the timeout.
if [ -d /sys/module/kvm_pvm ]; then
	expect vmcall-emulated 1 "" 3 "re-executes it without an exit"
fi

# A flood of valid hypercalls: host memory must not grow with the count.
rss() {
	/usr/bin/time -f %M "$VMM" --sev --cmdline "scenario=hostile-flood flood=$1" "$GUEST" \
		2>&1 >/dev/null | tail -1
}
if [ -x /usr/bin/time ]; then
	small=$(rss 5000)
	big=$(rss 40000)
	echo "flood: max RSS $small KiB after 5000 calls, $big KiB after 40000"
	if [ $((big - small)) -gt 4096 ]; then
		echo "FAIL: memory grows with the number of hypercalls"
		fail=1
	fi
fi
exit $fail
