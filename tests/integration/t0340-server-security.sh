#!/usr/bin/env bash
# t0340-server-security.sh — the embedded server holds no secret of ours and
# trusts no file in its directories (issue 15): its processes see a minimal
# environment (checked in /proc and from SQL through COPY ... PROGRAM), a
# log or pid file swapped for a link is never printed, a socket directory
# another user made first neither blocks nor hijacks it, a run killed
# during a load is cleaned up by the next one, and the template cache
# checks its directory and never drops a database it did not make.
# As root (CI) the server runs as 'postgres'.
. "$(dirname "$0")/../lib/tap.sh"

unset XDG_CACHE_HOME CONFITURE_CACHE_MAX NO_COLOR CONFITURE_PG_BINDIR \
	MY_SECRET_TOKEN PGPASSWORD
CACHE="$TEST_TMP/cache"
TOKEN=tok-7f3a9c1e
PGPW=pw-91c2d4
SECRET="$TEST_TMP/secret"
echo "SECRET-LINE-5b8e" >"$SECRET"
chmod 600 "$SECRET"
mkdir -p "$TEST_TMP/mig" "$TEST_TMP/envmig" || exit 1
echo 'CREATE TABLE public.t0340_base (id int);' >"$TEST_TMP/base.sql"
echo 'ALTER TABLE public.t0340_base ADD COLUMN x int;' >"$TEST_TMP/mig/001_x.up.sql"

# Field of `server status` for a cache dir ("data dir", url, socket).
status_field()
{
	"$CONFITURE" server status --cache-dir "$1" 2>/dev/null |
		sed -n "s/^  $2: *//p" | head -n 1
}

# Pid of the running embedded server of a cache dir (empty when none).
server_pid()
{
	"$CONFITURE" server status --cache-dir "$1" 2>/dev/null |
		sed -n "s/.*running (pid \([0-9]*\)).*/\1/p" | head -n 1
}

# Stops the servers of our cache dirs and removes root's clusters.
security_cleanup()
{
	local c d

	for c in "$TEST_TMP"/cache*; do
		[ -d "$c" ] || continue
		d=$(status_field "$c" "data dir")
		"$CONFITURE" server stop --cache-dir "$c" >/dev/null 2>&1
		case "$d" in
		/var/tmp/confiture-postgres/*/data) rm -rf "$(dirname "$(dirname "$d")")" ;;
		esac
	done
}
trap 'rc=$?; security_cleanup; (exit $rc); tap_cleanup' EXIT

# FNV-1a (64 bits) of a string, as the socket fallback name used to be.
fnv1a()
{
	local s=$1 h=-3750763034362895579 i c

	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(((h ^ c) * 1099511628211))
	done
	printf '%016x' "$h"
}

test_expect_success 'the postmaster environment holds none of ours (/proc/<pid>/environ)' '
	env MY_SECRET_TOKEN=$TOKEN PGPASSWORD=$PGPW \
		"$CONFITURE" server start --cache-dir "$CACHE" >/dev/null
	pid=$(server_pid "$CACHE")
	test -n "$pid"
	tr "\0" "\n" </proc/$pid/environ >"$TEST_TMP/environ"
	cat "$TEST_TMP/environ"
	grep -q "^HOME=/" "$TEST_TMP/environ"
	grep -q "^PATH=" "$TEST_TMP/environ"
	! grep -e "$TOKEN" -e "$PGPW" -e MY_SECRET_TOKEN -e PGPASSWORD "$TEST_TMP/environ"
	if [ "$(id -u)" -eq 0 ]; then
		expect_eq "HOME=$(getent passwd postgres | cut -d: -f6)" \
			"$(grep "^HOME=" "$TEST_TMP/environ")" "HOME of the server user"
	fi
	"$CONFITURE" server stop --cache-dir "$CACHE" >/dev/null
'

test_expect_success 'COPY ... PROGRAM on the embedded server sees none of our environment' '
	# where the server user (postgres as root) may write
	mark=$(mktemp -d /tmp/cf-t0340-mark.XXXXXX)
	chmod 1777 "$mark"
	trap "rm -rf $mark" EXIT
	# clone mode refuses COPY ... PROGRAM in a migration (dropping the
	# clone cannot undo it), so the program runs from the dump, which
	# loads as the embedded server superuser too
	cp "$TEST_TMP/base.sql" "$TEST_TMP/envdump.sql"
	cat >>"$TEST_TMP/envdump.sql" <<-EOF
	CREATE TABLE t0340_env (line text);
	COPY t0340_env FROM PROGRAM '"'"'env'"'"';
	COPY (SELECT 1) TO PROGRAM '"'"'env > $mark/marker'"'"';
	DO \$\$ BEGIN RAISE EXCEPTION '"'"'env: %'"'"', (SELECT string_agg(line, '"'"' '"'"') FROM t0340_env); END \$\$;
	EOF
	export MY_SECRET_TOKEN=$TOKEN PGPASSWORD=$PGPW
	run_cf migrate preflight --migrations-dir "$TEST_TMP/envmig" \
		--from-dump "$TEST_TMP/envdump.sql" --cache-dir "$CACHE"
	unset MY_SECRET_TOKEN PGPASSWORD
	expect_rc 2
	expect_err_contains "HOME="
	expect_out_not_contains "$TOKEN"
	expect_out_not_contains "$PGPW"
	expect_err_not_contains "$TOKEN"
	expect_err_not_contains "$PGPW"
	grep -q "^HOME=" "$mark/marker"
	! grep -e "$TOKEN" -e "$PGPW" -e MY_SECRET_TOKEN -e PGPASSWORD "$mark/marker"
'

test_expect_success 'a log swapped for a link to a secret file is never printed' '
	"$CONFITURE" server start --cache-dir "$CACHE" >/dev/null
	d=$(status_field "$CACHE" "data dir")
	"$CONFITURE" server stop --cache-dir "$CACHE" >/dev/null
	base=$(dirname "$d")
	cp "$d/postgresql.conf" "$TEST_TMP/postgresql.conf.saved"
	restore() {
		rm -f "$base/postgres.log" "$d/postmaster.pid"
		cp "$TEST_TMP/postgresql.conf.saved" "$d/postgresql.conf"
	}
	trap restore EXIT
	echo "shared_buffers = bogus" >>"$d/postgresql.conf"
	rm -f "$base/postgres.log"
	ln -s "$SECRET" "$base/postgres.log"
	run_cf server start --cache-dir "$CACHE"
	expect_rc 2
	expect_err_contains "did not start"
	expect_err_not_contains "SECRET-LINE"
	# a hard link (made by root here) is not the log either
	rm -f "$base/postgres.log"
	ln "$SECRET" "$base/postgres.log"
	run_cf server start --cache-dir "$CACHE"
	expect_rc 2
	expect_err_not_contains "SECRET-LINE"
	# nor is a pid file swapped for a link
	rm -f "$base/postgres.log"
	ln -s "$SECRET" "$d/postmaster.pid"
	run_cf server status --cache-dir "$CACHE"
	expect_out_not_contains "SECRET-LINE"
	expect_err_not_contains "SECRET-LINE"
	restore
	run_cf server start --cache-dir "$CACHE"
	expect_rc 0
	run_cf server stop --cache-dir "$CACHE"
	expect_rc 0
'

test_expect_success 'the socket directory in /tmp cannot be taken first by another user' '
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root: no second user to run as, skipped"
		return 0
	fi
	runuser -u postgres -- test -x "$CONFITURE" || { echo "postgres cannot run $CONFITURE: skipped"; return 0; }
	dir=$(mktemp -d /tmp/cf-t0340-user.XXXXXX)
	chown postgres: "$dir"
	as_pg() { (cd "$dir" && runuser -u postgres -- "$@"); }
	long="$dir/$(printf "d%.0s" $(seq 1 90))"
	uid=$(id -u postgres)
	taken=
	trap "runuser -u postgres -- \"$CONFITURE\" server stop --cache-dir \"$long\" >/dev/null 2>&1; rm -rf \"$dir\" \"\$taken\"" EXIT
	as_pg "$CONFITURE" server start --cache-dir "$long" >/dev/null
	major=$(as_pg "$CONFITURE" server status --cache-dir "$long" | sed -n "s/^embedded server \([0-9]*\):.*/\1/p" | head -n 1)
	as_pg "$CONFITURE" server stop --cache-dir "$long" >/dev/null
	# what an attacker would make first: the old predictable name
	taken="/tmp/confiture-$uid-$(fnv1a "$long/servers/$major")"
	mkdir -p "$taken"
	chmod 755 "$taken"
	url=$(as_pg "$CONFITURE" server start --cache-dir "$long")
	s=${url#*host=}
	s=${s%%&*}
	echo "socket dir: $s (taken: $taken)"
	test "$s" != "$taken"
	case "$s" in /tmp/confiture-$uid-*) ;; *) false ;; esac
	expect_eq postgres "$(stat -c %U "$s")" "owner of the socket dir"
	expect_eq 700 "$(stat -c %a "$s")" "mode of the socket dir"
	expect_eq root "$(stat -c %U "$taken")" "the other user'"'"'s dir untouched"
	test -z "$(ls -A "$taken")"
	test "$(as_pg psql -XAtq "$url" -c "SELECT 1")" = 1
	as_pg "$CONFITURE" server stop --cache-dir "$long" | grep -q "stopped the embedded server"
	test ! -e "$s"
'

test_expect_success 'a load killed by SIGKILL is cleaned up by the next run' '
	C=$TEST_TMP/cache-kill
	echo "SELECT pg_sleep(120);" >"$TEST_TMP/sleep.sql"
	cat "$TEST_TMP/base.sql" >>"$TEST_TMP/sleep.sql"
	"$CONFITURE" migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/sleep.sql" --cache-dir "$C" >/dev/null 2>&1 &
	cf=$!
	# wait (no time asserted) until the load sleeps in the server
	url=
	for i in $(seq 1 600); do
		url=$(status_field "$C" url)
		if [ -n "$url" ] && [ "$(psql_q "$url" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '"'"'SELECT pg_sleep(120)%'"'"'" 2>/dev/null)" = 1 ]; then
			break
		fi
		sleep 0.1
	done
	kill -9 $cf
	wait $cf || true
	pid=$(server_pid "$C")
	test -n "$pid"
	stale=$(psql_q "$url" "SELECT datname FROM pg_database WHERE datname LIKE '"'"'cf_tpl_%_tmp_$cf'"'"'")
	test -n "$stale"
	run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/base.sql" --cache-dir "$C"
	expect_rc 0
	! kill -0 "$pid" 2>/dev/null
	test -z "$(server_pid "$C")"
	! ls "$C"/tmp/load-$cf-* 2>/dev/null
	url=$("$CONFITURE" server start --cache-dir "$C")
	expect_eq "" "$(psql_q "$url" "SELECT datname FROM pg_database WHERE datname = '"'"'$stale'"'"'")" "stale database dropped"
	"$CONFITURE" server stop --cache-dir "$C" >/dev/null
'

test_expect_success 'cache clear never drops a database the edited index names' '
	C=$TEST_TMP/cache-victim
	new_db t0340_victim >/dev/null
	new_db cf_tpl_0123456789abcdef >/dev/null
	run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/base.sql" --server "$(db_url postgres)" --cache-dir "$C"
	expect_rc 0
	python3 - "$C/templates.json" <<-\PYEOF
	import json, sys
	doc = json.load(open(sys.argv[1]))
	t = doc["templates"][0]
	for name in ("t0340_victim", "cf_tpl_0123456789abcdef"):
	    e = dict(t)
	    e["template"] = name
	    doc["templates"].append(e)
	json.dump(doc, open(sys.argv[1], "w"))
	PYEOF
	run_cf cache clear --cache-dir "$C"
	expect_rc 2
	expect_err_contains "refusing to drop database"
	expect_eq t0340_victim "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname = '"'"'t0340_victim'"'"'")"
	expect_eq cf_tpl_0123456789abcdef "$(psql_q postgres "SELECT datname FROM pg_database WHERE datname = '"'"'cf_tpl_0123456789abcdef'"'"'")"
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname ~ '"'"'^cf_tpl_'"'"' AND datname <> '"'"'cf_tpl_0123456789abcdef'"'"'")" "our template dropped"
	psql_q postgres "DROP DATABASE t0340_victim" >/dev/null
	psql_q postgres "DROP DATABASE cf_tpl_0123456789abcdef" >/dev/null
'

test_expect_success 'cache clear reconnects with the settings of the run that made the cache' '
	C=$TEST_TMP/cache-settings
	srv="$(db_url postgres)&options=-c%20default_transaction_read_only%3Doff&application_name=t0340"
	run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/base.sql" --server "$srv" --cache-dir "$C"
	expect_rc 0
	grep -q "default_transaction_read_only=off" "$C/templates.json"
	# a bare host/port connection would pick this up and fail to drop
	PGOPTIONS="-c default_transaction_read_only=on" run_cf cache clear --cache-dir "$C"
	expect_rc 0
	expect_eq 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname ~ '"'"'^cf_tpl_'"'"'")"
'

test_expect_success 'the cache directory must be ours and private; files in it are 0600' '
	C=$TEST_TMP/cache-files
	run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/base.sql" --server "$(db_url postgres)" --cache-dir "$C"
	expect_rc 0
	expect_eq 700 "$(stat -c %a "$C")" "mode of the cache dir"
	expect_eq 600 "$(stat -c %a "$C/templates.json")" "mode of the index"
	for d in tmp locks; do expect_eq 700 "$(stat -c %a "$C/$d")" "mode of $d"; done
	test -z "$(find "$C" -perm /o+rwx)"
	"$CONFITURE" cache clear --cache-dir "$C" >/dev/null
	# writable by others: refused, exit 2
	W=$(mktemp -d /tmp/cf-t0340-w.XXXXXX)
	trap "rm -rf $W" EXIT
	chmod 777 "$W"
	run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
		--from-dump "$TEST_TMP/base.sql" --server "$(db_url postgres)" --cache-dir "$W/c"
	expect_rc 2
	expect_err_contains "is not safe"
	test ! -e "$W/c"
	chmod 700 "$W"
	chmod 777 "$TEST_TMP/cache-files"
	run_cf cache list --cache-dir "$TEST_TMP/cache-files"
	expect_rc 2
	expect_err_contains "writable by group or others"
	chmod 700 "$TEST_TMP/cache-files"
	if [ "$(id -u)" -eq 0 ]; then
		# owned by another user, or reached through their link
		mkdir "$W/theirs"
		chown postgres: "$W/theirs"
		run_cf server start --cache-dir "$W/theirs"
		expect_rc 2
		expect_err_contains "belongs to another user"
		ln -s "$TEST_TMP" "$W/link"
		chown -h postgres: "$W/link"
		run_cf migrate preflight --migrations-dir "$TEST_TMP/mig" \
			--from-dump "$TEST_TMP/base.sql" --server "$(db_url postgres)" --cache-dir "$W/link/c"
		expect_rc 2
		expect_err_contains "symbolic link of another user"
		test ! -e "$TEST_TMP/c"
	fi
'

test_expect_success 'root: /var/tmp/confiture-postgres made first by another user blocks nothing' '
	if [ "$(id -u)" -ne 0 ] || ! unshare --mount true 2>/dev/null; then
		echo "needs root and a private mount namespace: skipped"
		return 0
	fi
	C=$TEST_TMP/cache-varroot
	# a /var/tmp of our own, so that other runs on this machine see nothing
	cat >"$TEST_TMP/varroot.sh" <<-EOF
	set -e
	trap "\"$CONFITURE\" server stop --cache-dir \"$C\" >/dev/null 2>&1" EXIT
	mount -t tmpfs tmpfs /var/tmp
	mkdir /var/tmp/confiture-postgres
	chown nobody /var/tmp/confiture-postgres
	"$CONFITURE" server start --cache-dir "$C" >"$TEST_TMP/url"
	"$CONFITURE" server status --cache-dir "$C" >"$TEST_TMP/status"
	"$CONFITURE" server start --cache-dir "$C" >"$TEST_TMP/url2"
	"$CONFITURE" server stop --cache-dir "$C"
	test -z "\$(ls -A /var/tmp/confiture-postgres)"
	stat -c %U /var/tmp/confiture-postgres >"$TEST_TMP/owner"
	"$CONFITURE" cache clear --cache-dir "$C"
	ls /var/tmp >"$TEST_TMP/left"
	EOF
	unshare --mount bash "$TEST_TMP/varroot.sh"
	cat "$TEST_TMP/status"
	grep -q "^  data dir: */var/tmp/confiture-postgres-[A-Za-z0-9]\{6\}/[0-9]*/data$" "$TEST_TMP/status"
	expect_eq "$(cat "$TEST_TMP/url")" "$(cat "$TEST_TMP/url2")" "the second start attaches"
	expect_eq nobody "$(cat "$TEST_TMP/owner")"
	expect_eq confiture-postgres "$(cat "$TEST_TMP/left")" "cache clear removed our directory"
'

test_expect_success 'root: CONFITURE_SERVER_USER runs the server as a user of its own' '
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root: the server runs as ourselves, skipped"
		return 0
	fi
	runuser -u nobody -- test -x "$CONFITURE" || { echo "nobody cannot run $CONFITURE: skipped"; return 0; }
	C=$TEST_TMP/cache-nobody
	export CONFITURE_SERVER_USER=nobody
	trap "\"$CONFITURE\" server stop --cache-dir \"$C\" >/dev/null 2>&1" EXIT
	run_cf server start --cache-dir "$C"
	expect_rc 0
	pid=$(server_pid "$C")
	expect_eq nobody "$(ps -o user= -p "$pid")" "server user"
	expect_eq "HOME=/nonexistent" "$(tr "\0" "\n" </proc/$pid/environ | grep "^HOME=")"
	expect_eq nobody "$(stat -c %U "$(status_field "$C" "data dir")")" "owner of the data dir"
	run_cf server stop --cache-dir "$C"
	expect_rc 0
	CONFITURE_SERVER_USER=no-such-user-t0340 run_cf server start --cache-dir "$TEST_TMP/cache-nouser"
	expect_rc 2
	expect_err_contains "no '"'"'no-such-user-t0340'"'"' system user"
	d=$(dirname "$(dirname "$(status_field "$C" "data dir")")")
	run_cf cache clear --cache-dir "$C"
	expect_rc 0
	test ! -e "$d"
'

test_done
