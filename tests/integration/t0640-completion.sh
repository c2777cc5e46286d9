#!/usr/bin/env bash
# t0640-completion.sh — terminal habits: `confiture completion
# bash|zsh|fish` from the command tables (checked by running the scripts in
# real shells where they are installed), progress lines on a terminal
# only (replay, dump load, clone), and a URL of a foreign scheme reported without its
# userinfo.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

# Completions bash offers for the words "$@" (the last one is completed).
bash_complete()
{
	bash -c '
		source "$1"
		shift
		COMP_WORDS=(confiture "$@")
		COMP_CWORD=$#
		_confiture
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$TEST_TMP/confiture.bash" "$@"
}

test_expect_success 'bash: commands, subcommands and options from the tables' '
	run_cf completion bash
	expect_rc 0
	cp "$TEST_TMP/out" "$TEST_TMP/confiture.bash"
	bash -n "$TEST_TMP/confiture.bash"
	expect_eq "cache completion init migrate server" "$(bash_complete "" | grep -v "^-" | sort | tr "\n" " " | sed "s/ $//")"
	expect_eq "preflight" "$(bash_complete migrate pre)"
	bash_complete migrate preflight --re | grep -x -- --report >/dev/null
	bash_complete migrate up --out | grep -x -- --out-of-order >/dev/null
	bash_complete migrate status --for | grep -x -- --format >/dev/null
	expect_eq "clear" "$(bash_complete cache cl)"
	expect_eq "zsh" "$(bash_complete completion z)"
	# an option added to a command shows up without touching completion
	for opt in $("$CONFITURE" migrate down --help | grep -oE -- "--[a-z-]+" | sort -u); do
		bash_complete migrate down -- | grep -x -- "$opt" >/dev/null || { echo "missing $opt" >&2; return 1; }
	done
'

test_expect_success 'zsh and fish scripts are valid where those shells exist' '
	run_cf completion zsh
	expect_rc 0
	expect_out_contains "#compdef confiture"
	expect_out_contains "complete -F _confiture confiture"
	if command -v zsh >/dev/null; then zsh -n "$TEST_TMP/out"; fi
	run_cf completion fish
	expect_rc 0
	expect_out_contains "complete -c confiture -n '"'"'test \"(__confiture_path)\" = \"migrate\"'"'"' -a '"'"'preflight'"'"'"
	expect_out_contains "= \"migrate up\"'"'"' -l '"'"'out-of-order'"'"'"
	if command -v fish >/dev/null; then fish -n "$TEST_TMP/out"; fi
'

test_expect_success 'completion: a missing or unknown shell is a usage error' '
	run_cf completion
	expect_rc 2
	expect_err_contains "missing shell"
	run_cf completion tcsh
	expect_rc 2
	expect_err_contains "unknown shell '"'"'tcsh'"'"'"
	run_cf completion --help
	expect_rc 0
'

test_expect_success 'preflight shows replay progress on a terminal only' '
	command -v script >/dev/null
	db=$(new_db t0640)
	new_project
	for v in 1 2 3; do
		echo "CREATE TABLE t0640_$v (id int);" >db/migrations/00${v}_t$v.up.sql
	done
	url=$(db_url "$db")
	script -qec "\"$CONFITURE\" migrate preflight --against \"$url\"" /dev/null >tty.out || :
	grep -q "replaying 1/3  001_t1" tty.out
	grep -q "replaying 3/3  003_t3" tty.out
	grep -q "All 3 migrations passed" tty.out
	script -qec "\"$CONFITURE\" migrate preflight --against \"$url\" --format json" /dev/null >tty.out || :
	if grep -q "replaying" tty.out; then return 1; fi
	run_cf migrate preflight --against "$url"
	expect_rc 0
	expect_err_not_contains "replaying"
	expect_out_not_contains "replaying"
'

test_expect_success 'a dump load and a clone show progress on a terminal' '
	command -v script >/dev/null
	new_project
	echo "CREATE TABLE t0640_new (id int);" >db/migrations/001_new.up.sql
	for i in 1 2 3 4 5; do
		echo "CREATE TABLE public.t0640_d$i (id int);"
	done >dump.sql
	srv=$(db_url postgres)
	script -qec "\"$CONFITURE\" migrate preflight --from-dump dump.sql --server \"$srv\" --no-cache --cache-dir cache" /dev/null >tty.out || :
	grep -Eq "loading dump [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B \([0-9]+%\)  [0-9]+ statements?  [0-9.]+ s" tty.out
	grep -Eq "cloning database [a-z0-9_\"]+ \.\.\. done [0-9.]+ s" tty.out
	grep -q "All 1 migration passed" tty.out
	db=$(new_db t0640c)
	url=$(db_url "$db")
	script -qec "\"$CONFITURE\" migrate preflight --against \"$url\" --mode clone" /dev/null >tty.out || :
	grep -Eq "cloning database $db \.\.\. done [0-9.]+ s" tty.out
'

test_expect_success 'no load or clone progress in JSON, CI formats or a pipe' '
	command -v script >/dev/null
	new_project
	echo "CREATE TABLE t0640_new (id int);" >db/migrations/001_new.up.sql
	echo "CREATE TABLE public.t0640_d (id int);" >dump.sql
	srv=$(db_url postgres)
	for f in json github junit sarif markdown; do
		script -qec "\"$CONFITURE\" migrate preflight --from-dump dump.sql --server \"$srv\" --no-cache --cache-dir cache --format $f" /dev/null >tty.out || :
		if grep -Eq "loading dump|cloning database" tty.out; then return 1; fi
	done
	run_cf migrate preflight --from-dump dump.sql --server "$srv" --no-cache --cache-dir cache
	expect_rc 0
	expect_err_not_contains "loading dump"
	expect_err_not_contains "cloning database"
	expect_out_not_contains "loading dump"
	expect_out_not_contains "cloning database"
'

test_expect_success 'a URL of another scheme is reported without its userinfo' '
	new_project
	for url in "mysql://admin:s3cr3t@db.example/x" "http://tok3n@db.example/x" \
		"redis://u:pa/ss@db.example/x" "mysql://admin:s3cr3t@db.example/x?password=q9"; do
		run_cf migrate status --database-url "$url"
		expect_rc 2
		expect_err_contains "invalid database URL"
		expect_err_not_contains "admin"
		expect_err_not_contains "s3cr3t"
		expect_err_not_contains "tok3n"
		expect_err_not_contains "pa/ss"
		expect_err_not_contains "q9"
		expect_err_contains "db.example/x"
	done
'

test_done
