#!/usr/bin/env bash
# t0000-harness.sh — proves the test harness itself works: the throwaway
# cluster, the database and project helpers, run_cf and the expect_*
# checks (including that they fail when they should).
. "$(dirname "$0")/../lib/tap.sh"

test_expect_success 'the confiture binary exists and is executable' '
	test -f "$CONFITURE"
	test -x "$CONFITURE"
'

test_expect_success 'the cluster answers on its socket' '
	expect_eq 1 "$(psql_q postgres "select 1")"
	test -S "$PGHOST/.s.PGSQL.$PGPORT"
	test -d "$CF_TEST_PGDATA"
'

test_expect_success 'the cluster runs with the test settings' '
	expect_eq off "$(psql_q postgres "show fsync")" fsync
	expect_eq off "$(psql_q postgres "show full_page_writes")"
	expect_eq 256 "$(psql_q postgres "show max_locks_per_transaction")"
	expect_eq "" "$(psql_q postgres "show listen_addresses")"
	expect_eq UTF8 "$(psql_q postgres "show server_encoding")"
'

test_expect_success 'psql_q fails on bad SQL' '
	if psql_q postgres "select no_such_column" 2>psql.err; then
		exit 1
	fi
	grep -q "no_such_column" psql.err
'

test_expect_success 'new_db creates an empty database, dropping the old one' '
	expect_eq t0000_db "$(new_db t0000_db)"
	psql_q t0000_db "create table t (x int)"
	new_db t0000_db >/dev/null
	expect_eq 0 "$(psql_q t0000_db "select count(*) from pg_class where relname = '\''t'\''")"
'

test_expect_success 'new_db quotes the name' '
	expect_eq "t0000 \"odd\" name" "$(new_db "t0000 \"odd\" name")"
	expect_eq 1 "$(psql_q postgres "select count(*) from pg_database where datname = '\''t0000 \"odd\" name'\''")"
'

test_expect_success 'db_url reaches the database through libpq' '
	expect_eq t0000_db "$(psql -XAtq "$(db_url t0000_db)" -c "select current_database()")"
'

test_expect_success 'new_project makes a project dir and a local.yaml' '
	new_project t0000_db
	test "$PWD" = "$TEST_PROJECT"
	test -d db/migrations
	test -d db/environments
	grep -q "^database_url: \"postgresql:///t0000_db?host=$PGHOST&" db/environments/local.yaml
'

test_expect_success 'run_cf records exit code, stdout and stderr' '
	cat >fake-cf <<-\EOF
	#!/bin/sh
	echo "args: $*"
	echo "to stderr" >&2
	exit 3
	EOF
	chmod +x fake-cf
	CONFITURE=$PWD/fake-cf
	run_cf migrate up --dry-run
	expect_rc 3
	expect_out_contains "args: migrate up --dry-run"
	expect_out_matches "^args: migrate .* --dry-run$"
	expect_out_not_contains "to stderr"
	expect_err_contains "to stderr"
	expect_err_matches "^to std"
	expect_err_not_contains "args"
	expect_eq "to stderr" "$CF_ERR"
'

test_expect_success 'the expect_* checks fail when they should' '
	CONFITURE=/bin/false
	run_cf
	expect_rc 1
	expect_out_empty
	expect_err_empty
	if expect_rc 0 2>/dev/null; then exit 1; fi
	if expect_out_contains x 2>/dev/null; then exit 1; fi
	if expect_err_matches . 2>/dev/null; then exit 1; fi
	if expect_eq a b 2>/dev/null; then exit 1; fi
	CONFITURE=/bin/echo
	run_cf hello
	if expect_out_not_contains hello 2>/dev/null; then exit 1; fi
	if expect_out_empty 2>/dev/null; then exit 1; fi
'

test_expect_success 'a failing command in the middle of a body fails the test' '
	cat >nested.sh <<-EOF
	. "$CF_SRC/tests/lib/tap.sh"
	test_expect_success "middle fails" "
		true
		false
		true
	"
	test_expect_success "all pass" "true"
	test_expect_success "return works" "return 1; true"
	test_done
	EOF
	mkdir tmp
	rc=0
	TMPDIR=$PWD/tmp bash nested.sh >nested.out 2>&1 || rc=$?
	cat nested.out
	expect_eq 1 "$rc" "exit status of the nested script"
	grep -q "^not ok 1 - middle fails$" nested.out
	grep -q "^ok 2 - all pass$" nested.out
	grep -q "^not ok 3 - return works$" nested.out
	grep -q "^1\.\.3$" nested.out
'

test_expect_success 'run_cf runs the real binary and records its exit code' '
	run_cf --version
	expect_rc 0
'

test_done
