#!/usr/bin/env bash
# t0320-provision.sh — the provisioning paths of `migrate preflight`:
# --from-env (pg_dump of an environment's database, read only) on the
# embedded server and on --server, the embedded server's lifetime
# (stopped after a run, --keep-server, attach, `server stop`), SIGINT
# while replaying and while loading a dump, usage errors of the
# --from-* options, and the "provision" object of --format json.
#
# Every case checks what is left behind: the production database and its
# tracking rows unchanged, no password in any output, no temporary dump
# file, no cf_preflight_* clone, no half-loaded cf_tpl_*_tmp_* database,
# no postgres process of the embedded cluster unless it was kept.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME CONFITURE_CACHE_MAX NO_COLOR CONFITURE_DATABASE_URL \
	CONFITURE_PG_BINDIR
CACHE="$TEST_TMP/cache"		# embedded server
UCACHE="$TEST_TMP/ucache"	# usage errors: must stay unused
SCACHE="$TEST_TMP/scache"	# --server (the harness cluster)
PROJ="$TEST_TMP/proj"
MIG="$TEST_TMP/mig"		# one migration that passes on base.sql
SLEEPMIG="$TEST_TMP/sleepmig"	# 002 sleeps 10 s
PW=S3cretPw
PROD=$(new_db t0320_prod) || exit 1
PROD_URL="postgresql://postgres:$PW@/$PROD?host=$PGHOST&port=$PGPORT"
SRV_PW="$(db_url postgres)&password=$PW"

mkdir -p "$PROJ/db/migrations" "$PROJ/db/environments" "$MIG" "$SLEEPMIG" || exit 1
cat >"$PROJ/db/environments/production.yaml" <<EOF || exit 1
name: production
database_url: "$PROD_URL"
EOF
printf '%s\n' 'name: nourl' >"$PROJ/db/environments/nourl.yaml" || exit 1
echo 'CREATE TABLE public.t0320_users (id int PRIMARY KEY, email text NOT NULL);' \
	>"$PROJ/db/migrations/001_users.up.sql"
echo 'DROP TABLE public.t0320_users;' >"$PROJ/db/migrations/001_users.down.sql"
# a name of this run only, so that the scan of /tmp below never sees another run's files
PROBE=t0320_probe_$$
echo "CREATE TABLE public.$PROBE (id int);" >"$PROJ/db/migrations/002_probe.up.sql"
echo "DROP TABLE public.$PROBE;" >"$PROJ/db/migrations/002_probe.down.sql"

echo 'CREATE TABLE public.t0320_base (id int);' >"$TEST_TMP/base.sql"
echo 'ALTER TABLE public.t0320_base ADD COLUMN x int;' >"$MIG/001_add_x.up.sql"
echo 'CREATE TABLE public.t0320_first (x int);' >"$SLEEPMIG/001_first.up.sql"
echo 'SELECT pg_sleep(10);' >"$SLEEPMIG/002_sleep.up.sql"
echo 'CREATE TABLE public.t0320_third (x int);' >"$SLEEPMIG/003_third.up.sql"

# Milliseconds since the epoch.
now_ms()
{
	echo $(( ${EPOCHREALTIME/./} / 1000 ))
}

# Data dir of the embedded cluster of a cache dir (empty when none).
data_dir_of()
{
	"$CONFITURE" server status --cache-dir "$1" 2>/dev/null |
		sed -n 's/^  data dir: *//p' | head -n 1
}

# URL of the embedded server of a cache dir while it runs (else empty).
server_url_of()
{
	"$CONFITURE" server status --cache-dir "$1" 2>/dev/null |
		sed -n 's/^  url: *//p' | head -n 1
}

# Number of postmasters running on the cluster of a cache dir.
postmasters()
{
	local d

	d=$(data_dir_of "$1")
	[ -n "$d" ] || { echo 0; return 0; }
	pgrep -fc -- "-D $d -c" || true
}

# Runs SQL on the embedded server of cache dir $1, starting it for the
# query and stopping it again; prints the rows.
embedded_q()
{
	local url rc=0

	url=$("$CONFITURE" server start --cache-dir "$1") || return 1
	psql_q "$url" "$2" || rc=$?
	"$CONFITURE" server stop --cache-dir "$1" >/dev/null || rc=1
	return $rc
}

# Number of templates `cache list` shows for a cache dir.
cached_count()
{
	"$CONFITURE" cache list --format json --cache-dir "$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

# Names of the cached templates of a cache dir, one a line.
cached_names()
{
	"$CONFITURE" cache list --format json --cache-dir "$1" |
		python3 -c 'import json,sys; [print(t["template"]) for t in json.load(sys.stdin)["templates"]]'
}

# Fails when the password shows anywhere in the last run's output.
expect_no_password()
{
	if grep -n "$PW" "$TEST_TMP/out" "$TEST_TMP/err"; then
		echo "the password is in the output" >&2
		tap_show_run
		return 1
	fi
}

# Fails when a file is left in the cache's dumps/ or tmp/ directory.
expect_no_temp_files()
{
	local left

	left=$(find "$1/dumps" "$1/tmp" -type f 2>/dev/null)
	[ -z "$left" ] && return 0
	echo "temporary files left: $left" >&2
	return 1
}

# Runs preflight in the background with the given arguments, sends SIGINT
# once a backend of the embedded server of $CACHE runs a query like
# $WAIT_FOR, and waits.  ELAPSED: from the signal to the exit.
run_and_interrupt()
{
	local pid start url i seen=0

	"$CONFITURE" migrate preflight "$@" \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
	pid=$!
	for i in $(seq 150); do
		url=$(server_url_of "$CACHE")
		if [ -n "$url" ] && [ "$(psql_q "$url" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '$WAIT_FOR' AND pid <> pg_backend_pid()" 2>/dev/null)" = 1 ]; then
			seen=1
			break
		fi
		sleep 0.1
	done
	if [ "$seen" -eq 0 ]; then
		echo "no backend ran a query like $WAIT_FOR" >&2
		kill "$pid"
		wait "$pid" || true
		cat "$TEST_TMP/out" "$TEST_TMP/err" >&2
		return 1
	fi
	sleep 0.3
	start=$(now_ms)
	kill -INT "$pid"
	CF_RC=0
	wait "$pid" || CF_RC=$?
	ELAPSED=$(( $(now_ms) - start ))
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
	echo "exit $CF_RC ${ELAPSED} ms after SIGINT"
}

# Stops the embedded server and clears both caches however the script
# ends; removes root's cluster directory and what is left on the harness.
provision_cleanup()
{
	local c d

	for c in "$CACHE" "$UCACHE"; do
		[ -d "$c" ] || continue
		d=$(data_dir_of "$c")
		"$CONFITURE" cache clear --cache-dir "$c" >/dev/null 2>&1
		"$CONFITURE" server stop --cache-dir "$c" >/dev/null 2>&1
		case "$d" in
		/var/tmp/confiture-postgres/*/data) rm -rf "$(dirname "$(dirname "$d")")" ;;
		esac
	done
	[ -d "$SCACHE" ] && "$CONFITURE" cache clear --cache-dir "$SCACHE" >/dev/null 2>&1
	psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $PROD WITH (FORCE)" >/dev/null 2>&1
}
trap 'rc=$?; provision_cleanup; (exit $rc); tap_cleanup' EXIT

test_expect_success 'setup: migrate up --env production, then drift by hand' '
	cd "$PROJ"
	run_cf migrate up --env production
	expect_rc 0
	expect_no_password
	expect_eq 2 "$(psql_q "$PROD" "SELECT count(*) FROM tb_confiture")" "tracking rows"
	psql_q "$PROD" "ALTER TABLE t0320_users RENAME COLUMN email TO mail"
	echo "CREATE UNIQUE INDEX t0320_users_email_idx ON public.t0320_users (email);" \
		>db/migrations/003_email_idx.up.sql
	echo "DROP INDEX public.t0320_users_email_idx;" >db/migrations/003_email_idx.down.sql
	echo "ALTER INDEX public.t0320_users_email_idx RENAME TO t0320_users_email_key;" \
		>db/migrations/004_rename_idx.up.sql
	echo "ALTER INDEX public.t0320_users_email_key RENAME TO t0320_users_email_idx;" \
		>db/migrations/004_rename_idx.down.sql
'

test_expect_success '--from-env production on the embedded server: the drift is the root cause' '
	cd "$PROJ"
	dump_schema "$PROD" >"$TEST_TMP/prod-before"
	psql_q "$PROD" "SELECT * FROM tb_confiture ORDER BY 1" >"$TEST_TMP/track-before"
	touch "$TEST_TMP/marker"
	run_cf migrate preflight --from-env production --env production --cache-dir "$CACHE"
	expect_rc 1
	expect_out_contains "dump loaded into template cf_tpl_"
	expect_out_matches "✗ 003 email_idx .*root cause"
	expect_out_contains "column \"email\" does not exist"
	expect_out_matches "✗ 004 rename_idx .*consequence of 003"
	expect_out_contains "2 failed: 1 root cause, 1 consequence"
	expect_out_not_contains "001 users"
	expect_no_password
	# production is as it was
	dump_schema "$PROD" >prod-after
	diff -u "$TEST_TMP/prod-before" prod-after
	psql_q "$PROD" "SELECT * FROM tb_confiture ORDER BY 1" >track-after
	diff -u "$TEST_TMP/track-before" track-after
	# the pg_dump output is gone, from the cache and from /tmp
	expect_no_temp_files "$CACHE"
	find /tmp -maxdepth 3 -type f -newer "$TEST_TMP/marker" -not -path "$TEST_TMP/*" \
		-not -path "${CF_TEST_PGDIR:-/nonexistent}/*" \
		-exec grep -l "$PROBE" {} + 2>/dev/null >left || true
	expect_eq "" "$(cat left)" "dump files left in /tmp"
	# nothing of ours runs any more
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after the run"
	expect_eq 1 "$(cached_count "$CACHE")" "templates cached"
'

test_expect_success '--from-env when loading fails later: the dump file is removed too' '
	cd "$PROJ"
	run_cf migrate preflight --from-env production --env production --cache-dir "$SCACHE" \
		--server "postgresql:///postgres?host=$TEST_TMP/no-such-dir&port=5999"
	expect_rc 2
	expect_no_password
	expect_no_temp_files "$SCACHE"
'

test_expect_success 'SIGINT while pg_dump waits for a lock: exit 2, no dump file left' '
	cd "$PROJ"
	PGAPPNAME=t0320_locker psql -X -d "$PROD" -c "BEGIN" \
		-c "LOCK TABLE t0320_users IN ACCESS EXCLUSIVE MODE" \
		-c "SELECT pg_sleep(8)" >/dev/null 2>&1 &
	locker=$!
	for i in $(seq 100); do
		n=$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\''t0320_locker'\'' AND query LIKE '\''%pg_sleep(8)%'\''")
		[ "$n" = 0 ] || break
		sleep 0.1
	done
	expect_eq 1 "$n" "locker sessions"
	"$CONFITURE" migrate preflight --from-env production --env production --server "$SRV_PW" \
		--cache-dir "$SCACHE" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
	pid=$!
	for i in $(seq 100); do
		n=$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\''pg_dump'\'' AND wait_event_type = '\''Lock'\''")
		[ "$n" = 0 ] || break
		sleep 0.1
	done
	start=$(now_ms)
	kill -INT "$pid" || true
	CF_RC=0
	wait "$pid" || CF_RC=$?
	elapsed=$(( $(now_ms) - start ))
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
	psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\''t0320_locker'\''" >/dev/null
	wait "$locker" || true
	echo "pg_dump waited for the lock: $n; exit $CF_RC ${elapsed} ms after SIGINT"
	expect_eq 1 "$n" "pg_dump sessions waiting for the lock"
	expect_rc 2
	test "$elapsed" -lt 3000
	expect_err_contains "interrupted"
	expect_no_password
	expect_no_temp_files "$SCACHE"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\''pg_dump'\''")" "pg_dump sessions left"
'

test_expect_success '--from-env with --server: template on the harness, no clone left, cached' '
	cd "$PROJ"
	run_cf migrate preflight --from-env production --env production --server "$SRV_PW" \
		--cache-dir "$SCACHE"
	expect_rc 1
	expect_out_contains "column \"email\" does not exist"
	expect_no_password
	tpl=$(cached_names "$SCACHE")
	case "$tpl" in cf_tpl_*) ;; *) echo "cached: $tpl" >&2; false ;; esac
	expect_eq 1 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '\''$tpl'\'' AND datistemplate")" "template on the harness"
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_preflight\_%'\'' OR datname LIKE '\''%\_tmp\_%'\''")" "clones left"
	expect_no_temp_files "$SCACHE"
	dump_schema "$PROD" >prod-after
	diff -u "$TEST_TMP/prod-before" prod-after
	# a second dump of the unchanged production is a cache hit
	run_cf migrate preflight --from-env production --env production --server "$SRV_PW" \
		--cache-dir "$SCACHE" --format json
	expect_rc 1
	expect_no_password
	check_json "
p = d[\"provision\"]
eq(p[\"template\"], \"$tpl\", \"template\")
eq(p[\"cache_hit\"], True, \"cache_hit\")
assert \"$tpl\" in p[\"url\"], p[\"url\"]
eq(d[\"against\"][\"root_causes\"], 1, \"root causes\")
"
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_preflight\_%'\''")" "clones left"
	expect_no_temp_files "$SCACHE"
'

test_expect_success '--from-dump on the embedded server: stopped after the run' '
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump base.sql --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "All 1 migration passed"
	test -n "$(data_dir_of "$CACHE")"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after the run"
	run_cf server status --cache-dir "$CACHE"
	expect_out_contains "not running"
'

test_expect_success '--keep-server keeps it; the next run attaches; server stop stops it' '
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump base.sql --cache-dir "$CACHE" \
		--keep-server --format json
	expect_rc 0
	expect_eq 1 "$(postmasters "$CACHE")" "postmasters after --keep-server"
	run_cf server status --cache-dir "$CACHE"
	pid=$(sed -n "s/.*running (pid \([0-9]*\)).*/\1/p" "$TEST_TMP/out")
	test -n "$pid"
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump base.sql --cache-dir "$CACHE" \
		--format json
	expect_rc 0
	check_json "
p = d[\"provision\"]
eq(p[\"cache_hit\"], True, \"cache_hit\")
assert p[\"server_start_ms\"] < 1000, \"attaching took %d ms\" % p[\"server_start_ms\"]
"
	echo "attached in $(python3 -c "import json; print(json.load(open(\"$TEST_TMP/out\"))[\"provision\"][\"server_start_ms\"])") ms"
	# an attached run leaves the kept server running
	run_cf server status --cache-dir "$CACHE"
	expect_out_contains "running (pid $pid)"
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "stopped the embedded server"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after server stop"
'

test_expect_success 'SIGINT while replaying (embedded): exit 2, nothing left, cache intact' '
	before=$(cached_names "$CACHE")
	WAIT_FOR="%pg_sleep(10)%"
	run_and_interrupt --migrations-dir "$SLEEPMIG" --from-dump base.sql --cache-dir "$CACHE"
	expect_rc 2
	test "$ELAPSED" -lt 3000
	expect_out_contains "interrupted"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after SIGINT"
	expect_eq "$before" "$(cached_names "$CACHE")" "cached templates"
	expect_no_temp_files "$CACHE"
	embedded_q "$CACHE" "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_%'\'' ORDER BY 1" >dbs
	expect_eq "$(printf "%s\n" "$before" | sort)" "$(cat dbs)" "databases on the embedded server"
'

test_expect_success 'SIGINT while replaying with --keep-server: the server stays, no clone' '
	WAIT_FOR="%pg_sleep(10)%"
	run_and_interrupt --migrations-dir "$SLEEPMIG" --from-dump base.sql --cache-dir "$CACHE" \
		--keep-server
	expect_rc 2
	test "$ELAPSED" -lt 3000
	expect_eq 1 "$(postmasters "$CACHE")" "postmasters after SIGINT"
	url=$(server_url_of "$CACHE")
	expect_eq "" "$(psql_q "$url" "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_preflight\_%'\'' OR datname LIKE '\''%\_tmp\_%'\''")" "clones left"
	run_cf server stop --cache-dir "$CACHE"
	expect_out_contains "stopped the embedded server"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after server stop"
'

test_expect_success 'SIGINT while loading a dump (embedded): exit 2, no template, stopped' '
	before=$(cached_names "$CACHE")
	{ cat base.sql; echo "SELECT pg_sleep(5);"; echo "CREATE TABLE public.t0320_late (x int);"; } >slow.sql
	WAIT_FOR="%pg_sleep(5)%"
	run_and_interrupt --migrations-dir "$MIG" --from-dump slow.sql --cache-dir "$CACHE"
	expect_rc 2
	test "$ELAPSED" -lt 3000
	expect_err_contains "interrupted"
	expect_out_not_contains "Replay"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after SIGINT"
	expect_eq "$before" "$(cached_names "$CACHE")" "cached templates"
	expect_no_temp_files "$CACHE"
	embedded_q "$CACHE" "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_%'\'' ORDER BY 1" >dbs
	expect_eq "$(printf "%s\n" "$before" | sort)" "$(cat dbs)" "databases on the embedded server"
'

test_expect_success 'usage errors of --from-dump, --from-env and --server: exit 2' '
	cd "$PROJ"
	run_cf migrate preflight --from-dump "$TEST_TMP/base.sql" --against "$(db_url postgres)"
	expect_rc 2
	expect_err_contains "--against cannot be combined"
	run_cf migrate preflight --from-env production --against "$(db_url postgres)"
	expect_rc 2
	expect_err_contains "--against cannot be combined"
	run_cf migrate preflight --from-dump "$TEST_TMP/base.sql" --from-env production
	expect_rc 2
	expect_err_contains "cannot be used together"
	run_cf migrate preflight --server "$(db_url postgres)"
	expect_rc 2
	expect_err_contains "--from-dump or --from-env"
	run_cf migrate preflight --keep-server
	expect_rc 2
	run_cf migrate preflight --from-env nourl --cache-dir "$UCACHE"
	expect_rc 2
	expect_err_contains "nourl"
	expect_out_empty
	run_cf migrate preflight --from-env no_such_env --cache-dir "$UCACHE"
	expect_rc 2
	expect_err_contains "no_such_env"
'

test_expect_success 'a missing dump file: exit 2 naming it, before any server starts' '
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump "$TEST_TMP/no-such.sql" \
		--cache-dir "$UCACHE"
	expect_rc 2
	expect_err_contains "$TEST_TMP/no-such.sql"
	expect_out_empty
	expect_eq "" "$(data_dir_of "$UCACHE")" "embedded cluster created"
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump "$TEST_TMP/no-such.sql" \
		--server "$(db_url postgres)" --cache-dir "$UCACHE"
	expect_rc 2
	expect_err_contains "$TEST_TMP/no-such.sql"
'

test_expect_success '--format json: the provision object, a miss then a hit' '
	{ cat base.sql; echo "CREATE TABLE public.t0320_json (x int);"; } >json.sql
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump json.sql --cache-dir "$CACHE" \
		--format json
	expect_rc 0
	check_json "
p = d[\"provision\"]
eq(sorted(p), [\"cache_hit\", \"load_ms\", \"notes\", \"server_start_ms\", \"template\", \"url\"], \"keys\")
assert p[\"template\"].startswith(\"cf_tpl_\") and \"_tmp_\" not in p[\"template\"], p[\"template\"]
eq(p[\"cache_hit\"], False, \"cache_hit\")
assert isinstance(p[\"load_ms\"], int) and p[\"load_ms\"] >= 0, p[\"load_ms\"]
assert isinstance(p[\"server_start_ms\"], int) and p[\"server_start_ms\"] > 0, p[\"server_start_ms\"]
assert p[\"url\"].startswith(\"postgresql://\") and p[\"template\"] in p[\"url\"], p[\"url\"]
assert \"password\" not in p[\"url\"], p[\"url\"]
eq(d[\"against\"][\"mode\"], \"clone\", \"mode\")
eq(d[\"against\"][\"all_passed\"], True, \"all_passed\")
open(\"tpl\", \"w\").write(p[\"template\"])
"
	run_cf migrate preflight --migrations-dir "$MIG" --from-dump json.sql --cache-dir "$CACHE" \
		--format json
	expect_rc 0
	check_json "
p = d[\"provision\"]
eq(p[\"template\"], open(\"tpl\").read(), \"template\")
eq(p[\"cache_hit\"], True, \"cache_hit\")
eq(p[\"load_ms\"], 0, \"load_ms\")
"
	expect_eq 0 "$(postmasters "$CACHE")" "postmasters after the runs"
'

test_expect_success 'cache clear drops the templates and removes the embedded cluster' '
	d=$(data_dir_of "$CACHE")
	test -f "$d/PG_VERSION"
	run_cf cache clear --cache-dir "$CACHE"
	expect_rc 0
	expect_eq 0 "$(cached_count "$CACHE")"
	expect_eq 0 "$(pgrep -fc -- "-D $d -c" || true)" "postmasters after cache clear"
	test ! -e "$(dirname "$d")"
	case "$d" in
	/var/tmp/confiture-postgres/*) test ! -e "$(dirname "$(dirname "$d")")" ;;
	esac
	run_cf server status --cache-dir "$CACHE"
	expect_out_contains "never created"
	run_cf cache clear --cache-dir "$SCACHE"
	expect_rc 0
	expect_eq "" "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE '\''cf\_%'\''")" "cache databases on the harness"
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
	expect_eq 0 "$(postmasters "$CACHE")"
'

test_expect_success 'the embedded server matches the dump'"'"'s major version, or says it cannot' '
	cd "$CF_SRC/examples/shop"
	run_cf migrate preflight --from-dump production-schema.sql --since 004 --cache-dir "$TEST_TMP/mcache"
	expect_rc 1
	expect_err_not_contains "server binaries are not installed"
	sed "s/^-- Dumped from database version 15\.[0-9]*/-- Dumped from database version 99.1/" production-schema.sql >"$TEST_TMP/v99.sql"
	grep -q "version 99.1" "$TEST_TMP/v99.sql"
	run_cf migrate preflight --from-dump "$TEST_TMP/v99.sql" --since 004 --cache-dir "$TEST_TMP/mcache"
	expect_rc 1
	expect_err_contains "the dump comes from PostgreSQL 99, whose server binaries are not installed"
	expect_err_contains "install postgresql-99"
	expect_out_contains "3 failed: 2 root causes, 1 consequence"
	"$CONFITURE" cache clear --cache-dir "$TEST_TMP/mcache" >/dev/null
'

test_done
