#!/usr/bin/env bash
# t0200-preflight-workflow.sh — `migrate preflight` end to end, the way it
# is meant to be used: a production database migrated by `migrate up`,
# drifted by hand (hotfix view, hotfix table, extra column), its schema
# copied with pg_dump into a preflight database, and new migrations that
# collide with the drift.  Checks the text report, the JSON envelope field
# by field, the pending set (--since, no --env, edited applied files), that
# production is never written, and that no password is ever printed.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

PROD=$(new_db t0200_prod) || exit 1
PRE=$(new_db t0200_pre) || exit 1
PROD_PW=Pr0dSecretT0200
PRE_PW=Pr3flightSecretT0200
# Trust authentication accepts any password: both URLs carry one.
PROD_URL="postgresql://postgres:$PROD_PW@/$PROD?host=$PGHOST&port=$PGPORT"
PRE_URL="postgresql:///$PRE?host=$PGHOST&port=$PGPORT&user=postgres&password=$PRE_PW"
ALL_OUT=$TEST_TMP/all-output
: >"$ALL_OUT"

# Runs confiture like run_cf, keeping every byte it printed for the
# password check at the end.
run_pf()
{
	run_cf "$@"
	{
		printf '%s\n' "$CF_OUT"
		printf '%s\n' "$CF_ERR"
	} >>"$ALL_OUT"
}

# Everything `migrate up` and the hand drift left in production: schema,
# data and tracking rows.
dump_prod()
{
	pg_dump "$PROD" | grep -v '^\\\(un\)\{0,1\}restrict'
	psql_q "$PROD" "SELECT * FROM tb_confiture ORDER BY version"
}

PROJ=$TEST_TMP/proj
mkdir -p "$PROJ/db/migrations" "$PROJ/db/environments" || exit 1
cat >"$PROJ/db/environments/production.yaml" <<EOF || exit 1
name: production
database_url: "$PROD_URL"
EOF
M=$PROJ/db/migrations
cat >"$M/001_users.up.sql" <<'EOF'
CREATE TABLE users (
    id int PRIMARY KEY,
    email text NOT NULL,
    score int
);
EOF
echo 'DROP TABLE users;' >"$M/001_users.down.sql"
cat >"$M/002_orders.up.sql" <<'EOF'
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users);
EOF
echo 'DROP TABLE orders;' >"$M/002_orders.down.sql"

# Writes the pending migrations (003-010) and their .down.sql files.
write_pending()
{
	# collides with the hotfix table
	cat >"$M/003_audit_log.up.sql" <<-'EOF'
	CREATE TABLE audit_log (id int, user_id int, at timestamptz);
	EOF
	# consequence of 003: the hotfix audit_log has no user_id
	cat >"$M/004_audit_index.up.sql" <<-'EOF'
	CREATE INDEX audit_log_user ON audit_log (user_id);
	EOF
	# the hotfix view depends on users.score: 0A000
	cat >"$M/005_score_bigint.up.sql" <<-'EOF'
	-- scores overflow int
	-- (reported 2024-05-01)
	ALTER TABLE users ALTER COLUMN score TYPE bigint;
	EOF
	# a role nobody created
	cat >"$M/006_grant_reporting.up.sql" <<-'EOF'

	GRANT SELECT ON users TO t0200_reporting;
	EOF
	# a table that exists nowhere: position inside the statement
	cat >"$M/007_loyalty.up.sql" <<-'EOF'
	-- award points
	INSERT INTO users (id, email) VALUES (1, 'a@example.com');
	UPDATE loyalty_points
	   SET points = 0;
	EOF
	cat >"$M/008_products.up.sql" <<-'EOF'
	CREATE TABLE products (id int PRIMARY KEY, nickname text);
	EOF
	# consequence of 003 (no user_id), then a consequence of that
	cat >"$M/009_audit_summary.up.sql" <<-'EOF'
	CREATE VIEW audit_summary AS SELECT user_id, count(*) AS n FROM audit_log GROUP BY user_id;
	EOF
	cat >"$M/010_audit_report.up.sql" <<-'EOF'
	CREATE VIEW audit_report AS SELECT n FROM audit_summary;
	EOF
	for v in 003_audit_log 004_audit_index 005_score_bigint \
		006_grant_reporting 007_loyalty 008_products \
		009_audit_summary 010_audit_report; do
		echo '-- down' >"$M/$v.down.sql"
	done
}

test_expect_success 'setup: production migrated with migrate up, then drifted' '
	cd "$PROJ"
	run_pf migrate up --env production
	expect_rc 0
	expect_eq "001 002" "$(psql_q "$PROD" "SELECT string_agg(version, '\'' '\'' ORDER BY version) FROM tb_confiture")"
	psql_q "$PROD" "CREATE VIEW user_scores AS SELECT id, score FROM users"
	psql_q "$PROD" "CREATE TABLE audit_log (id int, at timestamptz)"
	psql_q "$PROD" "ALTER TABLE users ADD COLUMN nickname text"
	dump_schema "$PROD" >prod-schema.sql
	if grep -q "restrict" prod-schema.sql; then exit 1; fi
	psql -XAtq -v ON_ERROR_STOP=1 -d "$PRE" -f prod-schema.sql >/dev/null
	expect_eq 1 "$(psql_q "$PRE" "SELECT count(*) FROM pg_views WHERE viewname = '\''user_scores'\''")"
	write_pending
	dump_prod >"$TEST_TMP/prod-before"
	dump_schema "$PRE" >"$TEST_TMP/pre-before"
'

test_expect_success 'text report: marks, server messages, SQLSTATEs, positions, summary' '
	cd "$PROJ"
	run_pf migrate preflight --against "$PRE_URL" --env production
	expect_rc 1
	expect_out_contains "Preflight: 8 pending migrations"
	expect_out_matches "✗ 003 audit_log .*root cause"
	expect_out_matches "✗ 004 audit_index .*consequence of 003"
	expect_out_matches "✗ 005 score_bigint .*root cause"
	expect_out_matches "✗ 006 grant_reporting .*root cause"
	expect_out_matches "✗ 007 loyalty .*root cause"
	expect_out_matches "✓ 008 products "
	expect_out_matches "✗ 009 audit_summary .*consequence of 003"
	expect_out_matches "✗ 010 audit_report .*consequence of 009"
	expect_out_contains "relation \"audit_log\" already exists"
	expect_out_contains "cannot alter type of a column used by a view or rule"
	expect_out_contains "rule _RETURN on view user_scores depends on column \"score\""
	expect_out_contains "role \"t0200_reporting\" does not exist"
	expect_out_contains "relation \"loyalty_points\" does not exist"
	expect_out_matches "SQLSTATE:? 42P07"
	expect_out_matches "SQLSTATE:? 0A000"
	expect_out_matches "SQLSTATE:? 42704"
	expect_out_matches "SQLSTATE:? 42P01"
	expect_out_contains "db/migrations/003_audit_log.up.sql:1:1"
	expect_out_contains "db/migrations/005_score_bigint.up.sql:3:1"
	expect_out_contains "db/migrations/007_loyalty.up.sql:3:8"
	expect_out_contains "7 failed: 4 root causes, 3 consequences"
	expect_out_contains "(clone mode)"
	expect_out_matches "^clone dropped — t0200_pre unchanged$"
	expect_eq "clone dropped — t0200_pre unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
	expect_out_not_contains "$PRE_PW"
'

test_expect_success 'JSON envelope: static and against field names and values' '
	cd "$PROJ"
	run_pf migrate preflight --against "$PRE_URL" --env production --format json
	expect_rc 1
	check_json "
s = d[\"static\"]
for k in (\"safe_to_deploy\", \"all_reversible\", \"all_transactional\",
          \"has_duplicates\", \"has_checksum_mismatches\", \"checksum_verified\",
          \"migrations\", \"duplicate_versions\", \"checksum_mismatches\"):
    assert k in s, \"static.\" + k + \" missing\"
eq(s[\"safe_to_deploy\"], True, \"safe_to_deploy\")
eq(s[\"all_reversible\"], True, \"all_reversible\")
eq(s[\"all_transactional\"], True, \"all_transactional\")
eq(s[\"has_duplicates\"], False, \"has_duplicates\")
eq(s[\"has_checksum_mismatches\"], False, \"has_checksum_mismatches\")
eq(s[\"checksum_verified\"], True, \"checksum_verified\")
eq(s[\"duplicate_versions\"], {}, \"duplicate_versions\")
eq(s[\"checksum_mismatches\"], [], \"checksum_mismatches\")
eq([m[\"version\"] for m in s[\"migrations\"]],
   [\"003\", \"004\", \"005\", \"006\", \"007\", \"008\", \"009\", \"010\"], \"pending\")
for m in s[\"migrations\"]:
    eq(sorted(m), sorted([\"version\", \"name\", \"has_down\", \"reversible\",
       \"fully_transactional\", \"non_transactional_statements\", \"checksum\"]),
       \"static migration keys\")
    eq(len(m[\"checksum\"]), 64, \"checksum length\")
    eq(m[\"non_transactional_statements\"], [], \"non_transactional_statements\")
eq(s[\"migrations\"][0][\"name\"], \"audit_log\", \"name\")

a = d[\"against\"]
eq(a[\"against_url\"].count(\"$PRE_PW\"), 0, \"password in against_url\")
assert \"t0200_pre\" in a[\"against_url\"], a[\"against_url\"]
eq(a[\"all_passed\"], False, \"all_passed\")
eq((a[\"total\"], a[\"passed\"], a[\"failed\"], a[\"skipped\"]), (8, 1, 7, 0), \"counts\")
eq(a[\"db_consumed\"], False, \"db_consumed\")
eq(a[\"mode\"], \"clone\", \"mode\")
keys = [\"version\", \"name\", \"success\", \"error\", \"skipped\", \"skipped_reason\",
        \"execution_time_ms\", \"sqlstate\", \"message\", \"detail\", \"hint\", \"file\",
        \"line\", \"column\", \"statement_index\", \"cause\", \"caused_by\", \"artifact\"]
by = {}
for m in a[\"migrations\"]:
    for k in keys:
        assert k in m, \"against.migrations[].\" + k + \" missing\"
    by[m[\"version\"]] = m
def check(v, sqlstate, cause, caused_by, line, column, idx):
    m = by[v]
    eq(m[\"success\"], False, v + \" success\")
    eq(m[\"skipped\"], False, v + \" skipped\")
    eq(m[\"sqlstate\"], sqlstate, v + \" sqlstate\")
    eq(m[\"cause\"], cause, v + \" cause\")
    eq(m[\"caused_by\"], caused_by, v + \" caused_by\")
    eq(m[\"line\"], line, v + \" line\")
    eq(m[\"column\"], column, v + \" column\")
    eq(m[\"statement_index\"], idx, v + \" statement_index\")
    eq(m[\"error\"], m[\"message\"], v + \" error\")
    eq(m[\"artifact\"], False, v + \" artifact\")
    assert m[\"file\"].endswith(\"db/migrations/\" + v + \"_\" + m[\"name\"] + \".up.sql\"), m[\"file\"]
check(\"003\", \"42P07\", \"root\", None, 1, 1, 1)
check(\"004\", \"42703\", \"consequence\", \"003\", 1, 1, 1)
check(\"005\", \"0A000\", \"root\", None, 3, 1, 1)
check(\"006\", \"42704\", \"root\", None, 2, 1, 1)
check(\"007\", \"42P01\", \"root\", None, 3, 8, 2)
check(\"009\", \"42703\", \"consequence\", \"003\", 1, 37, 1)
check(\"010\", \"42P01\", \"consequence\", \"009\", 1, 43, 1)
eq(by[\"003\"][\"message\"], \"relation \\\"audit_log\\\" already exists\", \"003 message\")
eq(by[\"005\"][\"detail\"], \"rule _RETURN on view user_scores depends on column \\\"score\\\"\", \"005 detail\")
ok = by[\"008\"]
eq((ok[\"success\"], ok[\"error\"], ok[\"sqlstate\"], ok[\"cause\"], ok[\"line\"]),
   (True, None, None, None, None), \"008\")
assert isinstance(ok[\"execution_time_ms\"], int), ok[\"execution_time_ms\"]
eq(a[\"root_causes\"], 4, \"root_causes\")
eq(a[\"consequences\"], 3, \"consequences\")
"
'

test_expect_success 'savepoint mode gives the same diagnosis and rolls back' '
	cd "$PROJ"
	run_pf migrate preflight --against "$PRE_URL" --env production --mode savepoint --format json
	expect_rc 1
	check_json "
a = d[\"against\"]
eq(a[\"mode\"], \"savepoint\", \"mode\")
eq(a[\"fallback_reason\"], None, \"fallback_reason\")
eq([(m[\"version\"], m[\"success\"], m[\"cause\"], m[\"caused_by\"], m[\"sqlstate\"]) for m in a[\"migrations\"]],
   [(\"003\", False, \"root\", None, \"42P07\"),
    (\"004\", False, \"consequence\", \"003\", \"42703\"),
    (\"005\", False, \"root\", None, \"0A000\"),
    (\"006\", False, \"root\", None, \"42704\"),
    (\"007\", False, \"root\", None, \"42P01\"),
    (\"008\", True, None, None, None),
    (\"009\", False, \"consequence\", \"003\", \"42703\"),
    (\"010\", False, \"consequence\", \"009\", \"42P01\")], \"outcomes\")
"
	run_pf migrate preflight --against "$PRE_URL" --env production --mode savepoint
	expect_rc 1
	expect_out_contains "7 failed: 4 root causes, 3 consequences"
	expect_eq "Rolled back — preflight DB unchanged" "$(tail -n 1 "$TEST_TMP/out")" "closing line"
'

test_expect_success 'the preflight database and production are unchanged' '
	dump_schema "$PRE" >pre-after
	diff -u "$TEST_TMP/pre-before" pre-after
	dump_prod >prod-after
	diff -u "$TEST_TMP/prod-before" prod-after
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE '\''cf_preflight%'\''")" "clones left"
'

test_expect_success 'fixing the drift makes the preflight pass (exit 0)' '
	cp -R "$PROJ" fixed
	cd fixed
	rm db/migrations/003_* db/migrations/005_* db/migrations/006_* db/migrations/007_*
	cat >db/migrations/004_audit_index.up.sql <<-\EOF
	ALTER TABLE audit_log ADD COLUMN user_id int;
	CREATE INDEX audit_log_user ON audit_log (user_id);
	EOF
	run_pf migrate preflight --against "$PRE_URL" --env production
	expect_rc 0
	expect_out_matches "✓ 004 audit_index "
	expect_out_matches "✓ 010 audit_report "
	expect_out_contains "All 4 migrations passed"
	expect_out_not_contains "✗"
'

test_expect_success 'pending set: only versions missing from the tracking table' '
	cd "$PROJ"
	run_pf migrate preflight --env production --format json
	expect_rc 0
	check_json "
eq([m[\"version\"] for m in d[\"static\"][\"migrations\"]],
   [\"003\", \"004\", \"005\", \"006\", \"007\", \"008\", \"009\", \"010\"], \"pending\")
eq(d[\"static\"][\"checksum_verified\"], True, \"checksum_verified\")
eq(d[\"against\"], None, \"against\")
"
'

test_expect_success 'pending set: --since is inclusive' '
	cd "$PROJ"
	run_pf migrate preflight --env production --since 007 --format json
	expect_rc 0
	check_json "
eq([m[\"version\"] for m in d[\"static\"][\"migrations\"]], [\"007\", \"008\", \"009\", \"010\"], \"pending\")
"
	run_pf migrate preflight --env production --since 7 --against "$PRE_URL" --format json
	check_json "
eq([m[\"version\"] for m in d[\"against\"][\"migrations\"]], [\"007\", \"008\", \"009\", \"010\"], \"replayed\")
eq(d[\"against\"][\"migrations\"][2][\"cause\"], \"root\", \"009 without 003 in the run\")
"
'

test_expect_success 'pending set: without --env every file is pending' '
	cd "$PROJ"
	run_pf migrate preflight --format json
	expect_rc 0
	check_json "
eq([m[\"version\"] for m in d[\"static\"][\"migrations\"]],
   [\"001\", \"002\", \"003\", \"004\", \"005\", \"006\", \"007\", \"008\", \"009\", \"010\"], \"pending\")
eq(d[\"static\"][\"checksum_verified\"], False, \"checksum_verified\")
"
	run_pf migrate preflight --since 009
	expect_rc 0
	expect_out_contains "Preflight: 2 pending migrations"
'

test_expect_success 'an applied migration edited afterwards is a static error' '
	cp -R "$PROJ" edited
	cd edited
	echo "-- edited after deploy" >>db/migrations/001_users.up.sql
	run_pf migrate preflight --env production --format json
	expect_rc 1
	check_json "
s = d[\"static\"]
eq(s[\"checksum_mismatches\"], [\"001\"], \"checksum_mismatches\")
eq(s[\"has_checksum_mismatches\"], True, \"has_checksum_mismatches\")
eq(s[\"safe_to_deploy\"], False, \"safe_to_deploy\")
eq([p[\"code\"] for p in s[\"problems\"] if p[\"severity\"] == \"error\"], [\"checksum-mismatch\"], \"errors\")
"
	run_pf migrate preflight --env production
	expect_rc 1
	expect_err_contains "001"
	expect_err_contains "modified after it was applied"
	run_pf migrate preflight --env production --against "$PRE_URL"
	expect_rc 1
'

test_expect_success 'production was never written by any preflight' '
	dump_prod >prod-after
	diff -u "$TEST_TMP/prod-before" prod-after
'

test_expect_success 'no password in any output' '
	test -s "$ALL_OUT"
	grep -q "t0200_pre" "$ALL_OUT"
	if grep -n -e "$PROD_PW" -e "$PRE_PW" "$ALL_OUT"; then
		exit 1
	fi
	cd "$PROJ"
	run_pf migrate preflight --env production --against "postgresql://postgres:$PRE_PW@/t0200_no_such_db?host=$PGHOST&port=$PGPORT"
	expect_rc 2
	expect_out_not_contains "$PRE_PW"
	expect_err_not_contains "$PRE_PW"
	run_pf migrate preflight --env production --against "postgresql://postgres:$PRE_PW@[bad"
	expect_rc 2
	expect_err_not_contains "$PRE_PW"
	run_pf migrate preflight --env production --against "mysql://postgres:$PRE_PW@host/db" --format json
	expect_rc 2
	expect_out_not_contains "$PRE_PW"
	expect_err_not_contains "$PRE_PW"
	sed -i "s/t0200_prod/t0200_prod_gone/" db/environments/production.yaml
	run_pf migrate preflight --env production --against "$PRE_URL"
	sed -i "s/t0200_prod_gone/t0200_prod/" db/environments/production.yaml
	expect_rc 2
	expect_err_contains "t0200_prod_gone"
	expect_err_not_contains "$PROD_PW"
'

test_done
