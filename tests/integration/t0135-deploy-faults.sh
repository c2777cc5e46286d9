#!/usr/bin/env bash
# t0135-deploy-faults.sh — concurrent and interrupted deploys on the real
# server: any number of concurrent `up`s over transactional and CREATE
# INDEX CONCURRENTLY migrations apply each once without a deadlock; a run
# killed (SIGKILL), terminated or cut off by a server restart is followed by
# a rerun that completes, or says what it found and how --repair fixes it.
# Every test ends with the database compared to a clean run's.
#
# The index builds are made slow with an IMMUTABLE function that sleeps
# 2 ms per row (300 rows, about 0.6 s per build; t0135.slow, set with
# PGOPTIONS, changes the 2 ms): the build lasts as long as on a table of
# millions of rows without loading the 2 shared cores.
# The transactional migration 003 sleeps t0135.pause seconds (set with
# PGOPTIONS) so that a test can interrupt it mid-way.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
REF=t0135_ref
DB=t0135_db

# Writes the migration history into db/migrations of the current project.
write_history()
{
	cat >db/migrations/001_items.up.sql <<-\EOF
	CREATE FUNCTION slow_key(int) RETURNS int IMMUTABLE LANGUAGE plpgsql
	AS $$ BEGIN
	  PERFORM pg_sleep(coalesce(nullif(current_setting('t0135.slow', true), ''), '0.002')::float);
	  RETURN $1;
	END $$;
	CREATE TABLE items (id int PRIMARY KEY, v text);
	INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 300) g;
	EOF
	cat >db/migrations/002_items_slow_idx.up.sql <<-\EOF
	CREATE INDEX CONCURRENTLY items_slow_idx ON items (slow_key(id));
	EOF
	cat >db/migrations/003_flags.up.sql <<-\EOF
	CREATE TABLE t3 (id int);
	ALTER TABLE items ADD COLUMN flag bool NOT NULL DEFAULT false;
	SELECT pg_sleep(coalesce(nullif(current_setting('t0135.pause', true), ''), '0')::float);
	INSERT INTO t3 VALUES (3);
	EOF
	cat >db/migrations/004_items_v_idx.up.sql <<-\EOF
	CREATE UNIQUE INDEX CONCURRENTLY items_v_idx ON items (v);
	CREATE INDEX CONCURRENTLY IF NOT EXISTS items_slow_v_idx ON items (slow_key(id), v);
	EOF
	cat >db/migrations/005_tail.up.sql <<-\EOF
	CREATE TABLE tail (id int REFERENCES items (id));
	INSERT INTO tail VALUES (1);
	EOF
}

# The state to compare: schema, the tracking rows (version, name), the
# data the migrations wrote, and every index valid.
db_state()
{
	dump_schema "$1"
	psql_q "$1" "SELECT version, name FROM tb_confiture ORDER BY version"
	psql_q "$1" "SELECT count(*), sum(id) FILTER (WHERE flag IS FALSE) FROM items"
	psql_q "$1" "SELECT * FROM t3 UNION ALL SELECT * FROM tail"
	psql_q "$1" "SELECT 'invalid: ' || indexrelid::regclass FROM pg_index WHERE NOT indisvalid OR NOT indisready"
}

# Fails unless database $1 is in the state of the clean run.
expect_clean_state()
{
	db_state "$1" >"$TEST_TMP/state.$1"
	if ! diff -u "$TEST_TMP/state.$REF" "$TEST_TMP/state.$1" >&2; then
		echo "database $1 differs from the clean run (above)" >&2
		return 1
	fi
	# applied means recorded, exactly once
	expect_eq "5|5" "$(psql_q "$1" "SELECT count(*), count(DISTINCT version) FROM tb_confiture")"
}

# Waits (up to 30 s) until SQL run in database $1 prints something; prints it.
wait_for()
{
	local out

	for _ in $(seq 300); do
		out=$(psql_q "$1" "$2")
		if [ -n "$out" ]; then
			printf '%s\n' "$out"
			return 0
		fi
		sleep 0.1
	done
	echo "timed out waiting for: $2" >&2
	return 1
}

# Waits until no session of ours is left in database $1 (a killed client's
# backend ends by itself within client_connection_check_interval).
wait_gone()
{
	for _ in $(seq 300); do
		if [ "$(psql_q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND application_name LIKE 'confiture%'")" = 0 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "a confiture session stayed in $1" >&2
	psql_q "$1" "SELECT pid, state, query FROM pg_stat_activity WHERE datname = '$1'" >&2
	return 1
}

# A fresh database $DB and a project with the history; cds into it.
fresh_db()
{
	new_db "$DB" >/dev/null || return 1
	new_project "$DB" || return 1
	write_history
}

# Starts `up` in the background (pid in UP_PID) with migration 003 pausing
# for a minute, and waits until its session is in the pause (the session's
# backend pid in UP_BACKEND): our application_name tells it apart.
start_paused_up()
{
	PGOPTIONS="-c t0135.pause=60" "$CONFITURE" migrate up --env local >run.out 2>run.err &
	UP_PID=$!
	UP_BACKEND=$(wait_for "$DB" "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'confiture migrate up' AND query LIKE 'SELECT pg_sleep%'")
}

# Checks that 003 left nothing and that 001 and 002 are recorded.
expect_003_rolled_back()
{
	expect_eq "001 002" "$(psql_q "$DB" "SELECT string_agg(version, ' ' ORDER BY version) FROM tb_confiture")" || return 1
	expect_eq f "$(psql_q "$DB" "SELECT to_regclass('t3') IS NOT NULL")" "t3 rolled back" || return 1
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM information_schema.columns WHERE column_name = 'flag'")" "column flag rolled back"
}

test_expect_success 'a clean run: the reference state' '
	new_db "$REF" >/dev/null
	new_project "$REF"
	write_history
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "5 migrations applied"
	expect_err_not_contains "error"
	db_state "$REF" >"$TEST_TMP/state.$REF"
	grep -q "items_slow_idx" "$TEST_TMP/state.$REF"
	grep -q "items_slow_v_idx" "$TEST_TMP/state.$REF"
'

# Starts $1 `migrate up` at once and checks that each exits 0, that
# between them every migration was applied once, and the clean state.
concurrent_ups()
{
	local n=$1 pids=() rc applied

	fresh_db
	for i in $(seq "$n"); do
		"$CONFITURE" migrate up --env local >"run$i.out" 2>"run$i.err" &
		pids+=($!)
	done
	for i in $(seq "$n"); do
		rc=0
		wait "${pids[$((i - 1))]}" || rc=$?
		cat "run$i.out" "run$i.err"
		expect_eq 0 "$rc" "exit status of run $i" || return 1
	done
	applied=$(cat run*.out | sed -n "s/^\([0-9]*\) migrations\{0,1\} applied$/\1/p" | awk '{ s += $1 } END { print s + 0 }')
	expect_eq 5 "$applied" "migrations applied by all runs"
	# no deadlock, no error: besides the autocommit warnings, stderr
	# only says whom a run waited for
	if grep -E "^(error|  note)|deadlock" run*.err; then
		return 1
	fi
	grep -q "^waiting for the migration lock (.*): held by pid [0-9]* 'confiture migrate up'" run*.err
	expect_clean_state "$DB"
}

test_expect_success '2 concurrent up runs: each migration once, no deadlock' '
	concurrent_ups 2
'

test_expect_success '4 concurrent up runs: each migration once, no deadlock' '
	concurrent_ups 4
'

test_expect_success '8 concurrent up runs: each migration once, no deadlock' '
	concurrent_ups 8
'

test_expect_success 'SIGKILL during a transactional migration: nothing of it stays, the rerun completes' '
	fresh_db
	start_paused_up
	kill -KILL $UP_PID
	wait $UP_PID || true
	wait_gone "$DB"
	expect_003_rolled_back
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "3 migrations applied"
	expect_err_not_contains "error"
	expect_clean_state "$DB"
'

test_expect_success 'SIGKILL during CREATE INDEX CONCURRENTLY: the rerun finds the INVALID index, --repair drops it and completes' '
	fresh_db
	# a 9 s build, so that it is surely still running when killed
	PGOPTIONS="-c t0135.slow=0.03" "$CONFITURE" migrate up --env local >run.out 2>run.err &
	pid=$!
	wait_for "$DB" "SELECT pid FROM pg_stat_progress_create_index WHERE datname = current_database() AND index_relid = to_regclass('\''items_slow_idx'\'')"
	kill -KILL $pid
	wait $pid || true
	# at once, while the killed run'\''s session may still hold the lock:
	# the rerun waits for that session to abort, without a deadlock
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "002_items_slow_idx.up.sql:1:1"
	expect_err_contains "index public.items_slow_idx is INVALID: an earlier run of this migration did not finish"
	expect_err_contains "would fail (relation already exists)"
	expect_err_contains "HINT: run '\''confiture migrate up --repair'\'' to drop it and run the migration, or drop it yourself: DROP INDEX CONCURRENTLY public.items_slow_idx;"
	expect_err_not_contains "ran in autocommit"
	expect_out_contains "0 applied, 1 failed"
	# a dry run says the same; with --repair, what it would repair
	run_cf migrate up --env local --dry-run
	expect_rc 1
	expect_err_contains "index public.items_slow_idx is INVALID"
	expect_out_contains "dry run: 0 migrations would be applied, then 1 would fail; nothing was changed"
	run_cf migrate up --env local --dry-run --repair
	expect_rc 0
	expect_out_contains "(dry run; --repair would deal with: index public.items_slow_idx is INVALID: an earlier run of this migration did not finish)"
	expect_out_contains "dry run: 4 migrations would be applied; nothing was changed"
	# the refusal and the dry runs changed nothing
	expect_eq "001" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM tb_confiture")"
	expect_eq f "$(psql_q "$DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = '\''items_slow_idx'\''::regclass")"
	run_cf migrate up --env local --repair
	expect_rc 0
	expect_err_contains "warning: repaired: dropped INVALID index public.items_slow_idx left by an unfinished run of migration 002"
	expect_out_contains "4 migrations applied"
	expect_clean_state "$DB"
'

test_expect_success 'SIGKILL after the last statement, before the tracking row: the valid index is reported, migration.repair keeps it' '
	fresh_db
	CONFITURE_TEST_STALL_BEFORE_RECORD=$PWD/stalled "$CONFITURE" migrate up --env local >run.out 2>run.err &
	pid=$!
	for _ in $(seq 300); do test -e stalled && break; sleep 0.1; done
	test -e stalled
	kill -KILL $pid
	wait $pid || true
	wait_gone "$DB"
	expect_eq t "$(psql_q "$DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = '\''items_slow_idx'\''::regclass")"
	expect_eq "001" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM tb_confiture")"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "index public.items_slow_idx exists and is valid, but the migration that creates it is not recorded"
	expect_err_contains "it is: CREATE INDEX items_slow_idx ON public.items USING btree (slow_key(id))"
	expect_err_contains "--repair'\'' to keep it (as IF NOT EXISTS would)"
	expect_eq "001" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM tb_confiture")"
	printf "migration:\n  repair: true\n" >>db/environments/local.yaml
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "warning: repaired: kept valid index public.items_slow_idx instead of building it again; statement 1 was not run"
	expect_out_contains "4 migrations applied"
	expect_clean_state "$DB"
'

test_expect_success 'pg_terminate_backend of our session mid-migration: exit 2, rolled back, the rerun completes' '
	fresh_db
	start_paused_up
	psql_q "$DB" "SELECT pg_terminate_backend($UP_BACKEND)" >/dev/null
	rc=0
	wait $UP_PID || rc=$?
	cat run.out run.err
	expect_eq 2 "$rc" "exit status"
	grep -q "terminating connection due to administrator command" run.err
	grep -q "note: the connection was lost: the server rolled this migration back and it is not recorded" run.err
	expect_003_rolled_back
	run_cf migrate up --env local
	expect_rc 0
	expect_clean_state "$DB"
'

test_expect_success 'pg_terminate_backend during CREATE INDEX CONCURRENTLY: exit 2, what is left is explained, --repair completes' '
	fresh_db
	PGOPTIONS="-c t0135.slow=0.03" "$CONFITURE" migrate up --env local >run.out 2>run.err &
	pid=$!
	backend=$(wait_for "$DB" "SELECT pid FROM pg_stat_progress_create_index WHERE datname = current_database() AND index_relid = to_regclass('\''items_slow_idx'\'')")
	psql_q "$DB" "SELECT pg_terminate_backend($backend)" >/dev/null
	rc=0
	wait $pid || rc=$?
	cat run.out run.err
	expect_eq 2 "$rc" "exit status"
	grep -q "note: the connection was lost during a migration that runs in autocommit" run.err
	run_cf migrate up --env local --repair
	expect_rc 0
	expect_err_contains "repaired: dropped INVALID index public.items_slow_idx"
	expect_clean_state "$DB"
'

test_expect_success 'a migration'\''s own SQL error is exit 1' '
	new_db "$DB" >/dev/null
	new_project "$DB"
	printf "CREATE TABLE x (id int);\nSELECT 1/0;\n" >db/migrations/001_bad.up.sql
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "division by zero"
	expect_err_not_contains "connection was lost"
'

test_expect_success 'a CREATE INDEX CONCURRENTLY that fails: what it left is said at once, --repair completes after the fix' '
	new_db "$DB" >/dev/null
	new_project "$DB"
	printf "CREATE TABLE x (id int, v int);\nINSERT INTO x VALUES (1, 1), (2, 1);\n" >db/migrations/001_x.up.sql
	cat >db/migrations/002_x_idx.up.sql <<-\EOF
	CREATE INDEX CONCURRENTLY x_id_idx ON x (id);
	CREATE UNIQUE INDEX CONCURRENTLY x_v_key ON x (v);
	EOF
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "could not create unique index \"x_v_key\""
	expect_err_contains "warning: the failed run left INVALID index public.x_v_key"
	expect_err_contains "warning: index public.x_id_idx was built and stays, but migration 002 is not recorded"
	expect_err_contains "fix the cause, then run '\''confiture migrate up --repair'\''"
	# the second run stops before running anything
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "index public.x_id_idx exists and is valid, but the migration that creates it is not recorded"
	expect_err_contains "also found: statement 2: index public.x_v_key is INVALID"
	psql_q "$DB" "UPDATE x SET v = 2 WHERE id = 2"
	run_cf migrate up --env local --repair
	expect_rc 0
	expect_err_contains "repaired: kept valid index public.x_id_idx"
	expect_err_contains "repaired: dropped INVALID index public.x_v_key"
	expect_eq "x_id_idx|true x_v_key|true" "$(psql_q "$DB" "SELECT string_agg(indexrelid::regclass || '\''|'\'' || indisvalid, '\'' '\'' ORDER BY 1) FROM pg_index WHERE indrelid = '\''x'\''::regclass")"
	expect_eq "001 002" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'' ORDER BY version) FROM tb_confiture")"
'

test_expect_success 'every connection names its command in application_name; the URL'\''s own wins' '
	new_db "$DB" >/dev/null
	new_project "$DB"
	printf "DO \$\$ BEGIN RAISE EXCEPTION '\''app=%%'\'', current_setting('\''application_name'\''); END \$\$;\n" >db/migrations/001_app.up.sql
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "error: app=confiture migrate up"
	run_cf migrate preflight --against "$(db_url "$DB")" --mode savepoint
	expect_rc 1
	expect_out_contains "app=confiture migrate preflight"
	run_cf migrate up --database-url "$(db_url "$DB")&application_name=mine"
	expect_rc 1
	expect_err_contains "error: app=mine"
'

test_expect_success 'a CREATE INDEX CONCURRENTLY without a name: the run says it cannot be checked' '
	new_db "$DB" >/dev/null
	new_project "$DB"
	printf "CREATE TABLE x (id int);\n" >db/migrations/001_x.up.sql
	printf "CREATE INDEX CONCURRENTLY ON x (id);\n" >db/migrations/002_x_idx.up.sql
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "002_x_idx.up.sql:1:1"
	expect_err_contains "cannot check for an unfinished earlier run: this CREATE INDEX CONCURRENTLY gives no index name"
	expect_err_contains "HINT: name the index"
'

test_expect_success 'an index being built by another session is reported, not dropped' '
	fresh_db
	rm db/migrations/00[345]_*
	run_cf migrate up --env local --target 001
	expect_rc 0
	# someone builds the same index by hand (a 9 s build)
	PGOPTIONS="-c t0135.slow=0.03" psql_q "$DB" "CREATE INDEX CONCURRENTLY items_slow_idx ON items (slow_key(id))" 2>/dev/null &
	builder=$!
	backend=$(wait_for "$DB" "SELECT pid FROM pg_stat_progress_create_index WHERE datname = current_database() AND index_relid = to_regclass('\''items_slow_idx'\'')")
	run_cf migrate up --env local --repair
	# still building: not dropped, not waited for
	expect_eq 1 "$(psql_q "$DB" "SELECT count(*) FROM pg_stat_progress_create_index WHERE pid = $backend")"
	psql_q "$DB" "SELECT pg_cancel_backend($backend)" >/dev/null
	wait $builder || true
	expect_rc 1
	expect_err_contains "index public.items_slow_idx is being built right now by another session"
	expect_err_contains "pid $backend (application_name '\''psql'\'')"
	expect_eq "001" "$(psql_q "$DB" "SELECT string_agg(version, '\'' '\'') FROM tb_confiture")"
'

test_expect_success 'concurrent clone-mode preflights on one server while up runs against production' '
	new_db t0135_tpl >/dev/null
	fresh_db
	dump_schema t0135_tpl >tpl.before
	tpl=$(db_url t0135_tpl)
	"$CONFITURE" migrate up --env local >up.out 2>up.err &
	up=$!
	pids=()
	for i in 1 2 3; do
		"$CONFITURE" migrate preflight --against "$tpl" --mode clone >pf$i.out 2>pf$i.err &
		pids+=($!)
	done
	for i in 1 2 3; do
		rc=0
		wait "${pids[$((i - 1))]}" || rc=$?
		cat pf$i.out pf$i.err
		expect_eq 0 "$rc" "preflight $i"
		grep -q "clone dropped" pf$i.out
	done
	rc=0
	wait $up || rc=$?
	cat up.out up.err
	expect_eq 0 "$rc" "up"
	expect_clean_state "$DB"
	dump_schema t0135_tpl >tpl.after
	diff -u tpl.before tpl.after
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf_preflight%'\''")" "clones left"
'

test_expect_success 'a server restart mid-migration: exit 2, rolled back, the rerun completes' '
	# on a cluster of its own: the shared one serves other scripts
	cp "$TEST_TMP/state.$REF" "$TEST_TMP/ref.state"
	unset CF_TEST_PGDIR
	. "$CF_SRC/tests/lib/cluster.sh"
	trap cluster_stop EXIT
	cluster_start
	fresh_db
	start_paused_up
	cluster_as_owner "$CF_TEST_PGBIN/pg_ctl" -D "$CF_TEST_PGDATA" -m fast -w -s stop
	rc=0
	wait $UP_PID || rc=$?
	cat run.out run.err
	cluster_as_owner "$CF_TEST_PGBIN/pg_ctl" -D "$CF_TEST_PGDATA" -l "$CF_TEST_PGLOG" -o "-p $PGPORT" -w -s start
	expect_eq 2 "$rc" "exit status"
	grep -q "terminating connection due to administrator command" run.err
	grep -q "note: the connection was lost: the server rolled this migration back" run.err
	expect_003_rolled_back
	run_cf migrate up --env local
	expect_rc 0
	db_state "$DB" >state.restart
	diff -u "$TEST_TMP/ref.state" state.restart
'

test_expect_success 'cleanup' '
	for d in "$REF" "$DB" t0135_tpl; do
		psql_q postgres "DROP DATABASE IF EXISTS $d WITH (FORCE)"
	done
'

test_done
