/*
 * server.c — the embedded throwaway PostgreSQL cluster that confiture starts
 * itself (`migrate preflight --from-dump`, `confiture server`).
 *
 * Layout: one cluster per server major, kept between runs so that the
 * template databases of cache.c survive:
 *
 *	<root>/<major>/data		the cluster; initdb writes data.tmp, which
 *					is renamed only once complete, so an
 *					interrupted initdb never leaves a broken
 *					cluster behind
 *	<root>/<major>/sock		Unix socket directory (port 5432)
 *	<root>/<major>/postgres.log	server log (rotated to .old at 4 MB)
 *	<root>/<major>/initdb.log	output of the last initdb
 *	<root>/<major>/lock		flock()ed around attach, initdb, start
 *					and stop: concurrent confiture processes
 *					serialise there
 *	<root>/<major>/users		every live handle holds a shared flock()
 *	<root>/<major>/stop-when-unused	exists while the handle that started
 *					the server wants it stopped but others
 *					still use it
 *	<root>/<major>/kept		exists while a server is kept running
 *					on purpose (--keep-server, `server
 *					start`)
 *
 * <root> is <cache>/servers, <cache> being opts->cache_dir, else
 * $XDG_CACHE_HOME/confiture, else ~/.cache/confiture (paths.c, which also
 * checks that it is ours and private).  As root the server runs as the
 * "postgres" system user (runas.c), who cannot traverse /root (mode 0700),
 * so root's clusters live in /var/tmp/confiture-postgres/<hash>/ instead,
 * <hash> naming the cache directory (FNV-1a of its real path); /var/tmp
 * survives reboots.  When another user made /var/tmp/confiture-postgres
 * first, a cache gets /var/tmp/confiture-postgres-XXXXXX (mkdtemp) of its
 * own, named in <cache>/server-root.  When <root>/<major>/sock is too long for a socket
 * path (sun_path holds 108 bytes) each start makes a new socket directory
 * /tmp/confiture-<uid>-XXXXXX (mkdtemp), removed on stop: a name nobody
 * can take first.
 *
 * Binaries: see pgbin.c.  Only initdb and postgres are run, with a minimal
 * environment (runas.c): postgres is started directly, never through
 * pg_ctl, so paths never pass through a shell.
 *
 * Files the server's user can write (the log, postmaster.pid, PG_VERSION)
 * are read only when they are regular files of that user, never through a
 * link (cf_read_owned): SQL on the server runs as that user.
 *
 * Settings are given on postgres' command line, so they always match this
 * version of confiture: no TCP (listen_addresses ''), socket and directory
 * mode 0700 (only the invoking user and root connect; trust authentication
 * as superuser "postgres"), durability off (fsync, full_page_writes,
 * synchronous_commit, wal_level minimal: the data is disposable, but an OS
 * crash may corrupt it), max_locks_per_transaction 1024 (preflight replays
 * many DDL statements in one transaction), autovacuum off (its workers
 * would connect to template databases, which CREATE DATABASE ... TEMPLATE
 * needs unused).
 *
 * Lifetime: a handle either started the server or attached to one already
 * running (kept warm by --keep-server or `confiture server start`, or
 * started by another confiture process at the same time).  Releasing with
 * keep leaves the server running for later runs; an attached handle never
 * stops a server that was kept that way.  The handle that started it stops
 * it on release without keep, unless other handles (in any process) still
 * use it: then the last of them stops it (the stop-when-unused marker).
 * `confiture server stop` (cf_server_stop_running) stops it regardless.
 *
 * A running server that nobody uses and nobody kept (a run killed by
 * SIGKILL left it) is restarted by the next start.
 *
 * The server runs in its own session and outlives us when kept.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "db/pq.h"
#include "provision/paths.h"
#include "provision/pgbin.h"
#include "provision/runas.h"

#define SERVER_PORT 5432
#define ROOT_BASE "/var/tmp/confiture-postgres"
#define ROOT_POINTER "server-root" /* in the cache: root's own ROOT_BASE-* */
#define LOCK_TIMEOUT_MS (180 * 1000)
#define START_TIMEOUT_MS (60 * 1000)
#define STOP_TIMEOUT_MS (60 * 1000)
#define LOG_ROTATE_BYTES (4L * 1024 * 1024)
#define SUN_PATH_MAX 107 /* usable bytes of sockaddr_un.sun_path */

/* Paths of one cluster; all owned. */
struct layout {
	char *base; /* <root>/<major> */
	char *data;
	char *data_tmp;
	char *sock;
	char *log;
	char *initlog;
	char *lock;
	char *users;
	char *orphan; /* exists: stop when the last handle goes */
	char *kept;   /* exists: kept running on purpose (--keep-server) */
};

struct cf_server {
	struct cf_runas ru;
	struct layout lay;
	char *bindir;
	char *version; /* e.g. "15.20" */
	int major;
	char *sockdir; /* where the running server listens */
	int port;
	long pid;
	bool started; /* we started it (else attached) */
	bool child;   /* the postmaster is our child: reap it */
	int users_fd; /* holds LOCK_SH while the handle lives */
	char *url;    /* last cf_server_url() result */
};

/* ---------------------------------------------------------------- helpers */

/* FNV-1a, 64 bits: a short stable name for a path. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Makes sure path is a directory (not a symlink) of mode 0700 owned by the
 * run user, creating it when missing.  Directories we share with others
 * (/tmp, /var/tmp) make the ownership check matter.
 */
static int
ensure_private_dir(const char *path, const struct cf_runas *ru, cf_error **err)
{
	struct stat st;
	cf_error *e;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		e = cf_error_new(CF_ERR_IO, "cannot create directory '%s': %s",
				 path, strerror(errno));
		return cf_fail(err, e);
	}
	if (lstat(path, &st) < 0) {
		e = cf_error_new(CF_ERR_IO, "cannot stat '%s': %s", path,
				 strerror(errno));
		return cf_fail(err, e);
	}
	if (!S_ISDIR(st.st_mode)) {
		e = cf_error_new(CF_ERR_CONFIG, "'%s' is not a directory",
				 path);
		cf_error_set_hint(
			e,
			"remove it; confiture keeps its embedded server there");
		return cf_fail(err, e);
	}
	if (st.st_uid != ru->uid) {
		if (ru->switch_user && st.st_uid == 0 &&
		    chown(path, ru->uid, ru->gid) == 0)
			st.st_uid = ru->uid;
		if (st.st_uid != ru->uid) {
			e = cf_error_new(CF_ERR_CONFIG,
					 "'%s' belongs to another user", path);
			cf_error_set_detail(e, "owner uid %ld, expected %ld",
					    (long)st.st_uid, (long)ru->uid);
			cf_error_set_hint(
				e,
				"remove it, or use another cache directory (--cache-dir)");
			return cf_fail(err, e);
		}
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0) {
		e = cf_error_new(CF_ERR_IO, "cannot chmod '%s': %s", path,
				 strerror(errno));
		return cf_fail(err, e);
	}
	return 0;
}

/*
 * The last max_lines lines of a log of the run user (at most 4 kB), or
 * NULL: never a link or a file of someone else (cf_read_owned), which a
 * migration running as the server's user could have put there.
 */
static char *
file_tail(const char *path, uid_t uid, int max_lines)
{
	char *data = NULL, *start;
	size_t len = 0;
	int lines = 0;

	if (cf_read_owned(path, uid, 4096, &data, &len) < 0)
		return NULL;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		data[--len] = '\0';
	start = data + len;
	while (start > data && (size_t)(data + len - start) < 4096) {
		if (start[-1] == '\n' && ++lines >= max_lines)
			break;
		start--;
	}
	if (*start == '\0') {
		free(data);
		return NULL;
	}
	start = cf_strdup(start);
	free(data);
	return start;
}

/* The first line of a small file of the run user, or NULL. */
static char *
read_first_line(const char *path, uid_t uid)
{
	char *data = NULL;
	size_t len;

	if (cf_read_owned(path, uid, 4096, &data, &len) < 0)
		return NULL;
	data[strcspn(data, "\r\n")] = '\0';
	return data;
}

/* --------------------------------------------------------------- layout */

/*
 * Whether ROOT_BASE, shared by every root run, can be used: missing, or a
 * real directory of root or of the server's user.  Another user can make
 * it first; then each cache gets a directory of its own (new_private_root).
 */
static bool
root_base_usable(const struct cf_runas *ru)
{
	struct stat st;

	if (lstat(ROOT_BASE, &st) < 0)
		return errno == ENOENT;
	return S_ISDIR(st.st_mode) && (st.st_uid == 0 || st.st_uid == ru->uid);
}

/* The root recorded in the cache's pointer file when it is still a
 * directory of the server's user that we made, else NULL; caller frees. */
static char *
pointed_root(const char *ptr, const struct cf_runas *ru)
{
	char *data = NULL;
	size_t len;
	struct stat st;

	if (cf_read_owned(ptr, geteuid(), 4096, &data, &len) < 0)
		return NULL;
	data[strcspn(data, "\n")] = '\0';
	if (strncmp(data, ROOT_BASE "-", sizeof(ROOT_BASE)) == 0 &&
	    !strchr(data + sizeof(ROOT_BASE), '/') && lstat(data, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == ru->uid)
		return data;
	free(data);
	return NULL;
}

/*
 * Makes ROOT_BASE-XXXXXX (mkdtemp: a name nobody can take first), owned by
 * the server's user, and records it in the cache's pointer file so later
 * runs find their clusters.  NULL with *err; caller frees.
 */
static char *
new_private_root(const char *ptr, const struct cf_runas *ru, cf_error **err)
{
	char *dir = cf_strdup(ROOT_BASE "-XXXXXX");
	int fd;

	if (!mkdtemp(dir) || chown(dir, ru->uid, ru->gid) < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO,
					   "cannot create a directory in %s",
					   "/var/tmp");

		cf_error_set_detail(e, "%s", strerror(errno));
		free(dir);
		cf_fail(err, e);
		return NULL;
	}
	unlink(ptr);
	if ((fd = cf_create_private(ptr, err)) < 0 ||
	    dprintf(fd, "%s\n", dir) < 0) {
		if (fd >= 0)
			close(fd);
		rmdir(dir);
		free(dir);
		return NULL;
	}
	close(fd);
	return dir;
}

/*
 * The directory holding one subdirectory per major for the cache directory
 * cache (which must exist): <cache>/servers, or as root
 * /var/tmp/confiture-postgres/<hash>, or when another user took that first,
 * the directory of the cache's pointer file (made when create; "" when
 * there is none: nothing to list).  NULL (with *err) on failure.
 */
static char *
servers_root(const char *cache, const struct cf_runas *ru, bool create,
	     cf_error **err)
{
	char *real = realpath(cache, NULL);
	char *root = NULL, *ptr;

	if (!real) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot resolve '%s': %s",
					   cache, strerror(errno));

		cf_fail(err, e);
		return NULL;
	}
	if (!ru->switch_user) {
		root = cf_asprintf("%s/servers", real);
		free(real);
		return root;
	}
	ptr = cf_path_join(real, ROOT_POINTER);
	root = pointed_root(ptr, ru);
	if (!root && root_base_usable(ru))
		root = cf_asprintf(ROOT_BASE "/%016llx",
				   (unsigned long long)fnv1a(real));
	else if (!root && create)
		root = new_private_root(ptr, ru, err);
	else if (!root)
		root = cf_strdup(""); /* nothing to list */
	free(ptr);
	free(real);
	return root;
}

static void
layout_release(struct layout *l)
{
	free(l->base);
	free(l->data);
	free(l->data_tmp);
	free(l->sock);
	free(l->log);
	free(l->initlog);
	free(l->lock);
	free(l->users);
	free(l->orphan);
	free(l->kept);
	memset(l, 0, sizeof(*l));
}

/* Fills the paths of the cluster in base (<root>/<major>). */
static void
layout_init(struct layout *l, const char *base)
{
	l->base = cf_strdup(base);
	l->data = cf_asprintf("%s/data", base);
	l->data_tmp = cf_asprintf("%s/data.tmp", base);
	l->log = cf_asprintf("%s/postgres.log", base);
	l->initlog = cf_asprintf("%s/initdb.log", base);
	l->lock = cf_asprintf("%s/lock", base);
	l->users = cf_asprintf("%s/users", base);
	l->orphan = cf_asprintf("%s/stop-when-unused", base);
	l->kept = cf_asprintf("%s/kept", base);
	l->sock = cf_asprintf("%s/sock", base);
	if (strlen(l->sock) +
		    strlen("/.s.PGSQL." CF_STRINGIFY(SERVER_PORT) ".lock") >
	    SUN_PATH_MAX) {
		/* too long: a new directory in /tmp at each start */
		free(l->sock);
		l->sock = NULL;
	}
}

/* Creates the directories of a cluster, owned by the run user. */
static int
layout_create(const struct layout *l, const struct cf_runas *ru, cf_error **err)
{
	char *root = cf_strdup(l->base);
	int rc = 0;

	*strrchr(root, '/') = '\0';
	if (ru->switch_user) {
		if (strncmp(root, ROOT_BASE "/", sizeof(ROOT_BASE)) == 0)
			rc = ensure_private_dir(ROOT_BASE, ru, err);
		if (rc == 0)
			rc = ensure_private_dir(root, ru, err);
	} else {
		rc = cf_mkdir_p(root, 0700, err);
	}
	if (rc == 0)
		rc = ensure_private_dir(l->base, ru, err);
	if (rc == 0 && l->sock)
		rc = ensure_private_dir(l->sock, ru, err);
	free(root);
	return rc;
}

/*
 * A socket directory for a cluster whose own path is too long: a new one
 * in /tmp with an unpredictable name (mkdtemp), mode 0700, owned by the
 * run user, so another user can neither block nor hijack it by creating it
 * first.  NULL with *err; caller frees.
 */
static char *
temp_sockdir(const struct cf_runas *ru, cf_error **err)
{
	char *dir = cf_asprintf("/tmp/confiture-%ld-XXXXXX", (long)ru->uid);

	if (!mkdtemp(dir) ||
	    (ru->switch_user && chown(dir, ru->uid, ru->gid) < 0)) {
		cf_error *e = cf_error_new(
			CF_ERR_IO, "cannot create a socket directory in /tmp");

		cf_error_set_detail(e, "%s", strerror(errno));
		if (dir[strlen(dir) - 1] != 'X')
			rmdir(dir);
		free(dir);
		cf_fail(err, e);
		return NULL;
	}
	return dir;
}

/* Removes sockdir after a stop when it is one of temp_sockdir()'s (the
 * server removes its socket files; rmdir only takes an empty directory). */
static void
remove_temp_sockdir(const struct layout *l, const char *sockdir)
{
	if (sockdir && !l->sock &&
	    strncmp(sockdir, "/tmp/confiture-", 15) == 0 &&
	    !strstr(sockdir, "/.."))
		rmdir(sockdir);
}

/* ------------------------------------------------------ postmaster.pid */

struct pidfile {
	long pid;
	int port;
	char *sockdir;
	char status[16]; /* "starting", "ready", "stopping", "" (old) */
};

/* Reads data/postmaster.pid (a file of uid); false when missing or
 * unreadable. */
static bool
pidfile_read(const char *data, uid_t uid, struct pidfile *pf)
{
	char *path = cf_asprintf("%s/postmaster.pid", data);
	char *text = NULL, *line;
	size_t len;
	int i = 0;

	memset(pf, 0, sizeof(*pf));
	if (cf_read_owned(path, uid, 4096, &text, &len) < 0) {
		free(path);
		return false;
	}
	free(path);
	/* strtok_r would skip the empty lines this format has */
	for (line = text; line && i < 8; i++) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		switch (i) {
		case 0:
			pf->pid = strtol(line, NULL, 10);
			break;
		case 3:
			pf->port = atoi(line);
			break;
		case 4:
			pf->sockdir = *line ? cf_strdup(line) : NULL;
			break;
		case 7:
			snprintf(pf->status, sizeof(pf->status), "%.*s",
				 (int)strcspn(line, " "), line);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return pf->pid > 0;
}

static void
pidfile_release(struct pidfile *pf)
{
	free(pf->sockdir);
	pf->sockdir = NULL;
}

static bool
process_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Pings the server over its socket (database postgres, user postgres). */
static PGPing
ping(const char *sockdir, int port)
{
	char portstr[16];
	const char *const keys[] = {
		"host", "port", "dbname", "user", "connect_timeout", NULL};
	const char *vals[] = {sockdir,	  portstr, "postgres",
			      "postgres", "5",	   NULL};

	snprintf(portstr, sizeof(portstr), "%d", port);
	return PQpingParams(keys, vals, 0);
}

/*
 * Is a postmaster running on data?  Its pid must be alive and its socket
 * must answer (a stale pid file whose pid was reused by another process
 * does not count).  Waits while it is starting up or shutting down, up to
 * 30 s.  On true, *pf holds its pid file (release it).
 */
static bool
server_running(const char *data, uid_t uid, struct pidfile *pf)
{
	double deadline = cf_now_ms() + 30000;

	for (;;) {
		PGPing p;

		if (!pidfile_read(data, uid, pf))
			return false;
		if (!process_alive(pf->pid) || !pf->sockdir || pf->port <= 0) {
			pidfile_release(pf);
			return false;
		}
		p = ping(pf->sockdir, pf->port);
		if (p == PQPING_OK)
			return true;
		pidfile_release(pf);
		if (p != PQPING_REJECT || cf_now_ms() > deadline)
			return false;
		cf_sleep_ms(50);
	}
}

/* ---------------------------------------------------------------- locks */

/* Opens (creating) a lock file, close-on-exec; -1 with *err. */
static int
open_lockfile(const char *path, cf_error **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot open '%s': %s",
					   path, strerror(errno));

		cf_fail(err, e);
	}
	return fd;
}

/*
 * Takes the cluster's lock (exclusive), waiting up to LOCK_TIMEOUT_MS while
 * another confiture process creates, starts or stops the same cluster.
 * Returns the fd to close to unlock, or -1 with *err.
 */
static int
cluster_lock(const struct layout *l, cf_error **err)
{
	double deadline = cf_now_ms() + LOCK_TIMEOUT_MS;
	int fd = open_lockfile(l->lock, err);

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cf_error *e = cf_error_new(CF_ERR_IO,
						   "cannot lock '%s': %s",
						   l->lock, strerror(errno));

			close(fd);
			return cf_fail(err, e);
		}
		if (cf_now_ms() > deadline) {
			cf_error *e = cf_error_new(
				CF_ERR_CONFIG,
				"timed out waiting for another confiture process to set up the embedded server");

			cf_error_set_detail(e, "'%s' stayed locked for %d s",
					    l->lock, LOCK_TIMEOUT_MS / 1000);
			cf_error_set_hint(
				e,
				"wait for the other process to finish, or stop it");
			close(fd);
			return cf_fail(err, e);
		}
		cf_sleep_ms(20);
	}
	return fd;
}

/* ------------------------------------------------------ initdb and start */

/* An error about the cluster with the tail of a log as detail. */
static cf_error *log_error(const char *log, uid_t uid,
			   const char *what_happened, const char *fmt, ...)
	CF_PRINTF(4, 5);

static cf_error *
log_error(const char *log, uid_t uid, const char *what_happened,
	  const char *fmt, ...)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	char *tail = file_tail(log, uid, 12);
	cf_error *e;
	va_list ap;

	va_start(ap, fmt);
	cf_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	e = cf_error_new(CF_ERR_CONFIG, "%s", cf_strbuf_str(&sb));
	cf_strbuf_release(&sb);
	if (tail)
		cf_error_set_detail(e, "%s; last lines of '%s':\n%s",
				    what_happened, log, tail);
	else
		cf_error_set_detail(e, "%s; see '%s'", what_happened, log);
	free(tail);
	return e;
}

/* Creates the cluster in data.tmp and renames it to data when complete. */
static int
run_initdb(const cf_server *srv, cf_error **err)
{
	const struct layout *l = &srv->lay;
	char *initdb = cf_asprintf("%s/initdb", srv->bindir);
	/* clang-format off */
	const char *argv[] = {
		initdb, "-D", l->data_tmp, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync",
		srv->major >= 14 ? "--no-instructions" : NULL,
		NULL,
	};
	/* clang-format on */
	int status;
	cf_error *e;

	/* leftovers of an interrupted initdb */
	if (cf_remove_tree_as(&srv->ru, l->base, l->data_tmp) != 0) {
		e = cf_error_new(CF_ERR_IO, "cannot remove '%s'", l->data_tmp);
		cf_error_set_hint(e, "remove it by hand");
		free(initdb);
		return cf_fail(err, e);
	}
	status = cf_run_wait(&srv->ru, l->base, argv, l->initlog, NULL);
	free(initdb);
	if (status != 0) {
		char *st = cf_status_text(status);

		e = log_error(l->initlog, srv->ru.uid, st,
			      "initdb failed for the embedded server in '%s'",
			      l->data_tmp);
		cf_error_set_hint(
			e,
			"fix the problem above, or pass --server URL to use an existing server");
		free(st);
		cf_remove_tree_as(&srv->ru, l->base, l->data_tmp);
		return cf_fail(err, e);
	}
	if (rename(l->data_tmp, l->data) < 0) {
		e = cf_error_new(CF_ERR_IO, "cannot rename '%s' to '%s': %s",
				 l->data_tmp, l->data, strerror(errno));
		return cf_fail(err, e);
	}
	return 0;
}

/* Checks data/PG_VERSION against the binaries' major. */
static int
check_data_version(const cf_server *srv, cf_error **err)
{
	char *path = cf_asprintf("%s/PG_VERSION", srv->lay.data);
	char *v = read_first_line(path, srv->ru.uid);
	cf_error *e;

	free(path);
	if (v && atoi(v) == srv->major) {
		free(v);
		return 0;
	}
	if (v)
		e = cf_error_new(CF_ERR_CONFIG,
				 "'%s' holds a PostgreSQL %s cluster, not %d",
				 srv->lay.data, v, srv->major);
	else
		e = cf_error_new(CF_ERR_CONFIG,
				 "'%s' is not a PostgreSQL data directory",
				 srv->lay.data);
	cf_error_set_hint(
		e, "remove '%s' (its cached templates are lost) and try again",
		srv->lay.data);
	free(v);
	return cf_fail(err, e);
}

/* Moves a big server log aside before a start, so it never grows forever. */
static void
rotate_log(const struct layout *l)
{
	struct stat st;

	if (stat(l->log, &st) == 0 && st.st_size > LOG_ROTATE_BYTES) {
		char *old = cf_asprintf("%s.old", l->log);

		rename(l->log, old);
		free(old);
	}
}

/*
 * Starts postgres on the data directory (our child, in its own session,
 * output appended to the log) and waits until its pid file says "ready".
 */
static int
start_postmaster(cf_server *srv, cf_error **err)
{
	const struct layout *l = &srv->lay;
	char *sockdir = l->sock ? cf_strdup(l->sock) :
				  temp_sockdir(&srv->ru, err);
	char *postgres, *sockopt;
	const char *settings[] = {
		NULL, /* unix_socket_directories */
		"listen_addresses=",
		"port=" CF_STRINGIFY(SERVER_PORT),
		"unix_socket_permissions=0700",
		"cluster_name=confiture",
		"fsync=off",
		"full_page_writes=off",
		"synchronous_commit=off",
		"wal_level=minimal",
		"max_wal_senders=0",
		"max_wal_size=1GB",
		"checkpoint_timeout=30min",
		"max_connections=50",
		"max_locks_per_transaction=1024",
		"shared_buffers=128MB",
		"autovacuum=off",
		"jit=off",
		"logging_collector=off",
		"log_min_messages=warning",
		"log_min_error_statement=panic",
	};
	const char *argv[3 + 2 * (sizeof(settings) / sizeof(settings[0])) + 1];
	size_t n = 0;
	double deadline;
	char **env;
	pid_t pid;
	int status;
	cf_error *e;

	if (!sockdir)
		return -1;
	postgres = cf_asprintf("%s/postgres", srv->bindir);
	sockopt = cf_asprintf("unix_socket_directories=%s", sockdir);
	settings[0] = sockopt;
	argv[n++] = postgres;
	argv[n++] = "-D";
	argv[n++] = l->data;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		argv[n++] = "-c";
		argv[n++] = settings[i];
	}
	argv[n] = NULL;

	rotate_log(l);
	env = cf_child_env(&srv->ru);
	pid = fork();
	if (pid < 0) {
		e = cf_error_new(CF_ERR_INTERNAL, "cannot fork: %s",
				 strerror(errno));
		cf_child_env_free(env);
		free(postgres);
		free(sockopt);
		remove_temp_sockdir(l, sockdir);
		free(sockdir);
		return cf_fail(err, e);
	}
	if (pid == 0) {
		/* own session: Ctrl-C at our terminal must not reach it */
		setsid();
		cf_child_exec_logged(&srv->ru, l->base, l->log, O_APPEND, argv,
				     env);
	}
	cf_child_env_free(env);
	free(postgres);
	free(sockopt);

	deadline = cf_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		struct pidfile pf;
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid || (w < 0 && errno == ECHILD)) {
			char *st = w == pid ? cf_status_text(status) :
					      cf_strdup("postgres exited");

			e = log_error(
				l->log, srv->ru.uid, st,
				"the embedded PostgreSQL server did not start");
			if (pidfile_read(l->data, srv->ru.uid, &pf)) {
				cf_error_set_hint(
					e,
					"if no server runs on '%s' (pid %ld is not one), remove "
					"'%s/postmaster.pid'; or pass --server URL to use an existing server",
					l->data, pf.pid, l->data);
				pidfile_release(&pf);
			} else {
				cf_error_set_hint(
					e,
					"fix the problem above, or pass --server URL to use an "
					"existing server");
			}
			free(st);
			remove_temp_sockdir(l, sockdir);
			free(sockdir);
			return cf_fail(err, e);
		}
		if (pidfile_read(l->data, srv->ru.uid, &pf)) {
			bool ready = pf.pid == pid &&
				     strcmp(pf.status, "ready") == 0;

			pidfile_release(&pf);
			if (ready)
				break;
		}
		if (cf_now_ms() > deadline) {
			kill(pid, SIGQUIT);
			waitpid(pid, &status, 0);
			e = log_error(
				l->log, srv->ru.uid, "not ready after 60 s",
				"the embedded PostgreSQL server did not start");
			remove_temp_sockdir(l, sockdir);
			free(sockdir);
			return cf_fail(err, e);
		}
		cf_sleep_ms(5);
	}
	srv->pid = pid;
	srv->child = true;
	srv->started = true;
	srv->port = SERVER_PORT;
	free(srv->sockdir);
	srv->sockdir = sockdir;
	return 0;
}

/*
 * Fast shutdown of the postmaster pid on data, waiting until it is gone
 * (then immediate shutdown after STOP_TIMEOUT_MS).  child: it is ours to
 * reap.
 */
static int
stop_postmaster(const char *data, long pid, bool child, cf_error **err)
{
	double deadline = cf_now_ms() + STOP_TIMEOUT_MS;
	char *pidpath = cf_asprintf("%s/postmaster.pid", data);
	bool quit_sent = false;
	int status;

	if (kill((pid_t)pid, SIGINT) < 0 && errno != ESRCH) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG,
			"cannot stop the embedded server (pid %ld): %s", pid,
			strerror(errno));

		free(pidpath);
		return cf_fail(err, e);
	}
	for (;;) {
		bool gone;

		if (child) {
			pid_t w = waitpid((pid_t)pid, &status, WNOHANG);

			gone = w == (pid_t)pid || (w < 0 && errno == ECHILD);
		} else {
			/* not ours: it may linger as a zombie of its parent,
			 * but it removes its pid file last */
			gone = !process_alive(pid) || access(pidpath, F_OK) < 0;
		}
		if (gone)
			break;
		if (cf_now_ms() > deadline) {
			if (quit_sent) {
				cf_error *e = cf_error_new(
					CF_ERR_CONFIG,
					"the embedded server (pid %ld) does not stop",
					pid);

				free(pidpath);
				return cf_fail(err, e);
			}
			kill((pid_t)pid, SIGQUIT);
			quit_sent = true;
			deadline = cf_now_ms() + 10000;
		}
		cf_sleep_ms(5);
	}
	free(pidpath);
	return 0;
}

/* ------------------------------------------------------------ public API */

static void
server_free(cf_server *srv)
{
	if (!srv)
		return;
	if (srv->users_fd >= 0)
		close(srv->users_fd);
	layout_release(&srv->lay);
	free(srv->bindir);
	free(srv->version);
	free(srv->sockdir);
	free(srv->url);
	free(srv);
}

/*
 * Whether the running server was left behind by a run that died (SIGKILL):
 * nobody uses it (srv->users_fd locks exclusively) and nobody kept it.
 * The cluster lock is held.
 */
static bool
orphaned(const cf_server *srv)
{
	bool free_of_users = flock(srv->users_fd, LOCK_EX | LOCK_NB) == 0;

	if (free_of_users)
		flock(srv->users_fd, LOCK_UN);
	return free_of_users && access(srv->lay.kept, F_OK) < 0;
}

/* Attach to a running server, or initdb (first use) and start it; the
 * cluster lock is held by the caller.  A server a dead run left behind is
 * restarted: it may carry an older confiture's environment. */
static int
attach_or_start(cf_server *srv, cf_error **err)
{
	struct pidfile pf;

	if (server_running(srv->lay.data, srv->ru.uid, &pf)) {
		if (!orphaned(srv)) {
			srv->pid = pf.pid;
			srv->port = pf.port;
			srv->sockdir = pf.sockdir;
			srv->started = false;
			return 0;
		}
		if (stop_postmaster(srv->lay.data, pf.pid, false, err) < 0) {
			pidfile_release(&pf);
			return -1;
		}
		remove_temp_sockdir(&srv->lay, pf.sockdir);
		pidfile_release(&pf);
	}
	if (!cf_is_dir(srv->lay.data) && run_initdb(srv, err) < 0)
		return -1;
	if (check_data_version(srv, err) < 0)
		return -1;
	unlink(srv->lay.orphan);
	unlink(srv->lay.kept);
	return start_postmaster(srv, err);
}

int
cf_server_start(const cf_server_options *opts, cf_server **out, cf_error **err)
{
	static const cf_server_options defaults = {0};
	cf_server *srv = cf_new(cf_server);
	struct cf_pgbin bin = {0};
	char *cache = NULL, *root = NULL, *base = NULL;
	int lock_fd = -1;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	srv->users_fd = -1;
	/* whether a server runs is asked with libpq's ping */
	if (cf_pq_load(err) < 0)
		goto fail;
	if (cf_runas_resolve(&srv->ru, err) < 0)
		goto fail;
	if (cf_pgbin_find(opts->bindir, opts->major_version, &bin, err) < 0)
		goto fail;
	srv->bindir = bin.dir;
	srv->version = bin.version;
	srv->major = bin.major;

	if (!(cache = cf_cache_dir_checked(opts->cache_dir, err)))
		goto fail;
	if (!(root = servers_root(cache, &srv->ru, true, err)))
		goto fail;
	base = cf_asprintf("%s/%d", root, srv->major);
	layout_init(&srv->lay, base);
	if (layout_create(&srv->lay, &srv->ru, err) < 0)
		goto fail;

	if ((lock_fd = cluster_lock(&srv->lay, err)) < 0)
		goto fail;
	if ((srv->users_fd = open_lockfile(srv->lay.users, err)) < 0)
		goto fail;
	if (attach_or_start(srv, err) < 0)
		goto fail;
	/* announce ourselves before letting anyone else decide to stop it */
	flock(srv->users_fd, LOCK_SH);
	close(lock_fd);
	free(cache);
	free(root);
	free(base);
	*out = srv;
	return 0;

fail:
	if (lock_fd >= 0)
		close(lock_fd);
	free(cache);
	free(root);
	free(base);
	server_free(srv);
	return -1;
}

const char *
cf_server_url(cf_server *srv, const char *dbname)
{
	static const char unreserved[] = "-._~";
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_addstr(&sb, "postgresql:///");
	for (int part = 0; part < 2; part++) {
		const char *s = part == 0 ? (dbname ? dbname : "postgres") :
					    srv->sockdir;

		if (part == 1)
			cf_strbuf_addstr(&sb, "?host=");
		for (; *s; s++) {
			unsigned char ch = (unsigned char)*s;

			if ((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') ||
			    strchr(unreserved, ch) || (part == 1 && ch == '/'))
				cf_strbuf_addch(&sb, (char)ch);
			else
				cf_strbuf_addf(&sb, "%%%02X", ch);
		}
	}
	cf_strbuf_addf(&sb, "&port=%d&user=postgres", srv->port);
	free(srv->url);
	srv->url = cf_strbuf_detach(&sb);
	return srv->url;
}

int
cf_server_major(const cf_server *srv)
{
	return srv->major;
}

const char *
cf_server_bindir(const cf_server *srv)
{
	return srv->bindir;
}

void
cf_server_release(cf_server *srv, bool keep)
{
	int lock_fd;

	if (!srv)
		return;
	lock_fd = cluster_lock(&srv->lay, NULL);
	if (lock_fd >= 0) {
		if (keep) {
			unlink(srv->lay.orphan);
			close(open(srv->lay.kept,
				   O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
				   0600));
		} else if (srv->started || access(srv->lay.orphan, F_OK) == 0) {
			/* the last handle stops it; while others still use
			 * it, leave that job to the last of them */
			if (flock(srv->users_fd, LOCK_EX | LOCK_NB) == 0) {
				if (stop_postmaster(srv->lay.data, srv->pid,
						    srv->child, NULL) == 0) {
					unlink(srv->lay.orphan);
					remove_temp_sockdir(&srv->lay,
							    srv->sockdir);
				}
			} else if (srv->started) {
				close(open(srv->lay.orphan,
					   O_WRONLY | O_CREAT | O_CLOEXEC |
						   O_NOFOLLOW,
					   0600));
			}
		}
		close(lock_fd);
	}
	server_free(srv);
}

/*
 * The per-major cluster directories of a cache directory, sorted by major;
 * *root is set (NULL when the cache dir does not exist: nothing to list).
 */
static int
list_clusters(const cf_server_options *opts, const struct cf_runas *ru,
	      char **root, int **majors, size_t *n, cf_error **err)
{
	char *cache = cf_cache_dir(opts ? opts->cache_dir : NULL);
	size_t alloc = 0;
	struct dirent *de;
	DIR *d;
	int r;

	*root = NULL;
	*majors = NULL;
	*n = 0;
	if ((r = cf_dir_check(cache, false, err)) != 0) {
		free(cache);
		return r < 0 ? -1 : 0;
	}
	*root = servers_root(cache, ru, false, err);
	free(cache);
	if (!*root)
		return -1;
	if (!(d = opendir(*root)))
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    de->d_name[strspn(de->d_name, "0123456789")] != '\0')
			continue;
		CF_GROW(*majors, alloc, *n + 1);
		(*majors)[(*n)++] = atoi(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && (*majors)[j - 1] > (*majors)[j];
		     j--) {
			int t = (*majors)[j];

			(*majors)[j] = (*majors)[j - 1];
			(*majors)[j - 1] = t;
		}
	return 0;
}

int
cf_server_stop_running(const cf_server_options *opts, bool *stopped,
		       cf_error **err)
{
	struct cf_runas ru;
	char *root = NULL;
	int *majors = NULL;
	size_t n = 0;
	int rc = 0;

	*stopped = false;
	if (cf_pq_load(err) < 0)
		return -1;
	if (cf_runas_resolve(&ru, err) < 0)
		return -1;
	if (list_clusters(opts, &ru, &root, &majors, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *base = cf_asprintf("%s/%d", root, majors[i]);
		struct layout l;
		struct pidfile pf;
		int lock_fd;

		layout_init(&l, base);
		free(base);
		lock_fd = cluster_lock(&l, err);
		if (lock_fd < 0) {
			rc = -1;
		} else {
			if (server_running(l.data, ru.uid, &pf)) {
				rc = stop_postmaster(l.data, pf.pid, false,
						     err);
				if (rc == 0)
					remove_temp_sockdir(&l, pf.sockdir);
				*stopped = *stopped || rc == 0;
				pidfile_release(&pf);
			}
			close(lock_fd);
		}
		layout_release(&l);
	}
	free(root);
	free(majors);
	return rc;
}

/* SHOW server_version over the socket, or NULL. */
static char *
query_version(const char *url)
{
	PGconn *conn = PQconnectdb(url);
	char *v = NULL;

	if (PQstatus(conn) == CONNECTION_OK) {
		const char *s = PQparameterStatus(conn, "server_version");

		if (s)
			v = cf_strndup(s, strcspn(s, " "));
	}
	PQfinish(conn);
	return v;
}

int
cf_server_list(const cf_server_options *opts, cf_server_info **out, size_t *n,
	       cf_error **err)
{
	struct cf_runas ru;
	char *root = NULL;
	int *majors = NULL;
	size_t count = 0;
	cf_server_info *info;

	*out = NULL;
	*n = 0;
	if (cf_pq_load(err) < 0)
		return -1;
	if (cf_runas_resolve(&ru, err) < 0)
		return -1;
	if (list_clusters(opts, &ru, &root, &majors, &count, err) < 0)
		return -1;
	info = count ? cf_calloc(count, sizeof(*info)) : NULL;
	for (size_t i = 0; i < count; i++) {
		cf_server_info *in = &info[i];
		struct pidfile pf;
		char *path;

		in->major = majors[i];
		in->dir = cf_asprintf("%s/%d", root, majors[i]);
		in->data_dir = cf_asprintf("%s/data", in->dir);
		if (server_running(in->data_dir, ru.uid, &pf)) {
			cf_server tmp = {.sockdir = pf.sockdir,
					 .port = pf.port};

			in->running = true;
			in->pid = pf.pid;
			in->port = pf.port;
			in->socket_dir = cf_strdup(pf.sockdir);
			in->url = cf_strdup(cf_server_url(&tmp, "postgres"));
			free(tmp.url);
			in->version = query_version(in->url);
			pidfile_release(&pf);
		}
		if (!in->version) {
			path = cf_asprintf("%s/PG_VERSION", in->data_dir);
			in->version = read_first_line(path, ru.uid);
			free(path);
		}
	}
	free(root);
	free(majors);
	*out = info;
	*n = count;
	return 0;
}

void
cf_server_info_free(cf_server_info *info, size_t n)
{
	for (size_t i = 0; info && i < n; i++) {
		free(info[i].dir);
		free(info[i].data_dir);
		free(info[i].socket_dir);
		free(info[i].version);
		free(info[i].url);
	}
	free(info);
}
