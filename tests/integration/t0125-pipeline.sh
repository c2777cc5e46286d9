#!/usr/bin/env bash
# t0125-pipeline.sh — a transactional migration goes out in pipeline mode
# (statements sent without waiting, one sync): the first error still names
# its statement, file:line:column and SQLSTATE, nothing after it runs and
# nothing is committed; statements that depend on each other work; COPY
# keeps its own error.  A sequence bumped by nextval() is the probe that a
# statement never ran: a rollback does not undo nextval().
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=t0125_pipe
PF=t0125_pf
new_db "$DB" >/dev/null || exit 1
new_db "$PF" >/dev/null || exit 1
PF_URL="postgresql:///$PF?host=$PGHOST&port=$PGPORT&user=postgres"

fresh()
{
	new_db "$DB" >/dev/null
	new_project "$DB"
	q "CREATE SEQUENCE probe"
}

# mig FILE LINE...: writes db/migrations/FILE
mig() { local f=$1; shift; printf '%s\n' "$@" >"db/migrations/$f"; }

q() { psql_q "$DB" "$1"; }
exists() { q "SELECT to_regclass('$1') IS NOT NULL"; }
applied() { q "SELECT coalesce(string_agg(version, ' ' ORDER BY pk_confiture), '-') FROM tb_confiture"; }
# t when nextval('probe') was never called in database $1
probe_untouched() { psql_q "${1:-$DB}" "SELECT NOT is_called FROM probe"; }


test_expect_success 'statements that depend on each other run in order in one unit' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t (id int PRIMARY KEY, v text);" \
		"INSERT INTO t VALUES (1, '\''a'\''), (2, '\''b'\'');" \
		"CREATE INDEX t_v ON t (v);" \
		"UPDATE t SET v = v || id;" \
		"CREATE TABLE t_copy AS SELECT * FROM t;"
	mig 002_b.up.sql "INSERT INTO t SELECT id + 10, v FROM t_copy;"
	run_cf migrate up --env local
	expect_rc 0
	expect_eq "a1,b2,a1,b2" "$(q "SELECT string_agg(v, '\'','\'' ORDER BY id) FROM t")"
	expect_eq t "$(exists t_v)"
	expect_eq "001 002" "$(applied)"
	expect_eq 2 "$(q "SELECT count(*) FROM tb_confiture WHERE execution_time_ms >= 0")"
'

test_expect_success 'an error in the middle: its statement, line:col, SQLSTATE; nothing after it ran, nothing committed' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);" \
		"INSERT INTO t2 VALUES (1);" \
		"SELECT 1," \
		"       2 / (SELECT count(*) - 1 FROM t2) AS boom;" \
		"CREATE TABLE marker (id int);" \
		"SELECT nextval('\''probe'\'');"
	mig 003_c.up.sql "SELECT nextval('\''probe'\'');"
	run_cf migrate up --env local --format json
	expect_rc 1
	check_json "assert d[\"succeeded\"] == 1 and d[\"failed\"] == 1 and len(d[\"migrations\"]) == 2, d"
	check_json "assert (lambda e: e[\"sqlstate\"] == \"22012\" and e[\"statement_index\"] == 3 and e[\"line\"] == 3 and e[\"file\"].endswith(\"002_b.up.sql\") and e[\"statement\"].startswith(\"SELECT 1,\"))(d[\"migrations\"][1][\"error\"]), d"
	expect_eq t "$(probe_untouched)" "probe"
	expect_eq f "$(exists marker)"
	expect_eq f "$(exists t2)"
	expect_eq 001 "$(applied)"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "error: division by zero"
	expect_err_contains "SQLSTATE: 22012"
	expect_err_contains "002_b.up.sql:3:1 (statement 3)"
'

test_expect_success 'the server'\''s error position is mapped to line:col in a pipelined statement' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);" \
		"INSERT INTO t1 VALUES (1);" \
		"SELECT id," \
		"       nosuch_col" \
		"  FROM t1;" \
		"SELECT nextval('\''probe'\'');"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "SQLSTATE: 42703"
	expect_err_contains "001_a.up.sql:4:8 (statement 3)"
	expect_eq t "$(probe_untouched)" "probe"
	expect_eq "-" "$(applied)"
'

test_expect_success 'an error at COMMIT (deferred constraint): a failure of the file, nothing committed, later files not run' '
	fresh
	mig 001_a.up.sql "CREATE TABLE p (id int PRIMARY KEY);" \
		"CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED);" \
		"INSERT INTO c VALUES (42);"
	mig 002_b.up.sql "SELECT nextval('\''probe'\'');"
	run_cf migrate up --env local --format json
	expect_rc 1
	check_json "assert (lambda e: e[\"sqlstate\"] == \"23503\" and e[\"file\"].endswith(\"001_a.up.sql\") and e[\"statement\"] == \"COMMIT\")(d[\"migrations\"][0][\"error\"]), d"
	expect_eq f "$(exists p)"
	expect_eq "-" "$(applied)"
	expect_eq t "$(probe_untouched)" "probe"
'

test_expect_success 'COPY FROM STDIN / TO STDOUT in a transactional migration: its clear error, no hang' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t (id int);" \
		"COPY t FROM STDIN;" \
		"SELECT nextval('\''probe'\'');"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "COPY to or from the client is not supported in a migration"
	expect_err_contains "001_a.up.sql:2:1 (statement 2)"
	expect_eq t "$(probe_untouched)" "probe"
	expect_eq f "$(exists t)"
	expect_eq "-" "$(applied)"
	mig 001_a.up.sql "CREATE TABLE t (id int);" "COPY (SELECT 1) TO STDOUT;"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "COPY to or from the client is not supported in a migration"
	expect_err_contains "001_a.up.sql:2:1 (statement 2)"
	expect_eq f "$(exists t)"
'

test_expect_success 'a large migration (past the drain size, a large result) still names its failing statement' '
	fresh
	{
		echo "CREATE TABLE big (id int PRIMARY KEY, pad text);"
		echo "SELECT g, repeat('\''x'\'', 200) FROM generate_series(1, 20000) g;"
		for i in $(seq 1 3000); do
			echo "INSERT INTO big VALUES ($i, '\''row $i padding padding padding'\'');"
		done
		echo "INSERT INTO big VALUES (7, '\''duplicate'\'');"
		echo "SELECT nextval('\''probe'\'');"
	} >db/migrations/001_big.up.sql
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "SQLSTATE: 23505"
	expect_err_contains "001_big.up.sql:3003:1 (statement 3003)"
	expect_eq t "$(probe_untouched)" "probe"
	expect_eq f "$(exists big)"
	sed -i "\$d" db/migrations/001_big.up.sql
	sed -i "\$d" db/migrations/001_big.up.sql
	run_cf migrate up --env local
	expect_rc 0
	expect_eq 3000 "$(q "SELECT count(*) FROM big")"
'

test_expect_success 'down: an error in the middle of a .down.sql names its statement; the row is kept' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t (id int);"
	mig 001_a.down.sql "DROP TABLE t;" "SELECT 1 / 0;" "SELECT nextval('\''probe'\'');"
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local
	expect_rc 1
	expect_err_contains "SQLSTATE: 22012"
	expect_err_contains "001_a.down.sql:2:1 (statement 2)"
	expect_eq t "$(probe_untouched)" "probe"
	expect_eq t "$(exists t)"
	expect_eq 001 "$(applied)"
'

test_expect_success 'savepoint preflight: the failing statement is named; nothing after it ran' '
	fresh
	new_db "$PF" >/dev/null
	psql_q "$PF" "CREATE SEQUENCE probe"
	mig 001_a.up.sql "CREATE TABLE t (id int);"
	mig 002_b.up.sql "INSERT INTO t VALUES (1);" \
		"INSERT INTO t VALUES ('\''x'\'');" \
		"SELECT nextval('\''probe'\'');"
	mig 003_c.up.sql "SELECT count(*) FROM t;"
	run_cf migrate preflight --against "$PF_URL" --env local --mode savepoint --format json
	expect_rc 1
	check_json "assert [(m[\"version\"], m[\"success\"], m[\"sqlstate\"], m[\"statement_index\"], m[\"line\"]) for m in d[\"against\"][\"migrations\"]] == [(\"001\", True, None, None, None), (\"002\", False, \"22P02\", 2, 2), (\"003\", True, None, None, None)], d"
	expect_eq t "$(probe_untouched "$PF")" "probe"
	expect_eq f "$(psql_q "$PF" "SELECT to_regclass('\''t'\'') IS NOT NULL")"
'

# The server's log tells how a statement came: "execute <unnamed>: ..." is
# the extended protocol of a pipelined unit, "statement: ..." a simple query
# sent alone.  log_statement is set for the preflight's database only, and
# the log is in the order the server ran things.  log_after FILE A B: B is
# logged after A (the first line of FILE holding each).
fresh_logged()
{
	fresh
	new_db "$PF" >/dev/null
	psql_q postgres "ALTER DATABASE $PF SET log_statement = 'all'"
}
# savepoint preflight of $PF; what the server logged meanwhile in log.txt
run_pf_logged()
{
	local mark

	mark=$(wc -l <"$CF_TEST_PGLOG")
	run_cf migrate preflight --against "$PF_URL" --env local --mode savepoint --format json
	tail -n +"$((mark + 1))" "$CF_TEST_PGLOG" >log.txt
}
log_line() { grep -n -F -- "$2" "$1" | head -n 1 | cut -d: -f1; }
log_after()
{
	local a b
	a=$(log_line "$1" "$2") b=$(log_line "$1" "$3")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
		{ echo "log_after: '$3' (line ${b:-none}) not after '$2' (line ${a:-none})"; return 1; }
}

test_expect_success 'savepoint preflight: a migration whose dependents are read stays in pipeline mode, the lookup between the statements before and after it' '
	fresh_logged
	mig 001_a.up.sql "CREATE TABLE t0125_piped (id int, x int);" \
		"CREATE VIEW t0125_piped_v AS SELECT x FROM t0125_piped;"
	mig 002_b.up.sql "CREATE TABLE t0125_alone (id int);" \
		"ALTER TABLE t0125_piped DROP COLUMN x CASCADE;" \
		"CREATE TABLE t0125_after (id int);"
	run_pf_logged
	expect_rc 0
	check_json "assert [(x[\"object\"], [y[\"name\"] for y in x[\"dependents\"]]) for m in d[\"against\"][\"migrations\"] for x in m[\"dependents\"]] == [(\"public.t0125_piped.x\", [\"public.t0125_piped_v\"])], d"
	grep -F "execute <unnamed>: CREATE TABLE t0125_piped (id int, x int)" log.txt
	! grep -F "statement: CREATE TABLE t0125_alone" log.txt
	! grep -F "statement: ALTER TABLE t0125_piped" log.txt
	log_after log.txt "execute <unnamed>: CREATE TABLE t0125_alone (id int)" "pg_catalog.to_regclass"
	log_after log.txt "pg_catalog.to_regclass" "WITH RECURSIVE deps"
	log_after log.txt "WITH RECURSIVE deps" "execute <unnamed>: ALTER TABLE t0125_piped DROP COLUMN x CASCADE"
	log_after log.txt "execute <unnamed>: ALTER TABLE t0125_piped DROP COLUMN x CASCADE" "execute <unnamed>: CREATE TABLE t0125_after (id int)"
	expect_eq f "$(psql_q "$PF" "SELECT to_regclass('\''t0125_piped'\'') IS NOT NULL")"
'

test_expect_success 'savepoint preflight: a DROP whose lookup finds nothing sends no walk; dependents made earlier in the same pipelined migration are read exactly' '
	fresh_logged
	mig 001_a.up.sql "CREATE TABLE t0125_lone (id int DEFAULT 1);" \
		"DROP TABLE t0125_lone;"
	mig 002_b.up.sql "CREATE TABLE t0125_base (id int);" \
		"CREATE VIEW t0125_base_v AS SELECT id FROM t0125_base;" \
		"DROP TABLE t0125_base CASCADE;" \
		"CREATE TABLE t0125_base (id int);" \
		"DROP TABLE t0125_base;"
	run_pf_logged
	expect_rc 0
	check_json "assert [(m[\"version\"], x[\"statement_index\"], x[\"object\"], [y[\"name\"] for y in x[\"dependents\"]]) for m in d[\"against\"][\"migrations\"] for x in m[\"dependents\"]] == [(\"002\", 3, \"public.t0125_base\", [\"public.t0125_base_v\"])], d"
	! grep "statement: \(CREATE\|DROP\)" log.txt
	expect_eq 3 "$(grep -c -F "pg_catalog.to_regclass" log.txt)"
	expect_eq 1 "$(grep -c -F "WITH RECURSIVE deps" log.txt)"
	log_after log.txt "execute <unnamed>: CREATE VIEW t0125_base_v" "WITH RECURSIVE deps"
	log_after log.txt "WITH RECURSIVE deps" "execute <unnamed>: DROP TABLE t0125_base CASCADE"
'

test_expect_success 'savepoint preflight: a column with its own default only sends no walk; a generated column on a column is still found' '
	fresh_logged
	mig 001_a.up.sql "CREATE TABLE t0125_g (a int DEFAULT 1, b int GENERATED ALWAYS AS (a + 1) STORED, c int DEFAULT 2);" \
		"ALTER TABLE t0125_g DROP COLUMN c;" \
		"ALTER TABLE t0125_g DROP COLUMN a CASCADE;"
	run_pf_logged
	expect_rc 0
	check_json "assert [(x[\"statement_index\"], x[\"object\"], [(y[\"kind\"], y[\"name\"], y[\"stored\"]) for y in x[\"dependents\"]]) for m in d[\"against\"][\"migrations\"] for x in m[\"dependents\"]] == [(3, \"public.t0125_g.a\", [(\"generated column\", \"public.t0125_g.b\", True)])], d"
	expect_eq 2 "$(grep -c -F "pg_catalog.to_regclass" log.txt)"
	expect_eq 1 "$(grep -c -F "WITH RECURSIVE deps" log.txt)"
'

test_expect_success 'savepoint preflight: a failure before a statement whose dependents are read: reported as before, no lookup, nothing after it ran' '
	fresh_logged
	psql_q "$PF" "CREATE SEQUENCE probe"
	mig 001_a.up.sql "CREATE TABLE t0125_f (id int);" \
		"SELECT 1 / 0;" \
		"DROP TABLE t0125_f;" \
		"SELECT nextval('\''probe'\'');"
	run_pf_logged
	expect_rc 1
	check_json "assert [(m[\"version\"], m[\"success\"], m[\"sqlstate\"], m[\"statement_index\"], m[\"line\"]) for m in d[\"against\"][\"migrations\"]] == [(\"001\", False, \"22012\", 2, 2)], d"
	! grep -F "pg_catalog.to_regclass" log.txt
	! grep -F "DROP TABLE t0125_f" log.txt
	expect_eq t "$(probe_untouched "$PF")"
'

# the warnings and errors the last run_cf printed (text), in order
warnings_of() { cat "$TEST_TMP/out" "$TEST_TMP/err" | grep -E "^(warning|error):"; }

test_expect_success 'savepoint preflight: lint runs while a migration is in flight, its findings the same, in the same order, as without a replay' '
	fresh_logged
	mig 001_a.up.sql "CREATE TABLE t0125_la (id int PRIMARY KEY, t timestamp);"
	mig 002_big.up.sql "CREATE TABLE t0125_lb (v varchar(10));" \
		"INSERT INTO t0125_lb SELECT g::text FROM generate_series(1, 10) g;" \
		"COMMENT ON TABLE t0125_lb IS '\''the largest file of the three, so lint runs while it is replayed'\'';" \
		"SELECT 1 / 0;"
	mig 003_c.up.sql "CREATE TABLE t0125_lc (t timestamp);"
	run_cf migrate preflight --env local
	warnings_of >static.w
	run_cf migrate preflight --against "$PF_URL" --env local --mode savepoint
	expect_rc 1
	warnings_of >replay.w
	diff -u static.w replay.w
	expect_eq 3 "$(grep -c "^warning:.*\(timestamp\|varchar\|integer\)" replay.w)"
	run_cf migrate preflight --against "$PF_URL" --env local --mode savepoint --format json
	check_json "assert d[\"static\"][\"warnings\"] == $(grep -c "^warning:" static.w), d"
'

test_expect_success 'savepoint preflight: with no transactional migration to wait on, lint runs after the replay, same findings' '
	fresh_logged
	mig 001_nt.up.sql "-- confiture:no-transaction" "CREATE TABLE t0125_nt (t timestamp);"
	run_cf migrate preflight --env local
	warnings_of >static.w
	run_cf migrate preflight --against "$PF_URL" --env local --mode savepoint
	warnings_of >replay.w
	diff -u static.w replay.w
	grep "^warning:.*timestamp" replay.w
'

test_expect_success 'cleanup' '
	psql_q postgres "DROP DATABASE $DB WITH (FORCE)"
	psql_q postgres "DROP DATABASE $PF WITH (FORCE)"
'

test_done
