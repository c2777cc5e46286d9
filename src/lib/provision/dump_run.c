/*
 * dump_run.c — PostgreSQL's client programs: finding them, running them
 * without showing a secret, and making a schema dump with pg_dump
 * (cf_dump_schema).  Reading and loading dumps is dump_load.c.
 *
 * No secret reaches a command line, where ps shows it: the password goes
 * through PGPASSWORD, and when the connection holds another secret
 * (sslpassword, which has no environment variable), every parameter but
 * the password goes into a 0600 service file in a private 0700 directory
 * (PGSERVICEFILE), the command line naming only service=confiture.  The
 * file is removed as soon as the program ends.
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

	const char *dirs[2] = {bindir, getenv("CONFITURE_PG_BINDIR")};

	for (int i = 0; i < 2; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		p = cf_asprintf("%s/%s", dirs[i], name);
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
	PQconninfoOption *opts;

	if (cf_pq_load(err) < 0)
		return NULL;
	opts = PQconninfoParse(url, &errmsg);
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
cf_run_program(const char *const *argv, const char *const *env, int stdin_fd,
	       int stdout_fd, int *status, char **stderr_text, cf_error **err)
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
		int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
		int outfd = stdout_fd >= 0 ? stdout_fd :
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
	 * not to our process group) is passed on as SIGINT, so pg_dump or
	 * pg_restore stops; one that lingers is killed after 5 s.
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

char *
cf_chomp(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

char *
cf_temp_name(const char *dir, const char *prefix, const char *suffix)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)rand();
	return cf_asprintf("%s/%s-%ld-%08x%s", dir, prefix, (long)getpid(), r,
			   suffix);
}

/* Connection parameters that are secrets and have no environment
 * variable: never on a command line. */
static const char *const file_secrets[] = {"sslpassword",
					   "oauth_client_secret"};

/* How a client program reaches a server with no secret in its argv. */
struct client_conn {
	char *dbname_arg; /* for --dbname */
	char *secrets[3]; /* password and file secrets, to scrub */
	char *env[3];	  /* PGPASSWORD=, PGSERVICEFILE=; NULL-terminated */
	char *dir;	  /* private directory of the service file */
	char *file;	  /* the service file */
};

static void
client_conn_release(struct client_conn *cc)
{
	if (cc->file)
		unlink(cc->file);
	if (cc->dir)
		rmdir(cc->dir);
	free(cc->file);
	free(cc->dir);
	free(cc->dbname_arg);
	for (int i = 0; i < 3; i++)
		free(cc->secrets[i]);
	for (int i = 0; i < 2; i++)
		free(cc->env[i]);
	memset(cc, 0, sizeof(*cc));
}

static bool
is_file_secret(const char *key)
{
	for (size_t i = 0; i < sizeof(file_secrets) / sizeof(file_secrets[0]);
	     i++)
		if (strcmp(key, file_secrets[i]) == 0)
			return true;
	return false;
}

/* Writes the service file [confiture] with opts but the password. */
static int
write_service_file(struct client_conn *cc, PQconninfoOption *opts,
		   cf_error **err)
{
	const char *tmp = getenv("TMPDIR");
	char *templ = cf_asprintf("%s/confiture-XXXXXX",
				  tmp && *tmp ? tmp : "/tmp");
	cf_strbuf sb = CF_STRBUF_INIT;
	cf_error *e = NULL;
	int fd = -1;

	cf_strbuf_addstr(&sb, "[confiture]\n");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		size_t n;

		if (!o->val || strcmp(o->keyword, "password") == 0)
			continue;
		n = strlen(o->val);
		/* libpq reads key=value to the end of the line, trailing
		 * white space cut */
		if (strpbrk(o->val, "\n\r") ||
		    (n > 0 && isspace((unsigned char)o->val[n - 1]))) {
			e = cf_error_new(
				CF_ERR_CONFIG,
				"cannot pass connection parameter '%s' to pg_dump",
				o->keyword);
			cf_error_set_detail(
				e,
				"its value holds a line break or ends in white space");
			break;
		}
		cf_strbuf_addf(&sb, "%s=%s\n", o->keyword, o->val);
	}
	/* mkdtemp: 0700 and ours, so nobody can swap the file */
	if (!e && !mkdtemp(templ)) {
		e = cf_error_new(CF_ERR_IO,
				 "cannot create a private directory in '%s'",
				 tmp && *tmp ? tmp : "/tmp");
		cf_error_set_detail(e, "%s", strerror(errno));
	} else if (!e) {
		cc->dir = cf_strdup(templ);
		cc->file = cf_asprintf("%s/pg_service.conf", templ);
		fd = open(cc->file,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0 || write(fd, sb.buf, sb.len) != (ssize_t)sb.len ||
		    close(fd) != 0) {
			e = cf_error_new(CF_ERR_IO, "cannot write '%s'",
					 cc->file);
			cf_error_set_detail(e, "%s", strerror(errno));
		}
	}
	memset(sb.buf, 0, sb.len);
	cf_strbuf_release(&sb);
	free(templ);
	return e ? cf_fail(err, e) : 0;
}

/*
 * Splits url for a client program: a key=value conninfo without the
 * password, or service=confiture and a service file when it holds a
 * secret other than the password; the password goes to PGPASSWORD.
 */
static int
client_conn_init(struct client_conn *cc, const char *url, cf_error **err)
{
	PQconninfoOption *opts;
	cf_strbuf sb = CF_STRBUF_INIT;
	const char *service = NULL;
	int k = 0, ns = 0;
	bool secret = false;

	memset(cc, 0, sizeof(*cc));
	if (!(opts = parse_conninfo(url, err)))
		return -1;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "service") == 0)
			service = o->val;
		if (strcmp(o->keyword, "password") == 0) {
			cc->env[k++] = cf_asprintf("PGPASSWORD=%s", o->val);
			cc->secrets[ns++] = cf_strdup(o->val);
		} else if (is_file_secret(o->keyword)) {
			secret = true;
			if (ns < 3)
				cc->secrets[ns++] = cf_strdup(o->val);
		} else {
			cf_conninfo_add(&sb, o->keyword, o->val);
		}
	}
	if (secret && service) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG,
			"cannot pass sslpassword to pg_dump together with service=%s",
			service);

		cf_error_set_hint(
			e,
			"put sslpassword into that service's entry in pg_service.conf");
		PQconninfoFree(opts);
		cf_strbuf_release(&sb);
		client_conn_release(cc);
		return cf_fail(err, e);
	}
	if (secret) {
		cf_strbuf_release(&sb);
		if (write_service_file(cc, opts, err) < 0) {
			PQconninfoFree(opts);
			client_conn_release(cc);
			return -1;
		}
		cc->dbname_arg = cf_strdup("service=confiture");
		cc->env[k++] = cf_asprintf("PGSERVICEFILE=%s", cc->file);
	} else {
		cc->dbname_arg = cf_strbuf_detach(&sb);
	}
	PQconninfoFree(opts);
	return 0;
}

int
cf_dump_schema(const char *url, const char *bindir, const char *cache_dir,
	       char **dump_path, cf_error **err)
{
	char *prog, *dir, *path;
	char *errtext = NULL;
	struct client_conn cc;
	int status, rc;

	*dump_path = NULL;
	if (find_program("pg_dump", bindir, &prog, err) < 0)
		return -1;
	dir = cf_cache_subdir(cache_dir, "dumps", err);
	if (!dir || client_conn_init(&cc, url, err) < 0) {
		free(prog);
		free(dir);
		return -1;
	}
	path = cf_temp_name(dir, "schema", ".sql");
	{
		const char *argv[] = {
			prog, "--schema-only", "--no-sync",   "--file",
			path, "--dbname",      cc.dbname_arg, NULL};

		rc = cf_run_program(argv, (const char *const *)cc.env, -1, -1,
				    &status, &errtext, err);
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

		for (int i = 0; i < 3; i++)
			scrub_secret(errtext, cc.secrets[i]);
		/* the server quotes a dbname, which may be a whole URL */
		shown = cf_redact_message(errtext, url);
		cf_error_set_detail(
			e, "%s", *cf_chomp(shown) ? shown : "pg_dump failed");
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
	client_conn_release(&cc);
	free(dir);
	free(prog);
	return rc;
}
