#!/usr/bin/env python3
"""counterfactual.py — measures preflight's root/consequence labels against
their definition, on a real history and a real server.

A failure F is a root cause when F still fails on the database a clean
history would have produced just before F, with the same drift applied;
otherwise it is a consequence.  For each drift:

  1. prefix: a database with the first files of the history applied (psql,
     each file in its own transaction), the template of everything below;
  2. drifted: a copy of the prefix with the drift applied; confiture's
     preflight replays the pending files on it and labels its failures;
  3. clean: a copy of the prefix; each pending file is applied in order.
     Before a file F that preflight reported failed, the clean database is
     cloned, the drift applied to the clone and F run on it: F fails there
     -> root, passes -> consequence.

Usage: counterfactual.py CONFITURE MIGRATIONS_DIR SPLIT DRIFT_SQL...
       (SPLIT: the first pending version; PGHOST/PGPORT name the server)
A drift of the form "gen:N" asks for N drifts generated from the prefix
schema (drop a table with CASCADE, drop a column, drop a function, rename
a table), chosen among the objects the pending files mention.
Prints one line per drift and a summary line "accuracy A/B"; exit 0.
"""
import json
import os
import random
import re
import subprocess
import sys

PSQL = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
NO_TX = re.compile(r"^\s*--\s*confiture:no-transaction\s*$", re.M)


def psql(db, sql=None, path=None, single=True):
    args = PSQL + ["-d", db]
    if single:
        args.append("--single-transaction")
    args += ["-f", path] if path else ["-c", sql]
    r = subprocess.run(args, capture_output=True, text=True,
                       env=dict(os.environ, PGOPTIONS="-c client_min_messages=error"))
    return r.returncode == 0, r.stderr.strip()


def q(db, sql):
    r = subprocess.run(PSQL + ["-At", "-d", db, "-c", sql], capture_output=True, text=True)
    return r.stdout.strip()


def new_db(name, template=None):
    psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, single=False)
    t = ' TEMPLATE "%s"' % template if template else ""
    ok, err = psql("postgres", 'CREATE DATABASE "%s"%s' % (name, t), single=False)
    if not ok:
        sys.exit("cannot create %s: %s" % (name, err))


def drop_db(name):
    psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, single=False)


def apply_file(db, path):
    text = open(path, encoding="utf-8").read()
    return psql(db, path=path, single=not NO_TX.search(text))


def url(db):
    return "postgresql:///%s?host=%s&port=%s" % (db, os.environ["PGHOST"], os.environ["PGPORT"])


def generated_drifts(db, pending_text, n, rng):
    """Drifts on objects of the prefix that the pending files mention."""
    tables = [t for t in q(db, "SELECT quote_ident(relname) FROM pg_class c JOIN pg_namespace s"
                               " ON s.oid = c.relnamespace WHERE s.nspname = 'public'"
                               " AND relkind = 'r' ORDER BY 1").split("\n") if t]
    cols = [c for c in q(db, "SELECT quote_ident(table_name) || ' ' || quote_ident(column_name)"
                             " FROM information_schema.columns WHERE table_schema = 'public'"
                             " ORDER BY 1").split("\n") if c]
    funcs = [f for f in q(db, "SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace s"
                              " ON s.oid = p.pronamespace WHERE s.nspname = 'public'"
                              " ORDER BY 1").split("\n") if f]
    low = pending_text.lower()

    def mentioned(name):
        return name.strip('"').lower() in low

    tables = [t for t in tables if mentioned(t)]
    cols = [c for c in cols if mentioned(c.split(" ")[0]) and mentioned(c.split(" ", 1)[1])]
    funcs = [f for f in funcs if mentioned(f.split("(")[0])]
    out = []
    for k in range(n):
        kind = k % 4
        if kind == 0 and tables:
            out.append("DROP TABLE %s CASCADE" % rng.choice(tables))
        elif kind == 1 and cols:
            t, c = rng.choice(cols).split(" ", 1)
            out.append("ALTER TABLE %s DROP COLUMN %s CASCADE" % (t, c))
        elif kind == 2 and funcs:
            out.append("DROP FUNCTION %s CASCADE" % rng.choice(funcs))
        elif tables:
            t = rng.choice(tables)
            out.append('ALTER TABLE %s RENAME TO "%s_renamed"' % (t, t.strip('"')))
    return out


def run_drift(cf, mdir, split, files, prefix, drift, tag):
    pending = [f for f in files if os.path.basename(f).split("_", 1)[0] >= split]
    drifted = "cf_cfx_drifted_%s" % tag
    new_db(drifted, prefix)
    ok, err = psql(drifted, drift)
    if not ok:
        drop_db(drifted)
        return None
    r = subprocess.run([cf, "migrate", "preflight", "--migrations-dir", mdir, "--since", split,
                        "--against", url(drifted), "--mode", "clone", "--format", "json"],
                       capture_output=True, text=True)
    drop_db(drifted)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        sys.exit("preflight printed no JSON (exit %d): %s" % (r.returncode, r.stderr[-2000:]))
    labels = {m["version"]: m for m in doc["against"]["migrations"] if not m["success"] and not m["skipped"]}
    clean = "cf_cfx_clean_%s" % tag
    probe = "cf_cfx_probe_%s" % tag
    new_db(clean, prefix)
    agree = total = 0
    wrong = []
    for f in pending:
        version = os.path.basename(f).split("_", 1)[0]
        if version in labels:
            new_db(probe, clean)
            psql(probe, drift)
            fails, _ = apply_file(probe, f)
            fails = not fails
            drop_db(probe)
            truth = "root" if fails else "consequence"
            got = labels[version]["cause"]
            total += 1
            if truth == got:
                agree += 1
            else:
                wrong.append("%s: labelled %s, counterfactual %s (%s)" % (
                    version, got, truth, labels[version]["message"]))
        ok, err = apply_file(clean, f)
        if not ok:
            sys.exit("the clean history fails at %s: %s" % (f, err))
    drop_db(clean)
    return agree, total, wrong


def main():
    cf, mdir, split = sys.argv[1], sys.argv[2], sys.argv[3]
    drifts = sys.argv[4:]
    files = sorted(os.path.join(mdir, f) for f in os.listdir(mdir) if f.endswith(".up.sql"))
    tag = "%d" % os.getpid()
    prefix = "cf_cfx_prefix_%s" % tag
    new_db(prefix)
    for f in files:
        if os.path.basename(f).split("_", 1)[0] >= split:
            break
        ok, err = apply_file(prefix, f)
        if not ok:
            sys.exit("the prefix fails at %s: %s" % (f, err))
    pending_text = "".join(open(f, encoding="utf-8").read() for f in files
                           if os.path.basename(f).split("_", 1)[0] >= split)
    rng = random.Random(7)
    todo = []
    for d in drifts:
        if d.startswith("gen:"):
            todo += generated_drifts(prefix, pending_text, int(d[4:]), rng)
        else:
            todo.append(d)
    agree = total = 0
    for d in todo:
        res = run_drift(cf, mdir, split, files, prefix, d, tag)
        if res is None:
            print("drift %r: does not apply, skipped" % d)
            continue
        a, t, wrong = res
        agree += a
        total += t
        print("drift %r: %d/%d labels agree" % (d, a, t))
        for w in wrong:
            print("  " + w)
    drop_db(prefix)
    print("accuracy %d/%d" % (agree, total))


if __name__ == "__main__":
    main()
