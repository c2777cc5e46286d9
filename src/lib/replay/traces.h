/*
 * traces.h — what an interrupted run of a non-transactional migration
 * leaves behind, found before the migration runs again.  Not installed.
 */
#ifndef CF_TRACES_H
#define CF_TRACES_H

#include "db/db.h"

typedef struct cf_traces {
	/* Statements of the script not to send (a valid index kept under
	 * repair); n_stmts entries, or NULL when every statement runs. */
	bool *skip;
	/* What was found and done (repairs, unnamed indexes); owned. */
	cf_error_list notes;
} cf_traces;

/*
 * Looks, for each CREATE INDEX CONCURRENTLY of script (a pending
 * non-transactional migration m about to run on conn, under the migration
 * lock), for an index of that name: being built by another session (an
 * error), INVALID (an error; with repair dropped here with DROP INDEX
 * CONCURRENTLY), or valid although the migration is not recorded (an
 * error; with repair kept, and the statement marked to skip, as IF NOT
 * EXISTS would).  An index created by IF NOT EXISTS, or dropped by an
 * earlier statement of the same script, is not a trace.  Returns 0 with
 * out filled (release with cf_traces_release), or -1 with *err: the traces
 * found, with file:line:col of the statement and the remedy, or a
 * connection error.
 */
int cf_traces_check(PGconn *conn, const cf_migration *m,
		    const cf_script *script, bool repair, cf_traces *out,
		    cf_error **err);
void cf_traces_release(cf_traces *t);

/*
 * After m failed at statement failed_statement (1-based; 0 unknown), adds
 * to notes a warning for each index its CREATE INDEX CONCURRENTLY
 * statements left: INVALID ones, and valid ones built before the failure
 * (the migration is not recorded, so the next run will stop at them).
 * Does nothing when the connection is gone.
 */
void cf_traces_after_failure(PGconn *conn, const cf_migration *m,
			     const cf_script *script, int failed_statement,
			     cf_error_list *notes);

#endif /* CF_TRACES_H */
