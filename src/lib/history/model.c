/*
 * model.c — reads a statement's protobuf parse tree once into a
 * cf_stmt_model: its kind, whether it is transaction control or cannot run
 * in a transaction, and the qualified objects it provides, alters, removes
 * and uses.  A statement the parser rejects gets a model from its scanner
 * tokens instead.
 *
 * The tree is walked with the protobuf-c descriptors libpg_query exports,
 * so one generic walk finds every relation, column, function and type
 * reference however deeply nested; DDL nodes are then read field by field.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "history/model.h"

typedef PgQuery__Node Node;

/* ---- the model ---- */

void
cf_stmt_model_add(cf_stmt_model *m, cf_obj_kind kind, cf_obj_action act,
		  const char *schema, const char *parent, const char *name,
		  const char *args)
{
	cf_obj *o;

	if (!name || !*name)
		return;
	if (schema && !*schema)
		schema = NULL;
	if (parent && !*parent)
		parent = NULL;
	CF_GROW(m->objs, m->alloc, m->n + 1);
	o = &m->objs[m->n++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->action = act;
	o->schema = cf_strdup(schema);
	o->parent = cf_strdup(parent);
	o->name = cf_strdup(name);
	o->args = cf_strdup(args);
}

void
cf_obj_release(cf_obj *o)
{
	free(o->schema);
	free(o->parent);
	free(o->name);
	free(o->args);
}

void
cf_stmt_model_release(cf_stmt_model *m)
{
	for (size_t i = 0; i < m->n; i++)
		cf_obj_release(&m->objs[i]);
	free(m->objs);
	m->objs = NULL;
	m->n = m->alloc = 0;
}

void
cf_stmt_model_free(cf_stmt_model *m)
{
	if (!m)
		return;
	cf_stmt_model_release(m);
	free(m);
}

/* ---- small readers ---- */

/* sval of a String node, or NULL. */
static const char *
sval(const Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ?
		       n->string->sval :
		       NULL;
}

/* Schema and name of a dotted name list (["s", "t"] or ["t"]). */
static void
qualified(Node **list, size_t n, const char **schema, const char **name)
{
	*schema = n >= 2 ? sval(list[n - 2]) : NULL;
	*name = n >= 1 ? sval(list[n - 1]) : NULL;
}

const char *
cf_model_type_display(const char *name)
{
	static const char *const map[][2] = {
		{"int4", "integer"},
		{"int", "integer"},
		{"int8", "bigint"},
		{"int2", "smallint"},
		{"bool", "boolean"},
		{"float8", "double precision"},
		{"float4", "real"},
		{"varchar", "character varying"},
		{"bpchar", "character"},
		{"timestamptz", "timestamp with time zone"},
		{"timestamp", "timestamp without time zone"},
		{"timetz", "time with time zone"},
		{"time", "time without time zone"},
		{"decimal", "numeric"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i][0]) == 0)
			return map[i][1];
	return name;
}

/* Appends a TypeName as PostgreSQL prints it in a signature. */
static void
type_display(cf_strbuf *b, const PgQuery__TypeName *t)
{
	const char *schema, *name;

	if (!t)
		return;
	qualified(t->names, t->n_names, &schema, &name);
	if (!name)
		return;
	if (schema && strcmp(schema, "pg_catalog") != 0)
		cf_strbuf_addf(b, "%s.", schema);
	cf_strbuf_addstr(b, cf_model_type_display(name));
	if (t->n_array_bounds)
		cf_strbuf_addstr(b, "[]");
}

/* "type, type" of input arguments (FunctionParameter list); caller frees. */
static char *
param_types(Node **params, size_t n)
{
	cf_strbuf b = CF_STRBUF_INIT;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		const PgQuery__FunctionParameter *p;

		if (params[i]->node_case !=
		    PG_QUERY__NODE__NODE_FUNCTION_PARAMETER)
			continue;
		p = params[i]->function_parameter;
		if (p->mode ==
			    PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_OUT ||
		    p->mode ==
			    PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_TABLE)
			continue;
		if (!first)
			cf_strbuf_addstr(&b, ", ");
		first = false;
		type_display(&b, p->arg_type);
	}
	return cf_strbuf_detach(&b);
}

/* "type, type" of an ObjectWithArgs, or NULL without an argument list. */
static char *
owa_types(const PgQuery__ObjectWithArgs *o)
{
	cf_strbuf b = CF_STRBUF_INIT;

	if (o->args_unspecified)
		return NULL;
	for (size_t i = 0; i < o->n_objargs; i++) {
		if (i)
			cf_strbuf_addstr(&b, ", ");
		if (o->objargs[i]->node_case == PG_QUERY__NODE__NODE_TYPE_NAME)
			type_display(&b, o->objargs[i]->type_name);
	}
	return cf_strbuf_detach(&b);
}

static void
add_rv(cf_stmt_model *m, cf_obj_kind kind, cf_obj_action act,
       const PgQuery__RangeVar *rv)
{
	if (rv)
		cf_stmt_model_add(m, kind, act, rv->schemaname, NULL,
				  rv->relname, NULL);
}

static void
add_col(cf_stmt_model *m, cf_obj_action act, const PgQuery__RangeVar *rv,
	const char *col)
{
	cf_stmt_model_add(m, CF_OBJ_COLUMN, act, rv ? rv->schemaname : NULL,
			  rv ? rv->relname : NULL, col, NULL);
}

static void
add_owa(cf_stmt_model *m, cf_obj_kind kind, cf_obj_action act,
	const PgQuery__ObjectWithArgs *o)
{
	const char *schema, *name;
	char *args = owa_types(o);

	qualified(o->objname, o->n_objname, &schema, &name);
	cf_stmt_model_add(m, kind, act, schema, NULL, name, args);
	free(args);
}

/* A name list (DropStmt object, RenameStmt object) of a given kind. */
static void
add_names(cf_stmt_model *m, cf_obj_kind kind, cf_obj_action act,
	  const Node *obj)
{
	const char *schema = NULL, *name = NULL, *parent = NULL;

	if (!obj)
		return;
	switch (obj->node_case) {
	case PG_QUERY__NODE__NODE_STRING:
		name = obj->string->sval;
		break;
	case PG_QUERY__NODE__NODE_LIST:
		qualified(obj->list->items, obj->list->n_items, &schema, &name);
		if (kind == CF_OBJ_OTHER || kind == CF_OBJ_CONSTRAINT) {
			/* trigger/policy/rule: [schema.]table.name */
			parent = schema;
			schema = obj->list->n_items >= 3 ?
					 sval(obj->list->items[0]) :
					 NULL;
		}
		break;
	case PG_QUERY__NODE__NODE_TYPE_NAME:
		qualified(obj->type_name->names, obj->type_name->n_names,
			  &schema, &name);
		break;
	case PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS:
		add_owa(m, kind, act, obj->object_with_args);
		return;
	default:
		return;
	}
	cf_stmt_model_add(m, kind, act, schema, parent, name, NULL);
}

/* The model kind of a PostgreSQL ObjectType. */
static cf_obj_kind
object_kind(PgQuery__ObjectType t)
{
	switch (t) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		return CF_OBJ_RELATION;
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
		return CF_OBJ_INDEX;
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
	case PG_QUERY__OBJECT_TYPE__OBJECT_ATTRIBUTE:
		return CF_OBJ_COLUMN;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
		return CF_OBJ_CONSTRAINT;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION:
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_ROUTINE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE:
		return CF_OBJ_FUNCTION;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN:
		return CF_OBJ_TYPE;
	case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA:
		return CF_OBJ_SCHEMA;
	default:
		return CF_OBJ_OTHER;
	}
}

/* ---- the generic walk: every reference in the tree ---- */

typedef struct walk_ctx {
	cf_stmt_model *m;
	/* relations named in the statement, for resolving column refs */
	const PgQuery__RangeVar *rels[16];
	size_t n_rels;
	const PgQuery__RangeVar *target;  /* the relation it is about */
	const PgQuery__RangeVar *created; /* a view it creates: not a source */
	/* column references, resolved once every relation is known */
	const ProtobufCMessage **cols;
	size_t n_cols, alloc_cols;
	/* WITH names: what the statement reads from them is no relation */
	const char *ctes[8];
	size_t n_ctes;
	/* set: no model, only the functions called (cf_node_function_uses()) */
	void (*on_call)(void *arg, const char *name);
	void *call_arg;
} walk_ctx;

static void walk(walk_ctx *c, const ProtobufCMessage *msg);

/* The relation a column qualifier (alias or name) stands for, or NULL. */
static const PgQuery__RangeVar *
resolve_rel(const walk_ctx *c, const char *qual)
{
	const PgQuery__RangeVar *only = NULL;
	size_t distinct = 0;

	for (size_t i = 0; i < c->n_rels; i++) {
		const PgQuery__RangeVar *rv = c->rels[i];

		if (qual) {
			if ((rv->alias &&
			     strcmp(rv->alias->aliasname, qual) == 0) ||
			    (!rv->alias && strcmp(rv->relname, qual) == 0))
				return rv;
			continue;
		}
		if (!only || strcmp(only->relname, rv->relname) != 0) {
			only = rv;
			distinct++;
		}
	}
	if (!qual && distinct == 1)
		return only;
	if (!qual && c->target)
		return c->target;
	return NULL;
}

static void
on_column_ref(walk_ctx *c, const PgQuery__ColumnRef *cr)
{
	const char *qual = NULL, *col;
	const PgQuery__RangeVar *rv;

	if (cr->n_fields == 0)
		return;
	col = sval(cr->fields[cr->n_fields - 1]);
	if (!col)
		return; /* t.* */
	if (cr->n_fields >= 2)
		qual = sval(cr->fields[cr->n_fields - 2]);
	rv = resolve_rel(c, qual);
	if (rv)
		add_col(c->m, CF_ACT_USE, rv, col);
	else if (!qual)
		cf_stmt_model_add(c->m, CF_OBJ_COLUMN, CF_ACT_USE, NULL, NULL,
				  col, NULL);
}

const char *
cf_pb_str(const char *s)
{
	return s && *s ? s : NULL;
}

const char *
cf_pb_sval(const void *node)
{
	const PgQuery__Node *n = node;

	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ?
		       cf_pb_str(n->string->sval) :
		       NULL;
}

const void *
cf_pb_node_member(const void *msg)
{
	const ProtobufCMessage *m = msg;
	const PgQuery__Node *n = msg;
	const ProtobufCFieldDescriptor *f;
	unsigned k;

	if (!m || m->descriptor != &pg_query__node__descriptor ||
	    n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return NULL;
	/* straight to the one member set: a Node has ~250, numbered from 1
	 * in order (the search is the fallback) */
	k = (unsigned)n->node_case;
	f = k - 1 < m->descriptor->n_fields &&
			    m->descriptor->fields[k - 1].id == k ?
		    &m->descriptor->fields[k - 1] :
		    protobuf_c_message_descriptor_get_field(m->descriptor, k);
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return *(ProtobufCMessage *const *)((const char *)msg + f->offset);
}

bool
cf_pb_each_child(const void *msg, bool (*fn)(const void *child, void *arg),
		 void *arg)
{
	const ProtobufCMessage *m = msg;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = msg;

	if (d == &pg_query__node__descriptor)
		return false;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base +
						     f->quantifier_offset);
			ProtobufCMessage *const *arr = *(
				ProtobufCMessage *const *const *)(base +
								  f->offset);

			for (size_t k = 0; k < n; k++)
				if (arr[k] && fn(arr[k], arg))
					return true;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (*(ProtobufCMessage *const *)(base + f->offset) &&
		    fn(*(ProtobufCMessage *const *)(base + f->offset), arg))
			return true;
	}
	return false;
}

/* cf_pb_each_child(): walk() each message under msg. */
static bool
walk_child(const void *child, void *arg)
{
	walk(arg, child);
	return false;
}

static void
walk(walk_ctx *c, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d;

	if (!msg)
		return;
	d = msg->descriptor;
	if (d == &pg_query__node__descriptor) {
		walk(c, cf_pb_node_member(msg));
		return;
	}
	if (d == &pg_query__range_var__descriptor) {
		const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)msg;

		if (c->on_call)
			return;
		if (rv != c->created &&
		    c->n_rels < sizeof(c->rels) / sizeof(c->rels[0]))
			c->rels[c->n_rels++] = rv;
		add_rv(c->m, CF_OBJ_RELATION, CF_ACT_USE, rv);
		return;
	}
	if (d == &pg_query__column_ref__descriptor ||
	    d == &pg_query__index_elem__descriptor ||
	    d == &pg_query__constraint__descriptor) {
		if (!c->on_call) {
			CF_GROW(c->cols, c->alloc_cols, c->n_cols + 1);
			c->cols[c->n_cols++] = msg;
		}
		if (d == &pg_query__column_ref__descriptor)
			return;
	} else if (d == &pg_query__func_call__descriptor) {
		const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)msg;
		const char *schema, *name;

		qualified(fc->funcname, fc->n_funcname, &schema, &name);
		if (!schema || strcmp(schema, "pg_catalog") != 0) {
			if (!c->on_call)
				cf_stmt_model_add(c->m, CF_OBJ_FUNCTION,
						  CF_ACT_USE, schema, NULL,
						  name, NULL);
			else if (name && *name) /* what the model keeps */
				c->on_call(c->call_arg, name);
		}
	} else if (d == &pg_query__type_name__descriptor) {
		const PgQuery__TypeName *t = (const PgQuery__TypeName *)msg;
		const char *schema, *name;

		qualified(t->names, t->n_names, &schema, &name);
		if (!c->on_call &&
		    (!schema || strcmp(schema, "pg_catalog") != 0))
			cf_stmt_model_add(c->m, CF_OBJ_TYPE, CF_ACT_USE, schema,
					  NULL, name, NULL);
		return;
	} else if (d == &pg_query__common_table_expr__descriptor) {
		const PgQuery__CommonTableExpr *cte =
			(const PgQuery__CommonTableExpr *)msg;

		if (c->n_ctes < sizeof(c->ctes) / sizeof(c->ctes[0]))
			c->ctes[c->n_ctes++] = cte->ctename;
	} else if (d == &pg_query__string__descriptor ||
		   d == &pg_query__a__const__descriptor) {
		return;
	}
	cf_pb_each_child(msg, walk_child, c);
}

void
cf_node_function_uses(const void *node, void (*fn)(void *arg, const char *name),
		      void *arg)
{
	/* walk() itself, so that the calls are the model's by construction */
	walk_ctx c = {.on_call = fn, .call_arg = arg};

	walk(&c, node);
}

/* The columns a collected reference names, once the relations are known. */
static void
resolve_column_refs(walk_ctx *c)
{
	for (size_t i = 0; i < c->n_cols; i++) {
		const ProtobufCMessage *msg = c->cols[i];
		const ProtobufCMessageDescriptor *d = msg->descriptor;

		if (d == &pg_query__column_ref__descriptor) {
			on_column_ref(c, (const PgQuery__ColumnRef *)msg);
		} else if (d == &pg_query__index_elem__descriptor) {
			const PgQuery__IndexElem *ie =
				(const PgQuery__IndexElem *)msg;

			if (ie->name && *ie->name && c->target)
				add_col(c->m, CF_ACT_USE, c->target, ie->name);
		} else {
			const PgQuery__Constraint *k =
				(const PgQuery__Constraint *)msg;

			for (size_t j = 0; c->target && j < k->n_keys; j++)
				add_col(c->m, CF_ACT_USE, c->target,
					sval(k->keys[j]));
			for (size_t j = 0; c->target && j < k->n_fk_attrs; j++)
				add_col(c->m, CF_ACT_USE, c->target,
					sval(k->fk_attrs[j]));
			for (size_t j = 0; j < k->n_pk_attrs; j++)
				add_col(c->m, CF_ACT_USE, k->pktable,
					sval(k->pk_attrs[j]));
		}
	}
	free(c->cols);
}

/* ---- DDL: what a statement provides, alters and removes ---- */

static void model_ddl(cf_stmt_model *m, const Node *n);

/* The name a CREATE of a schema-less object gives (role, extension, ...),
 * or NULL for any other statement. */
static const char *
other_created_name(const Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_EVENT_TRIG_STMT:
		return n->create_event_trig_stmt->trigname;
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
		return n->create_policy_stmt->policy_name;
	case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
		return n->create_role_stmt->role;
	case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
		return n->create_extension_stmt->extname;
	case PG_QUERY__NODE__NODE_RULE_STMT:
		return n->rule_stmt->rulename;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
		return n->create_table_space_stmt->tablespacename;
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
		return n->createdb_stmt->dbname;
	case PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT:
		return n->create_foreign_server_stmt->servername;
	case PG_QUERY__NODE__NODE_CREATE_FDW_STMT:
		return n->create_fdw_stmt->fdwname;
	default:
		return NULL;
	}
}

static void
column_def(cf_stmt_model *m, const PgQuery__RangeVar *rv,
	   const PgQuery__ColumnDef *cd)
{
	add_col(m, CF_ACT_PROVIDE, rv, cd->colname);
	for (size_t i = 0; i < cd->n_constraints; i++)
		if (cd->constraints[i]->node_case ==
		    PG_QUERY__NODE__NODE_CONSTRAINT)
			cf_stmt_model_add(
				m, CF_OBJ_CONSTRAINT, CF_ACT_PROVIDE,
				rv ? rv->schemaname : NULL,
				rv ? rv->relname : NULL,
				cd->constraints[i]->constraint->conname, NULL);
}

static void
create_stmt(cf_stmt_model *m, const PgQuery__CreateStmt *cs)
{
	add_rv(m, CF_OBJ_RELATION, CF_ACT_PROVIDE, cs->relation);
	for (size_t i = 0; i < cs->n_table_elts; i++) {
		const Node *e = cs->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			column_def(m, cs->relation, e->column_def);
		else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			cf_stmt_model_add(m, CF_OBJ_CONSTRAINT, CF_ACT_PROVIDE,
					  cs->relation->schemaname,
					  cs->relation->relname,
					  e->constraint->conname, NULL);
	}
}

static void
alter_table(cf_stmt_model *m, const PgQuery__AlterTableStmt *at)
{
	const PgQuery__RangeVar *rv = at->relation;

	for (size_t i = 0; i < at->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c;

		if (at->cmds[i]->node_case !=
		    PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		c = at->cmds[i]->alter_table_cmd;
		switch (c->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumnRecurse:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumnToView:
			if (c->def && c->def->node_case ==
					      PG_QUERY__NODE__NODE_COLUMN_DEF)
				column_def(m, rv, c->def->column_def);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraintRecurse:
			if (c->def && c->def->node_case ==
					      PG_QUERY__NODE__NODE_CONSTRAINT)
				cf_stmt_model_add(
					m, CF_OBJ_CONSTRAINT, CF_ACT_PROVIDE,
					rv->schemaname, rv->relname,
					c->def->constraint->conname, NULL);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumnRecurse:
			add_col(m, CF_ACT_REMOVE, rv, c->name);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraintRecurse:
			cf_stmt_model_add(m, CF_OBJ_CONSTRAINT, CF_ACT_REMOVE,
					  rv->schemaname, rv->relname, c->name,
					  NULL);
			break;
		default:
			/* SET DATA TYPE, DEFAULT, NOT NULL, ...: the column
			 * stays, changed */
			if (c->name && *c->name) {
				add_col(m, CF_ACT_ALTER, rv, c->name);
				m->objs[m->n - 1].retyped =
					c->subtype ==
					PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType;
			}
			break;
		}
	}
}

static void
rename_stmt(cf_stmt_model *m, const PgQuery__RenameStmt *r)
{
	const PgQuery__RangeVar *rv = r->relation;
	cf_obj_kind kind = object_kind(r->rename_type);
	const char *schema = NULL, *name = NULL;

	switch (kind) {
	case CF_OBJ_RELATION:
	case CF_OBJ_INDEX:
		add_rv(m, kind, CF_ACT_REMOVE, rv);
		if (rv)
			cf_stmt_model_add(m, kind, CF_ACT_PROVIDE,
					  rv->schemaname, NULL, r->newname,
					  NULL);
		return;
	case CF_OBJ_COLUMN:
	case CF_OBJ_CONSTRAINT:
		if (rv) {
			cf_stmt_model_add(m, kind, CF_ACT_REMOVE,
					  rv->schemaname, rv->relname,
					  r->subname, NULL);
			cf_stmt_model_add(m, kind, CF_ACT_PROVIDE,
					  rv->schemaname, rv->relname,
					  r->newname, NULL);
		} else if (r->object &&
			   r->object->node_case == PG_QUERY__NODE__NODE_LIST) {
			/* ALTER TYPE t RENAME ATTRIBUTE */
			qualified(r->object->list->items,
				  r->object->list->n_items, &schema, &name);
			cf_stmt_model_add(m, kind, CF_ACT_PROVIDE, schema, name,
					  r->newname, NULL);
		}
		return;
	case CF_OBJ_SCHEMA:
		cf_stmt_model_add(m, kind, CF_ACT_REMOVE, NULL, NULL,
				  r->subname, NULL);
		cf_stmt_model_add(m, kind, CF_ACT_PROVIDE, NULL, NULL,
				  r->newname, NULL);
		return;
	default:
		add_names(m, kind, CF_ACT_REMOVE, r->object);
		if (r->object &&
		    r->object->node_case ==
			    PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS) {
			const PgQuery__ObjectWithArgs *o =
				r->object->object_with_args;

			qualified(o->objname, o->n_objname, &schema, &name);
		} else if (r->object &&
			   r->object->node_case == PG_QUERY__NODE__NODE_LIST) {
			qualified(r->object->list->items,
				  r->object->list->n_items, &schema, &name);
		} else if (r->object &&
			   r->object->node_case ==
				   PG_QUERY__NODE__NODE_TYPE_NAME) {
			qualified(r->object->type_name->names,
				  r->object->type_name->n_names, &schema,
				  &name);
		}
		cf_stmt_model_add(m, kind, CF_ACT_PROVIDE, schema, NULL,
				  r->newname, NULL);
		return;
	}
}

static void
move_stmt(cf_stmt_model *m, const PgQuery__AlterObjectSchemaStmt *a)
{
	cf_obj_kind kind = object_kind(a->object_type);
	const char *schema = NULL, *name = NULL;

	if (a->relation) {
		add_rv(m, kind, CF_ACT_REMOVE, a->relation);
		cf_stmt_model_add(m, kind, CF_ACT_PROVIDE, a->newschema, NULL,
				  a->relation->relname, NULL);
		return;
	}
	add_names(m, kind, CF_ACT_REMOVE, a->object);
	if (!a->object)
		return;
	if (a->object->node_case == PG_QUERY__NODE__NODE_STRING)
		name = a->object->string->sval;
	else if (a->object->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS)
		qualified(a->object->object_with_args->objname,
			  a->object->object_with_args->n_objname, &schema,
			  &name);
	else if (a->object->node_case == PG_QUERY__NODE__NODE_LIST)
		qualified(a->object->list->items, a->object->list->n_items,
			  &schema, &name);
	else if (a->object->node_case == PG_QUERY__NODE__NODE_TYPE_NAME)
		qualified(a->object->type_name->names,
			  a->object->type_name->n_names, &schema, &name);
	cf_stmt_model_add(m, kind, CF_ACT_PROVIDE, a->newschema, NULL, name,
			  NULL);
}

static void
model_ddl(cf_stmt_model *m, const Node *n)
{
	const char *schema, *name;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		create_stmt(m, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT:
		if (n->create_foreign_table_stmt->base_stmt)
			create_stmt(m, n->create_foreign_table_stmt->base_stmt);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		add_rv(m, CF_OBJ_RELATION, CF_ACT_PROVIDE, n->view_stmt->view);
		if (m->n && n->view_stmt->replace)
			m->objs[m->n - 1].replace = true;
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into)
			add_rv(m, CF_OBJ_RELATION, CF_ACT_PROVIDE,
			       n->create_table_as_stmt->into->rel);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		add_rv(m, CF_OBJ_RELATION, CF_ACT_PROVIDE,
		       n->create_seq_stmt->sequence);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *ix = n->index_stmt;

		cf_stmt_model_add(m, CF_OBJ_INDEX, CF_ACT_PROVIDE,
				  ix->relation ? ix->relation->schemaname :
						 NULL,
				  ix->relation ? ix->relation->relname : NULL,
				  ix->idxname, NULL);
		break;
	}
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		add_rv(m, CF_OBJ_TYPE, CF_ACT_PROVIDE,
		       n->composite_type_stmt->typevar);
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT: {
		const PgQuery__CreateEnumStmt *e = n->create_enum_stmt;

		qualified(e->type_name, e->n_type_name, &schema, &name);
		cf_stmt_model_add(m, CF_OBJ_TYPE, CF_ACT_PROVIDE, schema, NULL,
				  name, NULL);
		for (size_t i = 0; i < e->n_vals; i++)
			cf_stmt_model_add(m, CF_OBJ_ENUM_VALUE, CF_ACT_PROVIDE,
					  schema, name, sval(e->vals[i]), NULL);
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT: {
		const PgQuery__AlterEnumStmt *e = n->alter_enum_stmt;

		qualified(e->type_name, e->n_type_name, &schema, &name);
		if (e->old_val && *e->old_val)
			cf_stmt_model_add(m, CF_OBJ_ENUM_VALUE, CF_ACT_REMOVE,
					  schema, name, e->old_val, NULL);
		cf_stmt_model_add(m, CF_OBJ_ENUM_VALUE, CF_ACT_PROVIDE, schema,
				  name, e->new_val, NULL);
		if (!(e->old_val && *e->old_val) && m->n &&
		    m->objs[m->n - 1].kind == CF_OBJ_ENUM_VALUE)
			m->objs[m->n - 1].enum_added = true;
		cf_stmt_model_add(m, CF_OBJ_TYPE, CF_ACT_USE, schema, NULL,
				  name, NULL);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
		qualified(n->create_range_stmt->type_name,
			  n->create_range_stmt->n_type_name, &schema, &name);
		cf_stmt_model_add(m, CF_OBJ_TYPE, CF_ACT_PROVIDE, schema, NULL,
				  name, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		qualified(n->create_domain_stmt->domainname,
			  n->create_domain_stmt->n_domainname, &schema, &name);
		cf_stmt_model_add(m, CF_OBJ_TYPE, CF_ACT_PROVIDE, schema, NULL,
				  name, NULL);
		break;
	case PG_QUERY__NODE__NODE_DEFINE_STMT: {
		const PgQuery__DefineStmt *d = n->define_stmt;

		qualified(d->defnames, d->n_defnames, &schema, &name);
		cf_stmt_model_add(m, object_kind(d->kind), CF_ACT_PROVIDE,
				  schema, NULL, name, NULL);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT: {
		const PgQuery__CreateFunctionStmt *f = n->create_function_stmt;
		char *args = param_types(f->parameters, f->n_parameters);

		qualified(f->funcname, f->n_funcname, &schema, &name);
		cf_stmt_model_add(m, CF_OBJ_FUNCTION, CF_ACT_PROVIDE, schema,
				  NULL, name, args);
		if (m->n && f->replace)
			m->objs[m->n - 1].replace = true;
		free(args);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT: {
		const PgQuery__CreateSchemaStmt *s = n->create_schema_stmt;

		name = s->schemaname;
		if ((!name || !*name) && s->authrole)
			name = s->authrole->rolename;
		cf_stmt_model_add(m, CF_OBJ_SCHEMA, CF_ACT_PROVIDE, NULL, NULL,
				  name, NULL);
		for (size_t i = 0; i < s->n_schema_elts; i++)
			model_ddl(m, s->schema_elts[i]);
		break;
	}
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		rename_stmt(m, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		alter_table(m, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:
		move_stmt(m, n->alter_object_schema_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT: {
		const PgQuery__DropStmt *d = n->drop_stmt;
		cf_obj_kind kind = object_kind(d->remove_type);

		for (size_t i = 0; i < d->n_objects; i++)
			add_names(m, kind, CF_ACT_REMOVE, d->objects[i]);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		cf_stmt_model_add(
			m, CF_OBJ_OTHER, CF_ACT_PROVIDE,
			n->create_trig_stmt->relation ?
				n->create_trig_stmt->relation->schemaname :
				NULL,
			n->create_trig_stmt->relation ?
				n->create_trig_stmt->relation->relname :
				NULL,
			n->create_trig_stmt->trigname, NULL);
		qualified(n->create_trig_stmt->funcname,
			  n->create_trig_stmt->n_funcname, &schema, &name);
		cf_stmt_model_add(m, CF_OBJ_FUNCTION, CF_ACT_USE, schema, NULL,
				  name, NULL);
		break;
	default:
		/* roles, extensions, ...; DML, DO, GRANT: uses only */
		cf_stmt_model_add(m, CF_OBJ_OTHER, CF_ACT_PROVIDE, NULL, NULL,
				  other_created_name(n), NULL);
		break;
	}
}

/* The relation a statement is about, for resolving bare column names. */
static const PgQuery__RangeVar *
statement_target(const Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		return n->create_stmt->relation;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return n->alter_table_stmt->relation;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return n->index_stmt->relation;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		return n->create_seq_stmt->sequence;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		return n->rename_stmt->relation;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		return n->create_trig_stmt->relation;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return n->update_stmt->relation;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		return n->insert_stmt->relation;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return n->delete_stmt->relation;
	default:
		return NULL;
	}
}

/* ---- classification (what PreventInTransactionBlock refuses) ---- */

/* The DefElem named name in a list, or NULL. */
static const PgQuery__DefElem *
find_defelem(Node **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (list[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
		    strcmp(list[i]->def_elem->defname, name) == 0)
			return list[i]->def_elem;
	return NULL;
}

/*
 * Value of a boolean option as the server reads it (defGetBoolean): no
 * argument means true; 0, false and off mean false.  Anything else is taken
 * as true (the server rejects real garbage itself).
 */
static bool
defelem_bool(const PgQuery__DefElem *de)
{
	const Node *a = de->arg;
	const char *s = NULL;

	if (!a)
		return true;
	switch (a->node_case) {
	case PG_QUERY__NODE__NODE_INTEGER:
		return a->integer->ival != 0;
	case PG_QUERY__NODE__NODE_BOOLEAN:
		return a->boolean->boolval;
	case PG_QUERY__NODE__NODE_STRING:
		s = a->string->sval;
		break;
	case PG_QUERY__NODE__NODE_TYPE_NAME:
		if (a->type_name->n_names)
			s = sval(
				a->type_name->names[a->type_name->n_names - 1]);
		break;
	default:
		break;
	}
	return !(s &&
		 (strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0));
}

static bool
option_true(Node **list, size_t n, const char *name)
{
	const PgQuery__DefElem *de = find_defelem(list, n, name);

	return de && defelem_bool(de);
}

static bool
option_default_true(Node **list, size_t n, const char *name)
{
	const PgQuery__DefElem *de = find_defelem(list, n, name);

	return !de || defelem_bool(de);
}

static const char *
non_transactional_kind(const Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return n->index_stmt->concurrent ? "CREATE INDEX CONCURRENTLY" :
						   NULL;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		return n->drop_stmt->concurrent ? "DROP INDEX CONCURRENTLY" :
						  NULL;
	case PG_QUERY__NODE__NODE_REINDEX_STMT: {
		const PgQuery__ReindexStmt *r = n->reindex_stmt;

		if (option_true(r->params, r->n_params, "concurrently"))
			return "REINDEX CONCURRENTLY";
		switch (r->kind) {
		case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA:
			return "REINDEX SCHEMA";
		case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM:
			return "REINDEX SYSTEM";
		case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE:
			return "REINDEX DATABASE";
		default:
			return NULL;
		}
	}
	case PG_QUERY__NODE__NODE_VACUUM_STMT:
		/* ANALYZE alone may run in a transaction */
		return n->vacuum_stmt->is_vacuumcmd ? "VACUUM" : NULL;
	case PG_QUERY__NODE__NODE_CLUSTER_STMT:
		/* CLUSTER without a table reclusters the whole database */
		return n->cluster_stmt->relation ? NULL : "CLUSTER";
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
		return "CREATE DATABASE";
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		return "DROP DATABASE";
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
		return find_defelem(n->alter_database_stmt->options,
				    n->alter_database_stmt->n_options,
				    "tablespace") ?
			       "ALTER DATABASE SET TABLESPACE" :
			       NULL;
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
		return "ALTER SYSTEM";
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
		return "CREATE TABLESPACE";
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
		return "DROP TABLESPACE";
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
		return n->discard_stmt->target ==
				       PG_QUERY__DISCARD_MODE__DISCARD_ALL ?
			       "DISCARD ALL" :
			       NULL;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		for (size_t i = 0; i < n->alter_table_stmt->n_cmds; i++) {
			const Node *c = n->alter_table_stmt->cmds[i];
			const PgQuery__AlterTableCmd *cmd;

			if (c->node_case !=
			    PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
				continue;
			cmd = c->alter_table_cmd;
			if (cmd->subtype ==
				    PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition &&
			    cmd->def &&
			    cmd->def->node_case ==
				    PG_QUERY__NODE__NODE_PARTITION_CMD &&
			    cmd->def->partition_cmd->concurrent)
				return "ALTER TABLE DETACH PARTITION "
				       "CONCURRENTLY";
		}
		return NULL;
	case PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT: {
		const PgQuery__CreateSubscriptionStmt *s =
			n->create_subscription_stmt;

		/* connect = false implies create_slot = false */
		return option_default_true(s->options, s->n_options,
					   "connect") &&
				       option_default_true(s->options,
							   s->n_options,
							   "create_slot") ?
			       "CREATE SUBSCRIPTION" :
			       NULL;
	}
	case PG_QUERY__NODE__NODE_DROP_SUBSCRIPTION_STMT:
		return "DROP SUBSCRIPTION";
	default:
		return NULL;
	}
}

/* The node's message type name ("CreateStmt"), static. */
static const char *
node_name(const Node *n)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field(
			&pg_query__node__descriptor, (unsigned)n->node_case);
	const ProtobufCMessageDescriptor *d = f ? f->descriptor : NULL;

	return d ? d->short_name : "";
}

/* true when an unqualified relation use names a WITH query. */
static bool
is_cte(const walk_ctx *c, const cf_obj *o)
{
	for (size_t i = 0; o->kind == CF_OBJ_RELATION && !o->schema &&
			   o->action == CF_ACT_USE && i < c->n_ctes;
	     i++)
		if (strcmp(c->ctes[i], o->name) == 0)
			return true;
	return false;
}

/* Orders objects by kind, then name. */
static int
obj_ptr_cmp(const void *a, const void *b)
{
	const cf_obj *x = *(const cf_obj *const *)a;
	const cf_obj *y = *(const cf_obj *const *)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether provided (sorted by obj_ptr_cmp) holds o's kind and name with a
 * parent that agrees (equal, or unknown on either side). */
static bool
provided_here(const cf_obj *const *provided, size_t n, const cf_obj *o)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* the first not below o */
		size_t mid = lo + (hi - lo) / 2;

		if (obj_ptr_cmp(&provided[mid], &o) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && obj_ptr_cmp(&provided[lo], &o) == 0; lo++)
		if (!o->parent || !provided[lo]->parent ||
		    strcmp(o->parent, provided[lo]->parent) == 0)
			return true;
	return false;
}

/*
 * Drops uses of what the statement itself provides (its own columns) and
 * of its WITH queries.  The provided objects are sorted once: a statement
 * with thousands of names stays O(n log n).
 */
static void
drop_self_uses(cf_stmt_model *m, const walk_ctx *c)
{
	/* most statements name a few objects: no allocation for them */
	const cf_obj *few_provided[32];
	bool few_drop[32];
	bool few = m->n <= 32;
	const cf_obj **provided = few ? few_provided :
					cf_calloc(m->n, sizeof(*provided));
	bool *drop = few ? few_drop : cf_calloc(m->n, sizeof(*drop));
	size_t k = 0, np = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->objs[i].action == CF_ACT_PROVIDE)
			provided[np++] = &m->objs[i];
	if (np > 1)
		qsort(provided, np, sizeof(*provided), obj_ptr_cmp);
	/* decide first: compacting moves the objects provided points to */
	for (size_t i = 0; i < m->n; i++)
		drop[i] = (m->objs[i].action == CF_ACT_USE &&
			   provided_here(provided, np, &m->objs[i])) ||
			  is_cte(c, &m->objs[i]);
	for (size_t i = 0; i < m->n; i++) {
		if (drop[i])
			cf_obj_release(&m->objs[i]);
		else
			m->objs[k++] = m->objs[i];
	}
	m->n = k;
	if (!few) {
		free(drop);
		free(provided);
	}
}

cf_stmt_model *
cf_stmt_model_from_node(const void *node)
{
	const Node *n = node;
	cf_stmt_model *m = cf_new(cf_stmt_model);
	walk_ctx c;

	if (!n)
		return m;
	m->kind = node_name(n);
	if (n->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT) {
		m->transaction_control = true;
		m->tx_kind = (int)n->transaction_stmt->kind;
		m->tx_chain = n->transaction_stmt->chain;
		return m;
	}
	m->non_transactional = non_transactional_kind(n);
	model_ddl(m, n);
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.target = statement_target(n);
	if (n->node_case == PG_QUERY__NODE__NODE_VIEW_STMT)
		c.created = n->view_stmt->view;
	else if (n->node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT &&
		 n->create_table_as_stmt->into)
		c.created = n->create_table_as_stmt->into->rel;
	walk(&c, (const ProtobufCMessage *)n);
	resolve_column_refs(&c);
	drop_self_uses(m, &c);
	return m;
}

/* ---- a model from scanner tokens ---- */

/* Object kinds a CREATE can name, by the keyword before the name. */
static cf_obj_kind
create_kind(const char *w, size_t len)
{
	static const struct {
		const char *word;
		cf_obj_kind kind;
	} words[] = {
		{"table", CF_OBJ_RELATION},	{"view", CF_OBJ_RELATION},
		{"sequence", CF_OBJ_RELATION},	{"index", CF_OBJ_INDEX},
		{"function", CF_OBJ_FUNCTION},	{"procedure", CF_OBJ_FUNCTION},
		{"aggregate", CF_OBJ_FUNCTION}, {"type", CF_OBJ_TYPE},
		{"domain", CF_OBJ_TYPE},	{"schema", CF_OBJ_SCHEMA},
		{"trigger", CF_OBJ_OTHER},	{"policy", CF_OBJ_OTHER},
		{"extension", CF_OBJ_OTHER},
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == len &&
		    strncasecmp(words[i].word, w, len) == 0)
			return words[i].kind;
	return CF_OBJ_NAME;
}

/* An identifier token's name: folded to lower case, or dequoted. */
static char *
token_name(const char *s, size_t len)
{
	cf_strbuf b = CF_STRBUF_INIT;

	if (len >= 2 && s[0] == '"') {
		for (size_t i = 1; i + 1 < len; i++) {
			cf_strbuf_addch(&b, s[i]);
			if (s[i] == '"')
				i++;
		}
	} else {
		for (size_t i = 0; i < len; i++)
			cf_strbuf_addch(&b, (s[i] >= 'A' && s[i] <= 'Z') ?
						    (char)(s[i] - 'A' + 'a') :
						    s[i]);
	}
	return cf_strbuf_detach(&b);
}

/* PostgreSQL's operator characters (scan.l's op_chars). */
static const bool op_char[256] = {
	['+'] = true, ['-'] = true, ['*'] = true, ['/'] = true, ['<'] = true,
	['>'] = true, ['='] = true, ['~'] = true, ['!'] = true, ['@'] = true,
	['#'] = true, ['%'] = true, ['^'] = true, ['&'] = true, ['|'] = true,
	['`'] = true, ['?'] = true,
};

bool
cf_sql_op_char(char c)
{
	return op_char[(unsigned char)c];
}

bool
cf_sql_scannable(const char *sql, size_t len, size_t *at)
{
	size_t run = 0;

	/* every file passes here: a table, not strchr() per byte */
	for (size_t i = 0; i < len; i++) {
		if (!op_char[(unsigned char)sql[i]]) {
			run = 0;
		} else if (++run > CF_SQL_MAX_OP_RUN) {
			if (at)
				*at = i + 1 - run;
			return false;
		}
	}
	return true;
}

cf_stmt_model *
cf_stmt_model_from_tokens(const char *sql, size_t len)
{
	cf_stmt_model *m = cf_new(cf_stmt_model);
	char *copy;
	PgQueryScanResult r;
	PgQuery__ScanResult *sr = NULL;
	cf_obj_kind pending = CF_OBJ_NAME;
	bool in_create = false, ddl = false;

	m->kind = "";
	m->from_tokens = true;
	if (!cf_sql_scannable(sql, len, NULL)) /* the scanner is the parser's */
		return m;
	copy = cf_strndup(sql, len);
	r = pg_query_scan(copy);
	if (!r.error)
		sr = pg_query__scan_result__unpack(
			NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
	for (size_t i = 0; sr && i < sr->n_tokens; i++) {
		const PgQuery__ScanToken *t = sr->tokens[i];
		const char *w = copy + t->start;
		size_t wl = (size_t)(t->end - t->start);
		char *name;

		if (i == 0 && wl == 6 && strncasecmp(w, "create", 6) == 0) {
			in_create = ddl = true;
			continue;
		}
		if (i == 0 && wl == 5 && strncasecmp(w, "alter", 5) == 0)
			ddl = true;
		if (t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD) {
			if (in_create && pending == CF_OBJ_NAME)
				pending = create_kind(w, wl);
			continue;
		}
		if (t->token != PG_QUERY__TOKEN__IDENT)
			continue;
		name = token_name(w, wl);
		/* CREATE <kind> [IF NOT EXISTS] [schema.]name: the name is
		 * the last identifier of the first dotted run */
		if (in_create && pending != CF_OBJ_NAME) {
			bool dotted = i + 2 < sr->n_tokens &&
				      sr->tokens[i + 1]->token ==
					      PG_QUERY__TOKEN__ASCII_46;

			if (!dotted) {
				cf_stmt_model_add(m, pending, CF_ACT_PROVIDE,
						  NULL, NULL, name, NULL);
				in_create = false;
			}
		} else {
			/* in DDL the other names are mostly what it adds
			 * (columns, constraints): a weak "provides" */
			cf_stmt_model_add(m, CF_OBJ_NAME,
					  ddl ? CF_ACT_PROVIDE : CF_ACT_USE,
					  NULL, NULL, name, NULL);
		}
		free(name);
	}
	if (sr)
		pg_query__scan_result__free_unpacked(sr, NULL);
	pg_query_free_scan_result(r);
	free(copy);
	return m;
}
