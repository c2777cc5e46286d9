/*
 * lockwait.h — safe lock waits for `migrate up` and `down` (lockwait.c):
 * a transactional migration that gives up waiting for a lock is tried
 * again after a backoff, and who it waited for is named.  Not installed.
 */
#ifndef CF_LOCKWAIT_H
#define CF_LOCKWAIT_H

#include "db/db.h"

typedef struct cf_lockwait cf_lockwait;

/*
 * Prepares the lock waits of a run on conn (the migrating session, whose
 * backend is watched; conninfo reaches the same database for the monitor
 * connection, opened at the first migration).  lock_timeout_ms (0: none)
 * goes into each transactional migration's session; retries is how often
 * one is tried again.  Never fails: a monitor that cannot connect only
 * leaves the blockers unknown.  Free with cf_lockwait_free().
 */
cf_lockwait *cf_lockwait_new(const char *conninfo, PGconn *conn,
			     int lock_timeout_ms, int retries);

/*
 * cf_engine_apply() of m, tried again while a transactional try fails
 * with SQLSTATE 55P03 (the engine rolled it back) and retries remain,
 * with exponential backoff and jitter.  Each try that gave up is reported
 * to progress->statement_lock_wait and kept in out->lock_waits; the last
 * one's error gets code "lock-timeout", the blockers in its detail and the
 * fix in its hint.  A non-transactional migration is never tried again.
 * Same contract as cf_engine_apply().  lw NULL: cf_engine_apply() alone.
 */
int cf_lockwait_apply(cf_lockwait *lw, cf_engine *e, const cf_migration *m,
		      bool down, const cf_progress *progress, cf_outcome *out);

/* Stops the monitor and frees lw.  NULL is fine. */
void cf_lockwait_free(cf_lockwait *lw);

/* Frees n lock waits and the array (an outcome's lock_waits). */
void cf_lock_waits_free(cf_lock_wait *waits, size_t n);

#endif /* CF_LOCKWAIT_H */
