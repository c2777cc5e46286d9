#!/usr/bin/env bash
# t0126-clone-pipeline.sh — clone-mode preflight sends a migration in
# pipeline mode unless the cluster guard must see one of its statements
# before it runs (a refusal, or a statement naming the against database):
# the server's log tells how each statement came ("execute <unnamed>: ..."
# pipelined, "statement: ..." sent alone).  What the guard records after a
# pipelined unit is what it recorded before each statement: a role the
# replay dropped is recreated by name, and when a statement fails midway
# the statements up to and including it are attributed (the slots they
# name are dropped), the ones after it are not.  A refusal stops the
# migration exactly as before, and a statement naming the against
# database still gets its marker saved first.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

# The preflight connects as a role whose sessions log every statement
# (a database setting would not reach the clone, a new database).
LOGROLE=t0126_log
t0126_cleanup()
{
	local q d

	for d in $(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'cf_preflight%' AND datdba = (SELECT oid FROM pg_roles WHERE rolname = '$LOGROLE')" 2>/dev/null); do
		psql_q postgres "DROP DATABASE \"$d\" WITH (FORCE)" >/dev/null 2>&1
	done
	for q in \
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 't0126%'" \
		"DROP DATABASE IF EXISTS t0126_pre WITH (FORCE)" \
		"DROP ROLE IF EXISTS t0126_victim" \
		"DROP ROLE IF EXISTS t0126_hidden" \
		"DROP ROLE IF EXISTS t0126_dyn" \
		"DROP ROLE IF EXISTS $LOGROLE"; do
		psql_q postgres "$q" >/dev/null 2>&1
	done
	rm -f /tmp/t0126-$$-x
}
t0126_cleanup
psql_q postgres "CREATE ROLE $LOGROLE LOGIN SUPERUSER" || exit 1
psql_q postgres "ALTER ROLE $LOGROLE SET log_statement = 'all'" || exit 1
PRE=$(new_db t0126_pre) || exit 1
psql_q postgres "ALTER DATABASE $PRE OWNER TO $LOGROLE" || exit 1
psql_q "$PRE" "CREATE TABLE base (x int); INSERT INTO base VALUES (1)" || exit 1
URL="postgresql:///$PRE?host=$PGHOST&port=$PGPORT&user=$LOGROLE"
trap 'rc=$?; t0126_cleanup; (exit $rc); tap_cleanup' EXIT

# how statement $1 reached the server: piped, alone, or never
sent() {
	if grep -qF "execute <unnamed>: $1" "$CF_TEST_PGLOG"; then
		echo piped
	elif grep -qF "statement: $1" "$CF_TEST_PGLOG"; then
		echo alone
	else
		echo never
	fi
}
slots() { psql_q postgres "SELECT coalesce(string_agg(slot_name, ' ' ORDER BY slot_name), '-') FROM pg_replication_slots WHERE slot_name LIKE 't0126%'"; }

# A comment removed leaves no catalog row (no xmin): only the statement's
# name in the scope attributes it to the replay.
test_expect_success 'a migration the guard does not stop is pipelined; what it names is restored' '
	psql_q postgres "CREATE ROLE t0126_victim"
	psql_q postgres "COMMENT ON ROLE t0126_victim IS '\''kept'\''"
	new_project
	cat >db/migrations/001_a.up.sql <<-EOF
	CREATE TABLE t0126_piped (id int);
	COMMENT ON ROLE t0126_victim IS NULL;
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_eq piped "$(sent "CREATE TABLE t0126_piped (id int)")" "CREATE TABLE"
	expect_eq piped "$(sent "COMMENT ON ROLE t0126_victim IS NULL")" "COMMENT"
	expect_eq kept "$(psql_q postgres "SELECT shobj_description(oid, '\''pg_authid'\'') FROM pg_roles WHERE rolname = '\''t0126_victim'\''")" "comment restored"
	expect_eq "clone dropped — t0126_pre unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
'

test_expect_success 'a failure midway in a pipelined migration: its statement, SQLSTATE and line; statements up to it are attributed, not the ones after' '
	new_project
	cat >db/migrations/001_slots.up.sql <<-EOF
	SELECT pg_create_physical_replication_slot('\''t0126_s1'\'');
	DO \$\$ BEGIN PERFORM pg_create_physical_replication_slot('\''t0126_'\'' || '\''other'\''); END \$\$;
	SELECT pg_create_physical_replication_slot(n) FROM (VALUES ('\''t0126_s2'\''), ('\''t0126_s2'\'')) v(n);
	SELECT '\''t0126_other'\'' AS never_sent;
	EOF
	run_cf migrate preflight --against "$URL" --mode clone --format json
	expect_rc 1
	check_json "
a = d[\"against\"]
m = a[\"migrations\"][0]
eq((m[\"success\"], m[\"sqlstate\"], m[\"statement_index\"], m[\"line\"]), (False, \"42710\", 3, 3), \"failure\")
notes = sorted(n[\"message\"] for n in a[\"notes\"])
eq(notes, [\"dropped replication slot '\''t0126_s1'\'' created by a replayed migration\", \"dropped replication slot '\''t0126_s2'\'' created by a replayed migration\", \"replication slot '\''t0126_other'\'' was created while the preflight ran\"], \"notes\")
"
	expect_eq piped "$(sent "SELECT pg_create_physical_replication_slot('\''t0126_s1'\'')")" "statement 1"
	expect_eq piped "$(sent "SELECT pg_create_physical_replication_slot(n)")" "statement 3"
	expect_eq never "$(sent "SELECT '\''t0126_other'\'' AS never_sent")" "statement 4"
	expect_eq t0126_other "$(slots)" "slots left"
	psql_q postgres "SELECT pg_drop_replication_slot('\''t0126_other'\'')"
'

test_expect_success 'a guard refusal: the migration (COPY: statement by statement) stops at the refused statement, unsent' '
	new_project
	cat >db/migrations/001_a.up.sql <<-EOF
	CREATE TABLE t0126_alone (id int);
	COPY t0126_alone TO '\''/tmp/t0126-$$-x'\'';
	CREATE TABLE t0126_after (id int);
	EOF
	printf "%s\n" "CREATE TABLE t0126_next (id int);" >db/migrations/002_b.up.sql
	run_cf migrate preflight --against "$URL" --mode clone --format json
	expect_rc 1
	check_json "
m = d[\"against\"][\"migrations\"]
eq([(x[\"version\"], x[\"success\"]) for x in m], [(\"001\", False), (\"002\", True)], \"outcomes\")
e = m[0]
eq((e[\"message\"], e[\"statement_index\"], e[\"line\"]), (\"preflight refuses COPY ... TO '\''/tmp/t0126-$$-x'\'' on the against server\", 2, 2), \"refusal\")
"
	expect_eq alone "$(sent "CREATE TABLE t0126_alone (id int)")" "statement 1"
	expect_eq never "$(sent "COPY t0126_alone TO")" "the refused statement"
	expect_eq never "$(sent "CREATE TABLE t0126_after (id int)")" "statement 3"
	expect_eq piped "$(sent "CREATE TABLE t0126_next (id int)")" "the next migration"
	test ! -e /tmp/t0126-$$-x
'

# Its marker (the clone's comment, "named":true) must be saved before the
# statement runs: the batch ends before it, the marker is written, the
# batch goes on.
test_expect_success 'a statement naming the against database: the marker saved before it runs, warned, restored' '
	new_project
	cat >db/migrations/001_a.up.sql <<-EOF
	CREATE TABLE t0126_named (id int);
	COMMENT ON DATABASE t0126_pre IS '\''t0126 changed'\'';
	EOF
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	expect_err_contains "a replayed statement changes database '\''t0126_pre'\'' itself, not the clone"
	expect_eq 1 "$(grep -c "changes database .t0126_pre. itself" "$TEST_TMP/err")" "warned once"
	expect_eq piped "$(sent "CREATE TABLE t0126_named (id int)")" "statement 1"
	expect_eq piped "$(sent "COMMENT ON DATABASE t0126_pre")" "statement 2"
	marker=$(grep -n "\"named\":true" "$CF_TEST_PGLOG" | head -n 1 | cut -d: -f1)
	named=$(grep -nF "COMMENT ON DATABASE t0126_pre" "$CF_TEST_PGLOG" | head -n 1 | cut -d: -f1)
	expect_eq yes "$( [ -n "$marker" ] && [ -n "$named" ] && [ "$marker" -lt "$named" ] && echo yes)" "marker saved first"
	expect_eq "" "$(psql_q postgres "SELECT shobj_description(oid, '\''pg_database'\'') FROM pg_database WHERE datname = '\''t0126_pre'\''")" "comment restored"
'

# A refused statement in a migration that is otherwise pipelined: the
# statements before it go out in the batch, which ends before the refused
# one; nothing from it on is sent.
test_expect_success 'a guard refusal in a pipelined migration: the statements before it piped, the refused one and those after never sent' '
	new_project
	cat >db/migrations/001_a.up.sql <<-EOF
	CREATE TABLE t0126_before (id int);
	SELECT lo_export(0, '\''/tmp/t0126-$$-x'\'');
	CREATE TABLE t0126_after2 (id int);
	EOF
	run_cf migrate preflight --against "$URL" --mode clone --format json
	expect_rc 1
	check_json "
e = d[\"against\"][\"migrations\"][0]
eq((e[\"success\"], e[\"message\"], e[\"statement_index\"], e[\"line\"]), (False, \"preflight refuses lo_export() on the against server\", 2, 2), \"refusal\")
"
	expect_eq piped "$(sent "CREATE TABLE t0126_before (id int)")" "statement 1"
	expect_eq never "$(sent "SELECT lo_export(0")" "the refused statement"
	expect_eq never "$(sent "CREATE TABLE t0126_after2 (id int)")" "statement 3"
	test ! -e /tmp/t0126-$$-x
'

# Before each migration commits, clone mode reads the xids its transaction
# wrote to the shared catalogs, and the roles it changed (the restore
# undoes exactly those).  That query is planned only when the
# transaction's own statistics say it wrote such a row: not for a plain
# migration; yes for a role made by dynamic SQL, and whenever the
# statistics cannot tell (track_counts off).
test_expect_success 'the shared-catalog read before COMMIT: skipped when the transaction wrote no shared row, not when track_counts is off' '
	new_project
	printf "%s\n" "CREATE TABLE t0126_plain (id int);" >db/migrations/001_plain.up.sql
	cat >db/migrations/002_hidden.up.sql <<-EOF
	SET LOCAL track_counts = off;
	DO \$\$ BEGIN EXECUTE '\''CREATE ROLE t0126_hidden'\''; END \$\$;
	EOF
	cat >db/migrations/003_role.up.sql <<-EOF
	DO \$\$ BEGIN EXECUTE '\''CREATE ROLE t0126_dyn'\''; END \$\$;
	EOF
	before=$(grep -c "pg_xact_status" "$CF_TEST_PGLOG")
	run_cf migrate preflight --against "$URL" --mode clone
	expect_rc 0
	after=$(grep -c "pg_xact_status" "$CF_TEST_PGLOG")
	expect_eq 2 "$((after - before))" "the full read: for 002 and 003, not 001"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname IN ('\''t0126_hidden'\'', '\''t0126_dyn'\'')")" "the replay'\''s roles dropped"
	expect_eq "clone dropped — t0126_pre unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
'

test_done
