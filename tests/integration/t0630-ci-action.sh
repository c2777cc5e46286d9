#!/usr/bin/env bash
# t0630-ci-action.sh — the ready CI step: action.yml is a composite action
# whose preflight step is scripts/ci-preflight.sh; run here with the
# variables GitHub sets (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_TEMP,
# GITHUB_ACTION_PATH), on a schema dump loaded on the test cluster.  One run
# gives the log, annotations, a JUnit file, a SARIF file and the summary.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME NO_COLOR CONFITURE_DATABASE_URL

SRV=$(db_url postgres)
CACHE="$TEST_TMP/cache"
SCRIPT="$CF_SRC/scripts/ci-preflight.sh"
trap 'rc=$?; [ -d "$CACHE" ] && "$CONFITURE" cache clear --cache-dir "$CACHE" >/dev/null 2>&1; (exit $rc); tap_cleanup' EXIT

SRC=$(new_db t0630_prod) || exit 1
psql_q "$SRC" "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE audit_log (id int)" || exit 1
pg_dump --schema-only --no-owner "$SRC" | grep -v '^\\\(un\)\{0,1\}restrict' >"$TEST_TMP/prod.sql" || exit 1

# A GitHub runner's files, fresh for each run.
runner()
{
	export RUNNER_TEMP="$TEST_TMP/runner-temp"
	export GITHUB_STEP_SUMMARY="$TEST_TMP/step-summary.md"
	export GITHUB_OUTPUT="$TEST_TMP/github-output"
	export GITHUB_ACTION_PATH="$CF_SRC"
	export CONFITURE
	rm -rf "$RUNNER_TEMP"
	mkdir -p "$RUNNER_TEMP"
	echo "earlier step" >"$GITHUB_STEP_SUMMARY"
	: >"$GITHUB_OUTPUT"
}

project()
{
	new_project
	echo "CREATE TABLE orders (id int, user_id int REFERENCES users);" >db/migrations/001_orders.up.sql
	echo "DROP TABLE orders;" >db/migrations/001_orders.down.sql
}

# Runs the action's script like the "Preflight" step does.
run_step()
{
	CF_RC=0
	CF_FROM_DUMP="$TEST_TMP/prod.sql" CF_SERVER="$SRV" \
		CF_ARGS="--cache-dir $CACHE" "$SCRIPT" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || CF_RC=$?
	CF_OUT=$(cat "$TEST_TMP/out")
	CF_ERR=$(cat "$TEST_TMP/err")
}

output() { sed -n "s/^$1=//p" "$GITHUB_OUTPUT"; }

test_expect_success 'action.yml: a composite action whose steps exist' '
	python3 - "$CF_SRC/action.yml" "$CF_SRC" <<-\EOF
	import os, sys, yaml
	a = yaml.safe_load(open(sys.argv[1]))
	assert a["runs"]["using"] == "composite", a["runs"]
	steps = a["runs"]["steps"]
	pre = [s for s in steps if s.get("id") == "preflight"][0]
	assert "scripts/ci-preflight.sh" in pre["run"], pre
	for name in ("from-dump", "from-env", "env", "since", "strict", "upload-sarif", "install"):
	    assert name in a["inputs"], name
	for name in ("result", "exit-code", "junit", "sarif", "markdown"):
	    assert "steps.preflight.outputs." + name in a["outputs"][name]["value"], name
	up = [s for s in steps if "upload-sarif" in s.get("uses", "")]
	assert up and up[0]["with"]["sarif_file"] == "${{ steps.preflight.outputs.sarif }}", up
	for s in steps:
	    for line in s.get("run", "").splitlines():
	        for word in line.replace("\"", " ").split():
	            if word.startswith("$GITHUB_ACTION_PATH/scripts/"):
	                p = os.path.join(sys.argv[2], word[len("$GITHUB_ACTION_PATH/"):])
	                assert os.access(p, os.X_OK), p
	g = yaml.safe_load(open(os.path.join(sys.argv[2], "ci/gitlab-confiture.yml")))
	job = g[".confiture-preflight"]
	assert job["artifacts"]["reports"]["junit"] == "confiture-reports/preflight.xml", job
	assert any("ci-preflight.sh" in l for l in job["script"]), job
	EOF
'

test_expect_success 'passing run: log, step summary appended, outputs, exit 0' '
	runner
	project
	run_step
	expect_rc 0
	expect_out_contains "All 1 migration passed"
	expect_out_contains "confiture preflight: all 1 migration passed"
	expect_out_contains "ci-preflight: passed (exit 0)"
	expect_eq 0 "$(output exit-code)"
	expect_eq passed "$(output result)"
	expect_eq "$RUNNER_TEMP/confiture/preflight.xml" "$(output junit)"
	head -1 "$GITHUB_STEP_SUMMARY" | grep -qx "earlier step"
	grep -q "^### ✅ confiture migrate preflight: all 1 migration passed" "$GITHUB_STEP_SUMMARY"
'

test_expect_success 'failing run: annotations, JUnit, SARIF, summary, exit 1' '
	runner
	project
	echo "CREATE TABLE audit_log (id int);" >db/migrations/002_audit.up.sql
	echo "DROP TABLE audit_log;" >db/migrations/002_audit.down.sql
	run_step
	expect_rc 1
	expect_out_contains "✗ 002 audit"
	expect_out_matches "^::error file=db/migrations/002_audit.up.sql,line=1,col=1,title=.*::relation \"audit_log\" already exists"
	expect_eq 1 "$(output exit-code)"
	expect_eq failed "$(output result)"
	python3 -c "import sys, xml.etree.ElementTree as ET; s = ET.parse(sys.argv[1]).getroot().find(\"testsuite\"); assert s.get(\"failures\") == \"1\", s.attrib" "$(output junit)"
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); assert d[\"runs\"][0][\"results\"][0][\"ruleId\"] == \"sql-error\", d" "$(output sarif)"
	grep -q "^### ❌ confiture migrate preflight: 1 failed: 1 root cause" "$GITHUB_STEP_SUMMARY"
	grep -q "root cause | 002\\\\_audit" "$GITHUB_STEP_SUMMARY"
'

test_expect_success 'a configuration error: exit 2, result error, no annotations' '
	runner
	project
	CF_RC=0
	CF_FROM_DUMP="$TEST_TMP/missing.sql" CF_SERVER="$SRV" "$SCRIPT" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || CF_RC=$?
	expect_rc 2
	expect_eq error "$(output result)"
	expect_eq "" "$(output junit)"
	grep -qx "earlier step" "$GITHUB_STEP_SUMMARY"
'

test_expect_success 'outside GitHub (plain shell, GitLab): reports in ./confiture-reports, no annotations' '
	project
	unset GITHUB_STEP_SUMMARY GITHUB_OUTPUT RUNNER_TEMP
	CF_RC=0
	CF_FROM_DUMP="$TEST_TMP/prod.sql" CF_SERVER="$SRV" CF_ARGS="--cache-dir $CACHE" \
		CF_ANNOTATIONS=false "$SCRIPT" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || CF_RC=$?
	expect_rc 0
	expect_out_not_contains "::"
	test -s confiture-reports/preflight.xml
	test -s confiture-reports/preflight.sarif
	test -s confiture-reports/preflight.md
'

test_done
