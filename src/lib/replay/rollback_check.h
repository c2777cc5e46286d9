/*
 * replay/rollback_check.h — `preflight --check-down`: after each migration
 * that passes in clone mode, run its .down.sql, compare the schema with
 * the one before the up, run the up again.  Not installed.
 */
#ifndef CF_ROLLBACK_CHECK_H
#define CF_ROLLBACK_CHECK_H

#include "db/db.h"

/* rollback_check.c */

typedef struct cf_rollback_checker cf_rollback_checker;

/*
 * Snapshots the schema conn reaches: the state before the first
 * migration.  Returns NULL (and *err) when the snapshot fails.  Free with
 * cf_rollback_checker_free().
 */
cf_rollback_checker *cf_rollback_checker_begin(PGconn *conn, cf_error **err);

/*
 * Call after engine applied pm (pm->outcome set), on engine->conn.  When
 * the up passed, checks the down and fills pm->down; the chain continues
 * from the state after the second up.  Otherwise only notes the new
 * state.
 */
void cf_rollback_checker_after(cf_rollback_checker *rc, cf_engine *engine,
			       cf_preflight_migration *pm);

void cf_rollback_checker_free(cf_rollback_checker *rc);

/* Frees what a cf_down_check owns and zeroes it. */
void cf_down_check_release(cf_down_check *d);

#endif /* CF_ROLLBACK_CHECK_H */
