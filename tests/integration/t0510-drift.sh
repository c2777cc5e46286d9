#!/usr/bin/env bash
# t0510-drift.sh — `confiture migrate drift`: production compared with its
# applied migrations replayed from empty (on --server, the harness
# cluster, and on the embedded server).  Each kind of hand-made change is
# named with the migration that last touched the object; production is
# only read; the scratch database (and the roles mirrored on the embedded
# server) are gone afterwards; exit codes 0 / 1 / 2.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME NO_COLOR CONFITURE_DATABASE_URL
PW=S3cretPw
PROD=t0510_prod
SERVER="$(db_url postgres)&password=$PW"
CACHE="$TEST_TMP/cache"
psql_q postgres "SET client_min_messages = warning;
	DROP ROLE IF EXISTS t0510_reader; CREATE ROLE t0510_reader NOLOGIN" ||
	exit 1

# A production database with migrations 001..003 applied and a project
# pointing at it (cds into the project).
fresh()
{
	new_db "$PROD" >/dev/null
	new_project
	cat >db/environments/prod.yaml <<EOF2
name: prod
database_url: "postgresql://postgres:$PW@/$PROD?host=$PGHOST&port=$PGPORT"
EOF2
	cat >db/migrations/001_orders.up.sql <<'EOF2'
CREATE TABLE orders (id serial PRIMARY KEY, total numeric(12,2) DEFAULT 0,
	note text);
EOF2
	cat >db/migrations/002_audit.up.sql <<'EOF2'
CREATE TABLE audit (id int, at timestamptz);
GRANT SELECT ON audit TO t0510_reader;
EOF2
	cat >db/migrations/003_default.up.sql <<'EOF2'
ALTER TABLE orders ALTER total SET DEFAULT 5;
EOF2
	"$CONFITURE" migrate up --env prod >/dev/null
}

q() { psql_q "$PROD" "$1"; }

# Scratch databases left on the harness cluster.
scratch_left() { psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'confiture_drift_%'"; }

drift() { run_cf migrate drift --env prod --server "$SERVER" "$@"; }

expect_no_password()
{
	if grep -n "$PW" "$TEST_TMP/out" "$TEST_TMP/err"; then
		echo "the password is in the output" >&2
		return 1
	fi
}

test_expect_success 'no drift right after migrate up: exit 0' '
	fresh
	drift
	expect_rc 0
	expect_out_contains "history: 3 applied migrations replayed from empty"
	expect_out_contains "no drift: production matches its history"
	expect_err_empty
	expect_no_password
	expect_eq 0 "$(scratch_left)"
'

test_expect_success 'a hand-made index is extra, made by no migration' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note)"
	drift
	expect_rc 1
	expect_out_contains "in production, made by no migration:"
	expect_out_matches "^    index public.orders_note_idx$"
	expect_out_contains "1 difference: 1 extra, 0 missing, 0 changed"
	expect_eq 0 "$(scratch_left)"
'

test_expect_success 'a dropped column is missing, with the migration that made it' '
	fresh
	q "ALTER TABLE audit DROP COLUMN at"
	drift
	expect_rc 1
	expect_out_contains "made by a migration, missing in production:"
	expect_out_contains "column public.audit.at  (last touched by 002_audit)"
'

test_expect_success 'a changed default names the last migration that set it' '
	fresh
	q "ALTER TABLE orders ALTER total SET DEFAULT 7"
	drift
	expect_rc 1
	expect_out_contains "different in production:"
	expect_out_contains "column public.orders.total: default 5 → 7  (last touched by 003_default)"
'

test_expect_success 'an extra function is extra' '
	fresh
	q "CREATE FUNCTION hand_made() RETURNS int LANGUAGE sql AS '\''SELECT 1'\''"
	drift
	expect_rc 1
	expect_out_matches "^    function public.hand_made\(\)$"
'

test_expect_success 'an extra grant shows with --owners --grants only' '
	fresh
	q "GRANT INSERT ON audit TO t0510_reader"
	drift
	expect_rc 0
	drift --owners --grants
	expect_rc 1
	expect_out_contains "table public.audit: grants postgres=arwdDxt/postgres,t0510_reader=r/postgres → postgres=arwdDxt/postgres,t0510_reader=ar/postgres  (last touched by 002_audit)"
	expect_out_contains "1 difference: 0 extra, 0 missing, 1 changed"
'

test_expect_success 'owners: a changed owner shows with --owners' '
	fresh
	q "ALTER TABLE orders OWNER TO t0510_reader"
	drift
	expect_rc 0
	drift --owners
	expect_rc 1
	expect_out_contains "table public.orders: owner postgres → t0510_reader  (last touched by 001_orders)"
'

test_expect_success 'all five kinds at once, in JSON' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note);
	   ALTER TABLE audit DROP COLUMN at;
	   ALTER TABLE orders ALTER total SET DEFAULT 7;
	   CREATE FUNCTION hand_made() RETURNS int LANGUAGE sql AS '\''SELECT 1'\'';
	   GRANT INSERT ON audit TO t0510_reader"
	drift --owners --grants --format json
	expect_rc 1
	expect_no_password
	check_json "
eq(d[\"drift\"], True, \"drift\")
eq(d[\"replayed\"], 3, \"replayed\")
eq(d[\"summary\"], {\"extra\": 2, \"missing\": 1, \"changed\": 2, \"total\": 5}, \"summary\")
items = {(i[\"status\"], i[\"kind\"], i[\"object\"], i[\"attribute\"]): i for i in d[\"items\"]}
eq(sorted(items), sorted([
  (\"extra\", \"index\", \"public.orders_note_idx\", None),
  (\"extra\", \"function\", \"public.hand_made()\", None),
  (\"missing\", \"column\", \"public.audit.at\", None),
  (\"changed\", \"column\", \"public.orders.total\", \"default\"),
  (\"changed\", \"table\", \"public.audit\", \"grants\")]), \"items\")
i = items[(\"changed\", \"column\", \"public.orders.total\", \"default\")]
eq((i[\"history\"], i[\"production\"]), (\"5\", \"7\"), \"values\")
eq(i[\"migration\"], {\"version\": \"003\", \"name\": \"default\"}, \"migration\")
eq(items[(\"extra\", \"index\", \"public.orders_note_idx\", None)][\"migration\"], None, \"no migration\")
eq(d[\"notes\"], [], \"notes\")
"
'

test_expect_success 'production is only read: its schema and tracking rows are unchanged' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note)"
	dump_schema "$(db_url "$PROD")" >before.sql
	q "SELECT version, checksum FROM tb_confiture ORDER BY 1" >rows-before
	drift
	expect_rc 1
	dump_schema "$(db_url "$PROD")" >after.sql
	q "SELECT version, checksum FROM tb_confiture ORDER BY 1" >rows-after
	cmp before.sql after.sql
	cmp rows-before rows-after
'

test_expect_success 'only applied migrations replay: a pending one is not history' '
	fresh
	echo "CREATE TABLE pending_t (x int);" >db/migrations/004_pending.up.sql
	drift
	expect_rc 0
	expect_out_contains "3 applied migrations"
'

test_expect_success 'an applied migration without a file: a warning, its objects extra' '
	fresh
	rm db/migrations/003_default.up.sql
	drift
	expect_rc 1
	expect_err_contains "applied migration 003 (default) has no file"
	expect_out_contains "column public.orders.total: default 0 → 5"
'

test_expect_success 'include_dirs schema files are applied first, in path order' '
	fresh
	mkdir -p db/schema/b db/schema/a
	echo "CREATE TABLE base_b (x base_a_t);" >db/schema/b/10_table.sql
	echo "CREATE DOMAIN base_a_t AS int;" >db/schema/a/10_type.sql
	q "CREATE DOMAIN base_a_t AS int; CREATE TABLE base_b (x base_a_t)"
	printf "include_dirs:\n  - db/schema\n" >>db/environments/prod.yaml
	drift
	expect_rc 0
	expect_out_contains "after 2 schema files replayed"
'

test_expect_success 'a migration that does not replay from empty: exit 1, located' '
	fresh
	echo "ALTER TABLE nowhere ADD COLUMN x int;" >db/migrations/004_bad.up.sql
	q "INSERT INTO tb_confiture (version, name, slug, checksum)
	   VALUES ('\''004'\'', '\''bad'\'', '\''bad_x'\'', NULL)"
	drift
	expect_rc 1
	expect_err_contains "migration 004 does not replay from an empty database"
	expect_err_contains "004_bad.up.sql:1:"
	expect_eq 0 "$(scratch_left)"
'

test_expect_success 'drift on the embedded server; mirrored roles dropped afterwards' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note); GRANT INSERT ON audit TO t0510_reader"
	run_cf migrate drift --env prod --cache-dir "$CACHE" --owners --grants --keep-server
	expect_rc 1
	expect_out_contains "replayed from empty on embedded server"
	expect_out_matches "^    index public.orders_note_idx$"
	expect_out_contains "table public.audit: grants"
	expect_out_contains "2 differences: 1 extra, 0 missing, 1 changed"
	url=$("$CONFITURE" server start --cache-dir "$CACHE")
	expect_eq "0|0" "$(psql_q "$url" "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = '\''t0510_reader'\''), (SELECT count(*) FROM pg_database WHERE datname LIKE '\''confiture_drift_%'\'')")"
	"$CONFITURE" server stop --cache-dir "$CACHE" >/dev/null
'

test_expect_success '--from-dump: production from a dump, applied rows from --env' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note); ALTER TABLE orders ALTER total SET DEFAULT 7"
	pg_dump --schema-only "$(db_url "$PROD")" >prod.sql
	q "DROP INDEX orders_note_idx"
	run_cf migrate drift --env prod --from-dump prod.sql --cache-dir "$CACHE"
	expect_rc 1
	expect_out_contains "Drift  prod.sql"
	expect_out_contains "3 applied migrations replayed from empty on embedded server"
	expect_out_matches "^    index public.orders_note_idx$"
	expect_out_contains "column public.orders.total: default 5 → 7  (last touched by 003_default)"
	expect_no_password
	# without a database nothing tells which roles exist: no GRANT here
	sed -i "/GRANT/d" db/migrations/002_audit.up.sql
	run_cf migrate drift --from-dump prod.sql --cache-dir "$CACHE" --migrations-dir db/migrations
	expect_rc 1
	expect_err_contains "every migration file counts as applied"
	expect_out_contains "2 differences: 1 extra, 0 missing, 1 changed"
	run_cf migrate drift --env prod --from-dump prod.sql --against "$(db_url "$PROD")"
	expect_rc 2
	expect_err_contains "--against and --from-dump cannot be used together"
'

test_expect_success 'a tracking table in its own schema is no drift' '
	fresh
	q "DROP TABLE tb_confiture, orders, audit; CREATE SCHEMA ops"
	printf "migration:\n  tracking_table: ops.applied\n" >>db/environments/prod.yaml
	"$CONFITURE" migrate up --env prod >/dev/null
	expect_eq 3 "$(q "SELECT count(*) FROM ops.applied")"
	drift
	expect_rc 0
	expect_out_contains "no drift"
'

test_expect_success 'preflight --explain-drift names the hand-made objects a failure involves' '
	fresh
	q "CREATE INDEX orders_note_idx ON orders (note);
	   CREATE VIEW order_notes AS SELECT id, note FROM orders"
	echo "CREATE INDEX orders_note_idx ON orders (note);" >db/migrations/004_note_idx.up.sql
	echo "ALTER TABLE orders DROP COLUMN note;" >db/migrations/005_drop_note.up.sql
	PGOPTIONS="-c client_min_messages=warning" psql_q postgres "DROP DATABASE IF EXISTS t0510_against"
	psql_q postgres "CREATE DATABASE t0510_against TEMPLATE $PROD"
	run_cf migrate preflight --env prod --against "$(db_url t0510_against)" --mode clone --explain-drift --cache-dir "$CACHE"
	expect_rc 1
	expect_out_contains "HINT: production has index public.orders_note_idx that no migration created"
	expect_out_contains "HINT: Use DROP ... CASCADE to drop the dependent objects too.; production has view public.order_notes that no migration created"
	expect_no_password
	run_cf migrate preflight --env prod --against "$(db_url t0510_against)" --mode clone
	expect_rc 1
	expect_out_not_contains "no migration created"
'

test_expect_success '--against checks another database' '
	fresh
	new_db t0510_other >/dev/null
	run_cf migrate drift --env prod --server "$SERVER" --against "$(db_url t0510_other)"
	expect_rc 0
	expect_out_contains "0 applied migrations"
	expect_err_contains "no tracking table"
'

test_expect_success 'usage and connection errors exit 2' '
	fresh
	run_cf migrate drift --help
	expect_rc 0
	expect_out_contains "confiture migrate drift"
	run_cf migrate drift --bogus
	expect_rc 2
	run_cf migrate drift
	expect_rc 2
	expect_err_contains "no database to check for drift"
	run_cf migrate drift --env prod --server "$(db_url postgres)" --keep-server
	expect_rc 2
	run_cf migrate drift --env prod --server "$(db_url postgres)" --against "$(db_url t0510_missing)"
	expect_rc 2
	expect_err_contains "t0510_missing"
'

test_done
