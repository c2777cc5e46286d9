/*
 * risk.c — from what the replay measured (risk_trace.c) and production's
 * sizes (prod_sizes.c) to a tier, a reason and an estimated lock time per
 * statement and per migration, and the change_set in the Python tool's
 * shape.  The estimate is this server's throughput, calibrated once per
 * run on a sample table, times production's bytes (docs/risk.md).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query/pg_query.pb-c.h>

#include "history/model.h"
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

/* schema.name of a RangeVar. */
static char *
rangevar(const PgQuery__RangeVar *rv)
{
	const char *s = rv ? cf_pb_str(rv->schemaname) : NULL;
	const char *n = rv ? cf_pb_str(rv->relname) : NULL;

	if (!n)
		return NULL;
	return s ? cf_asprintf("%s.%s", s, n) : cf_strdup(n);
}

/* A dotted name from a list of String nodes. */
static char *
name_list(PgQuery__Node *const *items, size_t n)
{
	cf_strbuf sb;

	cf_strbuf_init(&sb);
	for (size_t i = 0; i < n; i++) {
		const char *s = cf_pb_sval(items[i]);

		if (s)
			cf_strbuf_addf(&sb, "%s%s", sb.len ? "." : "", s);
	}
	return cf_strbuf_detach(&sb);
}

static void
alter_table(changes *cs, const PgQuery__AlterTableStmt *n)
{
	char *rel = rangevar(n->relation);

	for (size_t i = 0; i < n->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd =
			n->cmds[i]->node_case ==
					PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ?
				n->cmds[i]->alter_table_cmd :
				NULL;
		const PgQuery__Node *def = cmd ? cmd->def : NULL;
		const char *col = cmd ? cf_pb_str(cmd->name) : NULL;
		char *obj = col ? cf_asprintf("%s.%s", rel ? rel : "?", col) :
				  cf_strdup(rel);
		const char *kind = "alter_table", *what = NULL;
		cf_tier tier = CF_TIER_REVERSIBLE;

		switch (cmd ? cmd->subtype :
			      PG_QUERY__ALTER_TABLE_TYPE__ALTER_TABLE_TYPE_UNDEFINED) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn: {
			const char *cn =
				def && def->node_case ==
							PG_QUERY__NODE__NODE_COLUMN_DEF ?
					cf_pb_str(def->column_def->colname) :
					NULL;

			free(obj);
			obj = cf_asprintf("%s.%s", rel ? rel : "?",
					  cn ? cn : "?");
			kind = "add_column";
			tier = CF_TIER_ADDITIVE;
			break;
		}
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
			kind = "drop_column";
			tier = CF_TIER_IRREVERSIBLE;
			what = "the column's data is gone for good";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			kind = "alter_column_type";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
			kind = "set_not_null";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
			kind = "drop_not_null";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
			kind = "set_default";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddIndexConstraint:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddIndex: {
			const char *cn =
				def && def->node_case ==
							PG_QUERY__NODE__NODE_CONSTRAINT ?
					cf_pb_str(def->constraint->conname) :
					NULL;

			kind = "add_constraint";
			tier = CF_TIER_ADDITIVE;
			if (cn) {
				free(obj);
				obj = cf_asprintf("%s.%s", rel ? rel : "?", cn);
			}
			break;
		}
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
			kind = "validate_constraint";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
			kind = "drop_constraint";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
			kind = "attach_partition";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition:
			kind = "detach_partition";
			break;
		default:
			break;
		}
		push(cs, kind, obj, tier, what);
	}
	free(rel);
}

static void
drop(changes *cs, const PgQuery__DropStmt *n)
{
	const char *kind = "drop", *what = NULL;
	cf_tier tier = CF_TIER_DESTRUCTIVE;

	switch (n->remove_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
		kind = n->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ?
			       "drop_table" :
		       n->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA ?
			       "drop_schema" :
			       "drop_relation";
		tier = CF_TIER_IRREVERSIBLE;
		what = "its data is gone for good";
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
		kind = "drop_index";
		tier = CF_TIER_REVERSIBLE;
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION:
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
	case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
		kind = "drop_definition";
		tier = CF_TIER_DESTRUCTIVE;
		what = "whatever uses it breaks";
		break;
	default:
		break;
	}
	for (size_t i = 0; i < n->n_objects; i++) {
		const PgQuery__Node *o = n->objects[i];

		/* a list of names, one name, or no name (DROP FUNCTION f(int),
		 * DROP TYPE t: other nodes) */
		push(cs, kind,
		     o->node_case == PG_QUERY__NODE__NODE_LIST &&
				     o->list->n_items ?
			     name_list(o->list->items, o->list->n_items) :
			     cf_strdup(cf_pb_sval(o)),
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

/* The node type's name ("CreateStmt"): its message's, as in the parser. */
static const char *
node_name(const PgQuery__Node *n)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field(
			&pg_query__node__descriptor, (unsigned)n->node_case);

	return f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor ?
		       ((const ProtobufCMessageDescriptor *)f->descriptor)
			       ->short_name :
		       "";
}

static void
classify_node(changes *cs, const PgQuery__Node *n)
{
	const char *node;

	if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return;
	node = node_name(n);
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		alter_table(cs, n->alter_table_stmt);
		return;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		drop(cs, n->drop_stmt);
		return;
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *x = n->index_stmt;
		char *rel = rangevar(x->relation);

		push(cs,
		     x->concurrent ? "create_index_concurrently" :
				     "create_index",
		     cf_pb_str(x->idxname) ? cf_asprintf("%s (%s)", x->idxname,
							 rel ? rel : "?") :
					     cf_strdup(rel),
		     CF_TIER_ADDITIVE, NULL);
		free(rel);
		return;
	}
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		push(cs, "truncate", NULL, CF_TIER_IRREVERSIBLE,
		     "its rows are gone for good");
		return;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		push(cs, "delete_rows", rangevar(n->delete_stmt->relation),
		     CF_TIER_DESTRUCTIVE, "deleted rows are not kept");
		return;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		push(cs, "update_rows", rangevar(n->update_stmt->relation),
		     CF_TIER_REVERSIBLE, NULL);
		return;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		push(cs, "insert_rows", rangevar(n->insert_stmt->relation),
		     CF_TIER_ADDITIVE, NULL);
		return;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		push(cs, "rename", rangevar(n->rename_stmt->relation),
		     CF_TIER_REVERSIBLE, "clients using the old name break");
		return;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		push(cs, n->view_stmt->replace ? "replace_view" : "create_view",
		     rangevar(n->view_stmt->view),
		     n->view_stmt->replace ? CF_TIER_REVERSIBLE :
					     CF_TIER_ADDITIVE,
		     NULL);
		return;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT: {
		const PgQuery__CreateFunctionStmt *x = n->create_function_stmt;

		push(cs, x->replace ? "replace_function" : "create_function",
		     name_list(x->funcname, x->n_funcname),
		     x->replace ? CF_TIER_REVERSIBLE : CF_TIER_ADDITIVE, NULL);
		return;
	}
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		push(cs, "create_table", rangevar(n->create_stmt->relation),
		     CF_TIER_ADDITIVE, NULL);
		return;
	case PG_QUERY__NODE__NODE_COMMENT_STMT:
	case PG_QUERY__NODE__NODE_GRANT_STMT:
		push(cs, create_kind(node), NULL, CF_TIER_ADDITIVE, NULL);
		return;
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
		push(cs, "add_enum_value",
		     name_list(n->alter_enum_stmt->type_name,
			       n->alter_enum_stmt->n_type_name),
		     CF_TIER_ADDITIVE, NULL);
		return;
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
	case PG_QUERY__NODE__NODE_SELECT_STMT:
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		/* session settings and queries change nothing */
		return;
	default:
		push(cs, create_kind(node), NULL,
		     strncmp(node, "Create", 6) == 0 ? CF_TIER_ADDITIVE :
						       CF_TIER_REVERSIBLE,
		     NULL);
	}
}

/* What the statements of one script change, read from trees others made. */
typedef struct noted_script {
	const cf_script *script;
	changes *stmts; /* one per statement */
	bool *noted;	/* stmts[i] was read from a tree */
} noted_script;

struct cf_risk_changes {
	noted_script *scripts;
	size_t n, alloc;
	size_t *slots; /* open addressing by script address: index + 1 */
	size_t cap;    /* a power of two, more than twice n */
};

cf_risk_changes *
cf_risk_changes_new(void)
{
	return cf_new(cf_risk_changes);
}

static size_t
slot_of(const cf_risk_changes *known, const cf_script *script)
{
	size_t h = (size_t)((uintptr_t)script >> 4) * 0x9E3779B97F4A7C15u;

	for (h &= known->cap - 1; known->slots[h];
	     h = (h + 1) & (known->cap - 1))
		if (known->scripts[known->slots[h] - 1].script == script)
			break;
	return h;
}

/* The entry of script, or NULL; a new one when add. */
static noted_script *
entry(cf_risk_changes *known, cf_script *script, bool add)
{
	noted_script *ns;
	size_t h;

	if (known->cap && known->slots[h = slot_of(known, script)])
		return &known->scripts[known->slots[h] - 1];
	if (!add)
		return NULL;
	if (2 * (known->n + 1) >= known->cap) {
		free(known->slots);
		known->cap = known->cap ? 2 * known->cap : 64;
		known->slots = cf_calloc(known->cap, sizeof(size_t));
		for (size_t k = 0; k < known->n; k++)
			known->slots[slot_of(known, known->scripts[k].script)] =
				k + 1;
	}
	CF_GROW(known->scripts, known->alloc, known->n + 1);
	ns = &known->scripts[known->n++];
	ns->script = script;
	ns->stmts = cf_calloc(script->n_stmts ? script->n_stmts : 1,
			      sizeof(changes));
	ns->noted = cf_calloc(script->n_stmts ? script->n_stmts : 1,
			      sizeof(bool));
	known->slots[slot_of(known, script)] = known->n;
	return ns;
}

void
cf_risk_changes_note(void *arg, cf_script *script, size_t i, const void *node)
{
	noted_script *ns;

	if (!node || i >= script->n_stmts)
		return;
	ns = entry(arg, script, true);
	if (ns->noted[i])
		return;
	ns->noted[i] = true;
	classify_node(&ns->stmts[i], node);
}

/* The changes noted for statement i of script, or NULL. */
static changes *
noted(cf_risk_changes *known, cf_script *script, size_t i)
{
	noted_script *ns = known ? entry(known, script, false) : NULL;

	return ns && ns->noted[i] ? &ns->stmts[i] : NULL;
}

void
cf_risk_changes_free(cf_risk_changes *known)
{
	if (!known)
		return;
	for (size_t k = 0; k < known->n; k++) {
		for (size_t i = 0; i < known->scripts[k].script->n_stmts; i++)
			changes_release(&known->scripts[k].stmts[i]);
		free(known->scripts[k].stmts);
		free(known->scripts[k].noted);
	}
	free(known->scripts);
	free(known->slots);
	free(known);
}

/*
 * The changes statement index of script makes: noted from a tree already
 * made (known), else from the statement model's parse tree
 * (cf_script_stmt_tree()).  A model that parse builds is dropped again, as
 * lint does: nothing else is left changed.
 */
static void
classify(changes *cs, cf_risk_changes *known, cf_script *script, size_t index)
{
	changes *k = noted(known, script, index);
	bool built = !script->stmts[index].model;
	char *text, *msg;
	cf_stmt_tree *t;
	const PgQuery__ParseResult *pr;
	const PgQuery__Node *stmt;

	if (k) {
		*cs = *k; /* taken: each statement is assessed once */
		memset(k, 0, sizeof(*k));
		return;
	}
	t = cf_script_stmt_tree(script, NULL, index, &text, &msg);
	pr = cf_stmt_tree_result(t);
	stmt = pr && pr->n_stmts >= 1 ? pr->stmts[0]->stmt : NULL;
	if (stmt)
		classify_node(cs, stmt);
	else
		push(cs, "unparsed", NULL, CF_TIER_NONE, NULL);
	cf_stmt_tree_free(t);
	free(text);
	free(msg);
	if (built) {
		cf_stmt_model_free(script->stmts[index].model);
		script->stmts[index].model = NULL;
	}
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

void
cf_risk_assess(cf_preflight_result *r, cf_risk_changes *known)
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
			classify(&cs, known, up, s);
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
