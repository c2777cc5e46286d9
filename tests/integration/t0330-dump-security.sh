#!/usr/bin/env bash
# t0330-dump-security.sh — a hostile dump cannot make confiture run a
# command (issue 15).  Dumps load through libpq, never psql: each psql
# meta-command form and position that once ran `\! id` as root is an
# exit-2 error at the dump's file:line:col, and the marker file its
# command would have touched never appears.  A real pg_dump 15 dump
# (\restrict lines, COPY data, BEGIN ATOMIC, a rule) still loads.  A FIFO,
# a device, a symbolic link or a truncated dump is refused with a clear
# error.  No secret (sslpassword, password) is ever on pg_dump's command
# line: a wrapper pg_dump records its argv.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME CONFITURE_CACHE_MAX NO_COLOR CONFITURE_DATABASE_URL \
	CONFITURE_PG_BINDIR
SRV=$(db_url postgres)
CACHE="$TEST_TMP/cache"
ECACHE="$TEST_TMP/ecache"	# embedded server
PROJ="$TEST_TMP/proj"
MARK="$TEST_TMP/marker"
mkdir -p "$PROJ/db/migrations" "$PROJ/db/environments" || exit 1
echo 'CREATE TABLE public.t0330_new (id int);' >"$PROJ/db/migrations/001_new.up.sql"
echo 'DROP TABLE public.t0330_new;' >"$PROJ/db/migrations/001_new.down.sql"

# preflight --from-dump DUMP [ARGS...] on the harness cluster
pf()
{
	local dump=$1

	shift
	run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" \
		--from-dump "$dump" --server "$SRV" --cache-dir "$CACHE" "$@"
}

# Databases a load left behind (half-loaded templates).
tmp_dbs()
{
	psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'cf\_tpl\_%\_tmp\_%' OR datname LIKE 'cf\_oneoff\_%'"
}

# The source of the legitimate dump: what pg_dump writes in odd ways.
cat >"$TEST_TMP/src.sql" <<\EOF || exit 1
CREATE TABLE t (id int PRIMARY KEY, s text DEFAULT E'\\x\'y');
INSERT INTO t VALUES (1, E'a\\b'), (2, E'tab\there'), (3, E'\\.'), (4, '-- \! x');
CREATE TABLE log (id int);
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); INSERT INTO log VALUES (2));
CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $q$ BEGIN RETURN $$\! x$$ || E'\\'; END $q$;
COMMENT ON TABLE t IS 'it''s \! a comment';
EOF

# Clears the caches; stops the embedded server and removes root's cluster
# directory, however the script ends.
dump_security_cleanup()
{
	local d

	"$CONFITURE" cache clear --cache-dir "$CACHE" >/dev/null 2>&1
	[ -d "$ECACHE" ] || return 0
	d=$("$CONFITURE" server status --cache-dir "$ECACHE" 2>/dev/null |
		sed -n 's/^  data dir: *//p' | head -n 1)
	"$CONFITURE" server stop --cache-dir "$ECACHE" >/dev/null 2>&1
	case "$d" in
	/var/tmp/confiture-postgres/*/data) rm -rf "$(dirname "$(dirname "$d")")" ;;
	esac
}
trap 'rc=$?; dump_security_cleanup; (exit $rc); tap_cleanup' EXIT

# meta_case NAME WHERE(line:col) DUMP-TEXT: the dump must be refused at
# meta.sql:WHERE, with nothing run and no marker left.
meta_case()
{
	local name=$1 where=$2 text=$3

	rm -f "$MARK"
	mkdir -p "$name"
	printf '%s' "$text" >"$name/meta.sql"
	pf "$name/meta.sql"
	expect_rc 2 || return 1
	expect_err_contains "$name/meta.sql:$where" || return 1
	expect_err_contains "meta-command" || return 1
	expect_out_not_contains "Replay" || return 1
	if [ -e "$MARK" ]; then
		echo "the marker file exists: a command ran" >&2
		return 1
	fi
	expect_eq 0 "$(tmp_dbs)" "databases left" || return 1
	# validation happens before any load: nothing of the dump ran
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'cf\_tpl\_%'")" "templates"
}

test_expect_success 'running as root, as CI does (the forms below ran \! as root)' '
	echo "uid $(id -u)"
	touch "$MARK" && rm "$MARK"
'

test_expect_success 'meta-command after a statement on its line' '
	meta_case same-line 1:26 "CREATE TABLE a (id int); \\! touch $MARK
"
'

test_expect_success '\g then \! after a statement' '
	meta_case g-bang 1:10 "SELECT 1 \\g \\! touch $MARK
"
'

test_expect_success '\o |cmd' '
	meta_case o-pipe 1:1 "\\o |touch $MARK
SELECT 1;
"
'

test_expect_success '\g |cmd' '
	meta_case g-pipe 1:10 "SELECT 1 \\g |touch $MARK
"
'

test_expect_success '\w |cmd' '
	meta_case w-pipe 2:1 "SELECT 1;
\\w |touch $MARK
"
'

test_expect_success '\copy ... to program' '
	meta_case copy-program 1:1 "\\copy (SELECT 1) to program '\''touch $MARK'\''
"
'

test_expect_success 'leading spaces before \!' '
	meta_case spaces 1:4 "   \\! touch $MARK
"
'

test_expect_success 'a line comment before \!' '
	meta_case comment 2:1 "-- harmless
\\! touch $MARK
"
'

test_expect_success 'a block comment before \! on its line' '
	meta_case block-comment 1:9 "/* c */ \\! touch $MARK
"
'

test_expect_success '\! inside an unfinished statement, the line before its ;' '
	meta_case unfinished 2:1 "CREATE TABLE b (
\\! touch $MARK
id int);
"
'

test_expect_success 'standard_conforming_strings off and a '\''x\'\'''\'' literal' '
	meta_case scs-off 3:1 "SET standard_conforming_strings = off;
SELECT '\''x\\'\'''\'';
\\! touch $MARK
"
'

test_expect_success 'COPY ... TO STDOUT has no data lines after it' '
	meta_case copy-to-stdout 3:1 "CREATE TABLE s (x int);
COPY s TO STDOUT;
\\! touch $MARK
"
'

test_expect_success 'a GRANT line next to text that looks like an open $q$' '
	meta_case dollar-q 3:1 "SELECT 1 AS \"x\$q\$\";
GRANT SELECT ON TABLE pg_class TO PUBLIC;
\\! touch $MARK
"
'

test_expect_success 'inside pg_dump'"'"'s \restrict block' '
	meta_case restricted 3:1 "\\restrict abc123
SELECT 1;
\\! touch $MARK
\\unrestrict abc123
"
'

test_expect_success 'a malformed \restrict line is a meta-command' '
	meta_case bad-restrict 1:1 "\\restrict abc; \\! touch $MARK
"
'

test_expect_success 'meta-commands on the embedded server too' '
	rm -f "$MARK"
	run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" \
		--from-dump same-line/meta.sql --cache-dir "$ECACHE"
	expect_rc 2
	expect_err_contains "same-line/meta.sql:1:26"
	test ! -e "$MARK"
'

test_expect_success 'setup: a pg_dump 15 dump with data, BEGIN ATOMIC, a rule and backslashes' '
	new_db t0330_src >/dev/null
	psql -XAtq -v ON_ERROR_STOP=1 -d t0330_src -f "$TEST_TMP/src.sql" >/dev/null
	pg_dump -d t0330_src -f full.sql
	pg_dump -Fc -d t0330_src -f full.dump
	psql_q postgres "DROP DATABASE t0330_src" >/dev/null
	grep -q "^COPY public.t (id, s) FROM stdin;" full.sql
	if pg_dump --help | grep -q restrict-key; then
		grep -q "^\\\\restrict " full.sql
		grep -q "^\\\\unrestrict " full.sql
	fi
'

test_expect_success 'a legitimate pg_dump 15 dump with COPY data loads' '
	pf full.sql
	expect_rc 0
	expect_out_contains "dump loaded into template cf_tpl_"
	tpl=$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_tpl\_%'\'' AND datistemplate")
	expect_eq 4 "$(psql_q "$tpl" "SELECT count(*) FROM public.t")" "rows"
	expect_eq "a\\b" "$(psql_q "$tpl" "SELECT s FROM public.t WHERE id = 1")"
	expect_eq "\\." "$(psql_q "$tpl" "SELECT s FROM public.t WHERE id = 3")"
	expect_eq "-- \\! x" "$(psql_q "$tpl" "SELECT s FROM public.t WHERE id = 4")"
	expect_eq 2 "$(psql_q "$tpl" "SELECT public.f()")"
	expect_eq "\\! x\\" "$(psql_q "$tpl" "SELECT public.g()")"
	expect_eq 1 "$(psql_q "$tpl" "SELECT count(*) FROM pg_rules WHERE rulename = '\''r'\''")"
	expect_eq 0 "$(tmp_dbs)"
'

test_expect_success 'the same dump in custom format loads (its schema) through pg_restore' '
	pf full.dump
	expect_rc 0
	expect_out_contains "dump loaded into template"
'

test_expect_success 'a dump cut before its \unrestrict line is truncated: refused' '
	grep -q "^\\\\unrestrict " full.sql || { echo "# pg_dump writes no \\restrict"; exit 0; }
	grep -v "^\\\\unrestrict " full.sql >cut.sql
	pf cut.sql
	expect_rc 2
	expect_err_contains "\\unrestrict"
	expect_err_contains "truncated"
	expect_eq 0 "$(tmp_dbs)"
'

test_expect_success 'COPY data without its \. line: refused' '
	printf "%s\n" "CREATE TABLE u (x int);" "COPY u (x) FROM stdin;" "1" >nocopyend.sql
	pf nocopyend.sql
	expect_rc 2
	expect_err_contains "nocopyend.sql:3"
	expect_err_contains "does not end"
'

test_expect_success 'bad COPY data is an error at its own line of the dump' '
	printf "%s\n" "CREATE TABLE v (x int);" "COPY v (x) FROM stdin;" "1" "oops" "\\." >badcopy.sql
	pf badcopy.sql
	expect_rc 2
	expect_err_contains "badcopy.sql:4"
	expect_err_contains "invalid input syntax for type integer"
	expect_eq 0 "$(tmp_dbs)"
'

test_expect_success 'a statement that changes standard_conforming_strings behind the lexer stops the load' '
	printf "%s\n" "SELECT set_config('\''standard_conforming_strings'\'', '\''off'\'', false);" \
		"SELECT 1;" >setconfig.sql
	pf setconfig.sql
	expect_rc 2
	expect_err_contains "setconfig.sql:1:1"
	expect_err_contains "standard_conforming_strings"
	expect_eq 0 "$(tmp_dbs)"
'

test_expect_success 'a FIFO is refused at once, without waiting for a writer' '
	mkfifo fifo.sql
	CF_TEST_WRAPPER="timeout 20" pf fifo.sql
	expect_rc 2
	expect_err_contains "a FIFO, not a regular file"
'

test_expect_success '/dev/zero is refused: a device is not a dump' '
	pf /dev/zero
	expect_rc 2
	expect_err_contains "a character device"
	expect_out_not_contains "passed"
'

test_expect_success 'a symbolic link is refused; a directory needs toc.dat' '
	ln -s full.sql link.sql
	pf link.sql
	expect_rc 2
	expect_err_contains "symbolic link"
	mkdir -p notadump
	pf notadump
	expect_rc 2
	expect_err_contains "without a regular file toc.dat"
'

test_expect_success 'a directory-format dump loads' '
	new_db t0330_dir >/dev/null
	psql_q t0330_dir "CREATE TABLE d (x int)" >/dev/null
	pg_dump -Fd -d t0330_dir -f dirdump
	psql_q postgres "DROP DATABASE t0330_dir" >/dev/null
	pf dirdump
	expect_rc 0
	expect_out_contains "dump loaded into template"
'

test_expect_success 'sslpassword and password never reach pg_dump'"'"'s command line' '
	mkdir -p bin
	real=$(ls /usr/lib/postgresql/*/bin/pg_dump | sort -V | tail -n 1)
	cat >bin/pg_dump <<-EOF
	#!/bin/sh
	printf "%s\n" "\$@" >"$TEST_TMP/argv.log"
	cat /proc/\$\$/cmdline | tr "\\0" "\\n" >"$TEST_TMP/cmdline.log"
	if [ -n "\$PGSERVICEFILE" ]; then
		stat -c %a "\$PGSERVICEFILE" >"$TEST_TMP/svc.mode"
		stat -c %a "\$(dirname "\$PGSERVICEFILE")" >"$TEST_TMP/svcdir.mode"
		grep -c "^sslpassword=Ssl5ecret$" "\$PGSERVICEFILE" >"$TEST_TMP/svc.has"
		echo "\$PGSERVICEFILE" >"$TEST_TMP/svc.path"
	fi
	exec "$real" "\$@"
	EOF
	chmod +x bin/pg_dump
	new_db t0330_prod >/dev/null
	psql_q t0330_prod "CREATE TABLE p (x int)" >/dev/null
	cat >"$PROJ/db/environments/prod.yaml" <<-EOF
	name: prod
	database_url: "postgresql://postgres:Pw5ecret@/t0330_prod?host=$PGHOST&port=$PGPORT&sslpassword=Ssl5ecret"
	EOF
	cd "$PROJ"
	CONFITURE_PG_BINDIR="$TEST_TMP/bin" run_cf migrate preflight --from-env prod --env prod \
		--server "$SRV" --cache-dir "$CACHE"
	cd "$TEST_TMP"
	cat argv.log
	expect_rc 0
	test -s argv.log
	! grep -q "Ssl5ecret\|Pw5ecret" argv.log cmdline.log
	grep -qx "service=confiture" argv.log
	expect_eq 600 "$(cat svc.mode)" "service file mode"
	expect_eq 700 "$(cat svcdir.mode)" "service directory mode"
	expect_eq 1 "$(cat svc.has)" "sslpassword in the service file"
	test ! -e "$(cat svc.path)"
	test ! -e "$(dirname "$(cat svc.path)")"
	! grep -q "Ssl5ecret\|Pw5ecret" out err
'

test_expect_success 'without sslpassword: key=value on the command line, still no password' '
	rm -f argv.log svc.path
	cat >"$PROJ/db/environments/prod.yaml" <<-EOF
	name: prod
	database_url: "postgresql://postgres:Pw5ecret@/t0330_prod?host=$PGHOST&port=$PGPORT"
	EOF
	cd "$PROJ"
	CONFITURE_PG_BINDIR="$TEST_TMP/bin" run_cf migrate preflight --from-env prod --env prod \
		--server "$SRV" --cache-dir "$CACHE"
	cd "$TEST_TMP"
	expect_rc 0
	! grep -q "Pw5ecret" argv.log cmdline.log
	grep -q "dbname=.t0330_prod" argv.log
	test ! -e svc.path
'

test_done
