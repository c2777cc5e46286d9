#!/usr/bin/env bash
# t0710-dependents.sh — preflight lists what depends on each object a
# replayed statement replaces, drops or retypes (pg_depend on the replay
# database, read just before the statement): a view under a replaced view
# (and what depends on it in turn), a function used by an index, a policy,
# a view and a trigger, DROP COLUMN and ALTER COLUMN TYPE refused because
# of a view (the server's error and the dependents that explain it), a view
# made by an earlier pending migration; in clone and savepoint mode, in
# text and in JSON valid against docs/preflight.schema.json.  Lint rule
# replace-with-dependents: from those facts in preflight, from the files'
# own history in `migrate lint`; silent on a trigger function's new body.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

PROD=$(new_db t0710_prod) || exit 1
PRE=$(new_db t0710_pre) || exit 1
PROJ=$TEST_TMP/proj
mkdir -p "$PROJ/db/migrations" "$PROJ/db/environments" || exit 1
cat >"$PROJ/db/environments/production.yaml" <<EOF || exit 1
database_url: "$(db_url "$PROD")"
EOF
SCHEMA="$CF_SRC/docs/preflight.schema.json"

CHECK_JSON_PRELUDE='
a = d["against"]
by = dict((m["version"], m) for m in a["migrations"])
def deps(version):
    return [(e["statement_index"], e["line"], e["object_kind"], e["object"],
             [(x["kind"], x["name"], x["via"], x["stored"]) for x in e["dependents"]])
            for e in by[version]["dependents"]]
def codes():
    return [(p["code"], p["file"].rsplit("/", 1)[-1], p["line"])
            for p in d["static"]["problems"] if p["code"] == "replace-with-dependents"]
'

test_expect_success 'setup: production has views, a function under an index, policy and view, a trigger' '
	cd "$PROJ"
	cat >db/migrations/001_base.up.sql <<-\EOF
	CREATE TABLE t (id bigint PRIMARY KEY, a int, c int);
	CREATE VIEW v AS SELECT id, a FROM t;
	CREATE VIEW v2 AS SELECT id, a FROM v;
	CREATE VIEW v3 AS SELECT id FROM v2;
	CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql IMMUTABLE AS '\''select x + 1'\'';
	CREATE INDEX t_f ON t (f(a));
	CREATE VIEW vf AS SELECT f(a) AS fa FROM t;
	ALTER TABLE t ENABLE ROW LEVEL SECURITY;
	CREATE POLICY p ON t USING (f(a) > 0);
	CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS '\''begin return new; end'\'';
	CREATE TRIGGER tt BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
	EOF
	run_cf migrate up --env production
	expect_rc 0
	dump_schema "$PROD" | psql -XAtq -v ON_ERROR_STOP=1 -d "$PRE" >/dev/null
	echo "CREATE OR REPLACE VIEW v AS SELECT id, a FROM t WHERE a > 0;" >db/migrations/002_replace_view.up.sql
	echo "CREATE VIEW w AS SELECT c FROM t;" >db/migrations/003_pending_view.up.sql
	echo "ALTER TABLE t DROP COLUMN c;" >db/migrations/004_drop_column.up.sql
	echo "ALTER TABLE t ALTER COLUMN a TYPE bigint;" >db/migrations/005_retype.up.sql
	cat >db/migrations/006_functions.up.sql <<-\EOF
	CREATE OR REPLACE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS '\''begin new.c := 1; return new; end'\'';
	CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql IMMUTABLE AS '\''select x + 2'\'';
	EOF
	dump_schema "$PRE" >"$TEST_TMP/pre-before"
'

test_expect_success 'clone mode: each statement names what depends on its object' '
	cd "$PROJ"
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone
	expect_rc 1
	expect_out_contains "line 1: view public.v — depends on it: view public.v2, view public.v3 (through public.v2)"
	expect_out_contains "line 1: function public.trg() — depends on it: trigger tt on public.t"
	expect_out_contains "line 2: function public.f(integer) — depends on it: index public.t_f, policy p on public.t, view public.vf"
'

test_expect_success 'a refused DROP COLUMN shows the error and the view of an earlier pending migration' '
	cd "$PROJ"
	expect_out_contains "cannot drop column c of table t because other objects depend on it"
	expect_out_contains "line 1: table column public.t.c — depends on it: view public.w"
'

test_expect_success 'a refused ALTER COLUMN TYPE shows the error and every dependent, through views too' '
	cd "$PROJ"
	expect_out_contains "cannot alter type of a column used by a view or rule"
	expect_out_contains "line 1: table column public.t.a — depends on it: index public.t_f, policy p on public.t, view public.v, view public.vf, view public.v2 (through public.v), view public.v3 (through public.v2)"
'

test_expect_success 'lint: the replaced function under an index is reported, the trigger function is not' '
	cd "$PROJ"
	expect_err_contains "replacing public.f(integer) leaves index public.t_f holding what the old definition computed"
	expect_err_contains "006_functions.up.sql:2:1"
	expect_err_not_contains "006_functions.up.sql:1:1"
	expect_err_contains "DETAIL: lint rule replace-with-dependents"
'

test_expect_success 'JSON: dependents per statement, valid against the schema' '
	cd "$PROJ"
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --format json
	expect_rc 1
	python3 -c "
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
" "$SCHEMA" "$TEST_TMP/out" || exit 1
	check_json "
eq(deps(\"002\"), [(1, 1, \"view\", \"public.v\", [(\"view\", \"public.v2\", None, False), (\"view\", \"public.v3\", \"public.v2\", False)])], \"002\")
eq(deps(\"003\"), [], \"003\")
eq(deps(\"004\"), [(1, 1, \"table column\", \"public.t.c\", [(\"view\", \"public.w\", None, False)])], \"004\")
eq(by[\"004\"][\"sqlstate\"], \"2BP01\", \"004 sqlstate\")
eq([x[1] for x in deps(\"005\")[0][4]], [\"public.t_f\", \"p on public.t\", \"public.v\", \"public.vf\", \"public.v2\", \"public.v3\"], \"005\")
eq(deps(\"006\")[0][3:], (\"public.trg()\", [(\"trigger\", \"tt on public.t\", None, False)]), \"006 trg\")
eq(deps(\"006\")[1][4][0], (\"index\", \"public.t_f\", None, True), \"006 f stored\")
eq(codes(), [(\"replace-with-dependents\", \"006_functions.up.sql\", 2)], \"lint\")
"
'

test_expect_success 'savepoint mode reads the same dependents' '
	cd "$PROJ"
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode savepoint --format json
	expect_rc 1
	check_json "
eq(deps(\"002\")[0][3], \"public.v\", \"002\")
eq(deps(\"004\")[0][4], [(\"view\", \"public.w\", None, False)], \"004\")
eq(len(deps(\"006\")), 2, \"006\")
eq(codes(), [(\"replace-with-dependents\", \"006_functions.up.sql\", 2)], \"lint\")
"
'

test_expect_success '--check-down runs the up file again: its dependents are listed once' '
	cd "$PROJ"
	echo "CREATE OR REPLACE VIEW v AS SELECT id, a FROM t;" >db/migrations/002_replace_view.down.sql
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --check-down --format json
	rm db/migrations/002_replace_view.down.sql
	expect_rc 1
	check_json "
eq(by[\"002\"][\"down\"][\"status\"], \"reversible\", \"down\")
eq(len(deps(\"002\")), 1, \"002 listed once\")
"
'

test_expect_success 'the against database is unchanged' '
	dump_schema "$PRE" >"$TEST_TMP/pre-after"
	cmp "$TEST_TMP/pre-before" "$TEST_TMP/pre-after"
'

test_expect_success '--no-lint keeps the dependents, drops the finding' '
	cd "$PROJ"
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --no-lint --format json
	expect_rc 1
	check_json "
eq(codes(), [], \"lint\")
eq(len(deps(\"006\")), 2, \"006\")
"
'

test_expect_success 'inline ignore silences the finding in preflight' '
	cd "$PROJ"
	cp db/migrations/006_functions.up.sql "$TEST_TMP/006.keep"
	{
		sed -n 1p "$TEST_TMP/006.keep"
		echo "-- confiture:ignore replace-with-dependents same values for every row"
		sed -n 2p "$TEST_TMP/006.keep"
	} >db/migrations/006_functions.up.sql
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --format json
	cp "$TEST_TMP/006.keep" db/migrations/006_functions.up.sql
	expect_rc 1
	check_json "eq(codes(), [], \"lint\")"
'

test_expect_success 'a new argument list beside a used function: reported with its dependents' '
	cd "$PROJ"
	echo "CREATE OR REPLACE FUNCTION f(x bigint) RETURNS int LANGUAGE sql IMMUTABLE AS '\''select 1'\'';" >db/migrations/007_overload.up.sql
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --format json
	rm db/migrations/007_overload.up.sql
	expect_rc 1
	check_json "
eq(deps(\"007\")[0][3], \"public.f(integer)\", \"007 object\")
eq([c for c in codes() if c[1] == \"007_overload.up.sql\"], [(\"replace-with-dependents\", \"007_overload.up.sql\", 1)], \"lint\")
"
'

test_expect_success 'migrate lint alone: the files history shows the index, exit 1' '
	cd "$PROJ"
	run_cf migrate lint --pg-version 15 db/migrations/001_base.up.sql db/migrations/006_functions.up.sql
	expect_rc 1
	expect_out_contains "db/migrations/006_functions.up.sql:2:1"
	expect_out_contains "replacing f(integer) leaves index t_f holding what the old definition computed"
	expect_out_not_contains "006_functions.up.sql:1:1"
'

test_expect_success 'migrate lint on the pending files reads the applied ones for what they define' '
	cd "$PROJ"
	run_cf migrate lint --env production
	expect_rc 1
	expect_out_contains "db/migrations/006_functions.up.sql:2:1"
	expect_out_contains "replacing f(integer) leaves index t_f"
	expect_out_not_contains "001_base.up.sql"
	expect_out_contains "5 files,"
'

test_expect_success 'migrate lint alone: without the definition in the files it stays silent' '
	cd "$PROJ"
	run_cf migrate lint --pg-version 15 --select replace-with-dependents db/migrations/006_functions.up.sql
	expect_rc 0
	expect_out_contains "0 errors, 0 warnings"
'

test_expect_success 'a lookup the server rejects never fails the migration (savepoint of its own)' '
	cd "$PROJ"
	# the model spells the argument type "we.ird" as we.ird, which the
	# lookup reads as type ird of schema we: to_regprocedure() raises
	# "schema does not exist" inside the migration transaction
	cat >db/migrations/008_mood.up.sql <<-\EOF
	CREATE TYPE "we.ird" AS ENUM ('\''ok'\'');
	CREATE FUNCTION g(m "we.ird") RETURNS int LANGUAGE sql AS '\''select 1'\'';
	CREATE OR REPLACE FUNCTION g(m "we.ird") RETURNS int LANGUAGE sql AS '\''select 2'\'';
	EOF
	for mode in clone savepoint; do
		run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode $mode --format json
		check_json "eq(by[\"008\"][\"success\"], True, \"008 $mode\")" || { rm db/migrations/008_mood.up.sql; exit 1; }
	done
	rm db/migrations/008_mood.up.sql
'

test_expect_success 'a mixed-case argument type: the replaced function and its dependents are found' '
	cd "$PROJ"
	cat >db/migrations/008_mood.up.sql <<-\EOF
	CREATE TYPE "Mood" AS ENUM ('\''ok'\'');
	CREATE FUNCTION g(m "Mood") RETURNS int LANGUAGE sql IMMUTABLE AS '\''select 1'\'';
	CREATE TABLE moods (m "Mood");
	CREATE INDEX moods_g ON moods (g(m));
	CREATE OR REPLACE FUNCTION g(m "Mood") RETURNS int LANGUAGE sql IMMUTABLE AS '\''select 2'\'';
	EOF
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode clone --format json
	rm db/migrations/008_mood.up.sql
	check_json "
eq(deps(\"008\"), [(5, 5, \"function\", \"public.g(public.\\\"Mood\\\")\", [(\"index\", \"public.moods_g\", None, True)])], \"008\")
eq([c for c in codes() if c[1] == \"008_mood.up.sql\"], [(\"replace-with-dependents\", \"008_mood.up.sql\", 5)], \"lint\")
"
'

test_expect_success 'a dependent named with terminal escapes is printed escaped' '
	cd "$PROJ"
	psql -XAtq -v ON_ERROR_STOP=1 -d "$PRE" -c "CREATE VIEW \"evil$(printf "\033")[31m\" AS SELECT c FROM t" || exit 1
	echo "ALTER TABLE t DROP COLUMN c;" >db/migrations/007_drop_c.up.sql
	mv db/migrations/003_pending_view.up.sql "$TEST_TMP/003.keep"
	mv db/migrations/004_drop_column.up.sql "$TEST_TMP/004.keep"
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" --mode savepoint
	mv "$TEST_TMP/003.keep" db/migrations/003_pending_view.up.sql
	mv "$TEST_TMP/004.keep" db/migrations/004_drop_column.up.sql
	rm db/migrations/007_drop_c.up.sql
	expect_rc 1
	expect_out_contains "line 1: table column public.t.c — depends on it: view public.\"evil\\x1B[31m\""
	if grep -q "$(printf "\033")" "$TEST_TMP/out"; then echo "raw ESC on stdout"; exit 1; fi
'

test_done
