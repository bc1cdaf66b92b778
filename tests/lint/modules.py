#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The VMM's module graph is acyclic (STYLE: an acyclic module graph).

A module is vmm/NAME.{c,h}; NAME depends on OTHER when either of its files
includes "OTHER.h". Prints every cycle (strongly connected component of
more than one module) and exits 1 if there is one."""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
vmm = os.path.join(root, "vmm")
deps = {}
for path in glob.glob(os.path.join(vmm, "*.[ch]")):
    mod = os.path.basename(path).rsplit(".", 1)[0]
    deps.setdefault(mod, set())
    for inc in re.findall(r'^#include "([a-z0-9_]+)\.h"', open(path).read(), re.M):
        if inc != mod and os.path.exists(os.path.join(vmm, inc + ".h")):
            deps[mod].add(inc)

index, low, stack, on, cycles = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in sorted(deps.get(v, ())):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            cycles.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(deps):
    if v not in index:
        visit(v)
for c in cycles:
    edges = [f"{a} -> {b}" for a in c for b in sorted(deps[a]) if b in c]
    print("cycle:", ", ".join(c), "(" + "; ".join(edges) + ")")
print(f"{len(deps)} modules, {sum(len(d) for d in deps.values())} dependencies, "
      f"{len(cycles)} cycle(s)")
sys.exit(1 if cycles else 0)
