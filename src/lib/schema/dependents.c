/*
 * dependents.c — what depends on a view, table, column or function, read
 * from the catalogs the server keeps for exactly this (pg_depend), with
 * names as PostgreSQL prints them (pg_identify_object).  A view's
 * dependency is recorded on its rewrite rule: it is shown as the view, and
 * followed, so that what depends on a dependent view is listed too.
 *
 * Called between the statements of a migration being replayed: every query
 * runs under a savepoint inside a transaction, so that a failed lookup (a
 * type that does not exist in an argument list) never aborts the
 * migration's transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/dependents.h"

#define SAVEPOINT "cf_dependents"

bool
cf_dependents_wanted(const cf_stmt_model *m, const cf_obj *o)
{
	bool relation = o->kind == CF_OBJ_RELATION ||
			o->kind == CF_OBJ_FUNCTION;

	if (!m || m->from_tokens || !m->kind)
		return false;
	switch (o->action) {
	case CF_ACT_PROVIDE:
		return o->replace && relation;
	case CF_ACT_ALTER:
		return o->kind == CF_OBJ_COLUMN && o->retyped && o->parent;
	case CF_ACT_REMOVE:
		if (strcmp(m->kind, "DropStmt") == 0)
			return relation;
		return strcmp(m->kind, "AlterTableStmt") == 0 &&
		       o->kind == CF_OBJ_COLUMN && o->parent;
	default:
		return false;
	}
}

/*
 * Reads the results of one pipelined query: the first, and the NULL that
 * ends them.  Returns it when status is ok (a command or rows), else NULL
 * with *e set from it (the first failure only).
 */
static PGresult *
pipe_result(PGconn *conn, cf_error **e)
{
	PGresult *res = PQgetResult(conn), *more;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	while (res && (more = PQgetResult(conn)) != NULL)
		PQclear(more);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	if (!*e && st != PGRES_PIPELINE_ABORTED)
		*e = cf_db_error(conn, res, CF_ERR_INTERNAL);
	PQclear(res);
	return NULL;
}

/*
 * Inside a transaction: SAVEPOINT, the query and RELEASE go out pipelined,
 * in one round trip; a failed query is rolled back to the savepoint (the
 * server skipped the RELEASE).
 */
static PGresult *
guarded_tx(PGconn *conn, const char *sql, int n, const char *const *values,
	   cf_error **e)
{
	PGresult *res = NULL, *sync;

	if (!PQenterPipelineMode(conn))
		goto lost;
	if (!PQsendQueryParams(conn, "SAVEPOINT " SAVEPOINT, 0, NULL, NULL,
			       NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, sql, n, NULL, values, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, "RELEASE SAVEPOINT " SAVEPOINT, 0, NULL,
			       NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(conn))
		goto lost;
	PQclear(pipe_result(conn, e));
	if (!*e)
		res = pipe_result(conn, e);
	PQclear(pipe_result(conn, e));
	sync = PQgetResult(conn);
	if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
		PQclear(sync);
		goto lost;
	}
	PQclear(sync);
	if (!PQexitPipelineMode(conn))
		goto lost;
	if (*e && PQstatus(conn) == CONNECTION_OK &&
	    PQtransactionStatus(conn) == PQTRANS_INERROR)
		PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT " SAVEPOINT
				     "; RELEASE SAVEPOINT " SAVEPOINT));
	if (*e) {
		PQclear(res);
		return NULL;
	}
	return res;
lost:
	PQclear(res);
	if (!*e)
		*e = cf_db_error(conn, NULL, CF_ERR_INTERNAL);
	return NULL;
}

/*
 * Runs a query; under a savepoint when conn is inside a transaction.
 * Returns the result, or NULL: with *err when the connection is lost,
 * without when the query failed (the transaction is as before).
 */
static PGresult *
guarded(PGconn *conn, const char *sql, int n, const char *const *values,
	cf_error **err)
{
	PGresult *res;
	cf_error *e = NULL;

	if (PQtransactionStatus(conn) == PQTRANS_INTRANS)
		res = guarded_tx(conn, sql, n, values, &e);
	else
		res = cf_db_query(conn, sql, n, values, &e);
	if (res)
		return res;
	if (cf_db_connection_lost(conn, e ? e->sqlstate : NULL) && err)
		*err = e;
	else
		cf_error_free(e);
	return NULL;
}

/*
 * Appends one argument type of the model's display ("integer",
 * "character varying", "s.Mood[]"): a part with other characters than
 * lower-case letters, digits, '_', '$' and blanks is quoted, so that a
 * mixed-case type is found (the model keeps names as written, unquoted).
 */
static void
add_type(cf_strbuf *b, const char *t, size_t len)
{
	size_t brackets = 0;

	while (len >= 2 && t[len - 2] == '[' && t[len - 1] == ']') {
		len -= 2;
		brackets++;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		bool plain = true;
		char *part, *q;

		while (j < len && t[j] != '.') {
			plain = plain &&
				((t[j] >= 'a' && t[j] <= 'z') ||
				 (t[j] >= '0' && t[j] <= '9') || t[j] == '_' ||
				 t[j] == '$' || t[j] == ' ');
			j++;
		}
		part = cf_strndup(t + i, j - i);
		q = plain ? NULL : cf_quote_ident(part);
		cf_strbuf_addf(b, "%s%s", i ? "." : "", q ? q : part);
		free(q);
		free(part);
		i = j + 1;
	}
	while (brackets--)
		cf_strbuf_addstr(b, "[]");
}

/* Appends "schema"."name" ("name" without a schema). */
static void
add_qualified(cf_strbuf *b, const char *schema, const char *name)
{
	char *q;

	if (schema) {
		q = cf_quote_ident(schema);
		cf_strbuf_addf(b, "%s.", q);
		free(q);
	}
	q = cf_quote_ident(name);
	cf_strbuf_addstr(b, q);
	free(q);
}

/* "schema.name(args)" quoted for to_regprocedure(); caller frees. */
static char *
function_signature(const cf_obj *o)
{
	cf_strbuf b = CF_STRBUF_INIT;
	const char *a = o->args ? o->args : "";

	add_qualified(&b, o->schema, o->name);
	cf_strbuf_addch(&b, '(');
	while (*a) {
		const char *end = strstr(a, ", ");
		size_t len = end ? (size_t)(end - a) : strlen(a);

		add_type(&b, a, len);
		a += len;
		if (*a) {
			cf_strbuf_addstr(&b, ", ");
			a += 2;
		}
	}
	cf_strbuf_addch(&b, ')');
	return cf_strbuf_detach(&b);
}

/* "schema"."name" of a relation, or of a column's table, for
 * to_regclass(); NULL for an empty name (not found).  Caller frees. */
static char *
relation_name(const cf_obj *o)
{
	const char *name = o->kind == CF_OBJ_COLUMN ? o->parent : o->name;
	cf_strbuf b = CF_STRBUF_INIT;

	if (!*name || (o->schema && !*o->schema))
		return NULL;
	add_qualified(&b, o->schema, name);
	return cf_strbuf_detach(&b);
}

/*
 * Columns of every lookup: classid, objid, objsubid, type, identity, and
 * whether any pg_depend row could start sql_dependents' walk (a superset
 * of its first level): when none does, that query, whose planning costs
 * milliseconds, is not sent.
 */
/* the macro inside the strings breaks clang-format's layout */
/* clang-format off */
#define MAY_HAVE_DEPENDENTS(cls, oid, sub, also)                              \
	" EXISTS (SELECT FROM pg_catalog.pg_depend d"                         \
	"  WHERE d.refclassid = " cls " AND d.refobjid = " oid                \
	"  AND ((" sub " = 0 AND d.deptype = 'n') OR (" sub " <> 0"           \
	"   AND d.refobjsubid = " sub " AND d.deptype IN ('n', 'a')))" also ")"

/* the walk leaves out a column's own default (a table's, when the whole
 * table is asked about), and never follows a default: left out here too,
 * so that a column with a default alone sends no walk */
#define NOT_OWN_DEFAULT                                                      \
	"  AND NOT (d.classid = 'pg_attrdef'::regclass AND EXISTS ("          \
	"   SELECT FROM pg_catalog.pg_attrdef ad WHERE ad.oid = d.objid"      \
	"   AND ad.adrelid = c.oid"                                           \
	"   AND (coalesce(a.attnum, 0) = 0 OR ad.adnum = a.attnum)))"

/* $1 the relation's quoted name, as written (to_regclass() finds it as
 * the statement would, through search_path); $2 a column of it, or '' */
static const char sql_relation[] =
	"SELECT 'pg_class'::regclass::oid, c.oid, coalesce(a.attnum, 0),"
	" i.type, i.identity,"
	MAY_HAVE_DEPENDENTS("'pg_class'::regclass", "c.oid",
			    "coalesce(a.attnum, 0)", NOT_OWN_DEFAULT)
	" FROM pg_catalog.pg_class c"
	" LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid"
	"  AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object("
	"  'pg_class'::regclass, c.oid, coalesce(a.attnum, 0)) i"
	" WHERE c.oid = pg_catalog.to_regclass($1)"
	"  AND ($2 = '' OR a.attnum IS NOT NULL)";

static const char sql_function[] =
	"SELECT 'pg_proc'::regclass::oid, p.oid, 0, i.type, i.identity,"
	MAY_HAVE_DEPENDENTS("'pg_proc'::regclass", "p.oid", "0", "")
	" FROM pg_catalog.pg_proc p"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object("
	"  'pg_proc'::regclass, p.oid, 0) i"
	" WHERE p.oid = pg_catalog.to_regprocedure($1)";

static const char sql_function_name[] =
	"SELECT 'pg_proc'::regclass::oid, p.oid, 0, i.type, i.identity,"
	MAY_HAVE_DEPENDENTS("'pg_proc'::regclass", "p.oid", "0", "")
	" FROM pg_catalog.pg_proc p"
	" JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object("
	"  'pg_proc'::regclass, p.oid, 0) i"
	" WHERE p.proname = $2"
	"  AND CASE WHEN $1 = '' THEN pg_catalog.pg_function_is_visible(p.oid)"
	"      ELSE n.nspname = $1 END";
/* clang-format on */

/*
 * $1 classid, $2 objid, $3 objsubid (0: the whole object).  A whole object
 * has the dependents that refer to it (deptype n); a column also what
 * goes with it (a).  Rewrite rules of views are followed to the views'
 * own dependents; a view's rule on itself is not a dependent.  The CTEs
 * are MATERIALIZED: inlined, each use of a column defined by a scalar
 * subquery copied that subquery, planned and run again (planning took
 * 1.4 ms instead of 0.55).
 */
static const char sql_dependents[] =
	"WITH RECURSIVE deps(classid, objid, objsubid, via, depth) AS ("
	" SELECT d.classid, d.objid, d.objsubid, 0::oid, 1"
	"  FROM pg_catalog.pg_depend d"
	"  WHERE d.refclassid = $1::oid AND d.refobjid = $2::oid"
	"   AND (($3::int = 0 AND d.deptype = 'n')"
	"    OR ($3::int <> 0 AND d.refobjsubid = $3::int"
	"        AND d.deptype IN ('n', 'a')))"
	"   AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite s"
	"    WHERE d.classid = 'pg_rewrite'::regclass AND s.oid = d.objid"
	"     AND $1::oid = 'pg_class'::regclass AND s.ev_class = $2::oid)"
	" UNION"
	" SELECT d.classid, d.objid, d.objsubid, r.ev_class, x.depth + 1"
	"  FROM deps x"
	"  JOIN pg_catalog.pg_rewrite r ON x.classid = 'pg_rewrite'::regclass"
	"   AND r.oid = x.objid AND r.rulename = '_RETURN'"
	"  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_class'::regclass"
	"   AND d.refobjid = r.ev_class AND d.deptype = 'n'"
	"  WHERE x.depth < 8"
	"   AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite s"
	"    WHERE d.classid = 'pg_rewrite'::regclass AND s.oid = d.objid"
	"     AND s.ev_class = r.ev_class)"
	/* what owns each dependent, by scalar subqueries rather than joins:
	 * planning a join of every catalog cost more than the lookup */
	"), owned AS MATERIALIZED ("
	" SELECT x.depth, x.via, x.classid, o.type, o.identity,"
	"  CASE x.classid"
	"   WHEN 'pg_rewrite'::regclass THEN (SELECT ev_class"
	"    FROM pg_catalog.pg_rewrite WHERE oid = x.objid)"
	"   WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid"
	"    FROM pg_catalog.pg_attrdef WHERE oid = x.objid)"
	"   WHEN 'pg_constraint'::regclass THEN (SELECT conrelid"
	"    FROM pg_catalog.pg_constraint WHERE oid = x.objid)"
	"   WHEN 'pg_trigger'::regclass THEN (SELECT tgrelid"
	"    FROM pg_catalog.pg_trigger WHERE oid = x.objid)"
	"   WHEN 'pg_policy'::regclass THEN (SELECT polrelid"
	"    FROM pg_catalog.pg_policy WHERE oid = x.objid)"
	"   WHEN 'pg_class'::regclass THEN (SELECT indrelid"
	"    FROM pg_catalog.pg_index WHERE indexrelid = x.objid)"
	"  END AS owner,"
	"  CASE WHEN x.classid = 'pg_rewrite'::regclass THEN (SELECT"
	"   rulename = '_RETURN' FROM pg_catalog.pg_rewrite"
	"   WHERE oid = x.objid) ELSE false END AS view_rule,"
	"  CASE WHEN x.classid = 'pg_attrdef'::regclass THEN (SELECT adnum"
	"   FROM pg_catalog.pg_attrdef WHERE oid = x.objid) END AS adnum,"
	"  CASE WHEN x.classid = 'pg_constraint'::regclass THEN (SELECT"
	"   contype FROM pg_catalog.pg_constraint WHERE oid = x.objid)"
	"  END AS contype,"
	"  CASE WHEN x.classid = 'pg_class'::regclass THEN (SELECT relkind"
	"   FROM pg_catalog.pg_class WHERE oid = x.objid) END AS relkind"
	" FROM deps x"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object("
	"  x.classid, x.objid, x.objsubid) o"
	"), named AS MATERIALIZED ("
	" SELECT w.*,"
	"  CASE WHEN w.view_rule THEN (SELECT relkind FROM pg_catalog.pg_class"
	"   WHERE oid = w.owner) END AS view_kind,"
	"  CASE WHEN w.adnum IS NOT NULL THEN (SELECT attgenerated"
	"   FROM pg_catalog.pg_attribute"
	"   WHERE attrelid = w.owner AND attnum = w.adnum) END AS generated"
	" FROM owned w"
	/* the column's own default; a table's own parts when the whole
	 * table is asked about (they go with it) */
	" WHERE NOT ($1::oid = 'pg_class'::regclass AND w.owner = $2::oid"
	"  AND (w.adnum IS NOT DISTINCT FROM $3::int OR $3::int = 0))"
	"), labelled AS MATERIALIZED ("
	" SELECT"
	"  CASE WHEN view_rule THEN"
	"    CASE view_kind WHEN 'm' THEN 'materialized view' ELSE 'view' END"
	"   WHEN adnum IS NOT NULL THEN"
	"    CASE WHEN generated = 's' THEN 'generated column'"
	"    ELSE 'default' END"
	"   WHEN contype IS NOT NULL THEN 'constraint'"
	"   WHEN type = 'table column' THEN 'column'"
	"   ELSE type END AS kind,"
	"  CASE WHEN view_rule THEN (pg_catalog.pg_identify_object("
	"    'pg_class'::regclass, owner, 0)).identity"
	"   WHEN adnum IS NOT NULL THEN (pg_catalog.pg_identify_object("
	"    'pg_class'::regclass, owner, adnum)).identity"
	"   ELSE identity END AS name,"
	"  CASE WHEN via <> 0 THEN (pg_catalog.pg_identify_object("
	"    'pg_class'::regclass, via, 0)).identity END AS via,"
	"  coalesce(type = 'index' OR view_kind = 'm' OR generated = 's'"
	"   OR contype IN ('c', 'x') OR relkind = 'p', false) AS stored,"
	"  depth"
	" FROM named"
	")"
	" SELECT kind, name, via, stored FROM ("
	"  SELECT DISTINCT ON (kind, name) kind, name, via, stored, depth"
	"  FROM labelled ORDER BY kind, name, depth, via) u"
	" ORDER BY depth, kind, name";

/* sql_dependents for conn's server: before 12, CTEs had no MATERIALIZED
 * (and were never inlined).  Caller frees. */
static char *
dependents_sql(PGconn *conn)
{
	cf_strbuf b = CF_STRBUF_INIT;
	const char *s = sql_dependents, *m;

	if (PQserverVersion(conn) >= 120000)
		return cf_strdup(sql_dependents);
	while ((m = strstr(s, " MATERIALIZED")) != NULL) {
		cf_strbuf_add(&b, s, (size_t)(m - s));
		s = m + strlen(" MATERIALIZED");
	}
	cf_strbuf_addstr(&b, s);
	return cf_strbuf_detach(&b);
}

static void
add_item(cf_statement_dependents *d, const PGresult *res, int row)
{
	cf_dependent *it;

	d->items = cf_reallocarray(d->items, d->n + 1, sizeof(*d->items));
	it = &d->items[d->n++];
	it->kind = cf_strdup(PQgetvalue(res, row, 0));
	it->name = cf_strdup(PQgetvalue(res, row, 1));
	it->via = PQgetisnull(res, row, 2) ? NULL :
					     cf_strdup(PQgetvalue(res, row, 2));
	it->stored = PQgetvalue(res, row, 3)[0] == 't';
}

int
cf_dependents_read(PGconn *conn, const cf_obj *o, cf_statement_dependents *out,
		   cf_error **err)
{
	const char *params[3];
	char *sig = NULL, *walk_sql;
	PGresult *res = NULL, *deps;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (o->kind == CF_OBJ_FUNCTION && o->args) {
		sig = function_signature(o);
		params[0] = sig;
		res = guarded(conn, sql_function, 1, params, err);
	} else if (o->kind == CF_OBJ_FUNCTION) {
		params[0] = o->schema ? o->schema : "";
		params[1] = o->name;
		res = guarded(conn, sql_function_name, 2, params, err);
	} else if ((o->kind == CF_OBJ_RELATION ||
		    (o->kind == CF_OBJ_COLUMN && o->parent)) &&
		   (sig = relation_name(o))) {
		params[0] = sig;
		params[1] = o->kind == CF_OBJ_COLUMN ? o->name : "";
		res = guarded(conn, sql_relation, 2, params, err);
	}
	free(sig);
	if (!res)
		return err && *err ? -1 : 0;
	/* not there, or an overloaded name without arguments */
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	if (PQgetvalue(res, 0, 5)[0] != 't') {
		out->object_kind = cf_strdup(PQgetvalue(res, 0, 3));
		out->object = cf_strdup(PQgetvalue(res, 0, 4));
		PQclear(res);
		return 1;
	}
	walk_sql = dependents_sql(conn);
	params[0] = PQgetvalue(res, 0, 0);
	params[1] = PQgetvalue(res, 0, 1);
	params[2] = PQgetvalue(res, 0, 2);
	deps = guarded(conn, walk_sql, 3, params, err);
	free(walk_sql);
	if (deps) {
		out->object_kind = cf_strdup(PQgetvalue(res, 0, 3));
		out->object = cf_strdup(PQgetvalue(res, 0, 4));
		for (int i = 0; i < PQntuples(deps); i++)
			add_item(out, deps, i);
		rc = 1;
	} else if (err && *err) {
		rc = -1;
	}
	PQclear(deps);
	PQclear(res);
	return rc;
}

char *
cf_function_source(PGconn *conn, const char *identity)
{
	const char *params[1] = {identity};
	/* a SQL-standard body (14+) is no source text to compare */
	PGresult *res = guarded(
		conn,
		PQserverVersion(conn) >= 140000 ?
			"SELECT prosrc FROM pg_catalog.pg_proc"
			" WHERE oid = pg_catalog.to_regprocedure($1)"
			" AND prosqlbody IS NULL" :
			"SELECT prosrc FROM pg_catalog.pg_proc"
			" WHERE oid = pg_catalog.to_regprocedure($1)",
		1, params, NULL);
	char *src = NULL;

	if (res && PQntuples(res) == 1)
		src = cf_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return src;
}

void
cf_statement_dependents_release(cf_statement_dependents *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].kind);
		free(d->items[i].name);
		free(d->items[i].via);
	}
	free(d->items);
	free(d->object_kind);
	free(d->object);
	memset(d, 0, sizeof(*d));
}
