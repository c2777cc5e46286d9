/* cluster.c — placeholder until the snapshot/restore lands */
#include <stdlib.h>

#include "cluster.h"

struct cf_cluster_snapshot {
	int unused;
};

int
cf_cluster_snapshot_take(PGconn *conn, cf_cluster_snapshot **out, cf_error **err)
{
	(void)conn;
	(void)err;
	*out = cf_new(cf_cluster_snapshot);
	return 0;
}

int
cf_cluster_snapshot_restore(PGconn *conn, const cf_cluster_snapshot *snap,
			    cf_error_list *notes, cf_error **err)
{
	(void)conn;
	(void)snap;
	(void)notes;
	(void)err;
	return 0;
}

void
cf_cluster_snapshot_free(cf_cluster_snapshot *snap)
{
	free(snap);
}

int
cf_cluster_guard_statement(const cf_cluster_snapshot *snap, const void *stmt_json,
			   const char *clone_name, cf_error **err)
{
	(void)snap;
	(void)stmt_json;
	(void)clone_name;
	(void)err;
	return 0;
}
