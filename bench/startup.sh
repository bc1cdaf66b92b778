#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Start-up cost, side by side: mini-vmm against QEMU booting the same
# guest.elf (scenario=hello) through its Xen PVH entry (-kernel).
#
#   bench/startup.sh [--quick] [-n N] [--json FILE] [--no-kvm] [--no-qemu]
#
#   --quick    3 repetitions instead of 20 (CI smoke run)
#   -n N       N repetitions
#   --json F   write the results there (default bench/results/startup.json)
#   --no-kvm   do not try QEMU with -accel kvm
#   --no-qemu  mini-vmm only
#
# Environment: BUILD (default SRC/build), VMM, GUEST, QEMU override paths.
# Figures (see bench/README.md):
#   mini-vmm first instruction: "first guest instruction after N us" (-v),
#     exec of the VMM to the guest's first instruction, as the VMM measures it
#   mini-vmm hello (wall): fork+exec to exit of `mini-vmm guest.elf`
#   qemu-{tcg,kvm} hello (wall): fork+exec of QEMU until the hello line is in
#     its debugcon file (QEMU is then killed: the guest halts forever
#     without mini-vmm's DONE ucall)
# Targets: mini-vmm hello >= 20x faster than QEMU TCG (medians), first
# instruction <= 5 ms (median).
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
bench_python "$@" <<'PY'
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time
from benchlib import HELLO, options, paths, stats, wait_hello

opt = options("startup", 20, 3, switches=("--no-kvm", "--no-qemu"))
n, quick, json_path, try_kvm, try_qemu = opt.n, opt.quick, opt.json, not opt.no_kvm, not opt.no_qemu
vmm, guest, qemu = paths()
QEMU_TIMEOUT = 60.0


def run_minivmm():
    first, wall = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run([vmm, "-v", guest], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = time.perf_counter()
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if p.returncode != 0 or HELLO.decode() not in out + err:
            raise RuntimeError(f"mini-vmm exit {p.returncode}: {err.strip()[-300:]}")
        m = re.search(r"first guest instruction after (\d+) us", err)
        if not m:
            raise RuntimeError("mini-vmm -v did not print 'first guest instruction after N us'")
        first.append(int(m.group(1)) / 1000.0)
        wall.append((t1 - t0) * 1000.0)
    return {"first_insn_ms": stats(first), "hello_wall_ms": stats(wall)}


def kvm_vcpu_stats(sock, names=("insn_emulation", "exits", "io_exits", "mmio_exits")):
    """KVM vCPU statistics through QMP query-stats (QEMU >= 7.1), or None."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(sock)
        f = s.makefile("rw")
        f.readline()

        def cmd(c, a=None):
            f.write(json.dumps({"execute": c, **({"arguments": a} if a else {})}) + "\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    return r

        cmd("qmp_capabilities")
        r = cmd("query-stats", {"target": "vcpu"})
        s.close()
        out = {}
        for v in r.get("return", []):
            for st in v.get("stats", []):
                if st["name"] in names:
                    out[st["name"]] = out.get(st["name"], 0) + st["value"]
        return out or None
    except (OSError, ValueError):
        return None


def qemu_once(accel, tmp, stats_out=None):
    """ms from fork+exec of QEMU to the hello line in its debugcon file."""
    con = os.path.join(tmp, f"debugcon-{accel}.txt")
    qmp = os.path.join(tmp, f"qmp-{accel}.sock")
    for x in (con, qmp):
        if os.path.exists(x):
            os.unlink(x)
    cmd = [qemu, "-accel", accel, "-kernel", guest, "-append", "scenario=hello",
           "-nographic", "-no-reboot", "-m", "256M", "-debugcon", f"file:{con}",
           "-device", "isa-debug-exit"]
    if stats_out is not None:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        wait_hello(con, p, QEMU_TIMEOUT, 0.001,
                   f"QEMU ({accel}) exited {{rc}} before the hello line: {{tail}}",
                   f"QEMU ({accel}): no hello line within {QEMU_TIMEOUT:.0f} s")
        ms = (time.perf_counter() - t0) * 1000.0
        if stats_out is not None:
            st = kvm_vcpu_stats(qmp)
            if st:
                stats_out.append(st)
        return ms
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()


def run_qemu(accel, tmp):
    """KVM runs also read the vCPU statistics at the hello line (the time
    before them is what is measured): insn_emulation shows whether the
    hypervisor ran the guest or emulated it."""
    kst = [] if accel == "kvm" else None
    r = {"hello_wall_ms": stats([qemu_once(accel, tmp, kst) for _ in range(n)])}
    if kst:
        r["kvm_vcpu_stats_at_hello"] = kst[-1]
    return r


res = {"benchmark": "startup", "quick": quick, "n": n, "guest": guest,
       "cmdline": "scenario=hello"}
figures = []
ok = True
try:
    res["mini_vmm"] = run_minivmm()
except (RuntimeError, OSError) as e:
    res["mini_vmm"] = {"error": str(e)}
    ok = False

if try_qemu and shutil.which(qemu):
    with tempfile.TemporaryDirectory(prefix="minivmm-startup.") as tmp:
        for accel in ("tcg", "kvm"):
            key = f"qemu_{accel}"
            if accel == "kvm" and not try_kvm:
                res[key] = {"available": False, "reason": "--no-kvm"}
                continue
            if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
                res[key] = {"available": False, "reason": "/dev/kvm missing or not writable"}
                continue
            try:
                res[key] = {"available": True, **run_qemu(accel, tmp)}
            except (RuntimeError, OSError) as e:
                res[key] = {"available": False, "reason": str(e)}
                if accel == "tcg":
                    ok = False
else:
    why = "--no-qemu" if not try_qemu else f"{qemu} not found"
    res["qemu_tcg"] = {"available": False, "reason": why}
    res["qemu_kvm"] = {"available": False, "reason": why}


def fmt(ms):
    return f"{ms:10.2f} ms"


print(f"startup: {n} repetition(s), {guest} scenario=hello")
print(f"  {'':38s} {'median':>13s} {'min':>13s}")
mv = res["mini_vmm"]
if "error" in mv:
    print(f"  mini-vmm: {mv['error']}")
else:
    f1, hw = mv["first_insn_ms"], mv["hello_wall_ms"]
    met = f1["median"] <= 5.0
    print(f"  {'mini-vmm exec -> first guest insn':38s} {fmt(f1['median'])} {fmt(f1['min'])}"
          f"   target <= 5 ms: {'met' if met else 'MISSED'}")
    print(f"  {'mini-vmm hello run (wall)':38s} {fmt(hw['median'])} {fmt(hw['min'])}")
    figures.append({"figure": "mini-vmm exec to first guest instruction (median)",
                    "value": f1["median"], "unit": "ms", "target": "<= 5 ms", "met": met})
    figures.append({"figure": "mini-vmm hello run, wall (median)", "value": hw["median"],
                    "unit": "ms"})
for accel in ("tcg", "kvm"):
    q = res[f"qemu_{accel}"]
    label = f"QEMU {accel.upper()} -kernel (PVH) to hello"
    if not q.get("available"):
        print(f"  {label}: not measured ({q['reason']})")
        continue
    qh = q["hello_wall_ms"]
    print(f"  {label:38s} {fmt(qh['median'])} {fmt(qh['min'])}")
    figures.append({"figure": f"QEMU {accel.upper()} to hello line, wall (median)",
                    "value": qh["median"], "unit": "ms"})
    if "kvm_vcpu_stats_at_hello" in q:
        ks = q["kvm_vcpu_stats_at_hello"]
        print("    KVM vCPU stats at the hello line: "
              + ", ".join(f"{k} {v}" for k, v in sorted(ks.items())))
        if "insn_emulation" in ks:
            figures.append({"figure": "QEMU KVM instructions emulated to hello",
                            "value": ks["insn_emulation"], "unit": "insns"})
    if "error" not in mv:
        ratio = qh["median"] / mv["hello_wall_ms"]["median"]
        ratio_min = qh["min"] / mv["hello_wall_ms"]["min"]
        q["ratio_over_minivmm"] = {"median": round(ratio, 1), "min": round(ratio_min, 1)}
        fig = {"figure": f"QEMU {accel.upper()} / mini-vmm hello (medians)",
               "value": round(ratio, 1), "unit": "x"}
        line = f"  ratio QEMU {accel.upper()} / mini-vmm hello: {ratio:.1f}x (min/min {ratio_min:.1f}x)"
        if accel == "tcg":
            fig.update(target=">= 20x", met=ratio >= 20.0)
            line += f"   target >= 20x: {'met' if ratio >= 20.0 else 'MISSED'}"
        figures.append(fig)
        print(line)

res["figures"] = figures
os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
with open(json_path, "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
print(f"wrote {json_path}")
sys.exit(0 if ok else 1)
PY
