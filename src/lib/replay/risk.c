/*
 * risk.c — from what the replay measured (risk_trace.c) and production's
 * sizes (prod_sizes.c) to a tier, a reason and an estimated lock time per
 * statement and per migration, and the change_set in the Python tool's
 * shape.  The estimate is this server's throughput, calibrated once per
 * run on a sample table, times production's bytes (docs/risk.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

#include "replay/risk.h"

/* A blocking lock held longer than this makes a change lock_risky. */
#define RISKY_MS 1000.0
#define CALIBRATION_ROWS 100000

static const char *const tier_names[] = {
	"",	      "additive",    "reversible",
	"lock_risky", "destructive", "irreversible",
};

const char *
cf_tier_name(cf_tier tier)
{
	return tier <= CF_TIER_IRREVERSIBLE ? tier_names[tier] : "";
}

const char *
cf_blocks_name(cf_blocks b)
{
	return b == CF_BLOCKS_ALL    ? "reads and writes" :
	       b == CF_BLOCKS_WRITES ? "writes" :
				       "nothing";
}

/* The lock mode's conflicts with what applications do: SELECT takes
 * ACCESS SHARE, INSERT/UPDATE/DELETE ROW EXCLUSIVE. */
static cf_blocks
mode_blocks(const char *mode)
{
	if (!mode)
		return CF_BLOCKS_NOTHING;
	if (strcmp(mode, "ACCESS EXCLUSIVE") == 0)
		return CF_BLOCKS_ALL;
	if (strcmp(mode, "SHARE") == 0 ||
	    strcmp(mode, "SHARE ROW EXCLUSIVE") == 0 ||
	    strcmp(mode, "EXCLUSIVE") == 0)
		return CF_BLOCKS_WRITES;
	return CF_BLOCKS_NOTHING;
}

/* ---- what a statement changes, from its parse tree ---- */

typedef struct change {
	char *kind;
	char *object;
	cf_tier tier;
	const char *what; /* static, for the reason: "drops ... data" */
} change;

typedef struct changes {
	change *items;
	size_t n;
} changes;

static void
push(changes *cs, const char *kind, char *object, cf_tier tier,
     const char *what)
{
	cs->items = cf_reallocarray(cs->items, cs->n + 1, sizeof(change));
	cs->items[cs->n++] = (change){cf_strdup(kind), object, tier, what};
}

static void
changes_release(changes *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->items[i].kind);
		free(cs->items[i].object);
	}
	free(cs->items);
	memset(cs, 0, sizeof(*cs));
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* schema.name of a RangeVar (typed fields are not wrapped in JSON). */
static char *
rangevar(json_t *rv)
{
	const char *s = jstr(rv, "schemaname"), *n = jstr(rv, "relname");

	if (!n)
		return NULL;
	return s ? cf_asprintf("%s.%s", s, n) : cf_strdup(n);
}

/* A dotted name from a list of String nodes. */
static char *
name_list(json_t *items)
{
	cf_strbuf sb;
	size_t i;
	json_t *v;

	cf_strbuf_init(&sb);
	json_array_foreach(items, i, v)
	{
		const char *s = json_string_value(
			json_object_get(json_object_get(v, "String"), "sval"));

		if (s)
			cf_strbuf_addf(&sb, "%s%s", sb.len ? "." : "", s);
	}
	return cf_strbuf_detach(&sb);
}

static void
alter_table(changes *cs, json_t *n)
{
	char *rel = rangevar(json_object_get(n, "relation"));
	json_t *cmds = json_object_get(n, "cmds"), *c;
	size_t i;

	json_array_foreach(cmds, i, c)
	{
		json_t *cmd = json_object_get(c, "AlterTableCmd");
		const char *st = jstr(cmd, "subtype"), *col = jstr(cmd, "name");
		char *obj = col ? cf_asprintf("%s.%s", rel ? rel : "?", col) :
				  cf_strdup(rel);
		json_t *con = json_object_get(json_object_get(cmd, "def"),
					      "Constraint");
		const char *kind = "alter_table", *what = NULL;
		cf_tier tier = CF_TIER_REVERSIBLE;

		if (!st)
			st = "";
		if (strcmp(st, "AT_AddColumn") == 0) {
			json_t *cd = json_object_get(
				json_object_get(cmd, "def"), "ColumnDef");

			free(obj);
			obj = cf_asprintf("%s.%s", rel ? rel : "?",
					  jstr(cd, "colname") ?
						  jstr(cd, "colname") :
						  "?");
			kind = "add_column";
			tier = CF_TIER_ADDITIVE;
		} else if (strcmp(st, "AT_DropColumn") == 0) {
			kind = "drop_column";
			tier = CF_TIER_IRREVERSIBLE;
			what = "the column's data is gone for good";
		} else if (strcmp(st, "AT_AlterColumnType") == 0) {
			kind = "alter_column_type";
		} else if (strcmp(st, "AT_SetNotNull") == 0) {
			kind = "set_not_null";
		} else if (strcmp(st, "AT_DropNotNull") == 0) {
			kind = "drop_not_null";
		} else if (strcmp(st, "AT_ColumnDefault") == 0) {
			kind = "set_default";
		} else if (strcmp(st, "AT_AddConstraint") == 0 ||
			   strcmp(st, "AT_AddIndexConstraint") == 0 ||
			   strcmp(st, "AT_AddIndex") == 0) {
			const char *cn = jstr(con, "conname");

			kind = "add_constraint";
			tier = CF_TIER_ADDITIVE;
			if (cn) {
				free(obj);
				obj = cf_asprintf("%s.%s", rel ? rel : "?", cn);
			}
		} else if (strcmp(st, "AT_ValidateConstraint") == 0) {
			kind = "validate_constraint";
		} else if (strcmp(st, "AT_DropConstraint") == 0) {
			kind = "drop_constraint";
		} else if (strcmp(st, "AT_AttachPartition") == 0) {
			kind = "attach_partition";
		} else if (strcmp(st, "AT_DetachPartition") == 0) {
			kind = "detach_partition";
		}
		push(cs, kind, obj, tier, what);
	}
	free(rel);
}

static void
drop(changes *cs, json_t *n)
{
	const char *type = jstr(n, "removeType");
	json_t *objs = json_object_get(n, "objects"), *o;
	const char *kind = "drop", *what = NULL;
	cf_tier tier = CF_TIER_DESTRUCTIVE;
	size_t i;

	if (!type)
		type = "";
	if (strcmp(type, "OBJECT_TABLE") == 0 ||
	    strcmp(type, "OBJECT_MATVIEW") == 0 ||
	    strcmp(type, "OBJECT_SCHEMA") == 0 ||
	    strcmp(type, "OBJECT_SEQUENCE") == 0) {
		kind = strcmp(type, "OBJECT_TABLE") == 0  ? "drop_table" :
		       strcmp(type, "OBJECT_SCHEMA") == 0 ? "drop_schema" :
							    "drop_relation";
		tier = CF_TIER_IRREVERSIBLE;
		what = "its data is gone for good";
	} else if (strcmp(type, "OBJECT_INDEX") == 0) {
		kind = "drop_index";
		tier = CF_TIER_REVERSIBLE;
	} else if (strcmp(type, "OBJECT_VIEW") == 0 ||
		   strcmp(type, "OBJECT_FUNCTION") == 0 ||
		   strcmp(type, "OBJECT_PROCEDURE") == 0 ||
		   strcmp(type, "OBJECT_TRIGGER") == 0 ||
		   strcmp(type, "OBJECT_POLICY") == 0) {
		kind = "drop_definition";
		tier = CF_TIER_DESTRUCTIVE;
		what = "whatever uses it breaks";
	}
	json_array_foreach(objs, i, o)
	{
		json_t *items = json_object_get(json_object_get(o, "List"),
						"items");

		push(cs, kind,
		     items ? name_list(items) :
			     cf_strdup(json_string_value(json_object_get(
				     json_object_get(o, "String"), "sval"))),
		     tier, what);
	}
}

/* "CreateFooStmt" -> "create_foo" */
static const char *
create_kind(const char *node)
{
	static char buf[64];
	size_t k = 0;

	for (const char *p = node; *p && k + 2 < sizeof(buf); p++) {
		if (strcmp(p, "Stmt") == 0)
			break;
		if (*p >= 'A' && *p <= 'Z') {
			if (k)
				buf[k++] = '_';
			buf[k++] = (char)(*p - 'A' + 'a');
		} else {
			buf[k++] = *p;
		}
	}
	buf[k] = '\0';
	return buf;
}

static void
classify_node(changes *cs, const char *node, json_t *n)
{
	if (strcmp(node, "AlterTableStmt") == 0) {
		alter_table(cs, n);
	} else if (strcmp(node, "DropStmt") == 0) {
		drop(cs, n);
	} else if (strcmp(node, "IndexStmt") == 0) {
		char *rel = rangevar(json_object_get(n, "relation"));

		push(cs,
		     json_is_true(json_object_get(n, "concurrent")) ?
			     "create_index_concurrently" :
			     "create_index",
		     jstr(n, "idxname") ?
			     cf_asprintf("%s (%s)", jstr(n, "idxname"),
					 rel ? rel : "?") :
			     cf_strdup(rel),
		     CF_TIER_ADDITIVE, NULL);
		free(rel);
	} else if (strcmp(node, "TruncateStmt") == 0) {
		push(cs, "truncate", NULL, CF_TIER_IRREVERSIBLE,
		     "its rows are gone for good");
	} else if (strcmp(node, "DeleteStmt") == 0) {
		push(cs, "delete_rows",
		     rangevar(json_object_get(n, "relation")),
		     CF_TIER_DESTRUCTIVE, "deleted rows are not kept");
	} else if (strcmp(node, "UpdateStmt") == 0) {
		push(cs, "update_rows",
		     rangevar(json_object_get(n, "relation")),
		     CF_TIER_REVERSIBLE, NULL);
	} else if (strcmp(node, "InsertStmt") == 0) {
		push(cs, "insert_rows",
		     rangevar(json_object_get(n, "relation")), CF_TIER_ADDITIVE,
		     NULL);
	} else if (strcmp(node, "RenameStmt") == 0) {
		push(cs, "rename", rangevar(json_object_get(n, "relation")),
		     CF_TIER_REVERSIBLE, "clients using the old name break");
	} else if (strcmp(node, "ViewStmt") == 0 ||
		   strcmp(node, "CreateFunctionStmt") == 0) {
		bool replace = json_is_true(json_object_get(n, "replace"));
		bool view = node[0] == 'V';

		push(cs,
		     replace ? (view ? "replace_view" : "replace_function") :
			       (view ? "create_view" : "create_function"),
		     view ? rangevar(json_object_get(n, "view")) :
			    name_list(json_object_get(n, "funcname")),
		     replace ? CF_TIER_REVERSIBLE : CF_TIER_ADDITIVE, NULL);
	} else if (strcmp(node, "CreateStmt") == 0) {
		push(cs, "create_table",
		     rangevar(json_object_get(n, "relation")), CF_TIER_ADDITIVE,
		     NULL);
	} else if (strncmp(node, "Create", 6) == 0 ||
		   strcmp(node, "CommentStmt") == 0 ||
		   strcmp(node, "GrantStmt") == 0) {
		push(cs, create_kind(node), NULL, CF_TIER_ADDITIVE, NULL);
	} else if (strcmp(node, "AlterEnumStmt") == 0) {
		push(cs, "add_enum_value",
		     name_list(json_object_get(n, "typeName")),
		     CF_TIER_ADDITIVE, NULL);
	} else if (strcmp(node, "VariableSetStmt") == 0 ||
		   strcmp(node, "SelectStmt") == 0 ||
		   strcmp(node, "TransactionStmt") == 0) {
		/* session settings and queries change nothing */
	} else {
		push(cs, create_kind(node), NULL, CF_TIER_REVERSIBLE, NULL);
	}
}

/* The changes statement index of script makes, from its parse tree. */
static void
classify(changes *cs, const cf_script *script, size_t index)
{
	const cf_statement *st = &script->stmts[index];
	char *sql = cf_strndup(script->text + st->offset, st->length);
	PgQueryParseResult pr = pg_query_parse(sql);
	json_t *tree = pr.error ? NULL : json_loads(pr.parse_tree, 0, NULL);
	json_t *stmt = json_object_get(
		json_array_get(json_object_get(tree, "stmts"), 0), "stmt");
	const char *node;
	json_t *n;

	if (stmt && (node = json_object_iter_key(json_object_iter(stmt))) &&
	    (n = json_object_iter_value(json_object_iter(stmt))))
		classify_node(cs, node, n);
	else if (!stmt)
		push(cs, "unparsed", NULL, CF_TIER_NONE, NULL);
	json_decref(tree);
	pg_query_free_parse_result(pr);
	free(sql);
}

/* ---- sizes, durations ---- */

static void
add_bytes(cf_strbuf *sb, long long b)
{
	static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB"};
	double v = (double)b;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	cf_strbuf_addf(sb, v < 10 && u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void
add_rows(cf_strbuf *sb, double rows)
{
	if (rows >= 1e6)
		cf_strbuf_addf(sb, "%.3g M rows", rows / 1e6);
	else if (rows >= 1e3)
		cf_strbuf_addf(sb, "%.3g k rows", rows / 1e3);
	else
		cf_strbuf_addf(sb, "%.0f rows", rows);
}

static void
add_duration(cf_strbuf *sb, double ms)
{
	if (ms < 1000)
		cf_strbuf_addf(sb, "%.0f ms", ms);
	else if (ms < 120e3)
		cf_strbuf_addf(sb, "%.1f s", ms / 1e3);
	else if (ms < 7200e3)
		cf_strbuf_addf(sb, "%.1f min", ms / 60e3);
	else
		cf_strbuf_addf(sb, "%.1f h", ms / 3600e3);
}

/* ms to rewrite or scan l on production; -1 when unknown. */
static double
estimate(const cf_preflight_result *r, const cf_risk_lock *l)
{
	if (l->bytes < 0)
		return -1;
	if (l->rewrite == 1)
		return r->rewrite_mb_s > 0 ?
			       (double)l->bytes / 1e3 / r->rewrite_mb_s :
			       -1;
	/* a scan reads the heap: relpages, when the statistics have it */
	return r->scan_mb_s > 0 ?
		       (double)(l->pages > 0 ? l->pages * 8192 : l->bytes) /
			       1e3 / r->scan_mb_s :
		       -1;
}

static bool
heavy(const cf_risk_lock *l)
{
	return l->rewrite == 1 || l->scan == 1;
}

bool
cf_risk_needs_calibration(const cf_preflight_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t s = 0; s < r->migrations[i].n_statements; s++) {
			const cf_risk_statement *st =
				&r->migrations[i].statements[s];

			for (size_t k = 0; k < st->n_locks; k++)
				if (heavy(&st->locks[k]) &&
				    st->locks[k].bytes >= 0)
					return true;
		}
	return false;
}

/* Runs sql and returns its duration in ms, or -1. */
static double
timed(PGconn *conn, const char *sql)
{
	double t0 = cf_now_ms();

	if (cf_db_exec(conn, sql, NULL) < 0)
		return -1;
	return cf_now_ms() - t0;
}

void
cf_risk_calibrate(cf_preflight_result *r, PGconn *conn, bool temp)
{
	PGresult *res;
	long long heap = 0, total = 0;
	double scan_ms = -1, rewrite_ms = -1;
	char *create = cf_asprintf(
		"CREATE %sTABLE cf_risk_calibration AS SELECT g AS id,"
		" md5(g::text) AS pad FROM generate_series(1, %d) g",
		temp ? "TEMP " : "", CALIBRATION_ROWS);

	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE)
		goto out;
	/* one transaction, rolled back: nothing stays */
	if (cf_db_exec(conn, "BEGIN", NULL) < 0)
		goto out;
	if (cf_db_exec(conn, "SET LOCAL statement_timeout = 60000", NULL) ==
		    0 &&
	    cf_db_exec(conn, create, NULL) == 0 &&
	    (res = cf_db_query(conn,
			       "SELECT pg_relation_size('cf_risk_calibration'),"
			       " pg_total_relation_size('cf_risk_calibration')",
			       0, NULL, NULL))) {
		heap = atoll(PQgetvalue(res, 0, 0));
		total = atoll(PQgetvalue(res, 0, 1));
		PQclear(res);
		/* a validating scan, then a rewrite, as migrations do */
		scan_ms = timed(conn,
				"ALTER TABLE cf_risk_calibration ADD CONSTRAINT"
				" cf_risk_check CHECK (id > 0)");
		rewrite_ms = timed(conn, "ALTER TABLE cf_risk_calibration"
					 " ALTER COLUMN id TYPE bigint");
	}
	PQclear(PQexec(conn, "ROLLBACK"));
	if (scan_ms <= 0 || rewrite_ms <= 0 || heap <= 0)
		goto out;
	r->scan_mb_s = (double)heap / 1e3 / scan_ms;
	r->rewrite_mb_s = (double)total / 1e3 / rewrite_ms;
	r->calibration = cf_asprintf(
		"this server scanned %.0f MB/s and rewrote %.0f MB/s on a %s%d-row sample table (%.1f MB), in a transaction rolled back; production's bytes are divided by these, and the range's upper end doubles it for a busy, colder production",
		r->scan_mb_s, r->rewrite_mb_s, temp ? "temporary " : "",
		CALIBRATION_ROWS, (double)total / 1e6);
out:
	free(create);
}

/* ---- tiers and reasons ---- */

static void
add_estimate(cf_strbuf *sb, double ms)
{
	cf_strbuf_addstr(sb, ", est. ");
	add_duration(sb, ms);
	cf_strbuf_addstr(sb, "–");
	add_duration(sb, 2 * ms);
}

static void
assess_statement(const cf_preflight_result *r, cf_risk_statement *st,
		 const changes *cs)
{
	cf_strbuf sb;
	cf_tier tier = CF_TIER_NONE;
	double est = 0;
	bool unknown = false, risky = false, table_rewritten = false;
	bool weighed = false; /* a rewrite or scan under a blocking lock */

	cf_strbuf_init(&sb);
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->items[i].tier > tier)
			tier = cs->items[i].tier;
		if (cs->items[i].what)
			cf_strbuf_addf(
				&sb, "%s%s %s: %s", sb.len ? "; " : "",
				cs->items[i].kind,
				cs->items[i].object ? cs->items[i].object : "",
				cs->items[i].what);
	}
	st->blocks = CF_BLOCKS_NOTHING;
	for (size_t k = 0; k < st->n_locks; k++)
		table_rewritten |= st->locks[k].rewrite == 1 &&
				   !st->locks[k].is_index;
	for (size_t k = 0; k < st->n_locks; k++) {
		const cf_risk_lock *l = &st->locks[k];
		cf_blocks b = mode_blocks(l->mode);
		double e;

		if (b > st->blocks)
			st->blocks = b;
		/* a table's total size counts its indexes, rebuilt with it */
		if (!heavy(l) || b == CF_BLOCKS_NOTHING ||
		    (l->is_index && table_rewritten))
			continue;
		e = estimate(r, l);
		weighed = true;
		cf_strbuf_addf(&sb, "%s%s%s + %s of %s (", sb.len ? "; " : "",
			       l->mode, l->observed ? "" : " (static)",
			       l->rewrite == 1 ? "rewrite" : "scan",
			       l->relation);
		if (l->bytes >= 0) {
			add_bytes(&sb, l->bytes);
			if (l->rows >= 0) {
				cf_strbuf_addstr(&sb, ", ");
				add_rows(&sb, l->rows);
			}
		} else {
			cf_strbuf_addstr(&sb, "production size unknown");
		}
		cf_strbuf_addf(&sb, "): blocks %s", cf_blocks_name(b));
		if (e >= 0) {
			add_estimate(&sb, e);
			est += e;
			risky |= e >= RISKY_MS;
		} else {
			unknown = true;
			risky = true;
		}
	}
	if (!weighed && st->blocks != CF_BLOCKS_NOTHING) {
		/* a blocking lock without work proportional to size */
		for (size_t k = 0; k < st->n_locks; k++)
			if (mode_blocks(st->locks[k].mode) == st->blocks) {
				cf_strbuf_addf(
					&sb,
					"%s%s on %s, no rewrite or scan: blocks %s for about %.0f ms",
					sb.len ? "; " : "", st->locks[k].mode,
					st->locks[k].relation,
					cf_blocks_name(st->blocks),
					st->duration_ms);
				break;
			}
	}
	if (st->blocks != CF_BLOCKS_NOTHING && !est)
		est = st->duration_ms;
	if (risky && tier < CF_TIER_LOCK_RISKY)
		tier = CF_TIER_LOCK_RISKY;
	if (!sb.len)
		cf_strbuf_addstr(
			&sb,
			st->n_locks ?
				"blocks no reads or writes" :
				"takes no new lock on a relation that existed before");
	st->tier = tier;
	st->est_lock_ms = unknown ? -1 : est;
	st->reason = cf_strbuf_detach(&sb);
	if (cs->n) {
		st->kind = cf_strdup(cs->n == 1 ? cs->items[0].kind :
						  "several");
		st->object = cf_strdup(cs->items[0].object);
	}
}

static void
add_change(cf_preflight_result *r, const change *c, const char *version,
	   cf_tier tier, const char *detail)
{
	cf_risk_change *x;

	r->changes = cf_reallocarray(r->changes, r->n_changes + 1,
				     sizeof(cf_risk_change));
	x = &r->changes[r->n_changes++];
	x->kind = cf_strdup(c->kind);
	x->object = cf_strdup(c->object);
	x->migration = version;
	x->tier = tier;
	x->detail = cf_strdup(detail);
}

struct cf_risk_ahead {
	changes **m; /* per migration: per statement, or NULL */
	size_t n;
};

cf_risk_ahead *
cf_risk_ahead_new(size_t n_migrations)
{
	cf_risk_ahead *a = cf_calloc(1, sizeof(*a));

	a->m = cf_calloc(n_migrations + 1, sizeof(*a->m));
	a->n = n_migrations;
	return a;
}

void
cf_risk_ahead_classify(cf_risk_ahead *a, size_t i, const cf_script *up)
{
	if (!a || i >= a->n || a->m[i] || !up)
		return;
	a->m[i] = cf_calloc(up->n_stmts + 1, sizeof(changes));
	for (size_t s = 0; s < up->n_stmts; s++)
		classify(&a->m[i][s], up, s);
}

void
cf_risk_ahead_free(cf_risk_ahead *a, const cf_preflight_result *r)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		const cf_script *up = r->migrations[i].migration->up;

		for (size_t s = 0; a->m[i] && s < up->n_stmts; s++)
			changes_release(&a->m[i][s]);
		free(a->m[i]);
	}
	free(a->m);
	free(a);
}

void
cf_risk_assess(cf_preflight_result *r, cf_risk_ahead *ahead)
{
	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];
		cf_script *up = pm->migration->up;
		size_t next = 0; /* next traced statement */

		pm->est_lock_ms = pm->n_statements ? 0 : -1;
		if (!up || !pm->replayed)
			continue;
		for (size_t s = 0; s < up->n_stmts; s++) {
			cf_risk_statement *st = NULL;
			changes cs = {0};

			if (next < pm->n_statements &&
			    pm->statements[next].index == s + 1)
				st = &pm->statements[next++];
			else if (r->traced || pm->outcome.kind != CF_OUTCOME_OK)
				continue; /* not run: no change made */
			if (ahead && i < ahead->n && ahead->m[i]) {
				cs = ahead->m[i][s];
				memset(&ahead->m[i][s], 0, sizeof(cs));
			} else {
				classify(&cs, up, s);
			}
			if (st) {
				assess_statement(r, st, &cs);
				if (st->tier > pm->tier)
					pm->tier = st->tier;
				if (st->est_lock_ms < 0 || pm->est_lock_ms < 0)
					pm->est_lock_ms = -1;
				else
					pm->est_lock_ms += st->est_lock_ms;
			}
			for (size_t c = 0; c < cs.n; c++) {
				cf_tier t = cs.items[c].tier;

				if (st && st->tier == CF_TIER_LOCK_RISKY &&
				    t < CF_TIER_LOCK_RISKY)
					t = CF_TIER_LOCK_RISKY;
				if (!st && t > pm->tier)
					pm->tier = t;
				add_change(r, &cs.items[c],
					   pm->migration->version, t,
					   st ? st->reason : cs.items[c].what);
			}
			changes_release(&cs);
		}
	}
}

void
cf_risk_result_release(cf_preflight_result *r)
{
	for (size_t i = 0; i < r->n_changes; i++) {
		free(r->changes[i].kind);
		free(r->changes[i].object);
		free(r->changes[i].detail);
	}
	free(r->changes);
	free(r->calibration);
	free(r->trace_note);
	free(r->sizes_from);
	free(r->sizes_note);
}
