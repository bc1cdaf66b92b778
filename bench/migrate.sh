#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Live migration, side by side in one run: mini-vmm (--sev, unix socket,
# migrated at the guest's first READY) against QEMU (TCG, -M microvm, the
# same guest.elf through PVH, -incoming unix:, QMP migrate).
#
#   bench/migrate.sh [--quick] [-n N] [--json FILE] [--no-qemu] [--case NAME]
#
#   --quick    1 repetition a case (CI smoke run); 5 by default (medians)
#   -n N       N repetitions
#   --json F   write the results there (default bench/results/migrate.json)
#   --no-qemu  mini-vmm only
#   --case C   only that case (idle-256m, idle-4g, touched-256m); repeatable
#
# Environment: BUILD (default SRC/build), VMM, GUEST, QEMU override paths.
# Cases (see bench/README.md):
#   idle-256m     256 MiB, `scenario=idle rounds=20000 verify=off`: the
#                 guest boots (its shares, READY) and then only idles (a
#                 HLT-like exit a round), as QEMU's guest halts after its
#                 hello line; the memory pattern off, so only what the
#                 guest touched goes
#   idle-4g       the same, 4 GiB
#   touched-256m  256 MiB with the pattern on (verify on, the default,
#                 cycles=1): the guest writes every free page before READY,
#                 so all of RAM goes, private pages through the PSP. Its
#                 pattern rewrite dirties RAM faster than pre-copy sends it,
#                 so --migrate-rounds 0 (stop-and-copy at READY: downtime is
#                 about the total); the destination's guest checks every
#                 page (exit 1 if one reads wrong). QEMU: guest RAM from
#                 a memory-backend-file of non-zero data (share=off), so
#                 every page is non-zero and sent whole
# mini-vmm figures: total = source's migration_start to the destination's
# migration_done (the destination's log continues the source's time base),
# downtime = the destination's downtime_us (source's last vCPU stopped to
# the destination's first KVM_RUN), bytes = the stream's bytes. QEMU:
# query-migrate's total-time, downtime and ram.transferred at the source.
# Targets: mini-vmm total <= QEMU total (medians) for each case; mini-vmm
# downtime <= 1 ms for idle-256m (median).
# shellcheck source-path=SCRIPTDIR source=lib.bash
. "$(dirname "$0")/lib.bash"
bench_python "$@" <<'PY'
import json, os, shutil, socket, subprocess, sys, tempfile, time
from benchlib import options, paths, stats, wait_hello

opt = options("migrate", 5, 1, switches=("--no-qemu",), lists=(("--case", "NAME"),))
n, quick, json_path, try_qemu, only = opt.n, opt.quick, opt.json, not opt.no_qemu, opt.case
vmm, guest, qemu = paths()
TIMEOUT = 120.0

CASES = [
    # name, MiB, guest command line (mini-vmm), extra source options, touched
    ("idle-256m", 256, "scenario=idle rounds=20000 verify=off", [], False),
    ("idle-4g", 4096, "scenario=idle rounds=20000 verify=off", [], False),
    # The pattern's rewrite (32 pages a step) dirties all of RAM faster than
    # pre-copy sends it: stop-and-copy at the point, every page once.
    ("touched-256m", 256, "scenario=kexec strategy=upstream cycles=1", ["--migrate-rounds", "0"],
     True),
]
CASES = [c for c in CASES if not only or c[0] in only]
if not CASES:
    sys.exit("migrate.sh: no such case")


def events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def wait_path(p, proc, what):
    t0 = time.monotonic()
    while not os.path.exists(p):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode} before {p} appeared")
        if time.monotonic() - t0 > TIMEOUT:
            raise RuntimeError(f"{what}: no {p} within {TIMEOUT:.0f} s")
        time.sleep(0.002)


def minivmm_once(tmp, mib, cmdline, extra):
    sock, slog, dlog = (os.path.join(tmp, x) for x in ("mvm.sock", "src.jsonl", "dst.jsonl"))
    for x in (sock, slog, dlog):
        if os.path.exists(x):
            os.unlink(x)
    dst = subprocess.Popen([vmm, "--log", dlog, "--timeout", "120", "--incoming", f"unix:{sock}"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        wait_path(sock, dst, "mini-vmm --incoming")
        s = subprocess.run([vmm, "-m", f"{mib}M", "--sev", "--log", slog, "--timeout", "120",
                            "--migrate-to", f"unix:{sock}", "--migrate-at", "ready", *extra,
                            "--cmdline", cmdline, guest],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        drc = dst.wait(timeout=TIMEOUT)
    finally:
        if dst.poll() is None:
            dst.kill()
            dst.wait()
    if s.returncode != 0 or drc != 0:
        raise RuntimeError(f"mini-vmm source exit {s.returncode}, destination exit {drc}: "
                           + (s.stderr + dst.stderr.read()).decode(errors="replace").strip()[-400:])
    se, de = events(slog), events(dlog)
    start = [e for e in se if e.get("type") == "migration_start"]
    sdone = [e for e in se if e.get("type") == "migration_done"]
    ddone = [e for e in de if e.get("type") == "migration_done"]
    if not (start and sdone and ddone):
        raise RuntimeError("mini-vmm: no migration_start / migration_done in the logs")
    rounds = [e for e in se if e.get("type") == "migration_round"]
    d = ddone[0]
    return {
        "total_ms": (d["t_ns"] - start[0]["t_ns"]) / 1e6,
        "downtime_ms": d["downtime_us"] / 1000.0,
        "source_downtime_ms": sdone[0]["downtime_us"] / 1000.0,
        "bytes": d["bytes"],
        "rounds": d["rounds"],
        "pages_shared": d["pages_shared"],
        "pages_private": d["pages_private"],
        "round0_ms": (rounds[0]["t_ns"] - start[0]["t_ns"]) / 1e6 if rounds else None,
        "round0_bytes": rounds[0]["bytes"] if rounds else None,
    }


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, c, a=None):
        self.f.write(json.dumps({"execute": c, **({"arguments": a} if a else {})}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "error" in r:
                raise RuntimeError(f"QMP {c}: {r['error']}")
            if "return" in r:
                return r["return"]

    def close(self):
        self.s.close()


def qemu_cmd(tmp, mib, touched, tag, extra):
    c = [qemu, "-accel", "tcg", "-M", "microvm", "-m", f"{mib}M", "-nodefaults",
         "-display", "none", "-kernel", guest, "-append", "scenario=hello",
         "-debugcon", f"file:{os.path.join(tmp, 'con-' + tag)}",
         "-qmp", f"unix:{os.path.join(tmp, 'qmp-' + tag)},server=on,wait=off"]
    if touched:
        c += ["-object", f"memory-backend-file,id=ram0,size={mib}M,share=off,"
              f"mem-path={os.path.join(tmp, 'ram.img')}", "-machine", "memory-backend=ram0"]
    return c + extra


def qemu_once(tmp, mib, touched):
    for x in os.listdir(tmp):
        if x.startswith(("con-", "qmp-", "qemu-mig")):
            os.unlink(os.path.join(tmp, x))
    mig = os.path.join(tmp, "qemu-mig.sock")
    procs = []
    try:
        dst = subprocess.Popen(qemu_cmd(tmp, mib, touched, "dst", ["-incoming", f"unix:{mig}"]),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        procs.append(dst)
        sp = subprocess.Popen(qemu_cmd(tmp, mib, touched, "src", []), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(sp)
        # the guest idle after its hello line
        wait_hello(os.path.join(tmp, "con-src"), sp, TIMEOUT, 0.002, "QEMU exited {rc}: {tail}",
                   "QEMU: no hello line")
        wait_path(mig, dst, "QEMU -incoming")
        wait_path(os.path.join(tmp, "qmp-src"), sp, "QEMU source QMP")
        q = Qmp(os.path.join(tmp, "qmp-src"))
        q.cmd("migrate", {"uri": f"unix:{mig}"})
        t0 = time.monotonic()
        while True:
            r = q.cmd("query-migrate")
            st = r.get("status")
            if st == "completed":
                break
            if st in ("failed", "cancelled"):
                raise RuntimeError(f"QEMU migration {st}: {r.get('error-desc', '')}")
            if time.monotonic() - t0 > TIMEOUT:
                raise RuntimeError("QEMU migration did not complete")
            time.sleep(0.001)
        q.close()
        return {"total_ms": float(r["total-time"]), "downtime_ms": float(r.get("downtime", 0)),
                "bytes": r["ram"]["transferred"], "setup_ms": float(r.get("setup-time", 0))}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def summary(runs):
    out = {}
    for k in runs[0]:
        xs = [r[k] for r in runs if r[k] is not None]
        if xs:
            out[k] = stats([float(x) for x in xs])
    return out


results = {"repetitions": n, "quick": quick, "cases": {}}
figures = []
failed = False
tmp = tempfile.mkdtemp(prefix="mvm-migbench-")
try:
    need_img = try_qemu and any(c[4] for c in CASES)
    if need_img:  # non-zero data, so that QEMU sends every page whole
        mib = max(c[1] for c in CASES if c[4])
        with open(os.path.join(tmp, "ram.img"), "wb") as f:
            block = bytes((i * 7 + 1) & 0xff or 1 for i in range(1 << 20))
            for _ in range(mib):
                f.write(block)
    for name, mib, cmdline, extra, touched in CASES:
        case = {"mib": mib, "minivmm_cmdline": cmdline, "minivmm_options": extra}
        m = q = None
        try:
            mruns, qruns = [], []
            for _ in range(n):  # interleaved, so that drift hits both
                mruns.append(minivmm_once(tmp, mib, cmdline, extra))
                print(f"{name}: mini-vmm {json.dumps(mruns[-1])}", flush=True)
                if try_qemu:
                    qruns.append(qemu_once(tmp, mib, touched))
                    print(f"{name}: qemu {json.dumps(qruns[-1])}", flush=True)
            m = summary(mruns)
            case["minivmm"] = m
            if qruns:
                q = summary(qruns)
                case["qemu"] = q
        except (RuntimeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
            case["error"] = str(e)
            failed = True
            print(f"{name}: error: {e}", file=sys.stderr, flush=True)
        results["cases"][name] = case
        if m:
            tgt = q is not None
            figures.append({"figure": f"{name}: mini-vmm total (median)",
                            "value": m["total_ms"]["median"], "unit": "ms",
                            **({"target": f"<= QEMU {q['total_ms']['median']:.3g} ms",
                                "met": m["total_ms"]["median"] <= q["total_ms"]["median"]}
                               if tgt else {})})
            dt = {"figure": f"{name}: mini-vmm downtime (median)",
                  "value": m["downtime_ms"]["median"], "unit": "ms"}
            if name == "idle-256m":
                dt.update({"target": "<= 1 ms", "met": m["downtime_ms"]["median"] <= 1.0})
            figures.append(dt)
            figures.append({"figure": f"{name}: mini-vmm bytes (median)",
                            "value": m["bytes"]["median"] / 1e6, "unit": "MB"})
        if q:
            figures.append({"figure": f"{name}: QEMU total (median)",
                            "value": q["total_ms"]["median"], "unit": "ms"})
            figures.append({"figure": f"{name}: QEMU downtime (median)",
                            "value": q["downtime_ms"]["median"], "unit": "ms"})
            figures.append({"figure": f"{name}: QEMU bytes (median)",
                            "value": q["bytes"]["median"] / 1e6, "unit": "MB"})
finally:
    shutil.rmtree(tmp, ignore_errors=True)
results["figures"] = figures
os.makedirs(os.path.dirname(json_path) or ".", exist_ok=True)
with open(json_path, "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")
for fig in figures:
    met = "" if "met" not in fig else (" met" if fig["met"] else " NOT MET")
    print(f"{fig['figure']}: {fig['value']:.4g} {fig.get('unit', '')}"
          f"{' (target ' + fig['target'] + ')' if 'target' in fig else ''}{met}")
sys.exit(1 if failed else 0)
PY
