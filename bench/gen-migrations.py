#!/usr/bin/env python3
"""gen-migrations.py — writes M pending migrations against gen-schema.py's
schema into DIR: each alters a few tables, adds an index and a view.
Usage: gen-migrations.py DIR M [N_TABLES]"""
import os
import sys

d, m = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
os.makedirs(d, exist_ok=True)
for k in range(m):
    t = (k * 37) % n
    with open(os.path.join(d, f"{1000 + k}_change_{k}.up.sql"), "w") as f:
        f.write(f"""ALTER TABLE app.t{t} ADD COLUMN note_{k} text;
CREATE INDEX t{t}_note_{k}_idx ON app.t{t} (note_{k});
COMMENT ON COLUMN app.t{t}.note_{k} IS 'added by migration {k}';
CREATE VIEW app.notes_{k} AS SELECT id, note_{k} FROM app.t{t};
UPDATE app.t{t} SET note_{k} = name WHERE amount > 100;
""")
    with open(os.path.join(d, f"{1000 + k}_change_{k}.down.sql"), "w") as f:
        f.write(f"DROP VIEW app.notes_{k};\nALTER TABLE app.t{t} DROP COLUMN note_{k};\n")
