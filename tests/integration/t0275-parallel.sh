#!/usr/bin/env bash
# t0275-parallel.sh — files are read, split and parsed on several threads
# (CONFITURE_JOBS, else the CPUs available), and that changes nothing a
# user sees: static preflight (human and JSON), `migrate lint` and `migrate
# up` print the same bytes and exit with the same code on one thread and
# on four, with lint findings, syntax errors, a file that is not UTF-8 and
# an unreadable file among many; the real histories too when present.
# Static preflight, which lints each file in the pass that reads it, warns
# of exactly what migrate lint finds.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

root=$(cd "$(dirname "$0")/../.." && pwd)
CORPORA=${CF_CORPORA:-$root/../shared/corpora}
DB=$(new_db t0275_up) || exit 1

# A history of 90 migrations: creates, indexes (lint findings), updates,
# a few syntax errors and a file that is not UTF-8, with .down.sql files.
make_history()
{
	local i v

	for i in $(seq 1 90); do
		v=$(printf '%03d' "$i")
		case $((i % 9)) in
		0) printf 'CREATE TABLE t%s (id int PRIMARY KEY, v text);\n' "$i" ;;
		1) printf 'CREATE TABLE u%s (id int);\nCREATE INDEX u%s_i ON u%s (id);\n' "$i" "$i" "$i" ;;
		2) printf 'CREATE TABLE w%s (id int);\nALTER TABLE w%s ADD COLUMN c int NOT NULL DEFAULT 1;\nALTER TABLE w%s RENAME COLUMN c TO d;\n' "$i" "$i" "$i" ;;
		3) printf 'CREATE TABLE x%s (id int);\nINSERT INTO x%s SELECT g FROM generate_series(1, 3) g;\nUPDATE x%s SET id = id + 1;\n' "$i" "$i" "$i" ;;
		4) printf -- '-- confiture:no-transaction\nCREATE TABLE y%s (id int);\nCREATE INDEX CONCURRENTLY y%s_i ON y%s (id);\n' "$i" "$i" "$i" ;;
		5) printf 'CREATE TABLE z%s (id int);\nALTER TABLE z%s ALTER COLUMN id TYPE bigint;\n' "$i" "$i" ;;
		6) printf 'CREATE VIEW v%s AS SELECT 1 AS one;\nCOMMENT ON VIEW v%s IS $$a view$$;\n' "$i" "$i" ;;
		7) printf 'CREATE FUNCTION f%s() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n' "$i" ;;
		8) printf 'CREATE TABLE s%s (id int);\nALTER TABLE s%s ADD CONSTRAINT s%s_pk PRIMARY KEY (id);\n' "$i" "$i" "$i" ;;
		esac >"db/migrations/${v}_m$i.up.sql"
		[ $((i % 4)) -eq 0 ] && printf 'SELECT 1;\n' >"db/migrations/${v}_m$i.down.sql"
	done
	if [ "${1:-}" = bad ]; then
		printf 'CREATE TABEL broken (id int);\n' >db/migrations/031_m31.up.sql
		printf 'SELECT 1;\nSELEC 2;\n' >db/migrations/057_m57.up.sql
		printf 'SELECT '"'"'\xff\xfe'"'"';\n' >db/migrations/070_m70.up.sql
	fi
	return 0
}

# same_runs ARGS...: runs confiture with 1 and with 4 threads; both must
# give the same exit code, stdout and stderr.  Leaves the 4-thread run
# as the last run_cf.
same_runs()
{
	local rc1 out1 err1

	CONFITURE_JOBS=1 run_cf "$@"
	rc1=$CF_RC
	out1=$CF_OUT
	err1=$CF_ERR
	CONFITURE_JOBS=4 run_cf "$@"
	expect_eq "$rc1" "$CF_RC" "exit code, 1 vs 4 threads: $*" &&
		expect_eq "$out1" "$CF_OUT" "stdout, 1 vs 4 threads: $*" &&
		expect_eq "$err1" "$CF_ERR" "stderr, 1 vs 4 threads: $*"
}

test_expect_success 'static preflight: the same report on 1 and 4 threads, findings and errors included' '
	new_project &&
	make_history bad &&
	same_runs migrate preflight &&
	expect_rc 1 &&
	expect_err_contains "031_m31.up.sql:1:8" &&
	expect_err_contains "057_m57.up.sql:2:1" &&
	expect_err_contains "070_m70.up.sql" &&
	same_runs migrate preflight --format json &&
	expect_rc 1 &&
	check_json "assert len(d[\"problems\"]) > 20, d"
'

test_expect_success 'migrate lint: the same findings in the same order on 1 and 4 threads' '
	new_project &&
	make_history bad &&
	same_runs migrate lint --pg-version 16 &&
	expect_rc 1 &&
	expect_out_contains "003_m3.up.sql:3:1" &&
	same_runs migrate lint --pg-version 16 --format json &&
	expect_rc 1 &&
	files=$(ls db/migrations/*.up.sql) &&
	same_runs migrate lint --pg-version 16 $files &&
	expect_rc 1
'

test_expect_success 'migrate lint: an unreadable file among many stops it the same way (exit 2)' '
	new_project &&
	make_history &&
	mkdir db/migrations/045_dir.up.sql &&
	files=$(ls -d db/migrations/*.up.sql) &&
	same_runs migrate lint --pg-version 16 $files &&
	expect_rc 2 &&
	expect_err_contains "045_dir.up.sql" &&
	expect_out_empty
'

test_expect_success 'migrate up on 4 threads applies every migration in order' '
	new_db t0275_up >/dev/null &&
	new_project t0275_up &&
	make_history &&
	CONFITURE_JOBS=4 run_cf migrate up --env local &&
	expect_rc 0 &&
	expect_eq 90 "$(psql_q t0275_up "SELECT count(*) FROM tb_confiture")" &&
	expect_eq "$(ls db/migrations/*.up.sql | sed "s|.*/||; s|_.*||" | tr "\n" " ")" \
		"$(psql_q t0275_up "SELECT string_agg(version, '"' '"' ORDER BY pk_confiture) || '"' '"' FROM tb_confiture")"
'

# same_findings DIR: static preflight (which lints each file in the pass
# that reads it) warns of exactly what migrate lint finds in DIR, in order
same_findings()
{
	run_cf migrate lint --pg-version 15 --format json --migrations-dir "$1" &&
		printf "%s" "$CF_OUT" >"$TEST_TMP/lint.json" &&
		run_cf migrate preflight --postgres-version 15 --format json \
			--migrations-dir "$1" &&
		printf "%s" "$CF_OUT" >"$TEST_TMP/pre.json" &&
		python3 - "$TEST_TMP/lint.json" "$TEST_TMP/pre.json" <<-\PY
		import json, sys
		lint = json.load(open(sys.argv[1]))
		pre = json.load(open(sys.argv[2]))
		a = [(f["rule"], f["file"], f["line"], f["column"], f["message"])
		     for f in lint["findings"]]
		b = [(p["code"], p["file"], p["line"], p["column"], p["message"])
		     for p in pre["problems"]
		     if (p["detail"] or "").startswith("lint rule ")]
		assert a, "no finding to compare"
		assert a == b, (len(a), len(b), [x for x in a if x not in b][:3],
				[x for x in b if x not in a][:3])
		PY
}

test_expect_success 'static preflight reports exactly the findings of migrate lint, in order' '
	new_project &&
	make_history bad &&
	same_findings db/migrations
'

if [ -d "$CORPORA/hydra/db/migrations" ] &&
	[ -d "$CORPORA/documenso/db/migrations" ]; then
	for corpus in hydra documenso; do
		test_expect_success "$corpus: static preflight and lint, the same on 1 and 4 threads" '
			same_runs migrate preflight --migrations-dir "$CORPORA/$corpus/db/migrations" --format json &&
			same_runs migrate lint --pg-version 16 --migrations-dir "$CORPORA/$corpus/db/migrations" &&
			same_findings "$CORPORA/$corpus/db/migrations"
		'
	done
fi

test_done
