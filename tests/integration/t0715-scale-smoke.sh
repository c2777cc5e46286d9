#!/usr/bin/env bash
# t0715-scale-smoke.sh — the scale run of bench/scale, small: a generated
# history of 500 migrations (tests/lib/gen-history.py) through status,
# up --dry-run, static preflight and lint, with the counts checked (never
# timings: speed is `make bench`'s).  So the generator and the commands on
# long histories cannot rot.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

GEN="$TAP_LIB_DIR/gen-history.py"
DB=t0710
N=500
TABLES=20

# A project of 500 generated migrations and the 20 tables they alter.
scale_project()
{
	new_db "$DB" >/dev/null
	new_project "$DB"
	python3 "$GEN" db/migrations "$N" "$TABLES" || return 1
	psql_q "$DB" "CREATE SCHEMA app; DO \$\$ BEGIN FOR i IN 0 .. $TABLES - 1 LOOP EXECUTE format('CREATE TABLE app.t%s (id bigint PRIMARY KEY, name text)', i); END LOOP; END \$\$" >/dev/null
}

# The first 50 migrations applied by migrate up, the next 400 recorded.
record_450()
{
	run_cf migrate up --env local --target 20240000000050
	expect_rc 0 || return 1
	python3 "$GEN" --tracking db/migrations 450 | sed -n "51,450p" |
		psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" \
			-c "COPY tb_confiture (slug, version, name, checksum) FROM STDIN"
}

test_expect_success 'the generator writes 500 migrations of one size, each with a down file' '
	scale_project
	expect_eq 500 "$(ls db/migrations/*.up.sql | wc -l)"
	expect_eq 500 "$(ls db/migrations/*.down.sql | wc -l)"
	expect_eq 500 "$(ls db/migrations | cut -d_ -f1 | sort -u | wc -l)"
'

test_expect_success 'status lists all 500 files without a database' '
	scale_project
	run_cf migrate status --migrations-dir db/migrations
	expect_rc 0
	expect_out_contains "500 migrations, status unknown: no database configured"
	run_cf migrate status --migrations-dir db/migrations --format json
	check_json "eq(d[\"total\"], 500, \"total\"); eq(len(d[\"migrations\"]), 500, \"rows\")"
'

test_expect_success 'status reads 450 applied rows and finds 50 pending' '
	scale_project
	record_450
	expect_eq 450 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "500 migrations: 450 applied, 50 pending"
	run_cf migrate status --env local --format json
	check_json "
eq(len(d[\"applied\"]), 450, \"applied\")
eq(d[\"pending\"][0], \"20240000000451\", \"first pending\")
eq(len(d[\"pending\"]), 50, \"pending\")
eq([m[\"version\"] for m in d[\"migrations\"] if m[\"checksum_mismatch\"]], [], \"mismatches\")
"
'

test_expect_success 'up --dry-run lists the 50 pending migrations and applies nothing' '
	scale_project
	record_450
	run_cf migrate up --env local --dry-run --format json
	expect_rc 0
	check_json "
v = [m[\"version\"] for m in d[\"migrations\"]]
eq(len(v), 50, \"count\"); eq(v[0], \"20240000000451\", \"first\"); eq(v[-1], \"20240000000500\", \"last\")
"
	expect_eq 450 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
	expect_eq "" "$(psql_q "$DB" "SELECT to_regclass('"'"'app.m451'"'"')")"
'

test_expect_success 'static preflight of 500 migrations: every lint finding, each once' '
	scale_project
	run_cf migrate preflight --migrations-dir db/migrations --format json
	expect_rc 0
	check_json "
eq(len(d[\"migrations\"]), 500, \"migrations\")
codes = [p[\"code\"] for p in d[\"problems\"]]
eq(codes.count(\"index-without-concurrently\"), 50, \"lint warnings\")
eq(sorted(set(codes)), [\"index-without-concurrently\"], \"codes\")
"
	run_cf migrate preflight --migrations-dir db/migrations --no-lint --format json
	check_json "eq(d[\"problems\"], [], \"no lint\")"
'

test_expect_success 'migrate lint of 500 files: 3000 statements read, the silenced ones silent' '
	scale_project
	run_cf migrate lint --migrations-dir db/migrations
	expect_rc 1
	expect_out_contains "500 files, 50 errors, 0 warnings, 0 statements not linted"
	run_cf migrate lint --migrations-dir db/migrations --format json
	check_json "
eq(len(d[\"findings\"]), 50, \"findings\")
eq(sorted({f[\"file\"].split(\"/\")[-1][:14] for f in d[\"findings\"]})[:2], [\"20240000000007\", \"20240000000017\"], \"files\")
"
'

test_done
