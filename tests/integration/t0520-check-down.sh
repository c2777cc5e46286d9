#!/usr/bin/env bash
# t0520-check-down.sh — `migrate preflight --check-down` in clone mode:
# each passing migration's .down.sql is run, the schema compared with the
# one before the up, the up run again.  One verdict per migration
# (reversible, down incomplete with the differences, down fails, no down,
# not re-appliable), the chain continues, the exit code changes only with
# --strict, the --against database is left unchanged.
. "$(dirname "$0")/../lib/tap.sh"

unset NO_COLOR CONFITURE_DATABASE_URL
AG=t0520_against
new_db "$AG" >/dev/null || exit 1
psql_q "$AG" "CREATE TABLE t (id int, total int);
	CREATE TABLE settings (k text UNIQUE)" || exit 1

# A project with the six migrations (cds into it).
project()
{
	new_project
	local m=db/migrations
	echo "CREATE TABLE r (id int);" >$m/001_reversible.up.sql
	echo "DROP TABLE r;" >$m/001_reversible.down.sql
	printf "%s\n" "ALTER TABLE t ADD COLUMN note text;" \
		"CREATE INDEX t_total_idx ON t (total);" >$m/002_forgets_index.up.sql
	echo "ALTER TABLE t DROP COLUMN note;" >$m/002_forgets_index.down.sql
	echo "CREATE TABLE f (id int PRIMARY KEY);" >$m/003_down_fails.up.sql
	echo "DROP TABLE nothere;" >$m/003_down_fails.down.sql
	echo "CREATE TABLE n (id int);" >$m/004_no_down.up.sql
	echo "INSERT INTO settings (k) VALUES ('x');" >$m/005_once.up.sql
	echo "SELECT 1;" >$m/005_once.down.sql
	echo "CREATE TABLE z (id int REFERENCES f (id));" >$m/006_after.up.sql
	echo "DROP TABLE z;" >$m/006_after.down.sql
}

pf() { run_cf migrate preflight --against "$(db_url "$AG")" "$@"; }

test_expect_success 'one verdict per migration; the exit code is unchanged' '
	project
	dump_schema "$(db_url "$AG")" >before.sql
	pf --mode clone --check-down
	expect_rc 0
	expect_out_contains "All 6 migrations passed"
	expect_out_matches "^  ✓ 001 reversible  reversible$"
	expect_out_matches "^  ! 002 forgets_index  down incomplete$"
	expect_out_contains "      index public.t_total_idx: added"
	expect_out_contains "the up fails again after the down: relation \"t_total_idx\" already exists"
	expect_out_matches "^  ! 003 down_fails  down fails$"
	expect_out_contains "003_down_fails.down.sql:1:1"
	expect_out_matches "^  ! 004 no_down  no down$"
	expect_out_matches "^  ! 005 once  not re-appliable$"
	expect_out_contains "duplicate key value violates unique constraint"
	expect_out_matches "^  ✓ 006 after  reversible$"
	expect_out_contains "6 checked, 2 reversible"
	dump_schema "$(db_url "$AG")" >after.sql
	cmp before.sql after.sql
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf_preflight_%'\''")"
'

test_expect_success '--strict makes a bad verdict fail (exit 1)' '
	project
	rm db/migrations/00[2-6]_*
	pf --mode clone --check-down --strict
	expect_rc 0
	project
	pf --mode clone --check-down --strict
	expect_rc 1
'

test_expect_success 'the environment file can make the verdicts fail' '
	project
	printf "name: ci\npreflight:\n  check_down_strict: true\n" >db/environments/ci.yaml
	pf --mode clone --check-down -c db/environments/ci.yaml
	expect_rc 1
	expect_out_contains "All 6 migrations passed"
	printf "name: ci\npreflight:\n  check_down_strict: false\n" >db/environments/ci.yaml
	pf --mode clone --check-down -c db/environments/ci.yaml
	expect_rc 0
'

test_expect_success 'without --check-down no .down.sql runs and no verdict shows' '
	project
	pf --mode clone
	expect_rc 0
	expect_out_not_contains "Rollback check"
	pf --mode clone --format json
	check_json "
for m in d[\"against\"][\"migrations\"]:
    eq(\"down\" in m, False, m[\"version\"])
"
'

test_expect_success 'JSON: against.migrations[].down = {status, diff[], error}' '
	project
	pf --mode clone --check-down --format json
	expect_rc 0
	check_json "
ms = {m[\"version\"]: m[\"down\"] for m in d[\"against\"][\"migrations\"]}
eq([ms[v][\"status\"] for v in sorted(ms)], [\"reversible\", \"down incomplete\", \"down fails\", \"no down\", \"not re-appliable\", \"reversible\"], \"statuses\")
eq(ms[\"001\"], {\"status\": \"reversible\", \"diff\": [], \"error\": None}, \"001\")
eq([(x[\"change\"], x[\"kind\"], x[\"object\"]) for x in ms[\"002\"][\"diff\"]], [(\"added\", \"index\", \"public.t_total_idx\")], \"002 diff\")
eq(ms[\"003\"][\"error\"][\"file\"].endswith(\"003_down_fails.down.sql\"), True, \"003 file\")
eq(ms[\"003\"][\"error\"][\"sqlstate\"], \"42P01\", \"003 sqlstate\")
eq(ms[\"005\"][\"error\"][\"sqlstate\"], \"23505\", \"005 sqlstate\")
"
'

test_expect_success 'savepoint mode runs no down and says so' '
	project
	pf --mode savepoint --check-down
	expect_rc 0
	expect_out_contains "needs clone mode; no .down.sql was run"
'

test_done
