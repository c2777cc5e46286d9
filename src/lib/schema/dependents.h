/*
 * schema/dependents.h — what depends on an object, read from the catalogs
 * of the database a connection is on (pg_depend, pg_rewrite, ...).
 * Preflight asks just before each statement that replaces, drops or
 * retypes an object.  Not installed.
 */
#ifndef CF_DEPENDENTS_H
#define CF_DEPENDENTS_H

#include "db/db.h"
#include "history/model.h"

/*
 * Whether preflight lists the dependents of object o of statement model m:
 * the view or function of a CREATE OR REPLACE, the column of DROP COLUMN or
 * ALTER COLUMN ... TYPE, the relation or function of a DROP.
 */
bool cf_dependents_wanted(const cf_stmt_model *m, const cf_obj *o);

/*
 * Reads what depends on o (a relation, a column: parent.name, or a
 * function: name with args, or by name alone when args is NULL and the
 * name is unique) on conn: direct dependents, and through views the
 * dependents of those views.  For a relation or function, only what
 * refers to it (deptype normal); for a column also what goes with it
 * (indexes, constraints, owned sequences: deptype auto).
 *
 * Inside a transaction the lookup runs under a savepoint, so that it never
 * aborts the caller's transaction (a lookup that fails is "not found").
 * Returns 1 with *out filled (object, object_kind, items; statement_index
 * and line left to the caller) when o exists, 0 when it does not, -1 with
 * *err when the connection is lost.  The contents of *out are the
 * caller's: cf_statement_dependents_release().
 */
int cf_dependents_read(PGconn *conn, const cf_obj *o,
		       cf_statement_dependents *out, cf_error **err);

/*
 * The source (pg_proc.prosrc) of the function PostgreSQL identifies as
 * identity ("public.f(integer)"), or NULL when it does not exist, has a
 * SQL-standard body, or the lookup failed.  Same savepoint rule as above.
 * Caller frees.
 */
char *cf_function_source(PGconn *conn, const char *identity);

#endif /* CF_DEPENDENTS_H */
