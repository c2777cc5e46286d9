#!/usr/bin/env bash
# t0610-compat-habits.sh — habits of Python confiture 0.9.4 users that
# work here too (docs/compat.md): --format table, the static keys at the
# top level of preflight JSON without --against, `migrate status` without
# a database, and -- confiture:no-transaction files under --strict.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=$(new_db t0610) || exit 1
URL=$(db_url "$DB")

two_files()
{
	echo "CREATE TABLE t0610_a (id int);" >db/migrations/001_a.up.sql
	echo "DROP TABLE t0610_a;" >db/migrations/001_a.down.sql
	echo "CREATE TABLE t0610_b (id int);" >db/migrations/002_b.up.sql
}

test_expect_success '--format table is the text output for every command that has --format' '
	new_project "$DB"
	two_files
	run_cf migrate status --env local --format table
	expect_rc 1
	expect_out_contains "VERSION"
	run_cf migrate up --env local --dry-run --format table
	expect_rc 0
	expect_out_contains "dry run: 2 migrations would be applied"
	run_cf migrate down --env local --dry-run --format table
	expect_rc 0
	run_cf migrate baseline --env local --through 001 --dry-run --format table
	expect_rc 0
	run_cf migrate preflight --format table
	expect_rc 0
	expect_out_contains "Preflight: 2 pending migrations"
	run_cf cache list --format table
	expect_rc 0
	run_cf migrate status --env local --format yaml
	expect_rc 2
	expect_err_contains "choose one of: text table json github junit sarif markdown"
'

test_expect_success 'preflight JSON without --against: static keys also at top level' '
	new_project
	two_files
	run_cf migrate preflight --format json
	expect_rc 0
	check_json "
for k, v in d[\"static\"].items():
    eq(d[k], v, k)
eq(d[\"safe_to_deploy\"], False, \"safe_to_deploy\")
eq(d[\"all_reversible\"], False, \"all_reversible\")
eq(d[\"against\"], None, \"against\")
"
	safe=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"safe_to_deploy\"])" "$TEST_TMP/out")
	expect_eq False "$safe"
'

test_expect_success 'preflight JSON with --against: the {static, against} envelope is unchanged' '
	new_project
	two_files
	run_cf migrate preflight --against "$URL" --format json
	expect_rc 0
	check_json "
eq(sorted(d), [\"against\", \"static\"], \"top-level keys\")
eq(d[\"against\"][\"all_passed\"], True, \"all_passed\")
"
'

test_expect_success 'status without a database lists the files as status unknown, exit 0' '
	new_project
	two_files
	run_cf migrate status
	expect_rc 0
	expect_out_contains "(no database configured)"
	expect_out_matches "001 +a +unknown"
	expect_out_matches "002 +b +unknown"
	expect_out_contains "2 migrations, status unknown: no database configured"
	expect_err_empty
	run_cf migrate status --format json
	expect_rc 0
	check_json "
eq(d[\"database_known\"], False, \"database_known\")
eq(d[\"database\"], None, \"database\")
eq([m[\"status\"] for m in d[\"migrations\"]], [\"unknown\", \"unknown\"], \"statuses\")
eq((d[\"applied\"], d[\"pending\"]), ([], []), \"applied/pending\")
"
	# a configured database that cannot be reached is still an error
	run_cf migrate status --database-url "postgresql:///t0610_nowhere?host=$PGHOST&port=$PGPORT"
	expect_rc 2
'

test_expect_success '-- confiture:no-transaction files: notes, --strict passes (7 marked files)' '
	new_project
	echo "CREATE TABLE t0610_nt (id int, a int, b int, c int, d int, e int, f int, g int);" >db/migrations/001_t.up.sql
	echo "DROP TABLE t0610_nt;" >db/migrations/001_t.down.sql
	for i in 1 2 3 4 5 6 7; do
		col=$(echo abcdefg | cut -c$i)
		printf -- "-- confiture:no-transaction\nCREATE INDEX CONCURRENTLY nt_%s ON t0610_nt (%s);\n" "$col" "$col" >db/migrations/00$((i + 1))_idx_$col.up.sql
		echo "DROP INDEX nt_$col;" >db/migrations/00$((i + 1))_idx_$col.down.sql
	done
	run_cf migrate preflight --strict --against "$URL"
	expect_rc 0
	expect_out_contains "0 errors, 0 warnings"
	run_cf migrate preflight --strict --format json
	expect_rc 0
	check_json "
eq(d[\"warnings\"], 0, \"warnings\")
eq(len([p for p in d[\"problems\"] if p[\"severity\"] == \"notice\"]), 7, \"notes\")
"
'

test_done
