/*
 * dump_load.c — reading a schema dump in any of pg_dump's formats and
 * loading it into a database through libpq.
 *
 * No psql: sqllex.c splits the plain SQL into statements, COPY data and
 * \restrict lines, and this file sends each statement on its own with
 * the extended protocol (so the server refuses a piece that holds two
 * statements), COPY data with PQputCopyData.  Whether COPY data follows
 * and what standard_conforming_strings is are the lexer's call; the
 * server's answer is checked against it after every statement, and a
 * disagreement stops the load.  Custom and directory formats go through
 * pg_restore --file (it only converts, never connects), reading the
 * archive we opened, and its SQL takes the same path.
 *
 * Loading behaves like `pg_restore --no-owner --no-privileges` unless the
 * caller keeps owners: statements left out are
 *   - ALTER ... OWNER TO role;  SET/RESET SESSION AUTHORIZATION
 *   - GRANT;  REVOKE;  ALTER DEFAULT PRIVILEGES
 *   - SET transaction_timeout (pg_dump 17) on servers older than 17.
 *
 * Input is hostile: a dump path must be a regular file (or a pg_dump
 * directory), not a symbolic link, a FIFO or a device; it is opened
 * without blocking and read once per pass from the same open file; a read
 * error is an error, never end of input.  A statement or COPY line longer
 * than CF_SQLLEX_MAX_TEXT (256 MiB) is refused.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db/db.h"
#include "provision/provision.h"
#include "provision/sqllex.h"

#define COPY_CHUNK (64 * 1024)

/* ------------------------------------------------------------------------
 * Opening input safely
 * ------------------------------------------------------------------------ */

static cf_error *
open_error(const char *path, const char *fmt, const char *arg)
{
	cf_error *e = cf_error_new(CF_ERR_CONFIG, "cannot open dump '%s'",
				   path);

	cf_error_set_detail(e, fmt, arg);
	return e;
}

/* What st is, for a message. */
static const char *
file_kind(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISCHR(st->st_mode))
		return "a character device";
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISDIR(st->st_mode))
		return "a directory";
	return "not a regular file";
}

int
cf_dump_check(const char *path, int *fd_out, bool *is_dir, cf_error **err)
{
	struct stat st;
	cf_error *e;
	int fd;

	if (fd_out)
		*fd_out = -1;
	*is_dir = false;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ELOOP) {
		e = open_error(
			path, "%s",
			"it is a symbolic link, which a dump may not be");
		cf_error_set_hint(
			e, "give the path of the file itself (realpath)");
		return cf_fail(err, e);
	}
	if (fd < 0) {
		e = open_error(path, "%s", strerror(errno));
		cf_error_set_hint(
			e,
			"make one with pg_dump --schema-only -f prod.sql, or pg_dump -Fc");
		return cf_fail(err, e);
	}
	if (fstat(fd, &st) < 0) {
		e = open_error(path, "%s", strerror(errno));
		close(fd);
		return cf_fail(err, e);
	}
	if (S_ISDIR(st.st_mode)) {
		int toc = openat(fd, "toc.dat",
				 O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
					 O_NONBLOCK);
		struct stat ts;
		bool ok = toc >= 0 && fstat(toc, &ts) == 0 &&
			  S_ISREG(ts.st_mode);

		if (toc >= 0)
			close(toc);
		if (!ok) {
			close(fd);
			e = open_error(
				path, "%s",
				"it is a directory without a regular file toc.dat");
			cf_error_set_hint(
				e,
				"a directory-format dump comes from pg_dump -Fd");
			return cf_fail(err, e);
		}
		*is_dir = true;
	} else if (!S_ISREG(st.st_mode)) {
		close(fd);
		e = open_error(path, "it is %s, not a regular file",
			       file_kind(&st));
		cf_error_set_hint(
			e,
			"write the dump to a file first (pg_dump -f prod.sql): a pipe or a device may never end, and a dump is read twice");
		return cf_fail(err, e);
	} else if (fcntl(fd, F_SETFL, 0) < 0) {
		e = open_error(path, "%s", strerror(errno));
		close(fd);
		return cf_fail(err, e);
	}
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
}

/* ------------------------------------------------------------------------
 * Reading lines
 * ------------------------------------------------------------------------ */

/* Lines of an open file; a read error is an error, not end of file. */
struct reader {
	int fd;
	const char *name; /* for messages */
	char buf[65536];
	size_t off, end;
	bool eof;
	cf_strbuf line; /* a line longer than what buf holds */
};

static void
reader_init(struct reader *r, int fd, const char *name)
{
	r->fd = fd;
	r->name = name;
	r->off = r->end = 0;
	r->eof = false;
	cf_strbuf_init(&r->line);
}

/* Refills buf; -1 with *err on a read error. */
static int
reader_fill(struct reader *r, cf_error **err)
{
	ssize_t n;

	do {
		n = read(r->fd, r->buf, sizeof(r->buf));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot read dump '%s'",
					   r->name);

		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	r->off = 0;
	r->end = (size_t)n;
	r->eof = n == 0;
	return 0;
}

/*
 * The next line (with its newline, except a last line without one), valid
 * until the next call.  1, 0 at end of file, -1 with *err.
 */
static int
reader_line(struct reader *r, const char **line, size_t *len, cf_error **err)
{
	cf_strbuf_reset(&r->line);
	for (;;) {
		const char *s = r->buf + r->off;
		size_t avail = r->end - r->off;
		const char *nl = memchr(s, '\n', avail);

		if (nl) {
			size_t n = (size_t)(nl - s) + 1;

			r->off += n;
			if (r->line.len == 0) {
				*line = s;
				*len = n;
				return 1;
			}
			cf_strbuf_add(&r->line, s, n);
			break;
		}
		if (avail > 0)
			cf_strbuf_add(&r->line, s, avail);
		r->off = r->end;
		if (r->line.len > CF_SQLLEX_MAX_TEXT + 2) {
			cf_error *e = cf_error_new(
				CF_ERR_CONFIG,
				"dump '%s' has a line longer than %zu MiB",
				r->name, CF_SQLLEX_MAX_TEXT >> 20);

			return cf_fail(err, e);
		}
		/* a read error is never taken for the end of the file */
		if (!r->eof && reader_fill(r, err) < 0)
			return -1;
		if (r->eof) {
			if (r->line.len == 0)
				return 0;
			break;
		}
	}
	*line = r->line.buf;
	*len = r->line.len;
	return 1;
}

/* ------------------------------------------------------------------------
 * Opening a dump
 * ------------------------------------------------------------------------ */

int
cf_dump_source_major(const char *path)
{
	static const char marker[] = "-- Dumped from database version ";
	struct reader *r;
	const char *line;
	size_t len;
	bool dir;
	int fd, major = 0;

	if (cf_dump_check(path, &fd, &dir, NULL) < 0)
		return 0;
	if (dir) {
		close(fd);
		return 0;
	}
	r = cf_new(struct reader);
	reader_init(r, fd, path);
	/* pg_dump writes it within the first few lines of the header */
	for (int i = 0; i < 40 && reader_line(r, &line, &len, NULL) == 1; i++) {
		if (len > sizeof(marker) - 1 &&
		    memcmp(line, marker, sizeof(marker) - 1) == 0) {
			major = atoi(line + sizeof(marker) - 1);
			break;
		}
	}
	cf_strbuf_release(&r->line);
	free(r);
	close(fd);
	return major >= 10 ? major : 0;
}

/* Makes the plain SQL of a custom or directory dump with pg_restore into
 * a new unlinked file, d->fd.  archive_fd is the custom archive. */
static int
run_pg_restore(cf_dump *d, int archive_fd, const char *bindir,
	       const char *tmp_dir, cf_error **err)
{
	char *prog = cf_pg_program("pg_restore", bindir);
	char *errtext = NULL, *tmp;
	int status, rc, out;

	if (!prog) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot load dump '%s'", d->path);

		cf_error_set_detail(
			e,
			"it is a %s-format dump, which needs pg_restore, and pg_restore is not installed",
			d->format == CF_DUMP_CUSTOM ? "custom" : "directory");
		cf_error_set_hint(
			e,
			"install the PostgreSQL client programs (apt-get install postgresql-client), or give a plain dump made with pg_dump --schema-only -f prod.sql");
		return cf_fail(err, e);
	}
	tmp = cf_temp_name(tmp_dir, "restore", ".sql");
	out = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	if (out < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot create '%s'",
					   tmp);

		cf_error_set_detail(e, "%s", strerror(errno));
		free(tmp);
		free(prog);
		return cf_fail(err, e);
	}
	/* nobody else can reach it by name, and nothing is left behind */
	unlink(tmp);
	free(tmp);
	{
		/* a custom archive comes on stdin: the file we checked */
		const char *argv[8];
		int k = 0;

		argv[k++] = prog;
		argv[k++] = "--schema-only";
		argv[k++] = "--file=-";
		if (!d->keep_owners) {
			argv[k++] = "--no-owner";
			argv[k++] = "--no-privileges";
		}
		if (d->format == CF_DUMP_DIRECTORY)
			argv[k++] = d->path;
		argv[k] = NULL;
		rc = cf_run_program(argv, NULL,
				    d->format == CF_DUMP_CUSTOM ? archive_fd :
								  -1,
				    out, &status, &errtext, err);
	}
	if (rc == 0 && status != 0 && cf_cancel_requested()) {
		rc = cf_fail(
			err,
			cf_error_new(
				CF_ERR_CONFIG,
				"interrupted while reading dump '%s' with pg_restore",
				d->path));
	} else if (rc == 0 && status != 0) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot load dump '%s'", d->path);

		cf_error_set_detail(e, "pg_restore failed: %s",
				    *cf_chomp(errtext) ? errtext :
							 "no message");
		if (strstr(errtext, "unsupported version"))
			cf_error_set_hint(
				e,
				"the dump comes from a newer pg_dump: install a pg_restore of that version (package postgresql-client-<major>)");
		rc = cf_fail(err, e);
	}
	free(errtext);
	free(prog);
	if (rc < 0)
		close(out);
	else
		d->fd = out;
	return rc;
}

/* Hex of a finished digest. */
static void
digest_hex(EVP_MD_CTX *md, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(md, buf, &n) || n != 32)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 0x0F];
	}
	out[64] = '\0';
}

struct loader;
static int load_item(struct loader *ld, cf_sqllex *lx, const cf_sqllex_item *it,
		     cf_error **err);
static void load_progress(struct loader *ld, size_t bytes, bool done);

/*
 * Reads the dump's SQL once from the start: through the lexer always,
 * into the digest md and/or the loader ld when not NULL.
 */
static int
run_pass(const cf_dump *d, EVP_MD_CTX *md, struct loader *ld,
	 long *restrict_lines, cf_error **err)
{
	struct reader *r = cf_new(struct reader);
	cf_sqllex *lx = cf_sqllex_new(d->sql_name);
	cf_sqllex_item it;
	cf_sqllex_kind k = CF_SQLLEX_MORE;
	const char *line;
	size_t len;
	int rc = 0, got;

	if (lseek(d->fd, 0, SEEK_SET) < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot read dump '%s'",
					   d->path);

		cf_error_set_detail(e, "%s", strerror(errno));
		rc = cf_fail(err, e);
		goto out;
	}
	reader_init(r, d->fd, d->path);
	while (rc == 0 && (got = reader_line(r, &line, &len, err)) == 1) {
		bool hash = true;

		cf_sqllex_feed(lx, line, len);
		while (rc == 0 &&
		       (k = cf_sqllex_next(lx, &it, err)) != CF_SQLLEX_MORE) {
			if (k == CF_SQLLEX_ERROR) {
				rc = -1;
			} else if (k == CF_SQLLEX_RESTRICT ||
				   k == CF_SQLLEX_UNRESTRICT) {
				/* the key differs every run: not content */
				hash = false;
				(*restrict_lines)++;
			} else if (ld) {
				rc = load_item(ld, lx, &it, err);
			}
		}
		if (md && hash)
			EVP_DigestUpdate(md, line, len);
		if (ld)
			load_progress(ld, len, false);
	}
	if (rc == 0 && got < 0)
		rc = -1;
	while (rc == 0 &&
	       (k = cf_sqllex_finish(lx, &it, err)) == CF_SQLLEX_STATEMENT)
		if (ld)
			rc = load_item(ld, lx, &it, err);
	if (rc == 0 && k == CF_SQLLEX_ERROR)
		rc = -1;
out:
	cf_sqllex_free(lx);
	cf_strbuf_release(&r->line);
	free(r);
	return rc;
}

int
cf_dump_open(const char *path, const char *bindir, const char *tmp_dir,
	     bool keep_owners, cf_dump **out, cf_error **err)
{
	cf_dump *d = cf_new(cf_dump);
	EVP_MD_CTX *md;
	char magic[5] = {0};
	bool is_dir;
	long restrict_lines = 0;
	int fd, rc;

	*out = NULL;
	d->fd = -1;
	d->path = cf_strdup(path);
	d->keep_owners = keep_owners;
	if (cf_dump_check(path, &fd, &is_dir, err) < 0) {
		cf_dump_free(d);
		return -1;
	}
	if (is_dir)
		d->format = CF_DUMP_DIRECTORY;
	else if (pread(fd, magic, 5, 0) == 5 && memcmp(magic, "PGDMP", 5) == 0)
		d->format = CF_DUMP_CUSTOM;
	if (d->format == CF_DUMP_PLAIN) {
		d->fd = fd;
		d->sql_name = cf_strdup(path);
	} else {
		rc = run_pg_restore(d, fd, bindir, tmp_dir, err);
		close(fd);
		if (rc < 0) {
			cf_dump_free(d);
			return -1;
		}
		d->sql_name = cf_asprintf("%s (as SQL from pg_restore)", path);
	}
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		abort();
	rc = run_pass(d, md, NULL, &restrict_lines, err);
	digest_hex(md, d->hash);
	EVP_MD_CTX_free(md);
	if (rc < 0) {
		cf_dump_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

void
cf_dump_free(cf_dump *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->sql_name);
	free(d->path);
	free(d);
}

/* ------------------------------------------------------------------------
 * What the load leaves out
 * ------------------------------------------------------------------------ */

enum filter_kind {
	FK_KEEP = 0,
	FK_OWNER,
	FK_PRIVILEGE,
	FK_OTHER,
};

static enum filter_kind
classify(const cf_sqllex_item *it, bool keep_owners, int server_version_num)
{
	const cf_sqllex_token *f = it->first, *l = it->last;
	int n = it->n_first;

	if (n == 0)
		return FK_KEEP;
	if (!keep_owners) {
		if (cf_sqllex_is_word(&f[0], "grant") ||
		    cf_sqllex_is_word(&f[0], "revoke") ||
		    (n >= 3 && cf_sqllex_is_word(&f[0], "alter") &&
		     cf_sqllex_is_word(&f[1], "default") &&
		     cf_sqllex_is_word(&f[2], "privileges")))
			return FK_PRIVILEGE;
		if (n >= 3 &&
		    (cf_sqllex_is_word(&f[0], "set") ||
		     cf_sqllex_is_word(&f[0], "reset")) &&
		    cf_sqllex_is_word(&f[1], "session") &&
		    cf_sqllex_is_word(&f[2], "authorization"))
			return FK_OWNER;
		/* ALTER ... OWNER TO role */
		if (cf_sqllex_is_word(&f[0], "alter") && it->n_last == 3 &&
		    cf_sqllex_is_word(&l[0], "owner") &&
		    cf_sqllex_is_word(&l[1], "to") &&
		    (l[2].kind == 'w' || l[2].kind == 'q'))
			return FK_OWNER;
	}
	if (server_version_num > 0 && server_version_num < 170000 && n >= 2 &&
	    cf_sqllex_is_word(&f[0], "set") &&
	    cf_sqllex_is_word(&f[1], "transaction_timeout"))
		return FK_OTHER;
	return FK_KEEP;
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static const char *const contrib_extensions[] = {"adminpack",
						 "amcheck",
						 "autoinc",
						 "bloom",
						 "btree_gin",
						 "btree_gist",
						 "citext",
						 "cube",
						 "dblink",
						 "dict_int",
						 "dict_xsyn",
						 "earthdistance",
						 "file_fdw",
						 "fuzzystrmatch",
						 "hstore",
						 "insert_username",
						 "intagg",
						 "intarray",
						 "isn",
						 "lo",
						 "ltree",
						 "moddatetime",
						 "old_snapshot",
						 "pageinspect",
						 "pg_buffercache",
						 "pg_freespacemap",
						 "pg_prewarm",
						 "pg_stat_statements",
						 "pg_surgery",
						 "pg_trgm",
						 "pg_visibility",
						 "pg_walinspect",
						 "pgcrypto",
						 "pgrowlocks",
						 "pgstattuple",
						 "postgres_fdw",
						 "refint",
						 "seg",
						 "sslinfo",
						 "tablefunc",
						 "tcn",
						 "tsm_system_rows",
						 "tsm_system_time",
						 "unaccent",
						 "uuid-ossp",
						 "xml2",
						 NULL};

/* Name of the extension that "CREATE EXTENSION [IF NOT EXISTS] x" makes. */
static char *
extension_name(const char *stmt)
{
	const char *p = stmt;
	size_t n;

	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "CREATE EXTENSION ", 17) != 0)
		return NULL;
	p += 17;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "IF NOT EXISTS ", 14) == 0)
		p += 14;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	} else {
		n = strcspn(p, " ;\n\t");
	}
	return n ? cf_strndup(p, n) : NULL;
}

struct loader {
	const cf_dump *d;
	PGconn *conn;
	int server_version_num;
	cf_dump_stats *stats;
	/* the COPY ... FROM stdin in progress */
	bool in_copy;
	char *copy_sql;
	int copy_line, copy_col, copy_data_line;
	cf_strbuf copybuf;
	/* progress: opts->load_progress, throttled */
	const cf_provision_options *opts;
	cf_load_progress lp;
	double t0_ms, shown_ms;
};

/* Reports progress when 100 ms passed since the last report, or at the end. */
static void
load_progress(struct loader *ld, size_t bytes, bool done)
{
	double now;

	if (!ld->opts || !ld->opts->load_progress)
		return;
	ld->lp.bytes_read += (long long)bytes;
	now = cf_now_ms();
	if (!done && now - ld->shown_ms < 100.0)
		return;
	ld->shown_ms = now;
	ld->lp.elapsed_ms = now - ld->t0_ms;
	ld->lp.done = done;
	ld->opts->load_progress(ld->opts->progress_arg, &ld->lp);
}

/* Sets e's position, line and col in the dump's SQL. */
static void
set_position(const struct loader *ld, cf_error *e, int line, int col)
{
	const cf_dump *d = ld->d;

	if (line <= 0) {
		e->file = cf_strdup(d->path);
	} else if (d->format == CF_DUMP_PLAIN) {
		cf_error_set_where(e, d->path, line, col);
	} else {
		char *old = e->detail;

		e->file = cf_strdup(d->path);
		e->detail = cf_asprintf(
			"%s\n(at line %d of the SQL that pg_restore made of it)",
			old ? old : "", line);
		free(old);
	}
}

/* The hint for a failed statement. */
static void
set_hint(const struct loader *ld, cf_error *e, const cf_error *se,
	 const char *sql)
{
	char *ext = sql ? extension_name(sql) : NULL;
	int major = ld->server_version_num / 10000;

	if (ext) {
		bool contrib = false;

		for (size_t i = 0; contrib_extensions[i]; i++)
			if (strcmp(contrib_extensions[i], ext) == 0)
				contrib = true;
		if (contrib)
			cf_error_set_hint(
				e,
				"extension '%s' is a contrib module: install it on the server host (apt-get install postgresql-contrib-%d; postgresql%d-contrib on RPM systems)",
				ext, major, major);
		else
			cf_error_set_hint(
				e,
				"install extension '%s' on the server host (for example apt-get install postgresql-%d-%s), or load the dump on a server that has it (--server URL)",
				ext, major, ext);
	} else if (strcmp(se->sqlstate, "53200") == 0) {
		cf_error_set_hint(
			e,
			"the server ran out of lock slots: raise max_locks_per_transaction");
	} else if (se->hint) {
		cf_error_set_hint(e, "%s", se->hint);
	} else if (ld->d->keep_owners && strcmp(se->sqlstate, "42704") == 0 &&
		   strstr(se->message, "role")) {
		cf_error_set_hint(
			e,
			"create the role on the server, or load without keeping owners");
	} else {
		cf_error_set_hint(
			e,
			"the dump must load on PostgreSQL %d as is: fix it, or make it again with pg_dump --schema-only",
			major);
	}
	free(ext);
}

/*
 * The "cannot load dump" error for a failed result: at the position the
 * server gives inside the statement (sql, which starts at line:col), or
 * at the COPY data line its CONTEXT names.
 */
static cf_error *
statement_error(const struct loader *ld, const PGresult *res, const char *sql,
		int line, int col, bool copy)
{
	cf_error *se = cf_db_error(ld->conn, res, CF_ERR_CONFIG);
	const char *pos = res ? PQresultErrorField(res,
						   PG_DIAG_STATEMENT_POSITION) :
				NULL;
	cf_error *e;

	if (cf_cancel_requested()) {
		cf_error_free(se);
		return cf_error_new(CF_ERR_CONFIG,
				    "interrupted while loading dump '%s'",
				    ld->d->path);
	}
	if (se->kind == CF_ERR_CONNECT) {
		e = cf_error_new(CF_ERR_CONNECT,
				 "lost the connection while loading dump '%s'",
				 ld->d->path);
		cf_error_set_detail(e, "%s", se->message);
		cf_error_free(se);
		return e;
	}
	e = cf_error_new(CF_ERR_CONFIG, "cannot load dump '%s'", ld->d->path);
	memcpy(e->sqlstate, se->sqlstate, sizeof(e->sqlstate));
	cf_error_set_detail(e, "%s%s%s", se->message, se->detail ? "\n" : "",
			    se->detail ? se->detail : "");
	e->context = se->context ? cf_strdup(se->context) : NULL;
	if (copy && se->context) {
		/* "COPY t, line 2, column x: ..." */
		const char *p = strstr(se->context, ", line ");

		if (p && atoi(p + 7) > 0) {
			line = ld->copy_data_line + atoi(p + 7) - 1;
			col = 0;
		}
	} else if (pos && atoi(pos) > 0 && sql) {
		size_t n = strlen(sql);
		size_t off = cf_utf8_char_offset(sql, n, (size_t)atoi(pos) - 1);
		int l, c;

		cf_text_line_col(sql, off, &l, &c);
		col = l == 1 ? col + c - 1 : c;
		line += l - 1;
	}
	set_position(ld, e, line, col);
	set_hint(ld, e, se, sql);
	cf_error_free(se);
	return e;
}

/* An error about the dump at line:col that the server did not make. */
static cf_error *
load_problem(const struct loader *ld, int line, int col, const char *code,
	     const char *msg, const char *hint)
{
	cf_error *e = cf_error_new(CF_ERR_CONFIG, "cannot load dump '%s'",
				   ld->d->path);

	cf_error_set_detail(e, "%s", msg);
	cf_error_set_hint(e, "%s", hint);
	cf_error_set_code(e, code);
	set_position(ld, e, line, col);
	return e;
}

/*
 * Reads the results of what was sent, up to the end or a COPY FROM STDIN
 * that copy allows (*started).  The first failure is the error.
 */
static int
read_results(struct loader *ld, const char *sql, int line, int col,
	     bool expect_copy, bool copy_data, bool *started, cf_error **err)
{
	cf_error *first = NULL;
	PGresult *res;

	*started = false;
	while ((res = PQgetResult(ld->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_COPY_IN && expect_copy && !first) {
			*started = true;
			PQclear(res);
			return 0;
		}
		if (st == PGRES_COPY_IN) {
			PQputCopyEnd(ld->conn, "not expected by confiture");
			if (!first)
				first = load_problem(
					ld, line, col, "dump-copy-mismatch",
					"the server started COPY FROM STDIN where the dump has no COPY data",
					"use the dump as pg_dump wrote it");
		} else if (st == PGRES_COPY_OUT) {
			char *buf;

			while (PQgetCopyData(ld->conn, &buf, 0) > 0)
				PQfreemem(buf);
		} else if (st == PGRES_COPY_BOTH) {
			if (!first)
				first = load_problem(
					ld, line, col, "dump-copy-mismatch",
					"the dump starts a replication stream",
					"a dump holds no replication commands");
			PQclear(res);
			break;
		} else if (st == PGRES_FATAL_ERROR ||
			   st == PGRES_BAD_RESPONSE ||
			   st == PGRES_NONFATAL_ERROR) {
			if (!first)
				first = statement_error(ld, res, sql, line, col,
							copy_data);
		}
		PQclear(res);
	}
	if (!first && PQstatus(ld->conn) == CONNECTION_BAD)
		first = statement_error(ld, NULL, sql, line, col, false);
	if (!first && expect_copy)
		first = load_problem(
			ld, line, col, "dump-copy-mismatch",
			"the server did not start COPY FROM STDIN for this COPY statement",
			"use the dump as pg_dump wrote it");
	return first ? cf_fail(err, first) : 0;
}

/* After each statement: the server's settings must be the lexer's. */
static int
check_settings(struct loader *ld, cf_sqllex *lx, int line, int col,
	       cf_error **err)
{
	const char *scs = PQparameterStatus(ld->conn,
					    "standard_conforming_strings");
	const char *enc = PQparameterStatus(ld->conn, "client_encoding");
	bool on = scs && strcmp(scs, "on") == 0;

	if (on != cf_sqllex_std_strings(lx))
		return cf_fail(
			err,
			load_problem(
				ld, line, col, "dump-settings",
				"this statement changed standard_conforming_strings in a way confiture does not follow",
				"change it only with SET standard_conforming_strings = on|off, as pg_dump does"));
	if (enc && cf_sqllex_unsafe_encoding(enc))
		return cf_fail(
			err,
			load_problem(
				ld, line, col, "dump-encoding",
				"the client encoding is now one in which a backslash or a quote can be the second byte of a character",
				"make the dump with pg_dump --encoding=UTF8"));
	return 0;
}

static int
put_copy(struct loader *ld, cf_error **err)
{
	if (ld->copybuf.len == 0)
		return 0;
	if (PQputCopyData(ld->conn, ld->copybuf.buf, (int)ld->copybuf.len) != 1)
		return cf_fail(err, statement_error(ld, NULL, ld->copy_sql,
						    ld->copy_line, ld->copy_col,
						    false));
	cf_strbuf_reset(&ld->copybuf);
	return 0;
}

static int
load_statement(struct loader *ld, cf_sqllex *lx, const cf_sqllex_item *it,
	       cf_error **err)
{
	bool started;

	switch (classify(it, ld->d->keep_owners, ld->server_version_num)) {
	case FK_OWNER:
		ld->stats->owner_stmts++;
		return 0;
	case FK_PRIVILEGE:
		ld->stats->privilege_stmts++;
		return 0;
	case FK_OTHER:
		ld->stats->other_stmts++;
		return 0;
	case FK_KEEP:
		break;
	}
	/* extended protocol: one statement, never two */
	if (!PQsendQueryParams(ld->conn, it->text, 0, NULL, NULL, NULL, NULL,
			       0))
		return cf_fail(err,
			       statement_error(ld, NULL, it->text, it->line,
					       it->column, false));
	PQsetSingleRowMode(ld->conn);
	ld->lp.statements++;
	if (read_results(ld, it->text, it->line, it->column, it->copy_in, false,
			 &started, err) < 0)
		return -1;
	if (started) {
		ld->in_copy = true;
		free(ld->copy_sql);
		ld->copy_sql = cf_strdup(it->text);
		ld->copy_line = it->line;
		ld->copy_col = it->column;
		ld->copy_data_line = 0;
	}
	return check_settings(ld, lx, it->line, it->column, err);
}

static int
load_item(struct loader *ld, cf_sqllex *lx, const cf_sqllex_item *it,
	  cf_error **err)
{
	bool started;

	if (cf_cancel_requested())
		return cf_fail(
			err, cf_error_new(CF_ERR_CONFIG,
					  "interrupted while loading dump '%s'",
					  ld->d->path));
	switch (it->kind) {
	case CF_SQLLEX_STATEMENT:
		return load_statement(ld, lx, it, err);
	case CF_SQLLEX_COPY_DATA:
		if (!ld->in_copy)
			return cf_fail(
				err,
				load_problem(
					ld, it->line, 1, "dump-copy-mismatch",
					"COPY data without a COPY in progress",
					"use the dump as pg_dump wrote it"));
		if (ld->copy_data_line == 0)
			ld->copy_data_line = it->line;
		cf_strbuf_add(&ld->copybuf, it->text, it->len);
		return ld->copybuf.len >= COPY_CHUNK ? put_copy(ld, err) : 0;
	case CF_SQLLEX_COPY_END:
		if (!ld->in_copy)
			return 0;
		if (ld->copy_data_line == 0)
			ld->copy_data_line = it->line;
		ld->in_copy = false;
		if (put_copy(ld, err) < 0)
			return -1;
		if (PQputCopyEnd(ld->conn, NULL) != 1)
			return cf_fail(err,
				       statement_error(ld, NULL, ld->copy_sql,
						       ld->copy_line,
						       ld->copy_col, false));
		return read_results(ld, ld->copy_sql, ld->copy_line,
				    ld->copy_col, false, true, &started, err);
	default:
		return 0;
	}
}

/* libpq prints notices on stderr by default; the library never prints. */
static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Connects for a load: url's options (or PGOPTIONS) and ours. */
static int
load_connect(const char *url, const char *dbname, PGconn **conn, cf_error **err)
{
	PQconninfoOption *opts;
	const char *base = getenv("PGOPTIONS");
	cf_error *e = NULL;
	char *options;
	int rc;

	if (cf_pq_load(err) < 0)
		return -1;
	opts = PQconninfoParse(url, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val)
			base = o->val;
	/* Commits of the load need not wait for the disk; the lexer starts
	 * with standard_conforming_strings on, so the server must too. */
	options = cf_asprintf(
		"%s%s-c synchronous_commit=off -c standard_conforming_strings=on",
		base ? base : "", base ? " " : "");
	PQconninfoFree(opts);
	rc = cf_db_connect_db(url, dbname, options, conn, &e);
	free(options);
	if (rc < 0) {
		cf_error_set_hint(
			e,
			"the server that loads the dump must accept connections from this user: check --server, or the embedded server's log");
		return cf_fail(err, e);
	}
	PQsetNoticeProcessor(*conn, quiet, NULL);
	return 0;
}

static int
exec_simple(struct loader *ld, const char *sql, cf_error **err)
{
	PGresult *res = PQexec(ld->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = cf_fail(err, statement_error(ld, res, NULL, 0, 0, false));
	PQclear(res);
	return rc;
}

int
cf_dump_load(const cf_dump *d, const char *bindir, const char *url,
	     const char *dbname, int server_version_num, const char *tmp_dir,
	     bool single_txn, cf_dump_stats *stats,
	     const cf_provision_options *progress, cf_error **err)
{
	struct loader ld = {0};
	long restrict_lines = 0;
	struct stat st;
	int rc;

	(void)bindir;
	(void)tmp_dir;
	memset(stats, 0, sizeof(*stats));
	ld.d = d;
	ld.server_version_num = server_version_num;
	ld.stats = stats;
	ld.opts = progress;
	ld.t0_ms = cf_now_ms(); /* shown_ms 0: the first line reports at once */
	if (fstat(d->fd, &st) == 0 && S_ISREG(st.st_mode))
		ld.lp.bytes_total = (long long)st.st_size;
	cf_strbuf_init(&ld.copybuf);
	if (load_connect(url, dbname, &ld.conn, err) < 0)
		return -1;
	cf_cancel_register(ld.conn);
	rc = single_txn ? exec_simple(&ld, "BEGIN", err) : 0;
	if (rc == 0)
		rc = run_pass(d, NULL, &ld, &restrict_lines, err);
	if (rc == 0 && ld.in_copy)
		rc = cf_fail(err, load_problem(&ld, ld.copy_line, ld.copy_col,
					       "dump-copy-unterminated",
					       "COPY data does not end",
					       "the dump is truncated"));
	if (rc == 0 && single_txn)
		rc = exec_simple(&ld, "COMMIT", err);
	stats->restrict_lines = restrict_lines;
	load_progress(&ld, 0, true);
	cf_cancel_register(NULL);
	PQfinish(ld.conn);
	cf_strbuf_release(&ld.copybuf);
	free(ld.copy_sql);
	return rc;
}
