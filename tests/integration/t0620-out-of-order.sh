#!/usr/bin/env bash
# t0620-out-of-order.sh — a merged branch brings a migration whose version
# is older than one already applied: status marks it, up refuses it (and
# applies nothing) unless --out-of-order or migration.out_of_order: true,
# and preflight warns and replays in the order up would apply.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=t0620
AGAINST=$(new_db t0620_against) || exit 1

mig()
{
	echo "$2" >"db/migrations/$1.up.sql"
}

# main: users (Jan) and orders (Mar) applied in production; the feature
# branch was cut in January and adds audit (Feb); main meanwhile adds
# invoices (Apr), not applied yet.
merge_scenario()
{
	new_db "$DB" >/dev/null
	new_project "$DB"
	mig 20240101000000_users "CREATE TABLE users (id int PRIMARY KEY);"
	mig 20240301000000_orders "CREATE TABLE orders (id int, user_id int REFERENCES users);"
	run_cf migrate up --env local
	expect_rc 0
	# the merge
	mig 20240201000000_audit "CREATE TABLE audit (id int, user_id int REFERENCES users);"
	mig 20240401000000_invoices "CREATE TABLE invoices (id int, order_id int);"
}

test_expect_success 'status marks the merged older version as out of order' '
	merge_scenario
	run_cf migrate status --env local
	expect_rc 1
	expect_out_matches "20240201000000 +audit +pending .*out of order"
	! grep invoices "$TEST_TMP/out" | grep -q "out of order"
	expect_out_contains "4 migrations: 2 applied, 2 pending (1 out of order)"
	run_cf migrate status --env local --format json
	check_json "
eq(d[\"out_of_order\"], [\"20240201000000\"], \"out_of_order\")
eq([m[\"out_of_order\"] for m in d[\"migrations\"]], [False, True, False, False], \"flags\")
"
	run_cf migrate status --env local --format github
	expect_out_matches "^::warning file=db/migrations/20240201000000_audit.up.sql,title=.*pending \(out of order\)::migration 20240201000000 is pending but older than the newest applied one"
'

test_expect_success 'up refuses it with a clear message and applies nothing' '
	merge_scenario
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "1 pending migration is older than the newest applied one (20240301000000); nothing was applied"
	expect_err_contains "out of order: 20240201000000 (audit)"
	expect_err_contains "--out-of-order"
	expect_eq 2 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	expect_eq "" "$(psql_q "$DB" "SELECT to_regclass('"'"'invoices'"'"')")"
	run_cf migrate up --env local --dry-run
	expect_rc 1
	expect_err_contains "nothing was applied"
	run_cf migrate up --env local --format json
	expect_rc 1
	check_json "eq(d[\"error\"][\"code\"], \"out-of-order\", \"code\")"
'

test_expect_success 'a pending version newer than every applied one is in order' '
	merge_scenario
	rm db/migrations/20240201000000_audit.up.sql
	run_cf migrate up --env local
	expect_rc 0
	expect_out_contains "1 migration applied"
'

test_expect_success 'up --out-of-order applies it, in version order, with a warning' '
	merge_scenario
	run_cf migrate up --env local --out-of-order
	expect_rc 0
	expect_err_contains "warning: applying 20240201000000 (audit) out of order: 20240301000000 (orders) is already applied"
	expect_out_contains "2 migrations applied"
	expect_eq "20240101000000 20240201000000 20240301000000 20240401000000" \
		"$(psql_q "$DB" "SELECT string_agg(version, '"'"' '"'"' ORDER BY version) FROM tb_confiture")"
	# order of application: audit before invoices
	expect_eq "20240201000000 20240401000000" \
		"$(psql_q "$DB" "SELECT string_agg(version, '"'"' '"'"' ORDER BY pk_confiture) FROM tb_confiture WHERE version > '"'"'20240101000000'"'"' AND version <> '"'"'20240301000000'"'"'")"
	run_cf migrate status --env local
	expect_rc 0
'

test_expect_success 'migration.out_of_order: true in the environment allows it' '
	merge_scenario
	printf "migration:\n  out_of_order: true\n" >>db/environments/local.yaml
	run_cf migrate up --env local
	expect_rc 0
	expect_err_contains "out of order"
	expect_eq 4 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'preflight warns, --strict fails, the replay keeps up'"'"'s order' '
	merge_scenario
	run_cf migrate preflight --env local
	expect_rc 0
	expect_err_contains "warning: migration 20240201000000 (audit) is older than the newest applied one, 20240301000000 (orders): out of order"
	run_cf migrate preflight --env local --strict
	expect_rc 1
	psql_q "$AGAINST" "DROP TABLE IF EXISTS orders, audit, invoices, users"
	psql_q "$AGAINST" "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (id int, user_id int REFERENCES users)"
	run_cf migrate preflight --env local --against "$(db_url "$AGAINST")" --format json
	expect_rc 0
	check_json "
eq([m[\"version\"] for m in d[\"against\"][\"migrations\"]], [\"20240201000000\", \"20240401000000\"], \"replay order\")
eq([p[\"code\"] for p in d[\"static\"][\"problems\"] if p[\"severity\"] == \"warning\"].count(\"out-of-order\"), 1, \"warning\")
"
'

test_done
