/*
 * snapshot.c — a database's schema read from its catalogs into an
 * in-memory model (cf_schema): one query per kind of object, all in one
 * read-only REPEATABLE READ transaction, so the snapshot is one instant.
 *
 * Every query returns the same shape: kind name, object name, parent
 * name, then the kind's attributes as text (NULL = unset).  search_path is
 * pg_catalog only during the snapshot, so the server's deparsers
 * (format_type, pg_get_indexdef, pg_get_viewdef...) qualify every name the
 * same way on any database, whatever its own search_path.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

/* User schemas: not the system ones, not TOAST, not temporary. */
#define NSF(n)                                                              \
	" " n ".nspname NOT IN ('pg_catalog', 'information_schema') AND " n \
	".nspname !~ '^pg_(toast|temp_)' "
/* Not created by an extension's script. */
#define NOT_EXT(cls, oid)                                                \
	" NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" cls \
	"'::regclass AND e.objid = " oid " AND e.deptype = 'e') "
#define YN(x) " CASE WHEN " x " THEN 'yes' ELSE 'no' END "
/* An ACL with its items sorted: grant order is not a difference. */
#define ACL(x)                                                                \
	" (SELECT string_agg(ai::text, ',' ORDER BY ai::text) FROM unnest(" x \
	") ai) "
#define COMMENT(cls, oid, sub)                                               \
	" (SELECT d.description FROM pg_description d WHERE d.objoid = " oid \
	" AND d.classoid = '" cls "'::regclass AND d.objsubid = " sub ") "
#define SORTED_LIST(x) \
	" (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(" x ") o) "

/* One catalog query and the names of the attributes it returns after
 * kind, name and parent. */
struct snapshot_query {
	const char *sql;
	const char *attrs[15];
};

/* clang-format off */
static const struct snapshot_query queries[] = {
	{"SELECT 'extension', x.extname, NULL, x.extversion, n.nspname,"
	 " pg_get_userbyid(x.extowner), NULL,"
	 COMMENT("pg_extension", "x.oid", "0")
	 " FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace",
	 {"version", "schema", "owner", "grants", "comment"}},

	{"SELECT 'schema', n.nspname, NULL, pg_get_userbyid(n.nspowner),"
	 ACL("n.nspacl") "," COMMENT("pg_namespace", "n.oid", "0")
	 " FROM pg_namespace n"
	 " WHERE" NSF("n") "AND" NOT_EXT("pg_namespace", "n.oid"),
	 {"owner", "grants", "comment"}},

	{"SELECT 'type', n.nspname || '.' || t.typname, NULL,"
	 " CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite'"
	 "  ELSE 'range' END,"
	 " CASE WHEN t.typtype = 'e' THEN (SELECT string_agg("
	 "  quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)"
	 "  FROM pg_enum e WHERE e.enumtypid = t.oid) END,"
	 " CASE WHEN t.typtype = 'c' THEN (SELECT string_agg("
	 "  quote_ident(a.attname) || ' ' || format_type(a.atttypid,"
	 "  a.atttypmod), ', ' ORDER BY a.attnum) FROM pg_attribute a"
	 "  WHERE a.attrelid = t.typrelid AND a.attnum > 0"
	 "  AND NOT a.attisdropped) END,"
	 " CASE WHEN t.typtype = 'r' THEN (SELECT format_type(r.rngsubtype,"
	 "  NULL) FROM pg_range r WHERE r.rngtypid = t.oid) END,"
	 " pg_get_userbyid(t.typowner)," ACL("t.typacl") ","
	 COMMENT("pg_type", "t.oid", "0")
	 " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	 " WHERE" NSF("n") "AND (t.typtype IN ('e', 'r') OR (t.typtype = 'c'"
	 "  AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid"
	 "  AND c.relkind = 'c'))) AND" NOT_EXT("pg_type", "t.oid"),
	 {"kind", "values", "attributes", "subtype", "owner", "grants",
	  "comment"}},

	{"SELECT 'domain', n.nspname || '.' || t.typname, NULL,"
	 " format_type(t.typbasetype, t.typtypmod)," YN("t.typnotnull") ","
	 " pg_get_expr(t.typdefaultbin, 0),"
	 " CASE WHEN t.typcollation <> b.typcollation THEN (SELECT"
	 "  cn.nspname || '.' || co.collname FROM pg_collation co"
	 "  JOIN pg_namespace cn ON cn.oid = co.collnamespace"
	 "  WHERE co.oid = t.typcollation) END,"
	 " pg_get_userbyid(t.typowner)," ACL("t.typacl") ","
	 COMMENT("pg_type", "t.oid", "0")
	 " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	 " JOIN pg_type b ON b.oid = t.typbasetype"
	 " WHERE t.typtype = 'd' AND" NSF("n") "AND" NOT_EXT("pg_type", "t.oid"),
	 {"type", "not null", "default", "collation", "owner", "grants",
	  "comment"}},

	/* identity sequences are part of their column; serial ones are
	 * listed with the column that owns them */
	{"SELECT 'sequence', n.nspname || '.' || c.relname, NULL,"
	 " format_type(s.seqtypid, NULL), s.seqstart::text,"
	 " s.seqincrement::text, s.seqmin::text, s.seqmax::text,"
	 " s.seqcache::text," YN("s.seqcycle") ","
	 " (SELECT rn.nspname || '.' || rc.relname || '.' || ra.attname"
	 "  FROM pg_depend d JOIN pg_class rc ON rc.oid = d.refobjid"
	 "  JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
	 "  JOIN pg_attribute ra ON ra.attrelid = d.refobjid"
	 "  AND ra.attnum = d.refobjsubid"
	 "  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
	 "  AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'"
	 "  LIMIT 1),"
	 " pg_get_userbyid(c.relowner)," ACL("c.relacl") ","
	 COMMENT("pg_class", "c.oid", "0")
	 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " JOIN pg_sequence s ON s.seqrelid = c.oid"
	 " WHERE c.relkind = 'S' AND" NSF("n") "AND" NOT_EXT("pg_class", "c.oid")
	 " AND NOT c.oid = ANY($1::oid[]) AND NOT EXISTS (SELECT 1"
	 "  FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
	 "  AND d.objid = c.oid AND (d.deptype = 'i' OR (d.deptype = 'a'"
	 "  AND d.refobjid = ANY($1::oid[]))))",
	 {"type", "start", "increment", "minimum", "maximum", "cache", "cycle",
	  "owned by", "owner", "grants", "comment"}},

	{"SELECT 'table', n.nspname || '.' || c.relname, NULL,"
	 " CASE c.relkind WHEN 'p' THEN 'partitioned' WHEN 'f' THEN 'foreign'"
	 "  ELSE 'ordinary' END,"
	 " CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END,"
	 " CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,"
	 " CASE WHEN c.relispartition THEN (SELECT pn.nspname || '.' ||"
	 "  pc.relname FROM pg_inherits i JOIN pg_class pc"
	 "  ON pc.oid = i.inhparent JOIN pg_namespace pn"
	 "  ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) || ' ' ||"
	 "  pg_get_expr(c.relpartbound, c.oid) END,"
	 " CASE WHEN NOT c.relispartition THEN (SELECT string_agg("
	 "  pn.nspname || '.' || pc.relname, ', ' ORDER BY i.inhseqno)"
	 "  FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent"
	 "  JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
	 "  WHERE i.inhrelid = c.oid) END,"
	 SORTED_LIST("c.reloptions") "," YN("c.relrowsecurity") ","
	 YN("c.relforcerowsecurity") ","
	 " pg_get_userbyid(c.relowner)," ACL("c.relacl") ","
	 COMMENT("pg_class", "c.oid", "0")
	 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " WHERE c.relkind IN ('r', 'p', 'f') AND" NSF("n")
	 "AND" NOT_EXT("pg_class", "c.oid") "AND NOT c.oid = ANY($1::oid[])",
	 {"kind", "persistence", "partition key", "partition of", "inherits",
	  "options", "row security", "force row security", "owner", "grants",
	  "comment"}},

	{"SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname,"
	 " n.nspname || '.' || c.relname,"
	 " format_type(a.atttypid, a.atttypmod),"
	 " CASE WHEN a.attgenerated = '' THEN"
	 "  pg_get_expr(ad.adbin, ad.adrelid) END,"
	 YN("a.attnotnull") ","
	 " CASE a.attidentity WHEN 'a' THEN 'always'"
	 "  WHEN 'd' THEN 'by default' END,"
	 " CASE WHEN a.attgenerated = 's' THEN"
	 "  pg_get_expr(ad.adbin, ad.adrelid) END,"
	 " CASE WHEN a.attcollation <> t.typcollation THEN (SELECT"
	 "  cn.nspname || '.' || co.collname FROM pg_collation co"
	 "  JOIN pg_namespace cn ON cn.oid = co.collnamespace"
	 "  WHERE co.oid = a.attcollation) END,"
	 ACL("a.attacl") "," COMMENT("pg_class", "c.oid", "a.attnum")
	 " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
	 " JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " JOIN pg_type t ON t.oid = a.atttypid"
	 " LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid"
	 "  AND ad.adnum = a.attnum"
	 " WHERE a.attnum > 0 AND NOT a.attisdropped"
	 " AND c.relkind IN ('r', 'p', 'f') AND" NSF("n")
	 "AND" NOT_EXT("pg_class", "c.oid") "AND NOT c.oid = ANY($1::oid[])",
	 {"type", "default", "not null", "identity", "generated", "collation",
	  "grants", "comment"}},

	/* NOT NULL constraints (PostgreSQL 18) are the column's "not null" */
	{"SELECT 'constraint', coalesce(n.nspname || '.' || c.relname,"
	 "  tn.nspname || '.' || t.typname) || '.' || con.conname,"
	 " coalesce(n.nspname || '.' || c.relname,"
	 "  tn.nspname || '.' || t.typname),"
	 " CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique'"
	 "  WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check'"
	 "  WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger'"
	 "  ELSE con.contype::text END,"
	 " pg_get_constraintdef(con.oid)," YN("con.convalidated") ","
	 COMMENT("pg_constraint", "con.oid", "0")
	 " FROM pg_constraint con"
	 " JOIN pg_namespace cn ON cn.oid = con.connamespace"
	 " LEFT JOIN pg_class c ON c.oid = con.conrelid"
	 " LEFT JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " LEFT JOIN pg_type t ON t.oid = con.contypid"
	 " LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace"
	 " WHERE" NSF("cn") "AND con.contype <> 'n'"
	 " AND (c.oid IS NULL OR c.relkind IN ('r', 'p', 'f'))"
	 " AND NOT con.conrelid = ANY($1::oid[]) AND NOT EXISTS (SELECT 1"
	 "  FROM pg_depend e WHERE e.deptype = 'e'"
	 "  AND ((e.classid = 'pg_class'::regclass AND e.objid = con.conrelid)"
	 "  OR (e.classid = 'pg_type'::regclass AND e.objid = con.contypid)))",
	 {"kind", "definition", "validated", "comment"}},

	/* indexes that back a constraint are part of the constraint */
	{"SELECT 'index', n.nspname || '.' || ic.relname,"
	 " tn.nspname || '.' || tc.relname, pg_get_indexdef(i.indexrelid),"
	 YN("i.indisvalid") "," COMMENT("pg_class", "ic.oid", "0")
	 " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
	 " JOIN pg_namespace n ON n.oid = ic.relnamespace"
	 " JOIN pg_class tc ON tc.oid = i.indrelid"
	 " JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
	 " WHERE" NSF("n") "AND tc.relkind IN ('r', 'p', 'm', 'f')"
	 " AND NOT i.indrelid = ANY($1::oid[]) AND" NOT_EXT("pg_class", "tc.oid")
	 "AND NOT EXISTS (SELECT 1 FROM pg_constraint con"
	 "  WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
	 "  AND con.contype IN ('p', 'u', 'x'))",
	 {"definition", "valid", "comment"}},

	{"SELECT CASE c.relkind WHEN 'v' THEN 'view'"
	 "  ELSE 'materialized view' END,"
	 " n.nspname || '.' || c.relname, NULL, pg_get_viewdef(c.oid),"
	 SORTED_LIST("c.reloptions") ","
	 " pg_get_userbyid(c.relowner)," ACL("c.relacl") ","
	 COMMENT("pg_class", "c.oid", "0")
	 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " WHERE c.relkind IN ('v', 'm') AND" NSF("n")
	 "AND" NOT_EXT("pg_class", "c.oid") "AND NOT c.oid = ANY($1::oid[])",
	 {"definition", "options", "owner", "grants", "comment"}},

	/* named by argument types only: renaming a parameter is a change of
	 * "arguments", not a new function.  %s: the SQL-standard body
	 * (PostgreSQL 14+), or '' */
	{"SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,"
	 " n.nspname || '.' || p.proname || '(' ||"
	 "  oidvectortypes(p.proargtypes) || ')', NULL,"
	 " CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' END,"
	 " pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),"
	 " l.lanname, left(encode(sha256(convert_to(p.prosrc ||"
	 "  coalesce(p.probin, '') || %s, 'UTF8')), 'hex'), 16),"
	 " CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable'"
	 "  ELSE 'volatile' END,"
	 " CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END,"
	 YN("p.proisstrict") "," YN("p.proleakproof") ","
	 " CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted'"
	 "  ELSE 'unsafe' END,"
	 SORTED_LIST("p.proconfig") ","
	 " pg_get_userbyid(p.proowner)," ACL("p.proacl") ","
	 COMMENT("pg_proc", "p.oid", "0")
	 " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
	 " JOIN pg_language l ON l.oid = p.prolang"
	 " WHERE" NSF("n") "AND" NOT_EXT("pg_proc", "p.oid"),
	 {"kind", "arguments", "result", "language", "body hash", "volatility",
	  "security", "strict", "leakproof", "parallel", "config", "owner",
	  "grants", "comment"}},

	{"SELECT 'trigger', n.nspname || '.' || c.relname || '.' || t.tgname,"
	 " n.nspname || '.' || c.relname, pg_get_triggerdef(t.oid),"
	 " CASE t.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled'"
	 "  WHEN 'R' THEN 'replica' ELSE 'always' END,"
	 COMMENT("pg_trigger", "t.oid", "0")
	 " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
	 " JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " WHERE NOT t.tgisinternal AND" NSF("n")
	 "AND" NOT_EXT("pg_class", "c.oid") "AND NOT c.oid = ANY($1::oid[])",
	 {"definition", "enabled", "comment"}},

	{"SELECT 'policy', n.nspname || '.' || c.relname || '.' || p.polname,"
	 " n.nspname || '.' || c.relname,"
	 " CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'"
	 "  WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END,"
	 " CASE WHEN p.polpermissive THEN 'permissive'"
	 "  ELSE 'restrictive' END,"
	 " (SELECT string_agg(CASE WHEN r = 0 THEN 'public'"
	 "  ELSE pg_get_userbyid(r) END, ', ' ORDER BY 1)"
	 "  FROM unnest(p.polroles) r),"
	 " pg_get_expr(p.polqual, p.polrelid),"
	 " pg_get_expr(p.polwithcheck, p.polrelid),"
	 COMMENT("pg_policy", "p.oid", "0")
	 " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
	 " JOIN pg_namespace n ON n.oid = c.relnamespace"
	 " WHERE" NSF("n") "AND NOT c.oid = ANY($1::oid[])",
	 {"command", "mode", "roles", "using", "with check", "comment"}},
};
/* clang-format on */

static const char *const kind_names[CF_SCHEMA_OBJ_KIND_COUNT] = {
	[CF_SCHEMA_OBJ_EXTENSION] = "extension",
	[CF_SCHEMA_OBJ_SCHEMA] = "schema",
	[CF_SCHEMA_OBJ_TYPE] = "type",
	[CF_SCHEMA_OBJ_DOMAIN] = "domain",
	[CF_SCHEMA_OBJ_SEQUENCE] = "sequence",
	[CF_SCHEMA_OBJ_TABLE] = "table",
	[CF_SCHEMA_OBJ_COLUMN] = "column",
	[CF_SCHEMA_OBJ_CONSTRAINT] = "constraint",
	[CF_SCHEMA_OBJ_INDEX] = "index",
	[CF_SCHEMA_OBJ_VIEW] = "view",
	[CF_SCHEMA_OBJ_MATVIEW] = "materialized view",
	[CF_SCHEMA_OBJ_FUNCTION] = "function",
	[CF_SCHEMA_OBJ_PROCEDURE] = "procedure",
	[CF_SCHEMA_OBJ_TRIGGER] = "trigger",
	[CF_SCHEMA_OBJ_POLICY] = "policy",
};

const char *
cf_object_kind_name(cf_object_kind kind)
{
	return kind < CF_SCHEMA_OBJ_KIND_COUNT ? kind_names[kind] : "object";
}

static int
kind_from_name(const char *name, cf_object_kind *kind)
{
	for (int k = 0; k < CF_SCHEMA_OBJ_KIND_COUNT; k++)
		if (strcmp(kind_names[k], name) == 0) {
			*kind = (cf_object_kind)k;
			return 0;
		}
	return -1;
}

/* Attributes the options leave out. */
static bool
attr_wanted(const char *name, const cf_snapshot_options *opts)
{
	if (strcmp(name, "owner") == 0)
		return opts->owners;
	if (strcmp(name, "grants") == 0)
		return opts->grants;
	return true;
}

struct builder {
	cf_schema *schema;
	size_t alloc;
};

/* Appends every row of one query's result to the snapshot. */
static int
add_rows(struct builder *b, const struct snapshot_query *q, PGresult *res,
	 const cf_snapshot_options *opts, cf_error **err)
{
	int rows = PQntuples(res), cols = PQnfields(res);

	for (int r = 0; r < rows; r++) {
		cf_schema_object *o;

		CF_GROW(b->schema->objects, b->alloc, b->schema->n + 1);
		o = &b->schema->objects[b->schema->n];
		memset(o, 0, sizeof(*o));
		if (kind_from_name(PQgetvalue(res, r, 0), &o->kind) < 0)
			return cf_fail(
				err, cf_error_new(CF_ERR_INTERNAL,
						  "snapshot: unknown kind '%s'",
						  PQgetvalue(res, r, 0)));
		b->schema->n++;
		o->name = cf_strdup(PQgetvalue(res, r, 1));
		if (!PQgetisnull(res, r, 2))
			o->parent = cf_strdup(PQgetvalue(res, r, 2));
		o->attrs = cf_calloc((size_t)cols, sizeof(cf_schema_attr));
		for (int c = 3; c < cols && q->attrs[c - 3]; c++) {
			if (PQgetisnull(res, r, c) ||
			    !attr_wanted(q->attrs[c - 3], opts))
				continue;
			o->attrs[o->n_attrs].name = q->attrs[c - 3];
			o->attrs[o->n_attrs++].value = cf_strdup(
				PQgetvalue(res, r, c));
		}
	}
	return 0;
}

static int
object_cmp(const void *pa, const void *pb)
{
	const cf_schema_object *a = pa, *b = pb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->name, b->name);
}

const cf_schema_object *
cf_schema_find(const cf_schema *schema, cf_object_kind kind, const char *name)
{
	cf_schema_object key = {0};

	key.kind = kind;
	key.name = (char *)name;
	return bsearch(&key, schema->objects, schema->n,
		       sizeof(cf_schema_object), object_cmp);
}

/*
 * The oids of the relations to leave out, as an array literal ("{}" when
 * none or none exists).  Resolved with the connection's own search_path,
 * before the snapshot narrows it.  Caller frees.
 */
static char *
excluded_oids(PGconn *conn, const char *const *exclude, cf_error **err)
{
	cf_strbuf names = CF_STRBUF_INIT;
	const char *param;
	PGresult *res;
	char *out;

	cf_strbuf_addch(&names, '{');
	for (size_t i = 0; exclude && exclude[i]; i++) {
		/* array element syntax: double-quote and escape */
		cf_strbuf_addstr(&names, i ? ",\"" : "\"");
		for (const char *p = exclude[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				cf_strbuf_addch(&names, '\\');
			cf_strbuf_addch(&names, *p);
		}
		cf_strbuf_addch(&names, '"');
	}
	cf_strbuf_addch(&names, '}');
	param = cf_strbuf_str(&names);
	res = cf_db_query(conn,
			  "SELECT coalesce(array_agg(to_regclass(x)::oid) "
			  "FILTER (WHERE to_regclass(x) IS NOT NULL), "
			  "'{}')::text FROM unnest($1::text[]) x",
			  1, &param, err);
	cf_strbuf_release(&names);
	if (!res)
		return NULL;
	out = cf_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

static int
run_queries(PGconn *conn, const cf_snapshot_options *opts, struct builder *b,
	    cf_error **err)
{
	int version = PQserverVersion(conn);
	char *oids;
	int rc = 0;

	if (version < 120000) {
		cf_error *e = cf_error_new(
			CF_ERR_CONNECT,
			"schema snapshots need PostgreSQL 12 or later (server is %d.%d)",
			version / 10000, version % 10000);

		cf_error_set_hint(e, "upgrade the server, or compare pg_dump "
				     "--schema-only outputs instead");
		return cf_fail(err, e);
	}
	b->schema->server_version_num = version;
	if (!(oids = excluded_oids(conn, opts->exclude, err)))
		return -1;
	if (cf_db_exec(conn, "SET LOCAL search_path = pg_catalog", err) < 0) {
		free(oids);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < sizeof(queries) / sizeof(queries[0]);
	     i++) {
		const char *param = oids;
		char *sql = strstr(queries[i].sql, "%s") ?
				    cf_asprintf(queries[i].sql,
						version >= 140000 ?
							"coalesce(pg_get_"
							"function_sqlbody("
							"p.oid), '')" :
							"''") :
				    cf_strdup(queries[i].sql);
		PGresult *res = cf_db_query(
			conn, sql, strstr(sql, "$1") ? 1 : 0, &param, err);

		free(sql);
		if (!res) {
			rc = -1;
			break;
		}
		rc = add_rows(b, &queries[i], res, opts, err);
		PQclear(res);
	}
	free(oids);
	return rc;
}

int
cf_schema_snapshot_conn(PGconn *conn, const cf_snapshot_options *opts,
			cf_schema **out, cf_error **err)
{
	static const cf_snapshot_options defaults = {0};
	struct builder b = {0};

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (cf_db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		       err) < 0)
		return -1;
	b.schema = cf_new(cf_schema);
	b.schema->owners = opts->owners;
	b.schema->grants = opts->grants;
	if (run_queries(conn, opts, &b, err) < 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		cf_schema_free(b.schema);
		return -1;
	}
	/* read only: nothing to keep, and COMMIT could not fail usefully */
	PQclear(PQexec(conn, "ROLLBACK"));
	qsort(b.schema->objects, b.schema->n, sizeof(cf_schema_object),
	      object_cmp);
	*out = b.schema;
	return 0;
}

int
cf_schema_snapshot(const char *url, const cf_snapshot_options *opts,
		   cf_schema **out, cf_error **err)
{
	PGconn *conn;
	int rc;

	*out = NULL;
	if (cf_db_connect(url, NULL, &conn, err) < 0)
		return -1;
	rc = cf_schema_snapshot_conn(conn, opts, out, err);
	PQfinish(conn);
	return rc;
}

void
cf_schema_free(cf_schema *schema)
{
	if (!schema)
		return;
	for (size_t i = 0; i < schema->n; i++) {
		cf_schema_object *o = &schema->objects[i];

		for (size_t a = 0; a < o->n_attrs; a++)
			free(o->attrs[a].value);
		free(o->attrs);
		free(o->name);
		free(o->parent);
	}
	free(schema->objects);
	free(schema);
}
