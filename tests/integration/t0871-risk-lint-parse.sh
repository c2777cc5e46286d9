#!/usr/bin/env bash
# t0871-risk-lint-parse.sh — the deploy risk's classification (tier, kind,
# object of each statement and change) reads lint's parse of the
# statements lint parses and parses only the others itself: with lint and
# with --no-lint (every statement parsed by the risk assessment) the
# change_set and the statements' tiers are the same; in clone mode it also
# reads the cluster guard's parse.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

PRE=$(new_db t0871_pre) || exit 1
PROJ=$TEST_TMP/proj
M=$PROJ/db/migrations
mkdir -p "$M" || exit 1

# what the document says the statements change, timings left out
CHANGES='
a = d["against"]
def changes():
    return [(c["migration"], c["kind"], c["object"], c["tier"])
            for c in d["change_set"]["changes"]]
def stmts():
    return [(m["version"], s["index"], s["tier"], s.get("kind"), s.get("object"))
            for m in a["migrations"] for s in (m["statements"] or [])]
'

# same_classification A B EXPR [CHECK]: EXPR, over changes() and stmts(),
# is the same in the JSON documents A and B (in TEST_TMP); CHECK then runs
# with x = its value
same_classification()
{
	python3 -c "
import json, sys
def load(p):
    g = {'d': json.load(open(p))}
    exec(sys.argv[3], g)
    return eval(sys.argv[4], g)
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    sys.exit('%s: %r\\n%s: %r' % (sys.argv[1], a, sys.argv[2], b))
x = b
exec(sys.argv[5])
" "$TEST_TMP/$1" "$TEST_TMP/$2" "$CHANGES" "$3" "${4:-}"
}

test_expect_success 'setup: a replay database and migrations of many kinds' '
	psql_q "$PRE" "CREATE TABLE orders (id int PRIMARY KEY, note text, qty int);
		CREATE TYPE mood AS ENUM ('"'"'ok'"'"')" &&
	cat >"$M/001_alter.up.sql" <<-\EOF &&
	ALTER TABLE orders ADD COLUMN c1 int, ALTER COLUMN note SET DEFAULT '"'"'x'"'"';
	ALTER TABLE public.orders ALTER COLUMN qty DROP NOT NULL;
	ALTER TABLE orders ADD CONSTRAINT qty_pos CHECK (qty > 0) NOT VALID;
	ALTER TABLE orders VALIDATE CONSTRAINT qty_pos;
	ALTER TABLE orders RENAME COLUMN c1 TO c2;
	ALTER TABLE orders DROP COLUMN c2;
	EOF
	cat >"$M/002_data.up.sql" <<-\EOF &&
	INSERT INTO public.orders (id, note, qty) SELECT g, md5(g::text), g FROM generate_series(1, 10) g;
	UPDATE orders SET note = '"'"'y'"'"' WHERE id = 1;
	DELETE FROM orders WHERE id = 2;
	WITH x AS (SELECT 1) INSERT INTO orders (id) SELECT 100 FROM x;
	EOF
	cat >"$M/003_defs.up.sql" <<-\EOF &&
	CREATE TABLE fresh (id int PRIMARY KEY);
	CREATE VIEW v AS SELECT id FROM orders;
	CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS '"'"'SELECT 1'"'"';
	CREATE TYPE color AS ENUM ('"'"'red'"'"');
	ALTER TYPE mood ADD VALUE '"'"'fine'"'"';
	COMMENT ON TABLE orders IS '"'"'orders'"'"';
	GRANT SELECT ON orders TO PUBLIC;
	DO $$ BEGIN PERFORM 1; END $$;
	SET search_path = public;
	DROP VIEW v;
	DROP TABLE fresh;
	EOF
	true
'

test_expect_success 'with lint: the change_set names every kind, from either parse' '
	cd "$PROJ" &&
	run_cf migrate preflight --against "$(db_url "$PRE")" --mode savepoint \
		--trace-locks --format json &&
	expect_rc 0 &&
	cp "$TEST_TMP/out" "$TEST_TMP/lint.json" &&
	check_json "$CHANGES
c = changes()
for x in [(\"001\", \"add_column\", \"orders.c1\", \"additive\"),
          (\"001\", \"set_default\", \"orders.note\", \"reversible\"),
          (\"001\", \"drop_not_null\", \"public.orders.qty\", \"reversible\"),
          (\"001\", \"add_constraint\", \"orders.qty_pos\", \"additive\"),
          (\"001\", \"validate_constraint\", \"orders.qty_pos\", \"lock_risky\"),
          (\"001\", \"rename\", \"orders\", \"reversible\"),
          (\"001\", \"drop_column\", \"orders.c2\", \"irreversible\"),
          (\"002\", \"insert_rows\", \"public.orders\", \"additive\"),
          (\"002\", \"update_rows\", \"orders\", \"reversible\"),
          (\"002\", \"delete_rows\", \"orders\", \"destructive\"),
          (\"002\", \"insert_rows\", \"orders\", \"additive\"),
          (\"003\", \"create_table\", \"fresh\", \"additive\"),
          (\"003\", \"create_view\", \"v\", \"additive\"),
          (\"003\", \"replace_function\", \"f\", \"reversible\"),
          (\"003\", \"create_enum\", None, \"additive\"),
          (\"003\", \"add_enum_value\", \"mood\", \"additive\"),
          (\"003\", \"comment\", None, \"additive\"),
          (\"003\", \"grant\", None, \"additive\"),
          (\"003\", \"do\", None, \"reversible\"),
          (\"003\", \"drop_definition\", \"v\", \"destructive\"),
          (\"003\", \"drop_table\", \"fresh\", \"irreversible\")]:
    assert x in c, (x, c)
eq(len(c), 21, \"changes (SET changes nothing)\")
"
'

test_expect_success 'with --no-lint: the same tiers, kinds and objects' '
	cd "$PROJ" &&
	run_cf migrate preflight --against "$(db_url "$PRE")" --mode savepoint \
		--trace-locks --no-lint --format json &&
	expect_rc 0 &&
	cp "$TEST_TMP/out" "$TEST_TMP/nolint.json" &&
	same_classification lint.json nolint.json "(changes(), stmts())" \
		"assert len(x[1]) >= 20, x[1]"
'

test_expect_success 'clone mode: what the cluster guard parsed (DO, GRANT, COMMENT) is classified from its parse, the same' '
	cd "$PROJ" &&
	run_cf migrate preflight --against "$(db_url "$PRE")" --mode clone \
		--trace-locks --no-lint --format json &&
	expect_rc 0 &&
	cp "$TEST_TMP/out" "$TEST_TMP/clone.json" &&
	same_classification nolint.json clone.json "[c[:3] for c in changes()]" \
		"assert all(y in x for y in [(\"003\", \"comment\", None), (\"003\", \"grant\", None), (\"003\", \"do\", None)]), x"
'

test_done
