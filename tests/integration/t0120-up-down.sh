#!/usr/bin/env bash
# t0120-up-down.sh — migrate up, down, status, baseline, generate and init
# against a real database: ordering, the tracking table's exact shape and
# rows, failures (rolled back, located in the file), the checks that run
# before anything is sent, checksums, autocommit migrations, session state
# isolation and JSON output.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=t0120_ud
new_db "$DB" >/dev/null || exit 1
psql_q postgres "SET client_min_messages = warning; DROP ROLE IF EXISTS t0120_r" || exit 1
psql_q postgres "CREATE ROLE t0120_r NOLOGIN" || exit 1

# A fresh database and a project pointing at it (cds into the project).
fresh()
{
	new_db "$DB" >/dev/null
	new_project "$DB"
}

# Writes migration file db/migrations/$1 with the rest of the arguments as
# lines.
mig()
{
	local f="db/migrations/$1"

	shift
	printf '%s\n' "$@" >"$f"
}

q() { psql_q "$DB" "$1"; }

# t when relation $1 exists, else f.
exists() { q "SELECT to_regclass('$1') IS NOT NULL"; }

# Applied versions in application order, space-separated ("-" for none).
applied() { q "SELECT coalesce(string_agg(version, ' ' ORDER BY pk_confiture), '-') FROM tb_confiture"; }

# Checks a JSON document on stdin with a Python expression over `d`.
json_check()
{
	python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = eval(sys.argv[1])
if not ok:
    print("json check failed: " + sys.argv[1], file=sys.stderr)
    print(json.dumps(d, indent=1), file=sys.stderr)
    sys.exit(1)
' "$1"
}

test_expect_success 'up applies in numeric version order; status is 1 then 0' '
	fresh
	q "CREATE TABLE log (n serial, v text)"
	mig 10_c.up.sql "INSERT INTO log (v) VALUES ('\''10'\'');"
	mig 2_b.up.sql "INSERT INTO log (v) VALUES ('\''2'\'');"
	mig 1_a.up.sql "INSERT INTO log (v) VALUES ('\''1'\'');"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "3 migrations: 0 applied, 3 pending"
	expect_out_matches "^  1 +a +pending"
	run_cf migrate up --env local
	expect_rc 0
	expect_err_empty
	expect_out_matches "^  ✓ 1 a "
	expect_out_contains "3 migrations applied"
	expect_eq "1 2 10" "$(q "SELECT string_agg(v, '\'' '\'' ORDER BY n) FROM log")"
	expect_eq "1 2 10" "$(applied)"
	run_cf migrate status --env local
	expect_rc 0
	expect_out_contains "3 migrations: 3 applied, 0 pending"
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "nothing to do"
	expect_eq 3 "$(q "SELECT count(*) FROM log")"
'

test_expect_success 'the tracking table has the Python tool'\''s exact columns' '
	fresh
	mig 1_a.up.sql "SELECT 1;"
	run_cf migrate up --env local
	expect_rc 0
	cat >expected <<-\EOF
	1|id|uuid|||NO|gen_random_uuid()|NO
	2|pk_confiture|bigint|||NO||YES
	3|slug|text|||NO||NO
	4|version|character varying|255||NO||NO
	5|name|character varying|255||NO||NO
	6|applied_at|timestamp with time zone|||NO|now()|NO
	7|execution_time_ms|integer|||YES||NO
	8|checksum|character varying|64||YES||NO
	EOF
	q "SELECT ordinal_position, column_name, data_type, character_maximum_length, NULL, is_nullable, column_default, is_identity FROM information_schema.columns WHERE table_schema = '\''public'\'' AND table_name = '\''tb_confiture'\'' ORDER BY ordinal_position" >actual
	diff -u expected actual
	expect_eq "ALWAYS" "$(q "SELECT identity_generation FROM information_schema.columns WHERE table_name = '\''tb_confiture'\'' AND column_name = '\''pk_confiture'\''")"
'

test_expect_success 'the tracking table has the Python tool'\''s indexes and constraints' '
	fresh
	mig 1_a.up.sql "SELECT 1;"
	run_cf migrate up --env local
	expect_rc 0
	cat >expected <<-\EOF
	idx_tb_confiture_applied_at|CREATE INDEX idx_tb_confiture_applied_at ON public.tb_confiture USING btree (applied_at DESC)
	idx_tb_confiture_pk_confiture|CREATE INDEX idx_tb_confiture_pk_confiture ON public.tb_confiture USING btree (pk_confiture)
	idx_tb_confiture_slug|CREATE INDEX idx_tb_confiture_slug ON public.tb_confiture USING btree (slug)
	idx_tb_confiture_version|CREATE INDEX idx_tb_confiture_version ON public.tb_confiture USING btree (version)
	EOF
	q "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = '\''tb_confiture'\'' AND indexname LIKE '\''idx\_%'\'' ORDER BY indexname" >actual
	diff -u expected actual
	cat >expected <<-\EOF
	p|{id}
	u|{pk_confiture}
	u|{slug}
	u|{version}
	EOF
	q "SELECT contype, (SELECT array_agg(attname ORDER BY attname) FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY (conkey)) FROM pg_constraint WHERE conrelid = '\''tb_confiture'\''::regclass AND contype IN ('\''p'\'', '\''u'\'') ORDER BY 1, 2" >actual
	diff -u expected actual
	expect_eq 0 "$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = '\''tb_confiture'\''::regclass AND contype NOT IN ('\''p'\'', '\''u'\'', '\''n'\'')")"
'

test_expect_success 'tracking rows: version, name, slug, sha256 checksum, execution time' '
	fresh
	mig 001_create_users.up.sql "CREATE TABLE users (id int);" "-- a comment"
	mig 002_add_email.up.sql "ALTER TABLE users ADD email text;"
	run_cf migrate up --env local
	expect_rc 0
	for f in 001_create_users 002_add_email; do
		v=${f%%_*}
		n=${f#*_}
		expect_eq "$n" "$(q "SELECT name FROM tb_confiture WHERE version = '\''$v'\''")"
		q "SELECT slug FROM tb_confiture WHERE version = '\''$v'\''" | grep -Ex "${n}_[0-9]{8}_[0-9]{6}"
		expect_eq "$(sha256sum db/migrations/$f.up.sql | cut -d" " -f1)" \
			"$(q "SELECT checksum FROM tb_confiture WHERE version = '\''$v'\''")" "checksum of $f"
		expect_eq t "$(q "SELECT execution_time_ms IS NOT NULL AND execution_time_ms >= 0 AND applied_at > now() - interval '\''1 minute'\'' AND id IS NOT NULL FROM tb_confiture WHERE version = '\''$v'\''")"
	done
	expect_eq "1 2" "$(q "SELECT string_agg(pk_confiture::text, '\'' '\'' ORDER BY version) FROM tb_confiture")"
	expect_eq t "$(exists users)"
'

test_expect_success '--target applies up to and including a version' '
	fresh
	mig 1_a.up.sql "CREATE TABLE a (id int);"
	mig 2_b.up.sql "CREATE TABLE b (id int);"
	mig 10_c.up.sql "CREATE TABLE c (id int);"
	run_cf migrate up --env local --target 2
	expect_rc 0
	expect_out_contains "2 migrations applied"
	expect_eq "1 2" "$(applied)"
	expect_eq f "$(exists c)"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "2 applied, 1 pending"
	run_cf migrate up --env local --target 99
	expect_rc 2
	expect_err_contains "target version '\''99'\'' not found"
	expect_eq "1 2" "$(applied)"
	run_cf migrate up --env local --target 10
	expect_rc 0
	expect_eq "1 2 10" "$(applied)"
'

test_expect_success '--dry-run lists what would run and changes nothing' '
	fresh
	mig 1_a.up.sql "CREATE TABLE a (id int);"
	mig 2_b.up.sql "CREATE TABLE b (id int);"
	run_cf migrate up --env local --dry-run
	expect_rc 0
	expect_out_contains "dry run: 2 migrations would be applied; nothing was changed"
	expect_eq f "$(exists tb_confiture)"
	expect_eq f "$(exists a)"
	run_cf migrate up --env local --target 1
	expect_rc 0
	run_cf migrate up --env local --dry-run --format json
	expect_rc 0
	json_check "d[\"dry_run\"] is True and [m[\"version\"] for m in d[\"migrations\"]] == [\"2\"] and d[\"migrations\"][0][\"status\"] == \"skipped\"" <"$TEST_TMP/out"
	expect_eq 1 "$(applied)"
	expect_eq f "$(exists b)"
	mig 1_a.down.sql "DROP TABLE a;"
	run_cf migrate down --env local --dry-run
	expect_rc 0
	expect_out_contains "would be rolled back"
	expect_eq 1 "$(applied)"
	expect_eq t "$(exists a)"
'

test_expect_success 'a failing migration: located error, rolled back, later ones not attempted' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int, label text);" \
		"INSERT INTO t2 VALUES (1, '\''x'\'');" \
		"UPDATE t2 SET label = '\''ünï'\'' || nosuch;"
	mig 003_c.up.sql "CREATE TABLE t3 (id int);"
	run_cf migrate up --env local
	expect_rc 1
	expect_out_matches "^  ✓ 001 a "
	expect_out_matches "^  ✗ 002 b "
	expect_out_not_contains "003"
	expect_out_contains "1 applied, 1 failed; later migrations were not attempted"
	expect_err_contains "error: column \"nosuch\" does not exist"
	expect_err_contains "SQLSTATE: 42703"
	expect_err_contains "--> db/migrations/002_b.up.sql:3:32 (statement 3)"
	expect_err_contains "    3 | UPDATE t2 SET label = '\''ünï'\'' || nosuch;"
	grep -Fx "        |                                ^" "$TEST_TMP/err"
	expect_eq 001 "$(applied)"
	expect_eq t "$(exists t1)"
	expect_eq f "$(exists t2)"
	expect_eq f "$(exists t3)"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "1 applied, 2 pending"
'

test_expect_success 'an error inside a multi-line statement points at its line and column' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);" \
		"" \
		"INSERT INTO t1 (id)" \
		"	SELECT g" \
		"	  FROM generate_series(1, 3) g" \
		"	 WHERE g::text > '\''é'\'' AND bogus_col = 1;"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "column \"bogus_col\" does not exist"
	expect_err_contains "001_a.up.sql:6:27 (statement 2)"
	expect_eq "-" "$(applied)"
	expect_eq f "$(exists t1)"
'

test_expect_success 'the server'\''s DETAIL and HINT are shown; a failing COMMIT-time check is a failure' '
	fresh
	mig 001_a.up.sql "CREATE TABLE p (id int PRIMARY KEY);" \
		"CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED);" \
		"INSERT INTO c VALUES (42);"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "SQLSTATE: 23503"
	expect_err_contains "DETAIL: Key (pid)=(42) is not present in table \"p\"."
	expect_eq f "$(exists p)"
	expect_eq "-" "$(applied)"
'

test_expect_success 'a syntax error: the files before it apply, the server judges it with its own message' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	mig 003_c.up.sql "CREATE TABLE t3 (id int);" "CREAT TABLE t4 (id int);"
	run_cf migrate up --env local --format json
	expect_rc 1
	json_check "d[\"succeeded\"] == 2 and d[\"failed\"] == 1 and d[\"migrations\"][2][\"error\"][\"sqlstate\"] == \"42601\" and d[\"migrations\"][2][\"error\"][\"line\"] == 2 and d[\"migrations\"][2][\"error\"][\"column\"] == 1" <"$TEST_TMP/out"
	expect_eq t "$(exists t1)"
	expect_eq f "$(exists t3)"
	expect_eq "001 002" "$(applied)"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "syntax error at or near \"CREAT\""
	expect_err_contains "003_c.up.sql:2:1"
'

test_expect_success 'up reads only the files it runs: a broken .down.sql and a file past --target do not stop it' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 001_a.down.sql "ALTER TABLE t1 ADD CONSTRAINT t1_nn NOT NULL id;" "DROP TABLE t1" "DROP TABLE t1;"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	mig 003_c.up.sql "SELEC 1;"
	run_cf migrate up --env local --target 002
	expect_rc 0
	expect_err_not_contains "001_a.down.sql"
	expect_err_not_contains "003_c.up.sql"
	expect_eq "001 002" "$(applied)"
	run_cf migrate status --env local
	expect_err_not_contains "003_c"
'

test_expect_success 'a Python migration applied long ago: a note, not a refusal' '
	fresh
	mig 001_old.py "def up(conn): pass"
	mig 002_a.up.sql "CREATE TABLE t1 (id int);"
	run_cf migrate baseline --env local --through 001
	expect_rc 0
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "note: Python migration '\''001_old.py'\'' is not supported"
	expect_eq t "$(exists t1)"
	expect_eq "001 002" "$(applied)"
'

test_expect_success 'down parses only the .down.sql files it rolls back' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 001_a.down.sql "DROP TABLE t1" "DROP TABLE t1;"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	mig 002_b.down.sql "DROP TABLE t2;"
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local
	expect_rc 0
	expect_eq f "$(exists t2)"
	run_cf migrate down --env local
	expect_rc 1
	expect_err_contains "001_a.down.sql:2:1"
	expect_eq t "$(exists t1)"
	expect_eq "001" "$(applied)"
'

test_expect_success 'duplicate versions: exit 1 naming both files' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_users.up.sql "CREATE TABLE t2 (id int);"
	mig 002_accounts.up.sql "CREATE TABLE t3 (id int);"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "duplicate migration version '\''002'\''"
	expect_err_contains "002_users.up.sql"
	expect_err_contains "002_accounts.up.sql"
	expect_eq f "$(exists tb_confiture)"
	expect_eq f "$(exists t1)"
'

test_expect_success 'a Python migration: error with the fix, nothing applied' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_data.py "def up(conn): pass"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "Python migration '\''002_data.py'\'' is not supported"
	expect_err_contains "HINT: rewrite it as 002_data.up.sql"
	expect_eq f "$(exists t1)"
'

test_expect_success 'an applied file edited afterwards: exit 1 unless warn or ignore' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	run_cf migrate up --env local
	expect_rc 0
	old=$(sha256sum db/migrations/001_a.up.sql | cut -d" " -f1)
	mig 001_a.up.sql "CREATE TABLE t1 (id bigint);"
	new=$(sha256sum db/migrations/001_a.up.sql | cut -d" " -f1)
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "error: applied migration 001 (a) was modified after it was applied"
	expect_err_contains "recorded checksum $old, file checksum $new"
	expect_err_contains "--on-checksum-mismatch=warn"
	expect_eq 001 "$(applied)"
	expect_eq f "$(exists t2)"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "(file changed since applied)"
	run_cf migrate status --env local --format json
	json_check "[m[\"checksum_mismatch\"] for m in d[\"migrations\"]] == [True, False]" <"$TEST_TMP/out"
	run_cf migrate up --env local --on-checksum-mismatch=warn
	expect_rc 0
	expect_err_contains "warning: applied migration 001 (a) was modified"
	expect_eq "001 002" "$(applied)"
	expect_eq "$old" "$(q "SELECT checksum FROM tb_confiture WHERE version = '\''001'\''")"
	mig 003_c.up.sql "CREATE TABLE t3 (id int);"
	run_cf migrate up --env local --on-checksum-mismatch ignore
	expect_rc 0
	expect_err_empty
	expect_eq "001 002 003" "$(applied)"
'

test_expect_success 'a BEGIN/COMMIT wrapper around the whole file is stripped with a warning' '
	fresh
	mig 001_a.up.sql "BEGIN;" "CREATE TABLE t1 (id int);" "INSERT INTO t1 VALUES (1);" "COMMIT;"
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "warning: BEGIN ... COMMIT wrapper removed"
	expect_err_contains "001_a.up.sql:1:1"
	expect_eq 1 "$(q "SELECT count(*) FROM t1")"
	expect_eq 001 "$(applied)"
	expect_eq "$(sha256sum db/migrations/001_a.up.sql | cut -d" " -f1)" "$(q "SELECT checksum FROM tb_confiture")"
'

test_expect_success 'COMMIT in the middle of a file is refused before anything is sent' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);" "COMMIT;" "CREATE TABLE t3 (id int);"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "transaction control statement '\''COMMIT'\'' is not allowed"
	expect_err_contains "002_b.up.sql:2:1"
	expect_eq f "$(exists tb_confiture)"
	expect_eq f "$(exists t1)"
	expect_eq f "$(exists t2)"
'

test_expect_success 'a psql meta-command is a clear error' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);" "\\i other.sql"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "psql meta-command '\''\\i'\'' is not supported"
	expect_err_contains "001_a.up.sql:2:1"
	expect_eq f "$(exists t1)"
	expect_eq f "$(exists tb_confiture)"
'

test_expect_success 'CREATE INDEX CONCURRENTLY runs in autocommit and is applied' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_idx.up.sql "CREATE INDEX CONCURRENTLY t1_id_idx ON t1 (id);"
	mig 003_b.up.sql "CREATE TABLE t2 (id int);"
	run_cf migrate up --env local
	expect_rc 0
	expect_out_matches "^  ✓ 002 idx .*\(autocommit\)$"
	expect_err_contains "CREATE INDEX CONCURRENTLY"
	expect_eq "001 002 003" "$(applied)"
	expect_eq t "$(q "SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = '\''t1_id_idx'\''::regclass")"
	expect_eq "$(sha256sum db/migrations/002_idx.up.sql | cut -d" " -f1)" "$(q "SELECT checksum FROM tb_confiture WHERE version = '\''002'\''")"
'

test_expect_success 'the no-transaction marker runs the file in autocommit' '
	fresh
	mig 001_nt.up.sql "-- confiture:no-transaction" "CREATE TABLE t1 (id int);" "INSERT INTO t1 VALUES (1);"
	mig 002_fail.up.sql "-- confiture:no-transaction" "CREATE TABLE t2 (id int);" "SELECT 1 / 0;" "CREATE TABLE t3 (id int);"
	run_cf migrate up --env local
	expect_rc 1
	expect_out_matches "^  ✓ 001 nt .*\(autocommit\)$"
	expect_err_contains "division by zero"
	expect_err_contains "002_fail.up.sql:3:"
	expect_err_contains "ran in autocommit"
	expect_eq 001 "$(applied)"
	expect_eq 1 "$(q "SELECT count(*) FROM t1")"
	# autocommit: the statement before the failing one stays committed
	expect_eq t "$(exists t2)"
	expect_eq f "$(exists t3)"
'

test_expect_success 'down -n 2 runs .down.sql newest first and deletes the rows' '
	fresh
	q "CREATE TABLE log (n serial, v text)"
	for v in 1 2 3; do
		mig 00${v}_m$v.up.sql "CREATE TABLE t$v (id int);"
		mig 00${v}_m$v.down.sql "DROP TABLE t$v;" "INSERT INTO log (v) VALUES ('\''$v'\'');"
	done
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local -n 2
	expect_rc 0
	expect_out_contains "2 migrations rolled back"
	expect_eq "3 2" "$(q "SELECT string_agg(v, '\'' '\'' ORDER BY n) FROM log")"
	expect_eq 001 "$(applied)"
	expect_eq t "$(exists t1)"
	expect_eq f "$(exists t2)"
	expect_eq f "$(exists t3)"
	run_cf migrate down --env local
	expect_rc 0
	expect_eq "-" "$(applied)"
	run_cf migrate down --env local
	expect_rc 0
	expect_out_contains "nothing to do"
'

test_expect_success 'down with a missing .down.sql: error, nothing changed' '
	fresh
	q "CREATE TABLE log (n serial, v text)"
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	mig 003_c.up.sql "CREATE TABLE t3 (id int);"
	mig 003_c.down.sql "DROP TABLE t3;" "INSERT INTO log (v) VALUES ('\''3'\'');"
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local -n 2
	expect_rc 1
	expect_err_contains "cannot roll back 002 (b): it has no .down.sql file"
	expect_err_contains "HINT: write 002_b.down.sql"
	expect_eq "001 002 003" "$(applied)"
	expect_eq t "$(exists t3)"
	expect_eq 0 "$(q "SELECT count(*) FROM log")"
'

test_expect_success 'a failing .down.sql is rolled back and its row kept' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 001_a.down.sql "DROP TABLE t1;" "SELECT 1 / 0;"
	run_cf migrate up --env local
	run_cf migrate down --env local
	expect_rc 1
	expect_err_contains "001_a.down.sql:2:"
	expect_eq 001 "$(applied)"
	expect_eq t "$(exists t1)"
'

test_expect_success 'baseline --through records without executing' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	mig 003_c.up.sql "CREATE TABLE t3 (id int);"
	run_cf migrate baseline --env local --through 002
	expect_rc 0
	expect_out_contains "2 migrations recorded"
	expect_eq "001 002" "$(applied)"
	expect_eq f "$(exists t1)"
	expect_eq f "$(exists t2)"
	expect_eq 2 "$(q "SELECT count(*) FROM tb_confiture WHERE slug ~ '\''^[ab]_[0-9]{8}_[0-9]{6}_baseline$'\''")"
	expect_eq "$(sha256sum db/migrations/002_b.up.sql | cut -d" " -f1)" "$(q "SELECT checksum FROM tb_confiture WHERE version = '\''002'\''")"
	run_cf migrate baseline --env local --through 009
	expect_rc 2
	expect_err_contains "version '\''009'\'' not found"
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "1 migration applied"
	expect_eq "001 002 003" "$(applied)"
	expect_eq t "$(exists t3)"
	expect_eq f "$(exists t1)"
'

test_expect_success 'generate NAME writes an up/down pair with a 14-digit version' '
	fresh
	run_cf migrate generate add_users
	expect_rc 0
	expect_eq 2 "$(ls db/migrations | wc -l)"
	ls db/migrations | grep -Ex "[0-9]{14}_add_users\.up\.sql"
	ls db/migrations | grep -Ex "[0-9]{14}_add_users\.down\.sql"
	up=$(ls db/migrations/*_add_users.up.sql)
	expect_out_contains "created $up"
	v=$(basename "$up" | cut -c1-14)
	test -f "db/migrations/${v}_add_users.down.sql"
	test "$v" -ge "$(date -u -d "-1 day" +%Y%m%d%H%M%S)"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "$v"
	run_cf migrate up --env local
	expect_rc 0
	expect_eq "$v" "$(applied)"
	run_cf migrate down --env local
	expect_rc 0
	expect_eq "-" "$(applied)"
'

test_expect_success 'init scaffolds a project and is idempotent' '
	mkdir proj
	cd proj
	run_cf init
	expect_rc 0
	expect_out_contains "created ./db/environments/local.yaml"
	test -d db/migrations
	test -d db/schema
	test -f db/environments/local.yaml
	grep -q "^database_url:" db/environments/local.yaml
	echo "# mine" >>db/environments/local.yaml
	sum=$(sha256sum db/environments/local.yaml)
	run_cf init
	expect_rc 0
	expect_out_contains "nothing to do"
	expect_eq "$sum" "$(sha256sum db/environments/local.yaml)"
	cd ..
	run_cf init other
	expect_rc 0
	test -f other/db/environments/local.yaml
	run_cf migrate status -C other --database-url "$(db_url "$DB")"
	expect_rc 0
	expect_out_contains "no migrations found"
'

test_expect_success '--format json for status, up and down is valid JSON with the fields' '
	fresh
	mig 001_a.up.sql "CREATE TABLE t1 (id int);"
	mig 001_a.down.sql "DROP TABLE t1;"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);"
	run_cf migrate status --env local --format json
	expect_rc 1
	json_check "d[\"pending\"] == [\"001\", \"002\"] and d[\"applied\"] == [] and d[\"summary\"] == {\"applied\": 0, \"pending\": 2, \"total\": 2} and d[\"tracking_table_exists\"] is False and d[\"current\"] is None" <"$TEST_TMP/out"
	run_cf migrate up --env local --format json --target 001
	expect_rc 0
	json_check "d[\"action\"] == \"up\" and d[\"succeeded\"] == 1 and d[\"failed\"] == 0 and d[\"migrations\"][0][\"version\"] == \"001\" and d[\"migrations\"][0][\"status\"] == \"ok\" and isinstance(d[\"migrations\"][0][\"execution_time_ms\"], int)" <"$TEST_TMP/out"
	run_cf migrate status --env local -f json
	expect_rc 1
	json_check "d[\"applied\"] == [\"001\"] and d[\"current\"] == \"001\" and d[\"migrations\"][0][\"status\"] == \"applied\" and d[\"migrations\"][0][\"applied_at\"].endswith(\"Z\") and d[\"migrations\"][1][\"applied_at\"] is None and len(d[\"migrations\"][0][\"checksum\"]) == 64" <"$TEST_TMP/out"
	mig 002_b.up.sql "CREATE TABLE t2 (id int);" "SELECT nope;"
	run_cf migrate up --env local --format json
	expect_rc 1
	json_check "d[\"failed\"] == 1 and d[\"migrations\"][0][\"status\"] == \"failed\" and d[\"migrations\"][0][\"error\"][\"sqlstate\"] == \"42703\" and d[\"migrations\"][0][\"error\"][\"line\"] == 2 and d[\"migrations\"][0][\"error\"][\"file\"].endswith(\"002_b.up.sql\")" <"$TEST_TMP/out"
	run_cf migrate down --env local --format json
	expect_rc 0
	json_check "d[\"action\"] == \"down\" and d[\"succeeded\"] == 1 and [m[\"version\"] for m in d[\"migrations\"]] == [\"001\"]" <"$TEST_TMP/out"
	expect_eq "-" "$(applied)"
	mig 003_c.up.sql "SELECT 1;" "COMMIT;"
	run_cf migrate up --env local --format json
	expect_rc 1
	json_check "d[\"error\"][\"code\"] == \"invalid-migrations\" and d[\"problems\"][0][\"line\"] == 2" <"$TEST_TMP/out"
'

test_expect_success 'SET search_path / SET ROLE in one migration does not leak into the next' '
	fresh
	q "CREATE SCHEMA other; GRANT ALL ON SCHEMA other TO t0120_r"
	mig 001_path.up.sql "SET search_path = other;"
	mig 002_role.up.sql "SET ROLE t0120_r;" "SET statement_timeout = 1;"
	mig 003_t.up.sql "CREATE TABLE lands_here (id int);" "SELECT pg_sleep(0.01);"
	run_cf migrate up --env local
	expect_rc 0
	expect_eq "public|postgres" "$(q "SELECT n.nspname || '\''|'\'' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE relname = '\''lands_here'\''")"
	expect_eq "001 002 003" "$(applied)"
	expect_eq f "$(exists other.tb_confiture)"
'

test_expect_success 'cleanup' '
	q "SELECT 1" >/dev/null
	psql_q postgres "DROP DATABASE $DB WITH (FORCE)"
	psql_q postgres "SET client_min_messages = warning; DROP ROLE IF EXISTS t0120_r"
'

test_done
