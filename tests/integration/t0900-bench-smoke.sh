#!/usr/bin/env bash
# t0900-bench-smoke.sh — `make bench` (bench/run) at its smallest size, so
# that the benchmark cannot rot: one repetition, a 30-table schema, five
# generated migrations and a four-file history, every section; it must exit
# 0 and print each ratio line.  No timing is checked (speed is for
# `make bench`, never for the test suite).
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

BUILD=$(dirname "$CONFITURE")

# bench/run with the smoke sizes; output in $TEST_TMP/bench.out
bench()
{
	BENCH_RUNS=1 BENCH_TABLES=30 BENCH_MIGRATIONS=5 SQUAWK=none \
		SCALE_SIZES="10 20" SCALE_TABLES=10 SCALE_RUNS=1 SCALE_REPS=1 \
		SHAPES_RUNS=1 SHAPES_DIV=100 \
		"$CF_SRC/bench/run" "$BUILD" "$@" >"$TEST_TMP/bench.out" 2>&1
}

# a tiny history: a table, a change whose file ends in a line comment, a
# no-transaction index, a second table
tiny_history()
{
	local d=$TEST_TMP/tiny/db/migrations

	mkdir -p "$d"
	printf 'CREATE TABLE a (id int PRIMARY KEY, n text);\n' >"$d/001_a.up.sql"
	printf 'ALTER TABLE a ADD COLUMN m int;\n-- no newline at the end' >"$d/002_b.up.sql"
	printf -- '-- confiture:no-transaction\nCREATE INDEX CONCURRENTLY a_m ON a (m);\n' >"$d/003_c.up.sql"
	printf 'CREATE TABLE b (id int REFERENCES a);\n' >"$d/004_d.up.sql"
	printf '%s\n' "$d"
}

# "| label | number | number | ratio |" for a measurement row
ratio_re='\| [0-9]+\.[0-9]+ \| [0-9]+\.[0-9]+ \| [0-9]+\.[0-9]{2} \|$'

test_expect_success 'every section at smoke size: exit 0 and every ratio line' '
	hist=$(tiny_history)
	BENCH_HISTORIES=$hist bench || { cat "$TEST_TMP/bench.out"; return 1; }
	out=$(cat "$TEST_TMP/bench.out")
	for label in "migrate up (5 migrations)" \
		"preflight --against, clone mode" \
		"preflight --against, savepoint mode" \
		"preflight --from-dump, repeat run" \
		"schema snapshot (30 tables)"; do
		line=$(grep -F "| $label " "$TEST_TMP/bench.out") || line=
		[[ "$line" =~ $ratio_re ]] || { echo "no ratio line: $label"; echo "$out"; return 1; }
	done
	grep -E "^\| preflight, static only \(wall clock\) +\| [0-9.]+ \| [0-9.]+ \|$" "$TEST_TMP/bench.out"
	grep -E "^\| migrate lint \(wall clock\) +\| [0-9.]+ \| [0-9.]+ \| n/a \|$" "$TEST_TMP/bench.out"
	# every hostile shape at two sizes, with its growth
	for shape in one-line-inserts one-line-findings baseline nested-comments operator-chain env-keys; do
		grep -E "^\| $shape \| [^|]+ \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| ([0-9.]+|n/a) \|$" \
			"$TEST_TMP/bench.out" || { echo "no row: $shape"; return 1; }
	done
	# the history row: up, clone and savepoint ratios
	grep -E "^\| tiny \| 4 (\| [0-9.]+ \| [0-9.]+ \| [0-9]+\.[0-9]{2} ){3}\|$" "$TEST_TMP/bench.out"
	grep -F "tiny: clone preflight of the last 2 migrations (--since 003), savepoint preflight replays 1 of them" \
		"$TEST_TMP/bench.out"
'

test_expect_success 'the histories section without the corpora: skipped, saying so' '
	CF_CORPORA=$TEST_TMP/none bench histories || { cat "$TEST_TMP/bench.out"; return 1; }
	grep -F "histories: skipped, no corpora in $TEST_TMP/none" "$TEST_TMP/bench.out"
'

test_expect_success 'an unknown section is a usage error (exit 2)' '
	rc=0
	bench nosuch || rc=$?
	expect_eq 2 "$rc" "exit code"
	grep -F "bench: unknown section '"'"'nosuch'"'"'" "$TEST_TMP/bench.out"
'

test_done
