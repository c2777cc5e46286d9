/*
 * dump.c — schema dumps: making one with pg_dump (cf_dump_schema), reading
 * one in any of pg_dump's formats (plain SQL, custom, directory) and
 * loading it into a database with psql.
 *
 * Loading behaves like `pg_restore --no-owner --no-privileges` unless the
 * caller keeps owners.  A streaming filter reads the plain SQL line by line
 * and writes a copy in which the statements to leave out are blank lines,
 * so that psql's line numbers are the dump's own.  Left out:
 *   - ALTER ... OWNER TO ...;  SET/RESET SESSION AUTHORIZATION
 *   - GRANT ...;  REVOKE ...;  ALTER DEFAULT PRIVILEGES ...
 *   - \restrict KEY and \unrestrict KEY (pg_dump 15.14 and later; always)
 *   - SET transaction_timeout = 0; on servers older than 17 (pg_dump 17)
 * The filter knows pg_dump's line shapes: such a statement begins at
 * column 0 of its own line, at a statement boundary.  To tell a boundary
 * from the inside of a function body, it runs a minimal SQL lexer (strings,
 * E'' strings, quoted identifiers, dollar quotes, comments, parentheses)
 * and skips COPY ... FROM stdin data, so a line "GRANT ..." inside $$...$$
 * is kept.  A dropped statement is blanked up to the line holding its ';'.
 * Any other psql meta-command at a boundary (\connect from a --create dump)
 * is refused rather than run.
 *
 * Passwords never reach a command line: client programs get a key=value
 * conninfo without it and the password through PGPASSWORD.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "db/db.h"
#include "provision/paths.h"
#include "provision/provision.h"

#define STDERR_CAP (256 * 1024)

/* ------------------------------------------------------------------------
 * Client programs
 * ------------------------------------------------------------------------ */

/* The highest N with /usr/lib/postgresql/N/bin/name, or 0. */
static int
newest_debian_major(const char *name)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *de;
	int best = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *p;
		int v = atoi(de->d_name);

		if (v <= best)
			continue;
		p = cf_asprintf("/usr/lib/postgresql/%s/bin/%s", de->d_name,
				name);
		if (cf_is_executable(p))
			best = v;
		free(p);
	}
	closedir(d);
	return best;
}

char *
cf_pg_program(const char *name, const char *bindir)
{
	const char *path_env = getenv("PATH");
	char *p;
	int major;

	if (bindir && *bindir) {
		p = cf_asprintf("%s/%s", bindir, name);
		if (cf_is_executable(p))
			return p;
		free(p);
	}
	if ((major = newest_debian_major(name)) > 0)
		return cf_asprintf("/usr/lib/postgresql/%d/bin/%s", major,
				   name);
	while (path_env && *path_env) {
		const char *end = strchr(path_env, ':');
		size_t n = end ? (size_t)(end - path_env) : strlen(path_env);

		if (n > 0) {
			p = cf_asprintf("%.*s/%s", (int)n, path_env, name);
			if (cf_is_executable(p))
				return p;
			free(p);
		}
		path_env = end ? end + 1 : NULL;
	}
	return NULL;
}

/* cf_pg_program(), or -1 with an error saying where it looked. */
static int
find_program(const char *name, const char *bindir, char **prog, cf_error **err)
{
	cf_error *e;

	if ((*prog = cf_pg_program(name, bindir)) != NULL)
		return 0;
	e = cf_error_new(CF_ERR_CONFIG, "cannot find %s", name);
	cf_error_set_detail(e,
			    "looked in %s, /usr/lib/postgresql/*/bin and PATH",
			    bindir ? bindir : "the server's bin directory");
	cf_error_set_hint(
		e,
		"install the PostgreSQL client programs, e.g. apt-get install postgresql-client");
	return cf_fail(err, e);
}

/* Appends a conninfo value, single-quoted with \ and ' escaped. */
static void
add_conninfo_value(cf_strbuf *sb, const char *v)
{
	cf_strbuf_addch(sb, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			cf_strbuf_addch(sb, '\\');
		cf_strbuf_addch(sb, *v);
	}
	cf_strbuf_addch(sb, '\'');
}

/* Parses url with libpq; the error never shows the password. */
static PQconninfoOption *
parse_conninfo(const char *url, cf_error **err)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &errmsg);

	if (!opts) {
		char *red = cf_redact_url(url);
		/* libpq quotes the string, or the token, it could not parse */
		char *m = cf_redact_message(errmsg, url);
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG, "invalid connection string '%s'", red);

		cf_error_set_detail(e, "%s", m ? m : "unparsable");
		cf_error_set_hint(
			e,
			"use a URL such as postgresql://user@host:5432/dbname");
		free(m);
		free(red);
		PQfreemem(errmsg);
		cf_fail(err, e);
	}
	return opts;
}

void
cf_conninfo_add(cf_strbuf *sb, const char *key, const char *value)
{
	if (sb->len)
		cf_strbuf_addch(sb, ' ');
	cf_strbuf_addf(sb, "%s=", key);
	add_conninfo_value(sb, value);
}

int
cf_conninfo_split(const char *url, const char *dbname, char **conninfo,
		  char **password, cf_error **err)
{
	PQconninfoOption *opts;
	cf_strbuf sb = CF_STRBUF_INIT;

	*conninfo = NULL;
	*password = NULL;
	if (!(opts = parse_conninfo(url, err)))
		return -1;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			free(*password);
			*password = cf_strdup(o->val);
			continue;
		}
		if (dbname && strcmp(o->keyword, "dbname") == 0)
			continue;
		cf_conninfo_add(&sb, o->keyword, o->val);
	}
	if (dbname)
		cf_conninfo_add(&sb, "dbname", dbname);
	PQconninfoFree(opts);
	*conninfo = cf_strbuf_detach(&sb);
	return 0;
}

/* Percent-encodes everything but unreserved characters (and '/', ':' and
 * ',' where keep_path). */
static void
add_url_encoded(cf_strbuf *sb, const char *s, bool keep_path)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) ||
		    (keep_path && strchr("/:,", *p)))
			cf_strbuf_addch(sb, (char)*p);
		else
			cf_strbuf_addf(sb, "%%%02X", *p);
	}
}

int
cf_url_for_db(const char *url, const char *dbname, char **out, cf_error **err)
{
	PQconninfoOption *opts;
	cf_strbuf sb = CF_STRBUF_INIT;
	bool first = true;

	*out = NULL;
	if (!(opts = parse_conninfo(url, err)))
		return -1;
	cf_strbuf_addstr(&sb, "postgresql:///");
	add_url_encoded(&sb, dbname, false);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "dbname") == 0)
			continue;
		cf_strbuf_addch(&sb, first ? '?' : '&');
		first = false;
		cf_strbuf_addf(&sb, "%s=", o->keyword);
		add_url_encoded(&sb, o->val, true);
	}
	PQconninfoFree(opts);
	*out = cf_strbuf_detach(&sb);
	return 0;
}

int
cf_run_program(const char *const *argv, const char *const *env,
	       const char *stdout_path, int *status, char **stderr_text,
	       cf_error **err)
{
	int fds[2];
	pid_t pid;
	cf_strbuf sb = CF_STRBUF_INIT;
	char buf[8192];
	ssize_t n;
	int ws;
	double forwarded_at = 0;
	bool killed = false;

	*status = -1;
	*stderr_text = NULL;
	if (cf_cancel_requested()) {
		/* interrupted before it started: as if SIGINT had stopped it */
		*status = 128 + SIGINT;
		*stderr_text = cf_strdup("");
		return 0;
	}
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cf_fail(err, cf_error_new(CF_ERR_INTERNAL,
						 "cannot create a pipe: %s",
						 strerror(errno)));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cf_fail(err, cf_error_new(CF_ERR_INTERNAL,
						 "cannot start '%s': %s",
						 argv[0], strerror(errno)));
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int outfd = stdout_path ?
				    open(stdout_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600) :
				    open("/dev/null", O_WRONLY);

		if (in < 0 || outfd < 0)
			_exit(126);
		dup2(in, 0);
		dup2(outfd, 1);
		dup2(fds[1], 2);
		signal(SIGPIPE, SIG_DFL);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "cannot execute '%s': %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	/*
	 * Read its stderr until it exits.  A cf_cancel() (SIGINT to us only,
	 * not to our process group) is passed on as SIGINT, so psql cancels
	 * its statement and stops; one that lingers is killed after 5 s.
	 */
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int pr = poll(&pfd, 1, 100);

		if (cf_cancel_requested() && forwarded_at == 0) {
			kill(pid, SIGINT);
			forwarded_at = cf_now_ms();
		} else if (forwarded_at > 0 && !killed &&
			   cf_now_ms() - forwarded_at > 5000) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (pr <= 0) {
			if (pr == 0 || errno == EINTR)
				continue;
			break;
		}
		n = read(fds[0], buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (sb.len < STDERR_CAP)
			cf_strbuf_add(&sb, buf, (size_t)n);
	}
	close(fds[0]);
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			ws = 0x7f00;
			break;
		}
	}
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	*stderr_text = cf_strbuf_detach(&sb);
	return 0;
}

/* Removes every occurrence of secret from msg (in place). */
static void
scrub_secret(char *msg, const char *secret)
{
	size_t n;
	char *p;

	if (!msg || !secret || !*secret)
		return;
	n = strlen(secret);
	while ((p = strstr(msg, secret)) != NULL) {
		memmove(p + 3, p + n, strlen(p + n) + 1);
		memcpy(p, "***", 3);
	}
}

/* Trailing newlines and spaces off, in place. */
static char *
chomp(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* A name for a new file in dir: <prefix>-<pid>-<random hex><suffix>. */
static char *
temp_name(const char *dir, const char *prefix, const char *suffix)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)rand();
	return cf_asprintf("%s/%s-%ld-%08x%s", dir, prefix, (long)getpid(), r,
			   suffix);
}

/* PGPASSWORD=... for the child's environment, or NULL. */
static char *
password_env(const char *password)
{
	return password ? cf_asprintf("PGPASSWORD=%s", password) : NULL;
}

int
cf_dump_source_major(const char *path)
{
	static const char marker[] = "-- Dumped from database version ";
	char line[512];
	FILE *f = fopen(path, "r");
	int major = 0;

	if (!f)
		return 0;
	/* pg_dump writes it within the first few lines of the header */
	for (int i = 0; i < 40 && fgets(line, sizeof(line), f); i++) {
		if (strncmp(line, marker, sizeof(marker) - 1) == 0) {
			major = atoi(line + sizeof(marker) - 1);
			break;
		}
	}
	fclose(f);
	return major >= 10 ? major : 0;
}

int
cf_dump_schema(const char *url, const char *bindir, const char *cache_dir,
	       char **dump_path, cf_error **err)
{
	char *prog, *dir, *path, *conninfo = NULL, *password = NULL, *pwenv;
	char *errtext = NULL;
	const char *env[2] = {NULL, NULL};
	int status, rc;

	*dump_path = NULL;
	if (find_program("pg_dump", bindir, &prog, err) < 0)
		return -1;
	dir = cf_cache_subdir(cache_dir, "dumps", err);
	if (!dir ||
	    cf_conninfo_split(url, NULL, &conninfo, &password, err) < 0) {
		free(prog);
		free(dir);
		return -1;
	}
	path = temp_name(dir, "schema", ".sql");
	pwenv = password_env(password);
	env[0] = pwenv;
	{
		const char *argv[] = {
			prog, "--schema-only", "--no-sync", "--file",
			path, "--dbname",      conninfo,    NULL};

		rc = cf_run_program(argv, env, NULL, &status, &errtext, err);
	}
	if (rc == 0 && status != 0 && cf_cancel_requested()) {
		char *red = cf_redact_url(url);

		unlink(path);
		rc = cf_fail(
			err,
			cf_error_new(
				CF_ERR_CONFIG,
				"interrupted while dumping the schema of '%s'",
				red));
		free(red);
	} else if (rc == 0 && status != 0) {
		char *red = cf_redact_url(url);
		bool conn = strstr(errtext, "connection to server") ||
			    strstr(errtext, "could not connect") ||
			    strstr(errtext, "authentication failed");
		cf_error *e = cf_error_new(
			conn ? CF_ERR_CONNECT : CF_ERR_CONFIG,
			"cannot dump the schema of '%s'", red);
		char *shown;

		scrub_secret(errtext, password);
		/* the server quotes a dbname, which may be a whole URL */
		shown = cf_redact_message(errtext, url);
		cf_error_set_detail(e, "%s",
				    *chomp(shown) ? shown : "pg_dump failed");
		free(shown);
		if (strstr(errtext, "server version mismatch"))
			cf_error_set_hint(
				e,
				"install a pg_dump at least as new as the server (package postgresql-client-<major>)");
		else if (conn)
			cf_error_set_hint(
				e,
				"check the URL; libpq's PG* variables and ~/.pgpass fill in what it leaves out");
		free(red);
		unlink(path);
		rc = cf_fail(err, e);
	} else if (rc == 0) {
		*dump_path = path;
		path = NULL;
	}
	free(errtext);
	free(path);
	free(pwenv);
	free(password);
	free(conninfo);
	free(dir);
	free(prog);
	return rc;
}

/* ------------------------------------------------------------------------
 * The minimal SQL lexer
 * ------------------------------------------------------------------------ */

enum lex_state {
	LX_NORMAL = 0,
	LX_SQUOTE,  /* '...' */
	LX_ESTRING, /* E'...' with backslash escapes */
	LX_DQUOTE,  /* "..." */
	LX_DOLLAR,  /* $tag$...$tag$ */
	LX_COMMENT, /* slash-star comment, nested */
};

struct lexer {
	enum lex_state state;
	char tag[64];
	size_t tag_len;
	int depth;	 /* block comment nesting */
	int parens;	 /* ';' inside parentheses does not end a statement */
	bool in_stmt;	 /* a token since the last ';' */
	bool in_buf;	 /* psql's query buffer is not empty */
	int buf_line;	 /* line where psql's query buffer began */
	int ended;	 /* statements that ended on the last line */
	int first_start; /* buf_line of the first of them */
};

static bool
ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' ||
	       ((unsigned char)c & 0x80);
}

/* Marks the start of a token (for psql's buffer when tok is false). */
static void
lex_mark(struct lexer *lx, int lineno, bool tok)
{
	if (tok)
		lx->in_stmt = true;
	if (!lx->in_buf) {
		lx->in_buf = true;
		lx->buf_line = lineno;
	}
}

/*
 * Advances the lexer over one line (with its newline, if any); counts the
 * statements that end on it in lx->ended.
 */
static void
lex_line(struct lexer *lx, const char *s, size_t len, int lineno)
{
	lx->ended = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i], next = i + 1 < len ? s[i + 1] : '\0';

		switch (lx->state) {
		case LX_SQUOTE:
		case LX_ESTRING:
			if (c == '\\' && lx->state == LX_ESTRING)
				i++;
			else if (c == '\'' && next == '\'')
				i++;
			else if (c == '\'')
				lx->state = LX_NORMAL;
			continue;
		case LX_DQUOTE:
			if (c == '"' && next == '"')
				i++;
			else if (c == '"')
				lx->state = LX_NORMAL;
			continue;
		case LX_DOLLAR:
			if (c == '$' && len - i >= lx->tag_len &&
			    memcmp(s + i, lx->tag, lx->tag_len) == 0) {
				i += lx->tag_len - 1;
				lx->state = LX_NORMAL;
			}
			continue;
		case LX_COMMENT:
			if (c == '/' && next == '*') {
				lx->depth++;
				i++;
			} else if (c == '*' && next == '/') {
				i++;
				if (--lx->depth == 0)
					lx->state = LX_NORMAL;
			}
			continue;
		case LX_NORMAL:
			break;
		}
		if (isspace((unsigned char)c))
			continue;
		if (c == '-' && next == '-')
			break; /* comment to the end of the line */
		if (c == '/' && next == '*') {
			lex_mark(lx, lineno, false);
			lx->state = LX_COMMENT;
			lx->depth = 1;
			i++;
			continue;
		}
		if (c == ';' && lx->parens == 0) {
			if (lx->ended++ == 0)
				lx->first_start = lx->in_buf ? lx->buf_line :
							       lineno;
			lx->in_stmt = false;
			lx->in_buf = false;
			continue;
		}
		lex_mark(lx, lineno, true);
		if (c == '(') {
			lx->parens++;
		} else if (c == ')') {
			if (lx->parens > 0)
				lx->parens--;
		} else if (c == '\'') {
			lx->state = (i > 0 &&
				     (s[i - 1] == 'E' || s[i - 1] == 'e') &&
				     (i < 2 || !ident_char(s[i - 2]))) ?
					    LX_ESTRING :
					    LX_SQUOTE;
		} else if (c == '"') {
			lx->state = LX_DQUOTE;
		} else if (c == '$' && (i == 0 || !ident_char(s[i - 1]))) {
			size_t j = i + 1;

			if (j < len &&
			    (isalpha((unsigned char)s[j]) || s[j] == '_' ||
			     ((unsigned char)s[j] & 0x80))) {
				while (j < len && s[j] != '$' &&
				       ident_char(s[j]))
					j++;
			}
			if (j < len && s[j] == '$' &&
			    j - i + 1 < sizeof(lx->tag)) {
				lx->tag_len = j - i + 1;
				memcpy(lx->tag, s + i, lx->tag_len);
				lx->state = LX_DOLLAR;
				i = j;
			}
		}
	}
}

/* ------------------------------------------------------------------------
 * The filter
 * ------------------------------------------------------------------------ */

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* \restrict KEY or \unrestrict KEY (pg_dump 15.14+, differs every run). */
static bool
is_restrict_line(const char *s)
{
	return (starts_with(s, "\\restrict") &&
		(s[9] == ' ' || s[9] == '\n' || s[9] == '\0')) ||
	       (starts_with(s, "\\unrestrict") &&
		(s[11] == ' ' || s[11] == '\n' || s[11] == '\0'));
}

/* Whether the rest of s is ";" and trailing white space. */
static bool
ends_statement(const char *s)
{
	if (*s != ';')
		return false;
	for (s++; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* "ALTER <kind> <name> OWNER TO <role>;" on one line, as pg_dump writes. */
static bool
is_owner_line(const char *s)
{
	const char *p = NULL, *q;

	if (!starts_with(s, "ALTER "))
		return false;
	for (q = s; (q = strstr(q, " OWNER TO ")) != NULL; q++)
		p = q;
	if (!p)
		return false;
	p += strlen(" OWNER TO ");
	if (*p == '"') {
		for (p++; *p; p++) {
			if (*p == '"' && p[1] == '"')
				p++;
			else if (*p == '"')
				break;
		}
		if (*p != '"')
			return false;
		p++;
	} else {
		const char *b = p;

		while (*p && ident_char(*p))
			p++;
		if (p == b)
			return false;
	}
	return ends_statement(p);
}

enum filter_kind {
	FK_KEEP = 0,
	FK_OWNER,
	FK_PRIVILEGE,
	FK_OTHER,
};

/* What to do with a statement that begins on line s at a boundary. */
static enum filter_kind
classify(const char *s, bool keep_owners, int server_version_num)
{
	if (!keep_owners) {
		if (starts_with(s, "GRANT ") || starts_with(s, "REVOKE ") ||
		    starts_with(s, "ALTER DEFAULT PRIVILEGES "))
			return FK_PRIVILEGE;
		if (starts_with(s, "SET SESSION AUTHORIZATION ") ||
		    starts_with(s, "RESET SESSION AUTHORIZATION") ||
		    is_owner_line(s))
			return FK_OWNER;
	}
	if (server_version_num > 0 && server_version_num < 170000 &&
	    starts_with(s, "SET transaction_timeout ="))
		return FK_OTHER;
	return FK_KEEP;
}

/* A line ending "FROM stdin;" starts COPY data (pg_dump's shape). */
static bool
is_copy_from_stdin(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return starts_with(s, "COPY ") && n >= 11 &&
	       strncmp(s + n - 11, "FROM stdin;", 11) == 0;
}

struct filter {
	const cf_dump *d;
	int server_version_num; /* 0: hashing, no version-specific filter */
	FILE *out;		/* NULL: hash only */
	EVP_MD_CTX *md;		/* NULL: filter only */
	cf_dump_stats stats;
};

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

/* An error about the dump, at a line of it when line > 0. */
static cf_error *
dump_error(const cf_dump *d, int line, const char *fmt, const char *arg)
{
	cf_error *e = cf_error_new(CF_ERR_CONFIG, "cannot load dump '%s'",
				   d->path);

	cf_error_set_detail(e, fmt, arg);
	if (line > 0 && d->format == CF_DUMP_PLAIN)
		cf_error_set_where(e, d->path, line, 1);
	return e;
}

/*
 * Reads the dump's SQL once: hashes it (f->md) and/or writes the filtered
 * copy (f->out), blank lines standing for what was left out.
 */
static int
run_filter(struct filter *f, cf_error **err)
{
	FILE *in = fopen(f->d->sql_path, "re");
	struct lexer lx = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	bool dropping = false, copy_data = false;
	int rc = 0;

	if (!in) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot read dump '%s'", f->d->path);

		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	while ((n = getline(&line, &cap, in)) > 0) {
		bool blank = dropping, hash = true;
		bool nl = line[n - 1] == '\n';

		lineno++;
		if (copy_data) {
			if (strcmp(line, "\\.\n") == 0 ||
			    strcmp(line, "\\.") == 0)
				copy_data = false;
		} else if (!dropping && lx.state == LX_NORMAL && !lx.in_stmt) {
			enum filter_kind k;

			if (is_restrict_line(line)) {
				f->stats.restrict_lines++;
				blank = true;
				hash = false;
				goto emit;
			}
			if (line[0] == '\\') {
				char *cmd = cf_strndup(line,
						       strcspn(line, " \n"));
				cf_error *e = dump_error(
					f->d, lineno,
					"the dump runs psql meta-command '%s'",
					cmd);

				cf_error_set_hint(
					e,
					"make the dump of one database with pg_dump --schema-only, without --create");
				free(cmd);
				rc = cf_fail(err, e);
				break;
			}
			k = classify(line, f->d->keep_owners,
				     f->server_version_num);
			if (k != FK_KEEP) {
				dropping = blank = true;
				if (k == FK_OWNER)
					f->stats.owner_stmts++;
				else if (k == FK_PRIVILEGE)
					f->stats.privilege_stmts++;
				else
					f->stats.other_stmts++;
			}
			if (is_copy_from_stdin(line))
				copy_data = true;
			lex_line(&lx, line, (size_t)n, lineno);
			if (lx.ended > 0)
				dropping = false;
		} else {
			lex_line(&lx, line, (size_t)n, lineno);
			if (lx.ended > 0)
				dropping = false;
		}
emit:
		if (f->md && hash)
			EVP_DigestUpdate(f->md, line, (size_t)n);
		if (f->out) {
			if (blank)
				fputs(nl ? "\n" : "", f->out);
			else
				fwrite(line, 1, (size_t)n, f->out);
		}
	}
	if (rc == 0 && ferror(in)) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot read dump '%s'", f->d->path);

		cf_error_set_detail(e, "%s", strerror(errno));
		rc = cf_fail(err, e);
	}
	free(line);
	fclose(in);
	return rc;
}

/* ------------------------------------------------------------------------
 * Opening a dump
 * ------------------------------------------------------------------------ */

/* Format of the dump at path; -1 with *err when it cannot be read. */
static int
detect_format(const char *path, cf_dump_format *fmt, cf_error **err)
{
	struct stat st;
	char magic[5] = {0};
	int fd;

	if (stat(path, &st) < 0) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot open dump '%s'", path);

		cf_error_set_detail(e, "%s", strerror(errno));
		cf_error_set_hint(
			e,
			"make one with pg_dump --schema-only -f prod.sql, or pg_dump -Fc");
		return cf_fail(err, e);
	}
	if (S_ISDIR(st.st_mode)) {
		char *toc = cf_asprintf("%s/toc.dat", path);
		bool ok = access(toc, R_OK) == 0;

		free(toc);
		if (!ok) {
			cf_error *e = cf_error_new(
				CF_ERR_CONFIG, "cannot open dump '%s'", path);

			cf_error_set_detail(
				e, "it is a directory without a toc.dat");
			cf_error_set_hint(
				e,
				"a directory-format dump comes from pg_dump -Fd");
			return cf_fail(err, e);
		}
		*fmt = CF_DUMP_DIRECTORY;
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "cannot open dump '%s'", path);

		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	*fmt = (read(fd, magic, 5) == 5 && memcmp(magic, "PGDMP", 5) == 0) ?
		       CF_DUMP_CUSTOM :
		       CF_DUMP_PLAIN;
	close(fd);
	return 0;
}

/* Turns a custom or directory dump into plain SQL at d->sql_path. */
static int
run_pg_restore(cf_dump *d, const char *bindir, const char *tmp_dir,
	       cf_error **err)
{
	char *prog = cf_pg_program("pg_restore", bindir);
	char *errtext = NULL;
	int status, rc;

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
	d->sql_path = temp_name(tmp_dir, "restore", ".sql");
	d->sql_is_temp = true;
	{
		const char *argv[] = {prog,
				      "--schema-only",
				      "--file",
				      d->sql_path,
				      d->keep_owners ? d->path : "--no-owner",
				      d->keep_owners ? NULL : "--no-privileges",
				      d->keep_owners ? NULL : d->path,
				      NULL};

		rc = cf_run_program(argv, NULL, NULL, &status, &errtext, err);
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
				    *chomp(errtext) ? errtext : "no message");
		if (strstr(errtext, "unsupported version"))
			cf_error_set_hint(
				e,
				"the dump comes from a newer pg_dump: install a pg_restore of that version (package postgresql-client-<major>)");
		rc = cf_fail(err, e);
	}
	free(errtext);
	free(prog);
	return rc;
}

int
cf_dump_open(const char *path, const char *bindir, const char *tmp_dir,
	     bool keep_owners, cf_dump **out, cf_error **err)
{
	cf_dump *d = cf_new(cf_dump);
	struct filter f = {0};
	int rc;

	*out = NULL;
	d->path = cf_strdup(path);
	d->keep_owners = keep_owners;
	if (detect_format(path, &d->format, err) < 0) {
		cf_dump_free(d);
		return -1;
	}
	if (d->format == CF_DUMP_PLAIN) {
		d->sql_path = cf_strdup(path);
	} else if (run_pg_restore(d, bindir, tmp_dir, err) < 0) {
		cf_dump_free(d);
		return -1;
	}
	f.d = d;
	f.md = EVP_MD_CTX_new();
	if (!f.md || !EVP_DigestInit_ex(f.md, EVP_sha256(), NULL))
		abort();
	rc = run_filter(&f, err);
	digest_hex(f.md, d->hash);
	EVP_MD_CTX_free(f.md);
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
	if (d->sql_is_temp && d->sql_path)
		unlink(d->sql_path);
	free(d->sql_path);
	free(d->path);
	free(d);
}

/* ------------------------------------------------------------------------
 * Loading with psql
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

/* Line lineno of file path, without its newline; NULL if missing. */
static char *
read_line(const char *path, int lineno)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = -1;

	if (!f)
		return NULL;
	for (int i = 0; i < lineno && (n = getline(&line, &cap, f)) >= 0; i++)
		;
	fclose(f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	return chomp(line);
}

/*
 * First line of the statement that psql reported at end_line (psql reports
 * the line of the terminating ';'); end_line itself when unsure.
 */
static int
statement_start(const char *path, int end_line)
{
	FILE *f = fopen(path, "re");
	struct lexer lx = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, start = end_line;

	if (!f)
		return end_line;
	while ((n = getline(&line, &cap, f)) > 0 && ++lineno <= end_line) {
		bool at_boundary = lx.state == LX_NORMAL && !lx.in_buf;

		if (at_boundary && line[0] == '\\')
			continue; /* meta-command line (blanked anyway) */
		lex_line(&lx, line, (size_t)n, lineno);
		if (lineno == end_line)
			start = lx.ended > 0 ?
					lx.first_start :
					(lx.in_buf ? lx.buf_line : end_line);
	}
	free(line);
	fclose(f);
	return start;
}

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

/* Parsed psql error report: "psql:FILE:LINE: ERROR:  CODE: message" and
 * the LINE/DETAIL/HINT/CONTEXT lines after it. */
struct psql_error {
	int line;
	char sqlstate[6];
	char *message;
	char *detail;
	char *hint;
	char *context;
	int excerpt_line; /* "LINE k:" */
	int column;	  /* from the caret, when the excerpt is not cut */
};

static void
psql_error_release(struct psql_error *pe)
{
	free(pe->message);
	free(pe->detail);
	free(pe->hint);
	free(pe->context);
}

/* Appends a line to *field (joined with newlines). */
static void
append_field(char **field, const char *s, size_t n)
{
	char *old = *field;

	*field = old ? cf_asprintf("%s\n%.*s", old, (int)n, s) :
		       cf_strndup(s, n);
	free(old);
}

/* Finds psql's report about file in text; false when there is none. */
static bool
parse_psql_error(const char *text, const char *file, struct psql_error *pe)
{
	char *prefix = cf_asprintf("psql:%s:", file);
	const char *p = strstr(text, prefix), *msg;
	char **cur = NULL;
	int excerpt_prefix = 0;
	bool cut = false;

	memset(pe, 0, sizeof(*pe));
	if (p && p != text && p[-1] != '\n') {
		/* not at a line start: look further */
		const char *q = p;

		p = NULL;
		while ((q = strstr(q + 1, prefix)) != NULL)
			if (q[-1] == '\n') {
				p = q;
				break;
			}
	}
	if (!p) {
		free(prefix);
		return false;
	}
	p += strlen(prefix);
	pe->line = atoi(p);
	free(prefix);
	p += strspn(p, "0123456789");
	if (*p == ':')
		p++;
	while (*p == ' ')
		p++;
	if (starts_with(p, "ERROR:") || starts_with(p, "FATAL:"))
		p += 6;
	else if (starts_with(p, "error:"))
		p += 6;
	while (*p == ' ')
		p++;
	if (strlen(p) > 6 &&
	    strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5 &&
	    p[5] == ':') {
		memcpy(pe->sqlstate, p, 5);
		p += 6;
		while (*p == ' ')
			p++;
	}
	msg = p;
	p += strcspn(p, "\n");
	pe->message = cf_strndup(msg, (size_t)(p - msg));
	while (*p == '\n') {
		const char *l = ++p;
		size_t n = strcspn(l, "\n");

		p = l + n;
		if (n == 0 || starts_with(l, "psql:"))
			break;
		if (starts_with(l, "LINE ")) {
			const char *colon = strchr(l, ':');

			pe->excerpt_line = atoi(l + 5);
			excerpt_prefix = colon ? (int)(colon - l) + 2 : 0;
			cut = colon && starts_with(colon + 2, "...");
			cur = NULL;
		} else if (pe->excerpt_line && !pe->column && !cur &&
			   strspn(l, " ") < n && l[strspn(l, " ")] == '^') {
			if (!cut && excerpt_prefix > 0)
				pe->column = (int)strspn(l, " ") -
					     excerpt_prefix + 1;
		} else if (starts_with(l, "DETAIL:")) {
			cur = &pe->detail;
			append_field(cur, l + 9, n > 9 ? n - 9 : 0);
		} else if (starts_with(l, "HINT:")) {
			cur = &pe->hint;
			append_field(cur, l + 7, n > 7 ? n - 7 : 0);
		} else if (starts_with(l, "CONTEXT:")) {
			cur = &pe->context;
			append_field(cur, l + 10, n > 10 ? n - 10 : 0);
		} else if (starts_with(l, "LOCATION:") ||
			   starts_with(l, "QUERY:")) {
			cur = NULL;
		} else if (cur) {
			append_field(cur, l, n);
		}
	}
	if (pe->column < 1)
		pe->column = 0;
	return true;
}

/* Makes the "cannot load dump" error from psql's report. */
static cf_error *
load_error(const cf_dump *d, const char *filtered, const char *errtext,
	   const char *password, int server_version_num)
{
	struct psql_error pe;
	cf_error *e;
	int start, line;
	char *stmt, *ext;

	if (!parse_psql_error(errtext, filtered, &pe)) {
		char *t = cf_strdup(errtext);
		bool conn = strstr(t, "connection to server") ||
			    strstr(t, "could not connect");

		scrub_secret(t, password);
		e = cf_error_new(conn ? CF_ERR_CONNECT : CF_ERR_CONFIG,
				 conn ? "cannot connect to load dump '%s'" :
					"cannot load dump '%s'",
				 d->path);
		cf_error_set_detail(
			e, "%s",
			*chomp(t) ? t : "psql failed without a message");
		free(t);
		return e;
	}
	start = statement_start(filtered, pe.line);
	line = pe.excerpt_line > 0 ? start + pe.excerpt_line - 1 : start;
	e = cf_error_new(CF_ERR_CONFIG, "cannot load dump '%s'", d->path);
	memcpy(e->sqlstate, pe.sqlstate, sizeof(e->sqlstate));
	if (d->format == CF_DUMP_PLAIN) {
		cf_error_set_where(e, d->path, line,
				   pe.excerpt_line > 0 ? pe.column : 0);
		cf_error_set_detail(e, "%s%s%s", pe.message,
				    pe.detail ? "\n" : "",
				    pe.detail ? pe.detail : "");
	} else {
		e->file = cf_strdup(d->path);
		cf_error_set_detail(
			e,
			"%s%s%s\n(at line %d of the SQL that pg_restore made of it)",
			pe.message, pe.detail ? "\n" : "",
			pe.detail ? pe.detail : "", line);
	}
	e->context = pe.context ? cf_strdup(pe.context) : NULL;
	stmt = read_line(filtered, start);
	ext = stmt ? extension_name(stmt) : NULL;
	if (ext) {
		int major = server_version_num / 10000;
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
	} else if (strcmp(pe.sqlstate, "53200") == 0) {
		cf_error_set_hint(
			e,
			"the server ran out of lock slots: raise max_locks_per_transaction");
	} else if (pe.hint) {
		cf_error_set_hint(e, "%s", pe.hint);
	} else if (d->keep_owners && strcmp(pe.sqlstate, "42704") == 0 &&
		   strstr(pe.message, "role")) {
		cf_error_set_hint(
			e,
			"create the role on the server, or load without keeping owners");
	} else {
		cf_error_set_hint(
			e,
			"the dump must load on PostgreSQL %d as is: fix it, or make it again with pg_dump --schema-only",
			server_version_num / 10000);
	}
	free(ext);
	free(stmt);
	psql_error_release(&pe);
	return e;
}

int
cf_dump_load(const cf_dump *d, const char *bindir, const char *url,
	     const char *dbname, int server_version_num, const char *tmp_dir,
	     bool single_txn, cf_dump_stats *stats, cf_error **err)
{
	struct filter f = {0};
	char *prog, *filtered, *conninfo = NULL, *password = NULL;
	char *pwenv = NULL, *optenv = NULL, *errtext = NULL;
	const char *old_opts = getenv("PGOPTIONS");
	const char *env[3] = {NULL, NULL, NULL};
	int status, rc;

	memset(stats, 0, sizeof(*stats));
	if (find_program("psql", bindir, &prog, err) < 0)
		return -1;
	filtered = temp_name(tmp_dir, "load", ".sql");
	f.d = d;
	f.server_version_num = server_version_num;
	if (!(f.out = fopen(filtered, "we"))) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot create '%s'",
					   filtered);

		cf_error_set_detail(e, "%s", strerror(errno));
		free(filtered);
		free(prog);
		return cf_fail(err, e);
	}
	rc = run_filter(&f, err);
	if (fclose(f.out) != 0 && rc == 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot write '%s'",
					   filtered);

		cf_error_set_detail(e, "%s", strerror(errno));
		rc = cf_fail(err, e);
	}
	*stats = f.stats;
	if (rc == 0)
		rc = cf_conninfo_split(url, dbname, &conninfo, &password, err);
	if (rc == 0) {
		const char *argv[] = {prog,
				      "-X",
				      "-q",
				      "-v",
				      "ON_ERROR_STOP=1",
				      "-v",
				      "VERBOSITY=verbose",
				      "-d",
				      conninfo,
				      "-f",
				      filtered,
				      single_txn ? "--single-transaction" :
						   NULL,
				      NULL};
		int k = 0;

		if ((pwenv = password_env(password)) != NULL)
			env[k++] = pwenv;
		/* Commits of the load need not wait for the disk. */
		optenv = cf_asprintf("PGOPTIONS=%s%s-c synchronous_commit=off",
				     old_opts ? old_opts : "",
				     old_opts ? " " : "");
		env[k++] = optenv;
		rc = cf_run_program(argv, env, NULL, &status, &errtext, err);
		if (rc == 0 && status != 0 && cf_cancel_requested())
			rc = cf_fail(
				err,
				cf_error_new(
					CF_ERR_CONFIG,
					"interrupted while loading dump '%s'",
					d->path));
		else if (rc == 0 && status != 0)
			rc = cf_fail(err,
				     load_error(d, filtered, errtext, password,
						server_version_num));
	}
	unlink(filtered);
	free(errtext);
	free(optenv);
	free(pwenv);
	free(password);
	free(conninfo);
	free(filtered);
	free(prog);
	return rc;
}
