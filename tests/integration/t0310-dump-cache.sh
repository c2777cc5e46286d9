#!/usr/bin/env bash
# t0310-dump-cache.sh — `migrate preflight --from-dump` loading schema dumps
# and caching them as template databases (cache.c, dump.c), and `confiture
# cache list|clear`.  Dumps come from the real pg_dump: OWNER TO and GRANT
# lines naming roles the server lacks are left out, CREATE EXTENSION of a
# contrib module works, custom format goes through pg_restore.  A repeat
# run is a cache hit, a changed dump a miss, at most CONFITURE_CACHE_MAX
# templates stay, concurrent runs share one template, a broken dump is an
# exit-2 error at its own file:line, --no-cache leaves nothing behind.
# Most cases load on the harness cluster (--server); the last ones use the
# embedded server when `confiture server` works here.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME CONFITURE_CACHE_MAX NO_COLOR
SRV=$(db_url postgres)
CACHE="$TEST_TMP/cache"
ECACHE="$TEST_TMP/ecache"
PROJ="$TEST_TMP/proj"
mkdir -p "$PROJ/db/migrations" || exit 1
echo 'CREATE TABLE public.t0310_new (id int);' >"$PROJ/db/migrations/001_add_new.up.sql"
echo 'DROP TABLE public.t0310_new;' >"$PROJ/db/migrations/001_add_new.down.sql"

# preflight --from-dump DUMP [ARGS...] on the harness cluster
pf()
{
	local dump=$1

	shift
	run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" \
		--from-dump "$dump" --server "$SRV" --cache-dir "$CACHE" "$@"
}

# Number of templates `cache list` shows for a cache dir.
cached_count()
{
	"$CONFITURE" cache list --format json --cache-dir "${1:-$CACHE}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

# Names of the cached templates, one a line.
cached_names()
{
	"$CONFITURE" cache list --format json --cache-dir "${1:-$CACHE}" |
		python3 -c 'import json,sys; [print(t["template"]) for t in json.load(sys.stdin)["templates"]]'
}

# Whether database $1 exists on the harness cluster (prints 1 or 0).
db_exists()
{
	psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '$1'"
}

# The template a preflight run reported (its JSON output in $TEST_TMP/out).
json_field()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["provision"]; v=d[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)' \
		"$TEST_TMP/out" "$1"
}

# Stops an embedded server of ours and removes root's cluster directory,
# however the script ends; drops what is left on the harness cluster.
dump_cache_cleanup()
{
	local d

	if [ -d "$ECACHE" ]; then
		d=$("$CONFITURE" server status --cache-dir "$ECACHE" 2>/dev/null |
			sed -n 's/^  data dir: *//p' | head -n 1)
		"$CONFITURE" cache clear --cache-dir "$ECACHE" >/dev/null 2>&1
		"$CONFITURE" server stop --cache-dir "$ECACHE" >/dev/null 2>&1
		case "$d" in
		/var/tmp/confiture-postgres/*/data) rm -rf "$(dirname "$(dirname "$d")")" ;;
		esac
	fi
	[ -d "$CACHE" ] && "$CONFITURE" cache clear --cache-dir "$CACHE" >/dev/null 2>&1
}
trap 'rc=$?; dump_cache_cleanup; (exit $rc); tap_cleanup' EXIT

test_expect_success 'setup: pg_dump a database with role-owned objects, grants and pg_trgm, then drop the roles' '
	new_db t0310_src >/dev/null
	psql_q postgres "DROP ROLE IF EXISTS t0310_owner" >/dev/null
	psql_q postgres "DROP ROLE IF EXISTS t0310_reader" >/dev/null
	psql_q postgres "CREATE ROLE t0310_owner" >/dev/null
	psql_q postgres "CREATE ROLE t0310_reader" >/dev/null
	psql -XAtq -v ON_ERROR_STOP=1 -d t0310_src >/dev/null <<-\EOF
	CREATE EXTENSION pg_trgm;
	CREATE TABLE t0310_items (id serial PRIMARY KEY, name text);
	CREATE INDEX ON t0310_items USING gin (name gin_trgm_ops);
	CREATE FUNCTION t0310_f() RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
	    RETURN $q$
	GRANT ALL ON TABLE t0310_items TO t0310_reader;
	$q$;
	END
	$$;
	ALTER TABLE t0310_items OWNER TO t0310_owner;
	GRANT SELECT ON t0310_items TO t0310_reader;
	EOF
	pg_dump --schema-only -d t0310_src -f prod.sql
	pg_dump --schema-only -Fc -d t0310_src -f prod.dump
	psql_q postgres "DROP DATABASE t0310_src" >/dev/null
	psql_q postgres "DROP ROLE t0310_owner" >/dev/null
	psql_q postgres "DROP ROLE t0310_reader" >/dev/null
	grep -q "OWNER TO t0310_owner;" prod.sql
	grep -q "^GRANT SELECT ON TABLE public.t0310_items TO t0310_reader;" prod.sql
	grep -q "^CREATE EXTENSION IF NOT EXISTS pg_trgm" prod.sql
'

test_expect_success 'a dump naming missing roles and needing pg_trgm loads; the replay passes' '
	pf prod.sql
	expect_rc 0
	expect_out_contains "dump loaded into template cf_tpl_"
	expect_err_contains "ownership and 1 privilege statement"
	expect_out_contains "passed"
	expect_eq 1 "$(cached_count)" "templates cached"
	tpl=$(cached_names)
	expect_eq 1 "$(db_exists "$tpl")"
	expect_eq 1 "$(psql_q "$tpl" "SELECT count(*) FROM pg_extension WHERE extname = '\''pg_trgm'\''")"
	expect_eq 1 "$(psql_q "$tpl" "SELECT count(*) FROM pg_indexes WHERE tablename = '\''t0310_items'\'' AND indexdef LIKE '\''%gin_trgm_ops%'\''")"
	# the function body kept its GRANT line at column 0 (inside dollar quotes)
	psql_q "$tpl" "SELECT public.t0310_f()" | grep -q "^GRANT ALL ON TABLE t0310_items"
	# owners were left out: the loading user owns everything
	expect_eq postgres "$(psql_q "$tpl" "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = '\''t0310_items'\''")"
'

test_expect_success 'the loaded template is a template nobody is connected to' '
	tpl=$(cached_names)
	expect_eq t "$(psql_q postgres "SELECT datistemplate FROM pg_database WHERE datname = '\''$tpl'\''")"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '\''$tpl'\''")"
	psql_q postgres "SELECT shobj_description(oid, '\''pg_database'\'') FROM pg_database WHERE datname = '\''$tpl'\''" |
		grep -q "^confiture template cache key="
'

test_expect_success 'a second run of the same dump is a cache hit' '
	pf prod.sql
	expect_rc 0
	expect_out_contains "(cache hit)"
	pf prod.sql --format json
	expect_rc 0
	expect_eq true "$(json_field cache_hit)"
	expect_eq 0 "$(json_field load_ms)"
	expect_eq 1 "$(cached_count)"
'

test_expect_success 'a dump differing only in its \restrict key is a cache hit too' '
	sed -e "s/^\\\\restrict .*/\\\\restrict OtherKey123/" \
	    -e "s/^\\\\unrestrict .*/\\\\unrestrict OtherKey123/" prod.sql >rekeyed.sql
	! cmp -s prod.sql rekeyed.sql || grep -qv "restrict" prod.sql
	pf rekeyed.sql
	expect_rc 0
	expect_out_contains "(cache hit)"
	expect_eq 1 "$(cached_count)"
'

test_expect_success 'a changed dump is a miss and makes a second template' '
	cp prod.sql changed.sql
	echo "CREATE TABLE public.t0310_extra (x int);" >>changed.sql
	pf changed.sql
	expect_rc 0
	expect_out_contains "dump loaded into template"
	expect_eq 2 "$(cached_count)"
'

test_expect_success 'a custom-format dump loads through pg_restore' '
	pf prod.dump
	expect_rc 0
	expect_out_contains "dump loaded into template"
	expect_err_contains "pg_restore --no-owner --no-privileges"
	expect_eq 3 "$(cached_count)"
	pf prod.dump
	expect_rc 0
	expect_out_contains "(cache hit)"
'

test_expect_success 'beyond CONFITURE_CACHE_MAX the least recently used template is dropped' '
	first=$(pf prod.sql --format json >/dev/null; json_field template)
	pf changed.sql
	pf prod.dump
	expect_eq 1 "$(db_exists "$first")"
	# prod.sql is now the least recently used
	echo "CREATE TABLE public.t0310_fourth (x int);" >fourth.sql
	pf fourth.sql
	expect_rc 0
	expect_eq 3 "$(cached_count)"
	expect_eq 0 "$(db_exists "$first")"
	cached_names >names
	! grep -qx "$first" names
	CONFITURE_CACHE_MAX=1 pf changed.sql
	expect_rc 0
	expect_eq 1 "$(cached_count)"
	expect_eq 1 "$(db_exists "$(cached_names)")"
'

test_expect_success 'a broken dump is an exit-2 error at its own file:line' '
	mkdir -p broken
	printf "%s\n" "--" "-- broken dump" "--" "" "SET client_min_messages = warning;" "" \
		"CREAT TABLE public.t0310_bad (x int);" >broken/prod.sql
	pf broken/prod.sql
	expect_rc 2
	expect_err_contains "cannot load dump '\''broken/prod.sql'\''"
	expect_err_contains "broken/prod.sql:7"
	expect_err_contains "syntax error at or near"
	expect_out_not_contains "Replay"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf\_tpl\_%\_tmp\_%'\''")"
'

test_expect_success 'an error inside a multi-line statement points at its line' '
	printf "%s\n" "CREATE TABLE public.t0310_a (x int);" "" "CREATE TABLE public.t0310_b (" \
		"    y int," "    z no_such_type" ");" >multi.sql
	pf multi.sql
	expect_rc 2
	expect_err_contains "multi.sql:5"
	expect_err_contains "SQLSTATE: 42704"
'

test_expect_success 'an extension the server lacks is named, with how to install it' '
	printf "%s\n" "CREATE EXTENSION IF NOT EXISTS t0310_no_such_ext WITH SCHEMA public;" >ext.sql
	pf ext.sql
	expect_rc 2
	expect_err_contains "ext.sql:1"
	expect_err_contains "t0310_no_such_ext"
	expect_err_contains "apt-get install"
'

test_expect_success '--keep-owners loads OWNER TO too, so a missing role fails the load' '
	pf prod.sql --keep-owners
	expect_rc 2
	expect_err_contains "role \"t0310_owner\" does not exist"
	expect_err_matches "prod.sql:[0-9]+"
'

test_expect_success 'a dump that \connects elsewhere is refused' '
	printf "%s\n" "CREATE DATABASE t0310_other;" "\\connect t0310_other" "CREATE TABLE x (y int);" >create.sql
	pf create.sql
	expect_rc 2
	expect_err_contains "meta-command"
	expect_eq 0 "$(db_exists t0310_other)"
'

test_expect_success 'two concurrent runs of the same new dump share one new template' '
	echo "CREATE TABLE public.t0310_concurrent (x int);" >conc.sql
	before=$(cached_names)
	rc1=0 rc2=0
	"$CONFITURE" migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump conc.sql \
		--server "$SRV" --cache-dir "$CACHE" >c1.out 2>c1.err &
	p1=$!
	"$CONFITURE" migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump conc.sql \
		--server "$SRV" --cache-dir "$CACHE" >c2.out 2>c2.err &
	p2=$!
	wait $p1 || rc1=$?
	wait $p2 || rc2=$?
	echo "rc1=$rc1 rc2=$rc2" >conc.rc
	cat c1.out c1.err c2.out c2.err
	! grep -q "cannot load dump" c1.err c2.err
	cached_names >after
	printf "%s\n" "$before" | grep . >before || true
	grep -vxF -f before after >new || true
	expect_eq 1 "$(grep -c . new)" "new templates"
	expect_eq 1 "$(db_exists "$(cat new)")"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf\_tpl\_%\_tmp\_%'\''")"
	if grep -q "^Schema:" c1.out && grep -q "^Schema:" c2.out; then
		expect_eq 1 "$(cat c1.out c2.out | grep -c "^Schema: .*(cache hit)")" "runs that hit"
	fi
'

# Both replays must pass too.  This depends on the clone step of
# preflight.c (its "other sessions connected" check), not on provisioning.
test_expect_success 'two concurrent runs of the same new dump both succeed' '
	cat conc.rc
	expect_eq "rc1=0 rc2=0" "$(cat conc.rc)"
'

test_expect_success '--no-cache loads a one-off database and leaves nothing behind' '
	echo "CREATE TABLE public.t0310_oneoff (x int);" >oneoff.sql
	before=$(cached_names)
	pf oneoff.sql --no-cache
	expect_rc 0
	expect_out_contains "cf_oneoff_"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf\_oneoff\_%'\''")"
	expect_eq "$before" "$(cached_names)"
'

test_expect_success 'cache list shows the templates; cache clear drops them and empties the cache' '
	run_cf cache list --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "$(cached_names | head -n 1)"
	expect_out_matches "^[0-9]+ templates?$"
	names=$(cached_names)
	run_cf cache clear --cache-dir "$CACHE"
	expect_rc 0
	expect_out_matches "^removed [1-9][0-9]* cached templates?$"
	for n in $names; do expect_eq 0 "$(db_exists "$n")" "$n"; done
	run_cf cache list --cache-dir "$CACHE"
	expect_out_contains "no cached templates"
	test ! -e "$CACHE/templates.json"
	test -z "$(ls "$CACHE/tmp" 2>/dev/null)"
'

test_expect_success 'cache --help and unknown subcommands' '
	run_cf cache --help
	expect_rc 0
	expect_out_contains "clear"
	run_cf cache frobnicate
	expect_rc 2
	run_cf cache list --help
	expect_rc 0
	expect_out_contains "--cache-dir"
'

if "$CONFITURE" server --help >/dev/null 2>&1; then
	test_expect_success 'embedded server: the dump loads, then a repeat run is a cache hit' '
		run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump prod.sql --cache-dir "$ECACHE"
		expect_rc 0
		expect_out_contains "dump loaded into template cf_tpl_"
		run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump prod.sql --cache-dir "$ECACHE" --format json
		expect_rc 0
		expect_eq true "$(json_field cache_hit)"
		expect_eq 1 "$(cached_count "$ECACHE")"
	'

	test_expect_success 'embedded server: --no-cache and a broken dump' '
		run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump oneoff.sql --cache-dir "$ECACHE" --no-cache
		expect_rc 0
		expect_eq 1 "$(cached_count "$ECACHE")"
		run_cf migrate preflight --migrations-dir "$PROJ/db/migrations" --from-dump broken/prod.sql --cache-dir "$ECACHE"
		expect_rc 2
		expect_err_contains "broken/prod.sql:7"
	'

	test_expect_success 'embedded server: cache clear drops its templates' '
		run_cf cache clear --cache-dir "$ECACHE"
		expect_rc 0
		expect_out_contains "removed 1 cached template"
		expect_eq 0 "$(cached_count "$ECACHE")"
	'
fi

test_done
