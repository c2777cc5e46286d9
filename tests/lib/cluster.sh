# cluster.sh — start and stop a throwaway PostgreSQL 15 cluster for tests.
#
# Source this file, then:
#
#	cluster_start		# initdb + start; exports PGHOST PGPORT PGUSER
#				# PGDATABASE, CF_TEST_PGDIR, CF_TEST_PGDATA,
#				# CF_TEST_PGLOG, CF_TEST_PGBIN
#	...
#	cluster_stop		# immediate shutdown, removes everything
#
# The cluster listens on a Unix socket only, in its own temporary directory,
# so it never collides with another server on the machine.  Durability is
# switched off (fsync, full_page_writes, synchronous_commit) because the data
# is thrown away.  initdb refuses to run as root: as root the cluster runs as
# the 'postgres' system user (created by the postgresql-common package);
# otherwise it runs as the current user.
#
# Set PG_BINDIR to use other server binaries; by default the PostgreSQL 15
# ones are used.

# Prints the directory holding initdb, pg_ctl and postgres, or fails.
cluster_find_bindir()
{
	local d

	for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin \
		"$(pg_config --bindir 2>/dev/null)"; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	echo "cluster: cannot find the PostgreSQL 15 server binaries" >&2
	echo "hint: run scripts/install-deps, or set PG_BINDIR" >&2
	return 1
}

# Runs a command as the user that owns the cluster, from the cluster dir
# (root's cwd may not be readable by 'postgres').
cluster_as_owner()
{
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$CF_TEST_PGDIR" && runuser -u postgres -- "$@")
	else
		(cd "$CF_TEST_PGDIR" && "$@")
	fi
}

# Creates, configures and starts the cluster; see the header for what it
# exports.  Returns non-zero (after printing the server log) on failure.
cluster_start()
{
	local bindir dir port conf

	bindir=$(cluster_find_bindir) || return 1
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "cluster: running as root but there is no 'postgres' user" >&2
		echo "hint: install postgresql-15 (scripts/install-deps)" >&2
		return 1
	fi

	dir=$(mktemp -d "${TMPDIR:-/tmp}/cf-pg.XXXXXX") || return 1
	# As root, the server runs as 'postgres': it must be able to reach the
	# directory.  A TMPDIR it cannot traverse falls back to /tmp.
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir" && chmod 755 "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			rm -rf "$dir"
			dir=$(mktemp -d /tmp/cf-pg.XXXXXX) || return 1
			chown postgres: "$dir" && chmod 755 "$dir"
		fi
	fi
	export CF_TEST_PGDIR="$dir"
	export CF_TEST_PGDATA="$dir/data"
	export CF_TEST_PGLOG="$dir/postgres.log"
	export CF_TEST_PGBIN="$bindir"

	if ! cluster_as_owner "$bindir/initdb" -D "$CF_TEST_PGDATA" -A trust \
		-U postgres -E UTF8 --locale=C --no-sync \
		>"$dir/initdb.log" 2>&1; then
		echo "cluster: initdb failed:" >&2
		sed 's/^/  /' "$dir/initdb.log" >&2
		return 1
	fi

	# Settings go into postgresql.conf rather than on pg_ctl's -o, which
	# pg_ctl passes through /bin/sh (quoting trouble with odd paths).
	conf="$CF_TEST_PGDATA/postgresql.conf"
	cluster_as_owner tee -a "$conf" >/dev/null <<EOF

# --- throwaway test cluster (tests/lib/cluster.sh) ---
listen_addresses = ''
unix_socket_directories = '${dir//\'/\'\'}'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 100
max_locks_per_transaction = 256
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
EOF

	# With a private socket directory any port is free; a port derived
	# from the pid only makes the socket name easy to tell apart.  Retry
	# a couple of times in case of a shared-memory key clash.
	port=$((54000 + $$ % 1000))
	for _ in 1 2 3; do
		if cluster_as_owner "$bindir/pg_ctl" -D "$CF_TEST_PGDATA" \
			-l "$CF_TEST_PGLOG" -o "-p $port" -w -t 60 -s start \
			>>"$dir/pg_ctl.log" 2>&1; then
			export PGHOST="$dir" PGPORT="$port" PGUSER=postgres
			export PGDATABASE=postgres
			# Variables that would send libpq elsewhere.
			unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS \
				PGSSLMODE PGREQUIRESSL PGTARGETSESSIONATTRS \
				PGPASSWORD PGPASSFILE
			return 0
		fi
		port=$((port + 1))
	done
	echo "cluster: cannot start the server in '$dir'" >&2
	sed 's/^/  /' "$dir/pg_ctl.log" "$CF_TEST_PGLOG" >&2 2>/dev/null
	return 1
}

# Stops the cluster (immediate mode: nothing to keep) and removes its
# directory.  Safe to call twice or when cluster_start failed half way.
cluster_stop()
{
	local dir="${CF_TEST_PGDIR:-}"

	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		cluster_as_owner "$CF_TEST_PGBIN/pg_ctl" -D "$dir/data" \
			-m immediate -w -s stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	unset CF_TEST_PGDIR CF_TEST_PGDATA CF_TEST_PGLOG
	return 0
}
