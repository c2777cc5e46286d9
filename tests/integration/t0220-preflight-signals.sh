#!/usr/bin/env bash
# t0220-preflight-signals.sh — preflight under hostile conditions: its
# backend killed mid-run, SIGINT, a lock held by another session, a
# statement that runs too long.  Every time it must end quickly with a
# clear verdict, leave the --against database as it was and leave no
# cf_preflight_* clone behind.
#
# Exit codes decided here: a killed backend is a failure of the migration
# that was running (exit 1); in clone mode preflight reconnects and replays
# the rest, in savepoint mode the rest are skipped (the transaction is
# gone).  SIGINT is exit 2 ("interrupted").
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

PRE=$(new_db t0220_pre) || exit 1
URL=$(db_url "$PRE")
psql_q "$PRE" "CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (1)" || exit 1

dump_schema "$PRE" >"$TEST_TMP/pre-before" || exit 1

expect_pre_unchanged()
{
	dump_schema "$PRE" >"$TEST_TMP/pre-after"
	diff -u "$TEST_TMP/pre-before" "$TEST_TMP/pre-after" || return 1
	expect_eq 1 "$(psql_q "$PRE" "SELECT count(*) FROM users")" "rows in users"
}

expect_no_clone()
{
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'cf_preflight%'")" "clones left behind"
}

# Waits (up to 10 s) until a backend other than ours runs a query
# matching one of the LIKE patterns; prints its pid.
wait_for_query()
{
	local pid i p like="false"

	for p in "$@"; do
		like="$like OR query LIKE '$p'"
	done
	for i in $(seq 100); do
		pid=$(psql_q postgres "SELECT pid FROM pg_stat_activity WHERE ($like) AND pid <> pg_backend_pid() LIMIT 1")
		if [ -n "$pid" ]; then
			printf '%s\n' "$pid"
			return 0
		fi
		sleep 0.1
	done
	echo "no backend ran a query like $1" >&2
	return 1
}

# Milliseconds since the epoch, for timing.
now_ms()
{
	echo $(( ${EPOCHREALTIME/./} / 1000 ))
}

# A project whose 002 sleeps: 001 before it and 003 after it.
mkproject()
{
	new_project
	echo "CREATE TABLE t0220_first (x int);" >db/migrations/001_first.up.sql
	echo "SELECT pg_sleep($1);" >db/migrations/002_sleep.up.sql
	echo "CREATE TABLE t0220_third (x int);" >db/migrations/003_third.up.sql
}

# Runs preflight in the background with the given arguments, kills the
# backend running pg_sleep(5) as soon as it shows up, and waits.
run_and_kill_backend()
{
	local pid start

	start=$(now_ms)
	"$CONFITURE" migrate preflight --against "$URL" "$@" \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
	pid=$!
	wait_for_query "%pg_sleep(5)%" >/dev/null || { kill "$pid"; return 1; }
	sleep 0.3
	psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()" >/dev/null
	CF_RC=0
	wait "$pid" || CF_RC=$?
	ELAPSED=$(( $(now_ms) - start ))
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
}

test_expect_success 'clone mode: backend killed: that migration fails, the rest run' '
	mkproject 5
	run_and_kill_backend --mode clone --format json
	expect_rc 1
	test "$ELAPSED" -lt 4500
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"clone\", \"mode\")
m = a[\"migrations\"]
eq([(x[\"version\"], x[\"success\"], x[\"skipped\"]) for x in m],
   [(\"001\", True, False), (\"002\", False, False), (\"003\", True, False)], \"outcomes\")
eq(m[1][\"cause\"], \"root\", \"cause\")
assert \"terminating connection\" in m[1][\"error\"], m[1][\"error\"]
assert \"\\n\" not in m[1][\"error\"], m[1][\"error\"]
eq((m[1][\"line\"], m[1][\"column\"]), (1, 1), \"position\")
eq(a[\"all_passed\"], False, \"all_passed\")
eq(a[\"interrupted\"], False, \"interrupted\")
"
	expect_pre_unchanged
	expect_no_clone
'

test_expect_success 'savepoint mode: backend killed: the rest are skipped, nothing kept' '
	mkproject 5
	run_and_kill_backend --mode savepoint --format json
	expect_rc 1
	test "$ELAPSED" -lt 4500
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"savepoint\", \"mode\")
m = a[\"migrations\"]
eq([(x[\"version\"], x[\"success\"], x[\"skipped\"]) for x in m],
   [(\"001\", True, False), (\"002\", False, False), (\"003\", False, True)], \"outcomes\")
assert \"connection\" in m[2][\"skipped_reason\"], m[2][\"skipped_reason\"]
eq((a[\"failed\"], a[\"skipped\"]), (1, 1), \"counts\")
"
	expect_pre_unchanged
	expect_no_clone
'

test_expect_success 'backend killed: the text report names the lost connection' '
	mkproject 5
	run_and_kill_backend --mode savepoint
	expect_rc 1
	expect_out_matches "✗ 002 sleep .*root cause"
	expect_out_contains "terminating connection due to administrator command"
	expect_out_matches "skipped: .*connection"
	expect_out_contains "1 failed: 1 root cause, 0 consequences"
	expect_pre_unchanged
'

# Runs preflight in the background, sends SIGINT once pg_sleep(10) runs,
# and waits; ELAPSED is the time from the signal to the exit.
run_and_interrupt()
{
	local pid start

	"$CONFITURE" migrate preflight --against "$URL" "$@" \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
	pid=$!
	wait_for_query "%pg_sleep(10)%" >/dev/null || { kill "$pid"; return 1; }
	sleep 0.5
	start=$(now_ms)
	kill -INT "$pid"
	CF_RC=0
	wait "$pid" || CF_RC=$?
	ELAPSED=$(( $(now_ms) - start ))
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
}

for mode in clone savepoint; do
	test_expect_success "$mode mode: SIGINT stops the run quickly with exit 2" '
		mkproject 10
		run_and_interrupt --mode '$mode' --format json
		expect_rc 2
		test "$ELAPSED" -lt 3000
		check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"'$mode'\", \"mode\")
eq(a[\"interrupted\"], True, \"interrupted\")
eq(a[\"all_passed\"], False, \"all_passed\")
m = a[\"migrations\"]
eq(m[0][\"success\"], True, \"001 ran before the signal\")
eq(m[2][\"skipped\"], True, \"003 skipped\")
assert \"interrupted\" in m[2][\"skipped_reason\"], m[2][\"skipped_reason\"]
"
		expect_pre_unchanged
		expect_no_clone
		expect_eq "" "$(psql_q "$PRE" "SELECT relname FROM pg_class WHERE relname LIKE '\''t0220_%'\''")" "tables committed"
	'
done

test_expect_success 'SIGINT while the clone is being made: stops, no fallback, no clone' '
	new_db t0220_big >/dev/null
	psql_q t0220_big "CREATE TABLE big AS SELECT g, repeat('\''x'\'', 200) AS s FROM generate_series(1, 400000) g"
	dump_schema t0220_big >"$TEST_TMP/big-before"
	mkproject 10
	"$CONFITURE" migrate preflight --against "$(db_url t0220_big)" --format json \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
	pid=$!
	# the clone, or (FILE_COPY was quicker than the poll) the sleeping
	# migration on it
	wait_for_query "CREATE DATABASE%cf_preflight%" "%pg_sleep(10)%" >/dev/null ||
		{ kill "$pid"; exit 1; }
	kill -INT "$pid"
	CF_RC=0
	wait "$pid" || CF_RC=$?
	expect_rc 2
	check_json "
a = d[\"against\"]
eq(a[\"interrupted\"], True, \"interrupted\")
eq(a[\"mode\"], \"clone\", \"mode (no fallback to savepoint)\")
# FILE_COPY may finish the clone before the signal lands: then the first
# migrations run, but the run still stops and the last one never does
eq(a[\"migrations\"][-1][\"skipped\"], True, \"last skipped\")
"
	expect_no_clone
	dump_schema t0220_big >big-after
	diff -u "$TEST_TMP/big-before" big-after
	psql_q postgres "DROP DATABASE t0220_big"
'

test_expect_success 'SIGINT: the text report says interrupted' '
	mkproject 10
	run_and_interrupt --mode savepoint
	expect_rc 2
	expect_out_contains "interrupted"
	expect_out_not_contains "All 3 migrations passed"
	expect_pre_unchanged
'

# Holds an ACCESS EXCLUSIVE lock on users from another session for up to
# 20 s (until release_lock).
hold_lock()
{
	PGAPPNAME=t0220_locker psql -X -d "$PRE" -c "BEGIN" \
		-c "LOCK TABLE users IN ACCESS EXCLUSIVE MODE" \
		-c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
	LOCKER=$!
	wait_for_query "%pg_sleep(20)%" >/dev/null
}

release_lock()
{
	psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 't0220_locker'" >/dev/null
	wait "$LOCKER" || true
}

lock_project()
{
	new_project
	echo "CREATE TABLE t0220_a (x int);" >db/migrations/001_a.up.sql
	echo "ALTER TABLE users ADD COLUMN y int;" >db/migrations/002_alter_users.up.sql
	echo "CREATE TABLE t0220_c (x int);" >db/migrations/003_c.up.sql
}

test_expect_success 'savepoint mode: a lock held elsewhere fails fast with 55P03' '
	lock_project
	hold_lock
	start=$(now_ms)
	run_cf migrate preflight --against "$URL" --mode savepoint --lock-timeout 500 --format json
	elapsed=$(( $(now_ms) - start ))
	cp "$TEST_TMP/out" json.out
	run_cf migrate preflight --against "$URL" --mode savepoint --lock-timeout 500
	release_lock
	test "$elapsed" -lt 4000
	expect_rc 1
	expect_out_matches "SQLSTATE:? 55P03"
	expect_out_contains "lock timeout"
	expect_out_contains "--lock-timeout"
	cp json.out "$TEST_TMP/out"
	check_json "
a = d[\"against\"]
m = a[\"migrations\"][1]
eq((m[\"version\"], m[\"success\"], m[\"sqlstate\"]), (\"002\", False, \"55P03\"), \"002\")
assert \"lock timeout\" in m[\"message\"], m[\"message\"]
assert \"--lock-timeout\" in m[\"hint\"] and \"500\" in m[\"hint\"], m[\"hint\"]
eq([x[\"success\"] for x in a[\"migrations\"]], [True, False, True], \"others pass\")
"
	expect_pre_unchanged
'

test_expect_success 'auto mode: another session connected: falls back to savepoint and says why' '
	lock_project
	hold_lock
	run_cf migrate preflight --against "$URL" --lock-timeout 500 --format json
	cp "$TEST_TMP/out" json.out
	run_cf migrate preflight --against "$URL" --lock-timeout 500
	release_lock
	expect_rc 1
	expect_out_contains "(savepoint mode)"
	expect_out_contains "clone mode not possible"
	expect_out_contains "other session"
	cp json.out "$TEST_TMP/out"
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"savepoint\", \"mode\")
assert a[\"fallback_reason\"] and \"session\" in a[\"fallback_reason\"], a[\"fallback_reason\"]
eq(a[\"migrations\"][1][\"sqlstate\"], \"55P03\", \"002 sqlstate\")
"
	expect_pre_unchanged
	expect_no_clone
'

test_expect_success '--mode clone with another session connected: exit 2, says why' '
	lock_project
	hold_lock
	run_cf migrate preflight --against "$URL" --mode clone
	release_lock
	expect_rc 2
	expect_err_contains "clone mode is not possible"
	expect_err_contains "other session"
	expect_out_not_contains "✓"
	expect_pre_unchanged
	expect_no_clone
'

test_expect_success 'clone mode without other sessions: the lock test passes' '
	lock_project
	run_cf migrate preflight --against "$URL" --mode clone --lock-timeout 500
	expect_rc 0
	expect_out_contains "All 3 migrations passed"
	expect_pre_unchanged
'

test_expect_success '--statement-timeout stops a long statement with a hint' '
	mkproject 5
	start=$(now_ms)
	run_cf migrate preflight --against "$URL" --statement-timeout 300 --format json
	test $(( $(now_ms) - start )) -lt 4000
	expect_rc 1
	check_json "
m = d[\"against\"][\"migrations\"]
eq((m[1][\"sqlstate\"], m[1][\"success\"]), (\"57014\", False), \"002\")
assert \"statement timeout\" in m[1][\"message\"], m[1][\"message\"]
assert \"--statement-timeout\" in m[1][\"hint\"], m[1][\"hint\"]
eq(m[2][\"success\"], True, \"003 still runs\")
"
	expect_pre_unchanged
	expect_no_clone
'

test_done
