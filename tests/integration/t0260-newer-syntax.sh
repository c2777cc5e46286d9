#!/usr/bin/env bash
# t0260-newer-syntax.sh — migrations written for PostgreSQL 16, 17 and 18
# (subquery without alias, JSON_TABLE, MERGE ... RETURNING, named NOT NULL
# constraints, virtual generated columns, RETURNING OLD/NEW), in up and in
# down files, on a PostgreSQL 15 server: the parser (PostgreSQL 15 grammar)
# advises, the server judges.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
CHECK_JSON_PRELUDE='s = d["static"]'

DB=t0260
# Writes the fixture project: 001 and 008 are PostgreSQL 15; 002-007 are not.
fixtures()
{
	new_db $DB >/dev/null || return 1
	new_project $DB || return 1
	M=db/migrations
	cat >$M/001_items.up.sql <<-\EOF
	CREATE TABLE items (id int PRIMARY KEY, price numeric, data jsonb);
	INSERT INTO items VALUES (1, 5, '[1]');
	EOF
	cat >$M/001_items.down.sql <<-\EOF
	ALTER TABLE items ADD CONSTRAINT items_price_nn NOT NULL price;
	DROP TABLE items;
	EOF
	echo "CREATE VIEW cheap AS SELECT * FROM (SELECT id FROM items WHERE price < 10);" >$M/002_pg16_subquery.up.sql
	echo "CREATE VIEW cheap2 AS SELECT * FROM (SELECT 1);" >$M/002_pg16_subquery.down.sql
	echo "CREATE VIEW item_tags AS SELECT * FROM JSON_TABLE('[1]'::jsonb, '\$[*]' COLUMNS (v int PATH '\$'));" >$M/003_pg17_json_table.up.sql
	echo "MERGE INTO items USING (SELECT 1 AS id) s ON items.id = s.id WHEN MATCHED THEN DO NOTHING RETURNING items.id;" >$M/004_pg17_merge_returning.up.sql
	echo "ALTER TABLE items ADD COLUMN double_price numeric GENERATED ALWAYS AS (price * 2) VIRTUAL;" >$M/005_pg18_virtual.up.sql
	echo "UPDATE items SET price = price + 1 RETURNING old.price, new.price;" >$M/006_pg18_returning_old_new.up.sql
	echo "ALTER TABLE items ADD CONSTRAINT items_data_nn NOT NULL data;" >$M/007_pg18_not_null.up.sql
	echo "ALTER TABLE items ALTER COLUMN data DROP NOT NULL;" >$M/007_pg18_not_null.down.sql
	echo "CREATE TABLE plain (id int);" >$M/008_plain.up.sql
}

# The versions the PostgreSQL 15 parser rejects (006 parses: the server
# rejects it).
REJECTED="002 003 004 005 007"

test_expect_success 'static checks, target unknown or newer: warnings left to the server, in up and down files' '
	fixtures
	for args in "" "--postgres-version 18"; do
		run_cf migrate preflight $args --format json
		expect_rc 0
		check_json "
w = [p for p in s[\"problems\"] if p[\"code\"] == \"syntax-left-to-server\"]
files = sorted(p[\"file\"].split(\"/\")[-1] for p in w)
eq(files, [\"001_items.down.sql\", \"002_pg16_subquery.down.sql\", \"002_pg16_subquery.up.sql\",
           \"003_pg17_json_table.up.sql\", \"004_pg17_merge_returning.up.sql\",
           \"005_pg18_virtual.up.sql\", \"007_pg18_not_null.up.sql\"], \"warned files\")
eq(set(p[\"severity\"] for p in w), {\"warning\"}, \"severity\")
eq([p for p in s[\"problems\"] if p[\"severity\"] == \"error\"], [], \"errors\")
"
	done
'

test_expect_success 'static checks for a PostgreSQL 15 target: the up files are errors, the down files only warnings' '
	fixtures
	run_cf migrate preflight --postgres-version 15 --format json
	expect_rc 1
	check_json "
errs = sorted(p[\"file\"].split(\"/\")[-1][:3] for p in s[\"problems\"] if p[\"severity\"] == \"error\")
eq(errs, \"$REJECTED\".split(), \"up files in error\")
downs = [p for p in s[\"problems\"] if p[\"file\"] and p[\"file\"].endswith(\".down.sql\")]
eq(sorted(p[\"severity\"] for p in downs), [\"warning\", \"warning\"], \"down files\")
"
'

test_expect_success 'up spans them on PostgreSQL 15: each rejected file fails with the server'"'"'s message, the rest apply' '
	fixtures
	failed=""
	for i in 1 2 3 4 5 6 7; do
		run_cf migrate up --env local --format json
		[ "$CF_RC" = 0 ] && break
		expect_rc 1
		v=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); m=[x for x in d[\"migrations\"] if x[\"status\"] == \"failed\"][0]; e=m[\"error\"]; print(m[\"version\"], e[\"sqlstate\"], e[\"line\"] > 0)" "$TEST_TMP/out")
		failed="$failed${failed:+,}$v"
		mkdir -p aside && mv db/migrations/${v%% *}_*.up.sql aside/
	done
	expect_rc 0
	expect_eq "002 42601 True,003 42601 True,004 42601 True,005 42601 True,006 42P01 True,007 42601 True" "$failed" "failures"
	expect_eq "001 008" "$(psql_q $DB "SELECT string_agg(version, '"' '"' ORDER BY version) FROM tb_confiture")" "applied"
	expect_eq t "$(psql_q $DB "SELECT to_regclass('"'plain'"') IS NOT NULL")" "plain"
'

test_expect_success 'a down file in PostgreSQL 18 syntax fails on 15 with the server'"'"'s message when it runs' '
	fixtures
	rm db/migrations/00[2-8]_*
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local
	expect_rc 1
	expect_err_contains "001_items.down.sql:1:"
	expect_err_contains "syntax error at or near \"NOT\""
	expect_eq "001" "$(psql_q $DB "SELECT string_agg(version, '"' '"') FROM tb_confiture")" "row kept"
'

test_expect_success 'preflight --against PostgreSQL 15 spans them: the server judges each up file, a down file decides nothing' '
	fixtures
	new_db t0260_against >/dev/null
	run_cf migrate preflight --against "$(db_url t0260_against)" --mode clone --format json
	expect_rc 1
	check_json "
m = d[\"against\"][\"migrations\"]
eq([(x[\"version\"], x[\"success\"]) for x in m],
   [(\"001\", True), (\"002\", False), (\"003\", False), (\"004\", False), (\"005\", False),
    (\"006\", False), (\"007\", False), (\"008\", True)], \"outcomes\")
by = dict((x[\"version\"], x) for x in m)
eq(by[\"002\"][\"message\"], \"subquery in FROM must have an alias\", \"002 server message\")
eq(by[\"006\"][\"sqlstate\"], \"42P01\", \"006 the server, not the parser\")
eq([by[v][\"cause\"] for v in \"$REJECTED 006\".split()], [\"root\"] * 6, \"roots\")
downs = [p for p in s[\"problems\"] if p[\"file\"] and p[\"file\"].endswith(\".down.sql\")]
eq(sorted(p[\"severity\"] for p in downs), [\"warning\", \"warning\"], \"down files\")
"
'

test_done
