#!/usr/bin/env python3
"""gen-schema.py — writes a synthetic pg_dump-like schema: N tables, each with
a primary key, a foreign key to the previous table, two indexes, and every
tenth table a view and a plpgsql function.  Usage: gen-schema.py N > schema.sql
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
out = sys.stdout
out.write("SET client_min_messages = warning;\nCREATE SCHEMA app;\n")
for i in range(n):
    ref = f",\n    parent_id bigint REFERENCES app.t{i - 1}(id)" if i else ""
    out.write(f"""
CREATE TABLE app.t{i} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    amount numeric(12,2) DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(){ref}
);
CREATE INDEX t{i}_name_idx ON app.t{i} (name);
CREATE INDEX t{i}_created_idx ON app.t{i} (created_at DESC);
ALTER TABLE app.t{i} OWNER TO app_owner;
GRANT SELECT ON TABLE app.t{i} TO reporting;
""")
    if i % 10 == 0:
        out.write(f"""CREATE VIEW app.v{i} AS SELECT id, name, amount FROM app.t{i} WHERE amount > 0;
CREATE FUNCTION app.f{i}(p bigint) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT sum(amount) FROM app.t{i} WHERE id = p);
END
$$;
""")
