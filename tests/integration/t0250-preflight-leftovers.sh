#!/usr/bin/env bash
# t0250-preflight-leftovers.sh — what a clone-mode replay can leave on the
# server beyond roles and databases, and the closing line that must never
# say "unchanged" when something stayed: replication slots and origins
# (dropped when the replay's, reported with the command otherwise; logical
# slots of the clone on a cluster of our own with wal_level = logical),
# subscriptions and a template flag (which make the clone undroppable:
# cleared first), server files (COPY TO, COPY PROGRAM, lo_export: refused;
# in dynamic SQL: reported), dblink (warned: it reaches the real database),
# a clone that cannot be dropped (said so, exit 1), ALTER DATABASE
# <against> (warned, restored, and restored by the next run after a
# SIGKILL; a live run's clone and another role's forged marker are left
# alone), and roles that a non-superuser's dynamic SQL creates or alters
# (found and undone).
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DYNFILE=/tmp/t0250-$$-dynamic
Q="'"
PGSOCK=$PGHOST

t0250_cleanup()
{
	local q d

	# this script's clones only: their marker names t0250_*
	for d in $(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'cf_preflight%' AND (shobj_description(oid, 'pg_database') LIKE '%\"t0250\\_%' OR datname = 'cf_preflight_0_forged')" 2>/dev/null); do
		psql_q postgres "ALTER DATABASE \"$d\" IS_TEMPLATE false" >/dev/null 2>&1
		psql_q postgres "DROP DATABASE \"$d\" WITH (FORCE)" >/dev/null 2>&1
	done
	for q in \
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 't0250%'" \
		"SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE 't0250%'" \
		"DROP DATABASE IF EXISTS t0250_nsu_pre WITH (FORCE)" \
		"DROP DATABASE IF EXISTS t0250_pre WITH (FORCE)" \
		"DROP ROLE IF EXISTS t0250_dyn" \
		"DROP ROLE IF EXISTS t0250_victim" \
		"DROP ROLE IF EXISTS t0250_nsu" \
		"DROP ROLE IF EXISTS t0250_forger" \
		"DROP OWNED BY t0250_thief" \
		"DROP ROLE IF EXISTS t0250_thief"; do
		psql_q postgres "$q" >/dev/null 2>&1
	done
	rm -f "$DYNFILE"
}
t0250_cleanup
PRE=$(new_db t0250_pre) || exit 1
URL=$(db_url "$PRE")
psql_q "$PRE" "CREATE TABLE t (x int); INSERT INTO t VALUES (1)" || exit 1
trap 'rc=$?; t0250_cleanup; (exit $rc); tap_cleanup' EXIT

expect_no_clone()
{
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'cf_preflight%'")" "clones left behind"
}

# Waits (up to 10 s) until a backend other than ours runs a query
# matching the LIKE pattern.
wait_for_query()
{
	local i

	for i in $(seq 100); do
		[ "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '$1' AND pid <> pg_backend_pid()")" = 0 ] || return 0
		sleep 0.1
	done
	echo "no backend ran a query like $1" >&2
	return 1
}

expect_closing()
{
	expect_eq "$1" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
}

# The against database's own state: options, settings, comment.
pre_state()
{
	psql_q postgres "SELECT d.datconnlimit, d.datallowconn,
		shobj_description(d.oid, 'pg_database'),
		(SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0)
		FROM pg_database d WHERE datname = 't0250_pre'"
}
PRE_STATE=$(pre_state)

test_expect_success 'a replication slot and an origin the replay names are dropped' '
	new_project
	cat >db/migrations/001_slot.up.sql <<-EOF
	SELECT pg_create_physical_replication_slot('\''t0250_slot'\'');
	SELECT pg_replication_origin_create('\''t0250_origin'\'');
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_contains "note: dropped replication slot '\''t0250_slot'\'' created by a replayed migration"
	expect_err_contains "note: dropped replication origin '\''t0250_origin'\'' created by a replayed migration"
	expect_closing "clone dropped — t0250_pre unchanged"
	expect_eq "" "$(psql_q postgres "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE '\''t0250%'\''")" "slots"
	expect_eq "" "$(psql_q postgres "SELECT roname FROM pg_replication_origin WHERE roname LIKE '\''t0250%'\''")" "origins"
	expect_no_clone
'

test_expect_success 'a slot no statement names is reported with its DROP, and the run is not "unchanged"' '
	new_project
	cat >db/migrations/001_hidden.up.sql <<-EOF
	DO \$\$ BEGIN PERFORM pg_create_physical_replication_slot('\''t0250_'\'' || '\''hidden'\''); END \$\$;
	EOF
	run_cf migrate preflight --against "$URL" --mode clone --format json
	expect_rc 1
	check_json "
a = d[\"against\"]
eq(a[\"all_passed\"], True, \"all_passed\")
eq(a[\"leftovers\"], 1, \"leftovers\")
eq(a[\"closing\"], \"clone dropped — t0250_pre NOT unchanged: 1 change left on the server (see the warnings above)\", \"closing\")
w = [n for n in a[\"notes\"] if n[\"code\"] == \"cluster-not-restored\"]
eq(len(w), 1, \"warnings\")
eq(w[0][\"message\"], \"replication slot '\''t0250_hidden'\'' was created while the preflight ran\", \"message\")
eq(w[0][\"statement\"], \"SELECT pg_catalog.pg_drop_replication_slot('\''t0250_hidden'\'')\", \"command\")
"
	expect_eq t0250_hidden "$(psql_q postgres "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE '\''t0250%'\''")" "the slot stays"
	psql_q postgres "SELECT pg_drop_replication_slot('\''t0250_hidden'\'')"
	expect_no_clone
'

test_expect_success 'a subscription in the clone is dropped, so the clone is too' '
	new_project
	cat >db/migrations/001_sub.up.sql <<-EOF
	CREATE SUBSCRIPTION t0250_sub CONNECTION '\''host=/nonexistent dbname=x'\'' PUBLICATION p WITH (connect = false);
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_contains "note: dropped subscription '\''t0250_sub'\'' created by a replayed migration"
	expect_err_contains "SELECT pg_drop_replication_slot('\''t0250_sub'\'')"
	expect_closing "clone dropped — t0250_pre unchanged as far as the preflight can see (see the warnings above)"
	expect_eq "" "$(psql_q postgres "SELECT subname FROM pg_subscription")" "subscriptions"
	expect_eq "" "$(psql_q postgres "SELECT roname FROM pg_replication_origin")" "origins"
	expect_no_clone
'

test_expect_success 'COPY TO a server file, COPY PROGRAM and lo_export are refused; nothing is written' '
	new_project
	echo "COPY t TO '\''$TEST_TMP/copied'\'';" >db/migrations/001_copy.up.sql
	echo "COPY (SELECT 1) TO PROGRAM '\''touch $TEST_TMP/ran'\'';" >db/migrations/002_program.up.sql
	echo "SELECT lo_export(lo_from_bytea(0, '\''x'\''), '\''$TEST_TMP/exported'\'');" >db/migrations/003_lo.up.sql
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 1
	expect_out_contains "error: preflight refuses COPY ... TO '\''$TEST_TMP/copied'\'' on the against server"
	expect_out_contains "error: preflight refuses COPY ... PROGRAM '\''touch $TEST_TMP/ran'\'' on the against server"
	expect_out_contains "error: preflight refuses lo_export() on the against server"
	expect_out_contains "db/migrations/003_lo.up.sql:1:1"
	expect_closing "clone dropped — t0250_pre unchanged"
	test ! -e "$TEST_TMP/copied"
	test ! -e "$TEST_TMP/ran"
	test ! -e "$TEST_TMP/exported"
	expect_no_clone
'

test_expect_success 'a server file written through dynamic SQL is reported, and the run is not "unchanged"' '
	new_project
	echo "DO \$\$ BEGIN EXECUTE ${Q}COPY t TO ${Q}${Q}$DYNFILE${Q}${Q}${Q}; END \$\$;" >db/migrations/001_dyn_copy.up.sql
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 1
	expect_err_contains "warning: dynamic SQL in a replayed statement may write a file on the server'\''s machine (COPY ... TO or PROGRAM)"
	expect_err_contains "db/migrations/001_dyn_copy.up.sql:1:1"
	expect_err_contains "HINT: if it ran, remove the file on the server'\''s machine: rm -f '\''$DYNFILE'\''"
	expect_closing "clone dropped — t0250_pre NOT unchanged: 1 change left on the server (see the warnings above)"
	test -e "$DYNFILE"
	expect_no_clone
'

test_expect_success 'dblink reaching the real database is warned about, and the line says so' '
	if [ -z "$(psql_q postgres "SELECT 1 FROM pg_available_extensions WHERE name = '\''dblink'\''")" ]; then
		echo "# dblink not installed: skipped"
		return 0
	fi
	new_project
	cat >db/migrations/001_dblink.up.sql <<-EOF
	CREATE EXTENSION dblink;
	SELECT dblink_exec('\''dbname=t0250_pre host=$PGSOCK port=$PGPORT user=postgres'\'', '\''CREATE TABLE t0250_via_dblink (x int)'\'');
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_contains "warning: a replayed statement creates extension dblink"
	expect_err_contains "warning: a replayed statement calls dblink_exec()"
	expect_err_contains "can reach other databases, the against database itself included"
	expect_closing "clone dropped — t0250_pre unchanged as far as the preflight can see (see the warnings above)"
	# the warning is warranted: the table is in the real database
	expect_eq t0250_via_dblink "$(psql_q "$PRE" "SELECT relname FROM pg_class WHERE relname = '\''t0250_via_dblink'\''")"
	psql_q "$PRE" "DROP TABLE t0250_via_dblink"
	expect_no_clone
'

test_expect_success 'a clone made a template by the replay is unmarked and dropped' '
	new_project
	cat >db/migrations/001_template.up.sql <<-EOF
	DO \$\$ BEGIN EXECUTE format('\''ALTER DATABASE %I IS_TEMPLATE true'\'', current_database()); END \$\$;
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_matches "note: unmarked the clone '\''cf_preflight_[0-9]+_[0-9a-f]+'\'' as a template"
	expect_closing "clone dropped — t0250_pre unchanged"
	expect_no_clone
'

test_expect_success 'ALTER DATABASE <against> is warned about and restored' '
	new_project
	cat >db/migrations/001_alter.up.sql <<-EOF
	ALTER DATABASE t0250_pre SET default_transaction_read_only = on;
	ALTER DATABASE t0250_pre CONNECTION LIMIT 0;
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_contains "warning: a replayed statement changes database '\''t0250_pre'\'' itself, not the clone"
	expect_err_contains "db/migrations/001_alter.up.sql:2:1"
	expect_err_contains "note: restored the options of database '\''t0250_pre'\''"
	expect_err_contains "note: restored the settings of database '\''t0250_pre'\''"
	expect_closing "clone dropped — t0250_pre unchanged"
	expect_eq "$PRE_STATE" "$(pre_state)" "t0250_pre options, settings, comment"
	expect_no_clone
'

# A run killed (SIGKILL) while its 002 sleeps, after 001 altered the
# against database: nothing restores it then; the next run must.
test_expect_success 'setup: SIGKILL after ALTER DATABASE <against> leaves it altered' '
	mkdir -p "$TEST_TMP/killed/db/migrations"
	cd "$TEST_TMP/killed"
	cat >db/migrations/001_alter.up.sql <<-EOF
	ALTER DATABASE t0250_pre SET default_transaction_read_only = on;
	ALTER DATABASE t0250_pre CONNECTION LIMIT 0;
	COMMENT ON DATABASE t0250_pre IS '\''changed'\'';
	EOF
	echo "SELECT pg_sleep(60);" >db/migrations/002_sleep.up.sql
	"$CONFITURE" migrate preflight --against "$URL" --mode clone >out 2>err </dev/null &
	pid=$!
	wait_for_query "%pg_sleep(60)%"
	kill -KILL "$pid"
	wait "$pid" || true
	expect_eq "0|t|changed|{default_transaction_read_only=on}" "$(pre_state)" "t0250_pre after the kill"
	test -n "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf_preflight%'\''")"
'

test_expect_success 'the next run restores the against database and drops the dead clone' '
	new_project
	echo "CREATE TABLE fine (x int);" >db/migrations/001_fine.up.sql
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_matches "note: dropped clone '\''cf_preflight_[0-9]+_[0-9a-f]+'\'' left by a killed preflight"
	expect_err_contains "note: restored the options of database '\''t0250_pre'\'', left changed by a killed preflight"
	expect_err_contains "note: restored the settings of database '\''t0250_pre'\'', left changed by a killed preflight"
	expect_err_contains "note: restored the comment of database '\''t0250_pre'\'', left changed by a killed preflight"
	expect_closing "clone dropped — t0250_pre unchanged"
	expect_eq "$PRE_STATE" "$(pre_state)" "t0250_pre options, settings, comment"
	expect_no_clone
'

test_expect_success 'a marker on a database another role owns is never trusted' '
	psql_q postgres "CREATE ROLE t0250_forger LOGIN CREATEDB"
	oid=$(psql_q postgres "SELECT oid FROM pg_database WHERE datname = '\''t0250_pre'\''")
	psql_q "postgresql:///postgres?host=$PGSOCK&port=$PGPORT&user=t0250_forger" "CREATE DATABASE cf_preflight_0_forged"
	psql_q "postgresql:///postgres?host=$PGSOCK&port=$PGPORT&user=t0250_forger" "COMMENT ON DATABASE cf_preflight_0_forged IS ${Q}confiture preflight clone; do not edit: {\"v\":1,\"named\":true,\"xids\":[],\"against\":{\"oid\":$oid,\"name\":\"t0250_pre\",\"connlimit\":5,\"allowconn\":true,\"istemplate\":false,\"owner\":\"t0250_forger\",\"comment\":\"forged\",\"settings\":[]}}${Q}"
	new_project
	echo "CREATE TABLE fine (x int);" >db/migrations/001_fine.up.sql
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_not_contains "killed preflight"
	expect_eq "$PRE_STATE" "$(pre_state)" "t0250_pre options, settings, comment"
	expect_eq postgres "$(psql_q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '\''t0250_pre'\''")" "owner"
	expect_eq cf_preflight_0_forged "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf_preflight%'\''")" "the forged database is left alone"
	psql_q postgres "DROP DATABASE cf_preflight_0_forged"
'

test_expect_success 'a live run'\''s clone is left alone by another run' '
	mkdir -p "$TEST_TMP/live/db/migrations"
	cd "$TEST_TMP/live"
	echo "ALTER DATABASE t0250_pre SET work_mem = '\''7MB'\'';" >db/migrations/001_alter.up.sql
	echo "SELECT pg_sleep(2);" >db/migrations/002_sleep.up.sql
	"$CONFITURE" migrate preflight --against "$URL" --mode clone >out 2>err </dev/null &
	pid=$!
	wait_for_query "%pg_sleep(2)%"
	new_project
	echo "CREATE TABLE fine (x int);" >db/migrations/001_fine.up.sql
	run_cf migrate preflight --against "$URL" --mode auto
	expect_err_not_contains "killed preflight"
	rc=0
	wait "$pid" || rc=$?
	cat "$TEST_TMP/live/out" "$TEST_TMP/live/err"
	expect_eq 0 "$rc" "the live run"
	expect_eq "clone dropped — t0250_pre unchanged" "$(tail -n 1 "$TEST_TMP/live/out")" "the live run'\''s closing line"
	expect_eq "$PRE_STATE" "$(pre_state)" "t0250_pre options, settings, comment"
	expect_no_clone
'

test_expect_success 'setup: a non-superuser with CREATEROLE and CREATEDB' '
	psql_q postgres "CREATE ROLE t0250_nsu LOGIN CREATEROLE CREATEDB"
	psql_q postgres "CREATE ROLE t0250_victim NOLOGIN"
	psql_q postgres "CREATE DATABASE t0250_nsu_pre OWNER t0250_nsu"
'

test_expect_success 'non-superuser: a clone that cannot be dropped is said so, with its DROP, and exit 1' '
	new_project
	cat >db/migrations/001_steal.up.sql <<-EOF
	CREATE ROLE t0250_thief;
	GRANT t0250_thief TO t0250_nsu;
	DO \$\$ BEGIN EXECUTE format('\''ALTER DATABASE %I OWNER TO t0250_thief'\'', current_database()); END \$\$;
	REVOKE t0250_thief FROM t0250_nsu;
	EOF
	run_cf migrate preflight --against "postgresql:///t0250_nsu_pre?host=$PGSOCK&port=$PGPORT&user=t0250_nsu" --mode clone
	expect_rc 1
	clone=$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf_preflight%'\'' AND pg_get_userbyid(datdba) = '\''t0250_thief'\''")
	test -n "$clone"
	expect_err_contains "warning: the clone '\''$clone'\'' was not dropped"
	expect_err_contains "must be owner of database $clone"
	expect_err_contains "warning: cannot drop role '\''t0250_thief'\'' created by a replayed migration"
	expect_closing "clone $clone NOT dropped (DROP DATABASE \"$clone\" WITH (FORCE)) — t0250_nsu_pre NOT unchanged: 2 changes left on the server (see the warnings above)"
	expect_out_not_contains "unchanged$"
	psql_q postgres "DROP DATABASE \"$clone\""
	psql_q postgres "DROP ROLE t0250_thief"
'

test_expect_success 'non-superuser: roles created and altered by dynamic SQL are found and undone' '
	new_project
	cat >db/migrations/001_dynamic_roles.up.sql <<-EOF
	CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN
	  EXECUTE '\''CREATE ROLE '\'' || '\''t0250_'\'' || '\''dyn LOGIN'\'';
	  EXECUTE '\''ALTER ROLE '\'' || '\''t0250_'\'' || '\''victim LOGIN CONNECTION LIMIT 7'\'';
	END \$\$;
	SELECT mk();
	EOF
	run_cf migrate preflight --against "postgresql:///t0250_nsu_pre?host=$PGSOCK&port=$PGPORT&user=t0250_nsu" --mode clone
	expect_rc 0
	expect_err_contains "note: dropped role '\''t0250_dyn'\'' created by a replayed migration"
	expect_err_contains "note: restored the attributes of role '\''t0250_victim'\''"
	expect_err_contains "warning: cluster-wide changes were only partly checked as role '\''t0250_nsu'\''"
	expect_closing "clone dropped — t0250_nsu_pre unchanged as far as the preflight can see (see the warnings above)"
	expect_eq "" "$(psql_q postgres "SELECT rolname FROM pg_roles WHERE rolname = '\''t0250_dyn'\''")" "t0250_dyn"
	expect_eq "f|-1" "$(psql_q postgres "SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = '\''t0250_victim'\''")" "t0250_victim"
	expect_no_clone
'

# The roles each migration sees are compared with those the previous one
# saw, to skip asking the maintenance connection when nothing changed: a
# change after a migration that changed nothing, and the same change made
# again after a migration that failed at COMMIT, are still found.
test_expect_success 'non-superuser: dynamic role changes after other migrations are undone' '
	new_project
	cat >db/migrations/001_fn.up.sql <<-EOF
	CREATE FUNCTION lim() RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN
	  EXECUTE '\''ALTER ROLE '\'' || '\''t0250_'\'' || '\''victim CONNECTION LIMIT 9'\'';
	END \$\$;
	CREATE TABLE p (id int PRIMARY KEY);
	CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED);
	EOF
	cat >db/migrations/002_fails_at_commit.up.sql <<-EOF
	SELECT lim();
	INSERT INTO c VALUES (1);
	EOF
	printf "SELECT lim();\n" >db/migrations/003_again.up.sql
	run_cf migrate preflight --against "postgresql:///t0250_nsu_pre?host=$PGSOCK&port=$PGPORT&user=t0250_nsu" --mode clone
	expect_rc 1
	expect_out_contains "violates foreign key constraint"
	expect_err_contains "note: restored the attributes of role '\''t0250_victim'\''"
	expect_eq "f|-1" "$(psql_q postgres "SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = '\''t0250_victim'\''")" "t0250_victim"
	expect_no_clone
'

# Logical slots need wal_level = logical, which the shared cluster does not
# have: this test starts a cluster of its own for them.
test_expect_success 'a logical slot in the clone is dropped, so the clone is too (own cluster)' '
	(
		unset CF_TEST_PGDIR
		. "$CF_SRC/tests/lib/cluster.sh"
		trap cluster_stop EXIT
		cluster_start
		echo "wal_level = logical" | cluster_as_owner tee -a "$CF_TEST_PGDATA/postgresql.conf" >/dev/null
		cluster_as_owner "$CF_TEST_PGBIN/pg_ctl" -D "$CF_TEST_PGDATA" -l "$CF_TEST_PGLOG" -w -s restart
		psql_q postgres "CREATE DATABASE t0250_logical"
		new_project
		echo "SELECT pg_create_logical_replication_slot('\''t0250_lslot'\'', '\''test_decoding'\'');" >db/migrations/001_slot.up.sql
		run_cf migrate preflight --against "$(db_url t0250_logical)" --mode clone
		expect_rc 0
		expect_err_contains "note: dropped logical replication slot '\''t0250_lslot'\'' of the clone"
		expect_closing "clone dropped — t0250_logical unchanged"
		expect_eq "" "$(psql_q postgres "SELECT slot_name FROM pg_replication_slots")" "slots"
		expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf_preflight%'\''")" "clones"
	)
'

test_done
