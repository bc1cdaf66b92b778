# SPDX-License-Identifier: GPL-2.0-only
"""What the Python bodies of bench/startup.sh and bench/migrate.sh share.

They run through bench/lib.bash's bench_python, which exports SRC, VMM,
GUEST and QEMU and puts this folder on the import path.
"""
import os
import statistics
import sys
import time
from types import SimpleNamespace

HELLO = b"hello from mini-vmm guest"  # the guest's line under scenario=hello


def paths():
    """VMM, GUEST and QEMU, as bench_python exported them."""
    return tuple(os.environ[k] for k in ("VMM", "GUEST", "QEMU"))


def options(name, n, quick_n, switches=(), lists=()):
    """bench/NAME.sh's options: [--quick] [-n N] [--json FILE], then each of
    switches (a flag, e.g. "--no-qemu") and lists ((option, metavar): a
    value, repeatable). Returns n (quick_n with --quick), quick, json
    (default bench/results/NAME.json), and one attribute a switch (True if
    given) and a list (the values given), named as the option without its
    dashes (--no-qemu: no_qemu). Anything else exits with the usage."""
    usage = " ".join([f"usage: bench/{name}.sh [--quick] [-n N] [--json FILE]"]
                     + [f"[{s}]" for s in switches] + [f"[{o} {m}]" for o, m in lists])
    key = lambda opt: opt.lstrip("-").replace("-", "_")
    o = SimpleNamespace(n=n, quick=False, json=None, **{key(s): False for s in switches},
                        **{key(opt): [] for opt, _ in lists})
    args, i = sys.argv[1:], 0
    while i < len(args):
        a = args[i]
        if a == "--quick":
            o.quick, o.n = True, quick_n
        elif a == "-n" and i + 1 < len(args):
            i += 1
            o.n = int(args[i])
        elif a == "--json" and i + 1 < len(args):
            i += 1
            o.json = args[i]
        elif a in switches:
            setattr(o, key(a), True)
        elif a in dict(lists) and i + 1 < len(args):
            i += 1
            getattr(o, key(a)).append(args[i])
        else:
            sys.exit(usage)
        i += 1
    if o.n < 1:
        sys.exit(f"{name}.sh: -n wants N >= 1")
    o.json = o.json or os.path.join(os.environ["SRC"], "bench", "results", f"{name}.json")
    return o


def wait_hello(con, proc, timeout, poll, exited, late):
    """Until QEMU's debugcon file con holds the guest's hello line, whole.
    RuntimeError(exited, its {rc} and {tail} filled with proc's exit status
    and the end of its stderr) if proc exits first, RuntimeError(late) once
    timeout seconds went by; polls every poll seconds."""
    t0 = time.perf_counter()
    while True:
        try:
            with open(con, "rb") as f:
                data = f.read()
            k = data.find(HELLO)
            if k >= 0 and data.find(b"\n", k) >= 0:
                return
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            tail = proc.stderr.read().decode(errors="replace").strip()[-300:]
            raise RuntimeError(exited.format(rc=proc.returncode, tail=tail))
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(late)
        time.sleep(poll)


def stats(xs):
    """median, min, max and the samples, rounded to 3 decimals."""
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3),
            "max": round(max(xs), 3), "samples": [round(x, 3) for x in xs]}
