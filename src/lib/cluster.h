/*
 * cluster.h — snapshot and restore of a server's cluster-wide state (roles,
 * memberships, settings, databases, tablespaces, ALTER SYSTEM), so that a
 * clone-mode preflight leaves the against server as it found it.
 */
#ifndef CF_CLUSTER_H
#define CF_CLUSTER_H

#include "db.h"

typedef struct cf_cluster_snapshot cf_cluster_snapshot;

/* Reads the cluster-wide state; free *out with cf_cluster_snapshot_free(). */
int cf_cluster_snapshot_take(PGconn *conn, cf_cluster_snapshot **out,
			     cf_error **err);
/* Undoes every difference it can; actions and failures go to notes. */
int cf_cluster_snapshot_restore(PGconn *conn, const cf_cluster_snapshot *snap,
				cf_error_list *notes, cf_error **err);
void cf_cluster_snapshot_free(cf_cluster_snapshot *snap);
/* Refuses statements whose effect cannot be undone; stmt_json is a jansson
 * json_t * of the statement's parse node object. */
int cf_cluster_guard_statement(const cf_cluster_snapshot *snap,
			       const void *stmt_json, const char *clone_name,
			       cf_error **err);

#endif /* CF_CLUSTER_H */
