#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The reboot paths as Linux runs them (issue 11, reboot=linux):
#  1. every strategy, 1 vCPU, 50 cycles, --device-rate 0, both paths: the
#     verdict the model gives (table below, with the reason);
#  2. proof from the log that the model is real: a CPU took the notifier
#     between a PTE change and its hypercall and finished the conversion
#     afterwards; device work reached the boot CPU between the notifier and
#     device shutdown; with device-shutdown=stop no interrupt was raised
#     after it, with none interrupts go on;
#  3. CPU offline and suspend with upstream, with and without
#     fix=ready-on-online (msr.rst: READY only at boot);
#  4. the guest refuses path=crash with reboot=offline.
. "$(dirname "$0")/common.bash"
need_kvm

# strategy  kexec  crash  (exit status with --device-rate 0, 1 vCPU)
# kexec: one CPU and no device: every reset position is after the last
#   conversion, so all pass but none.
# crash: no reboot notifier runs on the crash path, so the strategies whose
#   code sits in it (v12, every-cpu, last-cpu, msr-off, mute) leave the
#   first kernel's boot shares stale; upstream resets in the kdump kernel
#   (its shares lie inside the crashkernel region), generation drops older
#   generations on the host, stop-unshare unshares in enc_kexec_finish.
while read -r s kexec crash; do
	extra=()
	[ "$s" = generation ] && extra=(--gen-filter)
	for p in kexec crash; do
		want=$kexec
		[ $p = crash ] && want=$crash
		run --sev --device-rate 0 "${extra[@]}" \
			--cmdline "scenario=kexec strategy=$s cycles=50 reboot=linux path=$p" "$GUEST"
		expect_rc "$want" "$s path=$p, 1 vCPU, 50 cycles, no device" &&
			pass "$s path=$p -> $RC"
	done
done <<'EOF'
v12           0 1
every-cpu     0 1
last-cpu      0 1
msr-off       0 1
mute          0 1
generation    0 0
upstream      0 0
stop-unshare  0 0
none          1 1
EOF

# 2. The model, seen in the log. Seeds are searched, not hard-coded: the
# claims are "some seed shows it" and "no run contradicts it".
cat >"$TMP/prove.py" <<'PY'
import json, sys
what, paths = sys.argv[1], sys.argv[2:]

def events(p):
    return [json.loads(l) for l in open(p)]

def notifier_mid_conversion(ev):
    # notifier taken inside a conversion (PTE changed, hypercall not yet
    # issued), then that CPU's next hypercall and its request event.
    for i, e in enumerate(ev):
        if e["type"] == "sync" and e["tag"] == "notifier_taken" and \
           e.get("where") in ("conversion_pte_changed", "conversion_flushed"):
            cpu, hc = e["vcpu"], False
            for f in ev[i + 1:]:
                if f["vcpu"] != cpu:
                    continue
                if f["type"] == "hypercall":
                    hc = True
                elif hc and f["type"] == "sync" and \
                        f["tag"] in ("request_start", "request_done"):
                    return True
    return False

def boot_cpu_work_before_shutdown(ev):
    # device work on vCPU 0 after its notifier returned, before shutdown
    done = False
    for e in ev:
        if e["type"] == "sync" and e["tag"] == "notifier_done" and e["vcpu"] == 0:
            done = True
        elif e["type"] == "sync" and e["tag"] == "device_shutdown":
            done = False
        elif done and e["vcpu"] == 0 and e["type"] == "sync" and \
                e["tag"] in ("request_start", "request_done"):
            return True
    return False

def irq_after_stop(ev):
    # an interrupt raised after a device_stop, before the next boot
    stopped = False
    for e in ev:
        if e["type"] == "device_stop":
            stopped = True
        elif e["type"] == "sync" and e["tag"] == "boot":
            stopped = False
        elif stopped and e["type"] == "device_irq":
            return True
    return False

def irq_after_shutdown_none(ev):
    after = False
    for e in ev:
        if e["type"] == "sync" and e["tag"] == "device_shutdown":
            after = e.get("stop") == 0
        elif e["type"] == "sync" and e["tag"] == "boot":
            after = False
        elif after and e["type"] == "device_irq":
            return True
    return False

def device_stopped(ev):
    return any(e["type"] == "device_stop" for e in ev)

fn = {"mid": notifier_mid_conversion, "boot": boot_cpu_work_before_shutdown,
      "stopirq": irq_after_stop, "noneirq": irq_after_shutdown_none,
      "stopped": device_stopped}[what]
hits = [p for p in paths if fn(events(p))]
print(len(hits), hits[0] if hits else "")
PY

logs=()
for seed in $(seq 1 40); do
	"$VMM" --sev -c 2 --sched=serial --seed "$seed" --log "$TMP/ec-$seed.jsonl" \
		--cmdline "scenario=kexec strategy=every-cpu cycles=2 reboot=linux" "$GUEST" \
		>/dev/null 2>&1
	logs+=("$TMP/ec-$seed.jsonl")
done
read -r n first < <(python3 "$TMP/prove.py" mid "${logs[@]}")
if [ "${n:-0}" -ge 1 ]; then
	pass "notifier taken between a PTE change and its hypercall, conversion finished afterwards: $n of 40 seeds (first: $(basename "$first"))"
else
	fail "no seed shows a CPU taking the notifier inside a conversion"
fi
read -r n first < <(python3 "$TMP/prove.py" boot "${logs[@]}")
if [ "${n:-0}" -ge 1 ]; then
	pass "device work on the boot CPU between the notifier and device shutdown: $n of 40 seeds"
else
	fail "no seed shows device work on the boot CPU between notifier and device shutdown"
fi
read -r stopped _ < <(python3 "$TMP/prove.py" stopped "${logs[@]}")
read -r n first < <(python3 "$TMP/prove.py" stopirq "${logs[@]}")
if [ "${stopped:-0}" -ne 40 ]; then
	fail "device-shutdown=stop: only ${stopped:-0} of 40 runs logged device_stop"
elif [ "${n:-1}" -eq 0 ]; then
	pass "device-shutdown=stop: no interrupt raised after the device stopped (40 seeds)"
else
	fail "an interrupt was raised after device_stop: $first"
fi
nlogs=()
for seed in $(seq 1 10); do
	"$VMM" --sev -c 2 --sched=serial --seed "$seed" --log "$TMP/none-$seed.jsonl" \
		--cmdline "scenario=kexec strategy=v12 cycles=2 device-shutdown=none" "$GUEST" \
		>/dev/null 2>&1
	nlogs+=("$TMP/none-$seed.jsonl")
done
read -r n first < <(python3 "$TMP/prove.py" noneirq "${nlogs[@]}")
if [ "${n:-0}" -ge 1 ]; then
	pass "device-shutdown=none: interrupts go on after device_shutdown ($n of 10 seeds)"
else
	fail "device-shutdown=none: no interrupt after device_shutdown in 10 seeds"
fi

# 3. CPU offline and suspend: upstream blocks migration for good (the MSR
# is written 0 and READY only comes at the next boot); the fix re-enables.
for sc in hotplug suspend; do
	for fix in "" fix=ready-on-online; do
		run --sev -c 2 --log "$TMP/$sc.jsonl" --cmdline "scenario=$sc strategy=upstream $fix" "$GUEST"
		expect_rc 0 "scenario=$sc $fix" || continue
		got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
m = [e for e in ev if e["type"] == "migration"][0]
tags = [e["tag"] for e in ev if e["type"] == "sync"]
w0 = [e for e in ev if e["type"] == "wrmsr" and e["msr"] == "0x4b564d08" and e["value"] == "0"]
print(m["migratable_at_exit"], "cpu_offline" in tags, "cpu_online" in tags,
      ("suspend" in tags) == (sys.argv[2] == "suspend"), len(w0) >= 1)
' "$TMP/$sc.jsonl" "$sc")
		want="False True True True True"
		[ -n "$fix" ] && want="True True True True True"
		if [ "$got" = "$want" ]; then
			pass "$sc ${fix:-without fix}: migratable at exit ${want%% *}"
		else
			fail "$sc ${fix:-without fix}: got '$got', want '$want'"
		fi
	done
done

# 4. Meaningless combinations are refused by the guest.
run --sev --cmdline "scenario=kexec strategy=v12 reboot=offline path=crash" "$GUEST"
if expect_rc 3 "path=crash reboot=offline" && grep -q "path=crash needs reboot=linux" "$TMP/err"; then
	pass "path=crash with reboot=offline refused"
fi
finish
