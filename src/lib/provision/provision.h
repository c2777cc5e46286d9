/*
 * provision.h — internals shared by the schema-dump code (dump.c) and the
 * template cache (cache.c): running PostgreSQL's client programs without
 * showing a password, and reading and loading dumps.  Not installed.
 */
#ifndef CF_PROVISION_H
#define CF_PROVISION_H

#include <stdbool.h>

#include "base/base.h"

/* dump.c: client programs */

/*
 * Full path of a PostgreSQL client program (psql, pg_dump, pg_restore):
 * bindir first (when not NULL), then the newest /usr/lib/postgresql/N/bin,
 * then PATH.  NULL when not found; caller frees.
 */
char *cf_pg_program(const char *name, const char *bindir);

/* Appends " key='value'" (quoted for libpq) to a conninfo string. */
void cf_conninfo_add(cf_strbuf *sb, const char *key, const char *value);

/*
 * Splits a URL or conninfo string into a key=value conninfo without the
 * password (safe on a command line) and the password (NULL when none), for
 * passing through PGPASSWORD.  dbname, when not NULL, replaces the
 * database.  Both are the caller's.
 */
int cf_conninfo_split(const char *url, const char *dbname, char **conninfo,
		      char **password, cf_error **err);

/*
 * The same connection as url (password included) as a postgresql:// URL
 * for database dbname; caller frees.
 */
int cf_url_for_db(const char *url, const char *dbname, char **out,
		  cf_error **err);

/*
 * Runs argv[0] (a full path) with stdin and stdout on /dev/null (stdout
 * goes to stdout_path when not NULL), setting the NAME=VALUE strings of env
 * (NULL-terminated, may be NULL) in the child.  *status is the exit status
 * (128 + signal when killed); *stderr_text (caller frees) what it wrote on
 * stderr, truncated at 256 kB.  -1 only when it could not be started.
 */
int cf_run_program(const char *const *argv, const char *const *env,
		   const char *stdout_path, int *status, char **stderr_text,
		   cf_error **err);

/* dump.c: reading and loading dumps */

typedef enum cf_dump_format {
	CF_DUMP_PLAIN = 0,
	CF_DUMP_CUSTOM,
	CF_DUMP_DIRECTORY,
} cf_dump_format;

/* An opened dump: its plain SQL and the hash of that SQL's content. */
typedef struct cf_dump {
	char *path; /* as given, for messages */
	cf_dump_format format;
	char *sql_path;	  /* plain SQL: path itself or pg_restore output */
	bool sql_is_temp; /* sql_path is ours to unlink */
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
 * with psql (from bindir or the usual places), through the owner and
 * privilege filter, inside one transaction when single_txn.  A load error
 * is CF_ERR_CONFIG "cannot load dump" with the dump's file:line and the
 * server's message and SQLSTATE; a connection failure is CF_ERR_CONNECT.
 */
int cf_dump_load(const cf_dump *d, const char *bindir, const char *url,
		 const char *dbname, int server_version_num,
		 const char *tmp_dir, bool single_txn, cf_dump_stats *stats,
		 cf_error **err);

#endif /* CF_PROVISION_H */
