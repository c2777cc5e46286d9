#!/usr/bin/env bash
# t0860-lock-retry.sh — safe lock waits in migrate up and down: a
# transactional migration runs under a lock_timeout, gives up when another
# session holds its lock, is rolled back, tried again with backoff and
# names the session in the way; a non-transactional one is never tried
# again.  The blocker is a psql session with its own application_name that
# keeps a transaction open until the test ends it (no timed assertions).
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=t0860_lock
APP=cf-t0860-blocker

# A fresh database with table accounts (3 rows) and a project on it.
fresh()
{
	new_db "$DB" >/dev/null || return 1
	psql_q "$DB" "CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts VALUES (1), (2), (3)" || return 1
	new_project "$DB"
}

# hold_lock STATEMENT...: a psql session (application_name $APP) runs BEGIN
# and the statements, one a line, and keeps its transaction open until
# release_lock.  Its input is fd 9; BLOCKER is its backend pid.
hold_lock()
{
	local last

	rm -f blocker.fifo
	mkfifo blocker.fifo
	PGAPPNAME=$APP psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" <blocker.fifo >blocker.out 2>&1 &
	BLOCKER_PSQL=$!
	exec 9>blocker.fifo
	echo "BEGIN;" >&9
	printf '%s\n' "$@" >&9
	last=${*: -1}
	wait_blocker_ran "$last"
}

# Waits until the blocker ran a statement ending in $1 and sits idle in
# its transaction.
wait_blocker_ran()
{
	for _ in $(seq 600); do
		BLOCKER=$(psql_q "$DB" "SELECT pid FROM pg_stat_activity WHERE application_name = '$APP' AND state = 'idle in transaction' AND right(query, length(\$q\$$1\$q\$)) = \$q\$$1\$q\$")
		if [ -n "$BLOCKER" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "the blocker never ran: $1" >&2
	cat blocker.out >&2
	return 1
}

release_lock()
{
	echo "COMMIT;" >&9
	exec 9>&-
	wait "$BLOCKER_PSQL"
}

# Waits until a confiture session of this database waits for a lock.
wait_for_waiter()
{
	for _ in $(seq 600); do
		if [ "$(psql_q "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'confiture migrate %' AND wait_event_type = 'Lock'")" -ge 1 ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "confiture never waited for a lock" >&2
	return 1
}

# Waits until file $1 has a line matching $2.
wait_for_line()
{
	for _ in $(seq 600); do
		if grep -q -- "$2" "$1"; then
			return 0
		fi
		sleep 0.05
	done
	echo "no line '$2' in $1" >&2
	cat "$1" >&2
	return 1
}

# start_cf ARGS...: runs confiture in the background (bg.out, bg.err).
start_cf()
{
	"$CONFITURE" "$@" >bg.out 2>bg.err &
	CF_BG=$!
}

# Ends the blocker's transaction, then waits for start_cf's run: BG_RC.
release_and_finish()
{
	release_lock
	BG_RC=0
	wait "$CF_BG" || BG_RC=$?
	cat bg.out bg.err
}

# A confiture session waits for a lock, and still does a second later,
# far past any 200 ms timeout that should not apply.
waits_on()
{
	wait_for_waiter || return 1
	sleep 1
	wait_for_waiter
}

LOCK_ACCOUNTS="LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;"

test_expect_success 'a held lock: up gives up, names the blocker, is rolled back, tries again and succeeds once the lock is released' '
	fresh
	printf "CREATE TABLE audit (id int);\nALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	start_cf migrate up --env local --lock-timeout 200 --lock-retries 20
	# released only once the first try gave up, so it must be retried
	wait_for_line bg.err "^lock timeout: "
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status"
	grep -q "1 migration applied" bg.out
	grep -E "^lock timeout: 001 add_note, statement 2 \(db/migrations/001_add_note.up.sql:2\), try 1, gave up after [0-9]+ ms waiting for AccessExclusiveLock on relation public.accounts; rolled back, trying again in [0-9.]+ s$" bg.err
	grep -E "^  blocked by pid $BLOCKER \(application_name '\''$APP'\'', local socket, connected since [0-9-]+ [0-9:]+ [A-Z]+\), idle in transaction since [0-9-]+ [0-9:]+ [A-Z]+: $LOCK_ACCOUNTS$" bg.err
	# every line on stderr is about the waits
	expect_eq "" "$(grep -v -E "^(lock timeout: |  blocked by pid $BLOCKER )" bg.err || true)"
	expect_eq "001" "$(psql_q "$DB" "SELECT string_agg(version, '\'','\'') FROM tb_confiture")"
	expect_eq "note" "$(psql_q "$DB" "SELECT attname FROM pg_attribute WHERE attrelid = '\''accounts'\''::regclass AND attname = '\''note'\''")"
	expect_eq t "$(psql_q "$DB" "SELECT to_regclass('\''audit'\'') IS NOT NULL")"
'

test_expect_success 'retries exhausted: exit 1, nothing of the migration committed, the error names the blocker and the fix' '
	fresh
	printf "CREATE TABLE audit (id int);\nALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	printf "CREATE TABLE later (id int);\n" >db/migrations/002_later.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate up --env local --lock-timeout 200 --lock-retries 1
	expect_rc 1
	expect_eq 2 "$(grep -c "^lock timeout: 001 add_note, statement 2 " "$TEST_TMP/err")"
	expect_err_contains "try 1, gave up after"
	expect_err_matches "try 2, gave up after [0-9]+ ms waiting for AccessExclusiveLock on relation public.accounts; not tried again$"
	expect_err_contains "canceling statement due to lock timeout"
	expect_err_contains "db/migrations/001_add_note.up.sql:2"
	expect_err_contains "waited for AccessExclusiveLock on relation public.accounts; blocked by pid $BLOCKER (application_name '\''$APP'\'', local socket, connected since "
	expect_err_contains "idle in transaction since "
	expect_err_contains "gave up after 2 tries (lock_timeout 200 ms unless the migration sets its own)"
	expect_err_contains "nothing of this migration is committed"
	expect_err_contains "--lock-timeout MS (migration.lock_timeout_ms)"
	expect_err_contains "--lock-retries N (migration.lock_retries)"
	expect_out_contains "0 applied, 1 failed"
	# nothing partial: not the first statement, no row, not the later one
	expect_eq f "$(psql_q "$DB" "SELECT to_regclass('\''audit'\'') IS NOT NULL")"
	expect_eq f "$(psql_q "$DB" "SELECT to_regclass('\''later'\'') IS NOT NULL")"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	run_cf migrate up --env local --lock-timeout 200 --lock-retries 0 --format json
	expect_rc 1
	check_json "
m = d[\"migrations\"][0]
eq(m[\"status\"], \"failed\", \"status\")
eq(m[\"error\"][\"code\"], \"lock-timeout\", \"code\")
eq(m[\"error\"][\"sqlstate\"], \"55P03\", \"sqlstate\")
eq(len(m[\"lock_waits\"]), 1, \"one wait\")
w = m[\"lock_waits\"][0]
eq(w[\"attempt\"], 1, \"attempt\")
eq(w[\"file\"], \"db/migrations/001_add_note.up.sql\", \"file\")
eq(w[\"statement_index\"], 2, \"statement\")
eq(w[\"line\"], 2, \"line\")
eq(w[\"lock\"], \"AccessExclusiveLock on relation public.accounts\", \"lock\")
eq(w[\"retry_in_ms\"], None, \"no retry\")
eq(w[\"unseen_reason\"], None, \"seen\")
eq(len(w[\"blockers\"]), 1, \"one blocker\")
b = w[\"blockers\"][0]
eq(b[\"pid\"], $BLOCKER, \"pid\")
eq(b[\"application_name\"], \"$APP\", \"application_name\")
eq(b[\"state\"], \"idle in transaction\", \"state\")
eq(b[\"query\"], \"$LOCK_ACCOUNTS\", \"query\")
eq(b[\"client\"], \"local socket\", \"client\")
"
	release_lock
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	run_cf migrate up --env local --format json
	expect_rc 0
	check_json "eq([m[\"lock_waits\"] for m in d[\"migrations\"]], [[], []], \"no waits\")"
'

test_expect_success 'the environment file sets lock_timeout_ms and lock_retries; the command line wins' '
	fresh
	cat >>db/environments/local.yaml <<-EOF
	migration:
	  lock_timeout_ms: 200
	  lock_retries: 0
	EOF
	printf "ALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate up --env local
	expect_rc 1
	expect_eq 1 "$(grep -c "^lock timeout: " "$TEST_TMP/err")"
	expect_err_contains "gave up after 1 try (lock_timeout 200 ms unless"
	run_cf migrate up --env local --lock-retries 1
	expect_rc 1
	expect_eq 2 "$(grep -c "^lock timeout: " "$TEST_TMP/err")"
	release_lock
	printf "database_url: \"%s\"\nmigration:\n  lock_retries: 101\n" "$(db_url "$DB")" >db/environments/local.yaml
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "must be an integer between 0 and 100"
	run_cf migrate up --database-url "$(db_url "$DB")" --lock-retries 101
	expect_rc 2
	expect_err_contains "option '\''--lock-retries'\'' must be at most 100"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success '--lock-timeout 0 waits without limit' '
	fresh
	printf "migration:\n  lock_timeout_ms: 200\n  lock_retries: 0\n" >>db/environments/local.yaml
	printf "ALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	start_cf migrate up --env local --lock-timeout 0
	waits_on
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status"
	expect_eq "" "$(cat bg.err)"
	expect_eq 1 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'a migration'\''s own SET lock_timeout wins over --lock-timeout, both ways' '
	fresh
	printf "SET lock_timeout = 0;\nALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	printf "SET lock_timeout = '\''150ms'\'';\nALTER TABLE accounts ADD COLUMN other text;\n" >db/migrations/002_other.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	start_cf migrate up --env local --target 001 --lock-timeout 200 --lock-retries 0
	waits_on
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status of the migration that waits"
	expect_eq "" "$(cat bg.err)"
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate up --env local --lock-timeout 0 --lock-retries 0
	release_lock
	expect_rc 1
	expect_err_contains "lock timeout: 002 other, statement 2"
	expect_err_contains "canceling statement due to lock timeout"
	expect_err_contains "(the migration'\''s own lock_timeout)"
	expect_eq 001 "$(psql_q "$DB" "SELECT string_agg(version, '\'','\'') FROM tb_confiture")"
'

test_expect_success 'a non-transactional migration is never tried again; the hint says why' '
	fresh
	printf -- "-- confiture:no-transaction\nSET lock_timeout = '\''200ms'\'';\nCREATE TABLE nt_side (id int);\nALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_nt.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate up --env local --lock-retries 5
	release_lock
	expect_rc 1
	expect_eq 1 "$(grep -c "^lock timeout: " "$TEST_TMP/err")"
	expect_err_matches "^lock timeout: 001 nt, statement 3 \(db/migrations/001_nt.up.sql:4\), try 1, gave up after [0-9]+ ms waiting for AccessExclusiveLock on relation public.accounts; not tried again$"
	expect_err_contains "  blocked by pid $BLOCKER (application_name '\''$APP'\'', local socket"
	expect_err_contains "this migration runs in autocommit, so it is not tried again: statements before this one were committed and may not be safe to run twice"
	expect_err_contains "this migration ran in autocommit; statements before the failing one were committed"
	# what was committed stays, unrecorded
	expect_eq t "$(psql_q "$DB" "SELECT to_regclass('\''nt_side'\'') IS NOT NULL")"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'CREATE INDEX CONCURRENTLY runs without --lock-timeout: it waits for an open writer and builds a valid index' '
	fresh
	printf "CREATE INDEX CONCURRENTLY accounts_id2 ON accounts (id);\n" >db/migrations/001_idx.up.sql
	hold_lock "INSERT INTO accounts VALUES (4);"
	start_cf migrate up --env local --lock-timeout 200 --lock-retries 0
	waits_on
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status"
	expect_eq "" "$(grep "lock timeout" bg.err || true)"
	expect_eq t "$(psql_q "$DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = '\''accounts_id2'\''::regclass")"
	expect_eq 1 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'what runs between migrations (--repair of an INVALID index) waits without --lock-timeout' '
	fresh
	# an interrupted run left an INVALID accounts_idx
	psql_q "$DB" "CREATE UNIQUE INDEX CONCURRENTLY accounts_idx ON accounts ((id % 2))" 2>/dev/null && return 1
	expect_eq f "$(psql_q "$DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = '\''accounts_idx'\''::regclass")"
	printf "CREATE TABLE first (id int);\n" >db/migrations/001_first.up.sql
	printf "CREATE INDEX CONCURRENTLY accounts_idx ON accounts (id);\n" >db/migrations/002_idx.up.sql
	hold_lock "INSERT INTO accounts VALUES (4);"
	start_cf migrate up --env local --repair --lock-timeout 200 --lock-retries 0
	waits_on
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status"
	grep -q "dropped INVALID index" bg.err
	expect_eq "" "$(grep "lock timeout" bg.err || true)"
	expect_eq t "$(psql_q "$DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = '\''accounts_idx'\''::regclass")"
	expect_eq 2 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'down: the same lock waits; a rollback that gives up keeps the migration applied' '
	fresh
	printf "ALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	printf "ALTER TABLE accounts DROP COLUMN note;\n" >db/migrations/001_add_note.down.sql
	run_cf migrate up --env local
	expect_rc 0
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate down --env local --lock-timeout 200 --lock-retries 1
	expect_rc 1
	expect_eq 2 "$(grep -c "^lock timeout: 001 add_note, statement 1 (db/migrations/001_add_note.down.sql:1)" "$TEST_TMP/err")"
	expect_err_contains "blocked by pid $BLOCKER (application_name '\''$APP'\''"
	expect_eq 1 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	start_cf migrate down --env local --lock-timeout 200 --lock-retries 20
	wait_for_line bg.err "^lock timeout: "
	release_and_finish
	expect_eq 0 "$BG_RC" "exit status"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM pg_attribute WHERE attrelid = '\''accounts'\''::regclass AND attname = '\''note'\''")"
'

test_expect_success 'the blocker'\''s statement is shown on one line, without control characters, and never with a password' '
	fresh
	printf "ALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	esc=$(printf "\033")
	hold_lock "$LOCK_ACCOUNTS" "SELECT '\''${esc}[31mred'\'' AS a," "  2 AS b;"
	run_cf migrate up --env local --lock-timeout 200 --lock-retries 0 --format json
	expect_rc 1
	expect_err_contains "idle in transaction since "
	expect_err_contains ": SELECT '\'' [31mred'\'' AS a,   2 AS b;"
	if grep -q "$esc" "$TEST_TMP/err" "$TEST_TMP/out"; then return 1; fi
	check_json "eq(d[\"migrations\"][0][\"lock_waits\"][0][\"blockers\"][0][\"query\"], \"SELECT '\'' [31mred'\'' AS a,   2 AS b;\", \"query\")"
	echo "SELECT '\''host=db password=hunter2'\'' AS s;" >&9
	wait_blocker_ran "SELECT '\''host=db password=hunter2'\'' AS s;"
	run_cf migrate up --env local --lock-timeout 200 --lock-retries 0 --format json
	release_lock
	expect_rc 1
	expect_err_contains "(statement hidden: it mentions a password)"
	expect_err_not_contains "hunter2"
	expect_out_not_contains "hunter2"
'

test_expect_success 'a row lock: the wait names the transaction it waited for and its session' '
	fresh
	printf "UPDATE accounts SET id = 10 WHERE id = 1;\n" >db/migrations/001_renumber.up.sql
	hold_lock "SELECT id FROM accounts WHERE id = 1 FOR UPDATE;"
	run_cf migrate up --env local --lock-timeout 200 --lock-retries 0
	release_lock
	expect_rc 1
	expect_err_matches "^lock timeout: 001 renumber, statement 1 \(db/migrations/001_renumber.up.sql:1\), try 1, gave up after [0-9]+ ms waiting for ShareLock on transaction [0-9]+; not tried again$"
	expect_err_contains "  blocked by pid $BLOCKER (application_name '\''$APP'\'', local socket"
	expect_eq 1 "$(psql_q "$DB" "SELECT count(*) FROM accounts WHERE id = 1")"
'

test_expect_success 'another role: a monitor that cannot connect leaves the blockers unknown and says why, tries still go on; another role'\''s session gets the pg_read_all_stats hint' '
	fresh
	psql_q postgres "DROP ROLE IF EXISTS t0860_app; CREATE ROLE t0860_app LOGIN CONNECTION LIMIT 1"
	psql_q "$DB" "ALTER TABLE accounts OWNER TO t0860_app; GRANT CREATE ON SCHEMA public TO t0860_app"
	printf "database_url: \"%s\"\n" "$(db_url "$DB" | sed "s/user=postgres/user=t0860_app/")" >db/environments/app.yaml
	printf "ALTER TABLE accounts ADD COLUMN note text;\n" >db/migrations/001_add_note.up.sql
	hold_lock "$LOCK_ACCOUNTS"
	run_cf migrate up --env app --lock-timeout 200 --lock-retries 1
	expect_rc 1
	expect_eq 2 "$(grep -c "^lock timeout: 001 add_note" "$TEST_TMP/err")"
	expect_err_contains "  the blocking session was not seen: the lock monitor could not connect: "
	expect_err_contains "too many connections for role \"t0860_app\""
	psql_q postgres "ALTER ROLE t0860_app CONNECTION LIMIT -1"
	run_cf migrate up --env app --lock-timeout 200 --lock-retries 0
	release_lock
	expect_rc 1
	expect_err_contains "  blocked by pid $BLOCKER (application_name '\''$APP'\'', client unknown, connected since ?), state unknown since ?: <insufficient privilege>"
	expect_err_contains "(another role'\''s session: GRANT pg_read_all_stats TO t0860_app shows what it runs)"
	psql_q postgres "DROP DATABASE $DB WITH (FORCE)"
	psql_q postgres "DROP ROLE t0860_app"
'

test_expect_success 'cleanup' '
	psql_q postgres "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
	psql_q postgres "DROP ROLE IF EXISTS t0860_app"
'

test_done
