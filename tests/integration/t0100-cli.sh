#!/usr/bin/env bash
# t0100-cli.sh — the command line itself: --version, --help on every
# command, usage errors (exit 2, message on stderr, nothing on stdout, the
# database untouched), environment selection errors and colour.
. "$(dirname "$0")/../lib/tap.sh"

DB=$(new_db t0100_cli) || exit 1
unset CONFITURE_DATABASE_URL NO_COLOR

# A project whose database must stay untouched by every usage error.
mkproject()
{
	new_project "$DB"
	printf 'CREATE TABLE t0100_a (id int);\n' >db/migrations/001_a.up.sql
}

# Fails when anything reached the database: no tracking table, no table.
expect_db_untouched()
{
	expect_eq 0 "$(psql_q "$DB" "SELECT count(*) FROM pg_class WHERE relname IN ('tb_confiture', 't0100_a')")" \
		"tables created in $DB"
}

test_expect_success '--version prints the version, the parser grammar and libpq on stdout' '
	run_cf --version
	expect_rc 0
	expect_out_matches "^confiture [0-9]+\.[0-9]+\.[0-9]+$"
	expect_out_matches "^parser: PostgreSQL 15\.[0-9]+ grammar \(libpg_query\)$"
	expect_out_matches "^libpq: [0-9]+\.[0-9]+$"
	expect_eq 3 "$(wc -l <"$TEST_TMP/out")" "lines of --version"
	expect_err_empty
	run_cf -V
	expect_rc 0
	expect_out_matches "^confiture [0-9]+\.[0-9]+\.[0-9]+$"
'

test_expect_success 'confiture --help lists the commands and exit codes' '
	for h in --help -h; do
		run_cf $h
		expect_rc 0
		expect_out_matches "^usage: confiture "
		expect_out_matches "^  init "
		expect_out_matches "^  migrate "
		expect_out_contains "exit codes: 0 success, 1"
		expect_err_empty
	done
'

test_expect_success '--help on every command and subcommand: usage on stdout, exit 0' '
	mkproject
	for cmd in "init" "migrate status" "migrate up" "migrate down" \
		"migrate baseline" "migrate generate"; do
		for h in --help -h; do
			run_cf $cmd $h
			expect_rc 0
			expect_out_matches "^usage: confiture $cmd( |$)"
			expect_out_contains "-h, --help"
			expect_err_empty
		done
	done
	run_cf migrate --help
	expect_rc 0
	expect_out_matches "^usage: confiture migrate <subcommand>"
	for sub in status up down baseline generate; do
		expect_out_matches "^  $sub "
	done
	expect_err_empty
	test ! -e db/migrations/*help*
	expect_db_untouched
'

test_expect_success 'every command listed by --help has its own --help (exit 0, stdout)' '
	mkproject
	run_cf --help
	cmds=$(sed -n "/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p" "$TEST_TMP/out")
	test -n "$cmds"
	run_cf migrate --help
	subs=$(sed -n "/^subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p" "$TEST_TMP/out")
	echo "$subs" | grep -x preflight >/dev/null || echo "$subs" | grep -x generate >/dev/null
	n=0
	for c in $cmds; do
		run_cf $c --help
		expect_rc 0
		expect_out_matches "^usage: confiture $c( |$)"
		expect_err_empty
		n=$((n + 1))
	done
	for c in $subs; do
		run_cf migrate $c --help
		expect_rc 0
		expect_out_matches "^usage: confiture migrate $c( |$)"
		expect_err_empty
		n=$((n + 1))
	done
	test "$n" -ge 7
	expect_db_untouched
'

test_expect_success 'subcommand help documents its options' '
	run_cf migrate up --help
	for o in --env --config --database-url --migrations-dir --target \
		--dry-run --on-checksum-mismatch --format; do
		expect_out_contains "$o"
	done
	run_cf migrate down --help
	expect_out_contains "-n, --steps N"
	run_cf migrate baseline --help
	expect_out_contains "--through VERSION"
	run_cf migrate status --help
	expect_out_contains "-f, --format FORMAT"
'

test_expect_success '--help wins over other arguments and touches nothing' '
	mkproject
	run_cf migrate up --env local --help
	expect_rc 0
	expect_out_matches "^usage: confiture migrate up"
	expect_db_untouched
'

test_expect_success 'no command: usage on stderr, exit 2' '
	run_cf
	expect_rc 2
	expect_out_empty
	expect_err_contains "usage: confiture"
	run_cf migrate
	expect_rc 2
	expect_out_empty
	expect_err_contains "usage: confiture migrate <subcommand>"
'

test_expect_success 'unknown command, subcommand and global option: exit 2' '
	run_cf frobnicate
	expect_rc 2
	expect_out_empty
	expect_err_contains "unknown command '\''frobnicate'\''"
	run_cf migrate frobnicate
	expect_rc 2
	expect_out_empty
	expect_err_contains "unknown subcommand '\''migrate frobnicate'\''"
	run_cf --frobnicate migrate status
	expect_rc 2
	expect_out_empty
	expect_err_contains "unknown option '\''--frobnicate'\''"
'

test_expect_success 'unknown option of every subcommand: exit 2 with a pointer to --help' '
	mkproject
	for cmd in "init" "migrate status" "migrate up" "migrate down" \
		"migrate baseline" "migrate generate"; do
		run_cf $cmd --no-such-option --env local
		expect_rc 2
		expect_out_empty
		expect_err_contains "error: unknown option '\''--no-such-option'\''"
		expect_err_contains "hint: see '\''confiture $cmd --help'\''"
	done
	run_cf migrate up --env local -Z
	expect_rc 2
	expect_err_contains "unknown option '\''-Z'\''"
	expect_db_untouched
'

test_expect_success 'bad option values: exit 2, nothing applied' '
	mkproject
	run_cf migrate up --env local --target
	expect_rc 2
	expect_err_contains "option '\''--target'\'' requires a value"
	run_cf migrate up --env local --format xml
	expect_rc 2
	expect_err_contains "invalid value '\''xml'\'' for option '\''--format'\''"
	expect_err_contains "text json"
	run_cf migrate up --env local --on-checksum-mismatch=maybe
	expect_rc 2
	expect_err_contains "fail warn ignore"
	run_cf migrate down --env local -n abc
	expect_rc 2
	expect_err_contains "expects a non-negative integer"
	run_cf migrate down --env local --steps=-1
	expect_rc 2
	run_cf migrate down --env local -n 0
	expect_rc 2
	expect_err_contains "must be at least 1"
	run_cf migrate up --env local --dry-run=yes
	expect_rc 2
	expect_err_contains "takes no value"
	run_cf --color=purple migrate up --env local
	expect_rc 2
	expect_err_contains "invalid value for --color: '\''purple'\''"
	run_cf migrate up --env local extra
	expect_rc 2
	expect_err_contains "unexpected argument '\''extra'\''"
	run_cf migrate status --env local extra
	expect_rc 2
	expect_err_contains "unexpected argument '\''extra'\''"
	run_cf migrate baseline --env local
	expect_rc 2
	expect_err_contains "missing --through VERSION"
	expect_out_empty
	expect_db_untouched
'

test_expect_success 'generate without a name, with two names or a bad name: exit 2' '
	mkproject
	run_cf migrate generate
	expect_rc 2
	expect_err_contains "missing migration NAME"
	run_cf migrate generate a b
	expect_rc 2
	expect_err_contains "too many arguments"
	run_cf migrate generate Bad-Name
	expect_rc 2
	expect_err_contains "invalid migration name '\''Bad-Name'\''"
	expect_eq "001_a.up.sql" "$(ls db/migrations)"
'

test_expect_success '--env together with -c: exit 2 before connecting' '
	mkproject
	run_cf migrate up --env local -c db/environments/local.yaml
	expect_rc 2
	expect_out_empty
	expect_err_contains "--env and --config cannot be used together"
	expect_err_contains "HINT:"
	run_cf migrate status -c db/environments/local.yaml --env local
	expect_rc 2
	expect_db_untouched
'

test_expect_success 'an environment name with a path in it is refused: exit 2' '
	mkproject
	mkdir -p db/x
	cp db/environments/local.yaml db/x.yaml
	for name in ../x ../environments/local /etc/passwd .hidden; do
		run_cf migrate up --env "$name"
		expect_rc 2
		expect_out_empty
		expect_err_contains "invalid environment name '\''$name'\''"
	done
	expect_db_untouched
'

test_expect_success 'a missing environment file: exit 2 with a hint naming the others' '
	mkproject
	run_cf migrate up --env production
	expect_rc 2
	expect_out_empty
	expect_err_contains "environment '\''production'\'' not found"
	expect_err_contains "db/environments/production.yaml"
	expect_err_matches "HINT: .*local"
	run_cf migrate up --env local.yaml
	expect_rc 2
	expect_err_contains "leave out the .yaml suffix"
	run_cf migrate up -c db/environments/nope.yaml
	expect_rc 2
	expect_err_contains "nope.yaml"
	expect_db_untouched
'

test_expect_success 'no database configured at all: exit 2 with a hint' '
	mkproject
	run_cf migrate status
	expect_rc 2
	expect_out_empty
	expect_err_contains "no database to connect to"
	expect_err_contains "CONFITURE_DATABASE_URL"
	expect_db_untouched
'

test_expect_success '--color=always colours stdout and stderr, --color=never does not' '
	mkproject
	esc=$(printf "\033")
	run_cf --color=always migrate status --env local
	expect_rc 1
	expect_out_contains "$esc"
	run_cf --color=always migrate status --env nope
	expect_rc 2
	expect_err_contains "$esc"
	run_cf --color=never migrate status --env local
	expect_rc 1
	expect_out_not_contains "$esc"
	run_cf --color=never migrate status --env nope
	expect_err_not_contains "$esc"
'

test_expect_success 'no colour when output is not a terminal (auto)' '
	mkproject
	esc=$(printf "\033")
	run_cf migrate status --env local
	expect_rc 1
	expect_out_contains "pending"
	expect_out_not_contains "$esc"
	run_cf migrate status --env nope
	expect_err_contains "not found"
	expect_err_not_contains "$esc"
'

test_expect_success 'on a terminal colour is on, and NO_COLOR turns it off' '
	mkproject
	command -v script >/dev/null
	esc=$(printf "\033")
	script -qec "\"$CONFITURE\" migrate status --env local" /dev/null >tty.out || :
	grep -q "pending" tty.out
	grep -qF "$esc" tty.out
	NO_COLOR=1 script -qec "\"$CONFITURE\" migrate status --env local" /dev/null >tty.out || :
	grep -q "pending" tty.out
	if grep -qF "$esc" tty.out; then return 1; fi
	NO_COLOR=1 script -qec "\"$CONFITURE\" migrate status --env nope" /dev/null >tty.out || :
	grep -q "not found" tty.out
	if grep -qF "$esc" tty.out; then return 1; fi
'

test_done
