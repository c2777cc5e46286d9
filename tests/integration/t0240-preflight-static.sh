#!/usr/bin/env bash
# t0240-preflight-static.sh — the static half of preflight (no --against):
# syntax errors with file:line:col, duplicate versions, Python migrations,
# missing .down.sql, non-transactional statements with their line; and the
# exit codes: 0 all passed, 1 failures / static errors / --strict warnings,
# 2 usage, configuration and connection errors.
. "$(dirname "$0")/../lib/tap.sh"

CHECK_JSON_PRELUDE='s = d["static"]'	# check_json: s = the static section

unset CONFITURE_DATABASE_URL NO_COLOR

PRE=$(new_db t0240_pre) || exit 1
URL=$(db_url "$PRE")

# A clean migration with its .down.sql.
good()
{
	echo "CREATE TABLE t0240_$2 (x int);" >"db/migrations/$1_$2.up.sql"
	echo "DROP TABLE t0240_$2;" >"db/migrations/$1_$2.down.sql"
}

test_expect_success 'no pending migration: exit 0' '
	new_project
	run_cf migrate preflight
	expect_rc 0
	expect_out_contains "0 pending migrations"
	run_cf migrate preflight --against "$URL"
	expect_rc 0
'

test_expect_success 'clean migrations: exit 0 without and with --against, --strict too' '
	new_project
	good 001 a
	good 002 b
	run_cf migrate preflight --strict
	expect_rc 0
	expect_out_contains "0 errors, 0 warnings"
	expect_err_empty
	run_cf migrate preflight --against "$URL" --strict --format json
	expect_rc 0
	check_json "
eq(s[\"safe_to_deploy\"], True, \"safe_to_deploy\")
eq(d[\"against\"][\"all_passed\"], True, \"all_passed\")
eq(d[\"against\"][\"passed\"], 2, \"passed\")
"
'

test_expect_success 'a failing migration: exit 1' '
	new_project
	good 001 a
	echo "SELECT * FROM t0240_nowhere;" >db/migrations/002_bad.up.sql
	echo "SELECT 1;" >db/migrations/002_bad.down.sql
	run_cf migrate preflight
	expect_rc 0
	run_cf migrate preflight --against "$URL"
	expect_rc 1
'

test_expect_success 'syntax error for a PostgreSQL 15 target: exit 1 with file:line:col, without --against' '
	new_project
	good 001 a
	printf "CREATE TABLE t0240_s (x int);\n\n-- typo below\nCREATE TABLE t0240_t (x int,, y int);\n" >db/migrations/002_syntax.up.sql
	echo "SELECT 1;" >db/migrations/002_syntax.down.sql
	run_cf migrate preflight --postgres-version 15
	expect_rc 1
	expect_err_contains "db/migrations/002_syntax.up.sql:4:29"
	expect_err_contains "syntax error at or near \",\""
	expect_out_contains "1 error"
	run_cf migrate preflight --postgres-version 15 --format json
	expect_rc 1
	check_json "
errs = [p for p in s[\"problems\"] if p[\"severity\"] == \"error\"]
eq(len(errs), 1, \"errors\")
eq((errs[0][\"line\"], errs[0][\"column\"], errs[0][\"statement_index\"]), (4, 29, 2), \"position\")
assert errs[0][\"file\"].endswith(\"002_syntax.up.sql\"), errs[0][\"file\"]
eq(s[\"safe_to_deploy\"], False, \"safe_to_deploy\")
eq(d[\"against\"], None, \"against\")
"
'

test_expect_success 'syntax the parser rejects for a newer or unknown target: a warning, left to the server' '
	new_project
	good 001 a
	printf "CREATE TABLE t0240_t (x int,, y int);\n" >db/migrations/002_syntax.up.sql
	for args in "" "--postgres-version 17"; do
		run_cf migrate preflight $args --format json
		expect_rc 0
		check_json "
w = [p for p in s[\"problems\"] if p[\"code\"] == \"syntax-left-to-server\"]
eq(len(w), 1, \"warnings\")
eq(w[0][\"severity\"], \"warning\", \"severity\")
eq(w[0][\"message\"], \"not valid PostgreSQL 15 syntax; left to the server\", \"message\")
eq((w[0][\"line\"], w[0][\"column\"]), (1, 29), \"position\")
eq([p for p in s[\"problems\"] if p[\"severity\"] == \"error\"], [], \"errors\")
"
	done
	printf "postgres_version: 18\n" >db/environments/pg18.yaml
	run_cf migrate preflight --env pg18
	expect_rc 0
	expect_err_contains "warning: not valid PostgreSQL 15 syntax; left to the server"
	expect_err_contains "the target runs PostgreSQL 18"
'

test_expect_success 'syntax error with --against: a static error, and the replay shows the server'"'"'s own message' '
	new_project
	printf "CREATE TABLE t0240_t (x int,, y int);\n" >db/migrations/001_syntax.up.sql
	good 002 b
	run_cf migrate preflight --against "$URL" --format json
	expect_rc 1
	check_json "
m = d[\"against\"][\"migrations\"]
eq([(x[\"version\"], x[\"success\"]) for x in m], [(\"001\", False), (\"002\", True)], \"outcomes\")
eq((m[0][\"line\"], m[0][\"column\"], m[0][\"sqlstate\"]), (1, 29, \"42601\"), \"001 position\")
errs = [p for p in s[\"problems\"] if p[\"severity\"] == \"error\"]
eq([p[\"code\"] for p in errs], [\"syntax-error\"], \"static errors\")
"
'

test_expect_success 'duplicate versions: both files named, JSON duplicate_versions' '
	new_project
	good 001 a
	echo "CREATE TABLE t0240_d1 (x int);" >db/migrations/002_first.up.sql
	echo "CREATE TABLE t0240_d2 (x int);" >db/migrations/002_second.up.sql
	run_cf migrate preflight
	expect_rc 1
	expect_err_contains "002_first.up.sql"
	expect_err_contains "002_second.up.sql"
	expect_err_contains "duplicate"
	run_cf migrate preflight --format json
	expect_rc 1
	check_json "
eq(s[\"has_duplicates\"], True, \"has_duplicates\")
eq(s[\"duplicate_versions\"], {\"002\": [\"002_first.up.sql\", \"002_second.up.sql\"]}, \"duplicate_versions\")
eq(s[\"safe_to_deploy\"], False, \"safe_to_deploy\")
"
'

test_expect_success 'a Python migration is reported unsupported' '
	new_project
	good 001 a
	printf "def up(conn):\n    pass\n" >db/migrations/002_data.py
	run_cf migrate preflight
	expect_rc 1
	expect_err_contains "002_data.py"
	expect_err_contains "Python migration"
	expect_err_contains "not supported"
	run_cf migrate preflight --against "$URL" --format json
	expect_rc 1
	check_json "
m = d[\"against\"][\"migrations\"]
eq([(x[\"version\"], x[\"success\"]) for x in m], [(\"001\", True), (\"002\", False)], \"outcomes\")
assert \"not supported\" in m[1][\"error\"], m[1][\"error\"]
"
'

test_expect_success 'missing .down.sql: a warning; exit 0, or 1 with --strict' '
	new_project
	good 001 a
	echo "CREATE TABLE t0240_nd (x int);" >db/migrations/002_no_down.up.sql
	run_cf migrate preflight
	expect_rc 0
	expect_err_contains "002"
	expect_err_contains ".down.sql"
	expect_out_contains "1 warning"
	run_cf migrate preflight --strict
	expect_rc 1
	run_cf migrate preflight --against "$URL" --strict
	expect_rc 1
	run_cf migrate preflight --format json
	check_json "
eq(s[\"all_reversible\"], False, \"all_reversible\")
eq([(m[\"version\"], m[\"has_down\"], m[\"reversible\"]) for m in s[\"migrations\"]],
   [(\"001\", True, True), (\"002\", False, False)], \"has_down\")
eq(s[\"safe_to_deploy\"], False, \"safe_to_deploy\")
eq(s[\"warnings\"], 1, \"warnings\")
"
'

test_expect_success 'non-transactional statements are listed with their line' '
	new_project
	good 001 a
	printf "CREATE TABLE t0240_n (x int);\n\n-- concurrently\nCREATE INDEX CONCURRENTLY t0240_n_x ON t0240_n (x);\n" >db/migrations/002_nontx.up.sql
	echo "DROP TABLE t0240_n;" >db/migrations/002_nontx.down.sql
	run_cf migrate preflight
	expect_rc 0
	expect_err_contains "CREATE INDEX CONCURRENTLY"
	expect_err_contains "db/migrations/002_nontx.up.sql:4:1"
	run_cf migrate preflight --format json
	expect_rc 0
	check_json "
eq(s[\"all_transactional\"], False, \"all_transactional\")
m = s[\"migrations\"]
eq((m[0][\"fully_transactional\"], m[0][\"non_transactional_statements\"]), (True, []), \"001\")
eq((m[1][\"fully_transactional\"], m[1][\"non_transactional_statements\"]),
   (False, [\"CREATE INDEX CONCURRENTLY (line 4)\"]), \"002\")
eq(s[\"safe_to_deploy\"], False, \"safe_to_deploy\")
"
'

test_expect_success 'exit 2: a malformed --against URL' '
	new_project
	good 001 a
	run_cf migrate preflight --against "postgresql://u:pw@[bad"
	expect_rc 2
	expect_err_contains "invalid connection string"
	expect_out_not_contains "✓"
	run_cf migrate preflight --against "mysql://u@host/db"
	expect_rc 2
'

test_expect_success 'exit 2: an unreachable server' '
	new_project
	good 001 a
	run_cf migrate preflight --against "postgresql:///x?host=$TEST_TMP/no-socket-here&port=1"
	expect_rc 2
	expect_err_contains "cannot connect"
	run_cf migrate preflight --against "$(db_url t0240_no_such_database)" --format json
	expect_rc 2
'

test_expect_success 'exit 2: --env together with -c, an unknown env, an unknown --mode' '
	new_project "$PRE"
	good 001 a
	run_cf migrate preflight --env local -c db/environments/local.yaml
	expect_rc 2
	expect_err_contains "--env"
	run_cf migrate preflight --env nosuchenv
	expect_rc 2
	run_cf migrate preflight --against "$URL" --mode bogus
	expect_rc 2
	expect_err_contains "bogus"
	run_cf migrate preflight --lock-timeout soon
	expect_rc 2
	run_cf migrate preflight stray-argument
	expect_rc 2
'

test_expect_success 'lint findings are static warnings: exit 0, 1 with --strict; JSON code = rule' '
	new_project
	printf "SELECT 1;\nCREATE INDEX t0240_i ON t0240_x (a);\n" >db/migrations/001_idx.up.sql
	echo "DROP INDEX t0240_i;" >db/migrations/001_idx.down.sql
	printf "postgres_version: 16\n" >db/environments/pg16.yaml
	run_cf migrate preflight --env pg16
	expect_rc 0
	expect_out_contains "static checks: 0 errors, 1 warning"
	expect_err_contains "db/migrations/001_idx.up.sql:2:1"
	expect_err_contains "lint rule index-without-concurrently (error for PostgreSQL 16)"
	expect_err_contains "HINT: CREATE INDEX CONCURRENTLY"
	run_cf migrate preflight --env pg16 --strict
	expect_rc 1
	run_cf migrate preflight --env pg16 --strict --no-lint
	expect_rc 0
	expect_out_contains "static checks: 0 errors, 0 warnings"
	expect_err_not_contains "index-without-concurrently"
	run_cf migrate preflight --env pg16 --format json
	expect_rc 0
	check_json "
p = [x for x in s[\"problems\"] if x[\"code\"] == \"index-without-concurrently\"]
eq(len(p), 1)
p = p[0]
eq(p[\"severity\"], \"warning\")
eq((p[\"file\"], p[\"line\"], p[\"column\"]), (\"db/migrations/001_idx.up.sql\", 2, 1))
eq(\"CONCURRENTLY\" in p[\"hint\"], True)
eq(\"(error for PostgreSQL 16)\" in p[\"detail\"], True)
eq(\"docs/lint.md#index-without-concurrently\" in p[\"detail\"], True)
eq(s[\"safe_to_deploy\"], True)
"
'

test_expect_success 'lint in preflight follows the environment'"'"'s lint.rules' '
	new_project
	printf "CREATE INDEX t0240_i ON t0240_x (a);\n" >db/migrations/001_idx.up.sql
	echo "DROP INDEX t0240_i;" >db/migrations/001_idx.down.sql
	printf "lint:\n  rules:\n    index-without-concurrently: off\n" >db/environments/quiet.yaml
	run_cf migrate preflight --env quiet --strict
	expect_rc 0
	expect_err_not_contains "index-without-concurrently"
'

test_expect_success 'a misnamed file is a warning of preflight, never silently left out' '
	new_project
	echo "SELECT 1;" >db/migrations/001_ok.up.sql
	echo "SELECT 1;" >db/migrations/001_ok.down.sql
	echo "SELECT 1;" >db/migrations/abc.up.sql
	run_cf migrate preflight --no-lint
	expect_rc 0
	expect_out_contains "static checks: 0 errors, 1 warning"
	expect_err_contains "abc.up.sql"
	run_cf migrate preflight --no-lint --strict
	expect_rc 1
'

test_expect_success 'a lint finding renders exactly: escapes, excerpt, caret under a tab and a multibyte character, colour' '
	new_project
	printf "SELECT 1;\nCREATE TABLE \"\303\251\" (\t\"c\" timestamp, \"d\033[2J\302\233\177\" varchar(3));\n" >db/migrations/001_esc.up.sql
	echo "DROP TABLE t;" >db/migrations/001_esc.down.sql
	excerpt=$(printf "CREATE TABLE \"\303\251\" (\t\"c\" timestamp, \"d\\\\x1B[2J\\\\x9B\\\\x7F\" varchar(3));")
	{
		echo "warning: column \"c\" is timestamp without time zone"
		echo "  --> db/migrations/001_esc.up.sql:2:24"
		echo "      2 | $excerpt"
		printf "        |                   \t    ^\n"
		echo "  DETAIL: lint rule timestamp-without-time-zone (warning for PostgreSQL 15); see docs/lint.md#timestamp-without-time-zone"
		echo "  HINT: use timestamptz"
		echo "warning: column \"d\\x1B[2J\\x9B\\x7F\" is varchar(n): changing n later is an ALTER COLUMN TYPE under ACCESS EXCLUSIVE"
	} >"$TEST_TMP/expected"
	run_cf migrate preflight --postgres-version 15
	expect_rc 0
	head -7 "$TEST_TMP/err" >"$TEST_TMP/got"
	cmp "$TEST_TMP/expected" "$TEST_TMP/got" || { diff "$TEST_TMP/expected" "$TEST_TMP/got" >&2; return 1; }
	e=$(printf "\033")
	{
		echo "${e}[33mwarning:${e}[0m column \"c\" is timestamp without time zone"
		echo "  ${e}[36m-->${e}[0m db/migrations/001_esc.up.sql:2:24"
		echo "  ${e}[2m    2 |${e}[0m $excerpt"
		printf "  ${e}[2m      |${e}[0m                   \t    ${e}[31m^${e}[0m\n"
		echo "  DETAIL: lint rule timestamp-without-time-zone (warning for PostgreSQL 15); see docs/lint.md#timestamp-without-time-zone"
		echo "  ${e}[1mHINT:${e}[0m use timestamptz"
	} >"$TEST_TMP/expected"
	run_cf --color=always migrate preflight --postgres-version 15
	expect_rc 0
	head -6 "$TEST_TMP/err" >"$TEST_TMP/got"
	cmp "$TEST_TMP/expected" "$TEST_TMP/got" || { diff "$TEST_TMP/expected" "$TEST_TMP/got" >&2; return 1; }
	NO_COLOR=1 run_cf migrate preflight --postgres-version 15
	! grep -q "${e}\[" "$TEST_TMP/err"
'

# The JSON writer's layout is jansson's: json.dumps(indent=2) with control
# characters as \u00XX in upper case, everything else (UTF-8, DEL) as is.
same_layout()
{
	python3 -c '
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(text)
want = json.dumps(d, indent=2, ensure_ascii=False) + "\n"
want = re.sub(r"(?<!\\)((?:\\\\)*)\\u00([0-9a-f]{2})",
              lambda m: m.group(1) + "\\u00" + m.group(2).upper(), want)
if text != want:
    a, b = text.splitlines(), want.splitlines()
    i = next(i for i in range(min(len(a), len(b))) if a[i] != b[i])
    sys.exit("line %d: %r, json.dumps: %r" % (i + 1, a[i], b[i]))
' "$TEST_TMP/out"
}

test_expect_success 'JSON is laid out as jansson does: quotes, control characters, Unicode, empty lists' '
	new_project
	printf "SELECT 1;\nCREATE TABLE t (\t\"c\"\"\\\\\033[2J\x01\302\233\177\303\251\" timestamp);\n" >db/migrations/001_esc.up.sql
	printf "CREATE TABLE \"\360\237\230\200\" (id int);\n" >db/migrations/002_emoji.up.sql
	run_cf migrate preflight --postgres-version 15 --format json
	expect_rc 0
	grep -q "column \\\\\"c\\\\\"\\\\\\\\\\\\u001B\[2J\\\\u0001" "$TEST_TMP/out"
	grep -q "\"non_transactional_statements\": \[\]" "$TEST_TMP/out"
	same_layout
	run_cf migrate lint --pg-version 15 --format json
	same_layout
	run_cf migrate preflight --postgres-version 15 --format sarif
	same_layout
'

test_done
