/*
 * cluster.h — snapshot and restore of a server's cluster-wide state (roles,
 * memberships, per-role and per-database settings, databases, tablespaces,
 * their privileges and comments, ALTER SYSTEM), so that a clone-mode
 * preflight leaves the against server as it found it.
 */
#ifndef CF_CLUSTER_H
#define CF_CLUSTER_H

#include "db.h"

/* Opaque; defined in cluster.c. */
typedef struct cf_cluster_snapshot cf_cluster_snapshot;

/*
 * Reads the cluster-wide state through conn (a maintenance connection, any
 * user).  What the user cannot read (password hashes without superuser,
 * ALTER SYSTEM settings without access to pg_file_settings) is recorded as
 * unknown and later reported once by the restore.  On success *out is the
 * caller's, freed with cf_cluster_snapshot_free(); -1 with *err when a
 * catalog query fails.
 */
int cf_cluster_snapshot_take(PGconn *conn, cf_cluster_snapshot **out,
			     cf_error **err);

/*
 * Names a database created after the snapshot that the restore must leave
 * alone (it otherwise drops every database it does not know).  The name is
 * copied into the snapshot.
 */
void cf_cluster_snapshot_keep_database(cf_cluster_snapshot *snap,
				       const char *name);

/*
 * Compares the server with snap and undoes every difference it can.  Each
 * action is appended to notes as a CF_SEV_NOTICE error, each failure to
 * undo as a CF_SEV_WARNING; notes takes ownership of them.  Returns -1 with
 * *err (caller frees) only when the connection is lost.
 */
int cf_cluster_snapshot_restore(PGconn *conn, const cf_cluster_snapshot *snap,
				cf_error_list *notes, cf_error **err);

/* Frees a snapshot and everything it owns; NULL is fine. */
void cf_cluster_snapshot_free(cf_cluster_snapshot *snap);

/*
 * Called before a replayed statement runs: returns -1 with *err (kind
 * CF_ERR_SQL, code "preflight-refused") when its effect could not be
 * undone — DROP DATABASE or DROP TABLESPACE of one that exists in snap
 * (clone_name, the clone itself, is allowed), DROP ROLE of an existing role
 * when password hashes were unreadable, ALTER SYSTEM when its settings were
 * unreadable.  stmt_json is a jansson json_t * of the statement's parse
 * node object ({"DropdbStmt": {...}}, or its RawStmt wrapper {"stmt":
 * ...}); it is only read.  Returns 0 otherwise.
 */
int cf_cluster_guard_statement(const cf_cluster_snapshot *snap,
			       const void *stmt_json, const char *clone_name,
			       cf_error **err);

#endif /* CF_CLUSTER_H */
