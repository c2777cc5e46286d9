#!/usr/bin/env bash
# t0300-server.sh — the embedded PostgreSQL server (`confiture server
# start|stop|status`): first start creates the cluster, a second start
# attaches, psql reaches it through the printed URL, stop leaves nothing
# running, concurrent starts share one cluster, a half-done initdb is
# ignored, missing binaries are a configuration error (exit 2) with the
# install hint.  As root (CI) the cluster runs as 'postgres' under
# /var/tmp/confiture-postgres; as a regular user it lives in the cache dir.
# Start times are printed as TAP comments, never asserted.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_PG_BINDIR XDG_CACHE_HOME NO_COLOR
CACHE="$TEST_TMP/cache"
CACHE2="$TEST_TMP/cache2"
TIMES="$TEST_TMP/times"

# Prints the value of a "  key: value" line of `server status`.
status_field()
{
	sed -n "s/^  $1: *//p" "$TEST_TMP/out" | head -n 1
}

# Prints the data dir of the cluster of a cache dir (empty when none).
data_dir_of()
{
	"$CONFITURE" server status --cache-dir "$1" | sed -n 's/^  data dir: *//p' | head -n 1
}

# Stops the servers of our cache dirs and removes what lives outside
# $TEST_TMP (root's clusters, sockets in /tmp), however the script ends.
server_cleanup()
{
	local c d s

	for c in "$CACHE" "$CACHE2"; do
		[ -d "$c" ] || continue
		d=$(data_dir_of "$c")
		s=$("$CONFITURE" server status --cache-dir "$c" | sed -n 's/^  socket: *\([^ ]*\).*/\1/p')
		"$CONFITURE" server stop --cache-dir "$c" >/dev/null 2>&1
		case "$d" in
		/var/tmp/confiture-postgres/*/data) rm -rf "$(dirname "$(dirname "$d")")" ;;
		esac
		case "$s" in
		/tmp/confiture-*) rm -rf "$s" ;;
		esac
	done
}
trap 'rc=$?; server_cleanup; (exit $rc); tap_cleanup' EXIT

# Milliseconds since the epoch.
now_ms()
{
	date +%s%3N
}

test_expect_success 'server --help lists the subcommands' '
	run_cf server --help
	expect_rc 0
	expect_out_matches "^usage: confiture server "
	expect_out_matches "^  start "
	expect_out_matches "^  stop "
	expect_out_matches "^  status "
	for sub in start stop status; do
		run_cf server $sub --help
		expect_rc 0
		expect_out_matches "^usage: confiture server $sub"
		expect_out_contains "--cache-dir"
	done
	run_cf server frobnicate
	expect_rc 2
	expect_err_contains "unknown subcommand"
'

test_expect_success 'status before the first start: not running, exit 0' '
	run_cf server status --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "not running"
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "was not running"
'

test_expect_success 'first start creates the cluster and prints its URL' '
	t0=$(now_ms)
	run_cf server start --cache-dir "$CACHE"
	t1=$(now_ms)
	expect_rc 0
	expect_err_empty
	expect_out_matches "^postgresql:///postgres\?host=/[^&]+&port=[0-9]+&user=postgres$"
	echo "first start (initdb + start): $((t1 - t0)) ms" >>"$TIMES"
	d=$(data_dir_of "$CACHE")
	test -f "$d/PG_VERSION"
	test ! -e "$d.tmp"
'

test_expect_success 'psql connects through the URL; settings of a throwaway cluster' '
	run_cf server start --cache-dir "$CACHE"
	url=$CF_OUT
	expect_eq postgres "$(psql_q "$url" "SELECT current_user")"
	expect_eq on "$(psql_q "$url" "SHOW is_superuser")"
	expect_eq off "$(psql_q "$url" "SHOW fsync")"
	expect_eq off "$(psql_q "$url" "SHOW full_page_writes")"
	expect_eq 1024 "$(psql_q "$url" "SHOW max_locks_per_transaction")"
	expect_eq "" "$(psql_q "$url" "SHOW listen_addresses")"
	expect_eq UTF8 "$(psql_q "$url" "SHOW server_encoding")"
'

test_expect_success 'a second start attaches to the running server' '
	run_cf server status --cache-dir "$CACHE"
	expect_rc 0
	expect_out_matches "^embedded server [0-9]+: running \(pid [0-9]+\)"
	pid1=$(sed -n "s/.*running (pid \([0-9]*\)).*/\1/p" "$TEST_TMP/out")
	url1=$(status_field url)
	t0=$(now_ms)
	run_cf server start --cache-dir "$CACHE"
	t1=$(now_ms)
	expect_rc 0
	expect_eq "$url1" "$CF_OUT" "URL of the attached server"
	echo "attach to a running server: $((t1 - t0)) ms" >>"$TIMES"
	run_cf server status --cache-dir "$CACHE"
	expect_out_contains "running (pid $pid1)"
	expect_out_matches "^  version: +[0-9]+\.[0-9]+"
	expect_out_matches "^  socket: +/.* \(port [0-9]+\)$"
'

test_expect_success 'the server is private: socket only, directories mode 0700' '
	run_cf server status --cache-dir "$CACHE"
	d=$(status_field "data dir")
	s=$(status_field socket)
	s=${s%% *}
	expect_eq 700 "$(stat -c %a "$s")" "mode of the socket dir"
	expect_eq 700 "$(stat -c %a "$(dirname "$d")")" "mode of the cluster dir"
	expect_eq 700 "$(stat -c %a "$s/.s.PGSQL.5432")" "mode of the socket"
	pid=$(sed -n "s/.*running (pid \([0-9]*\)).*/\1/p" "$TEST_TMP/out")
	if [ "$(id -u)" -eq 0 ]; then
		expect_eq postgres "$(ps -o user= -p "$pid")" "server user as root"
		expect_eq postgres "$(stat -c %U "$d")" "owner of the data dir"
		case "$d" in /var/tmp/confiture-postgres/*) ;; *) echo "root cluster in $d" >&2; false ;; esac
	else
		expect_eq "$(id -un)" "$(ps -o user= -p "$pid")" "server user"
		expect_eq "$CACHE/servers" "$(dirname "$(dirname "$d")")"
	fi
'

test_expect_success 'stop stops it and leaves nothing running' '
	d=$(data_dir_of "$CACHE")
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "stopped the embedded server"
	if pgrep -f -- "-D $d -c" >/dev/null; then
		pgrep -af -- "-D $d -c" >&2
		false
	fi
	test ! -e "$d/postmaster.pid"
	run_cf server status --cache-dir "$CACHE"
	expect_out_contains "not running"
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
	expect_out_contains "was not running"
'

test_expect_success 'warm start of the existing cluster (no initdb), then stop' '
	d=$(data_dir_of "$CACHE")
	before=$(stat -c %Y "$d/PG_VERSION")
	t0=$(now_ms)
	run_cf server start --cache-dir "$CACHE"
	t1=$(now_ms)
	expect_rc 0
	echo "warm start of the existing cluster: $((t1 - t0)) ms" >>"$TIMES"
	expect_eq "$before" "$(stat -c %Y "$d/PG_VERSION")" "PG_VERSION untouched"
	expect_eq 1 "$(psql_q "$CF_OUT" "SELECT 1")"
	run_cf server stop --cache-dir "$CACHE"
	expect_out_contains "stopped the embedded server"
'

test_expect_success 'an interrupted initdb (data.tmp left, no data) is redone' '
	d=$(data_dir_of "$CACHE")
	rm -rf "$d"
	mkdir "$d.tmp"
	echo junk >"$d.tmp/PG_VERSION"
	# as initdb would have left it: owned by the server user
	chown -R --reference="$(dirname "$d")" "$d.tmp"
	run_cf server start --cache-dir "$CACHE"
	expect_rc 0
	test ! -e "$d.tmp"
	expect_eq 1 "$(psql_q "$CF_OUT" "SELECT 1")"
	run_cf server stop --cache-dir "$CACHE"
	expect_out_contains "stopped the embedded server"
'

test_expect_success 'concurrent first starts share one cluster' '
	for i in 1 2 3; do
		"$CONFITURE" server start --cache-dir "$CACHE2" >"$TEST_TMP/par$i.out" 2>&1 &
	done
	wait
	for i in 1 2 3; do
		head -n 1 "$TEST_TMP/par$i.out" | grep -q "^postgresql:///" || { cat "$TEST_TMP/par$i.out" >&2; return 1; }
	done
	expect_eq "$(cat "$TEST_TMP/par1.out")" "$(cat "$TEST_TMP/par2.out")"
	expect_eq "$(cat "$TEST_TMP/par1.out")" "$(cat "$TEST_TMP/par3.out")"
	d=$(data_dir_of "$CACHE2")
	expect_eq 1 "$(pgrep -fc -- "-D $d -c")" "postmasters on $d"
	run_cf server stop --cache-dir "$CACHE2"
	expect_out_contains "stopped the embedded server"
	expect_eq 0 "$(pgrep -fc -- "-D $d -c" || true)" "postmasters after stop"
'

test_expect_success 'missing server binaries: exit 2 with the install hint' '
	mkdir -p "$TEST_TMP/nobin"
	CONFITURE_PG_BINDIR="$TEST_TMP/nobin" run_cf server start --cache-dir "$TEST_TMP/cache3" --major 15
	expect_rc 2
	expect_out_empty
	expect_err_contains "PostgreSQL 15 server binaries not found"
	expect_err_contains "$TEST_TMP/nobin"
	expect_err_contains "install them: sudo apt-get install postgresql-15 (Debian/Ubuntu), or pass --server URL to use an existing server"
	run_cf server start --cache-dir "$TEST_TMP/cache3" --bindir "$TEST_TMP/nobin"
	expect_rc 2
	expect_err_contains "PostgreSQL server binaries not found"
	run_cf server start --cache-dir "$TEST_TMP/cache3" --major 99
	expect_rc 2
	expect_err_contains "PostgreSQL 99 server binaries not found"
	expect_err_contains "/usr/lib/postgresql/99/bin"
	expect_err_contains "sudo apt-get install postgresql-99"
'

# As root, also run as a regular user ('postgres'): the cluster then lives
# in the cache dir, and a cache path too long for a socket moves the socket
# to /tmp.
test_expect_success 'as a regular user the cluster lives in the cache dir' '
	if [ "$(id -u)" -eq 0 ]; then
		dir=$(mktemp -d /tmp/cf-t0300-user.XXXXXX)
		chown postgres: "$dir"
		as_user() { (cd "$dir" && runuser -u postgres -- "$@"); }
		uid=$(id -u postgres)
		runuser -u postgres -- test -x "$CONFITURE" || { echo "postgres cannot run $CONFITURE: skipped"; rm -rf "$dir"; return 0; }
	else
		dir=$(mktemp -d "$TEST_TMP/user.XXXXXX")
		as_user() { "$@"; }
		uid=$(id -u)
	fi
	long="$dir/$(printf "d%.0s" $(seq 1 90))"
	rc=0
	(
		set -e
		url=$(as_user "$CONFITURE" server start --cache-dir "$long")
		ls "$long"/servers/*/data/PG_VERSION >/dev/null
		case "$url" in *"host=/tmp/confiture-$uid-"*) ;; *) echo "socket not moved to /tmp: $url" >&2; false ;; esac
		test "$(as_user psql -XAtq "$url" -c "SELECT 1")" = 1
		as_user "$CONFITURE" server stop --cache-dir "$long" | grep -q "stopped the embedded server"
		s=${url#*host=}
		rm -rf "${s%%&*}"
	) || rc=$?
	as_user "$CONFITURE" server stop --cache-dir "$long" >/dev/null 2>&1 || true
	rm -rf "$dir"
	return $rc
'

if [ -f "$TIMES" ]; then
	sed 's/^/# /' "$TIMES"
fi
test_done
