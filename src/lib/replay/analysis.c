/*
 * analysis.c — tells root causes from consequences among the failures of a
 * preflight replay.
 *
 * When a migration fails (and is rolled back) or is skipped, the objects it
 * would have created never exist, and later migrations that use them fail
 * with "does not exist".  Those later failures are consequences, not
 * problems of their own.  The link is made by name, never by order alone:
 * what the earlier migration's parse tree creates, renames into existence
 * or adds, against the object the later error message names.
 *
 * Names carry a kind so that a missing schema only matches a created schema
 * and a missing enum value only matches a value of the same enum type; every
 * other object (tables, columns, types, functions, roles, ...) shares one
 * name space, compared case-sensitively as PostgreSQL stores them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "replay/analysis.h"

typedef enum name_kind {
	NK_OBJECT = 0,	     /* relation, column, type, function, role, ... */
	NK_SCHEMA,	     /* a schema */
	NK_ENUM_VALUE,	     /* an enum value that exists when the type does */
	NK_ENUM_VALUE_ADDED, /* an enum value added by ALTER TYPE ADD VALUE */
} name_kind;

/* One name a script provides or an error reports missing. */
typedef struct name_ref {
	name_kind kind;
	char *name;
	char *owner; /* enum type of an enum value, else NULL */
} name_ref;

typedef struct name_list {
	name_ref *items;
	size_t n;
	size_t alloc;
} name_list;

#define NAME_LIST_INIT     \
	{                  \
		NULL, 0, 0 \
	}

/* Frees the names of a list and its array; the list is left empty. */
static void
name_list_release(name_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].owner);
	}
	free(l->items);
	l->items = NULL;
	l->n = l->alloc = 0;
}

/* Adds a copy of name (and owner) unless NULL, empty or already there. */
static void
name_list_add(name_list *l, name_kind kind, const char *name, const char *owner)
{
	if (!name || !*name)
		return;
	for (size_t i = 0; i < l->n; i++) {
		name_ref *r = &l->items[i];

		if (r->kind == kind && strcmp(r->name, name) == 0 &&
		    ((!r->owner && !owner) ||
		     (r->owner && owner && strcmp(r->owner, owner) == 0)))
			return;
	}
	CF_GROW(l->items, l->alloc, l->n + 1);
	l->items[l->n].kind = kind;
	l->items[l->n].name = cf_strdup(name);
	l->items[l->n].owner = cf_strdup(owner);
	l->n++;
}

/* Like name_list_add() for a name that is not NUL-terminated. */
static void
name_list_addn(name_list *l, name_kind kind, const char *name, size_t len,
	       const char *owner)
{
	char *s = cf_strndup(name, len);

	name_list_add(l, kind, s, owner);
	free(s);
}

/*
 * Flattens a list into the NULL-terminated array of the public functions:
 * every name, then every owner not already listed.  NULL when empty.
 */
static char **
name_list_flatten(const name_list *l)
{
	char **out;
	size_t n = 0;

	if (l->n == 0)
		return NULL;
	out = cf_calloc(2 * l->n + 1, sizeof(char *));
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < l->n; i++) {
			const char *s = pass == 0 ? l->items[i].name :
						    l->items[i].owner;
			bool dup = false;

			if (!s)
				continue;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(out[k], s) == 0;
			if (!dup)
				out[n++] = cf_strdup(s);
		}
	}
	return out;
}

void
cf_analysis_free_names(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

/* ------------------------------------------------------------------------
 * What a script provides: walking libpg_query's JSON parse tree
 * ------------------------------------------------------------------------ */

/* String member of an object, or NULL. */
static const char *
jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The tag and body of a node wrapper such as {"CreateStmt": {...}}. */
static const char *
node_tag(json_t *wrapper, json_t **body)
{
	void *it = json_is_object(wrapper) ? json_object_iter(wrapper) : NULL;

	*body = NULL;
	if (!it)
		return NULL;
	*body = json_object_iter_value(it);
	return json_object_iter_key(it);
}

/* The sval of a {"String": {"sval": ...}} node, or NULL. */
static const char *
string_node(json_t *node)
{
	return jstr(json_object_get(node, "String"), "sval");
}

/* The last String of a name list such as funcname or defnames. */
static const char *
last_sval(json_t *list)
{
	size_t n = json_array_size(list);

	return n ? string_node(json_array_get(list, n - 1)) : NULL;
}

/* Column names and inline constraint names of a ColumnDef body. */
static void
provide_column(name_list *out, json_t *coldef)
{
	json_t *c;
	size_t i;

	name_list_add(out, NK_OBJECT, jstr(coldef, "colname"), NULL);
	json_array_foreach(json_object_get(coldef, "constraints"), i, c)
		name_list_add(out, NK_OBJECT,
			      jstr(json_object_get(c, "Constraint"), "conname"),
			      NULL);
}

/* A table's name, columns and constraints (CreateStmt body). */
static void
provide_create(name_list *out, json_t *body)
{
	json_t *elt, *b;
	size_t i;

	name_list_add(out, NK_OBJECT,
		      jstr(json_object_get(body, "relation"), "relname"), NULL);
	json_array_foreach(json_object_get(body, "tableElts"), i, elt)
	{
		const char *tag = node_tag(elt, &b);

		if (!tag)
			continue;
		if (strcmp(tag, "ColumnDef") == 0)
			provide_column(out, b);
		else if (strcmp(tag, "Constraint") == 0)
			name_list_add(out, NK_OBJECT, jstr(b, "conname"), NULL);
	}
}

/* Added columns and constraints of ALTER TABLE (AlterTableStmt body). */
static void
provide_alter_table(name_list *out, json_t *body)
{
	json_t *cmd;
	size_t i;

	json_array_foreach(json_object_get(body, "cmds"), i, cmd)
	{
		json_t *c = json_object_get(cmd, "AlterTableCmd");
		const char *sub = jstr(c, "subtype");
		json_t *def = json_object_get(c, "def");

		if (!sub)
			continue;
		if (strncmp(sub, "AT_AddColumn", 12) == 0)
			provide_column(out, json_object_get(def, "ColumnDef"));
		else if (strncmp(sub, "AT_AddConstraint", 16) == 0)
			name_list_add(out, NK_OBJECT,
				      jstr(json_object_get(def, "Constraint"),
					   "conname"),
				      NULL);
	}
}

/* The object an AlterObjectSchemaStmt moves: it now exists again. */
static void
provide_moved(name_list *out, json_t *body)
{
	json_t *obj = json_object_get(body, "object");
	json_t *b;
	const char *tag;

	name_list_add(out, NK_OBJECT,
		      jstr(json_object_get(body, "relation"), "relname"), NULL);
	tag = node_tag(obj, &b);
	if (!tag)
		return;
	if (strcmp(tag, "String") == 0)
		name_list_add(out, NK_OBJECT, jstr(b, "sval"), NULL);
	else if (strcmp(tag, "List") == 0)
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "items")), NULL);
	else if (strcmp(tag, "ObjectWithArgs") == 0)
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "objname")), NULL);
}

/* Names one statement node (a {"Tag": body} wrapper) provides. */
static void
provide_node(name_list *out, json_t *node)
{
	json_t *b, *x;
	const char *tag = node_tag(node, &b);
	const char *s;
	size_t i;

	if (!tag)
		return;
	if (strcmp(tag, "CreateStmt") == 0) {
		provide_create(out, b);
	} else if (strcmp(tag, "CreateForeignTableStmt") == 0) {
		provide_create(out, json_object_get(b, "base"));
	} else if (strcmp(tag, "ViewStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      jstr(json_object_get(b, "view"), "relname"),
			      NULL);
	} else if (strcmp(tag, "CreateTableAsStmt") == 0) {
		x = json_object_get(json_object_get(b, "into"), "rel");
		name_list_add(out, NK_OBJECT, jstr(x, "relname"), NULL);
	} else if (strcmp(tag, "CreateSeqStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      jstr(json_object_get(b, "sequence"), "relname"),
			      NULL);
	} else if (strcmp(tag, "IndexStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "idxname"), NULL);
	} else if (strcmp(tag, "CompositeTypeStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      jstr(json_object_get(b, "typevar"), "relname"),
			      NULL);
	} else if (strcmp(tag, "CreateEnumStmt") == 0) {
		s = last_sval(json_object_get(b, "typeName"));
		name_list_add(out, NK_OBJECT, s, NULL);
		json_array_foreach(json_object_get(b, "vals"), i, x)
			name_list_add(out, NK_ENUM_VALUE, string_node(x), s);
	} else if (strcmp(tag, "AlterEnumStmt") == 0) {
		/* ADD VALUE makes a new value; RENAME VALUE (oldVal set)
		 * gives an existing one a new name */
		s = last_sval(json_object_get(b, "typeName"));
		name_list_add(out,
			      jstr(b, "oldVal") ? NK_ENUM_VALUE :
						  NK_ENUM_VALUE_ADDED,
			      jstr(b, "newVal"), s);
	} else if (strcmp(tag, "CreateRangeStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "typeName")), NULL);
	} else if (strcmp(tag, "CreateDomainStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "domainname")),
			      NULL);
	} else if (strcmp(tag, "DefineStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "defnames")), NULL);
	} else if (strcmp(tag, "CreateFunctionStmt") == 0) {
		name_list_add(out, NK_OBJECT,
			      last_sval(json_object_get(b, "funcname")), NULL);
	} else if (strcmp(tag, "CreateSchemaStmt") == 0) {
		s = jstr(b, "schemaname");
		if (!s) /* CREATE SCHEMA AUTHORIZATION role */
			s = jstr(json_object_get(b, "authrole"), "rolename");
		name_list_add(out, NK_SCHEMA, s, NULL);
		json_array_foreach(json_object_get(b, "schemaElts"), i, x)
			provide_node(out, x);
	} else if (strcmp(tag, "RenameStmt") == 0) {
		s = jstr(b, "renameType");
		name_list_add(out,
			      s && strcmp(s, "OBJECT_SCHEMA") == 0 ? NK_SCHEMA :
								     NK_OBJECT,
			      jstr(b, "newname"), NULL);
	} else if (strcmp(tag, "AlterTableStmt") == 0) {
		provide_alter_table(out, b);
	} else if (strcmp(tag, "AlterObjectSchemaStmt") == 0) {
		provide_moved(out, b);
	} else if (strcmp(tag, "CreateTrigStmt") == 0 ||
		   strcmp(tag, "CreateEventTrigStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "trigname"), NULL);
	} else if (strcmp(tag, "CreateRoleStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "role"), NULL);
	} else if (strcmp(tag, "CreateExtensionStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "extname"), NULL);
	} else if (strcmp(tag, "CreatePolicyStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "policy_name"), NULL);
	} else if (strcmp(tag, "CreateTableSpaceStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "tablespacename"), NULL);
	} else if (strcmp(tag, "CreatedbStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "dbname"), NULL);
	} else if (strcmp(tag, "RuleStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "rulename"), NULL);
	} else if (strcmp(tag, "CreateForeignServerStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "servername"), NULL);
	} else if (strcmp(tag, "CreateFdwStmt") == 0) {
		name_list_add(out, NK_OBJECT, jstr(b, "fdwname"), NULL);
	}
	/* DROP provides nothing; DO bodies cannot be analysed */
}

/* Collects what a script provides into out; nothing without a tree. */
static void
script_provides(const cf_script *script, name_list *out)
{
	json_t *root, *st;
	size_t i;

	if (!script || !script->parse_tree)
		return;
	root = json_loads(script->parse_tree, 0, NULL);
	if (!root)
		return;
	json_array_foreach(json_object_get(root, "stmts"), i, st)
		provide_node(out, json_object_get(st, "stmt"));
	json_decref(root);
}

char **
cf_analysis_provided_names(const cf_script *script)
{
	name_list l = NAME_LIST_INIT;
	char **out;

	script_provides(script, &l);
	out = name_list_flatten(&l);
	name_list_release(&l);
	if (!out)
		out = cf_calloc(1, sizeof(char *));
	return out;
}

/* ------------------------------------------------------------------------
 * What an error reports missing: PostgreSQL 15 message shapes
 * ------------------------------------------------------------------------ */

/*
 * Splits a possibly qualified, possibly double-quoted name s[0..len) such
 * as `s.users`, `"My Type"` or `public.f` and adds its last component with
 * kind, and the component before it as a schema when with_schema.
 */
static void
add_qualified(name_list *out, const char *s, size_t len, name_kind kind,
	      const char *owner, bool with_schema)
{
	cf_strbuf parts[2] = {CF_STRBUF_INIT, CF_STRBUF_INIT}; /* prev, last */
	cf_strbuf tmp;
	size_t i = 0;

	while (i < len) {
		/* start a new component: shift last into prev */
		tmp = parts[0];
		parts[0] = parts[1];
		parts[1] = tmp;
		cf_strbuf_reset(&parts[1]);
		if (s[i] == '"') {
			for (i++; i < len; i++) {
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"')
						i++;
					else {
						i++;
						break;
					}
				}
				cf_strbuf_addch(&parts[1], s[i]);
			}
		}
		while (i < len && s[i] != '.')
			cf_strbuf_addch(&parts[1], s[i++]);
		if (i < len)
			i++; /* the dot */
	}
	name_list_add(out, kind, cf_strbuf_str(&parts[1]), owner);
	if (with_schema && parts[0].len > 0)
		name_list_add(out, NK_SCHEMA, cf_strbuf_str(&parts[0]), NULL);
	cf_strbuf_release(&parts[0]);
	cf_strbuf_release(&parts[1]);
}

/* The last component of a qualified name, dequoted; caller frees. */
static char *
last_component(const char *s, size_t len)
{
	name_list l = NAME_LIST_INIT;
	char *r;

	add_qualified(&l, s, len, NK_OBJECT, NULL, false);
	r = l.n ? cf_strdup(l.items[0].name) : cf_strdup("");
	name_list_release(&l);
	return r;
}

/* true when s starts with prefix. */
static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Parses `<anything> "value" <sep> type` (55P04) or
 * `invalid input value for enum type: "value"` (22P02) into an enum value
 * with its type as owner.  Returns false when the message has neither shape.
 */
static bool
parse_enum_message(const char *msg, name_list *out)
{
	static const char new_value[] = "unsafe use of new value \"";
	static const char of_type[] = "\" of enum type ";
	static const char invalid[] = "invalid input value for enum ";
	const char *v, *ve, *t, *te;
	char *type;

	if (starts_with(msg, new_value)) {
		v = msg + strlen(new_value);
		ve = strstr(v, of_type);
		if (!ve)
			return false;
		t = ve + strlen(of_type);
		te = t + strlen(t);
	} else if (starts_with(msg, invalid)) {
		t = msg + strlen(invalid);
		te = strstr(t, ": \"");
		if (!te)
			return false;
		v = te + 3;
		ve = strrchr(v, '"');
		if (!ve)
			return false;
	} else {
		return false;
	}
	type = last_component(t, (size_t)(te - t));
	name_list_addn(out, NK_ENUM_VALUE, v, (size_t)(ve - v), type);
	free(type);
	return true;
}

/* `operator does not exist: integer === integer` → "===". */
static void
parse_operator_message(const char *msg, name_list *out)
{
	static const char opchars[] = "+-*/<>=~!@#%^&|`?";
	const char *p = strchr(msg, ':');

	if (!p)
		return;
	for (p++; *p;) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > 0 && strspn(p, opchars) == n) {
			name_list_addn(out, NK_OBJECT, p, n, NULL);
			return;
		}
		p += n;
	}
}

/*
 * Parses the subject of "<kind> <name> ... does not exist" messages:
 * `relation "s.users"`, `column "c" of relation "t"`, `column t.c`,
 * `function public.f(integer)`, `schema "s"`, `trigger "t" for table "x"`.
 */
static void
parse_missing_subject(const char *msg, name_list *out)
{
	const char *end = strstr(msg, " does not exist");
	const char *q, *qe, *p;
	bool is_schema, is_column, is_routine;

	if (!end)
		return;
	is_schema = starts_with(msg, "schema ");
	is_column = starts_with(msg, "column ");
	is_routine = starts_with(msg, "function ") ||
		     starts_with(msg, "procedure ") ||
		     starts_with(msg, "aggregate ");
	if (is_routine) {
		/* name printed unquoted, then the argument types */
		p = strchr(msg, ' ') + 1;
		qe = memchr(p, '(', (size_t)(end - p));
		add_qualified(out, p, (size_t)((qe ? qe : end) - p), NK_OBJECT,
			      NULL, true);
		return;
	}
	q = memchr(msg, '"', (size_t)(end - msg));
	if (q) {
		qe = memchr(q + 1, '"', (size_t)(end - q - 1));
		if (!qe)
			return;
		if (is_schema)
			name_list_addn(out, NK_SCHEMA, q + 1,
				       (size_t)(qe - q - 1), NULL);
		else
			add_qualified(out, q + 1, (size_t)(qe - q - 1),
				      NK_OBJECT, NULL, !is_column);
		return;
	}
	if (is_column) {
		/* `column users.email does not exist`: last token, its
		 * last component (the relation is there, the column is not) */
		p = end;
		while (p > msg && p[-1] != ' ')
			p--;
		if (p < end)
			add_qualified(out, p, (size_t)(end - p), NK_OBJECT,
				      NULL, false);
	}
}

/* Fills out with what e reports missing; nothing when it is not that kind. */
static void
error_missing(const cf_error *e, name_list *out)
{
	const char *st, *msg;
	const char *field;

	if (!e || !e->message)
		return;
	st = e->sqlstate;
	msg = e->message;
	if (strcmp(st, "22P02") == 0) {
		if (starts_with(msg, "invalid input value for enum "))
			parse_enum_message(msg, out);
		return;
	}
	if (strcmp(st, "42883") == 0 &&
	    starts_with(msg, "operator does not exist")) {
		parse_operator_message(msg, out);
		return;
	}
	if (strcmp(st, "42703") == 0 &&
	    (field = strstr(msg, " has no field \"")) != NULL) {
		/* PL/pgSQL: record "new" has no field "email" */
		const char *v = field + strlen(" has no field \"");
		const char *ve = strchr(v, '"');

		if (ve)
			name_list_addn(out, NK_OBJECT, v, (size_t)(ve - v),
				       NULL);
		return;
	}
	if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0 ||
	    strcmp(st, "42704") == 0 || strcmp(st, "42883") == 0 ||
	    strcmp(st, "3F000") == 0 || strcmp(st, "3D000") == 0)
		parse_missing_subject(msg, out);
}

char **
cf_analysis_missing_names(const cf_error *e)
{
	name_list l = NAME_LIST_INIT;
	char **out;

	error_missing(e, &l);
	out = name_list_flatten(&l);
	name_list_release(&l);
	return out;
}

/* ------------------------------------------------------------------------
 * Labelling
 * ------------------------------------------------------------------------ */

/* true when a provided name satisfies a missing one. */
static bool
name_matches(const name_ref *provided, const name_ref *missing)
{
	if (strcmp(provided->name, missing->name) != 0)
		return false;
	switch (missing->kind) {
	case NK_OBJECT:
		return provided->kind == NK_OBJECT;
	case NK_SCHEMA:
		return provided->kind == NK_SCHEMA;
	case NK_ENUM_VALUE:
	case NK_ENUM_VALUE_ADDED:
		if (provided->kind != NK_ENUM_VALUE &&
		    provided->kind != NK_ENUM_VALUE_ADDED)
			return false;
		return !provided->owner || !missing->owner ||
		       strcmp(provided->owner, missing->owner) == 0;
	}
	return false;
}

/* true when list l provides missing (with kind restricted to kind_only
 * unless it is negative). */
static bool
list_provides(const name_list *l, const name_ref *missing, int kind_only)
{
	for (size_t i = 0; i < l->n; i++)
		if ((kind_only < 0 || (int)l->items[i].kind == kind_only) &&
		    name_matches(&l->items[i], missing))
			return true;
	return false;
}

/* The migration's file name without directory and ".up.sql", or "#n". */
static char *
migration_label(const cf_failure_view *v, size_t idx)
{
	const char *path = v->script ? v->script->path : NULL;
	const char *base;
	size_t len;

	if (!path || !*path)
		return cf_asprintf("#%zu", idx + 1);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 7 && strcmp(base + len - 7, ".up.sql") == 0)
		len -= 7;
	return cf_strndup(base, len);
}

/*
 * Decides whether failure i only exists because the whole run shares one
 * transaction; sets the label's artifact fields and returns true if so.
 */
static bool
label_artifact(const cf_failure_view *v, const name_list *provides, size_t i,
	       cf_cause_label *label)
{
	const cf_error *e = v[i].error;

	if (strcmp(e->sqlstate, "55P04") == 0) {
		name_list want = NAME_LIST_INIT;
		bool found = false;

		if (e->message && parse_enum_message(e->message, &want) &&
		    want.n == 1) {
			for (size_t j = i; j-- > 0 && !found;) {
				char *who;

				if (v[j].kind != CF_OUTCOME_OK ||
				    !list_provides(&provides[j], &want.items[0],
						   NK_ENUM_VALUE_ADDED))
					continue;
				found = true;
				who = migration_label(&v[j], j);
				label->artifact_reason = cf_asprintf(
					"enum value '%s' of type %s was added "
					"by migration %s in the same "
					"transaction; PostgreSQL only allows "
					"using it after COMMIT, which a real "
					"deploy does between migrations "
					"(SQLSTATE 55P04)",
					want.items[0].name, want.items[0].owner,
					who);
				free(who);
			}
		}
		name_list_release(&want);
		if (found)
			label->artifact = true;
		return found;
	}
	if (strcmp(e->sqlstate, "53200") == 0 &&
	    ((e->message && strstr(e->message, "out of shared memory")) ||
	     (e->hint && strstr(e->hint, "max_locks_per_transaction")))) {
		label->artifact = true;
		label->artifact_reason = cf_strdup(
			"replaying every migration in one transaction holds "
			"all their locks at once (out of shared memory, "
			"SQLSTATE 53200); a real deploy commits between "
			"migrations and releases them: raise "
			"max_locks_per_transaction on the preflight server "
			"or use clone mode");
		return true;
	}
	return false;
}

/*
 * The direct cause of failure i, or -1: for each missing name, the nearest
 * earlier migration that provides it decides; when that one failed or was
 * skipped it is a candidate (when it passed, the name is explained
 * otherwise).  The nearest candidate wins.
 */
static long
find_cause(const cf_failure_view *v, const name_list *provides, size_t i)
{
	name_list missing = NAME_LIST_INIT;
	long best = -1;

	error_missing(v[i].error, &missing);
	for (size_t m = 0; m < missing.n; m++) {
		for (size_t j = i; j-- > 0;) {
			if (!list_provides(&provides[j], &missing.items[m], -1))
				continue;
			if (v[j].kind != CF_OUTCOME_OK && (long)j > best)
				best = (long)j;
			break;
		}
	}
	name_list_release(&missing);
	return best;
}

void
cf_analyze_failures(const cf_failure_view *v, size_t n, bool one_transaction,
		    cf_cause_label *labels)
{
	name_list *provides = cf_calloc(n ? n : 1, sizeof(name_list));

	for (size_t i = 0; i < n; i++)
		script_provides(v[i].script, &provides[i]);
	for (size_t i = 0; i < n; i++) {
		cf_cause_label *label = &labels[i];
		long cause;

		label->cause = CF_CAUSE_NONE;
		label->caused_by = -1;
		label->artifact = false;
		label->artifact_reason = NULL;
		if (v[i].kind != CF_OUTCOME_FAILED)
			continue;
		label->cause = CF_CAUSE_ROOT;
		if (!v[i].error)
			continue;
		if (one_transaction && label_artifact(v, provides, i, label))
			continue;
		cause = find_cause(v, provides, i);
		if (cause >= 0) {
			label->cause = CF_CAUSE_CONSEQUENCE;
			label->caused_by = cause;
		}
	}
	for (size_t i = 0; i < n; i++)
		name_list_release(&provides[i]);
	free(provides);
}
