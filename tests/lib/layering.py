#!/usr/bin/env python3
"""layering.py — the library's dependency graph, read from what its object
files define and use (nm), so that a call counts even when the prototype
comes from the public header.

usage: layering.py LIBCONFITURE.a

Prints one line per file-level or folder-level cycle ("cycle: a -> b -> a")
and exits 1 when there is any; prints the folder graph and exits 0
otherwise.  A folder is the directory under src/lib/ (base, db, ...).
"""
import collections
import subprocess
import sys


def member_name(obj):
    # meson names members like src_lib_db_tracking.c.o
    name = obj
    if name.startswith("src_lib_"):
        name = name[len("src_lib_"):]
    if name.endswith(".c.o"):
        name = name[: -len(".c.o")]
    folder, _, base = name.partition("_")
    return folder + "/" + base


def read_graph(archive):
    out = subprocess.run(["nm", "-A", archive], check=True,
                         capture_output=True, text=True).stdout
    defined = {}
    used = collections.defaultdict(set)
    for line in out.splitlines():
        # "archive:member:address type name", address empty when undefined
        parts = line.split()
        where = parts[0].split(":")
        if len(parts) != 3 or len(where) < 3:
            continue
        obj = member_name(where[1])
        if parts[1] in "TDBRC":
            defined[parts[2]] = obj
        elif parts[1] == "U":
            used[obj].add(parts[2])
    graph = collections.defaultdict(set)
    for obj, syms in used.items():
        for s in syms:
            d = defined.get(s)
            if d and d != obj:
                graph[obj].add(d)
    return graph


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    files = read_graph(sys.argv[1])
    folders = collections.defaultdict(set)
    for a, deps in files.items():
        for b in deps:
            fa, fb = a.split("/")[0], b.split("/")[0]
            if fa != fb:
                folders[fa].add(fb)
    bad = 0
    for comp in cycles(files):
        print("file cycle: " + " <-> ".join(comp))
        bad = 1
    for comp in cycles(folders):
        print("folder cycle: " + " <-> ".join(comp))
        bad = 1
    if not files:
        print("no library objects found in " + sys.argv[1])
        bad = 1
    for f in sorted(folders):
        print("%s -> %s" % (f, " ".join(sorted(folders[f]))))
    sys.exit(bad)


main()
