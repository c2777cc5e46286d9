#!/usr/bin/env bash
# t0140-python-compat.sh — taking over a database from the Python
# confiture: its tb_confiture (exact DDL and rows) is read as is, a table of
# the wrong shape is refused, and later Python versions' extra nullable
# columns are accepted.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR
DB=t0140_py

q() { psql_q "$DB" "$1"; }

# The Python tool's DDL (v0.9.4), verbatim, plus extra column text $1.
python_table()
{
	q "CREATE TABLE tb_confiture (
		id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
		pk_confiture BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
		slug TEXT NOT NULL UNIQUE,
		version VARCHAR(255) NOT NULL UNIQUE,
		name VARCHAR(255) NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
		execution_time_ms INTEGER,
		checksum VARCHAR(64)${1:-}
	);
	CREATE INDEX idx_tb_confiture_pk_confiture ON tb_confiture(pk_confiture);
	CREATE INDEX idx_tb_confiture_slug ON tb_confiture(slug);
	CREATE INDEX idx_tb_confiture_version ON tb_confiture(version);
	CREATE INDEX idx_tb_confiture_applied_at ON tb_confiture(applied_at DESC);"
}

# A fresh database and project with migrations 001..004; 001 and 002 are
# "applied by Python" (objects exist, rows written the Python way).
setup()
{
	new_db "$DB" >/dev/null
	new_project "$DB"
	for v in 1 2 3 4; do
		printf 'CREATE TABLE t%s (id int);\n' "$v" >db/migrations/00${v}_step$v.up.sql
	done
	q "CREATE TABLE t1 (id int); CREATE TABLE t2 (id int)"
}

# Inserts the rows the Python tool writes for 001 and 002.
python_rows()
{
	local v sum

	for v in 1 2; do
		sum=$(sha256sum db/migrations/00${v}_step$v.up.sql | cut -d" " -f1)
		q "INSERT INTO tb_confiture (slug, version, name, execution_time_ms, checksum) VALUES ('step${v}_20240101_12000$v', '00$v', 'step$v', 12, '$sum')"
	done
}

test_expect_success 'status reads a table created by the Python tool' '
	setup
	python_table
	python_rows
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "4 migrations: 2 applied, 2 pending"
	expect_out_not_contains "file changed"
	expect_out_matches "^  001 +step1 +applied +20[0-9-]+T"
	expect_out_matches "^  003 +step3 +pending"
	run_cf migrate status --env local --format json
	python3 -c "import json,sys; d = json.load(sys.stdin); assert d[\"applied\"] == [\"001\", \"002\"] and d[\"pending\"] == [\"003\", \"004\"] and d[\"migrations\"][0][\"execution_time_ms\"] == 12, d" <"$TEST_TMP/out"
'

test_expect_success 'up applies only the rest, adding rows in the same format' '
	setup
	python_table
	python_rows
	run_cf migrate up --env local
	expect_rc 0
	expect_err_empty
	expect_out_contains "2 migrations applied"
	expect_out_not_contains "001"
	expect_eq "001 002 003 004" "$(q "SELECT string_agg(version, '\'' '\'' ORDER BY pk_confiture) FROM tb_confiture")"
	expect_eq t "$(q "SELECT to_regclass('\''t4'\'') IS NOT NULL")"
	expect_eq 2 "$(q "SELECT count(*) FROM tb_confiture WHERE version IN ('\''003'\'', '\''004'\'') AND slug ~ ('\''^'\'' || name || '\''_[0-9]{8}_[0-9]{6}$'\'') AND length(checksum) = 64")"
	# the table was reused, not re-created: the Python rows are still first
	expect_eq "1 2" "$(q "SELECT string_agg(pk_confiture::text, '\'' '\'' ORDER BY pk_confiture) FROM tb_confiture WHERE version < '\''003'\''")"
'

test_expect_success 'Python rows without a checksum count as modified, as in Python' '
	setup
	python_table
	q "INSERT INTO tb_confiture (slug, version, name) VALUES ('\''step1_20240101_120001'\'', '\''001'\'', '\''step1'\''), ('\''step2_20240101_120002'\'', '\''002'\'', '\''step2'\'')"
	run_cf migrate up --env local
	expect_rc 1
	expect_err_contains "applied migration 001 (step1) was modified"
	expect_err_contains "recorded checksum (none)"
	expect_eq 2 "$(q "SELECT count(*) FROM tb_confiture")"
	run_cf migrate up --env local --on-checksum-mismatch=ignore
	expect_rc 0
	expect_eq 4 "$(q "SELECT count(*) FROM tb_confiture")"
	expect_eq t "$(q "SELECT to_regclass('\''t3'\'') IS NOT NULL")"
	expect_eq 2 "$(q "SELECT count(*) FROM tb_confiture WHERE checksum IS NULL")"
'

test_expect_success 'a table with the wrong shape: exit 2, clear message, nothing applied' '
	setup
	q "CREATE TABLE tb_confiture (
		id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
		pk_confiture BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
		slug TEXT NOT NULL UNIQUE,
		version VARCHAR(255) NOT NULL UNIQUE,
		name VARCHAR(255) NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
		execution_time_ms INTEGER)"
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "tracking table \"tb_confiture\" has an unexpected shape"
	expect_err_contains "only 7 of 8 columns"
	expect_err_contains "HINT:"
	expect_eq f "$(q "SELECT to_regclass('\''t3'\'') IS NOT NULL")"
	expect_eq 0 "$(q "SELECT count(*) FROM tb_confiture")"
	run_cf migrate status --env local
	expect_rc 2
	expect_err_contains "unexpected shape"
	run_cf migrate baseline --env local --through 002
	expect_rc 2
	expect_eq 0 "$(q "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'a column of the wrong type is refused too' '
	setup
	python_table
	q "ALTER TABLE tb_confiture ALTER COLUMN version TYPE text"
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "column 4 is version text, expected version character varying(255)"
	expect_eq f "$(q "SELECT to_regclass('\''t3'\'') IS NOT NULL")"
'

test_expect_success 'an extra nullable column (applied_by, later Python versions) works' '
	setup
	python_table ", applied_by TEXT"
	python_rows
	run_cf migrate up --env local
	expect_rc 0
	expect_eq "001 002 003 004" "$(q "SELECT string_agg(version, '\'' '\'' ORDER BY pk_confiture) FROM tb_confiture")"
	expect_eq 4 "$(q "SELECT count(*) FROM tb_confiture WHERE applied_by IS NULL")"
	run_cf migrate status --env local
	expect_rc 0
	printf "DROP TABLE t4;\n" >db/migrations/004_step4.down.sql
	run_cf migrate down --env local
	expect_rc 0
	expect_eq 3 "$(q "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'an extra NOT NULL column without a default is refused' '
	setup
	python_table ", applied_by TEXT NOT NULL"
	run_cf migrate up --env local
	expect_rc 2
	expect_err_contains "extra column applied_by is NOT NULL without a default"
	expect_eq f "$(q "SELECT to_regclass('\''t3'\'') IS NOT NULL")"
'

test_expect_success 'a row whose file is gone is listed as applied (file missing)' '
	setup
	python_table
	python_rows
	q "INSERT INTO tb_confiture (slug, version, name) VALUES ('\''gone_20240101_120000'\'', '\''000'\'', '\''gone'\'')"
	run_cf migrate status --env local
	expect_rc 1
	expect_out_matches "^  000 +gone +applied \(file missing\)"
	expect_out_contains "5 migrations: 3 applied, 2 pending"
	run_cf migrate up --env local
	expect_rc 0
	expect_eq 5 "$(q "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'cleanup' '
	psql_q postgres "DROP DATABASE $DB WITH (FORCE)"
'

test_done
