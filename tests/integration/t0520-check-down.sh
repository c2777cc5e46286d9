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

# --no-lint: the warnings counted here are the verdicts', not lint advice
pf() { run_cf migrate preflight --against "$(db_url "$AG")" --no-lint "$@"; }

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

test_expect_success 'CI formats: a bad verdict is a warning, an error with --strict' '
	project
	pf --mode clone --check-down --format github
	expect_rc 0
	expect_out_matches "^::warning file=db/migrations/002_forgets_index.up.sql,line=2,col=1,title=confiture preflight%3A 002_forgets_index%3A down incomplete::"
	expect_out_contains "DETAIL: after the down the schema differs: index public.t_total_idx: added"
	expect_out_matches "^::warning file=db/migrations/003_down_fails.down.sql,line=1,col=1,title=confiture preflight%3A 003_down_fails%3A down fails::"
	expect_out_matches "^::warning file=db/migrations/004_no_down.up.sql,title=confiture preflight%3A 004_no_down%3A no down::no down: migration 004 \(no_down\) has no .down.sql"
	expect_out_matches "^::warning file=db/migrations/005_once.up.sql,.*title=confiture preflight%3A 005_once%3A not re-appliable::not re-appliable: the up fails again after the down"
	expect_out_not_contains "001_reversible%3A"
	expect_out_not_contains "::error "
	expect_out_contains "--check-down: 4 not reversible"
	pf --mode clone --check-down --strict --format github
	expect_rc 1
	expect_out_matches "^::error file=db/migrations/003_down_fails.down.sql,line=1,col=1,title=confiture preflight%3A 003_down_fails%3A down fails::"
	expect_out_matches "^::error file=db/migrations/002_forgets_index.up.sql,line=2,col=1,title=confiture preflight%3A 002_forgets_index%3A down incomplete::"
'

test_expect_success 'CI formats: JUnit fails the testcase only when the verdicts fail' '
	project
	pf --mode clone --check-down --format junit
	expect_rc 0
	python3 - "$TEST_TMP/out" 0 <<-\EOF
	import sys, xml.etree.ElementTree as ET
	cases = {c.get("name"): c for c in ET.parse(sys.argv[1]).getroot().iter("testcase")}
	assert len(cases) == 6, cases
	failed = sorted(n for n, c in cases.items() if c.find("failure") is not None)
	assert failed == [], failed
	assert "down incomplete" in cases["002_forgets_index"].find("system-out").text
	assert cases["001_reversible"].find("system-out") is None
	EOF
	printf "name: ci\npreflight:\n  check_down_strict: true\n" >db/environments/ci.yaml
	pf --mode clone --check-down -c db/environments/ci.yaml --format junit
	expect_rc 1
	python3 - "$TEST_TMP/out" <<-\EOF
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	cases = {c.get("name"): c for c in root.iter("testcase")}
	failed = sorted(n for n, c in cases.items() if c.find("failure") is not None)
	assert failed == ["002_forgets_index", "003_down_fails", "004_no_down", "005_once"], failed
	f = cases["003_down_fails"].find("failure")
	assert "down fails" in f.get("message"), f.get("message")
	assert "003_down_fails.down.sql:1:1" in f.text, f.text
	assert "42P01" in f.text, f.text
	assert "t_total_idx" in cases["002_forgets_index"].find("failure").text
	EOF
'

test_expect_success 'CI formats: SARIF has a rule per verdict kind and is schema-valid' '
	SCHEMA="$CF_SRC/tests/schemas/sarif-2.1.0-subset.schema.json"
	PYSCHEMA=
	for py in python3 /usr/bin/python3; do
		if "$py" -c "import jsonschema" 2>/dev/null; then PYSCHEMA=$py; break; fi
	done
	test -n "$PYSCHEMA" || { echo "no python3 with jsonschema: run scripts/install-deps" >&2; return 1; }
	project
	pf --mode clone --check-down --strict --format sarif --report markdown:summary.md
	expect_rc 1
	"$PYSCHEMA" - "$TEST_TMP/out" "$SCHEMA" <<-\EOF
	import json, sys, jsonschema
	doc = json.load(open(sys.argv[1]))
	jsonschema.validate(doc, json.load(open(sys.argv[2])), cls=jsonschema.Draft7Validator)
	run = doc["runs"][0]
	rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
	for rid in ("down-fails", "down-incomplete", "no-down", "not-reappliable"):
	    assert rid in rules, (rid, rules)
	    res = [r for r in run["results"] if r["ruleId"] == rid]
	    assert len(res) == 1 and res[0]["level"] == "error", (rid, res)
	    assert rules[res[0]["ruleIndex"]] == rid
	fails = [r for r in run["results"] if r["ruleId"] == "down-fails"][0]
	loc = fails["locations"][0]["physicalLocation"]
	assert loc["artifactLocation"]["uri"].endswith("003_down_fails.down.sql"), loc
	assert loc["region"]["startLine"] == 1, loc
	EOF
	grep -qF "| ❌ | 002\_forgets\_index | passed; down incomplete |" summary.md
	grep -qF "| ✅ | 001\_reversible | passed; reversible |" summary.md
	grep -qF "| ❌ error | 003\_down\_fails | down fails: table \"nothere\" does not exist (SQLSTATE 42P01)" summary.md
	pf --mode clone --check-down --report markdown:summary.md
	expect_rc 0
	grep -qF "<details><summary>5 warnings</summary>" summary.md
	grep -qF "| ✅ | 002\_forgets\_index | passed; down incomplete |" summary.md
	grep -qF "| ⚠️ | 003\_down\_fails | down fails:" summary.md
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
