#!/usr/bin/env bash
# t0230-preflight-analysis.sh — what preflight says about its failures:
# root causes vs consequences (transitive chains, skipped migrations as
# causes, passed migrations never blamed), artifacts of savepoint mode (a
# new enum value used in the same transaction), and non-transactional
# migrations (skipped in savepoint mode, consumed database with
# --allow-non-transactional, run for real in clone mode).
. "$(dirname "$0")/../lib/tap.sh"

# check_json: a = the against section, by = migrations by version,
# verdicts() = (version, ok|skipped|root|consequence, caused_by) rows
CHECK_JSON_PRELUDE='
a = d["against"]
by = dict((m["version"], m) for m in (a["migrations"] if a else []))
def verdicts():
    return [(m["version"], "ok" if m["success"] else "skipped" if m["skipped"]
             else m["cause"], m["caused_by"]) for m in a["migrations"]]
'

unset CONFITURE_DATABASE_URL NO_COLOR

# ---- enum values added and used in the same run

EPROD=$(new_db t0230_enum_prod) || exit 1
EPRE=$(new_db t0230_enum_pre) || exit 1
EPROJ=$TEST_TMP/enum
mkdir -p "$EPROJ/db/migrations" "$EPROJ/db/environments" || exit 1
cat >"$EPROJ/db/environments/production.yaml" <<EOF || exit 1
database_url: "$(db_url "$EPROD")"
EOF

test_expect_success 'enum: setup (type applied on production, copied)' '
	cd "$EPROJ"
	echo "CREATE TYPE mood AS ENUM ('\''ok'\'');" >db/migrations/001_mood.up.sql
	run_cf migrate up --env production
	expect_rc 0
	dump_schema "$EPROD" | psql -XAtq -v ON_ERROR_STOP=1 -d "$EPRE" >/dev/null
	echo "ALTER TYPE mood ADD VALUE '\''happy'\'';" >db/migrations/002_add_happy.up.sql
	cat >db/migrations/003_feelings.up.sql <<-\EOF
	CREATE TABLE feelings (
	    id int PRIMARY KEY,
	    m mood DEFAULT '\''happy'\''
	);
	EOF
	echo "INSERT INTO feelings (id) VALUES (1);" >db/migrations/004_first_feeling.up.sql
	dump_schema "$EPRE" >"$TEST_TMP/enum-before"
'

test_expect_success 'enum: clone mode commits between migrations: all pass' '
	cd "$EPROJ"
	run_cf migrate preflight --env production --against "$(db_url "$EPRE")" --mode clone --format json
	expect_rc 0
	check_json "
eq(a[\"mode\"], \"clone\", \"mode\")
eq(verdicts(), [(\"002\", \"ok\", None), (\"003\", \"ok\", None), (\"004\", \"ok\", None)], \"verdicts\")
eq(a[\"artifacts\"], 0, \"artifacts\")
"
'

test_expect_success 'enum: savepoint mode: 55P04 labelled an artifact, its dependant a consequence' '
	cd "$EPROJ"
	run_cf migrate preflight --env production --against "$(db_url "$EPRE")" --mode savepoint --format json
	expect_rc 1
	check_json "
eq(a[\"mode\"], \"savepoint\", \"mode\")
eq(verdicts(), [(\"002\", \"ok\", None), (\"003\", \"root\", None), (\"004\", \"consequence\", \"003\")], \"verdicts\")
c = by[\"003\"]
eq(c[\"sqlstate\"], \"55P04\", \"003 sqlstate\")
eq(c[\"artifact\"], True, \"003 artifact\")
assert c[\"artifact_reason\"] and \"happy\" in c[\"artifact_reason\"], c[\"artifact_reason\"]
eq((c[\"line\"], c[\"column\"]), (3, 20), \"003 position\")
eq(by[\"004\"][\"artifact\"], False, \"004 artifact\")
eq(by[\"004\"][\"sqlstate\"], \"42P01\", \"004 sqlstate\")
eq((a[\"artifacts\"], a[\"root_causes\"], a[\"consequences\"]), (1, 1, 1), \"counts\")
"
	run_cf migrate preflight --env production --against "$(db_url "$EPRE")" --mode savepoint
	expect_rc 1
	expect_out_matches "✗ 003 feelings .*artifact"
	expect_out_matches "artifact:.*happy"
	expect_out_matches "✗ 004 first_feeling .*consequence of 003"
	expect_out_contains "(1 artifact of savepoint mode)"
'

test_expect_success 'enum: the preflight database is unchanged' '
	dump_schema "$EPRE" >enum-after
	diff -u "$TEST_TMP/enum-before" enum-after
'

# ---- consequence chains

CPRE=$(new_db t0230_chain) || exit 1
CPROJ=$TEST_TMP/chain
mkdir -p "$CPROJ/db/migrations" || exit 1
psql_q "$CPRE" "CREATE TABLE accounts (id int PRIMARY KEY, balance int)" || exit 1
(
	cd "$CPROJ/db/migrations" || exit 1
	# A: fails on its own (no such language)
	cat >001_fee_function.up.sql <<-'EOF'
	CREATE FUNCTION fee(amount int) RETURNS int
	    LANGUAGE plnosuch AS 'return amount';
	EOF
	# B: uses A's function -> consequence of A
	echo 'CREATE VIEW fees AS SELECT id, fee(balance) AS fee FROM accounts;' >002_fees_view.up.sql
	# passes; creates a table C does not need
	echo 'CREATE TABLE ledger (id int, note text);' >003_ledger.up.sql
	# C: uses B's view -> consequence of B (whose root is A)
	echo 'CREATE VIEW big_fees AS SELECT * FROM fees WHERE fee > 10;' >004_big_fees.up.sql
	# fails on its own, though 003 (which passed) created the table
	echo 'ALTER TABLE ledger RENAME COLUMN no_such_col TO n;' >005_ledger_rename.up.sql
	# unrelated missing table: a root cause, not a consequence
	echo 'INSERT INTO nowhere VALUES (1);' >006_nowhere.up.sql
	# needs the index 007 makes concurrently (skipped in savepoint mode)
	echo 'CREATE INDEX CONCURRENTLY accounts_balance ON accounts (balance);' >007_index.up.sql
	echo 'ALTER INDEX accounts_balance RENAME TO accounts_balance_idx;' >008_rename_index.up.sql
) || exit 1
dump_schema "$CPRE" >"$TEST_TMP/chain-before" || exit 1

test_expect_success 'chains: A -> B -> C labelled transitively (savepoint mode)' '
	cd "$CPROJ"
	run_cf migrate preflight --against "$(db_url "$CPRE")" --mode savepoint --format json
	expect_rc 1
	check_json "
eq(verdicts(), [
    (\"001\", \"root\", None),
    (\"002\", \"consequence\", \"001\"),
    (\"003\", \"ok\", None),
    (\"004\", \"consequence\", \"002\"),
    (\"005\", \"root\", None),
    (\"006\", \"root\", None),
    (\"007\", \"skipped\", None),
    (\"008\", \"consequence\", \"007\")], \"verdicts\")
eq(by[\"001\"][\"sqlstate\"], \"42704\", \"001 sqlstate\")
eq(by[\"002\"][\"sqlstate\"], \"42883\", \"002 sqlstate\")
eq(by[\"004\"][\"sqlstate\"], \"42P01\", \"004 sqlstate\")
eq(by[\"005\"][\"sqlstate\"], \"42703\", \"005 sqlstate\")
eq((a[\"failed\"], a[\"root_causes\"], a[\"consequences\"], a[\"skipped\"]), (6, 3, 3, 1), \"counts\")
"
'

test_expect_success 'chains: the text report groups consequences under their root' '
	cd "$CPROJ"
	run_cf migrate preflight --against "$(db_url "$CPRE")" --mode savepoint
	expect_rc 1
	expect_out_contains "6 failed: 3 root causes, 3 consequences"
	expect_out_matches "✗ 002 fees_view .*consequence of 001"
	expect_out_matches "✗ 004 big_fees .*consequence of 002"
	expect_out_matches "✗ 008 rename_index .*consequence of 007"
	expect_out_matches "└ 002 fees_view"
	expect_out_matches "└ 004 big_fees"
	# consequences show one line, not the full error block of a root cause
	expect_out_not_contains "004_big_fees.up.sql:1:"
'

test_expect_success 'chains: clone mode runs the concurrent index, 008 passes' '
	cd "$CPROJ"
	run_cf migrate preflight --against "$(db_url "$CPRE")" --mode clone --format json
	expect_rc 1
	check_json "
eq(verdicts()[6:], [(\"007\", \"ok\", None), (\"008\", \"ok\", None)], \"007-008\")
eq(by[\"007\"][\"autocommit\"], True, \"007 autocommit\")
eq(verdicts()[:2], [(\"001\", \"root\", None), (\"002\", \"consequence\", \"001\")], \"001-002\")
eq(a[\"db_consumed\"], False, \"db_consumed\")
"
	dump_schema "$CPRE" >chain-after
	diff -u "$TEST_TMP/chain-before" chain-after
'

# ---- non-transactional migrations

NPROJ=$TEST_TMP/nontx
mkdir -p "$NPROJ/db/migrations" || exit 1
echo 'CREATE TABLE t0230_a (x int);' >"$NPROJ/db/migrations/001_a.up.sql"
cat >"$NPROJ/db/migrations/002_index.up.sql" <<'EOF'
-- built without blocking writes

CREATE INDEX CONCURRENTLY users_name ON users (name);
EOF
echo 'CREATE TABLE t0230_c (x int);' >"$NPROJ/db/migrations/003_c.up.sql"

# A fresh --against database with a users table.
nontx_db()
{
	new_db "$1" >/dev/null
	psql_q "$1" "CREATE TABLE users (id int, name text)"
}

test_expect_success 'savepoint mode skips a non-transactional migration (neutral: exit 0)' '
	nontx_db t0230_nontx
	dump_schema t0230_nontx >before
	cd "$NPROJ"
	run_cf migrate preflight --against "$(db_url t0230_nontx)" --mode savepoint --format json
	expect_rc 0
	check_json "
eq(verdicts(), [(\"001\", \"ok\", None), (\"002\", \"skipped\", None), (\"003\", \"ok\", None)], \"verdicts\")
assert \"CREATE INDEX CONCURRENTLY\" in by[\"002\"][\"skipped_reason\"], by[\"002\"][\"skipped_reason\"]
assert \"--allow-non-transactional\" in by[\"002\"][\"skipped_reason\"], by[\"002\"][\"skipped_reason\"]
eq(a[\"db_consumed\"], False, \"db_consumed\")
eq(a[\"all_passed\"], True, \"all_passed\")
eq(d[\"static\"][\"all_transactional\"], False, \"all_transactional\")
eq(d[\"static\"][\"migrations\"][1][\"non_transactional_statements\"], [\"CREATE INDEX CONCURRENTLY (line 3)\"], \"listed with its line\")
"
	run_cf migrate preflight --against "$(db_url t0230_nontx)" --mode savepoint
	expect_rc 0
	expect_out_matches "002 index .*skipped"
	expect_eq "Rolled back — preflight DB unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
	dump_schema t0230_nontx >"$TEST_TMP/after"
	diff -u "$TEST_TMP/before" "$TEST_TMP/after"
'

test_expect_success 'savepoint mode --allow-non-transactional runs it and consumes the database' '
	nontx_db t0230_nontx
	cd "$NPROJ"
	run_cf migrate preflight --against "$(db_url t0230_nontx)" --mode savepoint --allow-non-transactional --format json
	expect_rc 0
	check_json "
eq(verdicts(), [(\"001\", \"ok\", None), (\"002\", \"ok\", None), (\"003\", \"ok\", None)], \"verdicts\")
eq(by[\"002\"][\"autocommit\"], True, \"002 autocommit\")
eq(a[\"db_consumed\"], True, \"db_consumed\")
assert \"consumed\" in a[\"closing\"].lower(), a[\"closing\"]
"
	expect_eq 1 "$(psql_q t0230_nontx "SELECT count(*) FROM pg_indexes WHERE indexname = '\''users_name'\''")" "index built for real"
	nontx_db t0230_nontx
	run_cf migrate preflight --against "$(db_url t0230_nontx)" --mode savepoint --allow-non-transactional
	expect_rc 0
	expect_out_matches "✓ 002 index .*autocommit"
	tail -n 1 "$TEST_TMP/out" | grep -qi "consumed"
	expect_out_not_contains "preflight DB unchanged"
'

test_expect_success 'clone mode runs a non-transactional migration for real (passes)' '
	nontx_db t0230_nontx
	dump_schema t0230_nontx >before
	cd "$NPROJ"
	run_cf migrate preflight --against "$(db_url t0230_nontx)" --mode clone --format json
	expect_rc 0
	check_json "
eq(verdicts(), [(\"001\", \"ok\", None), (\"002\", \"ok\", None), (\"003\", \"ok\", None)], \"verdicts\")
eq(by[\"002\"][\"autocommit\"], True, \"002 autocommit\")
eq(a[\"db_consumed\"], False, \"db_consumed\")
"
	dump_schema t0230_nontx >"$TEST_TMP/after"
	diff -u "$TEST_TMP/before" "$TEST_TMP/after"
'

# ---- what a COMMIT checks and a savepoint does not

test_expect_success 'deferred constraints are checked per migration in both modes' '
	new_db t0230_deferred >/dev/null
	psql_q t0230_deferred "CREATE TABLE parent (id int PRIMARY KEY);
		CREATE TABLE child (pid int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)"
	dump_schema t0230_deferred >"$TEST_TMP/before"
	new_project
	echo "INSERT INTO child VALUES (1);" >db/migrations/001_orphan.up.sql
	printf "INSERT INTO child VALUES (2);\nINSERT INTO parent VALUES (2);\n" >db/migrations/002_parent_later.up.sql
	for mode in clone savepoint; do
		run_cf migrate preflight --against "$(db_url t0230_deferred)" --mode $mode --format json
		expect_rc 1
		check_json "
eq(verdicts(), [(\"001\", \"root\", None), (\"002\", \"ok\", None)], \"verdicts\")
eq(by[\"001\"][\"sqlstate\"], \"23503\", \"001 sqlstate\")
assert by[\"001\"][\"file\"].endswith(\"001_orphan.up.sql\"), by[\"001\"][\"file\"]
"
	done
	dump_schema t0230_deferred >"$TEST_TMP/after"
	diff -u "$TEST_TMP/before" "$TEST_TMP/after"
	expect_eq 0 "$(psql_q t0230_deferred "SELECT count(*) FROM child")" "rows left"
'

test_expect_success 'SET TRANSACTION first in a migration: passes in clone mode, artifact in savepoint mode' '
	new_db t0230_settx >/dev/null
	new_project
	printf "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE t0230_s (x int);\n" >db/migrations/001_serializable.up.sql
	echo "INSERT INTO t0230_s VALUES (1);" >db/migrations/002_use.up.sql
	printf "CREATE TABLE t0230_u (x int);\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n" >db/migrations/003_too_late.up.sql
	run_cf migrate preflight --against "$(db_url t0230_settx)" --mode clone --format json
	expect_rc 1
	check_json "
eq(verdicts(), [(\"001\", \"ok\", None), (\"002\", \"ok\", None), (\"003\", \"root\", None)], \"verdicts\")
eq(by[\"003\"][\"sqlstate\"], \"25001\", \"003 sqlstate\")
"
	run_cf migrate preflight --against "$(db_url t0230_settx)" --mode savepoint --format json
	expect_rc 1
	check_json "
eq(verdicts(), [(\"001\", \"root\", None), (\"002\", \"consequence\", \"001\"), (\"003\", \"root\", None)], \"verdicts\")
eq((by[\"001\"][\"sqlstate\"], by[\"001\"][\"artifact\"]), (\"25001\", True), \"001 artifact\")
eq(by[\"003\"][\"artifact\"], False, \"003 fails in a deploy too\")
"
'

test_expect_success 'causes by object identity: the cases once mislabelled, on a real server' '
	new_db t0230_ident >/dev/null
	psql_q t0230_ident "CREATE TABLE a (id int); CREATE TABLE c (id int); CREATE TABLE e (id int);
		CREATE TABLE t (id int, published timestamp, title text);
		CREATE VIEW t_recent AS SELECT id, published FROM t" || return 1
	new_project
	M=db/migrations
	echo "ALTER TABLE a ADD COLUMN nid int REFERENCES nowhere (id);" >$M/001_a_nid.up.sql
	echo "ALTER TABLE c ADD COLUMN nid int REFERENCES nowhere (id);" >$M/002_c_nid.up.sql
	echo "ALTER TABLE e ADD COLUMN nid int;" >$M/003_e_nid.up.sql
	echo "CREATE INDEX a_nid ON a (nid);" >$M/004_a_nid_index.up.sql
	printf "CREATE FUNCTION f(numeric) RETURNS int LANGUAGE sql AS \$\$ SELECT 1 \$\$;\nSELECT 1/0;\n" >$M/005_f.up.sql
	echo "DROP FUNCTION f;" >$M/006_drop_f.up.sql
	echo "ALTER TABLE t ALTER COLUMN published TYPE timestamptz;" >$M/007_published_tz.up.sql
	echo "CREATE INDEX t_day ON t (((published AT TIME ZONE '\''UTC'\'')::date));" >$M/008_t_day.up.sql
	echo "CREATE TABLE events AS SELECT * FROM (SELECT 1 AS id);" >$M/009_events.up.sql
	echo "ALTER TABLE events ADD COLUMN at timestamptz;" >$M/010_events_at.up.sql
	run_cf migrate preflight --against "$(db_url t0230_ident)" --mode clone --format json
	expect_rc 1
	check_json "
eq(verdicts(), [(\"001\", \"root\", None), (\"002\", \"root\", None), (\"003\", \"ok\", None),
    (\"004\", \"consequence\", \"001\"), (\"005\", \"root\", None), (\"006\", \"consequence\", \"005\"),
    (\"007\", \"root\", None), (\"008\", \"consequence\", \"007\"), (\"009\", \"root\", None),
    (\"010\", \"consequence\", \"009\")], \"verdicts\")
eq([(v, by[v][\"sqlstate\"], by[v][\"confidence\"]) for v in (\"004\", \"006\", \"008\", \"010\")],
   [(\"004\", \"42703\", \"certain\"), (\"006\", \"42883\", \"certain\"), (\"008\", \"42P17\", \"likely\"),
    (\"010\", \"42P01\", \"likely\")], \"confidence\")
eq(by[\"001\"][\"confidence\"], None, \"a root has no confidence\")
eq(by[\"009\"][\"message\"], \"subquery in FROM must have an alias\", \"the server judges 009\")
"
	run_cf migrate preflight --against "$(db_url t0230_ident)" --mode clone
	expect_out_matches "✗ 008 t_day .*likely consequence of 007"
	expect_out_matches "✗ 004 a_nid_index .* consequence of 001"
'

test_expect_success 'a failure that would also fail on its own (a table that exists nowhere) stays a root' '
	new_db t0230_alone >/dev/null
	new_project
	printf "CREATE TABLE t1 (id int);\nSELECT 1/0;\n" >db/migrations/001_t1.up.sql
	printf "INSERT INTO t1 VALUES (1);\nINSERT INTO t0230_gone VALUES (1);\n" >db/migrations/002_both.up.sql
	echo "WITH w AS (SELECT 2) INSERT INTO t1 SELECT * FROM w;" >db/migrations/003_with.up.sql
	for mode in clone savepoint; do
		run_cf migrate preflight --against "$(db_url t0230_alone)" --mode $mode --format json
		expect_rc 1
		check_json "
eq(verdicts(), [(\"001\", \"root\", None), (\"002\", \"root\", None), (\"003\", \"consequence\", \"001\")], \"verdicts\")
eq(by[\"002\"][\"sqlstate\"], \"42P01\", \"002 fails first on t1\")
"
	done
'

test_done
