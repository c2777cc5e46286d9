/*
 * clone.h — the clone database of a clone-mode preflight: what must leave
 * it before DROP DATABASE can work (subscriptions, logical replication
 * slots), the check that it is really gone, and the marker that lets the
 * next preflight against the same server repair the against database after
 * a run was killed (SIGKILL, a crash) before its own restore.
 */
#ifndef CF_CLONE_H
#define CF_CLONE_H

#include "db/db.h"
#include "replay/cluster.h"

/*
 * Empties the clone of what makes DROP DATABASE fail (55006 "being
 * used by logical replication subscription", "used by a logical replication
 * slot", 55000 "cannot drop a template database"): the clone is unmarked as a
 * template, each subscription in it is disabled, detached from its slot
 * (slot_name = NONE) and dropped, through a connection to the clone with
 * conninfo's credentials; each logical slot of the clone is dropped through
 * maint.  Each action is appended to notes as a CF_SEV_NOTICE, each failure
 * as a CF_SEV_WARNING (code "cluster-not-restored") with the command; a
 * dropped subscription that named a slot adds a CF_SEV_WARNING (code
 * "reaches-other-databases") with the command that drops the slot on its
 * publisher, which the preflight cannot reach.  notes takes ownership.
 */
void cf_clone_clear(PGconn *maint, const char *conninfo, const char *clone,
		    cf_error_list *notes);

/* 1 when a database named clone exists, 0 when not, -1 with *err (caller
 * frees) when the query fails. */
int cf_clone_exists(PGconn *maint, const char *clone, cf_error **err);

/*
 * Closes conn (PQfinish(), which takes it; NULL is fine) and waits, a
 * second at most, until its server process has exited.  A backend still
 * going away counts as a session in its database: CREATE DATABASE ...
 * TEMPLATE and DROP DATABASE then wait for it in steps of 100 ms.
 */
void cf_clone_finish(PGconn *conn);

/*
 * What the next run needs to repair the against database if this one is
 * killed: the database's own state before the replay (name, options,
 * owner, per-database settings, comment), whether a replayed statement
 * named it, and the transaction ids the replay wrote shared catalog rows
 * under.  Saved as the clone's COMMENT, so that it lives on the server
 * (CI runners come and go) and disappears with the clone.  Opaque.
 */
typedef struct cf_clone_marker cf_clone_marker;

/*
 * Reads the state of the against database through maint into a new marker
 * for clone; *out is the caller's (cf_clone_marker_free()).  -1 with *err
 * when the query fails or the database is not found.
 */
int cf_clone_marker_new(PGconn *maint, const char *against, const char *clone,
			cf_clone_marker **out, cf_error **err);

/*
 * Writes the marker as the clone's COMMENT when it changed since the last
 * write: named is whether a replayed statement names the against database
 * (call it before that statement runs), scope gives the xids (call it before
 * the migration's COMMIT).  -1 with *err when COMMENT fails.
 */
int cf_clone_marker_save(PGconn *maint, cf_clone_marker *m, bool named,
			 const cf_cluster_scope *scope, cf_error **err);

/* The restore ran: empties the marker, so that a clone that could not be
 * dropped is not "repaired" again by the next run.  Errors are ignored. */
void cf_clone_marker_done(PGconn *maint, cf_clone_marker *m);

/* Frees a marker; NULL is fine. */
void cf_clone_marker_free(cf_clone_marker *m);

/*
 * Repairs after killed runs.  A clone owned by the current user, with a
 * marker and no session whose application_name is the clone's name (a live
 * run sets it on its maintenance connection) belongs to a dead run: its subscriptions and
 * slots are cleared, it is dropped (WITH FORCE: the dead run's backends may
 * still be busy), and the against database's name, options, owner,
 * per-database settings and comment are put back where the marker
 * attributes their change to that run (its xids, or a statement that named
 * the database).  Each action is a CF_SEV_NOTICE (code
 * "stale-preflight-repaired"), each failure a CF_SEV_WARNING (code
 * "stale-preflight"), appended to notes.  A database another role owns is
 * never trusted, whatever its comment says: it could forge a marker.
 */
void cf_clone_repair_stale(PGconn *maint, const char *conninfo,
			   cf_error_list *notes);

#endif /* CF_CLONE_H */
