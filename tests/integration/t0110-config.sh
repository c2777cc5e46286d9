#!/usr/bin/env bash
# t0110-config.sh — where the database comes from (environment file,
# database: block, ${VAR} expansion, --database-url,
# CONFITURE_DATABASE_URL), configuration errors and warnings, secrets
# never printed, and a custom tracking table.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=$(new_db t0110_cfg) || exit 1
DB2=$(new_db t0110_cfg2) || exit 1
ROLE=t0110_app
PW='S3cretPw!'
psql_q postgres "SET client_min_messages = warning; DROP ROLE IF EXISTS $ROLE" >/dev/null || exit 1
psql_q postgres "CREATE ROLE $ROLE LOGIN PASSWORD '$PW'" >/dev/null || exit 1
psql_q postgres "ALTER DATABASE $DB OWNER TO $ROLE" >/dev/null || exit 1
psql_q postgres "ALTER DATABASE $DB2 OWNER TO $ROLE" >/dev/null || exit 1

# URL for database $1 as the password-holding role.
pw_url()
{
	printf 'postgresql://%s:%s@/%s?host=%s&port=%s\n' "$ROLE" "$PW" "$1" \
		"$PGHOST" "$PGPORT"
}

# Empties both databases.
reset_dbs()
{
	for d in "$DB" "$DB2"; do
		psql_q "$d" "SET client_min_messages = warning; DROP TABLE IF EXISTS tb_confiture, t0110_a, t0110_b; DROP SCHEMA IF EXISTS ops CASCADE; DROP SCHEMA IF EXISTS \"Ops\" CASCADE" >/dev/null
	done
}

# A project with two migrations and no environment file.
mkproject()
{
	reset_dbs
	new_project
	printf 'CREATE TABLE t0110_a (id int);\n' >db/migrations/001_a.up.sql
	printf 'CREATE TABLE t0110_b (id int);\n' >db/migrations/002_b.up.sql
	printf 'DROP TABLE t0110_b;\n' >db/migrations/002_b.down.sql
}

# Prints the applied versions of database $1 (tb_confiture), space-separated.
applied()
{
	psql_q "$1" "SELECT coalesce(string_agg(version, ' ' ORDER BY version), '-') FROM tb_confiture"
}

# Whether table $2 exists in database $1: prints t or f.
has_table()
{
	psql_q "$1" "SELECT to_regclass('$2') IS NOT NULL"
}

test_expect_success 'database_url in the environment file' '
	mkproject
	printf "name: local\ndatabase_url: \"%s\"\n" "$(db_url "$DB")" >db/environments/local.yaml
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "$(db_url "$DB")"
	expect_out_contains "2 pending"
	run_cf migrate up --env local
	expect_rc 0
	expect_err_empty
	expect_eq "001 002" "$(applied "$DB")"
	expect_eq t "$(has_table "$DB" t0110_b)"
	run_cf migrate status -c db/environments/local.yaml
	expect_rc 0
	expect_out_contains "2 applied, 0 pending"
'

test_expect_success 'a database: block, connecting as its user' '
	mkproject
	cat >db/environments/block.yaml <<-EOF
	name: block
	database:
	  host: $PGHOST
	  port: $PGPORT
	  database: $DB
	  user: $ROLE
	  password: "$PW"
	EOF
	run_cf migrate up --env block
	expect_rc 0
	expect_out_contains "2 migrations applied"
	expect_eq "001 002" "$(applied "$DB")"
	expect_eq "$ROLE" "$(psql_q "$DB" "SELECT tableowner FROM pg_tables WHERE tablename = '\''t0110_a'\''")"
	expect_eq "$ROLE" "$(psql_q "$DB" "SELECT tableowner FROM pg_tables WHERE tablename = '\''tb_confiture'\''")"
	expect_eq f "$(has_table "$DB2" tb_confiture)"
'

test_expect_success '${VAR} references are expanded from the environment' '
	mkproject
	cat >db/environments/vars.yaml <<-\EOF
	database_url: "postgresql://${T0110_USER}:${T0110_PW}@/${T0110_DB}?host=${T0110_HOST}&port=${T0110_PORT:-1}"
	EOF
	T0110_USER=$ROLE T0110_PW=$PW T0110_DB=$DB2 T0110_HOST=$PGHOST T0110_PORT=$PGPORT \
		run_cf migrate up --env vars
	expect_rc 0
	expect_eq "001 002" "$(applied "$DB2")"
	expect_eq f "$(has_table "$DB" tb_confiture)"
	expect_eq "$ROLE" "$(psql_q "$DB2" "SELECT tableowner FROM pg_tables WHERE tablename = '\''t0110_a'\''")"
'

test_expect_success 'an unset ${VAR}: exit 2 naming the variable and where, nothing applied' '
	mkproject
	cat >db/environments/vars.yaml <<-\EOF
	name: vars
	database_url: "postgresql:///${T0110_NOT_SET_DB}"
	EOF
	run_cf migrate up --env vars
	expect_rc 2
	expect_out_empty
	expect_err_contains "environment variable '\''T0110_NOT_SET_DB'\'' is not set"
	expect_err_contains "db/environments/vars.yaml:2:15"
	expect_err_contains "HINT: set T0110_NOT_SET_DB"
	expect_eq f "$(has_table "$DB" tb_confiture)"
	expect_eq f "$(has_table "$DB2" tb_confiture)"
'

test_expect_success '--database-url overrides the file' '
	mkproject
	printf "database_url: \"%s\"\n" "$(db_url "$DB")" >db/environments/local.yaml
	run_cf migrate up --env local --database-url "$(db_url "$DB2")" --target 001
	expect_rc 0
	expect_eq 001 "$(applied "$DB2")"
	expect_eq f "$(has_table "$DB" tb_confiture)"
	run_cf migrate status --env local --database-url="$(db_url "$DB2")"
	expect_rc 1
	expect_out_contains "$(db_url "$DB2")"
	expect_out_contains "1 applied, 1 pending"
'

test_expect_success 'CONFITURE_DATABASE_URL overrides the file; --database-url overrides both' '
	mkproject
	printf "database_url: \"%s\"\n" "$(db_url "$DB")" >db/environments/local.yaml
	CONFITURE_DATABASE_URL=$(db_url "$DB2") run_cf migrate up --env local --target 001
	expect_rc 0
	expect_eq 001 "$(applied "$DB2")"
	expect_eq f "$(has_table "$DB" tb_confiture)"
	CONFITURE_DATABASE_URL=$(db_url "$DB2") run_cf migrate up --env local --database-url "$(db_url "$DB")"
	expect_rc 0
	expect_eq "001 002" "$(applied "$DB")"
	expect_eq 001 "$(applied "$DB2")"
'

test_expect_success 'CONFITURE_DATABASE_URL alone, without an environment file' '
	mkproject
	CONFITURE_DATABASE_URL=$(db_url "$DB2") run_cf migrate up
	expect_rc 0
	expect_eq "001 002" "$(applied "$DB2")"
	run_cf migrate up --database-url "$(db_url "$DB")"
	expect_rc 0
	expect_eq "001 002" "$(applied "$DB")"
'

test_expect_success 'a YAML syntax error: exit 2 with file:line:col, nothing applied' '
	mkproject
	cat >db/environments/local.yaml <<-EOF
	name: local
	database_url: "$(db_url "$DB")"
	migration:
	  tracking_table: "unterminated
	EOF
	run_cf migrate up --env local
	expect_rc 2
	expect_out_empty
	expect_err_contains "invalid YAML"
	expect_err_matches "db/environments/local\.yaml:4:[0-9]+"
	expect_eq f "$(has_table "$DB" tb_confiture)"
	cat >db/environments/local.yaml <<-EOF
	name: local
	database_url: "$(db_url "$DB")"
	  bad indentation: x
	EOF
	run_cf migrate status --env local
	expect_rc 2
	expect_err_matches "db/environments/local\.yaml:3:[0-9]+"
'

test_expect_success 'an unknown key: warning with file:line, the command still works' '
	mkproject
	cat >db/environments/local.yaml <<-EOF
	name: local
	database_url: "$(db_url "$DB")"
	schema_dir: db/schema
	migration:
	  strict: true
	EOF
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "warning: unknown configuration key '\''schema_dir'\''"
	expect_err_contains "db/environments/local.yaml:3:1"
	expect_err_contains "warning: unknown configuration key '\''migration.strict'\''"
	expect_err_contains "db/environments/local.yaml:5:3"
	expect_err_not_contains "error"
	expect_out_contains "2 migrations applied"
	expect_eq "001 002" "$(applied "$DB")"
'

test_expect_success 'a wrongly typed value: exit 2 with file:line:col' '
	mkproject
	cat >db/environments/local.yaml <<-EOF
	database_url: "$(db_url "$DB")"
	migration:
	  locking:
	    timeout_ms: soon
	EOF
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "migration.locking.timeout_ms"
	expect_err_contains "local.yaml:4:17"
	expect_eq f "$(has_table "$DB" tb_confiture)"
'

# Every way a URL can reach the output: the password must never appear.
test_expect_success 'a password is never printed: success, JSON, failures, bad files' '
	mkproject
	mkdir outs
	n=0
	capture() {
		n=$((n + 1))
		cp "$TEST_TMP/out" "outs/$n.out"
		cp "$TEST_TMP/err" "outs/$n.err"
	}
	printf "database_url: \"%s\"\n" "$(pw_url "$DB")" >db/environments/pw.yaml
	printf "database_url: \"%s\"\n" "$(pw_url t0110_no_such_db)" >db/environments/nodb.yaml
	cat >db/environments/block.yaml <<-EOF
	database:
	  host: $PGHOST
	  port: $PGPORT
	  database: t0110_no_such_db
	  user: $ROLE
	  password: "$PW"
	EOF
	cat >db/environments/blockerr.yaml <<-EOF
	database:
	  host: $PGHOST
	  password: "$PW"
	  port: [1
	EOF
	printf "database_url: \"postgresql://%s:%s@/%s?host=\${T0110_UNSET}\"\n" "$ROLE" "$PW" "$DB" >db/environments/unset.yaml
	printf "database_url: \"mysql://%s:%s@localhost/x\"\n" "$ROLE" "$PW" >db/environments/scheme.yaml
	printf "database_url: \"postgresql://%s:%s@/x?port=notaport\"\n" "$ROLE" "$PW" >db/environments/badport.yaml
	printf "database_url: \"host=%s port=%s dbname=t0110_no_such_db user=%s password=%s\"\n" \
		"$PGHOST" "$PGPORT" "$ROLE" "$PW" >db/environments/conninfo.yaml
	printf "database_url: \"postgresql://%s@/t0110_no_such_db?host=%s&port=%s&password=%s\"\n" \
		"$ROLE" "$PGHOST" "$PGPORT" "$PW" >db/environments/query.yaml
	printf "database_url: \"%s\"\ndatabase_url: \"%s\"\n" "$(pw_url "$DB")" "$(pw_url "$DB")" >db/environments/dup.yaml
	printf "database_url: \"%s\"\npasword: \"x\"\n" "$(pw_url "$DB")" >db/environments/unknown.yaml
	for f in text json; do
		run_cf migrate status --env pw --format $f; capture
		run_cf migrate up --env pw --format $f --dry-run; capture
		run_cf migrate up --env pw --format $f --target 001; capture
		run_cf migrate down --env pw --format $f --dry-run; capture
		run_cf migrate status --env nodb --format $f; capture
		expect_rc 2
		expect_err_contains "t0110_no_such_db"
		run_cf migrate up --env block --format $f; capture
		expect_rc 2
		expect_err_contains "t0110_no_such_db"
		run_cf migrate up --env conninfo --format $f; capture
		expect_rc 2
		run_cf migrate up --env query --format $f; capture
		expect_rc 2
		run_cf migrate up --database-url "$(pw_url t0110_no_such_db)" --format $f; capture
		expect_rc 2
		CONFITURE_DATABASE_URL=$(pw_url t0110_no_such_db) run_cf migrate status --format $f; capture
		expect_rc 2
		run_cf migrate up --database-url "$(pw_url "$DB")" --format $f; capture
		expect_rc 0
		run_cf migrate up --database-url "$(pw_url "$DB")" --format $f; capture
		run_cf migrate status --database-url "$(pw_url "$DB")" --format $f; capture
		run_cf migrate baseline --through 001 --database-url "$(pw_url "$DB")" --format $f; capture
		run_cf migrate up --database-url "mysql://$ROLE:$PW@h/x" --format $f; capture
		expect_rc 2
		for e in blockerr unset scheme badport dup unknown; do
			run_cf migrate up --env $e --format $f; capture
		done
		expect_err_contains "pasword"
		psql_q "$DB" "DROP TABLE tb_confiture, t0110_a, t0110_b" >/dev/null
	done
	for e in blockerr unset scheme badport dup; do
		run_cf migrate status --env $e
		expect_rc 2
	done
	# the checks above ran: each case printed something
	for i in $(seq 1 $n); do
		test -s outs/$i.out || test -s outs/$i.err
	done
	if grep -r -F "$PW" outs; then
		echo "the password leaked" >&2
		return 1
	fi
	if grep -r -F "S3cretPw" outs; then return 1; fi
	grep -q -r -F "***" outs
'

test_expect_success 'a custom schema-qualified tracking table is created and used' '
	mkproject
	psql_q "$DB" "CREATE SCHEMA ops"
	cat >db/environments/local.yaml <<-EOF
	database_url: "$(db_url "$DB")"
	migration:
	  tracking_table: ops.tb_migrations
	EOF
	run_cf migrate up --env local --target 001
	expect_rc 0
	expect_eq f "$(has_table "$DB" public.tb_confiture)"
	expect_eq 001 "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM ops.tb_migrations")"
	expect_eq "idx_tb_migrations_applied_at idx_tb_migrations_pk_confiture idx_tb_migrations_slug idx_tb_migrations_version" \
		"$(psql_q "$DB" "SELECT string_agg(indexname, '\'' '\'' ORDER BY indexname) FROM pg_indexes WHERE schemaname = '\''ops'\'' AND indexname LIKE '\''idx_%'\''")"
	run_cf migrate status --env local --format json
	expect_rc 1
	expect_out_contains "\"tracking_table\": \"ops.tb_migrations\""
	expect_out_contains "\"tracking_table_exists\": true"
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "1 migration applied"
	expect_eq "001 002" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'' ORDER BY version) FROM ops.tb_migrations")"
	run_cf migrate down --env local
	expect_rc 0
	expect_eq 001 "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM ops.tb_migrations")"
	expect_eq f "$(has_table "$DB" t0110_b)"
'

test_expect_success 'a tracking table name needing quotes is quoted' '
	mkproject
	psql_q "$DB" "CREATE SCHEMA \"Ops\""
	cat >db/environments/local.yaml <<-EOF
	database_url: "$(db_url "$DB")"
	migration:
	  tracking_table: '\''"Ops"."My Tracking"'\''
	EOF
	run_cf migrate up --env local
	expect_rc 0
	expect_eq "001 002" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'' ORDER BY version) FROM \"Ops\".\"My Tracking\"")"
	expect_eq f "$(has_table "$DB" public.tb_confiture)"
	run_cf migrate status --env local
	expect_rc 0
	expect_out_contains "2 applied, 0 pending"
'

test_expect_success 'a tracking table in a missing schema: exit 2, nothing applied' '
	mkproject
	cat >db/environments/local.yaml <<-EOF
	database_url: "$(db_url "$DB")"
	migration:
	  tracking_table: nope.tb_migrations
	EOF
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "schema \"nope\" does not exist"
	expect_eq f "$(has_table "$DB" t0110_a)"
'

test_expect_success 'a password is never printed: unparsable and nested URLs, excerpts' '
	mkproject
	mkdir outs
	n=0
	capture() {
		n=$((n + 1))
		cp "$TEST_TMP/out" "outs/$n.out"
		cp "$TEST_TMP/err" "outs/$n.err"
	}
	q=$(printf "\\047")
	nodb="t0110_no_such_db?host=$PGHOST&port=$PGPORT"
	cat >db/environments/quote.yaml <<-EOF
	database_url: ${q}postgresql://$ROLE:$PW${q}x@h/db${q}
	EOF
	cat >db/environments/typo.yaml <<-EOF
	database_url: "$(pw_url "$DB")"
	pasword: $PW
	EOF
	for u in "postgresql://$ROLE:$PW%zz@h/db" "postgresql://$ROLE:$PW@[bad" \
		"postgresql://$ROLE@/$nodb&password=ab@$PW" \
		"dbname=${q}postgresql://$ROLE:$PW@/$nodb${q}"; do
		for f in text json; do
			run_cf migrate status --database-url "$u" --format $f; capture
			expect_rc 2
			run_cf migrate preflight --from-dump /dev/null --server "$u" \
				--cache-dir "$TEST_TMP/cache" --format $f; capture
			expect_rc 2
		done
	done
	run_cf migrate status --env quote; capture
	expect_rc 2
	expect_err_contains "quote.yaml:1"
	run_cf migrate status --env typo; capture
	expect_rc 1
	expect_err_contains "pasword"
	if grep -r -F -e "$PW" -e "S3cretPw" outs; then
		echo "the password leaked" >&2
		return 1
	fi
	grep -q -r -F "***" outs
'

test_expect_success 'cleanup: drop the role' '
	new_db "$DB" >/dev/null
	new_db "$DB2" >/dev/null
	psql_q postgres "DROP ROLE $ROLE"
'

test_done
