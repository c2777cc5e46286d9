/*
 * cache.c — provisioning a database that holds a schema dump, and the
 * template cache that makes repeat runs fast.
 *
 * A loaded dump becomes a template database named cf_tpl_<16 hex of key>
 * on the server (the embedded one, or --server).  The key is the SHA-256 of
 * "confiture-template-v1", the server's server_version_num, the load
 * options (keep_owners) and the SHA-256 of the dump's SQL without its
 * \restrict lines (dump.c).  The full key is also the template's COMMENT ON
 * DATABASE ("confiture template cache key=<key> ..."), which is what
 * a cache hit checks, so a lost or stale index never reuses a wrong
 * template.
 *
 * Cache directory (cf_cache_dir()):
 *   CACHEDIR.TAG        marks it as a cache (cf_cache_clear only empties a
 *                       tagged directory wholesale)
 *   lock                flock()ed exclusively around check / load /
 *                       publish / evict and by cf_cache_clear
 *   templates.json      the index: {"version": 1, "templates": [{template,
 *                       server, embedded, server_major, server_version_num,
 *                       key, dump_hash, keep_owners, source, created_at,
 *                       last_used_at, size_bytes, skipped_owner,
 *                       skipped_privilege}]}, rewritten atomically
 *   locks/<server id>-<template>.lock
 *                       flock()ed shared from cf_provision() until
 *                       cf_provisioned_release(), so eviction (which tries
 *                       an exclusive lock without waiting) never drops a
 *                       template another process is about to clone
 *   tmp/                filtered SQL and pg_restore output while loading
 *   dumps/              cf_dump_schema() output
 * "server" in the index is "embedded PostgreSQL <major>" or the key=value
 * host/port/user of a --server (never a password).
 *
 * A miss loads into cf_tpl_<hash>_tmp_<pid>, then renames it (the atomic
 * publish) and marks it IS_TEMPLATE; connections stay allowed, but nobody
 * stays connected.  After publishing, templates of that server beyond
 * CONFITURE_CACHE_MAX (default 3), least recently used first, are dropped
 * (on a --server only templates of this cache's index count); one that is
 * in use (55006, or its lock file held) is kept this time.
 * --no-cache loads into cf_oneoff_<pid>_<random>, dropped on release.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "db/db.h"
#include "provision/paths.h"
#include "provision/provision.h"
#include "provision/runas.h"

#define CACHE_MAX_DEFAULT 3
#define INDEX_VERSION 1
#define COMMENT_PREFIX "confiture template cache"

/* cf_provisioned plus what only this file sees. */
struct provisioned_priv {
	cf_provisioned pub; /* first: the caller's pointer */
	char *maint_url;    /* to drop a one-off database on release */
	int tpl_lock_fd;    /* shared flock on the template, or -1 */
};

/* Everything cf_provision() works with. */
struct prov_ctx {
	const cf_provision_options *opts;
	char *cache;
	char *tmp_dir;
	char *maint_url;    /* server URL for the maintenance database */
	const char *bindir; /* the embedded server's, or NULL */
	PGconn *conn;	    /* maintenance connection */
	int version_num;
	char *server_id; /* index key of the server */
	char *connect;	 /* --server: its settings without secrets */
	bool embedded;
	cf_dump *dump;
};

/* Creates the cache directory (checked: cf_dir_check()), its private
 * subdirectories and its tag. */
static int
ensure_cache_dir(const char *cache, cf_error **err)
{
	static const char tag[] =
		"Signature: 8a477f597d28d172789f06886806bc55\n"
		"# This file is a cache directory tag created by confiture.\n"
		"# Remove everything here with: confiture cache clear\n";
	char *p;
	int fd, rc = 0;

	if (cf_dir_check(cache, true, err) != 0)
		return -1;
	p = cf_asprintf("%s/CACHEDIR.TAG", cache);
	if ((fd = cf_create_private(p, NULL)) >= 0) {
		if (write(fd, tag, sizeof(tag) - 1) < 0)
			unlink(p);
		close(fd);
	}
	free(p);
	for (int i = 0; i < 2 && rc == 0; i++) {
		p = cf_path_join(cache, i == 0 ? "tmp" : "locks");
		rc = cf_private_subdir(p, err);
		free(p);
	}
	return rc;
}

/* Opens (creating) a lock file and flock()s it; returns the fd or -1.
 * With nonblock, -1 and errno EWOULDBLOCK when someone else holds it. */
static int
lock_file(const char *path, int op, cf_error **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO,
					   "cannot open lock file '%s'", path);

		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	while (flock(fd, op) < 0) {
		int saved = errno;

		if (saved == EINTR && !cf_cancel_requested())
			continue;
		close(fd);
		errno = saved;
		if (saved == EWOULDBLOCK)
			return -1;
		if (saved == EINTR)
			return cf_fail(
				err,
				cf_error_new(
					CF_ERR_CONFIG,
					"interrupted while waiting for the template cache lock"));
		{
			cf_error *e = cf_error_new(CF_ERR_IO,
						   "cannot lock '%s'", path);

			cf_error_set_detail(e, "%s", strerror(saved));
			return cf_fail(err, e);
		}
	}
	return fd;
}

/* The exclusive cache lock; fd or -1. */
static int
lock_cache(const char *cache, cf_error **err)
{
	char *p = cf_asprintf("%s/lock", cache);
	int fd = lock_file(p, LOCK_EX, err);

	free(p);
	return fd;
}

/* Path of the per-template lock file; caller frees. */
static char *
template_lock_path(const char *cache, const char *server_id, const char *tpl)
{
	char h[65];

	cf_sha256_hex(server_id, strlen(server_id), h);
	return cf_asprintf("%s/locks/%.12s-%s.lock", cache, h, tpl);
}

/* Current time as 2025-01-31T12:00:00.123Z; caller frees. */
static char *
now_iso(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return cf_asprintf("%s.%03ldZ", buf, ts.tv_nsec / 1000000);
}

/* CONFITURE_CACHE_MAX, or the default; at least 1. */
static int
cache_max(void)
{
	const char *s = getenv("CONFITURE_CACHE_MAX");
	char *end;
	long v;

	if (!s || !*s)
		return CACHE_MAX_DEFAULT;
	v = strtol(s, &end, 10);
	if (*end || end == s || v > 10000)
		return CACHE_MAX_DEFAULT;
	return v < 1 ? 1 : (int)v;
}

/* ------------------------------------------------------------------------
 * The index file
 * ------------------------------------------------------------------------ */

/* The "templates" array of the index (new reference; empty when there is
 * no index or it is unreadable: the server stays authoritative). */
static json_t *
index_load(const char *cache)
{
	char *p = cf_asprintf("%s/templates.json", cache);
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	json_t *doc = NULL, *arr;
	struct stat st;

	/* only a regular file of ours: never a link or a FIFO */
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid())
		doc = json_loadfd(fd, 0, NULL);
	if (fd >= 0)
		close(fd);
	free(p);
	arr = doc ? json_object_get(doc, "templates") : NULL;
	if (json_is_array(arr))
		json_incref(arr);
	else
		arr = json_array();
	json_decref(doc);
	return arr;
}

/* Writes the index atomically (temp file + rename). */
static int
index_save(const char *cache, json_t *templates, cf_error **err)
{
	char *p = cf_asprintf("%s/templates.json", cache);
	char *tmp = cf_asprintf("%s.%ld.tmp", p, (long)getpid());
	json_t *doc = json_pack("{s:i, s:O}", "version", INDEX_VERSION,
				"templates", templates);
	int rc = 0, fd;

	unlink(tmp); /* left by a killed run with our pid */
	fd = cf_create_private(tmp, NULL);
	if (fd >= 0 && doc &&
	    json_dumpfd(doc, fd, JSON_INDENT(2) | JSON_SORT_KEYS) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0 || close(fd) < 0 || rename(tmp, p) < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot write '%s'", p);

		cf_error_set_detail(e, "%s", strerror(errno));
		unlink(tmp);
		rc = cf_fail(err, e);
	}
	json_decref(doc);
	free(tmp);
	free(p);
	return rc;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Index of the entry for (server, template), or -1. */
static long
index_find(json_t *arr, const char *server_id, const char *tpl)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
	{
		if (strcmp(jstr(o, "server"), server_id) == 0 &&
		    strcmp(jstr(o, "template"), tpl) == 0)
			return (long)i;
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Server-side helpers
 * ------------------------------------------------------------------------ */

/* Runs sql; errors carry kind CF_ERR_CONFIG (server refused) or CONNECT. */
static int
exec_sql(PGconn *conn, const char *sql, cf_error **err)
{
	cf_error *e = NULL;

	if (cf_db_exec(conn, sql, &e) == 0)
		return 0;
	if (e->kind == CF_ERR_INTERNAL)
		e->kind = CF_ERR_CONFIG;
	return cf_fail(err, e);
}

/* Whether err carries SQLSTATE code. */
static bool
has_state(const cf_error *e, const char *code)
{
	return e && strcmp(e->sqlstate, code) == 0;
}

/* The names of our databases, as a regular expression for pg_database:
 * templates, half-loaded templates (pid) and --no-cache one-offs. */
#define TPL_NAME_RE "^cf_tpl_[0-9a-f]{16}$"
#define LOADING_NAME_RE \
	"^cf_(tpl_[0-9a-f]{16}_tmp_[0-9]+|oneoff_[0-9]+_[0-9a-f]{8})$"

/* Whether name has exactly the shape of a template name we make. */
static bool
is_template_name(const char *name)
{
	return strncmp(name, "cf_tpl_", 7) == 0 &&
	       strspn(name + 7, "0123456789abcdef") == 16 && name[23] == '\0';
}

/* Whether process pid is alive on this machine. */
static bool
pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* This machine's name, for the COMMENT of a database being loaded. */
static void
host_name(char buf[256])
{
	if (gethostname(buf, 256) < 0)
		snprintf(buf, 256, "unknown");
	buf[255] = '\0';
}

/*
 * Drops database name (a template: IS_TEMPLATE false first).  1 when it is
 * gone, 0 when it is in use (55006: put back as it was and skipped), -1 on
 * other errors.
 */
static int
drop_database(PGconn *conn, const char *name, bool was_template, cf_error **err)
{
	char *q = cf_quote_ident(name);
	char *sql;
	cf_error *e = NULL;
	int rc = 1;

	if (was_template) {
		sql = cf_asprintf("ALTER DATABASE %s WITH IS_TEMPLATE false",
				  q);
		if (exec_sql(conn, sql, &e) < 0 && !has_state(e, "3D000")) {
			free(sql);
			free(q);
			return cf_fail(err, e);
		}
		cf_error_free(e);
		e = NULL;
		free(sql);
	}
	sql = cf_asprintf("DROP DATABASE IF EXISTS %s", q);
	if (exec_sql(conn, sql, &e) < 0) {
		if (has_state(e, "55006")) {
			char *back = cf_asprintf(
				"ALTER DATABASE %s WITH IS_TEMPLATE %s", q,
				was_template ? "true" : "false");

			cf_error_free(e);
			exec_sql(conn, back, NULL);
			free(back);
			rc = 0;
		} else {
			rc = cf_fail(err, e);
		}
	}
	free(sql);
	free(q);
	return rc;
}

/*
 * drop_database() for a database that must be ours: it carries our COMMENT
 * (a name alone may be anyone's).  1 when gone (or it never existed), 0
 * in use, -1 on errors, and when it is not ours: then nothing is dropped.
 */
static int
drop_ours(PGconn *conn, const char *name, cf_error **err)
{
	const char *vals[1] = {name};
	cf_error *e = NULL;
	PGresult *res = cf_db_query(
		conn,
		"SELECT datistemplate, coalesce(shobj_description(oid, 'pg_database'), '') "
		"LIKE '" COMMENT_PREFIX
		"%' FROM pg_database WHERE datname = $1",
		1, vals, &e);
	bool was_template;

	if (!res)
		return cf_fail(err, e);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	was_template = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		PQclear(res);
		e = cf_error_new(CF_ERR_CONFIG,
				 "refusing to drop database '%s'", name);
		cf_error_set_detail(
			e,
			"it does not carry confiture's template cache comment");
		cf_error_set_hint(
			e,
			"if it is a confiture template, drop it by hand; check who edited the cache index");
		cf_error_set_code(e, "not-a-cached-template");
		return cf_fail(err, e);
	}
	PQclear(res);
	return drop_database(conn, name, was_template, err);
}

/*
 * Creates an empty database for a load, with our COMMENT naming this
 * process, so that a later run may drop it once this process is gone
 * (drop_stale_loads) and nothing else is ever dropped.
 */
static int
create_database(PGconn *conn, const char *name, cf_error **err)
{
	char *q = cf_quote_ident(name), *comment, *qc, *sql;
	char host[256];
	int rc;

	host_name(host);
	comment = cf_asprintf(COMMENT_PREFIX " loading pid=%ld host=%s",
			      (long)getpid(), host);
	qc = cf_quote_literal(comment);
	sql = cf_asprintf("CREATE DATABASE %s TEMPLATE template0", q);
	rc = exec_sql(conn, sql, err);
	if (rc == 0) {
		free(sql);
		sql = cf_asprintf("COMMENT ON DATABASE %s IS %s", q, qc);
		rc = exec_sql(conn, sql, err);
	}
	free(sql);
	free(qc);
	free(comment);
	free(q);
	return rc;
}

/*
 * Drops the databases that runs killed while loading left behind: ours by
 * name and COMMENT, loaded on this machine by a process that is gone.
 * Failures are left for the next run.
 */
static void
drop_stale_loads(PGconn *conn)
{
	char host[256];
	PGresult *res = cf_db_query(
		conn,
		"SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
		"WHERE datname ~ '" LOADING_NAME_RE "' "
		"AND coalesce(shobj_description(oid, 'pg_database'), '') LIKE '" COMMENT_PREFIX
		" loading %'",
		0, NULL, NULL);

	if (!res)
		return;
	host_name(host);
	for (int r = 0; r < PQntuples(res); r++) {
		const char *c = strstr(PQgetvalue(res, r, 1), " pid=");
		const char *h = strstr(PQgetvalue(res, r, 1), " host=");

		if (c && h && strcmp(h + 6, host) == 0 &&
		    !pid_alive(strtol(c + 5, NULL, 10)))
			drop_database(conn, PQgetvalue(res, r, 0), false, NULL);
	}
	PQclear(res);
}

/*
 * Removes the files of tmp_dir that runs killed while loading left: they
 * are named <what>-<pid>-... (dump.c's temporary names), pid gone.
 */
static void
remove_stale_files(const char *tmp_dir)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		const char *dash = strchr(de->d_name, '-');
		char *end, *p;
		long pid;
		struct stat st;

		if (!dash || !isdigit((unsigned char)dash[1]))
			continue;
		pid = strtol(dash + 1, &end, 10);
		if (*end != '-' || pid_alive(pid))
			continue;
		p = cf_path_join(tmp_dir, de->d_name);
		if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
			unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
}

/* A notice for p->notes. */
static void
add_note(cf_provisioned *p, cf_error *e)
{
	e->severity = CF_SEV_NOTICE;
	cf_error_list_add(&p->notes, e);
}

/* Notes what the filter left out. */
static void
note_skipped(cf_provisioned *p, const cf_dump *d, long owners, long privs)
{
	cf_error *e;

	if (owners + privs == 0) {
		if (d->format != CF_DUMP_PLAIN && !d->keep_owners) {
			e = cf_warning_new(
				"loaded dump '%s' with pg_restore --no-owner --no-privileges",
				d->path);
			cf_error_set_detail(
				e,
				"owners and privileges of the dump are not reproduced: roles it names need not exist");
			add_note(p, e);
		}
		return;
	}
	e = cf_warning_new(
		"skipped %ld ownership and %ld privilege statement%s of dump '%s'",
		owners, privs, owners + privs == 1 ? "" : "s", d->path);
	cf_error_set_detail(
		e,
		"like pg_restore --no-owner --no-privileges: ALTER ... OWNER TO, GRANT, REVOKE and ALTER DEFAULT PRIVILEGES were left out, so the roles they name need not exist on the server");
	add_note(p, e);
}

/*
 * Creates database name and loads the dump into it: in one transaction,
 * and again without one if the server runs out of lock slots.  On failure
 * the database is dropped.
 */
static int
load_into(struct prov_ctx *c, cf_provisioned *p, const char *name,
	  cf_dump_stats *st, cf_error **err)
{
	cf_error *e = NULL;
	int rc;

	if (create_database(c->conn, name, err) < 0)
		return -1;
	rc = cf_dump_load(c->dump, c->bindir, c->maint_url, name,
			  c->version_num, c->tmp_dir, true, st, c->opts, &e);
	if (rc < 0 && has_state(e, "53200")) {
		cf_error *n = cf_warning_new(
			"loaded dump '%s' statement by statement",
			c->dump->path);

		cf_error_set_detail(
			n,
			"in one transaction the server ran out of lock slots (max_locks_per_transaction)");
		add_note(p, n);
		cf_error_free(e);
		e = NULL;
		if (drop_database(c->conn, name, false, &e) < 0 ||
		    create_database(c->conn, name, &e) < 0)
			rc = -1;
		else
			rc = cf_dump_load(c->dump, c->bindir, c->maint_url,
					  name, c->version_num, c->tmp_dir,
					  false, st, c->opts, &e);
	}
	if (rc < 0) {
		drop_database(c->conn, name, false, NULL);
		cf_fail(err, e);
	}
	return rc;
}

/* pg_database_size of a database, or -1. */
static long long
database_size(PGconn *conn, const char *name)
{
	const char *vals[1] = {name};
	PGresult *res = cf_db_query(conn, "SELECT pg_database_size($1)", 1,
				    vals, NULL);
	long long v = -1;

	if (res && PQntuples(res) == 1)
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * Drops templates of this server beyond the cache size, least recently
 * used first, never keep_name, and forgets index entries whose template is
 * gone.  On the embedded server every template counts (an unindexed one
 * as the oldest); on a --server only those of this cache's index, since
 * other users' caches may share it.  Templates in use stay.  Failures are
 * notes, not errors.
 */
static void
evict(struct prov_ctx *c, cf_provisioned *p, json_t *idx, const char *keep_name)
{
	PGresult *res;
	struct cand {
		char *name;
		const char *last;
	} *cands = NULL;
	size_t n = 0, alloc = 0, i, total;
	int max = cache_max();
	json_t *o;

	res = cf_db_query(
		c->conn,
		"SELECT datname, datistemplate FROM pg_database "
		"WHERE datname ~ '" TPL_NAME_RE "' "
		"AND coalesce(shobj_description(oid, 'pg_database'), '') LIKE '" COMMENT_PREFIX
		"%'",
		0, NULL, NULL);
	if (!res)
		return;
	/* forget entries whose template is gone */
	for (i = json_array_size(idx); i-- > 0;) {
		bool found = false;

		o = json_array_get(idx, i);
		if (strcmp(jstr(o, "server"), c->server_id) != 0)
			continue;
		for (int r = 0; r < PQntuples(res); r++)
			if (strcmp(PQgetvalue(res, r, 0),
				   jstr(o, "template")) == 0)
				found = true;
		if (!found)
			json_array_remove(idx, i);
	}
	for (int r = 0; r < PQntuples(res); r++) {
		const char *name = PQgetvalue(res, r, 0);
		long k = index_find(idx, c->server_id, name);

		if (strcmp(name, keep_name) == 0)
			continue;
		/* on a shared server, only the templates of this cache */
		if (!c->embedded && k < 0)
			continue;
		CF_GROW(cands, alloc, n + 1);
		cands[n].name = cf_strdup(name);
		cands[n].last = k >= 0 ? jstr(json_array_get(idx, (size_t)k),
					      "last_used_at") :
					 "";
		n++;
	}
	PQclear(res);
	/* oldest first (insertion sort: a handful of entries) */
	for (i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && strcmp(cands[j - 1].last, cands[j].last) > 0;
		     j--) {
			struct cand t = cands[j];

			cands[j] = cands[j - 1];
			cands[j - 1] = t;
		}
	for (i = 0, total = n + 1; i < n && total > (size_t)max; i++) {
		char *lp = template_lock_path(c->cache, c->server_id,
					      cands[i].name);
		int fd = lock_file(lp, LOCK_EX | LOCK_NB, NULL);
		cf_error *e = NULL;
		int d;

		if (fd < 0) {
			free(lp);
			continue; /* in use by another process */
		}
		d = drop_database(c->conn, cands[i].name, true, &e);
		if (d == 1) {
			long k = index_find(idx, c->server_id, cands[i].name);

			if (k >= 0)
				json_array_remove(idx, (size_t)k);
			unlink(lp);
			total--;
		} else if (d < 0) {
			cf_error *note = cf_warning_new(
				"cannot evict cached template '%s'",
				cands[i].name);

			cf_error_set_detail(note, "%s", e->message);
			add_note(p, note);
			cf_error_free(e);
		}
		close(fd);
		free(lp);
	}
	for (i = 0; i < n; i++)
		free(cands[i].name);
	free(cands);
}

/* The URL for the server's maintenance database: server_url itself when
 * it names a database, else its "postgres" database. */
static int
maintenance_url(const char *server_url, char **out, cf_error **err)
{
	char *errmsg = NULL;
	PQconninfoOption *opts;
	bool has_db = false;

	if (cf_pq_load(err) < 0)
		return -1;
	opts = PQconninfoParse(server_url, &errmsg);
	PQfreemem(errmsg);
	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "dbname") == 0 && o->val &&
			    *o->val)
				has_db = true;
		PQconninfoFree(opts);
	}
	if (has_db) {
		*out = cf_strdup(server_url);
		return 0;
	}
	return cf_url_for_db(server_url, "postgres", out, err);
}

/* libpq prints notices on stderr by default; the library never prints. */
static void
quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* cf_db_connect() with notices silenced. */
static int
connect_quiet(const char *url, PGconn **conn, cf_error **err)
{
	if (cf_db_connect(url, NULL, conn, err) < 0)
		return -1;
	PQsetNoticeProcessor(*conn, quiet_notices, NULL);
	return 0;
}

/*
 * The settings of a connection URL as a key=value conninfo without its
 * secrets (password, sslpassword), which `cache clear` reconnects with
 * (sslmode and all); libpq's PGPASSWORD or ~/.pgpass gives the password
 * then.  Caller frees; "" when url does not parse.
 */
static char *
settings_without_secrets(const char *url)
{
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	cf_strbuf sb = CF_STRBUF_INIT;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->val && *o->val && strcmp(o->keyword, "password") != 0 &&
		    strcmp(o->keyword, "sslpassword") != 0)
			cf_conninfo_add(&sb, o->keyword, o->val);
	PQconninfoFree(opts);
	return cf_strbuf_detach(&sb);
}

/* Connects, reads the version and checks CREATEDB; sets c->server_id. */
static int
connect_server(struct prov_ctx *c, cf_error **err)
{
	PGresult *res;
	cf_error *e = NULL;

	if (connect_quiet(c->maint_url, &c->conn, err) < 0)
		return -1;
	res = cf_db_query(
		c->conn,
		"SELECT current_setting('server_version_num')::int, "
		"(SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user), "
		"current_user",
		0, NULL, &e);
	if (!res) {
		e->kind = CF_ERR_CONNECT;
		return cf_fail(err, e);
	}
	c->version_num = atoi(PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		char *red = cf_redact_url(c->maint_url);

		e = cf_error_new(CF_ERR_CONFIG,
				 "role '%s' cannot create databases on '%s'",
				 PQgetvalue(res, 0, 2), red);
		cf_error_set_detail(
			e,
			"a schema dump is loaded into a new template database, which needs the CREATEDB privilege");
		cf_error_set_hint(
			e,
			"ALTER ROLE %s CREATEDB, or use --server with a role that has it",
			PQgetvalue(res, 0, 2));
		free(red);
		PQclear(res);
		return cf_fail(err, e);
	}
	PQclear(res);
	if (c->embedded) {
		c->server_id = cf_asprintf("embedded PostgreSQL %d",
					   c->version_num / 10000);
	} else {
		cf_strbuf sb = CF_STRBUF_INIT;

		cf_conninfo_add(&sb, "host",
				PQhost(c->conn) ? PQhost(c->conn) : "");
		cf_conninfo_add(&sb, "port",
				PQport(c->conn) ? PQport(c->conn) : "");
		cf_conninfo_add(&sb, "user",
				PQuser(c->conn) ? PQuser(c->conn) : "");
		c->server_id = cf_strbuf_detach(&sb);
		c->connect = settings_without_secrets(c->maint_url);
	}
	return 0;
}

/* The cache key and the template name for it. */
static void
cache_key(const struct prov_ctx *c, char key[65], char **tpl)
{
	char *s = cf_asprintf(
		"confiture-template-v1\nserver_version_num=%d\nkeep_owners=%d\ndump=%s\n",
		c->version_num, c->opts->keep_owners ? 1 : 0, c->dump->hash);

	cf_sha256_hex(s, strlen(s), key);
	free(s);
	*tpl = cf_asprintf("cf_tpl_%.16s", key);
}

/* Whether template tpl exists with key in its comment; *exists tells
 * whether a database of that name exists at all. */
static int
template_matches(PGconn *conn, const char *tpl, const char *key, bool *exists,
		 bool *is_template, cf_error **err)
{
	const char *vals[1] = {tpl};
	PGresult *res;
	bool match = false;
	cf_error *e = NULL;

	res = cf_db_query(
		conn,
		"SELECT datistemplate, coalesce(shobj_description(oid, 'pg_database'), '') "
		"FROM pg_database WHERE datname = $1",
		1, vals, &e);
	if (!res) {
		e->kind = CF_ERR_CONNECT;
		return cf_fail(err, e);
	}
	*exists = PQntuples(res) == 1;
	*is_template = *exists && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (*exists)
		match = strstr(PQgetvalue(res, 0, 1), key) != NULL;
	PQclear(res);
	return match ? 1 : 0;
}

/*
 * Waits (up to 5 s) until no session is connected to database name: the
 * backend of a psql that just exited lingers for a moment, and RENAME and
 * CREATE DATABASE ... TEMPLATE need the database unused.
 */
static void
wait_unused(PGconn *conn, const char *name)
{
	const char *vals[1] = {name};

	for (int i = 0; i < 250; i++) {
		PGresult *res = cf_db_query(
			conn,
			"SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
			1, vals, NULL);
		bool busy = res && PQntuples(res) == 1 &&
			    atoi(PQgetvalue(res, 0, 0)) > 0;

		PQclear(res);
		if (!busy)
			return;
		PQclear(PQexec(conn, "SELECT pg_sleep(0.02)"));
	}
}

/* Renames the loaded database to tpl and marks it a template.  1 when
 * another process published tpl first (ours is dropped). */
static int
publish(struct prov_ctx *c, const char *tmp, const char *tpl, const char *key,
	cf_error **err)
{
	char *qt = cf_quote_ident(tmp), *qn = cf_quote_ident(tpl);
	char *comment = cf_asprintf(COMMENT_PREFIX " key=%s dump=%s", key,
				    c->dump->hash);
	char *qc = cf_quote_literal(comment);
	char *sql = cf_asprintf("ALTER DATABASE %s RENAME TO %s", qt, qn);
	cf_error *e = NULL;
	int rc = 0;

	wait_unused(c->conn, tmp);
	if (exec_sql(c->conn, sql, &e) < 0) {
		if (has_state(e, "42P04")) {
			cf_error_free(e);
			drop_database(c->conn, tmp, false, NULL);
			rc = 1;
		} else {
			rc = cf_fail(err, e);
		}
		goto done;
	}
	free(sql);
	sql = cf_asprintf(
		"ALTER DATABASE %s WITH IS_TEMPLATE true; COMMENT ON DATABASE %s IS %s",
		qn, qn, qc);
	rc = exec_sql(c->conn, sql, err);
done:
	free(sql);
	free(qc);
	free(comment);
	free(qn);
	free(qt);
	return rc;
}

/* A one-off database for --no-cache. */
static int
provision_oneoff(struct prov_ctx *c, struct provisioned_priv *pp,
		 cf_error **err)
{
	cf_provisioned *p = &pp->pub;
	unsigned int r = 0;
	cf_dump_stats st;
	double t0 = cf_now_ms();

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)time(NULL);
	p->template_name = cf_asprintf("cf_oneoff_%ld_%08x", (long)getpid(), r);
	if (load_into(c, p, p->template_name, &st, err) < 0)
		return -1;
	wait_unused(c->conn, p->template_name);
	p->load_ms = cf_now_ms() - t0;
	p->drop_template = true;
	note_skipped(p, c->dump, st.owner_stmts, st.privilege_stmts);
	return 0;
}

/* Reuses or makes the cached template (under the cache lock). */
static int
provision_cached(struct prov_ctx *c, struct provisioned_priv *pp,
		 cf_error **err)
{
	cf_provisioned *p = &pp->pub;
	char key[65], *tpl, *tmp = NULL, *now = now_iso(), *lp, *source;
	bool exists = false, is_tpl = false;
	int lock_fd, m;
	long k;
	json_t *idx = NULL, *entry;
	int rc = -1;

	cache_key(c, key, &tpl);
	p->template_name = tpl;
	if (!(source = realpath(c->opts->dump_path, NULL)))
		source = cf_strdup(c->opts->dump_path);
	if ((lock_fd = lock_cache(c->cache, err)) < 0) {
		free(source);
		free(now);
		return -1;
	}
	idx = index_load(c->cache);
	if ((m = template_matches(c->conn, tpl, key, &exists, &is_tpl, err)) <
	    0)
		goto out;
	if (m == 1) {
		p->cache_hit = true;
	} else {
		cf_dump_stats st;
		double t0 = cf_now_ms();

		if (exists && drop_ours(c->conn, tpl, err) != 1) {
			if (err && !*err) {
				cf_error *e = cf_error_new(
					CF_ERR_CONFIG,
					"cannot replace stale template '%s'",
					tpl);

				cf_error_set_detail(
					e, "it is in use by another session");
				cf_fail(err, e);
			}
			goto out;
		}
		tmp = cf_asprintf("%s_tmp_%ld", tpl, (long)getpid());
		if (drop_ours(c->conn, tmp, err) != 1 ||
		    load_into(c, p, tmp, &st, err) < 0)
			goto out;
		if ((m = publish(c, tmp, tpl, key, err)) < 0) {
			drop_database(c->conn, tmp, false, NULL);
			goto out;
		}
		p->cache_hit = m == 1;
		p->load_ms = m == 1 ? 0 : cf_now_ms() - t0;
		if ((k = index_find(idx, c->server_id, tpl)) >= 0)
			json_array_remove(idx, (size_t)k);
		entry = json_pack(
			"{s:s, s:s, s:b, s:i, s:i, s:s, s:s, s:b, s:s, s:s, s:I, s:I}",
			"template", tpl, "server", c->server_id, "embedded",
			c->embedded, "server_major", c->version_num / 10000,
			"server_version_num", c->version_num, "key", key,
			"dump_hash", c->dump->hash, "keep_owners",
			c->opts->keep_owners, "source", source, "created_at",
			now, "skipped_owner", (json_int_t)st.owner_stmts,
			"skipped_privilege", (json_int_t)st.privilege_stmts);
		json_array_append_new(idx, entry);
		if (c->connect)
			json_object_set_new(entry, "connect",
					    json_string(c->connect));
	}
	/* (re)build the entry of a template found on the server only */
	if ((k = index_find(idx, c->server_id, tpl)) < 0) {
		entry = json_pack(
			"{s:s, s:s, s:b, s:i, s:i, s:s, s:s, s:b, s:s, s:s}",
			"template", tpl, "server", c->server_id, "embedded",
			c->embedded, "server_major", c->version_num / 10000,
			"server_version_num", c->version_num, "key", key,
			"dump_hash", c->dump->hash, "keep_owners",
			c->opts->keep_owners, "source", source, "created_at",
			now);
		json_array_append_new(idx, entry);
		k = (long)json_array_size(idx) - 1;
	}
	entry = json_array_get(idx, (size_t)k);
	if (c->connect)
		json_object_set_new(entry, "connect", json_string(c->connect));
	json_object_set_new(entry, "last_used_at", json_string(now));
	json_object_set_new(entry, "size_bytes",
			    json_integer(database_size(c->conn, tpl)));
	note_skipped(p, c->dump,
		     (long)json_integer_value(
			     json_object_get(entry, "skipped_owner")),
		     (long)json_integer_value(
			     json_object_get(entry, "skipped_privilege")));
	/* hold the template against eviction until release */
	lp = template_lock_path(c->cache, c->server_id, tpl);
	pp->tpl_lock_fd = lock_file(lp, LOCK_SH, NULL);
	free(lp);
	evict(c, p, idx, tpl);
	rc = index_save(c->cache, idx, err);
out:
	json_decref(idx);
	close(lock_fd);
	free(source);
	free(tmp);
	free(now);
	return rc;
}

/* Fails early, before any server starts, when the dump cannot be read
 * (missing, a FIFO, a device, a symbolic link); cf_dump_open() reads it
 * later. */
static int
check_dump_exists(const char *path, cf_error **err)
{
	bool is_dir;

	return cf_dump_check(path, NULL, &is_dir, err);
}

int
cf_provision(const cf_provision_options *opts, cf_provisioned **out,
	     cf_error **err)
{
	struct prov_ctx c = {0};
	struct provisioned_priv *pp;
	cf_provisioned *p;
	int rc = -1;

	*out = NULL;
	if (!opts || !opts->dump_path)
		return cf_fail(
			err, cf_error_new(CF_ERR_USAGE,
					  "no schema dump to provision from"));
	if (check_dump_exists(opts->dump_path, err) < 0)
		return -1;
	pp = cf_new(struct provisioned_priv);
	pp->tpl_lock_fd = -1;
	p = &pp->pub;
	cf_error_list_init(&p->notes);
	p->keep_server = opts->keep_server;
	c.opts = opts;
	c.cache = cf_cache_dir(opts->cache_dir);
	c.tmp_dir = cf_asprintf("%s/tmp", c.cache);
	if (ensure_cache_dir(c.cache, err) < 0)
		goto out;
	remove_stale_files(c.tmp_dir);
	if (opts->server_url) {
		if (maintenance_url(opts->server_url, &c.maint_url, err) < 0)
			goto out;
	} else {
		/* The dump's own major when its binaries are installed, so
		 * the replay sees the server production runs; else the
		 * newest installed, with a note. */
		int major = cf_dump_source_major(opts->dump_path);
		cf_server_options so = {c.cache, major, NULL};
		double t0 = cf_now_ms();
		cf_error *e = NULL;

		c.embedded = true;
		if (major > 0 && cf_server_start(&so, &p->server, &e) < 0) {
			cf_error *n = cf_error_new(
				CF_ERR_CONFIG,
				"the dump comes from PostgreSQL %d, whose server binaries are not installed: using the newest installed version",
				major);

			n->severity = CF_SEV_NOTICE;
			cf_error_set_hint(
				n,
				"install postgresql-%d for a replay on the same major version as production",
				major);
			cf_error_list_add(&p->notes, n);
			cf_error_free(e);
			so.major_version = 0;
		}
		if (!p->server && cf_server_start(&so, &p->server, err) < 0)
			goto out;
		p->server_start_ms = cf_now_ms() - t0;
		c.bindir = cf_server_bindir(p->server);
		c.maint_url = cf_strdup(cf_server_url(p->server, "postgres"));
	}
	if (connect_server(&c, err) < 0)
		goto out;
	drop_stale_loads(c.conn);
	if (cf_dump_open(opts->dump_path, c.bindir, c.tmp_dir,
			 opts->keep_owners, &c.dump, err) < 0)
		goto out;
	if (opts->no_cache)
		rc = provision_oneoff(&c, pp, err);
	else
		rc = provision_cached(&c, pp, err);
	if (rc == 0)
		rc = cf_url_for_db(c.maint_url, p->template_name,
				   &p->against_url, err);
out:
	if (c.conn)
		PQfinish(c.conn);
	cf_dump_free(c.dump);
	pp->maint_url = c.maint_url;
	free(c.server_id);
	free(c.connect);
	free(c.tmp_dir);
	free(c.cache);
	if (rc < 0) {
		cf_provisioned_release(p);
		return -1;
	}
	*out = p;
	return 0;
}

void
cf_provisioned_release(cf_provisioned *p)
{
	struct provisioned_priv *pp = (struct provisioned_priv *)p;

	if (!p)
		return;
	if (p->drop_template && p->template_name && pp->maint_url) {
		PGconn *conn = NULL;

		if (connect_quiet(pp->maint_url, &conn, NULL) == 0)
			drop_database(conn, p->template_name, false, NULL);
		if (conn)
			PQfinish(conn);
	}
	if (pp->tpl_lock_fd >= 0)
		close(pp->tpl_lock_fd);
	if (p->server)
		cf_server_release(p->server, p->keep_server);
	cf_error_list_release(&p->notes);
	free(p->against_url);
	free(p->template_name);
	free(pp->maint_url);
	free(pp);
}

/* ------------------------------------------------------------------------
 * Listing and clearing
 * ------------------------------------------------------------------------ */

int
cf_cache_list(const char *cache_dir, cf_cache_entry **entries, size_t *n,
	      cf_error **err)
{
	char *cache = cf_cache_dir(cache_dir);
	json_t *idx, *o;
	size_t i, k = 0, count;
	cf_cache_entry *v;

	*entries = NULL;
	*n = 0;
	if (cf_dir_check(cache, false, err) < 0) {
		free(cache);
		return -1;
	}
	idx = index_load(cache);
	count = json_array_size(idx);
	v = cf_calloc(count ? count : 1, sizeof(*v));
	json_array_foreach(idx, i, o)
	{
		v[k].template_name = cf_strdup(jstr(o, "template"));
		v[k].dump_hash = cf_strdup(jstr(o, "dump_hash"));
		v[k].server_major = (int)json_integer_value(
			json_object_get(o, "server_major"));
		v[k].created_at = cf_strdup(jstr(o, "created_at"));
		v[k].last_used_at = cf_strdup(jstr(o, "last_used_at"));
		v[k].size_bytes = (long long)json_integer_value(
			json_object_get(o, "size_bytes"));
		k++;
	}
	/* most recently used first */
	for (i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1].last_used_at,
						   v[j].last_used_at) < 0;
		     j--) {
			cf_cache_entry t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	json_decref(idx);
	free(cache);
	*entries = v;
	*n = k;
	return 0;
}

void
cf_cache_entries_free(cf_cache_entry *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++) {
		free(entries[i].template_name);
		free(entries[i].dump_hash);
		free(entries[i].created_at);
		free(entries[i].last_used_at);
	}
	free(entries);
}

/*
 * Drops every cache database on the embedded server of one major:
 * templates, half-loaded _tmp_ ones and one-offs.  Counts templates in
 * *removed.
 */
static int
clear_embedded(const char *cache, int major, size_t *removed, cf_error **err)
{
	cf_server_options so = {cache, major, NULL};
	cf_server *srv = NULL;
	PGconn *conn = NULL;
	PGresult *res;
	int rc = 0;

	if (cf_server_start(&so, &srv, err) < 0)
		return -1;
	if (connect_quiet(cf_server_url(srv, "postgres"), &conn, err) < 0) {
		cf_server_release(srv, false);
		return -1;
	}
	res = cf_db_query(
		conn,
		"SELECT datname, datistemplate FROM pg_database "
		"WHERE shobj_description(oid, 'pg_database') LIKE '" COMMENT_PREFIX
		"%' "
		"OR datname LIKE 'cf\\_tpl\\_%\\_tmp\\_%' OR datname LIKE 'cf\\_oneoff\\_%'",
		0, NULL, err);
	if (!res) {
		rc = -1;
	} else {
		for (int r = 0; r < PQntuples(res); r++) {
			const char *name = PQgetvalue(res, r, 0);
			cf_error *e = NULL;

			if (drop_database(conn, name,
					  strcmp(PQgetvalue(res, r, 1), "t") ==
						  0,
					  &e) == 1) {
				if (strncmp(name, "cf_tpl_", 7) == 0 &&
				    !strstr(name, "_tmp_"))
					(*removed)++;
			} else if (rc == 0) {
				cf_error *f = cf_error_new(
					CF_ERR_CONFIG,
					"cannot drop cached template '%s'",
					name);

				cf_error_set_detail(
					f, "%s",
					e ? e->message :
					    "it is in use by another session");
				rc = cf_fail(err, f);
			}
			cf_error_free(e);
		}
		PQclear(res);
	}
	PQfinish(conn);
	cf_server_release(srv, false);
	return rc;
}

/*
 * Drops the indexed templates of one external server, counting them in
 * *removed; entries it could not drop are copied to keep.  It connects
 * with the settings of the run that made them (connect), else the
 * server_id of an older index.  A name that is not of our template shape,
 * or a database without our COMMENT, is never dropped (the index is a
 * file, and files can be edited).  -1 with *err when the server cannot be
 * reached or a template cannot be dropped.
 */
static int
clear_server(const char *server_id, const char *connect, json_t *idx,
	     json_t *keep, size_t *removed, cf_error **err)
{
	PGconn *conn = NULL;
	char *url;
	size_t i;
	json_t *o;
	int rc = 0;

	url = *connect ? cf_strdup(connect) :
			 cf_asprintf("%s dbname=postgres", server_id);
	if (connect_quiet(url, &conn, err) < 0) {
		free(url);
		json_array_foreach(idx, i, o)
		{
			if (strcmp(jstr(o, "server"), server_id) == 0)
				json_array_append(keep, o);
		}
		return -1;
	}
	free(url);
	json_array_foreach(idx, i, o)
	{
		cf_error *e = NULL;
		int d;

		if (strcmp(jstr(o, "server"), server_id) != 0)
			continue;
		if (!is_template_name(jstr(o, "template"))) {
			e = cf_error_new(CF_ERR_CONFIG,
					 "refusing to drop database '%s'",
					 jstr(o, "template"));
			cf_error_set_detail(
				e,
				"the cache index names it, but it is not a confiture template name (cf_tpl_ and 16 hex digits)");
			cf_error_set_code(e, "not-a-cached-template");
			d = -1;
		} else {
			d = drop_ours(conn, jstr(o, "template"), &e);
		}
		if (d == 1) {
			(*removed)++;
		} else {
			/* an entry that is not ours to drop is forgotten */
			if (is_template_name(jstr(o, "template")))
				json_array_append(keep, o);
			if (rc == 0) {
				cf_error *f = cf_error_new(
					CF_ERR_CONFIG,
					"cannot drop cached template '%s'",
					jstr(o, "template"));

				cf_error_set_detail(
					f, "%s (on %s)",
					e ? e->message :
					    "it is in use by another session",
					server_id);
				rc = cf_fail(err, f);
			}
		}
		cf_error_free(e);
	}
	PQfinish(conn);
	return rc;
}

/* Whether the i-th entry is the first of the index with its server. */
static bool
first_of_server(json_t *idx, size_t i)
{
	json_t *o = json_array_get(idx, i);

	for (size_t j = 0; j < i; j++) {
		json_t *q = json_array_get(idx, j);

		if (strcmp(jstr(q, "server"), jstr(o, "server")) == 0)
			return false;
	}
	return true;
}

/* Empties the cache directory: everything when it carries our tag, else
 * only the entries cache.c makes (it might be a directory of the user's). */
static void
empty_cache_dir(const char *cache)
{
	static const char *const known[] = {
		"templates.json", "tmp",	 "dumps", "locks",
		"servers",	  "server-root", NULL};
	char *tag = cf_asprintf("%s/CACHEDIR.TAG", cache), *p;

	if (access(tag, F_OK) == 0) {
		DIR *d = opendir(cache);
		struct dirent *de;

		while (d && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0 ||
			    strcmp(de->d_name, "lock") == 0 ||
			    strcmp(de->d_name, "CACHEDIR.TAG") == 0)
				continue;
			p = cf_asprintf("%s/%s", cache, de->d_name);
			cf_remove_tree(p);
			free(p);
		}
		if (d)
			closedir(d);
	} else {
		for (size_t i = 0; known[i]; i++) {
			p = cf_asprintf("%s/%s", cache, known[i]);
			cf_remove_tree(p);
			free(p);
		}
	}
	free(tag);
}

/*
 * Removes the stopped embedded clusters of the cache.  As root they live
 * outside it (/var/tmp/confiture-postgres/<hash>/<major>), where
 * empty_cache_dir() does not reach; the emptied <hash> directory goes too.
 * A cluster still running (it could not be stopped) stays.
 */
static void
remove_clusters(const char *cache)
{
	cf_server_options so = {cache, 0, NULL};
	cf_server_info *info = NULL;
	size_t n = 0;

	if (cf_server_list(&so, &info, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *slash;

		if (info[i].running)
			continue;
		cf_remove_server_tree(info[i].dir);
		if ((slash = strrchr(info[i].dir, '/')) != NULL &&
		    slash != info[i].dir) {
			*slash = '\0';
			rmdir(info[i].dir); /* only when empty */
		}
	}
	cf_server_info_free(info, n);
}

int
cf_cache_clear(const char *cache_dir, size_t *removed, cf_error **err)
{
	char *cache = cf_cache_dir(cache_dir);
	json_t *idx, *keep = json_array(), *o;
	cf_error *first = NULL;
	size_t i;
	int lock_fd, r;

	*removed = 0;
	if ((r = cf_dir_check(cache, false, err)) != 0) {
		free(cache);
		json_decref(keep);
		return r < 0 ? -1 : 0;
	}
	if ((lock_fd = lock_cache(cache, err)) < 0) {
		free(cache);
		json_decref(keep);
		return -1;
	}
	idx = index_load(cache);
	json_array_foreach(idx, i, o)
	{
		cf_error *e = NULL;
		bool embedded = json_is_true(json_object_get(o, "embedded"));
		int rc;

		if (!first_of_server(idx, i))
			continue;
		if (embedded) {
			int major = (int)json_integer_value(
				json_object_get(o, "server_major"));
			cf_server_options so = {cache, major, NULL};
			bool stopped;

			rc = clear_embedded(cache, major, removed, &e);
			cf_server_stop_running(&so, &stopped, NULL);
		} else {
			rc = clear_server(jstr(o, "server"), jstr(o, "connect"),
					  idx, keep, removed, &e);
		}
		if (rc < 0 && !first)
			first = e;
		else
			cf_error_free(e);
	}
	{
		cf_server_options so = {cache, 0, NULL};
		bool stopped;

		cf_server_stop_running(&so, &stopped, NULL);
	}
	if (!first)
		remove_clusters(cache);
	empty_cache_dir(cache);
	if (json_array_size(keep) > 0)
		index_save(cache, keep, NULL);
	json_decref(keep);
	json_decref(idx);
	close(lock_fd);
	free(cache);
	if (first)
		return cf_fail(err, first);
	return 0;
}
