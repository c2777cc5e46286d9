/*
 * provision.h — internals shared by the schema-dump code (dump_run.c,
 * dump_load.c; the lexer is sqllex.h) and the template cache (cache.c):
 * running PostgreSQL's client programs without showing a secret, and
 * reading and loading dumps.  Not installed.
 */
#ifndef CF_PROVISION_H
#define CF_PROVISION_H

#include <stdbool.h>

#include "base/base.h"

/* dump_run.c: client programs */

/*
 * Full path of a PostgreSQL client program (pg_dump, pg_restore): bindir
 * first (when not NULL), then $CONFITURE_PG_BINDIR, then the newest
 * /usr/lib/postgresql/N/bin, then PATH.  NULL when not found; caller
 * frees.
 */
char *cf_pg_program(const char *name, const char *bindir);

/* Appends " key='value'" (quoted for libpq) to a conninfo string. */
void cf_conninfo_add(cf_strbuf *sb, const char *key, const char *value);

/*
 * The same connection as url (password included) as a postgresql:// URL
 * for database dbname; caller frees.
 */
int cf_url_for_db(const char *url, const char *dbname, char **out,
		  cf_error **err);

/*
 * Runs argv[0] (a full path) with stdin on stdin_fd and stdout on
 * stdout_fd (/dev/null for -1; the fds stay the caller's), setting the
 * NAME=VALUE strings of env (NULL-terminated, may be NULL) in the child.
 * *status is the exit status (128 + signal when killed); *stderr_text
 * (caller frees) what it wrote on stderr, truncated at 256 kB.  -1 only
 * when it could not be started.
 */
int cf_run_program(const char *const *argv, const char *const *env,
		   int stdin_fd, int stdout_fd, int *status, char **stderr_text,
		   cf_error **err);

/* Trailing newlines and spaces off s, in place; returns s. */
char *cf_chomp(char *s);

/* A name for a new file in dir: <prefix>-<pid>-<random hex><suffix>;
 * caller frees. */
char *cf_temp_name(const char *dir, const char *prefix, const char *suffix);

/* dump_load.c: reading and loading dumps */

typedef enum cf_dump_format {
	CF_DUMP_PLAIN = 0,
	CF_DUMP_CUSTOM,
	CF_DUMP_DIRECTORY,
} cf_dump_format;

/* An opened dump: its plain SQL and the hash of that SQL's content. */
typedef struct cf_dump {
	char *path; /* as given, for messages */
	cf_dump_format format;
	int fd;		/* its plain SQL, open: the file itself, or the
			 * unlinked pg_restore output */
	char *sql_name; /* the SQL's name in lexer errors */
	bool keep_owners;
	char hash[65]; /* SHA-256 of the SQL without \restrict lines */
} cf_dump;

/* What the load filter left out. */
typedef struct cf_dump_stats {
	long owner_stmts; /* ALTER ... OWNER TO, SET SESSION AUTHORIZATION */
	long privilege_stmts; /* GRANT, REVOKE, ALTER DEFAULT PRIVILEGES */
	long restrict_lines;  /* \restrict, \unrestrict */
	long other_stmts;     /* settings the server does not know */
} cf_dump_stats;

/*
 * Checks that path may be read as a dump: a regular file, or a directory
 * holding a regular toc.dat (*is_dir), not a symbolic link, FIFO or
 * device; opened without blocking.  The open fd goes to *fd (caller
 * closes) when fd is not NULL.  Errors are CF_ERR_CONFIG about the dump.
 */
int cf_dump_check(const char *path, int *fd, bool *is_dir, cf_error **err);

/*
 * Opens a dump: detects its format, turns custom and directory formats
 * into plain SQL with pg_restore (found in bindir or the usual places) in
 * tmp_dir, and hashes the SQL.  Errors are CF_ERR_CONFIG about the dump.
 * Free with cf_dump_free(), which removes the temporary SQL.
 */
int cf_dump_open(const char *path, const char *bindir, const char *tmp_dir,
		 bool keep_owners, cf_dump **out, cf_error **err);
void cf_dump_free(cf_dump *d);

/*
 * The PostgreSQL major version a plain-format dump was taken from ("--
 * Dumped from database version 15.20" in its header), or 0 when unknown
 * (custom and directory formats, hand-written SQL, versions before 10).
 */
int cf_dump_source_major(const char *path);

/*
 * Loads the dump into database dbname of the server that url reaches,
 * through libpq (no client program; bindir and tmp_dir are unused),
 * statement by statement as sqllex.c splits it, leaving out what the
 * owner and privilege filter drops, inside one transaction when
 * single_txn.  A psql meta-command is an error before anything runs
 * (cf_dump_open).  A load error is CF_ERR_CONFIG "cannot load dump" with
 * the dump's file:line:col and the server's message and SQLSTATE; a
 * connection failure is CF_ERR_CONNECT.  progress (may be NULL) is called
 * as cf_provision_options.load_progress says.
 */
int cf_dump_load(const cf_dump *d, const char *bindir, const char *url,
		 const char *dbname, int server_version_num,
		 const char *tmp_dir, bool single_txn, cf_dump_stats *stats,
		 const cf_provision_options *progress, cf_error **err);

#endif /* CF_PROVISION_H */
