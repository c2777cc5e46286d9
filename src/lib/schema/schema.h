/*
 * schema/schema.h — snapshots on a connection the caller already holds
 * (drift and rollback checks snapshot the database they replay on).
 * Not installed.
 */
#ifndef CF_SCHEMA_H
#define CF_SCHEMA_H

#include "db/db.h"

/* snapshot.c */

/*
 * cf_schema_snapshot() on an open connection that is not inside a
 * transaction; leaves it outside one.  Free *out with cf_schema_free().
 */
int cf_schema_snapshot_conn(PGconn *conn, const cf_snapshot_options *opts,
			    cf_schema **out, cf_error **err);

/* Finds an object by kind and name (binary search), or NULL. */
const cf_schema_object *cf_schema_find(const cf_schema *schema,
				       cf_object_kind kind, const char *name);

/* diff.c */

/* Frees what a change owns (not the struct itself). */
void cf_schema_change_release(cf_schema_change *c);
/* Deep copy of src into *dst. */
void cf_schema_change_copy(cf_schema_change *dst, const cf_schema_change *src);

#endif /* CF_SCHEMA_H */
