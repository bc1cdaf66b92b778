#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# File descriptors: every descriptor mini-vmm opens (open/openat, the KVM
# ioctls that return one: KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_GET_STATS_FD,
# KVM_CREATE_DEVICE; eventfd, pipe, dup, socket, ...) is closed again before
# exit_group, and nothing is closed twice. Traced with strace -f on three
# paths: a clean kexec run with --log (exit 0), a stuck guest stopped by
# --timeout (124) and an invalid ELF (2). Skips (77) without strace or
# /dev/kvm.
set -u
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing or not writable"; exit 77; }
command -v strace >/dev/null || { echo "SKIP: strace not installed"; exit 77; }
# LeakSanitizer cannot run under ptrace; leaks are its job in the ASan
# build of every other test, descriptors are ours here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
: "${VMM:?VMM (the mini-vmm binary) is not set}"
: "${GUEST:?GUEST (guest.elf) is not set}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-fdleak.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
SYSCALLS=open,openat,creat,close,close_range,dup,dup2,dup3,fcntl,ioctl,eventfd,eventfd2,pipe,pipe2
SYSCALLS=$SYSCALLS,socket,socketpair,accept,accept4,timerfd_create,signalfd,signalfd4,memfd_create
SYSCALLS=$SYSCALLS,epoll_create,epoll_create1,inotify_init1,pidfd_open,exit_group

# check_trace FILE: the parser. Prints leaks and double closes, fails on any.
check_trace() {
	python3 - "$1" <<'PY'
import re, sys

FD_IOCTLS = ("KVM_CREATE_VM", "KVM_CREATE_VCPU", "KVM_GET_STATS_FD", "KVM_CREATE_DEVICE",
             "0xae, 0xce")  # KVM_GET_STATS_FD when strace cannot name it
FD_CALLS = {"open", "openat", "creat", "dup", "dup2", "dup3", "eventfd", "eventfd2", "socket",
            "accept", "accept4", "timerfd_create", "signalfd", "signalfd4", "memfd_create",
            "epoll_create", "epoll_create1", "inotify_init1", "pidfd_open"}
call_re = re.compile(r"(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$")
pending, open_fds, errors, exited = {}, {}, [], False

for lineno, line in enumerate(open(sys.argv[1]), 1):
    m = re.match(r"(\d+)\s+(.*)", line.rstrip("\n"))
    if not m:
        continue
    pid, rest = m.groups()
    if rest.endswith("<unfinished ...>"):
        pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
        continue
    r = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
    if r:
        rest = pending.pop(pid, "") + r.group(1)
    m = call_re.match(rest)
    if not m:
        continue
    name, args, ret, tail = m.groups()
    where = "line %d: %s" % (lineno, rest.strip())
    if name == "exit_group":
        exited = True
        break
    if ret == "?" or ret.startswith("-"):
        if name == "close" and "EBADF" in tail:
            errors.append("close of a descriptor that is not open, " + where)
        continue
    ret = int(ret)
    if name == "close":
        open_fds.pop(int(args.split(",")[0]), None)
    elif name == "close_range":
        lo, hi = (int(x, 0) for x in args.split(",")[:2])
        for fd in [fd for fd in open_fds if lo <= fd <= hi]:
            del open_fds[fd]
    elif name in ("pipe", "pipe2", "socketpair"):
        pair = re.search(r"\[(\d+), (\d+)\]", args)
        for fd in pair.groups() if pair else ():
            open_fds[int(fd)] = where
    elif name == "fcntl" and "F_DUPFD" in args:
        open_fds[ret] = where
    elif name == "ioctl" and any(k in args for k in FD_IOCTLS):
        open_fds[ret] = where
    elif name in FD_CALLS:
        open_fds[ret] = where

if not exited:
    errors.append("no exit_group in the trace (killed?)")
for fd, where in sorted(open_fds.items()):
    if fd > 2:
        errors.append("fd %d never closed, opened at %s" % (fd, where))
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
}

# trace WHAT WANT_RC ARGS...: run the VMM under strace and check its descriptors.
trace() {
	local what=$1 want=$2 rc
	shift 2
	strace -f -qq -e trace="$SYSCALLS" -o "$TMP/trace" "$VMM" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $what: exit status $rc, want $want"
		sed -n '1,10s/^/    /p' "$TMP/err"
		FAILS=$((FAILS + 1))
		return
	fi
	if check_trace "$TMP/trace"; then
		echo "ok: $what: every descriptor closed before exit ($(grep -c . "$TMP/trace") trace lines)"
	else
		echo "FAIL: $what: descriptor leak or double close (above)"
		FAILS=$((FAILS + 1))
	fi
}

trace "kexec, 2 vCPUs, --log" 0 --sev --check -c 2 --log "$TMP/run.jsonl" \
	--cmdline 'scenario=kexec strategy=upstream cycles=3' "$GUEST"
trace "stuck guest, --timeout" 124 --timeout 1 --log "$TMP/spin.jsonl" --cmdline scenario=spin "$GUEST"
head -c 200 "$GUEST" >"$TMP/cut.elf"
trace "truncated ELF" 2 "$TMP/cut.elf"

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
