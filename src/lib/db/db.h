/*
 * db.h — the library's internal libpq layer: connections, errors from
 * results, the tracking table and the execution engine.  Not installed.
 */
#ifndef CF_DB_H
#define CF_DB_H

#include "base/base.h"
#include "db/pq.h"

/* db.c */

/*
 * Opens a connection; conninfo may be a URL or key=value string.  Extra GUC
 * settings go into the startup packet's "options" (so RESET ALL returns to
 * them).  Errors never contain the password.  Caller PQfinish()es.
 */
int cf_db_connect(const char *conninfo, const char *options, PGconn **out,
		  cf_error **err);
/* Same server and credentials as conninfo, but database dbname. */
int cf_db_connect_db(const char *conninfo, const char *dbname,
		     const char *options, PGconn **out, cf_error **err);
/* Runs a command that returns no rows; PGRES_COMMAND_OK or TUPLES_OK. */
int cf_db_exec(PGconn *conn, const char *sql, cf_error **err);
/* Like cf_db_exec, with text parameters. */
int cf_db_exec_params(PGconn *conn, const char *sql, int n,
		      const char *const *values, cf_error **err);
/* Runs a query and returns its result (caller PQclear()s) or NULL + err. */
PGresult *cf_db_query(PGconn *conn, const char *sql, int n,
		      const char *const *values, cf_error **err);
/*
 * True when an error means the session is gone rather than the statement
 * failed: the connection is bad, or SQLSTATE (may be NULL) is of class 08
 * or 57P01-57P04.  Errors built by cf_db_error() then have kind
 * CF_ERR_CONNECT (exit code 2).
 */
bool cf_db_connection_lost(PGconn *conn, const char *sqlstate);
/* Builds a cf_error from a failed result, or from the connection. */
cf_error *cf_db_error(PGconn *conn, const PGresult *res, cf_error_kind kind);
/* current_database() of a connection, caller frees. */
char *cf_db_name(PGconn *conn);
/* Makes conn the connection cf_cancel() interrupts (NULL: none). */
void cf_cancel_register(PGconn *conn);
/* True once cf_cancel() was called. */
bool cf_cancel_requested(void);

/* advisory.c (the key itself is cf_lock_key() in lock.c) */

/* Called while waiting for the lock; holder is NULL when it is gone. */
typedef void (*cf_lock_wait_fn)(void *arg, const cf_lock_holder *holder,
				double waited_ms);

/*
 * Takes the migration advisory lock (CF_LOCK_CLASS_ID, cf_lock_key(db)),
 * waiting up to timeout_ms (0 = forever).  Never waits inside the server:
 * it polls pg_try_advisory_lock with backoff, each try a statement of its
 * own outside any transaction, so that a waiting run holds no snapshot a
 * concurrent CREATE INDEX CONCURRENTLY would wait for (a deadlock).
 * on_wait (may be NULL) hears who holds the lock while waiting.  Fails with
 * CF_ERR_LOCK on timeout (detail: the holder), code "interrupted" on
 * cf_cancel().
 */
int cf_lock_acquire(PGconn *conn, int timeout_ms, cf_lock_wait_fn on_wait,
		    void *arg, cf_error **err);
void cf_lock_release(PGconn *conn);
/* Frees the strings of *h and zeroes it (not h itself). */
void cf_lock_holder_release(cf_lock_holder *h);

/* How many characters of another session's statement are shown. */
#define CF_DB_QUERY_SHOWN_CHARS 200
/*
 * Another session's statement, fit to print and to put in JSON: one that
 * mentions a password (ALTER ROLE ... PASSWORD, a conninfo string) is
 * hidden whole, a URL's password is redacted, control characters become
 * spaces, and it is cut to CF_DB_QUERY_SHOWN_CHARS characters (" ..."
 * marks the cut).  Takes ownership of q (may be NULL); caller frees.
 */
char *cf_db_safe_query(char *q);

/* tracking.c */

typedef struct cf_applied {
	char *version;
	char *name;
	char *applied_at;
	int execution_time_ms; /* -1 when NULL */
	char *checksum;	       /* NULL when NULL */
} cf_applied;

typedef struct cf_applied_list {
	cf_applied *items; /* ordered by version (set's order rule) */
	size_t n;
	bool table_exists;
	const cf_applied **by_text; /* items by strcmp() of the version, for
				     * cf_applied_find(); NULL when n == 0 */
} cf_applied_list;

/* "schema"."name" or "name", always quoted; caller frees. */
char *cf_tracking_ident(const cf_config *cfg);
/*
 * Checks the tracking table: *exists is set; when it exists its columns
 * must have the Python tool's shape, else a CF_ERR_TRACKING error.
 */
int cf_tracking_check(PGconn *conn, const cf_config *cfg, bool *exists,
		      cf_error **err);
/* Creates the table and its indexes when missing, then checks it. */
int cf_tracking_ensure(PGconn *conn, const cf_config *cfg, cf_error **err);
/* Reads every row (table must exist, or list->table_exists false). */
int cf_tracking_read(PGconn *conn, const cf_config *cfg, bool numeric,
		     cf_applied_list *list, cf_error **err);
void cf_applied_list_release(cf_applied_list *list);
/* Finds a version in the list, or NULL. */
const cf_applied *cf_applied_find(const cf_applied_list *list,
				  const char *version);
/* The slug for a row: name_YYYYMMDD_HHMMSS[_suffix]; caller frees. */
char *cf_tracking_slug(const char *name, const char *suffix);
/* Inserts one row; slug from cf_tracking_slug. */
int cf_tracking_insert(PGconn *conn, const char *ident, const cf_migration *m,
		       const char *slug, int execution_time_ms, cf_error **err);
int cf_tracking_delete(PGconn *conn, const char *ident, const char *version,
		       cf_error **err);
/*
 * The statements behind cf_tracking_insert (params: slug, version, name,
 * execution_time_ms or NULL for the server's time since BEGIN, checksum)
 * and cf_tracking_delete (param: version); caller frees.
 */
char *cf_tracking_insert_sql(const char *ident);
char *cf_tracking_delete_sql(const char *ident);

/* engine.c */

/* How each migration is wrapped: its own transaction, or a savepoint in a
 * transaction the caller opened (preflight's savepoint mode). */
typedef enum cf_unit {
	CF_UNIT_TRANSACTION = 0,
	CF_UNIT_SAVEPOINT,
} cf_unit;

typedef struct cf_engine {
	PGconn *conn;
	cf_unit unit;
	/* Quoted tracking table; NULL to run without recording rows. */
	const char *tracking_ident;
	/* Non-transactional migrations: run in autocommit when true,
	 * otherwise report them as skipped. */
	bool allow_autocommit;
	/* Called before each statement is sent; may be NULL.  Returning -1
	 * (with *err set) refuses the statement: the migration fails with
	 * that error and the statement is never sent. */
	int (*before_statement)(void *arg, const cf_migration *m,
				const cf_script *script, size_t index,
				cf_error **err);
	/* With before_statement: whether it must see statement index before
	 * it is sent; NULL: every statement.  A unit goes out in pipeline
	 * mode: what was queued before a statement the hook must see is
	 * synced and read first, and the hook runs outside pipeline mode. */
	bool (*statement_hooked)(void *arg, const cf_migration *m,
				 const cf_script *script, size_t index);
	/* With statement_hooked: after a unit went out in pipeline mode, once
	 * its statements' results are read and before before_commit, called
	 * for each statement that ran, in order (up to and including the
	 * one that failed; every one sent when the connection broke); may
	 * be NULL.  It sees what before_statement would have, after the
	 * fact. */
	void (*statement_ran)(void *arg, const cf_migration *m,
			      const cf_script *script, size_t index);
	/* Called inside each migration's transaction just before it commits
	 * (not for autocommit migrations); may be NULL.  -1 fails it. */
	int (*before_commit)(void *arg, PGconn *conn, cf_error **err);
	/* Called after each statement that succeeded, before the next one is
	 * sent: still inside the unit (transaction or savepoint), or just
	 * after it in autocommit; may be NULL.  elapsed_ms times that
	 * statement alone.  It reads the session's state (pg_locks), so
	 * while it is set the engine must send statements one at a time,
	 * each awaited (no pipelining). */
	void (*after_statement)(void *arg, PGconn *conn, const cf_migration *m,
				const cf_script *script, size_t index,
				double elapsed_ms);
	/* Called while a unit's commands are in flight (sent, their replies
	 * not read yet), so that client work needing no database runs while
	 * the server works; may be NULL.  It must not use the connection. */
	void (*while_waiting)(void *arg);
	void *hook_arg;
	/* lock_timeout (ms) of each transactional migration (CF_UNIT_-
	 * TRANSACTION), SET LOCAL as its transaction begins: its own SET
	 * lock_timeout wins, and nothing after its transaction gets it;
	 * 0: the session's own. */
	int lock_timeout_ms;
	/* Statements of the next cf_engine_apply() not to send (one flag
	 * per statement of its script), or NULL; see replay/traces.h. */
	const bool *skip;
	/* Set by the engine when a migration ran in autocommit: the target
	 * holds committed work outside any unit. */
	bool consumed;
	/* The engine's own: the connection whose last unit ended with the
	 * session reset (so the next needs none first).  Nothing but the
	 * engine may change session state (SET, PREPARE, ...) between two
	 * units on one connection. */
	PGconn *clean;
} cf_engine;

/*
 * Applies one migration (its .up.sql, or .down.sql when down) as a unit:
 * reset session state, open the unit, send each statement, record (insert
 * or delete the tracking row), close the unit.  On failure the unit is
 * rolled back and out->error describes the failing statement.  Returns 0
 * when the outcome is OK or SKIPPED, -1 when FAILED.  out->error is owned by
 * the caller (cf_run_result_free or cf_error_free).
 */
int cf_engine_apply(cf_engine *e, const cf_migration *m, bool down,
		    cf_outcome *out);

#endif /* CF_DB_H */
