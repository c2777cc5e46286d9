/*
 * rules.c — the deploy-safety rules of `migrate lint`.  Each rule reads
 * one statement's protobuf parse tree (libpg_query) and the file state
 * (tables created, CHECK (col IS NOT NULL) constraints validated,
 * lock_timeout set by earlier statements); none looks at SQL text.  The
 * table gives each rule its id, default severity, docs anchor and safe
 * alternative; docs/lint.md has one section per rule.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "lint/lint_internal.h"

typedef PgQuery__Node Node;

#define DOCS(id) "docs/lint.md#" id

static const struct rule_row {
	cf_lint_rule rule;
	const char *suggestion;
} rules[] = {
	{{"index-without-concurrently", CF_LINT_ERROR,
	  "CREATE INDEX without CONCURRENTLY on an existing table",
	  DOCS("index-without-concurrently")},
	 "CREATE INDEX CONCURRENTLY in a migration of its own "
	 "(-- confiture:no-transaction)"},
	{{"foreign-key-not-valid", CF_LINT_ERROR,
	  "foreign key added to an existing table without NOT VALID",
	  DOCS("foreign-key-not-valid")},
	 "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE "
	 "CONSTRAINT in a later migration"},
	{{"check-not-valid", CF_LINT_ERROR,
	  "CHECK added to an existing table without NOT VALID",
	  DOCS("check-not-valid")},
	 "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT "
	 "in a later migration"},
	{{"set-not-null", CF_LINT_ERROR,
	  "SET NOT NULL without a validated CHECK (col IS NOT NULL) before it",
	  DOCS("set-not-null")},
	 "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE "
	 "CONSTRAINT c; then SET NOT NULL (PostgreSQL 12 and later)"},
	{{"add-column-default", CF_LINT_ERROR,
	  "ADD COLUMN with a volatile default, or any default before "
	  "PostgreSQL 11",
	  DOCS("add-column-default")},
	 "add the column without a default, set the default, backfill in "
	 "batches"},
	{{"drop-column-or-table", CF_LINT_WARNING,
	  "DROP COLUMN or DROP TABLE of an existing object",
	  DOCS("drop-column-or-table")},
	 "stop using the column or table in the application first; drop it in "
	 "a later release"},
	{{"drop-cascade", CF_LINT_ERROR,
	  "DROP ... CASCADE removes dependent objects nobody named",
	  DOCS("drop-cascade")},
	 "drop the dependent objects by name, then drop without CASCADE"},
	{{"add-not-null-without-default", CF_LINT_ERROR,
	  "NOT NULL column without a default added to an existing table",
	  DOCS("add-not-null-without-default")},
	 "add the column nullable (or with a constant default), backfill, "
	 "then make it NOT NULL"},
	{{"rename-column-or-table", CF_LINT_WARNING,
	  "renaming a column or table breaks the application still running",
	  DOCS("rename-column-or-table")},
	 "add the new name, write both, move readers, then drop the old one"},
	{{"timestamp-without-time-zone", CF_LINT_WARNING,
	  "timestamp without time zone in a column",
	  DOCS("timestamp-without-time-zone")},
	 "use timestamptz"},
	{{"security-definer-search-path", CF_LINT_ERROR,
	  "SECURITY DEFINER function without a pinned search_path",
	  DOCS("security-definer-search-path")},
	 "add SET search_path = pg_catalog, pg_temp (and qualify names) to "
	 "the function"},
	{{"missing-lock-timeout", CF_LINT_WARNING,
	  "ACCESS EXCLUSIVE lock on an existing table with no lock_timeout "
	  "set earlier",
	  DOCS("missing-lock-timeout")},
	 "SET lock_timeout = '2s'; at the top of the migration, and retry "
	 "when it fires"},
	{{"column-type-change", CF_LINT_ERROR,
	  "ALTER COLUMN TYPE that rewrites or rescans an existing table",
	  DOCS("column-type-change")},
	 "add a column of the new type, backfill, switch readers, drop the "
	 "old one"},
	{{"constraint-without-index", CF_LINT_ERROR,
	  "UNIQUE or PRIMARY KEY added without USING INDEX",
	  DOCS("constraint-without-index")},
	 "CREATE UNIQUE INDEX CONCURRENTLY i ...; then ADD CONSTRAINT c "
	 "UNIQUE USING INDEX i"},
	{{"concurrently-with-other-changes", CF_LINT_ERROR,
	  "CONCURRENTLY in the same migration as other schema changes",
	  DOCS("concurrently-with-other-changes")},
	 "put the CONCURRENTLY statement in a migration of its own (SET "
	 "statements may precede it)"},
	{{"int-primary-key", CF_LINT_WARNING,
	  "serial or 32-bit integer primary key in a new table",
	  DOCS("int-primary-key")},
	 "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
	{{"varchar-length", CF_LINT_WARNING, "varchar(n) in a new column",
	  DOCS("varchar-length")},
	 "text with CHECK (char_length(col) <= n), changeable with NOT VALID "
	 "and VALIDATE"},
	{{"data-change-with-ddl", CF_LINT_WARNING,
	  "UPDATE or DELETE without WHERE in the same transaction as schema "
	  "changes",
	  DOCS("data-change-with-ddl")},
	 "backfill in batches in a migration of its own, outside the "
	 "schema change's transaction"},
	{{"separate-alters", CF_LINT_WARNING,
	  "several ALTER TABLE statements on one table that could be one",
	  DOCS("separate-alters")},
	 "one ALTER TABLE t ADD COLUMN a ..., ADD COLUMN b ...: one lock, one "
	 "rewrite at most"},
	{{"replace-with-dependents", CF_LINT_ERROR,
	  "CREATE OR REPLACE VIEW/FUNCTION that changes an object others "
	  "depend on",
	  DOCS("replace-with-dependents")},
	 "keep the signature and columns; REINDEX or REFRESH what stored "
	 "the old results; recreate dependents by name when the shape "
	 "must change"},
	{{"ignore-without-reason", CF_LINT_WARNING,
	  "a -- confiture:ignore comment without a reason",
	  DOCS("ignore-without-reason")},
	 "-- confiture:ignore RULE why this statement is safe here"},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

const cf_lint_rule *
cf_lint_rules(size_t *n)
{
	static cf_lint_rule table[N_RULES];

	/* the public view is the rows' first member, copied once */
	if (!table[0].id)
		for (size_t i = 0; i < N_RULES; i++)
			table[i] = rules[i].rule;
	*n = N_RULES;
	return table;
}

const cf_lint_rule *
lint_rule_find(const char *id)
{
	for (size_t i = 0; id && i < N_RULES; i++)
		if (strcmp(rules[i].rule.id, id) == 0)
			return &rules[i].rule;
	return NULL;
}

const char *
lint_rule_suggestion(const char *id)
{
	for (size_t i = 0; id && i < N_RULES; i++)
		if (strcmp(rules[i].rule.id, id) == 0)
			return rules[i].suggestion;
	return "";
}

/* ---- reporting and the file state ---- */

/* Reports a finding of rule id through the driver (see lint_report_fn). */
static void CF_PRINTF(4, 5) lint_report(const lint_stmt *s, const char *id,
					int loc, const char *fmt, ...)
{
	va_list ap;
	cf_strbuf sb;

	cf_strbuf_init(&sb);
	va_start(ap, fmt);
	cf_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	s->report(s, id, loc, cf_strbuf_detach(&sb));
}

static const lint_slot *index_find(const lint_index *ix, const char *key);
static void index_add(lint_index *ix, const char *key, size_t at);

/* true when table (unqualified name) was created earlier in the file. */
static bool
lint_created(const lint_file_state *st, const char *table)
{
	return table && index_find(&st->created, table);
}

/* ---- small readers of the tree ---- */

static const char *
str_of(const Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ?
		       n->string->sval :
		       NULL;
}

/* The last name of a qualified name list ("pg_catalog.timestamp"). */
static const char *
last_name(Node **names, size_t n)
{
	return n ? str_of(names[n - 1]) : NULL;
}

static bool
existing(const lint_stmt *s, const PgQuery__RangeVar *rv)
{
	return rv && rv->relname && !lint_created(s->state, rv->relname);
}

/* Functions whose result changes per row: a default calling one must be
 * computed for every existing row (a table rewrite). */
static bool
volatile_call(const Node *n)
{
	static const char *const names[] = {
		"random",	    "gen_random_uuid",
		"uuid_generate_v1", "uuid_generate_v1mc",
		"uuid_generate_v4", "clock_timestamp",
		"timeofday",	    "nextval",
		"txid_current",	    "statement_timestamp"};
	const char *fn;

	if (!n)
		return false;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_FUNC_CALL:
		fn = last_name(n->func_call->funcname,
			       n->func_call->n_funcname);
		for (size_t i = 0; fn && i < sizeof(names) / sizeof(names[0]);
		     i++)
			if (strcmp(fn, names[i]) == 0)
				return true;
		for (size_t i = 0; i < n->func_call->n_args; i++)
			if (volatile_call(n->func_call->args[i]))
				return true;
		return false;
	case PG_QUERY__NODE__NODE_TYPE_CAST:
		return volatile_call(n->type_cast->arg);
	case PG_QUERY__NODE__NODE_A_EXPR:
		return volatile_call(n->a_expr->lexpr) ||
		       volatile_call(n->a_expr->rexpr);
	case PG_QUERY__NODE__NODE_COALESCE_EXPR:
		for (size_t i = 0; i < n->coalesce_expr->n_args; i++)
			if (volatile_call(n->coalesce_expr->args[i]))
				return true;
		return false;
	default:
		return false;
	}
}

static bool
serial_type(const PgQuery__TypeName *t)
{
	const char *name = t ? last_name(t->names, t->n_names) : NULL;

	return name &&
	       (strcmp(name, "serial") == 0 || strcmp(name, "bigserial") == 0 ||
		strcmp(name, "smallserial") == 0 ||
		strcmp(name, "serial4") == 0 || strcmp(name, "serial8") == 0 ||
		strcmp(name, "serial2") == 0);
}

/* The column of CHECK (col IS NOT NULL), or NULL. */
static const char *
not_null_check_column(const PgQuery__Constraint *c)
{
	const Node *e = c->raw_expr;
	const PgQuery__NullTest *nt;
	const PgQuery__ColumnRef *cr;

	if (!e || e->node_case != PG_QUERY__NODE__NODE_NULL_TEST)
		return NULL;
	nt = e->null_test;
	if (nt->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL ||
	    !nt->arg || nt->arg->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
		return NULL;
	cr = nt->arg->column_ref;
	return last_name(cr->fields, cr->n_fields);
}

static void
remember_check(lint_file_state *st, const char *table, const char *name,
	       const char *column, bool validated)
{
	lint_notnull_check *k;

	CF_GROW(st->checks, st->alloc_checks, st->n_checks + 1);
	index_add(&st->checks_by_table, table, st->n_checks);
	k = &st->checks[st->n_checks++];
	k->table = cf_strdup(table);
	k->constraint = cf_strdup(name && *name ? name : "");
	k->column = cf_strdup(column);
	k->validated = validated;
}

static void
mark_validated(lint_file_state *st, const char *table, const char *name)
{
	const lint_slot *sl = index_find(&st->checks_by_table, table);

	for (size_t i = 0; sl && i < sl->n; i++)
		if (strcmp(st->checks[sl->at[i]].constraint, name) == 0)
			st->checks[sl->at[i]].validated = true;
}

static bool
has_validated_check(const lint_file_state *st, const char *table,
		    const char *column)
{
	const lint_slot *sl = index_find(&st->checks_by_table, table);

	for (size_t i = 0; sl && i < sl->n; i++)
		if (st->checks[sl->at[i]].validated &&
		    strcmp(st->checks[sl->at[i]].column, column) == 0)
			return true;
	return false;
}

/* ---- rules on column definitions (CREATE TABLE and ADD COLUMN) ---- */

static const char *
type_of(const PgQuery__ColumnDef *cd)
{
	const PgQuery__TypeName *t = cd->type_name;

	return t ? last_name(t->names, t->n_names) : NULL;
}

/* The type of a column: is_new when the column is being created. */
static void
check_column_type(const lint_stmt *s, const PgQuery__ColumnDef *cd, bool is_new)
{
	const PgQuery__TypeName *t = cd->type_name;
	const char *name = type_of(cd);

	if (name && strcmp(name, "timestamp") == 0)
		lint_report(s, "timestamp-without-time-zone", t->location,
			    "column \"%s\" is timestamp without time zone",
			    cd->colname);
	if (is_new && name && strcmp(name, "varchar") == 0 && t->n_typmods)
		lint_report(s, "varchar-length", t->location,
			    "column \"%s\" is varchar(n): changing n later is "
			    "an ALTER COLUMN TYPE under ACCESS EXCLUSIVE",
			    cd->colname);
}

/* ALTER COLUMN TYPE: rewrites, or rescans, unless the new type is one
 * every old text-like value converts to without a check.  Lint cannot see
 * the old type: varchar(n) may be a lengthening (no rewrite), so it passes. */
static void
check_type_change(const lint_stmt *s, const PgQuery__RangeVar *rv,
		  const char *column, const PgQuery__ColumnDef *cd)
{
	const char *name = type_of(cd);

	if (!existing(s, rv))
		return;
	/* USING (raw_default) always computes every row again */
	if (!cd->raw_default && name &&
	    (strcmp(name, "text") == 0 || strcmp(name, "varchar") == 0))
		return;
	lint_report(s, "column-type-change",
		    cd->type_name ? cd->type_name->location : -1,
		    "changing the type of \"%s\".\"%s\" to %s rewrites or "
		    "rescans the table under an ACCESS EXCLUSIVE lock",
		    rv->relname, column, name ? name : "another type");
}

static bool
small_int_type(const char *name)
{
	static const char *const names[] = {
		"int4",	   "int2",	  "serial",    "serial4",
		"serial2", "smallserial", "bigserial", "serial8"};

	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static bool
is_primary(const Node *n)
{
	return n->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
	       n->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
}

static void
report_int_pk(const lint_stmt *s, const PgQuery__ColumnDef *cd)
{
	lint_report(s, "int-primary-key", cd->location,
		    "primary key \"%s\" is %s: a sequence-fed key of this "
		    "type runs out or needs a rewrite to widen",
		    cd->colname, type_of(cd));
}

/* ADD COLUMN on an existing table. */
static void
check_add_column(const lint_stmt *s, const PgQuery__RangeVar *rv,
		 const PgQuery__ColumnDef *cd)
{
	const Node *def = NULL;
	bool not_null = cd->is_not_null, rewrite = false;
	const char *why = NULL;

	for (size_t i = 0; i < cd->n_constraints; i++) {
		const Node *n = cd->constraints[i];
		const PgQuery__Constraint *c;

		if (n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
			continue;
		c = n->constraint;
		switch (c->contype) {
		case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
		case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
			not_null = true;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
			def = c->raw_expr;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
			rewrite = true;
			why = "an identity column";
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
			rewrite = true;
			why = "a stored generated column";
			break;
		default:
			break;
		}
	}
	if (!existing(s, rv))
		return;
	if (serial_type(cd->type_name)) {
		rewrite = true;
		why = "a serial column (its default calls nextval())";
	} else if (def && volatile_call(def)) {
		rewrite = true;
		why = "a volatile default";
	} else if (def && s->pg_major < 11) {
		rewrite = true;
		why = "a default before PostgreSQL 11";
	}
	if (rewrite)
		lint_report(s, "add-column-default", cd->location,
			    "adding column \"%s\" with %s rewrites table "
			    "\"%s\" under an ACCESS EXCLUSIVE lock",
			    cd->colname, why, rv->relname);
	else if (not_null && !def)
		lint_report(s, "add-not-null-without-default", cd->location,
			    "NOT NULL column \"%s\" without a default fails "
			    "on table \"%s\" as soon as it has a row",
			    cd->colname, rv->relname);
}

/* ---- ALTER TABLE ---- */

static void
check_add_constraint(const lint_stmt *s, const PgQuery__RangeVar *rv,
		     const PgQuery__Constraint *c)
{
	const char *col;

	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK &&
	    (col = not_null_check_column(c)))
		remember_check(s->state, rv->relname, c->conname, col,
			       !c->skip_validation);
	if (!existing(s, rv))
		return;
	if ((c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
	     c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE) &&
	    (!c->indexname || !*c->indexname))
		lint_report(
			s, "constraint-without-index", c->location,
			"%s on \"%s\" builds its index under an ACCESS "
			"EXCLUSIVE lock",
			c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ?
				"PRIMARY KEY" :
				"UNIQUE",
			rv->relname);
	if (c->skip_validation)
		return;
	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
		lint_report(s, "foreign-key-not-valid", c->location,
			    "foreign key on \"%s\" is validated at once: "
			    "it scans the table under a SHARE ROW EXCLUSIVE "
			    "lock on it and on \"%s\"",
			    rv->relname,
			    c->pktable ? c->pktable->relname : "?");
	else if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
		lint_report(s, "check-not-valid", c->location,
			    "CHECK on \"%s\" is validated at once: it scans "
			    "the table under an ACCESS EXCLUSIVE lock",
			    rv->relname);
}

/* Subcommands that take less than ACCESS EXCLUSIVE. */
static bool
light_lock(const PgQuery__AlterTableCmd *cmd)
{
	switch (cmd->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ClusterOn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropCluster:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrig:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrig:
		return true;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		return cmd->def &&
		       cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		       cmd->def->constraint->contype ==
			       PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN;
	default:
		return false;
	}
}

static void
access_exclusive(const lint_stmt *s, const char *table)
{
	if (s->state->lock_timeout || s->state->lock_reported)
		return;
	s->state->lock_reported = true;
	lint_report(s, "missing-lock-timeout", -1,
		    "ACCESS EXCLUSIVE lock on \"%s\" with no lock_timeout set "
		    "earlier: while it waits, every query on the table queues "
		    "behind it",
		    table);
}

/* Subcommands that merge into one ALTER TABLE without changing what it
 * does (the NOT VALID / VALIDATE / SET NOT NULL steps must stay apart). */
static bool
combinable(const PgQuery__AlterTableCmd *cmd)
{
	switch (cmd->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
		return true;
	default:
		return false;
	}
}

/* A combinable ALTER TABLE on an existing table that an earlier one of the
 * file could have carried: reported once per table. */
static void
check_separate(const lint_stmt *s, const PgQuery__AlterTableStmt *a)
{
	lint_file_state *st = s->state;
	const char *table = a->relation->relname;
	const lint_slot *sl;

	if (!existing(s, a->relation))
		return;
	for (size_t i = 0; i < a->n_cmds; i++)
		if (a->cmds[i]->node_case !=
			    PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ||
		    !combinable(a->cmds[i]->alter_table_cmd))
			return;
	sl = index_find(&st->altered_by_table, table);
	if (sl) { /* one place per table */
		struct lint_altered *earlier = &st->altered[sl->at[0]];

		if (!earlier->reported)
			lint_report(
				s, "separate-alters", -1,
				"another ALTER TABLE \"%s\": each one takes "
				"the ACCESS EXCLUSIVE lock again (and may "
				"rewrite the table again)",
				table);
		earlier->reported = true;
		return;
	}
	CF_GROW(st->altered, st->alloc_altered, st->n_altered + 1);
	index_add(&st->altered_by_table, table, st->n_altered);
	st->altered[st->n_altered].table = cf_strdup(table);
	st->altered[st->n_altered++].reported = false;
}

static void
check_alter_table(const lint_stmt *s, const PgQuery__AlterTableStmt *a)
{
	const PgQuery__RangeVar *rv = a->relation;
	bool heavy = false;

	if (!rv || a->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		return;
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd;

		if (a->cmds[i]->node_case !=
		    PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		cmd = a->cmds[i]->alter_table_cmd;
		if (!light_lock(cmd))
			heavy = true;
		if (cmd->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE)
			lint_report(s, "drop-cascade", -1,
				    "CASCADE on \"%s\" also drops every object "
				    "that depends on \"%s\"",
				    rv->relname, cmd->name ? cmd->name : "");
		switch (cmd->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
			if (cmd->def &&
			    cmd->def->node_case ==
				    PG_QUERY__NODE__NODE_COLUMN_DEF) {
				check_column_type(s, cmd->def->column_def,
						  true);
				check_add_column(s, rv, cmd->def->column_def);
			}
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			if (cmd->def &&
			    cmd->def->node_case ==
				    PG_QUERY__NODE__NODE_COLUMN_DEF) {
				check_column_type(s, cmd->def->column_def,
						  false);
				check_type_change(s, rv, cmd->name,
						  cmd->def->column_def);
			}
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
			if (cmd->def && cmd->def->node_case ==
						PG_QUERY__NODE__NODE_CONSTRAINT)
				check_add_constraint(s, rv,
						     cmd->def->constraint);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
			mark_validated(s->state, rv->relname, cmd->name);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
			if (!existing(s, rv))
				break;
			if (s->pg_major >= 12 &&
			    has_validated_check(s->state, rv->relname,
						cmd->name))
				break;
			lint_report(
				s, "set-not-null", -1,
				s->pg_major >= 12 ?
					"SET NOT NULL on \"%s\".\"%s\" scans the "
					"table under an ACCESS EXCLUSIVE lock: no "
					"validated CHECK (%s IS NOT NULL) before it" :
					"SET NOT NULL on \"%s\".\"%s\" scans the "
					"table under an ACCESS EXCLUSIVE lock "
					"(before PostgreSQL 12 always; %s)",
				rv->relname, cmd->name,
				s->pg_major >= 12 ? cmd->name :
						    "no CHECK can spare it");
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
			if (existing(s, rv))
				lint_report(s, "drop-column-or-table", -1,
					    "dropping column \"%s\".\"%s\" "
					    "breaks the application version "
					    "still reading it",
					    rv->relname, cmd->name);
			break;
		default:
			break;
		}
	}
	if (heavy && existing(s, rv))
		access_exclusive(s, rv->relname);
	check_separate(s, a);
}

/* ---- other statements ---- */

static void
check_drop(const lint_stmt *s, const PgQuery__DropStmt *d)
{
	bool table = d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE;

	if (d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE)
		lint_report(s, "drop-cascade", -1,
			    "DROP ... CASCADE also drops every object that "
			    "depends on what it names");
	for (size_t i = 0; table && i < d->n_objects; i++) {
		const Node *o = d->objects[i];
		const char *name = NULL;

		if (o->node_case == PG_QUERY__NODE__NODE_LIST)
			name = last_name(o->list->items, o->list->n_items);
		if (!name || lint_created(s->state, name))
			continue;
		lint_report(s, "drop-column-or-table", -1,
			    "dropping table \"%s\" breaks the application "
			    "version still reading it",
			    name);
		access_exclusive(s, name);
	}
}

static void
check_rename(const lint_stmt *s, const PgQuery__RenameStmt *r)
{
	if (!existing(s, r->relation))
		return;
	if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
		lint_report(s, "rename-column-or-table", -1,
			    "renaming column \"%s\".\"%s\" to \"%s\" breaks "
			    "the application version still using the old "
			    "name",
			    r->relation->relname, r->subname, r->newname);
	else if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		lint_report(s, "rename-column-or-table", -1,
			    "renaming table \"%s\" to \"%s\" breaks the "
			    "application version still using the old name",
			    r->relation->relname, r->newname);
	else
		return;
	access_exclusive(s, r->relation->relname);
}

static void
check_index(const lint_stmt *s, const PgQuery__IndexStmt *ix)
{
	if (ix->concurrent || !existing(s, ix->relation))
		return;
	lint_report(s, "index-without-concurrently", -1,
		    "CREATE INDEX on \"%s\" without CONCURRENTLY blocks every "
		    "write to the table (SHARE lock) while it builds",
		    ix->relation->relname);
}

static bool
pins_search_path(const PgQuery__DefElem *d)
{
	const Node *a = d->arg;

	return strcmp(d->defname, "set") == 0 && a &&
	       a->node_case == PG_QUERY__NODE__NODE_VARIABLE_SET_STMT &&
	       a->variable_set_stmt->name &&
	       strcmp(a->variable_set_stmt->name, "search_path") == 0;
}

static void
check_function(const lint_stmt *s, const PgQuery__CreateFunctionStmt *f)
{
	bool definer = false, pinned = false;

	for (size_t i = 0; i < f->n_options; i++) {
		const PgQuery__DefElem *d;

		if (f->options[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
			continue;
		d = f->options[i]->def_elem;
		if (strcmp(d->defname, "security") == 0 && d->arg &&
		    d->arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN &&
		    d->arg->boolean->boolval)
			definer = true;
		if (pins_search_path(d))
			pinned = true;
	}
	if (definer && !pinned)
		lint_report(s, "security-definer-search-path", -1,
			    "SECURITY DEFINER function \"%s\" runs with its "
			    "owner's rights and the caller's search_path: a "
			    "caller can plant objects it resolves",
			    last_name(f->funcname, f->n_funcname));
}

/* The column definition named name in a CREATE TABLE, or NULL. */
static const PgQuery__ColumnDef *
column_named(const PgQuery__CreateStmt *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_table_elts; i++)
		if (c->table_elts[i]->node_case ==
			    PG_QUERY__NODE__NODE_COLUMN_DEF &&
		    strcmp(c->table_elts[i]->column_def->colname, name) == 0)
			return c->table_elts[i]->column_def;
	return NULL;
}

static void
check_create_table(const lint_stmt *s, const PgQuery__CreateStmt *c)
{
	for (size_t i = 0; i < c->n_table_elts; i++) {
		const Node *e = c->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
			const PgQuery__ColumnDef *cd = e->column_def;

			check_column_type(s, cd, true);
			for (size_t k = 0; k < cd->n_constraints; k++)
				if (is_primary(cd->constraints[k]) &&
				    small_int_type(type_of(cd)))
					report_int_pk(s, cd);
		} else if (is_primary(e) && e->constraint->n_keys == 1) {
			const PgQuery__ColumnDef *cd = column_named(
				c, str_of(e->constraint->keys[0]));

			if (cd && small_int_type(type_of(cd)))
				report_int_pk(s, cd);
		}
	}
}

/* A statement that runs in autocommit (CONCURRENTLY, ...) beside other
 * changes: when it fails, the changes before it stay applied. */
static void
check_autocommit(const lint_stmt *s)
{
	const char *what = s->stmt->non_transactional;

	if (!what || !strstr(what, "CONCURRENTLY") || s->state->n_changes == 0)
		return;
	lint_report(s, "concurrently-with-other-changes", -1,
		    "%s runs in autocommit beside %zu other change%s: when it "
		    "fails, the changes before it stay applied",
		    what, s->state->n_changes,
		    s->state->n_changes == 1 ? "" : "s");
}

static void
check_data_change(const lint_stmt *s, const Node *where, const char *verb,
		  const PgQuery__RangeVar *rv)
{
	if (where || !s->state->transactional || s->state->n_ddl == 0)
		return;
	lint_report(s, "data-change-with-ddl", -1,
		    "%s of every row of \"%s\" in the same transaction as "
		    "schema changes holds their locks while it runs",
		    verb, rv ? rv->relname : "?");
}

/* ---- replace-with-dependents ---- */

static void
strv_release(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
def_release(lint_def *d)
{
	free(d->name);
	free(d->args);
	free(d->returns);
	free(d->body);
	strv_release(d->columns, d->n_columns);
}

static void
index_release(lint_index *ix)
{
	for (size_t i = 0; i < ix->cap; i++) {
		free(ix->slots[i].key);
		free(ix->slots[i].at);
	}
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

/* key's slot; with create, a new empty one when there is none, else
 * NULL. */
static lint_slot *
index_slot(lint_index *ix, const char *key, bool create)
{
	size_t i;

	/* grown at three quarters full: linear probing stays short, and a
	 * 10,000-migration history's indexes stay a few MB */
	if (create && (ix->used + 1) * 4 > ix->cap * 3) {
		lint_index grown = {0};

		grown.cap = ix->cap ? ix->cap * 2 : 64;
		grown.slots = cf_calloc(grown.cap, sizeof(lint_slot));
		for (size_t k = 0; k < ix->cap; k++) {
			lint_slot *o = &ix->slots[k];

			if (!o->key)
				continue;
			for (i = cf_hash_str(o->key) & (grown.cap - 1);
			     grown.slots[i].key; i = (i + 1) & (grown.cap - 1))
				;
			grown.slots[i] = *o;
		}
		grown.used = ix->used;
		free(ix->slots);
		*ix = grown;
	}
	if (!ix->cap)
		return NULL;
	for (i = cf_hash_str(key) & (ix->cap - 1); ix->slots[i].key;
	     i = (i + 1) & (ix->cap - 1))
		if (strcmp(ix->slots[i].key, key) == 0)
			return &ix->slots[i];
	if (!create)
		return NULL;
	ix->used++;
	ix->slots[i].key = cf_strdup(key);
	return &ix->slots[i];
}

/* Appends at to sl's list.  Most keys are met once: the list starts at
 * one entry, not at CF_GROW's eight (peak RSS of long histories). */
static void
slot_push(lint_slot *sl, size_t at)
{
	if (sl->n == sl->alloc) {
		sl->alloc = sl->alloc ? sl->alloc * 2 : 1;
		sl->at = cf_reallocarray(sl->at, sl->alloc, sizeof(*sl->at));
	}
	sl->at[sl->n++] = at;
}

static void
index_add(lint_index *ix, const char *key, size_t at)
{
	slot_push(index_slot(ix, key, true), at);
}

/* key's slot, or NULL: a read-only index_slot(). */
static const lint_slot *
index_find(const lint_index *ix, const char *key)
{
	return ix->cap ? index_slot((lint_index *)ix, key, false) : NULL;
}

void
lint_file_state_release(lint_file_state *st)
{
	index_release(&st->created);
	for (size_t i = 0; i < st->n_checks; i++) {
		free(st->checks[i].table);
		free(st->checks[i].constraint);
		free(st->checks[i].column);
	}
	free(st->checks);
	index_release(&st->checks_by_table);
	for (size_t i = 0; i < st->n_altered; i++)
		free(st->altered[i].table);
	free(st->altered);
	index_release(&st->altered_by_table);
}

static char *
use_key(const char *target, const char *name, const char *kind)
{
	size_t t = strlen(target), n = strlen(name), k = strlen(kind);
	char *key = cf_malloc(t + n + k + 3);

	/* no printf: one key per use a history records */
	memcpy(key, target, t);
	key[t] = '\x1f';
	memcpy(key + t + 1, name, n);
	key[t + 1 + n] = '\x1f';
	memcpy(key + t + n + 2, kind, k + 1);
	return key;
}

void
lint_history_release(lint_history *h)
{
	for (size_t i = 0; i < h->n_defs; i++)
		def_release(&h->defs[i]);
	free(h->defs);
	for (size_t i = 0; i < h->n_uses; i++) {
		free(h->uses[i].target);
		free(h->uses[i].kind);
		free(h->uses[i].name);
	}
	free(h->uses);
	index_release(&h->defs_by_name);
	index_release(&h->uses_by_target);
	index_release(&h->uses_by_name);
	index_release(&h->uses_by_key);
	memset(h, 0, sizeof(*h));
}

static bool
str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The latest definition of name (with args for a function), or NULL;
 * args NULL matches any. */
static lint_def *
def_find(lint_history *h, bool function, const char *name, const char *args)
{
	lint_slot *sl = name ? index_slot(&h->defs_by_name, name, false) : NULL;

	for (size_t k = sl ? sl->n : 0; k-- > 0;) {
		lint_def *d = &h->defs[sl->at[k]];

		if (d->name && d->function == function &&
		    (!args || str_eq(d->args, args)))
			return d;
	}
	return NULL;
}

/* A new definition of name, empty but for its name and kind. */
static lint_def *
def_new(lint_history *h, bool function, const char *name)
{
	lint_def *d;

	CF_GROW(h->defs, h->alloc_defs, h->n_defs + 1);
	d = &h->defs[h->n_defs];
	memset(d, 0, sizeof(*d));
	d->function = function;
	d->name = cf_strdup(name);
	index_add(&h->defs_by_name, name, h->n_defs++);
	return d;
}

static void
use_release(lint_use *u)
{
	free(u->target);
	free(u->kind);
	free(u->name);
	memset(u, 0, sizeof(*u));
}

/* Forgets the uses listed in the slot of key, and the slot's list. */
static void
forget_uses(lint_history *h, lint_index *ix, const char *key)
{
	lint_slot *sl = index_slot(ix, key, false);

	for (size_t k = 0; sl && k < sl->n; k++)
		use_release(&h->uses[sl->at[k]]);
	if (sl)
		sl->n = 0;
}

/* Forgets what refers to name and, with defs, name's definitions. */
static void
history_forget(lint_history *h, const char *name, bool defs)
{
	lint_slot *sl;

	if (!name)
		return;
	forget_uses(h, &h->uses_by_name, name);
	if (!defs)
		return;
	forget_uses(h, &h->uses_by_target, name);
	if ((sl = index_slot(&h->defs_by_name, name, false)) != NULL) {
		for (size_t k = 0; k < sl->n; k++) {
			def_release(&h->defs[sl->at[k]]);
			memset(&h->defs[sl->at[k]], 0, sizeof(lint_def));
		}
		sl->n = 0;
	}
}

/* Drops the forgotten uses from a slot's list, keeping the order. */
static void
slot_compact(const lint_history *h, lint_slot *sl)
{
	size_t n = 0;

	for (size_t k = 0; k < sl->n; k++)
		if (h->uses[sl->at[k]].target)
			sl->at[n++] = sl->at[k];
	sl->n = n;
}

static void
history_use(lint_history *h, const char *target, const char *kind,
	    const char *name, bool stored)
{
	char *key = use_key(target, name, kind);
	lint_slot *sl = index_slot(&h->uses_by_key, key, true);
	lint_use *u;

	free(key);
	slot_compact(h, sl);
	for (size_t k = 0; k < sl->n; k++) {
		u = &h->uses[sl->at[k]];
		if (str_eq(u->target, target) && str_eq(u->name, name) &&
		    str_eq(u->kind, kind))
			return;
	}
	CF_GROW(h->uses, h->alloc_uses, h->n_uses + 1);
	u = &h->uses[h->n_uses];
	u->target = cf_strdup(target);
	u->kind = cf_strdup(kind);
	u->name = cf_strdup(name);
	u->stored = stored;
	slot_push(sl, h->n_uses);
	index_add(&h->uses_by_target, target, h->n_uses);
	index_add(&h->uses_by_name, name, h->n_uses);
	h->n_uses++;
}

/* A function an expression calls, for history_uses_of(). */
typedef struct history_call {
	lint_history *h;
	const char *kind, *name;
	bool stored;
} history_call;

static void
history_called(void *arg, const char *function)
{
	history_call *c = arg;

	if (!str_eq(function, c->name))
		history_use(c->h, function, c->kind, c->name, c->stored);
}

/* Records that what node (a whole statement or an expression) uses is
 * referred to by kind name; only_functions for expressions. */
static void
history_uses_of(lint_history *h, const Node *node, const char *kind,
		const char *name, bool stored, bool only_functions)
{
	cf_stmt_model *m;

	if (!node || !name)
		return;
	if (only_functions) {
		/* the same uses, without a model of the expression: a
		 * history's every default is read here */
		history_call c = {h, kind, name, stored};

		cf_node_function_uses(node, history_called, &c);
		return;
	}
	m = cf_stmt_model_from_node(node);
	for (size_t i = 0; i < m->n; i++) {
		const cf_obj *o = &m->objs[i];

		if (o->action != CF_ACT_USE ||
		    !(o->kind == CF_OBJ_FUNCTION ||
		      (!only_functions && o->kind == CF_OBJ_RELATION)) ||
		    str_eq(o->name, name))
			continue;
		history_use(h, o->name, kind, name, stored);
	}
	cf_stmt_model_free(m);
}

/* What a column definition's DEFAULT, GENERATED and CHECK expressions
 * call. */
static void
history_column(lint_history *h, const PgQuery__RangeVar *rv,
	       const PgQuery__ColumnDef *cd)
{
	char *name = NULL;

	for (size_t i = 0; i < cd->n_constraints; i++) {
		const PgQuery__Constraint *c;

		if (cd->constraints[i]->node_case !=
		    PG_QUERY__NODE__NODE_CONSTRAINT)
			continue;
		c = cd->constraints[i]->constraint;
		/* named only when used: most columns have no expression */
		if (!name &&
		    (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED ||
		     c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT ||
		     c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK))
			name = cf_asprintf("%s.%s", rv->relname, cd->colname);
		if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED)
			history_uses_of(h, c->raw_expr, "generated column",
					name, true, true);
		else if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT)
			history_uses_of(h, c->raw_expr, "default", name, false,
					true);
		else if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
			history_uses_of(h, c->raw_expr, "constraint", name,
					true, true);
	}
	free(name);
}

static void
history_constraint(lint_history *h, const PgQuery__RangeVar *rv,
		   const PgQuery__Constraint *c)
{
	char *name;

	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK &&
	    c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION)
		return;
	name = cf_asprintf("%s on %s",
			   c->conname && *c->conname ? c->conname : "CHECK",
			   rv->relname);
	history_uses_of(h, c->raw_expr, "constraint", name, true, true);
	for (size_t i = 0; i < c->n_exclusions; i++)
		history_uses_of(h, c->exclusions[i], "constraint", name, true,
				true);
	free(name);
}

/* A function's result as written: SETOF, base name, [], OUT columns. */
static char *
function_returns(const PgQuery__CreateFunctionStmt *f)
{
	cf_strbuf b = CF_STRBUF_INIT;
	const PgQuery__TypeName *t = f->return_type;

	if (t) {
		const char *name = last_name(t->names, t->n_names);

		cf_strbuf_addf(&b, "%s%s%s", t->setof ? "setof " : "",
			       name ? cf_model_type_display(name) : "?",
			       t->n_array_bounds ? "[]" : "");
	}
	for (size_t i = 0; i < f->n_parameters; i++) {
		const PgQuery__FunctionParameter *p;
		const char *tn;

		if (f->parameters[i]->node_case !=
		    PG_QUERY__NODE__NODE_FUNCTION_PARAMETER)
			continue;
		p = f->parameters[i]->function_parameter;
		if (p->mode ==
			    PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_IN ||
		    p->mode ==
			    PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_VARIADIC ||
		    p->mode ==
			    PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_DEFAULT)
			continue;
		tn = p->arg_type ? last_name(p->arg_type->names,
					     p->arg_type->n_names) :
				   NULL;
		cf_strbuf_addf(
			&b, " %s %s%s", p->name ? p->name : "",
			tn ? cf_model_type_display(tn) : "?",
			p->arg_type && p->arg_type->n_array_bounds ? "[]" : "");
	}
	return cf_strbuf_detach(&b);
}

/* The source of AS '...', or NULL (SQL-standard body, no AS). */
static const char *
function_as(const PgQuery__CreateFunctionStmt *f)
{
	for (size_t i = 0; i < f->n_options; i++) {
		const PgQuery__DefElem *d;

		if (f->options[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
			continue;
		d = f->options[i]->def_elem;
		if (strcmp(d->defname, "as") == 0 && d->arg &&
		    d->arg->node_case == PG_QUERY__NODE__NODE_LIST &&
		    d->arg->list->n_items)
			return str_of(d->arg->list->items[0]);
	}
	return NULL;
}

/* The statement's text with runs of blanks as one space; caller frees. */
static char *
squeezed(const char *text)
{
	char *out = cf_malloc(strlen(text) + 1), *o = out;
	bool blank = false;

	/* never longer than text: written in place, byte by byte */
	for (const char *p = text; *p; p++) {
		bool sp = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';

		if (sp && !blank)
			*o++ = ' ';
		else if (!sp)
			*o++ = *p;
		blank = sp;
	}
	*o = '\0';
	return out;
}

/* The name PostgreSQL gives an output column without AS, or NULL when
 * lint cannot be sure of it. */
static const char *
column_name(const Node *n)
{
	if (!n)
		return NULL;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_COLUMN_REF:
		return last_name(n->column_ref->fields,
				 n->column_ref->n_fields);
	case PG_QUERY__NODE__NODE_FUNC_CALL:
		return last_name(n->func_call->funcname,
				 n->func_call->n_funcname);
	default:
		return NULL;
	}
}

/* A view's output column names, false when any is unknown (*). */
static bool
view_columns(const PgQuery__ViewStmt *v, char ***cols, size_t *n)
{
	const Node *q = v->query;
	const PgQuery__SelectStmt *sel;

	*cols = NULL;
	*n = 0;
	if (!q || q->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
		return false;
	sel = q->select_stmt;
	while (sel->larg) /* UNION & co: the first branch names them */
		sel = sel->larg;
	for (size_t i = 0; i < sel->n_target_list; i++) {
		const PgQuery__ResTarget *rt;
		const char *name;

		if (sel->target_list[i]->node_case !=
		    PG_QUERY__NODE__NODE_RES_TARGET)
			goto unknown;
		rt = sel->target_list[i]->res_target;
		name = rt->name && *rt->name ? rt->name : column_name(rt->val);
		if (i < v->n_aliases)
			name = str_of(v->aliases[i]);
		if (!name)
			goto unknown;
		*cols = cf_reallocarray(*cols, *n + 1, sizeof(char *));
		(*cols)[(*n)++] = cf_strdup(name);
	}
	return *n > 0;
unknown:
	strv_release(*cols, *n);
	*cols = NULL;
	*n = 0;
	return false;
}

/* "view v, trigger t on x and 2 more" of items (stored_only: those that
 * keep computed values); NULL when none.  Caller frees. */
static char *
names_list(const cf_dependent *items, size_t n_items, bool stored_only)
{
	cf_strbuf b = CF_STRBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < n_items; i++) {
		if (stored_only && !items[i].stored)
			continue;
		if (n < 3)
			cf_strbuf_addf(&b, "%s%s %s", n ? ", " : "",
				       items[i].kind, items[i].name);
		n++;
	}
	if (n > 3)
		cf_strbuf_addf(&b, " and %zu more", n - 3);
	if (!n) {
		cf_strbuf_release(&b);
		return NULL;
	}
	return cf_strbuf_detach(&b);
}

/* names_list() of what the history says refers to target. */
static char *
uses_list(lint_history *h, const char *target, bool stored_only)
{
	lint_slot *sl = target ? index_slot(&h->uses_by_target, target, false) :
				 NULL;
	cf_dependent *items;
	size_t n = 0;
	char *list;

	if (sl)
		slot_compact(h, sl);
	items = cf_calloc(sl ? sl->n + 1 : 1, sizeof(*items));
	for (size_t k = 0; sl && k < sl->n; k++) {
		const lint_use *u = &h->uses[sl->at[k]];

		items[n++] = (cf_dependent){u->kind, u->name, NULL, u->stored};
	}
	list = names_list(items, n, stored_only);
	free(items);
	return list;
}

/* names_list() of a database's dependents. */
static char *
deps_list(const cf_statement_dependents *d, bool stored_only)
{
	return d ? names_list(d->items, d->n, stored_only) : NULL;
}

static void
report_stale(const lint_stmt *s, const char *what, const char *list)
{
	lint_report(s, "replace-with-dependents", -1,
		    "replacing %s leaves %s holding what the old definition "
		    "computed: REINDEX, REFRESH or re-validate them in the "
		    "same migration",
		    what, list);
}

/* With a database: what it said just before the statement ran. */
static void
check_replace_fact(const lint_stmt *s, bool function)
{
	const cf_lint_fact *f = s->fact;
	char *list;

	if (!f)
		return;
	if (f->overloaded && (list = deps_list(f->overloaded, false))) {
		lint_report(s, "replace-with-dependents", -1,
			    "no function has this argument list: CREATE OR "
			    "REPLACE creates a second one beside %s, which "
			    "what depends on it (%s) still calls",
			    f->overloaded->object, list);
		free(list);
	}
	if (f->replaced && (!function || f->body_changed) &&
	    (list = deps_list(f->replaced, true))) {
		report_stale(s, f->replaced->object, list);
		free(list);
	}
}

static void
check_replace_function(const lint_stmt *s, const PgQuery__CreateFunctionStmt *f)
{
	lint_history *h = s->history;
	cf_stmt_model *m;
	const cf_obj *o = NULL;
	const lint_def *d;
	char *list, *returns;
	const char *body;

	if (!f->replace)
		return;
	if (s->facts_known) {
		check_replace_fact(s, true);
		return;
	}
	m = cf_stmt_model_from_node(s->node);
	for (size_t i = 0; i < m->n && !o; i++)
		if (m->objs[i].kind == CF_OBJ_FUNCTION &&
		    m->objs[i].action == CF_ACT_PROVIDE)
			o = &m->objs[i];
	if (!o || !o->args || !(list = uses_list(h, o->name, false))) {
		cf_stmt_model_free(m);
		return;
	}
	returns = function_returns(f);
	body = function_as(f);
	d = def_find(h, true, o->name, o->args);
	if (d && !str_eq(d->returns, returns)) {
		lint_report(s, "replace-with-dependents", -1,
			    "%s(%s) changes its result (%s -> %s): "
			    "PostgreSQL refuses, and the DROP FUNCTION it "
			    "needs fails on (or, with CASCADE, drops) %s",
			    o->name, o->args, d->returns, returns, list);
	} else if (d) {
		char *stored = uses_list(h, o->name, true);
		char *text = body ? NULL : squeezed(s->text);

		if (stored && !str_eq(d->body, body ? body : text)) {
			char *what = cf_asprintf("%s(%s)", o->name, o->args);

			report_stale(s, what, stored);
			free(what);
		}
		free(text);
		free(stored);
	} else if ((d = def_find(h, true, o->name, NULL))) {
		lint_report(s, "replace-with-dependents", -1,
			    "no earlier %s has the argument list (%s): "
			    "CREATE OR REPLACE creates a second function "
			    "beside %s(%s), which what depends on it (%s) "
			    "still calls",
			    o->name, o->args, o->name, d->args, list);
	}
	free(returns);
	free(list);
	cf_stmt_model_free(m);
}

static char *
columns_text(char **cols, size_t n)
{
	cf_strbuf b = CF_STRBUF_INIT;

	for (size_t i = 0; i < n; i++)
		cf_strbuf_addf(&b, "%s%s", i ? ", " : "", cols[i]);
	return cf_strbuf_detach(&b);
}

static void
check_replace_view(const lint_stmt *s, const PgQuery__ViewStmt *v)
{
	lint_history *h = s->history;
	const char *name = v->view ? v->view->relname : NULL;
	const lint_def *d;
	char **cols;
	size_t n;
	bool prefix;
	char *list;

	if (!v->replace || !name)
		return;
	if (s->facts_known) {
		check_replace_fact(s, false);
		return;
	}
	if (!(d = def_find(h, false, name, NULL)) ||
	    !(list = uses_list(h, name, false)))
		return;
	prefix = view_columns(v, &cols, &n) && d->columns && n >= d->n_columns;
	for (size_t i = 0; prefix && i < d->n_columns; i++)
		prefix = strcmp(cols[i], d->columns[i]) == 0;
	if (d->columns && cols && !prefix) {
		char *was = columns_text(d->columns, d->n_columns);
		char *now = columns_text(cols, n);

		lint_report(s, "replace-with-dependents", -1,
			    "view %s's columns change (%s -> %s): PostgreSQL "
			    "only appends columns, and the DROP VIEW it needs "
			    "fails on (or, with CASCADE, drops) %s",
			    name, was, now, list);
		free(was);
		free(now);
	} else {
		char *stored = uses_list(h, name, true);
		char *text = squeezed(s->text);

		if (stored && !str_eq(d->body, text))
			report_stale(s, name, stored);
		free(stored);
		free(text);
	}
	strv_release(cols, n);
	free(list);
}

static void
remember_function(lint_stmt *s, const PgQuery__CreateFunctionStmt *f)
{
	lint_history *h = s->history;
	cf_stmt_model *m = cf_stmt_model_from_node(s->node);
	const char *body = function_as(f);

	for (size_t i = 0; i < m->n; i++) {
		const cf_obj *o = &m->objs[i];
		lint_def *d;

		if (o->kind != CF_OBJ_FUNCTION || o->action != CF_ACT_PROVIDE)
			continue;
		if (!(d = def_find(h, true, o->name, o->args ? o->args : ""))) {
			d = def_new(h, true, o->name);
			d->args = cf_strdup(o->args ? o->args : "");
		}
		free(d->returns);
		free(d->body);
		d->returns = function_returns(f);
		d->body = body ? cf_strdup(body) : squeezed(s->text);
		/* a SQL-standard body records what it calls */
		if (f->sql_body)
			history_uses_of(h, f->sql_body, "function", o->name,
					false, false);
		break;
	}
	cf_stmt_model_free(m);
}

static void
remember_view(lint_stmt *s, const PgQuery__ViewStmt *v)
{
	lint_history *h = s->history;
	lint_def *d;

	if (!v->view || !v->view->relname)
		return;
	if (!(d = def_find(h, false, v->view->relname, NULL)))
		d = def_new(h, false, v->view->relname);
	strv_release(d->columns, d->n_columns);
	free(d->body);
	view_columns(v, &d->columns, &d->n_columns);
	d->body = squeezed(s->text);
	/* a replaced view refers to what its new query names */
	history_forget(h, v->view->relname, false);
	history_uses_of(h, v->query, "view", v->view->relname, false, false);
}

/* Records, across files, what this statement defines and refers to. */
static void
remember_history(lint_stmt *s, const Node *n)
{
	lint_history *h = s->history;

	if (!h)
		return;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		remember_function(s, n->create_function_stmt);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		remember_view(s, n->view_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
		const PgQuery__CreateTableAsStmt *c = n->create_table_as_stmt;

		if (c->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW &&
		    c->into && c->into->rel)
			history_uses_of(h, c->query, "materialized view",
					c->into->rel->relname, true, false);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
		const PgQuery__CreateTrigStmt *t = n->create_trig_stmt;
		const char *fn = last_name(t->funcname, t->n_funcname);
		char *name = cf_asprintf("%s on %s", t->trigname,
					 t->relation ? t->relation->relname :
						       "?");

		if (fn)
			history_use(h, fn, "trigger", name, false);
		history_uses_of(h, t->when_clause, "trigger", name, false,
				true);
		free(name);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT: {
		const PgQuery__CreatePolicyStmt *p = n->create_policy_stmt;
		char *name = cf_asprintf("%s on %s", p->policy_name,
					 p->table ? p->table->relname : "?");

		history_uses_of(h, p->qual, "policy", name, false, false);
		history_uses_of(h, p->with_check, "policy", name, false, false);
		free(name);
		break;
	}
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *ix = n->index_stmt;
		char *name = ix->idxname && *ix->idxname ?
				     cf_strdup(ix->idxname) :
				     cf_asprintf("on %s",
						 ix->relation ?
							 ix->relation->relname :
							 "?");

		for (size_t i = 0; i < ix->n_index_params; i++)
			if (ix->index_params[i]->node_case ==
			    PG_QUERY__NODE__NODE_INDEX_ELEM)
				history_uses_of(
					h,
					ix->index_params[i]->index_elem->expr,
					"index", name, true, true);
		history_uses_of(h, ix->where_clause, "index", name, true, true);
		free(name);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_STMT: {
		const PgQuery__CreateStmt *c = n->create_stmt;

		for (size_t i = 0; c->relation && i < c->n_table_elts; i++) {
			const Node *e = c->table_elts[i];

			if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				history_column(h, c->relation, e->column_def);
			else if (e->node_case ==
				 PG_QUERY__NODE__NODE_CONSTRAINT)
				history_constraint(h, c->relation,
						   e->constraint);
		}
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
		const PgQuery__AlterTableStmt *a = n->alter_table_stmt;

		for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
			const PgQuery__AlterTableCmd *cmd;

			if (a->cmds[i]->node_case !=
			    PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
				continue;
			cmd = a->cmds[i]->alter_table_cmd;
			if (!cmd->def)
				continue;
			if (cmd->def->node_case ==
			    PG_QUERY__NODE__NODE_COLUMN_DEF)
				history_column(h, a->relation,
					       cmd->def->column_def);
			else if (cmd->def->node_case ==
				 PG_QUERY__NODE__NODE_CONSTRAINT)
				history_constraint(h, a->relation,
						   cmd->def->constraint);
		}
		break;
	}
	case PG_QUERY__NODE__NODE_DROP_STMT: {
		cf_stmt_model *m = cf_stmt_model_from_node(n);

		for (size_t i = 0; i < m->n; i++)
			if (m->objs[i].action == CF_ACT_REMOVE)
				history_forget(h, m->objs[i].name, true);
		cf_stmt_model_free(m);
		break;
	}
	default:
		break;
	}
}

/* Records what the statement does for later statements of the file. */
static void
remember(lint_stmt *s, const Node *n)
{
	lint_file_state *st = s->state;
	/* the statement's own model when it is the statement's node */
	cf_stmt_model *built = s->model ? NULL : cf_stmt_model_from_node(n);
	const cf_stmt_model *m = s->model ? s->model : built;

	/* tables the statement creates come from the statement model */
	if (strcmp(m->kind, "CreateStmt") == 0 ||
	    strcmp(m->kind, "CreateTableAsStmt") == 0)
		for (size_t i = 0; i < m->n; i++)
			if (m->objs[i].kind == CF_OBJ_RELATION &&
			    m->objs[i].action == CF_ACT_PROVIDE) {
				index_add(&st->created, m->objs[i].name, 0);
			}
	cf_stmt_model_free(built);
	if (n->node_case == PG_QUERY__NODE__NODE_VARIABLE_SET_STMT &&
	    n->variable_set_stmt->name &&
	    strcmp(n->variable_set_stmt->name, "lock_timeout") == 0)
		st->lock_timeout = true;
}

void
lint_rules_run(lint_stmt *s)
{
	const Node *n = s->node;

	check_autocommit(s);
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		check_index(s, n->index_stmt);
		break;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		check_data_change(s, n->update_stmt->where_clause, "UPDATE",
				  n->update_stmt->relation);
		break;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		check_data_change(s, n->delete_stmt->where_clause, "DELETE",
				  n->delete_stmt->relation);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		check_alter_table(s, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		check_drop(s, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		check_rename(s, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		check_function(s, n->create_function_stmt);
		check_replace_function(s, n->create_function_stmt);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		check_replace_view(s, n->view_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		check_create_table(s, n->create_stmt);
		break;
	default:
		break;
	}
	remember(s, n);
	remember_history(s, n);
}
