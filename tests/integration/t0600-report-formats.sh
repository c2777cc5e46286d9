#!/usr/bin/env bash
# t0600-report-formats.sh — CI report formats of preflight and status,
# each checked with a real reader of that format: GitHub workflow commands
# (line grammar, escaping), JUnit (python3's xml.etree), SARIF 2.1.0 (JSON
# schema, tests/schemas/sarif-2.1.0-subset.schema.json, with jsonschema),
# Markdown (roots first, consequences folded, no markup injection); and
# --report FORMAT:FILE (several in one run, written atomically, a symlink
# at the destination replaced and never followed).
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=$(new_db t0600) || exit 1
URL=$(db_url "$DB")
# the "hotfix" that makes 002 collide
psql_q "$DB" "CREATE TABLE audit_log (id int)" || exit 1
SCHEMA="$CF_SRC/tests/schemas/sarif-2.1.0-subset.schema.json"

# A python3 that has jsonschema (scripts/install-deps installs Debian's).
PYSCHEMA=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import jsonschema' 2>/dev/null; then
		PYSCHEMA=$py
		break
	fi
done

# Migrations: 001 passes, 002 collides (root), 003 follows it
# (consequence), 004 is marked no-transaction, 005 has hostile text in an
# identifier (newline, a workflow command, HTML, a control character XML
# cannot hold).
write_history()
{
	echo "CREATE TABLE t0600_users (id int PRIMARY KEY);" >db/migrations/001_users.up.sql
	echo "DROP TABLE t0600_users;" >db/migrations/001_users.down.sql
	echo "CREATE TABLE audit_log (id int, user_id int);" >db/migrations/002_audit.up.sql
	echo "DROP TABLE audit_log;" >db/migrations/002_audit.down.sql
	echo "CREATE INDEX audit_user ON audit_log (user_id);" >db/migrations/003_audit_idx.up.sql
	echo "DROP INDEX audit_user;" >db/migrations/003_audit_idx.down.sql
	printf -- '-- confiture:no-transaction\nCREATE INDEX CONCURRENTLY users_id ON t0600_users (id);\n' >db/migrations/004_idx.up.sql
	echo "DROP INDEX users_id;" >db/migrations/004_idx.down.sql
	printf 'SELECT * FROM "x\n::error::injected<script>|\001";\n' >db/migrations/005_evil.up.sql
	echo "SELECT 1;" >db/migrations/005_evil.down.sql
}

test_expect_success 'github: one workflow command per finding, at file:line:col' '
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format github
	expect_rc 1
	expect_out_matches "^::error file=db/migrations/002_audit.up.sql,line=1,col=[0-9]+,title=confiture preflight%3A 002_audit%3A root cause::relation \"audit_log\" already exists \(SQLSTATE 42P07\)"
	expect_out_matches "^::error file=db/migrations/003_audit_idx.up.sql,line=1,col=[0-9]+,title=confiture preflight%3A 003_audit_idx%3A consequence of 002::.*%0Aconsequence of 002_audit: relation \"audit_log\" already exists"
	expect_out_contains "confiture preflight: 3 failed: 2 root causes, 1 consequence"
	# roots come before consequences
	root=$(grep -n "root cause::" "$TEST_TMP/out" | head -1 | cut -d: -f1)
	cons=$(grep -n "consequence of 002::" "$TEST_TMP/out" | cut -d: -f1)
	test "$root" -lt "$cons"
'

test_expect_success 'github: hostile text cannot start a workflow command' '
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format github
	expect_out_contains "%0A::error::injected"
	# every line is a command or the summary; nothing else starts with ::
	if grep -v -E "^::(error|warning|notice) [a-z]+=" "$TEST_TMP/out" | grep -v "^confiture preflight: " | grep -q .; then
		echo "unexpected line:" >&2
		grep -v -E "^::(error|warning|notice) [a-z]+=" "$TEST_TMP/out" >&2
		return 1
	fi
	expect_out_not_contains "title=injected"
	! grep -q "^::error::injected" "$TEST_TMP/out"
'

test_expect_success 'a no-transaction migration in autocommit is a note, --strict passes on it' '
	new_project
	echo "CREATE TABLE t0600_nt (id int);" >db/migrations/001_t.up.sql
	echo "DROP TABLE t0600_nt;" >db/migrations/001_t.down.sql
	printf -- "-- confiture:no-transaction\nCREATE INDEX CONCURRENTLY nt_id ON t0600_nt (id);\n" >db/migrations/002_idx.up.sql
	echo "DROP INDEX nt_id;" >db/migrations/002_idx.down.sql
	run_cf migrate preflight --strict
	expect_rc 0
	expect_err_contains "note: statement '"'"'CREATE INDEX CONCURRENTLY'"'"' cannot run inside a transaction"
	expect_err_not_contains "warning:"
	run_cf migrate preflight --strict --against "$URL"
	expect_rc 0
	run_cf migrate preflight --format github
	expect_out_matches "^::notice file=db/migrations/002_idx.up.sql,line=2,col=1,"
	# without the marker it stays a warning and --strict fails
	sed -i 1d db/migrations/002_idx.up.sql
	run_cf migrate preflight --strict
	expect_rc 1
	expect_err_contains "warning: statement"
'

test_expect_success 'junit: valid XML, one testcase per migration, failures with cause' '
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format junit
	expect_rc 1
	python3 - "$TEST_TMP/out" <<-\EOF
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	assert root.tag == "testsuites", root.tag
	suites = root.findall("testsuite")
	assert len(suites) == 1 and suites[0].get("name") == "confiture migrate preflight"
	s = suites[0]
	cases = {c.get("name"): c for c in s.findall("testcase")}
	assert sorted(cases) == ["001_users", "002_audit", "003_audit_idx", "004_idx", "005_evil"], sorted(cases)
	assert s.get("tests") == "5" and s.get("failures") == "3", s.attrib
	assert cases["001_users"].find("failure") is None
	assert cases["004_idx"].find("failure") is None
	f = cases["002_audit"].find("failure")
	assert f.get("type") == "42P07", f.attrib
	assert "already exists" in f.get("message")
	assert "db/migrations/002_audit.up.sql:1:" in f.text and "SQLSTATE: 42P07" in f.text, f.text
	c = cases["003_audit_idx"].find("failure")
	assert c.get("type") == "consequence", c.attrib
	assert "consequence of 002_audit" in c.text, c.text
	e = cases["005_evil"].find("failure")
	assert "::error::injected<script>|\ufffd" in e.get("message"), e.get("message")
	assert cases["002_audit"].get("file") == "db/migrations/002_audit.up.sql"
	EOF
'

test_expect_success 'sarif: valid against the SARIF 2.1.0 schema, consequences linked to their root' '
	test -n "$PYSCHEMA" || { echo "no python3 with jsonschema: run scripts/install-deps" >&2; return 1; }
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format sarif
	expect_rc 1
	"$PYSCHEMA" - "$SCHEMA" "$TEST_TMP/out" <<-\EOF
	import json, sys, jsonschema
	schema = json.load(open(sys.argv[1]))
	doc = json.load(open(sys.argv[2]))
	jsonschema.Draft7Validator.check_schema(schema)
	jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
	run = doc["runs"][0]
	rules = run["tool"]["driver"]["rules"]
	ids = [r["id"] for r in rules]
	assert len(ids) == len(set(ids)), ids
	for r in run["results"]:
	    assert rules[r["ruleIndex"]]["id"] == r["ruleId"], r
	by = {}
	for r in run["results"]:
	    by.setdefault(r["ruleId"], []).append(r)
	root = [r for r in run["results"] if r.get("properties", {}).get("migration") == "002_audit"][0]
	assert root["level"] == "error" and root["properties"]["cause"] == "root", root
	loc = root["locations"][0]["physicalLocation"]
	assert loc["artifactLocation"]["uri"] == "db/migrations/002_audit.up.sql", loc
	assert loc["region"]["startLine"] == 1 and loc["region"]["startColumn"] >= 1, loc
	cons = by["consequence"]
	assert len(cons) == 1
	c = cons[0]
	assert c["properties"]["rootCause"] == "002_audit", c
	rel = c["relatedLocations"][0]
	assert rel["id"] == 1 and rel["physicalLocation"]["artifactLocation"]["uri"] == "db/migrations/002_audit.up.sql", rel
	assert "](1)" in c["message"]["text"], c["message"]
	assert "non-transactional" in ids and [r["level"] for r in by["non-transactional"]] == ["note"]
	EOF
'

test_expect_success 'sarif: the schema check can fail (a broken document is refused)' '
	test -n "$PYSCHEMA" || return 1
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format sarif
	"$PYSCHEMA" - "$SCHEMA" "$TEST_TMP/out" <<-\EOF
	import json, sys, jsonschema
	schema = json.load(open(sys.argv[1]))
	doc = json.load(open(sys.argv[2]))
	for breakage in (lambda d: d.update(version="2.0.0"),
	                 lambda d: d["runs"][0]["results"][0].pop("message"),
	                 lambda d: d["runs"][0]["results"][0].update(level="fatal"),
	                 lambda d: d["runs"][0]["results"][0].update(ruleid="x"),
	                 lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"].update(region={"startLine": 0})):
	    bad = json.loads(json.dumps(doc))
	    breakage(bad)
	    try:
	        jsonschema.validate(bad, schema)
	    except jsonschema.ValidationError:
	        continue
	    sys.exit("schema accepted a broken document")
	EOF
'

test_expect_success 'static errors without a replay, in every format' '
	new_project
	echo "CREATE TABLE t0600_d1 (id int);" >db/migrations/001_first.up.sql
	echo "CREATE TABLE t0600_d2 (id int);" >db/migrations/001_second.up.sql
	printf "CREATE TABLE t0600_s (x int,, y int);\n" >db/migrations/002_syntax.up.sql
	# the parser judges syntax only for a target of its own grammar
	# (otherwise a warning, left to the server)
	pg="--postgres-version 15"
	run_cf migrate preflight $pg --format github
	expect_rc 1
	expect_out_matches "^::error file=db/migrations/002_syntax.up.sql,line=1,col=29,title=.*::syntax error at or near"
	expect_out_matches "^::error .*duplicate"
	run_cf migrate preflight $pg --format junit
	expect_rc 1
	python3 - "$TEST_TMP/out" <<-\EOF
	import sys, xml.etree.ElementTree as ET
	s = ET.parse(sys.argv[1]).getroot().find("testsuite")
	failed = sorted(c.get("name") for c in s.findall("testcase") if c.find("failure") is not None)
	assert "002_syntax" in failed, failed
	assert any("duplicate" in c.find("failure").get("message") for c in s.findall("testcase") if c.find("failure") is not None), failed
	EOF
	run_cf migrate preflight $pg --format markdown
	expect_out_contains "### ❌ confiture migrate preflight: static checks:"
	if [ -n "$PYSCHEMA" ]; then
		run_cf migrate preflight $pg --format sarif
		"$PYSCHEMA" -c "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))" "$TEST_TMP/out" "$SCHEMA"
	fi
'

test_expect_success 'markdown: roots first, consequences folded, hostile text escaped' '
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --format markdown
	expect_rc 1
	expect_out_contains "### ❌ confiture migrate preflight: 3 failed: 2 root causes, 1 consequence"
	expect_out_matches "^\| ❌ root cause \| 002\\\\_audit \| relation \"audit\\\\_log\" already exists \(SQLSTATE 42P07\)"
	expect_out_contains "<details><summary>1 consequence of 002\\_audit</summary>"
	expect_out_contains "&lt;script&gt;"
	expect_out_not_contains "<script>"
	expect_out_contains "injected&lt;script&gt;\\|"
	# the consequence row is inside the details block, after the roots table
	python3 - "$TEST_TMP/out" <<-\EOF
	import sys
	t = open(sys.argv[1]).read()
	roots = t.index("root cause")
	det = t.index("<details><summary>1 consequence")
	row = t.index("| 003\\_audit\\_idx |")
	assert roots < det < row < t.index("</details>", det), t
	EOF
'

test_expect_success '--report: one run gives the log, JUnit, SARIF and Markdown' '
	new_project
	write_history
	mkdir reports
	run_cf migrate preflight --against "$URL" --report junit:reports/p.xml \
		--report sarif:reports/p.sarif --report markdown:reports/p.md \
		--report github:reports/p.gh --report json:reports/p.json
	expect_rc 1
	expect_out_contains "Replay on"
	expect_out_contains "3 failed: 2 root causes, 1 consequence"
	python3 -c "import xml.etree.ElementTree as ET; ET.parse(\"reports/p.xml\")"
	python3 -c "import json; d = json.load(open(\"reports/p.sarif\")); assert d[\"version\"] == \"2.1.0\""
	python3 -c "import json; d = json.load(open(\"reports/p.json\")); assert d[\"against\"][\"failed\"] == 3"
	grep -q "^### ❌ confiture migrate preflight" reports/p.md
	grep -q "^::error file=db/migrations/002_audit.up.sql" reports/p.gh
	# nothing but the five reports: no temporary file left behind
	expect_eq "p.gh p.json p.md p.sarif p.xml" "$(ls -A reports | tr "\n" " " | sed "s/ $//")"
	test "$(stat -c %a reports/p.xml)" = "$(umask -S >/dev/null; printf "%o" $((0666 & ~0$(umask))))"
'

test_expect_success '--report: a symlink at the destination is replaced, never followed' '
	new_project
	write_history
	echo "precious" >"$TEST_TMP/precious"
	ln -s "$TEST_TMP/precious" link.xml
	run_cf migrate preflight --report junit:link.xml
	expect_rc 0
	test ! -L link.xml
	python3 -c "import xml.etree.ElementTree as ET; ET.parse(\"link.xml\")"
	expect_eq precious "$(cat "$TEST_TMP/precious")"
'

test_expect_success '--report: bad arguments are usage errors before anything runs' '
	new_project
	write_history
	run_cf migrate preflight --against "$URL" --report pdf:x.pdf
	expect_rc 2
	expect_err_contains "invalid --report '"'"'pdf:x.pdf'"'"'"
	run_cf migrate preflight --against "$URL" --report junit
	expect_rc 2
	run_cf migrate preflight --against "$URL" --report junit:nowhere/x.xml
	expect_rc 2
	expect_err_contains "directory '"'"'nowhere'"'"' does not exist"
	expect_out_empty
	mkdir dir.xml
	run_cf migrate preflight --report junit:dir.xml
	expect_rc 2
	expect_err_contains "cannot write report '"'"'dir.xml'"'"'"
'

test_expect_success 'status: formats and --report (pending, applied)' '
	new_db t0600_st >/dev/null
	new_project t0600_st
	echo "CREATE TABLE t0600_s1 (id int);" >db/migrations/001_a.up.sql
	echo "CREATE TABLE t0600_s2 (id int);" >db/migrations/002_b.up.sql
	run_cf migrate up --env local --target 001
	expect_rc 0
	run_cf migrate status --env local --format github --report junit:st.xml --report sarif:st.sarif
	expect_rc 1
	expect_out_matches "^::notice file=db/migrations/002_b.up.sql,title=confiture status%3A 002_b%3A pending::migration 002 is pending"
	python3 - st.xml <<-\EOF
	import sys, xml.etree.ElementTree as ET
	s = ET.parse(sys.argv[1]).getroot().find("testsuite")
	assert s.get("name") == "confiture migrate status" and s.get("tests") == "2" and s.get("failures") == "1", s.attrib
	EOF
	if [ -n "$PYSCHEMA" ]; then
		"$PYSCHEMA" -c "import json, jsonschema; jsonschema.validate(json.load(open(\"st.sarif\")), json.load(open(\"$SCHEMA\")))"
	fi
	run_cf migrate status --env local --format markdown
	expect_out_contains "### ❌ confiture migrate status: 2 migrations: 1 applied, 1 pending"
'

test_expect_success '--format table is text, for preflight, status and up' '
	new_project "$DB"
	echo "SELECT 1;" >db/migrations/001_a.up.sql
	run_cf migrate preflight --format table
	expect_rc 0
	expect_out_contains "Preflight"
	run_cf migrate status --format table
	expect_rc 0
	expect_out_contains "status unknown"
	run_cf migrate up --env local --dry-run --format table
	expect_rc 0
	expect_out_contains "dry run"
'

test_done
