#!/usr/bin/env bash
# t0276-lazy-libpq.sh — libpq is loaded on first use: neither confiture nor
# libconfiture links it (nor the TLS, GSSAPI and LDAP libraries it pulls
# in), commands that never connect (static preflight, lint) never load it,
# commands that connect do; and when libpq.so.5 cannot be loaded, a command
# that needs the database fails with exit code 2 and a clear error, no
# crash, while static preflight and lint work as before.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=$(new_db t0276) || exit 1
URL=$(db_url "$DB")
builddir=$(dirname "$CONFITURE")

# libpq and what only libpq brings in, as ld.so names them.
LIBPQ_FAMILY='libpq\.so|libssl\.so|libgssapi|libkrb5|libldap|libsasl'

# A history with a lint finding and a migration whose .down.sql is missing.
history()
{
	printf 'CREATE TABLE t0276_a (id int);\n' >db/migrations/001_a.up.sql
	printf 'DROP TABLE t0276_a;\n' >db/migrations/001_a.down.sql
	printf 'CREATE INDEX t0276_i ON t0276_a (id);\n' >db/migrations/002_i.up.sql
}

# run_cf with ld.so reporting every library it loads into $TEST_TMP/ld.*;
# prints nothing, the libraries go to $TEST_TMP/loaded.
run_cf_traced()
{
	rm -f "$TEST_TMP"/ld.*
	LD_DEBUG=files LD_DEBUG_OUTPUT="$TEST_TMP/ld" run_cf "$@"
	cat "$TEST_TMP"/ld.* | sed -n "s/^[[:space:]]*[0-9]*:[[:space:]]*file=\([^ ]*\) .*/\1/p" |
		sort -u >"$TEST_TMP/loaded"
}

# A directory whose libpq.so.5 is not a library: dlopen() finds it first
# through LD_LIBRARY_PATH and fails.
mkdir -p "$TEST_TMP/badlib"
printf 'not a shared object\n' >"$TEST_TMP/badlib/libpq.so.5"

test_expect_success 'neither confiture nor libconfiture needs libpq or what it pulls in' '
	readelf -d "$CONFITURE" >needed
	grep -q "NEEDED.*libjansson" needed
	if grep -E "NEEDED.*($LIBPQ_FAMILY)" needed; then
		exit 1
	fi
	readelf -d "$builddir/libconfiture.so" >needed
	grep -q "NEEDED.*libjansson" needed
	if grep -E "NEEDED.*($LIBPQ_FAMILY)" needed; then
		exit 1
	fi
	ldd "$CONFITURE" >ldd.out
	grep -q libjansson ldd.out
	if grep -E "$LIBPQ_FAMILY" ldd.out; then
		exit 1
	fi
'

test_expect_success 'the library neither calls nor defines a PQ symbol of its own' '
	nm -u "$builddir/libconfiture.a" >undef
	grep -q " U cf_malloc" undef
	if grep -E " U PQ" undef; then
		exit 1
	fi
	nm -D --defined-only "$builddir/libconfiture.so" >defined
	grep -q " T cf_session_open" defined
	if grep -E " PQ" defined; then
		exit 1
	fi
'

test_expect_success 'static preflight and lint never load libpq; migrate status does' '
	new_project
	history
	run_cf_traced migrate preflight --migrations-dir db/migrations
	expect_rc 0
	grep -q "^libjansson" "$TEST_TMP/loaded"
	if grep -E "$LIBPQ_FAMILY" "$TEST_TMP/loaded"; then
		exit 1
	fi
	run_cf_traced migrate preflight --postgres-version 16
	expect_rc 0
	if grep -E "$LIBPQ_FAMILY" "$TEST_TMP/loaded"; then
		exit 1
	fi
	run_cf_traced migrate lint --pg-version 16
	expect_rc 1
	expect_out_contains "002_i.up.sql"
	if grep -E "$LIBPQ_FAMILY" "$TEST_TMP/loaded"; then
		exit 1
	fi
	run_cf_traced migrate lint --pg-version 16 db/migrations/002_i.up.sql
	expect_rc 1
	if grep -E "$LIBPQ_FAMILY" "$TEST_TMP/loaded"; then
		exit 1
	fi
	run_cf_traced migrate status --database-url "$URL"
	expect_rc 1
	expect_out_contains "001"
	grep -q "^libpq\.so\.5$" "$TEST_TMP/loaded"
'

test_expect_success 'without a loadable libpq, commands needing the database exit 2 with the reason and a hint' '
	new_project "$DB"
	history
	for cmd in "migrate status --env local" "migrate up --env local" \
		"migrate status --database-url $URL" \
		"migrate preflight --against $URL" \
		"migrate drift --env local" "server status"; do
		LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf $cmd
		expect_rc 2
		expect_err_contains "error: cannot load libpq (libpq.so.5): $TEST_TMP/badlib/libpq.so.5:"
		expect_err_contains "HINT: install the PostgreSQL client library"
		expect_out_not_contains "libpq"
	done
	LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf migrate status --env local --format json
	expect_rc 2
	check_json "
eq(d[\"error\"][\"code\"], \"libpq-missing\", \"code\")
eq(d[\"error\"][\"message\"].startswith(\"cannot load libpq (libpq.so.5): \"), True, \"message\")
"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM pg_class WHERE relname LIKE '"'"'t0276%'"'"' OR relname = '"'"'tb_confiture'"'"'")" \
		"tables created"
'

test_expect_success 'a password in the URL stays hidden when libpq cannot be loaded' '
	new_project
	history
	LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf migrate status \
		--database-url "postgresql://u:s3cr3t-t0276@localhost/x"
	expect_rc 2
	expect_err_contains "cannot load libpq"
	expect_err_not_contains "s3cr3t-t0276"
	expect_out_not_contains "s3cr3t-t0276"
'

test_expect_success 'without a loadable libpq, static preflight and lint print what they print with it' '
	new_project
	history
	run_cf migrate preflight --migrations-dir db/migrations
	cp "$TEST_TMP/out" with.out
	cp "$TEST_TMP/err" with.err
	rc=$CF_RC
	LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf migrate preflight --migrations-dir db/migrations
	expect_rc "$rc"
	cmp with.out "$TEST_TMP/out"
	cmp with.err "$TEST_TMP/err"
	run_cf migrate lint --pg-version 16 --format json
	cp "$TEST_TMP/out" with.out
	LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf migrate lint --pg-version 16 --format json
	expect_rc 1
	cmp with.out "$TEST_TMP/out"
	expect_err_not_contains "libpq"
'

test_expect_success '--version says when libpq cannot be loaded' '
	LD_LIBRARY_PATH="$TEST_TMP/badlib" run_cf --version
	expect_rc 0
	expect_out_contains "libpq: not found (libpq.so.5 cannot be loaded)"
	expect_err_empty
'

test_done
