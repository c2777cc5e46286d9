#!/usr/bin/env bash
# t0150-hostile-files.sh — project files from a pull request are hostile:
# links out of the project, FIFOs and devices, secrets in ${VAR} values and
# database: blocks, "billion laughs" YAML, control characters in names.
# Nothing of a file outside the project is shown, nothing hangs, no secret
# is printed, and the terminal never receives a raw control character.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

DB=$(new_db t0150_files) || exit 1
SECRET="$TEST_TMP/secret.txt"
# Looks like SQL to the migration reader and like YAML to the config one.
printf 'TOPSECRET_t0150: shadow-line-1\nroot:$6$t0150hash:19000:0:99999:7:::\n' >"$SECRET"

# Fails when the secret file's content shows in the last run's output.
expect_no_secret()
{
	expect_out_not_contains "TOPSECRET"
	expect_err_not_contains "TOPSECRET"
	expect_out_not_contains "t0150hash"
	expect_err_not_contains "t0150hash"
}

# "migrate status --env ENV" in text and JSON: exit 2, WORD never shown.
status_fails_hiding()
{
	for f in text json; do
		run_cf migrate status --env "$1" --format $f
		expect_rc 2
		expect_out_not_contains "$2"
		expect_err_not_contains "$2"
	done
}

# No hang on a FIFO: a run that blocks is killed and fails the test.
HANG_GUARD="timeout 60 ${CF_TEST_WRAPPER:-}"

test_expect_success 'a migration linked to a file outside the project: exit 2, nothing of it shown' '
	new_project "$DB"
	ln -s "$SECRET" db/migrations/001_x.up.sql
	for f in text json; do
		run_cf migrate preflight --format $f
		expect_rc 2
		expect_no_secret
		expect_err_contains "symbolic link leading outside the project"
		expect_err_contains "db/migrations/001_x.up.sql"
		run_cf migrate up --env local --format $f
		expect_rc 2
		expect_no_secret
		run_cf migrate status --env local --format $f
		expect_rc 2
		expect_no_secret
	done
	run_cf migrate preflight --format json
	check_json "eq(d[\"error\"][\"code\"], \"symlink-outside-project\", \"code\")"
	expect_eq f "$(psql_q "$DB" "SELECT to_regclass('\''tb_confiture'\'') IS NOT NULL")"
'

test_expect_success 'a migrations directory linked out of the project: exit 2' '
	new_project "$DB"
	mkdir "$TEST_TMP/elsewhere"
	cp "$SECRET" "$TEST_TMP/elsewhere/001_x.up.sql"
	rmdir db/migrations
	ln -s "$TEST_TMP/elsewhere" db/migrations
	run_cf migrate preflight
	expect_rc 2
	expect_no_secret
	expect_err_contains "leads outside the project"
'

test_expect_success 'a migration linked inside the project is followed' '
	new_project "$DB"
	mkdir shared
	echo "CREATE TABLE t0150_in (id int);" >shared/a.sql
	echo "DROP TABLE t0150_in;" >shared/a.down.sql
	ln -s ../../shared/a.sql db/migrations/001_in.up.sql
	ln -s ../../shared/a.down.sql db/migrations/001_in.down.sql
	run_cf migrate preflight --strict
	expect_rc 0
	run_cf migrate up --env local
	expect_rc 0
	run_cf migrate down --env local
	expect_rc 0
'

test_expect_success 'an environment file linked outside the project: exit 2, no line of it in warnings' '
	new_project
	ln -s "$SECRET" db/environments/prod.yaml
	for f in text json; do
		run_cf migrate status --env prod --format $f
		expect_rc 2
		expect_no_secret
		expect_err_contains "environment file '\''db/environments/prod.yaml'\'' is a symbolic link leading outside the project"
		run_cf migrate preflight --from-env prod --format $f
		expect_rc 2
		expect_no_secret
	done
	rm db/environments/prod.yaml
	rmdir db/environments
	mkdir "$TEST_TMP/envs"
	cp "$SECRET" "$TEST_TMP/envs/prod.yaml"
	ln -s "$TEST_TMP/envs" db/environments
	run_cf migrate status --env prod
	expect_rc 2
	expect_no_secret
'

test_expect_success 'FIFOs as migration, environment file and -c file: refused at once, no hang' '
	new_project
	mkfifo db/migrations/001_pipe.up.sql db/environments/pipe.yaml
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate preflight
	expect_rc 2
	expect_err_contains "is not a regular file"
	expect_err_contains "named pipe"
	rm db/migrations/001_pipe.up.sql
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status --env pipe
	expect_rc 2
	expect_err_contains "is not a regular file"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status -c db/environments/pipe.yaml
	expect_rc 2
	expect_err_contains "is not a regular file"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status -c /dev/zero
	expect_rc 2
	expect_err_contains "a device"
'

test_expect_success 'a ${VAR} value in a key that is not secret is never printed' '
	new_project
	export T0150_URL="postgresql://app:hunter2pw@db.example/x" T0150_BARE=hunter2pw
	printf "database_url: \"%s\"\nmigration:\n  tracking_table: \${T0150_URL}\n" "$(db_url "$DB")" >db/environments/a.yaml
	printf "database_url: \${T0150_BARE}\n" >db/environments/b.yaml
	printf "database_url: \"%s\"\nmigration:\n  locking:\n    timeout_ms: \${T0150_BARE}\n" "$(db_url "$DB")" >db/environments/c.yaml
	printf "database_url: \"%s\"\npreflight:\n  lock_timeout_ms: \"\${T0150_URL}\"\n" "$(db_url "$DB")" >db/environments/d.yaml
	for e in a b c d; do
		status_fails_hiding $e hunter2pw
		expect_err_matches "\\\$\\{T0150_(URL|BARE)\\}"
	done
'

test_expect_success 'a database: block password never shows in excerpts or warnings' '
	new_project
	cat >db/environments/flow.yaml <<-EOF
	database: {host: $PGHOST, password: hunter2pw, port: nope}
	EOF
	cat >db/environments/alias.yaml <<-EOF
	database:
	  password: &p hunter2pw
	  port: *p
	EOF
	cat >db/environments/split.yaml <<-EOF
	database:
	  password:
	    hunter2pw
	  port: [1
	EOF
	cat >db/environments/warn.yaml <<-EOF
	database: {host: $PGHOST, port: $PGPORT, database: $DB, user: postgres, password: hunter2pw, prt: 1}
	pasword: hunter2pw
	EOF
	for e in flow alias split; do
		status_fails_hiding $e hunter2pw
	done
	run_cf migrate status --env flow
	expect_err_contains "password: ***, port: nope}"
	run_cf migrate status --env warn
	expect_rc 0
	expect_err_contains "unknown configuration key '\''database.prt'\''"
	expect_err_contains "unknown configuration key '\''pasword'\''"
	expect_err_contains "password: ***, prt: 1}"
	expect_err_not_contains hunter2pw
	expect_out_not_contains hunter2pw
'

test_expect_success 'billion laughs: exit 2 at once with a clear message, memory bounded' '
	new_project
	{
		echo "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
		for p in a b c d e f g h; do
			n=$(echo $p | tr a-h b-i)
			echo "$n: &$n [*$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p]"
		done
	} >db/environments/bomb.yaml
	test "$(wc -c <db/environments/bomb.yaml)" -lt 500
	(
		ulimit -v 1000000
		CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status --env bomb
		expect_rc 2
		expect_err_contains "YAML aliases expand to too many values"
		expect_err_contains "db/environments/bomb.yaml:"
	)
'

test_expect_success 'too many keys or anchors: exit 2 at once, at the key, before libfyaml compares them' '
	new_project
	python3 -c "print(\"{\" + \", \".join(\"k%d: 1\" % i for i in range(20000)) + \"}\")" >db/environments/wide.yaml
	python3 -c "
for m in range(25):
    print(\"m%d:\" % m)
    for k in range(450): print(\"  k%d: 1\" % k)" >db/environments/deep.yaml
	python3 -c "
print(\"include_dirs:\")
for i in range(1001): print(\"  - &a%d db/x\" % i)" >db/environments/anchors.yaml
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status --env wide
	expect_rc 2
	expect_err_contains "too many keys in one mapping"
	expect_err_contains "db/environments/wide.yaml:1:4392"
	expect_err_contains "at most 500 keys in one mapping"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status --env deep --format json
	expect_rc 2
	expect_out_contains "\"code\": \"yaml-too-large\""
	expect_out_contains "at most 10000 keys"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate status --env anchors
	expect_rc 2
	expect_err_contains "too many anchors"
	expect_err_contains "db/environments/anchors.yaml:1002:6"
'

test_expect_success 'nested explicit keys that crash libfyaml on cleanup: exit 2, an error at the place' '
	new_project
	printf "? ? ? ?:\t ?/ ? ? ? ? ? ? ? ? ? ? :" >db/environments/keys.yaml
	run_cf migrate status --env keys
	expect_rc 2
	expect_err_contains "invalid YAML: cannot use tab for indentation of block entry"
	expect_err_contains "db/environments/keys.yaml:1:9"
'

test_expect_success 'a mapping of 500 keys still loads: each unknown key warned, excerpts cut, the password hidden' '
	new_project "$DB"
	python3 -c "print(\"{database_url: \\\"postgresql://u:hunter2pw@%s:%s/%s\\\", \" % (\"$PGHOST\".replace(\"/\", \"%2F\"), \"$PGPORT\", \"$DB\") + \", \".join(\"k%d: 1\" % i for i in range(498)) + \"}\")" >db/environments/wide.yaml
	run_cf migrate status --env wide
	expect_err_contains "unknown configuration key '\''k497'\''"
	test "$(grep -c "unknown configuration key" "$TEST_TMP/err")" = 498 &&
	test "$(wc -c <"$TEST_TMP/err")" -lt 400000 &&
	expect_err_matches "^ +1 \\| …[^…]*k497: 1}\$" &&
	expect_err_not_contains hunter2pw
'

test_expect_success 'a run of 200,000 operator characters: left to the server at once, the rest linted' '
	new_project
	python3 -c "print(\"SELECT 1 \" + \"+-\" * 100000 + \" 1;\\n/*\" + \"/*\" * 100000 + \"*/\" * 100001 + \"\\nCREATE INDEX i ON t (a);\")" >db/migrations/001_ops.up.sql
	printf "SELECT 1;\n" >db/migrations/001_ops.down.sql
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate lint --pg-version 15
	expect_rc 1
	expect_out_contains "index-without-concurrently"
	expect_out_contains "not linted: db/migrations/001_ops.up.sql:1:1: the parser (PostgreSQL 15) cannot read it: more than 1000 operator characters in a row"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate preflight --postgres-version 15 --format json
	expect_out_contains "\"code\": \"parse-skipped\""
	expect_out_contains "\"code\": \"index-without-concurrently\""
	expect_out_not_contains "\"code\": \"syntax-error\""
'

test_expect_success 'a chain of 100,000 operators: never given to libpg_query, no crash' '
	new_project
	python3 -c "print(\"CREATE VIEW v AS SELECT \" + \" - \".join([\"1\"] * 100000) + \" AS x;\\nCREATE INDEX i ON t (a);\")" >db/migrations/001_chain.up.sql
	printf "SELECT 1;\n" >db/migrations/001_chain.down.sql
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate lint --pg-version 15
	expect_rc 1
	expect_out_contains "index-without-concurrently"
	expect_out_contains "001_chain.up.sql:1:1: the parser (PostgreSQL 15) cannot read it: more than 20000 operators"
	CF_TEST_WRAPPER=$HANG_GUARD run_cf migrate preflight --postgres-version 15
	expect_rc 0
'

test_expect_success 'control characters in a migration file name never reach the terminal raw' '
	new_project "$DB"
	esc=$(printf "\033")
	printf "SELECT 1;\n" >"db/migrations/001_${esc}]0;pwned$(printf "\a")x.up.sql"
	printf "SELECT '\''${esc}[2J'\'' FROM;\n" >db/migrations/002_bad.up.sql
	run_cf --color=always migrate up --env local
	expect_rc 1
	expect_err_contains "\\x1B]0;pwned\\x07x.up.sql"
	expect_err_contains "the name contains a control character"
	expect_err_contains "\\x1B[2J"
	if grep -q "${esc}\]0\|${esc}\[2J" "$TEST_TMP/out" "$TEST_TMP/err"; then
		echo "a raw control sequence reached the terminal" >&2
		return 1
	fi
	run_cf migrate up --env local --format json
	expect_rc 1
	if grep -q "$esc" "$TEST_TMP/out"; then return 1; fi
	check_json "
p = [x for x in d.get(\"problems\", []) + d.get(\"warnings\", []) if x[\"code\"] == \"bad-file-name\"]
eq(len(p), 1, \"bad names\")
eq(\"\\x1b]0;pwned\\x07x\" in p[0][\"message\"], True, \"name decoded\")
"
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM tb_confiture")"
'

test_expect_success 'control characters in a tracking table row are escaped in status' '
	new_project "$DB"
	psql_q "$DB" "INSERT INTO tb_confiture (slug, version, name) VALUES ('\''t0150'\'', E'\''9\\x1b[2J'\'', E'\''gone\\x1b]0;pwned\\x07'\'')"
	run_cf migrate status --env local
	expect_rc 0
	expect_out_contains "9\\x1B[2J"
	expect_out_contains "gone\\x1B]0;pwned\\x07"
	if grep -q "$(printf "\033")" "$TEST_TMP/out" "$TEST_TMP/err"; then return 1; fi
	psql_q "$DB" "DELETE FROM tb_confiture WHERE slug = '\''t0150'\''"
'

test_done
