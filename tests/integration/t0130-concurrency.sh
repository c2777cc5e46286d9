#!/usr/bin/env bash
# t0130-concurrency.sh — the migration lock: two runs at once apply every
# migration exactly once, and the advisory-lock key is the Python tool's
# (so a lock held by it, or by hand, keeps confiture out).
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=t0130_conc
LOCKDB=myapp_production
CLASS=1751936052

# The Python tool's key: first 4 bytes of sha256(dbname) & 0x7fffffff.
lock_key()
{
	local h

	h=$(printf %s "$1" | sha256sum | cut -c1-8)
	echo $((0x$h & 0x7fffffff))
}

# Starts a psql session on database $1 that takes advisory lock
# ($CLASS, $2) and keeps it until release_lock.  Its input is fd 9.
hold_lock()
{
	rm -f lock.fifo
	mkfifo lock.fifo
	psql -XAtq -v ON_ERROR_STOP=1 -d "$1" <lock.fifo >lock.out 2>&1 &
	LOCK_PID=$!
	exec 9>lock.fifo
	echo "SELECT pg_advisory_lock($CLASS, $2);" >&9
	for _ in $(seq 100); do
		LOCK_BACKEND=$(psql_q "$1" "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $CLASS AND objid = $2 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
		if [ -n "$LOCK_BACKEND" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "the helper session never got the lock" >&2
	cat lock.out >&2
	return 1
}

release_lock()
{
	echo "SELECT pg_advisory_unlock($CLASS, $1);" >&9
	exec 9>&-
	wait "$LOCK_PID"
}

# A fresh $LOCKDB and a project whose prod.yaml reaches it with lock
# timeout $1 ms, and one migration creating t1.
lock_project()
{
	new_db "$LOCKDB" >/dev/null || return 1
	new_project || return 1
	cat >db/environments/prod.yaml <<-EOF
	database_url: "$(db_url "$LOCKDB")"
	migration:
	  locking:
	    timeout_ms: $1
	EOF
	printf "CREATE TABLE t1 (id int);\n" >db/migrations/001_a.up.sql
}

test_expect_success 'the Python key for the database names used here' '
	expect_eq 561172188 "$(lock_key app)"
	expect_eq 692237180 "$(lock_key postgres)"
	expect_eq 415139148 "$(lock_key myapp_production)"
'

test_expect_success 'two concurrent up runs apply every migration exactly once' '
	new_db "$DB" >/dev/null
	new_project "$DB"
	psql_q "$DB" "CREATE TABLE log (n serial, v text, pid int DEFAULT pg_backend_pid())"
	for v in 1 2 3 4 5; do
		extra=""
		if [ $v = 2 ]; then extra="SELECT pg_sleep(1);"; fi
		printf "CREATE TABLE t%s (id int);\n%s\nINSERT INTO log (v) VALUES ('\''%s'\'');\n" "$v" "$extra" "$v" >db/migrations/00${v}_m$v.up.sql
	done
	"$CONFITURE" migrate up --env local >run1.out 2>run1.err &
	p1=$!
	"$CONFITURE" migrate up --env local >run2.out 2>run2.err &
	p2=$!
	rc1=0 rc2=0
	wait $p1 || rc1=$?
	wait $p2 || rc2=$?
	cat run1.out run1.err run2.out run2.err
	expect_eq 0 "$rc1" "exit status of run 1"
	expect_eq 0 "$rc2" "exit status of run 2"
	expect_eq 5 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	expect_eq 5 "$(psql_q "$DB" "SELECT count(DISTINCT version) FROM tb_confiture")"
	expect_eq "1 2 3 4 5" "$(psql_q "$DB" "SELECT string_agg(v, '\'' '\'' ORDER BY n) FROM log")"
	# all five by one process, the other found nothing to do
	expect_eq 1 "$(psql_q "$DB" "SELECT count(DISTINCT pid) FROM log")"
	cat run1.out run2.out | grep -c "5 migrations applied" | grep -x 1
	cat run1.out run2.out | grep -c "nothing to do" | grep -x 1
	# the waiter said whom it waited for, and nothing else
	expect_eq "" "$(cat run1.err run2.err | grep -v "^waiting for the migration lock (.*): held by pid [0-9]* '\''confiture migrate up'\'' (local socket, connected since " || true)"
	cat run1.err run2.err | grep -c "^waiting for the migration lock" | grep -x 1
	expect_eq 5 "$(psql_q "$DB" "SELECT count(*) FROM pg_class WHERE relname ~ '\''^t[1-5]$'\''")"
'

test_expect_success 'a lock held with the Python key keeps up out (exit 2), then it runs' '
	lock_project 1000
	hold_lock "$LOCKDB" 415139148
	start=$(date +%s%N)
	run_cf migrate up --env prod
	elapsed=$((($(date +%s%N) - start) / 1000000))
	expect_rc 2
	expect_err_contains "could not acquire the migration lock within 1000 ms"
	expect_err_contains "advisory lock (1751936052, 415139148) on database '\''myapp_production'\''"
	# who holds it: said while waiting, once (not a terminal), and in
	# the error
	expect_err_matches "^waiting for the migration lock \(0 s\): held by pid $LOCK_BACKEND '\''psql'\'' \(local socket, connected since [0-9-]+ [0-9:]+ [A-Z]+\), idle since [0-9-]+ [0-9:]+ [A-Z]+: SELECT pg_advisory_lock\($CLASS, 415139148\);$"
	expect_eq 1 "$(grep -c "^waiting for the migration lock" "$TEST_TMP/err")"
	expect_err_contains "held by pid $LOCK_BACKEND (application_name '\''psql'\'', local socket, connected since "
	expect_err_contains "pg_terminate_backend(PID)"
	expect_out_not_contains "applied"
	test "$elapsed" -ge 900
	test "$elapsed" -lt 10000
	expect_eq f "$(psql_q "$LOCKDB" "SELECT to_regclass('\''t1'\'') IS NOT NULL")"
	expect_eq f "$(psql_q "$LOCKDB" "SELECT to_regclass('\''tb_confiture'\'') IS NOT NULL")"
	run_cf migrate up --env prod --format json
	expect_rc 2
	python3 -c "import json,sys; d = json.load(sys.stdin); assert \"lock\" in d[\"error\"][\"message\"]" <"$TEST_TMP/out"
	release_lock 415139148
	run_cf migrate up --env prod
	expect_rc 0
	expect_out_contains "1 migration applied"
	expect_eq t "$(psql_q "$LOCKDB" "SELECT to_regclass('\''t1'\'') IS NOT NULL")"
	# confiture released its own lock when it finished
	# (in this database: other scripts may run at the same time)
	expect_eq 0 "$(psql_q "$LOCKDB" "SELECT count(*) FROM pg_locks WHERE locktype = '\''advisory'\'' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")"
'

test_expect_success 'the holder'\''s statement is never printed with a password in it' '
	lock_project 300
	hold_lock "$LOCKDB" 415139148
	# the holder'\''s last statement names a password
	echo "SELECT '\''host=db password=hunter2'\'' AS s;" >&9
	for _ in $(seq 100); do
		if psql_q "$LOCKDB" "SELECT query FROM pg_stat_activity WHERE pid = $LOCK_BACKEND" | grep -q hunter2; then
			break
		fi
		sleep 0.05
	done
	run_cf migrate up --env prod --format json
	release_lock 415139148
	expect_rc 2
	expect_err_contains "(statement hidden: it mentions a password)"
	expect_err_not_contains "hunter2"
	expect_out_not_contains "hunter2"
'

test_expect_success 'a lock under another database'\''s key does not block' '
	lock_project 1000
	hold_lock "$LOCKDB" 561172188
	run_cf migrate up --env prod
	release_lock 561172188
	expect_rc 0
	expect_eq t "$(psql_q "$LOCKDB" "SELECT to_regclass('\''t1'\'') IS NOT NULL")"
'

test_expect_success 'the key of the postgres database is the Python one too' '
	new_project
	cat >db/environments/pg.yaml <<-EOF
	database_url: "$(db_url postgres)"
	migration:
	  locking:
	    timeout_ms: 300
	EOF
	printf "CREATE TABLE t0130_never (id int);\n" >db/migrations/001_a.up.sql
	hold_lock postgres 692237180
	run_cf migrate up --env pg --dry-run
	release_lock 692237180
	expect_rc 2
	expect_err_contains "advisory lock (1751936052, 692237180) on database '\''postgres'\''"
	expect_eq f "$(psql_q postgres "SELECT to_regclass('\''t0130_never'\'') IS NOT NULL")"
'

test_expect_success 'locking.enabled: false skips the lock' '
	new_db "$LOCKDB" >/dev/null
	new_project
	cat >db/environments/prod.yaml <<-EOF
	database_url: "$(db_url "$LOCKDB")"
	migration:
	  locking:
	    enabled: false
	    timeout_ms: 100
	EOF
	printf "CREATE TABLE t1 (id int);\n" >db/migrations/001_a.up.sql
	hold_lock "$LOCKDB" 415139148
	run_cf migrate up --env prod
	release_lock 415139148
	expect_rc 0
	expect_eq t "$(psql_q "$LOCKDB" "SELECT to_regclass('\''t1'\'') IS NOT NULL")"
'

test_expect_success 'cleanup' '
	psql_q postgres "DROP DATABASE $DB WITH (FORCE)"
	psql_q postgres "DROP DATABASE $LOCKDB WITH (FORCE)"
'

test_done
