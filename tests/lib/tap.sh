# tap.sh — a small git-style test library for the integration tests.
#
# A test script (tests/integration/tNNNN-area.sh) looks like this:
#
#	#!/usr/bin/env bash
#	. "$(dirname "$0")/../lib/tap.sh"
#
#	DB=$(new_db t0100) || exit 1	# top-level setup: the script shell
#					# has no set -e, so exit by hand
#	test_expect_success 'status on an empty database' '
#		new_project "$DB"
#		run_cf migrate status
#		expect_rc 0
#		expect_out_contains "no migrations"
#	'
#	test_done
#
# How a test body runs
#   - In a subshell with `set -eo pipefail`, so state (cd, variables) does
#     not leak into later tests, and the first failing command fails the
#     test.  Write one command per line.  Bash ignores a failure on the left
#     of && or || (`false && true` does not stop the body), so do not chain
#     checks with && except on the last line; use `cmd || return 1` when you
#     need a check inside an if/while/&& context (the body runs inside a
#     function, so `return` works).
#   - The working directory starts as the script's temp dir $TEST_TMP.
#   - All scripts share one cluster: name databases after the script
#     (t0100_...) so scripts never touch each other's data.
#   - Output of the body is captured and shown (as "# " TAP diagnostics)
#     only when the test fails, or always with TEST_VERBOSE=1.
#
# Helpers
#   run_cf ARGS...		run "$CONFITURE" ARGS; stdout -> $TEST_TMP/out
#				and $CF_OUT, stderr -> $TEST_TMP/err and
#				$CF_ERR, exit code -> $CF_RC (never aborts).
#				stdin is $CF_STDIN if set, else /dev/null.
#				$CF_TEST_WRAPPER (e.g. "valgrind -q
#				--error-exitcode=99") is put in front.
#   expect_rc N			exit code of the last run_cf
#   expect_out_contains S	fixed string in stdout (also _not_contains)
#   expect_err_contains S	fixed string in stderr (also _not_contains)
#   expect_out_matches RE	extended regex in stdout (grep -E)
#   expect_err_matches RE	extended regex in stderr
#   expect_out_empty / expect_err_empty
#   expect_eq EXPECTED ACTUAL [WHAT]
#   psql_q DB SQL		run SQL (psql -XAtq, ON_ERROR_STOP), print rows
#   new_db NAME			drop + create database NAME, print NAME
#   db_url NAME			libpq URL for NAME over the test socket
#   new_project [DB]		fresh project dir (db/migrations,
#				db/environments) and cd into it; with DB, also
#				writes db/environments/local.yaml pointing at it
#   skip_all REASON		skip the whole script (before any test)
#   dump_schema DB		pg_dump --schema-only without the \restrict
#				lines that differ on every run
#   check_json PYCODE		runs python on the last run_cf's JSON stdout:
#				d is the document, eq(actual, expected, what)
#				compares; $CHECK_JSON_PRELUDE runs first
#
# Environment (set by tests/run-tests; defaults allow running one script by
# hand from the repository root):  CONFITURE (default build/confiture),
# CF_SRC (repository root).  When no cluster is running (CF_TEST_PGDIR
# unset) the script starts its own with tests/lib/cluster.sh.
#
# Each script prints TAP: "ok N - desc" / "not ok N - desc", and test_done
# prints the plan "1..N" and exits 1 if any test failed.  $TEST_TMP is
# removed when every test passed, kept otherwise.

TAP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CF_SRC:=$(cd "$TAP_LIB_DIR/../.." && pwd)}"
: "${CONFITURE:=$CF_SRC/build/confiture}"
export CF_SRC CONFITURE

TEST_NAME=$(basename "$0" .sh)
TEST_COUNT=0
TEST_FAILED=0
TEST_DONE=0
TAP_OWN_CLUSTER=0

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cf-$TEST_NAME.XXXXXX") || exit 1
export TEST_TMP

# Runs when the script exits: stops a cluster we started ourselves, removes
# the temp dir when everything passed, and flags a script that never
# reached test_done.
tap_cleanup()
{
	local rc=$?

	if [ "$TEST_DONE" -eq 0 ]; then
		echo "# $TEST_NAME: exited (status $rc) before test_done"
		rc=1
	fi
	if [ "$TAP_OWN_CLUSTER" -eq 1 ]; then
		cluster_stop
	fi
	if [ "$TEST_FAILED" -eq 0 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$TEST_TMP"
	else
		echo "# kept $TEST_TMP"
	fi
	exit "$rc"
}
trap tap_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${CF_TEST_PGDIR:-}" ]; then
	. "$TAP_LIB_DIR/cluster.sh"
	TAP_OWN_CLUSTER=1
	cluster_start || exit 1
fi

# Runs one test: prints "ok N - desc" or "not ok N - desc" followed by the
# body's output as "# " lines.  See the header for the body's semantics.
test_expect_success()
{
	local desc="$1" body="$2" log rc

	if [ $# -ne 2 ]; then
		echo "bug in the test script: test_expect_success needs 2 arguments" >&2
		exit 1
	fi
	TEST_COUNT=$((TEST_COUNT + 1))
	log="$TEST_TMP/test-$TEST_COUNT.log"
	# Not in an if/||: that would switch off set -e inside the subshell.
	(
		cd "$TEST_TMP" || exit 1
		set -eo pipefail
		TAP_BODY="$body"
		tap_eval_body
	) >"$log" 2>&1 </dev/null
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok $TEST_COUNT - $desc"
		if [ -n "${TEST_VERBOSE:-}" ]; then
			sed 's/^/# /' "$log"
		fi
	else
		TEST_FAILED=$((TEST_FAILED + 1))
		echo "not ok $TEST_COUNT - $desc"
		echo "# exit status $rc; body:"
		printf '%s\n' "$body" | sed '/^[[:space:]]*$/d; s/^\t//; s/^/#     /'
		echo "# output:"
		sed 's/^/#   /' "$log"
	fi
	return 0
}

# Evaluates $TAP_BODY; a function so that the body may use `return`.
tap_eval_body()
{
	eval "$TAP_BODY"
}

# Prints the plan and exits: 0 when every test passed, 1 otherwise.
test_done()
{
	TEST_DONE=1
	echo "1..$TEST_COUNT"
	if [ "$TEST_FAILED" -ne 0 ]; then
		echo "# failed $TEST_FAILED of $TEST_COUNT test(s) in $TEST_NAME"
		exit 1
	fi
	exit 0
}

# Skips the whole script with a reason (TAP "1..0 # SKIP").
skip_all()
{
	TEST_DONE=1
	echo "1..0 # SKIP $*"
	exit 0
}

# Runs the confiture binary with the given arguments, recording its
# output and exit code without ever failing itself.
run_cf()
{
	CF_RC=0
	${CF_TEST_WRAPPER:-} "$CONFITURE" "$@" \
		<"${CF_STDIN:-/dev/null}" \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" || CF_RC=$?
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
	return 0
}

# Shows what the last run_cf printed; used by failing checks.
tap_show_run()
{
	{
		echo "--- exit code: ${CF_RC:-<run_cf not called>}"
		echo "--- stdout:"
		cat "$TEST_TMP/out" 2>/dev/null
		echo "--- stderr:"
		cat "$TEST_TMP/err" 2>/dev/null
		echo "---"
	} >&2
}

# Checks the exit code of the last run_cf.
expect_rc()
{
	if [ "${CF_RC:-}" != "$1" ]; then
		echo "expect_rc: expected exit code $1, got ${CF_RC:-none}" >&2
		tap_show_run
		return 1
	fi
}

# Shared body of the expect_{out,err}_{contains,matches} checks:
# tap_expect STREAM(out|err) MODE(F|E) WANT(1|0) PATTERN
tap_expect()
{
	local stream="$1" mode="$2" want="$3" pat="$4" found=0 what

	if grep -q"$mode" -e "$pat" "$TEST_TMP/$stream" 2>/dev/null; then
		found=1
	fi
	[ "$found" -eq "$want" ] && return 0
	if [ "$mode" = F ]; then what="the text"; else what="a match for"; fi
	if [ "$want" -eq 1 ]; then
		echo "expected std$stream to contain $what: $pat" >&2
	else
		echo "expected std$stream NOT to contain $what: $pat" >&2
	fi
	tap_show_run
	return 1
}

expect_out_contains() { tap_expect out F 1 "$1"; }
expect_err_contains() { tap_expect err F 1 "$1"; }
expect_out_not_contains() { tap_expect out F 0 "$1"; }
expect_err_not_contains() { tap_expect err F 0 "$1"; }
expect_out_matches() { tap_expect out E 1 "$1"; }
expect_err_matches() { tap_expect err E 1 "$1"; }

# Checks that the last run_cf printed nothing on stdout / stderr.
expect_out_empty()
{
	[ ! -s "$TEST_TMP/out" ] && return 0
	echo "expected stdout to be empty" >&2
	tap_show_run
	return 1
}

expect_err_empty()
{
	[ ! -s "$TEST_TMP/err" ] && return 0
	echo "expected stderr to be empty" >&2
	tap_show_run
	return 1
}

# Compares two strings; the optional third argument names what is compared.
expect_eq()
{
	[ "$1" = "$2" ] && return 0
	{
		echo "expect_eq${3:+ ($3)}: values differ"
		echo "--- expected:"
		printf '%s\n' "$1"
		echo "--- actual:"
		printf '%s\n' "$2"
		echo "---"
	} >&2
	return 1
}

# Runs one SQL string in database DB and prints the unaligned, tuples-only
# result; fails (with psql's message on stderr) when the SQL fails.
psql_q()
{
	psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# Drops (forcibly) and creates database NAME, then prints NAME.
new_db()
{
	local ident="\"${1//\"/\"\"}\""

	PGOPTIONS="-c client_min_messages=warning" \
		psql_q postgres "DROP DATABASE IF EXISTS $ident WITH (FORCE)" \
		>/dev/null || return 1
	psql_q postgres "CREATE DATABASE $ident" >/dev/null || return 1
	printf '%s\n' "$1"
}

# Prints a libpq URL reaching database NAME over the cluster's socket.
db_url()
{
	printf 'postgresql:///%s?host=%s&port=%s&user=postgres\n' \
		"$1" "$PGHOST" "$PGPORT"
}

# Creates a fresh project dir under $TEST_TMP, cds into it and sets
# TEST_PROJECT.  With a database name, writes db/environments/local.yaml
# pointing at that database.  Call it inside a test body so the cd stays
# local to the test.
new_project()
{
	TEST_PROJECT=$(mktemp -d "$TEST_TMP/project.XXXXXX") || return 1
	mkdir -p "$TEST_PROJECT/db/migrations" \
		"$TEST_PROJECT/db/environments" || return 1
	if [ -n "${1:-}" ]; then
		cat >"$TEST_PROJECT/db/environments/local.yaml" <<EOF || return 1
name: local
database_url: "$(db_url "$1")"
EOF
	fi
	cd "$TEST_PROJECT" || return 1
}

dump_schema()
{
	pg_dump --schema-only "$1" | grep -v '^\\\(un\)\{0,1\}restrict'
}

check_json()
{
	python3 -c '
import json, sys
def eq(actual, expected, what=""):
    if actual != expected:
        sys.exit("%s: expected %r, got %r" % (what, expected, actual))
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
exec(sys.argv[2])
' "$TEST_TMP/out" "$1" "${CHECK_JSON_PRELUDE:-}"
}
