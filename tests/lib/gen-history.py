#!/usr/bin/env python3
"""gen-history.py — a generated migration history for scale runs: N
migrations of the same size whatever N (six statements, about 460 bytes
per up file, a .down.sql each), against the schema of bench/gen-schema.py
(tables app.t0 .. app.t<TABLES-1>).  Every migration creates a table, so
later ones have objects of earlier ones to use; one in ten carries a lint
finding that is silenced, one in ten one that is not.

Usage:
  gen-history.py DIR N [TABLES]       writes DIR/<version>_<name>.up.sql
                                      and .down.sql, versions 1..N padded
  gen-history.py --tracking DIR K     prints COPY data (tab-separated:
                                      slug, version, name, checksum) that
                                      records the first K files of DIR as
                                      applied, for tb_confiture
"""
import hashlib
import os
import sys


def version(k):
    return f"{20240000000000 + k:014d}"


def write(d, n, tables):
    os.makedirs(d, exist_ok=True)
    for k in range(1, n + 1):
        t = (k * 37) % tables
        stem = f"{version(k)}_change_{k:05d}"
        if k % 10 in (3, 7):
            # a plain CREATE INDEX is a lint finding; silenced in k % 10 == 3
            silenced = ("-- confiture:ignore index-without-concurrently generated\n"
                        if k % 10 == 3 else "")
            index = f"{silenced}CREATE INDEX t{t}_note_{k}_idx ON app.t{t} (note_{k});"
        else:
            index = f"COMMENT ON TABLE app.t{t} IS 'touched by migration {k}';"
        with open(os.path.join(d, stem + ".up.sql"), "w") as f:
            f.write(f"""-- migration {k}: a note on app.t{t} and a table of its own
SET lock_timeout = '2s';
ALTER TABLE app.t{t} ADD COLUMN note_{k} text;
{index}
COMMENT ON COLUMN app.t{t}.note_{k} IS 'added by migration {k}';
CREATE TABLE app.m{k} (id bigint PRIMARY KEY, t_id bigint, label text NOT NULL DEFAULT '');
CREATE VIEW app.v_m{k} AS SELECT m.id, m.label, t.note_{k} FROM app.m{k} m JOIN app.t{t} t ON t.id = m.t_id;
""")
        with open(os.path.join(d, stem + ".down.sql"), "w") as f:
            f.write(f"DROP VIEW app.v_m{k};\nDROP TABLE app.m{k};\n"
                    f"ALTER TABLE app.t{t} DROP COLUMN note_{k};\n")


def tracking(d, k):
    ups = sorted(f for f in os.listdir(d) if f.endswith(".up.sql"))[:k]
    for f in ups:
        stem = f[: -len(".up.sql")]
        ver, name = stem.split("_", 1)
        with open(os.path.join(d, f), "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        print(f"{name}_{ver}\t{ver}\t{name}\t{digest}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--tracking":
        tracking(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) in (3, 4):
        write(sys.argv[1], int(sys.argv[2]),
              int(sys.argv[3]) if len(sys.argv) == 4 else 2000)
    else:
        sys.exit(__doc__)
