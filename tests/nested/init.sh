#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the nested harness initramfs (busybox sh). Loads kvm_amd, runs
# every test of /tests.list in /tests and reports on the serial console:
#   [name] <output line>                          the test's output
#   NESTED-RESULT <name> <rc> <expected_rc> PASS|FAIL  one per test
#   NESTED-INFO ...                                information
#   NESTED-ERROR ...                               the harness itself failed
#   NESTED-DONE                                    the list has been run
# then powers off. Copied into the initramfs by run-nested.sh.
export PATH=/tests:/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/tmp

echo # start on a fresh line after the firmware's escape sequences
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs tmpfs /dev
mount -t tmpfs tmpfs /tmp
# Keep kernel messages off the console so they cannot split result lines
# (panics still print).
dmesg -n 1

TEST_TIMEOUT=300
# shellcheck source=/dev/null
. /nested.conf

finish() {
	echo "NESTED-DONE"
	sync
	poweroff -f
	sleep 5
	exit 1 # init exiting panics; panic=-1 + -no-reboot stop QEMU
}

echo "NESTED-INFO kernel $(uname -r), $(grep -c '^processor' /proc/cpuinfo) cpus, $(grep -m1 '^vendor_id' /proc/cpuinfo | sed 's/.*: //'), svm: $(grep -m1 -o -w svm /proc/cpuinfo || echo no), npt: $(grep -m1 -o -w npt /proc/cpuinfo || echo no)"

if ! modprobe kvm_amd 2>/tmp/modprobe.err; then
	sed 's/^/[modprobe] /' /tmp/modprobe.err
	while read -r m; do
		f=$(find /lib/modules -name "$m.ko" -o -name "$(echo "$m" | tr _ -).ko" | head -n1)
		grep -q "^$m " /proc/modules || insmod "$f"
	done </modules.load
fi
dmesg | grep -i -E 'kvm|svm|ccp' | sed 's/^/[dmesg] /'
for p in /sys/module/kvm_amd/parameters/npt /sys/module/kvm_amd/parameters/nested \
	/sys/module/kvm_amd/parameters/avic /sys/module/kvm_amd/parameters/vgif; do
	[ -r "$p" ] && echo "NESTED-INFO kvm_amd ${p##*/}=$(cat "$p")"
done
if [ ! -c /dev/kvm ]; then
	echo "NESTED-ERROR /dev/kvm missing after loading kvm_amd"
	lsmod | sed 's/^/[lsmod] /'
	finish
fi
echo "NESTED-INFO /dev/kvm ready"

cd /tests || { echo "NESTED-ERROR no /tests"; finish; }
# Test commands get /dev/null as stdin: the loop reads the list on fd 3.
while read -r name expected cmd <&3; do
	case "$name" in '' | '#'*) continue ;; esac
	start=$(date +%s)
	# The test's output streams out prefixed; its status goes to a file.
	(
		timeout -k 10 "$TEST_TIMEOUT" sh -c "$cmd" </dev/null 2>&1
		echo $? >/tmp/rc
	) | sed "s/^/[$name] /"
	rc=$(cat /tmp/rc 2>/dev/null || echo 255)
	rm -f /tmp/rc
	took=$(($(date +%s) - start))
	if [ "$took" -ge "$TEST_TIMEOUT" ] && [ "$rc" -ge 128 ]; then
		echo "[$name] (killed: test timeout of $TEST_TIMEOUT s)"
	fi
	if [ "$rc" = "$expected" ]; then verdict=PASS; else verdict=FAIL; fi
	echo "NESTED-INFO $name took $took s"
	echo "NESTED-RESULT $name $rc $expected $verdict"
done 3</tests.list
finish
