#!/usr/bin/env bash
# t0210-preflight-unchanged.sh — whatever the pending migrations do, the
# --against database (its pg_dump) and the server's roles, databases and
# settings are the same after a preflight as before, in clone mode and in
# savepoint mode, and no cf_preflight_* clone is left behind.  The
# migrations try hard: transaction control (static errors), SET ROLE,
# DISCARD ALL, a DO block and a procedure that COMMIT, VACUUM, CREATE ROLE,
# CREATE DATABASE, DROP DATABASE, ALTER DATABASE/ROLE ... SET, ALTER SYSTEM.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

PRE=$(new_db t0210_pre) || exit 1
KEEP=$(new_db t0210_keep) || exit 1
URL=$(db_url "$PRE")

# Leftovers of an earlier run (or of a clone-mode restore that failed).
psql_q postgres "DROP DATABASE IF EXISTS t0210_new_db WITH (FORCE)" 2>/dev/null
psql_q postgres "DROP ROLE IF EXISTS t0210_new_role" 2>/dev/null
for r in t0210_app t0210_victim t0210_app2 t0210_renamed t0210_attr; do
	psql_q postgres "DROP OWNED BY $r" 2>/dev/null
	psql_q postgres "DROP ROLE IF EXISTS $r" 2>/dev/null
done
psql_q postgres "ALTER SYSTEM RESET work_mem" || exit 1
psql_q postgres "CREATE ROLE t0210_app; CREATE ROLE t0210_victim;
	CREATE ROLE t0210_app2; CREATE ROLE t0210_attr LOGIN PASSWORD 'old'" || exit 1
psql_q "$PRE" "CREATE TABLE users (id int PRIMARY KEY, name text);
	CREATE SCHEMA app AUTHORIZATION t0210_app;
	INSERT INTO users VALUES (1, 'a')" || exit 1

# Cleanup at exit, whatever the tests left.
t0210_cleanup()
{
	psql_q postgres "ALTER SYSTEM RESET work_mem" >/dev/null 2>&1
	psql_q postgres "DROP DATABASE IF EXISTS t0210_new_db WITH (FORCE)" >/dev/null 2>&1
	psql_q postgres "DROP ROLE IF EXISTS t0210_new_role" >/dev/null 2>&1
	psql_q postgres "DROP DATABASE IF EXISTS t0210_foreign" >/dev/null 2>&1
	psql_q postgres "DROP ROLE IF EXISTS t0210_foreign_role" >/dev/null 2>&1
	psql_q postgres "DROP DATABASE IF EXISTS t0210_pre WITH (FORCE)" >/dev/null 2>&1
	for r in t0210_app t0210_victim t0210_app2 t0210_renamed t0210_attr; do
		psql_q postgres "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
	done
}
trap 'rc=$?; t0210_cleanup; (exit $rc); tap_cleanup' EXIT

# The server-wide state a preflight must not change, one section each.
server_roles()
{
	psql -XAtc "select rolname from pg_roles order by 1" postgres
}

server_databases()
{
	psql -XAtc "select datname from pg_database order by 1" postgres
}

server_settings()
{
	psql -XAtc "select coalesce(d.datname, '-'), coalesce(r.rolname, '-'), s.setconfig
		from pg_db_role_setting s
		left join pg_database d on d.oid = s.setdatabase
		left join pg_roles r on r.oid = s.setrole order by 1, 2" postgres
	psql -XAtc "select name, setting from pg_file_settings
		where sourcefile like '%postgresql.auto.conf' order by 1" postgres
	psql -XAtc "select datname, shobj_description(oid, 'pg_database')
		from pg_database order by 1" postgres
	psql -XAtc "select rolname, rolsuper, rolcreatedb, rolcreaterole,
		rolcanlogin, rolconnlimit, rolpassword from pg_authid order by 1" postgres
	psql -XAtc "select roleid::regrole, member::regrole, admin_option
		from pg_auth_members order by 1, 2" postgres
}

# Records everything before a run, under a prefix.
snapshot()
{
	dump_schema "$PRE" >"$TEST_TMP/$1-schema"
	psql_q "$PRE" "SELECT * FROM users ORDER BY id" >"$TEST_TMP/$1-data"
	server_roles >"$TEST_TMP/$1-roles"
	server_databases >"$TEST_TMP/$1-databases"
	server_settings >"$TEST_TMP/$1-settings"
}

PROJ=$TEST_TMP/proj
M=$PROJ/db/migrations
mkdir -p "$M" || exit 1
cat >"$M/001_proc.up.sql" <<'EOF'
CREATE PROCEDURE t0210_commit() LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE from_proc (x int);
    COMMIT;
    CREATE TABLE from_proc_after (x int);
END
$$;
EOF
echo 'CALL t0210_commit();' >"$M/002_call_commit.up.sql"
cat >"$M/003_do_commit.up.sql" <<'EOF'
DO $$
BEGIN
    CREATE TABLE from_do (x int);
    COMMIT;
END
$$;
EOF
cat >"$M/004_set_role.up.sql" <<'EOF'
SET ROLE t0210_app;
CREATE TABLE app.by_app (x int);
EOF
cat >"$M/005_discard.up.sql" <<'EOF'
DISCARD ALL;
EOF
echo 'VACUUM users;' >"$M/006_vacuum.up.sql"
echo 'CREATE ROLE t0210_new_role;' >"$M/007_create_role.up.sql"
echo 'CREATE DATABASE t0210_new_db;' >"$M/008_create_db.up.sql"
printf 'CREATE TABLE c1 (x int);\nCOMMIT;\nCREATE TABLE c2 (x int);\n' >"$M/009_commit.up.sql"
printf 'CREATE TABLE e1 (x int);\nEND;\nCREATE TABLE e2 (x int);\n' >"$M/010_end.up.sql"
printf 'CREATE TABLE r1 (x int);\nROLLBACK;\nCREATE TABLE r2 (x int);\n' >"$M/011_rollback.up.sql"
printf 'CREATE TABLE h1 (x int);\nCOMMIT AND CHAIN;\nCREATE TABLE h2 (x int);\n' >"$M/012_chain.up.sql"
cat >"$M/013_settings.up.sql" <<'EOF'
ALTER DATABASE t0210_pre SET work_mem = '7MB';
ALTER ROLE t0210_app SET work_mem = '7MB';
COMMENT ON DATABASE t0210_pre IS 'touched by a preflight';
EOF
echo "ALTER SYSTEM SET work_mem = '9MB';" >"$M/014_alter_system.up.sql"
echo 'DROP DATABASE t0210_keep;' >"$M/015_drop_db.up.sql"
cat >"$M/016_last.up.sql" <<'EOF'
CREATE TABLE last_one (x int);
INSERT INTO users VALUES (2, current_user);
EOF
cat >"$M/017_roles.up.sql" <<'EOF'
DROP ROLE t0210_victim;
ALTER ROLE t0210_app2 RENAME TO t0210_renamed;
ALTER ROLE t0210_attr CREATEDB CONNECTION LIMIT 3 PASSWORD 'new';
GRANT t0210_app TO t0210_attr;
EOF

# Compares the state after a run with the snapshot taken before it.
expect_unchanged()
{
	local p="$1" rc=0

	snapshot "$p-after"
	diff -u "$TEST_TMP/$p-schema" "$TEST_TMP/$p-after-schema" || rc=1
	diff -u "$TEST_TMP/$p-data" "$TEST_TMP/$p-after-data" || rc=1
	return $rc
}

expect_server_unchanged()
{
	local p="$1" rc=0

	diff -u "$TEST_TMP/$p-roles" "$TEST_TMP/$p-after-roles" || rc=1
	diff -u "$TEST_TMP/$p-databases" "$TEST_TMP/$p-after-databases" || rc=1
	return $rc
}

expect_no_clone()
{
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'cf_preflight%'")" "clones left behind"
}

test_expect_success 'savepoint mode: every migration gets its verdict' '
	snapshot sp
	cd "$PROJ"
	run_cf migrate preflight --against "$URL" --mode savepoint --format json
	expect_rc 1
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"savepoint\", \"mode\")
eq(a[\"db_consumed\"], False, \"db_consumed\")
got = dict((m[\"version\"], \"ok\" if m[\"success\"] else \"skipped\" if m[\"skipped\"] else m[\"sqlstate\"] or \"error\") for m in a[\"migrations\"])
eq(got, {\"001\": \"ok\", \"002\": \"2D000\", \"003\": \"2D000\", \"004\": \"ok\",
         \"005\": \"skipped\", \"006\": \"skipped\", \"007\": \"ok\", \"008\": \"skipped\",
         \"009\": \"error\", \"010\": \"error\", \"011\": \"error\", \"012\": \"error\",
         \"013\": \"ok\", \"014\": \"skipped\", \"015\": \"skipped\", \"016\": \"ok\",
         \"017\": \"ok\"}, \"outcomes\")
st = dict((m[\"version\"], m) for m in a[\"migrations\"])
eq((st[\"009\"][\"line\"], st[\"009\"][\"column\"]), (2, 1), \"COMMIT position\")
assert \"COMMIT AND CHAIN\" in st[\"012\"][\"error\"], st[\"012\"][\"error\"]
eq(d[\"static\"][\"errors\"], 4, \"static errors\")
"
'

test_expect_success 'savepoint mode: the preflight database is unchanged' '
	expect_unchanged sp
'

test_expect_success 'savepoint mode: roles, databases and settings unchanged' '
	expect_server_unchanged sp
	diff -u "$TEST_TMP/sp-settings" "$TEST_TMP/sp-after-settings"
	expect_no_clone
'

test_expect_success 'savepoint mode: the text report says it rolled back' '
	cd "$PROJ"
	run_cf migrate preflight --against "$URL" --mode savepoint
	expect_rc 1
	expect_eq "Rolled back — preflight DB unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
	expect_out_matches "✗ 009 commit "
	expect_out_contains "transaction control statement '\''COMMIT'\''"
	expect_out_contains "db/migrations/009_commit.up.sql:2:1"
	expect_out_contains "invalid transaction termination"
	expect_unchanged sp
'

test_expect_success 'clone mode: every migration gets its verdict' '
	snapshot cl
	cd "$PROJ"
	run_cf migrate preflight --against "$URL" --mode clone --format json
	expect_rc 1
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"clone\", \"mode\")
eq(a[\"db_consumed\"], False, \"db_consumed\")
got = dict((m[\"version\"], \"ok\" if m[\"success\"] else \"skipped\" if m[\"skipped\"] else m[\"sqlstate\"] or \"error\") for m in a[\"migrations\"])
exp = {\"001\": \"ok\", \"002\": \"2D000\", \"003\": \"2D000\", \"004\": \"ok\",
       \"005\": \"ok\", \"006\": \"ok\", \"007\": \"ok\", \"008\": \"ok\",
       \"009\": \"error\", \"010\": \"error\", \"011\": \"error\", \"012\": \"error\",
       \"013\": \"ok\", \"014\": \"ok\", \"015\": \"error\", \"016\": \"ok\",
       \"017\": \"ok\"}
eq(got, exp, \"outcomes\")
"
'

test_expect_success 'clone mode: the preflight database is unchanged' '
	expect_unchanged cl
	expect_no_clone
'

test_expect_success 'clone mode: DROP DATABASE of an existing database is refused' '
	expect_eq 1 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '\''t0210_keep'\''")" "t0210_keep exists"
'

test_expect_success 'clone mode: roles and databases unchanged (CREATE ROLE, CREATE DATABASE undone)' '
	expect_server_unchanged cl
'

test_expect_success 'clone mode: role attributes, memberships, database/role/system settings unchanged' '
	diff -u "$TEST_TMP/cl-settings" "$TEST_TMP/cl-after-settings"
'

# Runs a clone-mode preflight whose 002 sleeps; while it sleeps another
# session creates a database and a role, as on a shared staging server.
test_expect_success 'clone mode: setup: objects created meanwhile by another session' '
	psql_q postgres "DROP DATABASE IF EXISTS t0210_foreign" 2>/dev/null
	psql_q postgres "DROP ROLE IF EXISTS t0210_foreign_role" 2>/dev/null
	new_project
	echo "CREATE DATABASE t0210_new_db;" >db/migrations/001_create_db.up.sql
	echo "SELECT pg_sleep(2);" >db/migrations/002_sleep.up.sql
	echo "CREATE ROLE t0210_new_role;" >db/migrations/003_create_role.up.sql
	"$CONFITURE" migrate preflight --against "$URL" --mode clone >out 2>err &
	pid=$!
	for i in $(seq 50); do
		n=$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '\''%pg_sleep(2)%'\'' AND pid <> pg_backend_pid()")
		[ "$n" = 0 ] || break
		sleep 0.1
	done
	psql_q postgres "CREATE DATABASE t0210_foreign"
	psql_q postgres "CREATE ROLE t0210_foreign_role"
	rc=0
	wait $pid || rc=$?
	cat out err
	expect_eq 0 "$rc" "exit code"
	expect_no_clone
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname = '\''t0210_new_db'\''")" "database created by the replay"
	expect_eq "" "$(psql_q postgres "SELECT rolname FROM pg_roles WHERE rolname = '\''t0210_new_role'\''")" "role created by the replay"
'

test_expect_success 'clone mode: a database another session created meanwhile is kept' '
	expect_eq t0210_foreign "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname = '\''t0210_foreign'\''")"
'

test_expect_success 'clone mode: a role another session created meanwhile is kept' '
	expect_eq t0210_foreign_role "$(psql_q postgres "SELECT rolname FROM pg_roles WHERE rolname = '\''t0210_foreign_role'\''")"
'

test_done
