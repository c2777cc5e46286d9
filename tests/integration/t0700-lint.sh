#!/usr/bin/env bash
# t0700-lint.sh — `confiture migrate lint`: exit codes (0 clean, 1 error
# finding or --strict warning, 2 usage), the JSON shape, inline
# "-- confiture:ignore", --select/--ignore/--list-rules, statements the
# parser cannot read listed as not linted, the target's major from the
# connection, and only the pending migrations when the database answers.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=$(new_db t0700_lint) || exit 1
URL=$(db_url "$DB")

mig() { printf '%b' "$2" >"db/migrations/$1.up.sql"; }

test_expect_success 'a safe migration: exit 0, target printed' '
	new_project
	mig 001_safe "SET lock_timeout = '"'"'2s'"'"';\nCREATE TABLE t (a int);\nCREATE INDEX ON t (a);\n"
	run_cf migrate lint --pg-version 14
	expect_rc 0
	expect_out_contains "target: PostgreSQL 14"
	expect_out_contains "0 errors, 0 warnings"
'

test_expect_success 'an error finding: exit 1 with file:line:col, caret, hint and docs' '
	new_project
	mig 001_idx "SELECT 1;\nCREATE INDEX i ON t (a);\n"
	run_cf migrate lint --pg-version 16
	expect_rc 1
	expect_out_contains "db/migrations/001_idx.up.sql:2:1"
	expect_out_contains "    2 | CREATE INDEX i ON t (a);"
	expect_out_contains "      | ^"
	expect_out_contains "CONCURRENTLY"
	expect_out_contains "docs/lint.md#index-without-concurrently"
'

test_expect_success 'warnings only: exit 0, and 1 with --strict' '
	new_project
	mig 001_ren "SET lock_timeout = '"'"'1s'"'"';\nALTER TABLE t RENAME COLUMN a TO b;\n"
	run_cf migrate lint --pg-version 16
	expect_rc 0
	expect_out_contains "rename-column-or-table"
	run_cf migrate lint --pg-version 16 --strict
	expect_rc 1
'

test_expect_success 'JSON: findings, pg_version and not_linted' '
	new_project
	mig 001_mix "CREATE INDEX i ON t (a);\nCREATE FROBNICATOR x;\n"
	run_cf migrate lint --pg-version 12 --format json
	expect_rc 1
	check_json "
eq(sorted(d), sorted([\"findings\", \"pg_version\", \"pg_version_assumed\", \"not_linted\", \"errors\", \"warnings\", \"files\"]))
eq(d[\"pg_version\"], 12)
f = d[\"findings\"][0]
eq(sorted(f), sorted([\"rule\", \"severity\", \"file\", \"line\", \"column\", \"message\", \"suggestion\", \"docs\"]))
eq(f[\"rule\"], \"index-without-concurrently\")
eq(f[\"severity\"], \"error\")
eq((f[\"line\"], f[\"column\"]), (1, 1))
eq(f[\"docs\"], \"docs/lint.md#index-without-concurrently\")
eq(len(d[\"not_linted\"]), 1)
eq(d[\"not_linted\"][0][\"line\"], 2)
"
'

test_expect_success 'a statement the parser cannot read is listed, never passed silently' '
	new_project
	mig 001_new "CREATE FROBNICATOR x;\n"
	run_cf migrate lint --pg-version 99
	expect_rc 0
	expect_out_contains "not linted: db/migrations/001_new.up.sql:1:1"
	expect_out_contains "1 statement not linted"
'

test_expect_success 'inline ignore: with a reason silences, without one warns' '
	new_project
	mig 001_ign "-- confiture:ignore index-without-concurrently t has ten rows\nCREATE INDEX i ON t (a);\n"
	run_cf migrate lint --pg-version 16 --strict
	expect_rc 0
	expect_out_contains "0 errors, 0 warnings"
	mig 001_ign "-- confiture:ignore index-without-concurrently\nCREATE INDEX i ON t (a);\n"
	run_cf migrate lint --pg-version 16
	expect_rc 0
	expect_out_contains "gives no reason"
	run_cf migrate lint --pg-version 16 --strict
	expect_rc 1
'

test_expect_success '--select and --ignore choose rules; an unknown rule is a usage error' '
	new_project
	mig 001_two "CREATE INDEX i ON t (a);\nDROP VIEW v CASCADE;\n"
	run_cf migrate lint --pg-version 16 --select drop-cascade --format json
	expect_rc 1
	check_json "eq([f[\"rule\"] for f in d[\"findings\"]], [\"drop-cascade\"])"
	run_cf migrate lint --pg-version 16 --ignore drop-cascade,index-without-concurrently
	expect_rc 0
	run_cf migrate lint --select no-such-rule
	expect_rc 2
	expect_err_contains "unknown rule"
'

test_expect_success '--list-rules lists every rule with its severity' '
	run_cf migrate lint --list-rules
	expect_rc 0
	expect_out_contains "index-without-concurrently"
	expect_out_contains "security-definer-search-path"
	run_cf migrate lint --list-rules --format json
	expect_rc 0
	check_json "eq(all(r[\"docs\"].endswith(r[\"rule\"]) for r in d[\"rules\"]), True)"
'

test_expect_success 'the target version decides: DEFAULT rewrites before 11 only' '
	new_project
	mig 001_def "SET lock_timeout = '"'"'2s'"'"';\nALTER TABLE t ADD COLUMN b int DEFAULT 0;\n"
	run_cf migrate lint --pg-version 10
	expect_rc 1
	expect_out_contains "add-column-default"
	run_cf migrate lint --pg-version 11
	expect_rc 0
'

test_expect_success 'not connected: the environment file'"'"'s postgres_version, --pg-version over it' '
	new_project
	printf "postgres_version: 10\n" >db/environments/pg10.yaml
	mig 001_nn "SET lock_timeout = '"'"'2s'"'"';\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"
	run_cf migrate lint --env pg10
	expect_rc 1
	expect_out_contains "target: PostgreSQL 10"
	expect_out_contains "before PostgreSQL 12 always"
	run_cf migrate lint --env pg10 --pg-version 16 --format json
	check_json "eq(d[\"pg_version\"], 16); eq(d[\"pg_version_assumed\"], False)"
'

test_expect_success 'lint.rules in the environment file re-grades rules, off silences' '
	new_project
	mig 001_mix "SET lock_timeout = '"'"'1s'"'"';\nCREATE INDEX i ON t (a);\nALTER TABLE t RENAME COLUMN a TO b;\n"
	printf "lint:\n  rules:\n    index-without-concurrently: warning\n    rename-column-or-table: error\n" >db/environments/regrade.yaml
	run_cf migrate lint --env regrade --pg-version 16 --format json
	expect_rc 1
	check_json "
sev = {f[\"rule\"]: f[\"severity\"] for f in d[\"findings\"]}
eq(sev, {\"index-without-concurrently\": \"warning\", \"rename-column-or-table\": \"error\"})
eq((d[\"errors\"], d[\"warnings\"]), (1, 1))"
	printf "lint:\n  rules:\n    rename-column-or-table: off\n    index-without-concurrently: warning\n" >db/environments/quiet.yaml
	run_cf migrate lint --env quiet --pg-version 16
	expect_rc 0
	expect_out_not_contains "rename-column-or-table"
	expect_out_contains "0 errors, 1 warning"
	run_cf migrate lint --env quiet --pg-version 16 --strict
	expect_rc 1
'

test_expect_success 'lint.rules: an unknown rule id is a configuration error at file:line:col' '
	new_project
	mig 001_ok "SELECT 1;\n"
	printf "lint:\n  rules:\n    index-without-concurently: off\n" >db/environments/typo.yaml
	run_cf migrate lint --env typo
	expect_rc 2
	expect_err_contains "typo.yaml:3:5"
	expect_err_contains "unknown lint rule '"'"'index-without-concurently'"'"'"
	expect_err_contains "index-without-concurrently, "
	printf "lint:\n  rules:\n    index-without-concurrently: loud\n" >db/environments/bad.yaml
	run_cf migrate lint --env bad
	expect_rc 2
	expect_err_contains "bad.yaml:3:33"
	expect_err_contains "must be off, warning or error"
'

test_expect_success 'CONCURRENTLY beside another change is an error; alone it is clean' '
	new_project
	mig 001_cic "ALTER TABLE t ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY i ON t (b);\n"
	run_cf migrate lint --pg-version 16 --select concurrently-with-other-changes
	expect_rc 1
	expect_out_contains "db/migrations/001_cic.up.sql:2:1"
	mig 001_cic "SET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY i ON t (b);\n"
	run_cf migrate lint --pg-version 16 --strict
	expect_rc 0
'

test_expect_success 'connected: the server gives the version, only pending files are linted' '
	new_project "$DB"
	mig 001_old "CREATE TABLE t0700 (a int);\n"
	run_cf migrate up -e local
	expect_rc 0
	# edited after it ran: linted, it would give drop-cascade
	mig 001_old "CREATE TABLE t0700 (a int);\nDROP VIEW IF EXISTS v CASCADE;\n"
	mig 002_new "SET lock_timeout = '"'"'2s'"'"';\nALTER TABLE t0700 RENAME COLUMN a TO b;\n"
	run_cf migrate lint -e local --pg-version 10 --format json
	expect_rc 0
	check_json "
eq(d[\"pg_version\"], int(\"$(psql_q "$DB" "SHOW server_version_num")\") // 10000)
eq([f[\"file\"] for f in d[\"findings\"]], [\"db/migrations/002_new.up.sql\"])
"
	run_cf migrate lint --pg-version 16 --format json db/migrations/001_old.up.sql
	expect_rc 1
	check_json "eq([f[\"rule\"] for f in d[\"findings\"]], [\"drop-cascade\"])"
'

test_expect_success 'an unreachable database: every migration is linted, with a warning' '
	new_project
	mig 001_a "CREATE INDEX i ON t (a);\n"
	run_cf migrate lint --database-url "postgresql://nobody@127.0.0.1:1/x" --pg-version 16
	expect_rc 1
	expect_err_contains "linting every migration"
	expect_out_contains "001_a.up.sql"
'

test_expect_success 'control characters from a hostile migration reach the terminal escaped' '
	new_project
	printf "CREATE INDEX i ON \"x\\033[2Jy\" (a);\n" >db/migrations/001_esc.up.sql
	run_cf migrate lint --pg-version 16
	expect_rc 1
	expect_out_contains "x\\x1B[2Jy"
	! grep -q "$(printf "\\033")" "$TEST_TMP/out"
'

# Checks every excerpt of the last run's stdout: the caret stands under
# the text its finding names (the start of "CREATE INDEX i" or of FRM).
carets_point_at()
{
	python3 - "$TEST_TMP/out" "$1" <<-\PY
	import sys
	lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
	n = 0
	for i, l in enumerate(lines):
	    bar = l.find(" | ")
	    if bar < 0 or not l[:bar].strip().isdigit() or i + 1 >= len(lines):
	        continue
	    caret = lines[i + 1].index("^") - (bar + 3)
	    if not l[bar + 3:][caret:].startswith(sys.argv[2]):
	        sys.exit("caret %d of line %d: %r" % (n, i, l[bar + 3:][caret:caret + 20]))
	    n += 1
	print(n)
	PY
}

test_expect_success 'a one-line file of 2,000 findings: each excerpt cut around its caret' '
	new_project
	python3 -c "import sys; sys.stdout.write(\" \".join(\"CREATE INDEX i%d ON t (a);\" % i for i in range(2000)))" >db/migrations/001_one_line.up.sql
	run_cf migrate lint --pg-version 16
	expect_rc 1
	expect_out_contains "2000 errors"
	expect_out_contains "001_one_line.up.sql:1:27891"
	# 160 characters of the line each, not the 52,000 of the whole line
	test "$(wc -c <"$TEST_TMP/out")" -lt 2000000 &&
	test "$(carets_point_at "CREATE INDEX i")" = 2000 &&
	expect_out_matches "^ +1 \\| …a\\); CREATE INDEX i99.* CREATE INDEX i1000 ON t .*…\$" &&
	expect_out_matches "^ +1 \\| CREATE INDEX i0 ON t \\(a\\); .*…\$"
'

test_expect_success 'a long line read back by the CLI is cut the same way (static preflight)' '
	new_project
	python3 -c "import sys; sys.stdout.write(\" \".join([\"SELECT 1;\"] * 30) + \" SELECT \\u00e9, \\\"\\u00fc\\\" FRM t; \" + \" \".join([\"SELECT 2;\"] * 30) + \"\\n\")" >db/migrations/001_long.up.sql
	printf "SELECT 1;\n" >db/migrations/001_long.down.sql
	run_cf migrate preflight --postgres-version 15
	expect_err_contains "001_long.up.sql:1:319 (statement 31)"
	expect_err_matches "^ +1 \\| …; SELECT 1; .*FRM t; SELECT 2; .*…\$"
	cp "$TEST_TMP/err" "$TEST_TMP/out" &&
	test "$(carets_point_at "t; SELECT 2;")" = 1
'

test_expect_success 'a missing file is a usage error (exit 2)' '
	new_project
	run_cf migrate lint no/such/file.sql
	expect_rc 2
'

test_expect_success 'CI formats: github annotations, JUnit, SARIF and --report files' '
	new_project
	mig 001_idx "SELECT 1;\nCREATE INDEX i ON t (a);\n"
	mig 002_ren "SET lock_timeout = '"'"'1s'"'"';\nALTER TABLE t RENAME COLUMN a TO b;\n"
	mig 003_safe "SET lock_timeout = '"'"'1s'"'"';\nCREATE TABLE u (a int);\n"
	run_cf migrate lint --pg-version 16 --format github \
		--report "junit:$TEST_TMP/lint.xml" --report "sarif:$TEST_TMP/lint.sarif"
	expect_rc 1
	expect_out_contains "::error file=db/migrations/001_idx.up.sql,line=2,col=1"
	expect_out_contains "::warning file=db/migrations/002_ren.up.sql,line=2,col=1"
	python3 - "$TEST_TMP/lint.xml" <<-\EOF
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	cases = {c.get("name"): c for c in root.iter("testcase")}
	assert sorted(cases) == ["001_idx.up.sql", "002_ren.up.sql", "003_safe.up.sql"], sorted(cases)
	assert cases["001_idx.up.sql"].find("failure") is not None
	assert cases["002_ren.up.sql"].find("failure") is None
	assert cases["003_safe.up.sql"].find("failure") is None
	EOF
	python3 - "$TEST_TMP/lint.sarif" <<-\EOF
	import json, sys
	run = json.load(open(sys.argv[1]))["runs"][0]
	ids = sorted(r["ruleId"] for r in run["results"])
	assert ids == ["index-without-concurrently", "rename-column-or-table"], ids
	EOF
	for py in python3 /usr/bin/python3; do
		if "$py" -c "import jsonschema" 2>/dev/null; then
			"$py" -c "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])), cls=jsonschema.Draft7Validator)" \
				"$CF_SRC/tests/schemas/sarif-2.1.0-subset.schema.json" "$TEST_TMP/lint.sarif"
			break
		fi
	done
	run_cf migrate lint --pg-version 16 --strict --format junit
	expect_rc 1
	expect_out_contains "rename-column-or-table"
'

test_done
