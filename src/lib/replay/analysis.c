/*
 * analysis.c — tells root causes from consequences among the failures of a
 * preflight replay.
 *
 * When a migration fails (and is rolled back) or is skipped, the objects it
 * would have created or changed never are, and later migrations that need
 * them fail too.  Those later failures are consequences, not problems of
 * their own.  The link is made by object identity, never by order alone,
 * from the statement model (history/model.h) of each migration:
 *
 *   1. The error names a missing object ("does not exist"): the latest
 *      earlier migration that would have provided that object decides.  If
 *      it failed or was skipped, the failure is its consequence; if it
 *      passed, the failure is a root.  Identities are qualified: a column
 *      is table.column (a bare column name in the message is resolved with
 *      the failing statement's own tables), a function is its name with its
 *      argument types when both sides know them, an enum value belongs to
 *      its type.  A passing migration that provides the same bare name
 *      elsewhere masks nothing.
 *   2. The error names an object that already exists, or the objects
 *      that depend on what a DROP drops (2BP01): the latest earlier
 *      migration that would have dropped or renamed it away decides.
 *   3. Any other error: the failing statement uses an object (a column, a
 *      table, a function, a type) that an earlier failed or skipped
 *      migration would have created or altered, with no passing migration
 *      providing it in between.
 *
 * A failure that uses a relation which did not exist before it and which
 * no earlier migration would have provided fails on its own: it stays a
 * root whatever its first error says (the replay checks the relations).
 *
 * Confidence is "certain" when rule 1 or 2 matched qualified identities of
 * the same kind, "likely" when the match is by bare name only (the name's
 * table unknown on one side, or a statement the parser rejected and whose
 * names come from tokens) or comes from rule 3.
 */
#include <stdlib.h>
#include <string.h>

#include "history/model.h"
#include "replay/analysis.h"

/* A bag of objects: a model used as a list. */
typedef cf_stmt_model obj_list;

static void
list_addn(obj_list *l, cf_obj_kind kind, const char *name, size_t len,
	  const char *parent)
{
	char *s = cf_strndup(name, len);

	cf_stmt_model_add(l, kind, CF_ACT_USE, NULL, parent, s, NULL);
	free(s);
}

/* ------------------------------------------------------------------------
 * Names for the unit tests: flattened, NULL-terminated arrays
 * ------------------------------------------------------------------------ */

/* Adds s to out[0..*n) unless there already. */
static void
strv_add_unique(char **out, size_t *n, const char *s)
{
	if (!s)
		return;
	for (size_t k = 0; k < *n; k++)
		if (strcmp(out[k], s) == 0)
			return;
	out[(*n)++] = cf_strdup(s);
}

/*
 * Every name, then the enum types of enum values, then the schemas of
 * objects other than columns.  NULL when empty.
 */
static char **
list_flatten(const obj_list *l, bool provided_only)
{
	char **out;
	size_t n = 0;

	if (l->n == 0)
		return NULL;
	out = cf_calloc(3 * l->n + 1, sizeof(char *));
	for (size_t pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < l->n; i++) {
			const cf_obj *o = &l->objs[i];

			if (provided_only && o->action != CF_ACT_PROVIDE)
				continue;
			if (pass == 0)
				strv_add_unique(out, &n, o->name);
			else if (pass == 1 && o->kind == CF_OBJ_ENUM_VALUE)
				strv_add_unique(out, &n, o->parent);
			else if (pass == 2 && o->kind != CF_OBJ_COLUMN &&
				 !provided_only)
				strv_add_unique(out, &n, o->schema);
		}
	}
	if (n == 0) {
		free(out);
		return NULL;
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

char **
cf_analysis_provided_names(const cf_script *script)
{
	obj_list all = {0};
	char **out;

	for (size_t i = 0; script && i < script->n_stmts; i++) {
		const cf_stmt_model *m = script->stmts[i].model;

		for (size_t k = 0; m && k < m->n; k++)
			cf_stmt_model_add(&all, m->objs[k].kind,
					  m->objs[k].action, m->objs[k].schema,
					  m->objs[k].parent, m->objs[k].name,
					  m->objs[k].args);
	}
	out = list_flatten(&all, true);
	cf_stmt_model_release(&all);
	return out ? out : cf_calloc(1, sizeof(char *));
}

/* ------------------------------------------------------------------------
 * What an error names: PostgreSQL 15 message shapes
 * ------------------------------------------------------------------------ */

/* Splits a possibly qualified, possibly quoted name `s.users`, `"My
 * Type"` into its last component and the one before (empty if none). */
static void
split_qualified(const char *s, size_t len, cf_strbuf *prev, cf_strbuf *last)
{
	cf_strbuf_reset(prev);
	cf_strbuf_reset(last);
	for (size_t i = 0; i < len;) {
		cf_strbuf_reset(prev);
		cf_strbuf_add(prev, last->buf ? last->buf : "", last->len);
		cf_strbuf_reset(last);
		if (s[i] == '"') {
			for (i++; i < len; i++) {
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"') {
						i++;
					} else {
						i++;
						break;
					}
				}
				cf_strbuf_addch(last, s[i]);
			}
		}
		while (i < len && s[i] != '.')
			cf_strbuf_addch(last, s[i++]);
		if (i < len)
			i++; /* the dot */
	}
}

/* Adds an object from a qualified name; with_schema: the part before the
 * last is a schema (else a parent table). */
static void
add_qualified(obj_list *out, cf_obj_kind kind, const char *s, size_t len,
	      const char *args, bool with_schema)
{
	cf_strbuf prev = CF_STRBUF_INIT, last = CF_STRBUF_INIT;
	const char *p;

	split_qualified(s, len, &prev, &last);
	p = prev.len ? cf_strbuf_str(&prev) : NULL;
	cf_stmt_model_add(out, kind, CF_ACT_USE, with_schema ? p : NULL,
			  with_schema ? NULL : p, cf_strbuf_str(&last), args);
	/* a missing schema explains a missing object in it */
	if (with_schema && p)
		cf_stmt_model_add(out, CF_OBJ_SCHEMA, CF_ACT_USE, NULL, NULL, p,
				  NULL);
	cf_strbuf_release(&prev);
	cf_strbuf_release(&last);
}

/* The last component of a qualified name, dequoted; caller frees. */
static char *
last_component(const char *s, size_t len)
{
	cf_strbuf prev = CF_STRBUF_INIT, last = CF_STRBUF_INIT;

	split_qualified(s, len, &prev, &last);
	cf_strbuf_release(&prev);
	return cf_strbuf_detach(&last);
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Parses `unsafe use of new value "v" of enum type t` (55P04) or
 * `invalid input value for enum t: "v"` (22P02) into an enum value with its
 * type as parent.  Returns false when the message has neither shape.
 */
static bool
parse_enum_message(const char *msg, obj_list *out)
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
	list_addn(out, CF_OBJ_ENUM_VALUE, v, (size_t)(ve - v), type);
	free(type);
	return true;
}

/* `operator does not exist: integer === integer` → "===". */
static void
parse_operator_message(const char *msg, obj_list *out)
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
			list_addn(out, CF_OBJ_OTHER, p, n, NULL);
			return;
		}
		p += n;
	}
}

/*
 * The object kind a message's first words name ("relation ", "trigger
 * ", ...), CF_OBJ_OTHER for any other; *len (when not NULL) is set to their
 * length, 0 when unknown.
 */
static cf_obj_kind
message_kind(const char *msg, size_t *len)
{
	static const struct {
		const char *word;
		cf_obj_kind kind;
	} words[] = {
		{"relation ", CF_OBJ_RELATION},
		{"table ", CF_OBJ_RELATION},
		{"view ", CF_OBJ_RELATION},
		{"sequence ", CF_OBJ_RELATION},
		{"materialized view ", CF_OBJ_RELATION},
		{"index ", CF_OBJ_INDEX},
		{"column ", CF_OBJ_COLUMN},
		{"constraint ", CF_OBJ_CONSTRAINT},
		{"function ", CF_OBJ_FUNCTION},
		{"procedure ", CF_OBJ_FUNCTION},
		{"aggregate ", CF_OBJ_FUNCTION},
		{"routine ", CF_OBJ_FUNCTION},
		{"type ", CF_OBJ_TYPE},
		{"domain ", CF_OBJ_TYPE},
		{"schema ", CF_OBJ_SCHEMA},
		{"trigger ", CF_OBJ_OTHER},
		{"policy ", CF_OBJ_OTHER},
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (starts_with(msg, words[i].word)) {
			if (len)
				*len = strlen(words[i].word);
			return words[i].kind;
		}
	if (len)
		*len = 0;
	return CF_OBJ_OTHER;
}

/*
 * Parses the subject of "<kind> <name> ... does not exist" or "... already
 * exists" (end points at that suffix): `relation "s.users"`, `column "c" of
 * relation "t"`, `column t.c`, `function public.f(integer)`, `schema "s"`,
 * `trigger "t" for table "x"`, `constraint "c" for relation "t"`.
 */
static void
parse_subject(const char *msg, const char *end, obj_list *out)
{
	cf_obj_kind kind = message_kind(msg, NULL);
	const char *q, *qe, *p, *of;

	if (kind == CF_OBJ_FUNCTION && msg[strcspn(msg, " ") + 1] != '"') {
		/* name printed unquoted, then the argument types */
		char *args = NULL;

		p = strchr(msg, ' ') + 1;
		qe = memchr(p, '(', (size_t)(end - p));
		if (qe) {
			const char *ae = end;

			while (ae > qe && ae[-1] != ')')
				ae--;
			if (ae > qe + 1)
				args = cf_strndup(qe + 1,
						  (size_t)(ae - 1 - (qe + 1)));
		}
		add_qualified(out, kind, p, (size_t)((qe ? qe : end) - p), args,
			      true);
		free(args);
		return;
	}
	q = memchr(msg, '"', (size_t)(end - msg));
	if (q) {
		qe = memchr(q + 1, '"', (size_t)(end - q - 1));
		if (!qe)
			return;
		/* `"c" of relation "t"`, `"trg" for table "x"` */
		of = NULL;
		for (const char *x = qe + 1; x < end; x++)
			if (*x == '"') {
				of = x;
				break;
			}
		if (of && kind != CF_OBJ_RELATION && kind != CF_OBJ_SCHEMA) {
			const char *oe = memchr(of + 1, '"',
						(size_t)(end - of - 1));
			char *parent = oe ? last_component(
						    of + 1,
						    (size_t)(oe - of - 1)) :
					    NULL;

			list_addn(out, kind, q + 1, (size_t)(qe - q - 1),
				  parent);
			free(parent);
			return;
		}
		if (kind == CF_OBJ_SCHEMA || kind == CF_OBJ_COLUMN ||
		    kind == CF_OBJ_OTHER)
			list_addn(out, kind, q + 1, (size_t)(qe - q - 1), NULL);
		else
			add_qualified(out, kind, q + 1, (size_t)(qe - q - 1),
				      NULL, true);
		return;
	}
	if (kind == CF_OBJ_COLUMN) {
		/* `column users.email does not exist`: table.column */
		p = end;
		while (p > msg && p[-1] != ' ')
			p--;
		if (p < end)
			add_qualified(out, kind, p, (size_t)(end - p), NULL,
				      false);
	}
}

typedef enum error_shape {
	ERR_OTHER = 0,
	ERR_MISSING, /* names objects that do not exist */
	ERR_EXISTS,  /* names objects that exist and should not */
} error_shape;

/*
 * Reads the DETAIL of "cannot drop X because other objects depend on it"
 * (2BP01), one dependent a line: `constraint c on table t depends on index
 * i`, `view v depends on table t`.  The dependents are what still exists;
 * they are matched by name, so the link is "likely".
 */
static void
parse_dependents(const char *detail, obj_list *out)
{
	for (const char *line = detail; line && *line;) {
		const char *eol = strchr(line, '\n');
		const char *end = eol ? eol : line + strlen(line);
		const char *dep = strstr(line, " depends on ");
		size_t wl;
		cf_obj_kind kind = message_kind(line, &wl);

		/* by name only: the table may be the drift's (renamed) */
		if (dep && dep < end && wl > 0) {
			const char *name = line + wl;
			const char *ne = name + strcspn(name, " (");

			add_qualified(out, kind, name, (size_t)(ne - name),
				      NULL, true);
		}
		line = eol ? eol + 1 : end;
	}
}

/* Fills out with the objects e names, and says how it names them. */
static error_shape
error_objects(const cf_error *e, obj_list *out)
{
	const char *st, *msg, *end;
	const char *field;

	if (!e || !e->message)
		return ERR_OTHER;
	st = e->sqlstate;
	msg = e->message;
	if (strcmp(st, "22P02") == 0) {
		if (starts_with(msg, "invalid input value for enum ") &&
		    parse_enum_message(msg, out))
			return ERR_MISSING;
		return ERR_OTHER;
	}
	if (strcmp(st, "42883") == 0 &&
	    starts_with(msg, "operator does not exist")) {
		parse_operator_message(msg, out);
		return ERR_MISSING;
	}
	if (strcmp(st, "42883") == 0 &&
	    starts_with(msg, "could not find a function named \"")) {
		/* DROP FUNCTION f without an argument list */
		const char *v = msg +
				strlen("could not find a function named ");
		const char *ve = strrchr(v, '"');

		if (ve > v)
			add_qualified(out, CF_OBJ_FUNCTION, v,
				      (size_t)(ve + 1 - v), NULL, true);
		return ERR_MISSING;
	}
	if (strcmp(st, "42703") == 0 &&
	    (field = strstr(msg, " has no field \"")) != NULL) {
		/* PL/pgSQL: record "new" has no field "email" */
		const char *v = field + strlen(" has no field \"");
		const char *ve = strchr(v, '"');

		if (ve)
			list_addn(out, CF_OBJ_COLUMN, v, (size_t)(ve - v),
				  NULL);
		return ERR_MISSING;
	}
	if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0 ||
	    strcmp(st, "42704") == 0 || strcmp(st, "42883") == 0 ||
	    strcmp(st, "3F000") == 0 || strcmp(st, "3D000") == 0) {
		end = strstr(msg, " does not exist");
		if (!end)
			return ERR_OTHER;
		parse_subject(msg, end, out);
		return out->n ? ERR_MISSING : ERR_OTHER;
	}
	if (strcmp(st, "2BP01") == 0 && e->detail) {
		parse_dependents(e->detail, out);
		return out->n ? ERR_EXISTS : ERR_OTHER;
	}
	if (strcmp(st, "42P07") == 0 || strcmp(st, "42701") == 0 ||
	    strcmp(st, "42710") == 0 || strcmp(st, "42723") == 0 ||
	    strcmp(st, "42P06") == 0) {
		end = strstr(msg, " already exists");
		if (!end)
			return ERR_OTHER;
		parse_subject(msg, end, out);
		return out->n ? ERR_EXISTS : ERR_OTHER;
	}
	return ERR_OTHER;
}

char **
cf_analysis_missing_names(const cf_error *e)
{
	obj_list l = {0};
	char **out = NULL;

	if (error_objects(e, &l) == ERR_MISSING)
		out = list_flatten(&l, false);
	cf_stmt_model_release(&l);
	return out;
}

/* ------------------------------------------------------------------------
 * Matching identities
 * ------------------------------------------------------------------------ */

typedef enum match_level {
	MATCH_NONE = 0,
	MATCH_LIKELY,
	MATCH_CERTAIN,
} match_level;

/* Two optional strings agree: equal, or one of them unknown. */
static bool
agree(const char *a, const char *b, bool *both)
{
	*both = a && b;
	return !a || !b || strcmp(a, b) == 0;
}

/* Whether a provided object of kind p can be a wanted object of kind w. */
static bool
kinds_compatible(cf_obj_kind w, cf_obj_kind p)
{
	if (w == p)
		return true;
	switch (w) {
	case CF_OBJ_RELATION: /* indexes and relations share pg_class */
		return p == CF_OBJ_INDEX;
	case CF_OBJ_TYPE: /* every table has a row type */
		return p == CF_OBJ_RELATION;
	case CF_OBJ_INDEX: /* a unique or primary key makes an index */
		return p == CF_OBJ_RELATION || p == CF_OBJ_CONSTRAINT;
	default:
		return false;
	}
}

/* How well object p (of some migration) is object w (wanted). */
static match_level
match(const cf_obj *p, const cf_obj *w)
{
	bool both_schema, both_parent, both_args;

	if (strcmp(p->name, w->name) != 0)
		return MATCH_NONE;
	if (p->kind == CF_OBJ_NAME || w->kind == CF_OBJ_NAME)
		return w->kind == CF_OBJ_SCHEMA ? MATCH_NONE : MATCH_LIKELY;
	if (!kinds_compatible(w->kind, p->kind))
		return MATCH_NONE;
	if (!agree(p->schema, w->schema, &both_schema) ||
	    !agree(p->parent, w->parent, &both_parent) ||
	    !agree(p->args, w->args, &both_args))
		return MATCH_NONE;
	if ((w->kind == CF_OBJ_COLUMN || w->kind == CF_OBJ_CONSTRAINT) &&
	    !both_parent)
		return MATCH_LIKELY;
	return MATCH_CERTAIN;
}

/* The model of the statement an error happened in, or NULL. */
static const cf_stmt_model *
failing_statement(const cf_failure_view *v)
{
	int idx = v->error ? v->error->statement_index : 0;

	if (v->script && idx == 0 && v->script->n_stmts == 1)
		idx = 1;
	if (!v->script || idx <= 0 || (size_t)idx > v->script->n_stmts)
		return NULL;
	return v->script->stmts[idx - 1].model;
}

/* true when the statement names a relation called name. */
static bool
names_relation(const cf_stmt_model *m, const char *name)
{
	for (size_t k = 0; m && k < m->n; k++)
		if (m->objs[k].kind == CF_OBJ_RELATION &&
		    strcmp(m->objs[k].name, name) == 0)
			return true;
	return false;
}

/*
 * Gives a column named without its table (or with an alias) the table the
 * failing statement uses it from, when that is one table.
 */
static void
resolve_columns(obj_list *wanted, const cf_stmt_model *stmt)
{
	for (size_t i = 0; stmt && i < wanted->n; i++) {
		cf_obj *w = &wanted->objs[i];
		const cf_obj *found = NULL;
		bool ambiguous = false;

		if (w->kind != CF_OBJ_COLUMN ||
		    (w->parent && names_relation(stmt, w->parent)))
			continue;
		for (size_t k = 0; k < stmt->n; k++) {
			const cf_obj *o = &stmt->objs[k];

			if (o->kind != CF_OBJ_COLUMN || !o->parent ||
			    strcmp(o->name, w->name) != 0)
				continue;
			if (found && strcmp(found->parent, o->parent) != 0)
				ambiguous = true;
			found = o;
		}
		if (ambiguous)
			continue;
		free(w->parent);
		if (!found) {
			/* an alias the statement does not resolve */
			w->parent = NULL;
			continue;
		}
		free(w->schema);
		w->parent = cf_strdup(found->parent);
		w->schema = cf_strdup(found->schema);
	}
}

/* ------------------------------------------------------------------------
 * Labelling
 * ------------------------------------------------------------------------ */

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

/* true when a script adds enum value w with ALTER TYPE ... ADD VALUE. */
static bool
adds_enum_value(const cf_script *script, const cf_obj *w)
{
	for (size_t i = 0; script && i < script->n_stmts; i++) {
		const cf_stmt_model *m = script->stmts[i].model;

		for (size_t k = 0; m && k < m->n; k++)
			if (m->objs[k].enum_added &&
			    m->objs[k].action == CF_ACT_PROVIDE &&
			    match(&m->objs[k], w) != MATCH_NONE)
				return true;
	}
	return false;
}

/*
 * Decides whether failure i only exists because the whole run shares one
 * transaction; sets the label's artifact fields and returns true if so.
 */
static bool
label_artifact(const cf_failure_view *v, size_t i, cf_cause_label *label)
{
	const cf_error *e = v[i].error;

	if (strcmp(e->sqlstate, "55P04") == 0) {
		obj_list want = {0};
		bool found = false;

		if (e->message && parse_enum_message(e->message, &want) &&
		    want.n == 1) {
			for (size_t j = i; j-- > 0 && !found;) {
				char *who;

				if (v[j].kind != CF_OUTCOME_OK ||
				    !adds_enum_value(v[j].script,
						     &want.objs[0]))
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
					want.objs[0].name, want.objs[0].parent,
					who);
				free(who);
			}
		}
		cf_stmt_model_release(&want);
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
 * Every object the migrations provide, alter or remove, by name then
 * migration: latest_cause() reads only the objects of the name it looks
 * for (match() needs equal names), not every object of every earlier
 * migration, so labelling a long cascade stays near linear.
 */
typedef struct obj_ref {
	const cf_obj *o;
	size_t j; /* migration index */
	bool from_tokens;
} obj_ref;

typedef struct obj_index {
	obj_ref *refs;
	size_t n;
} obj_index;

static int
ref_cmp(const void *a, const void *b)
{
	const obj_ref *x = a, *y = b;
	int c = strcmp(x->o->name, y->o->name);

	if (c)
		return c;
	return (x->j > y->j) - (x->j < y->j);
}

static void
index_build(obj_index *ix, const cf_failure_view *v, size_t n)
{
	size_t alloc = 0;

	memset(ix, 0, sizeof(*ix));
	for (size_t j = 0; j < n; j++) {
		const cf_script *script = v[j].script;

		for (size_t i = 0; script && i < script->n_stmts; i++) {
			const cf_stmt_model *m = script->stmts[i].model;

			for (size_t k = 0; m && k < m->n; k++) {
				if (m->objs[k].action == CF_ACT_USE)
					continue;
				CF_GROW(ix->refs, alloc, ix->n + 1);
				ix->refs[ix->n++] = (obj_ref){&m->objs[k], j,
							      m->from_tokens};
			}
		}
	}
	if (ix->n > 1)
		qsort(ix->refs, ix->n, sizeof(*ix->refs), ref_cmp);
}

/* The first ref at or after which refs sort >= (name, j). */
static size_t
index_lower(const obj_index *ix, const char *name, size_t j)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ix->refs[mid].o->name, name);

		if (c < 0 || (c == 0 && ix->refs[mid].j < j))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The best match of w among refs[b..e) (one migration's objects named
 * w->name) with the given action; names of unknown kind (from tokens)
 * count only when loose.
 */
static match_level
refs_match(const obj_ref *refs, size_t b, size_t e, cf_obj_action act,
	   const cf_obj *w, bool loose)
{
	match_level best = MATCH_NONE;

	for (size_t r = b; r < e; r++) {
		const cf_obj *o = refs[r].o;
		match_level l;

		if (o->action != act || (!loose && o->kind == CF_OBJ_NAME))
			continue;
		l = match(o, w);
		/* names read from tokens are never certain */
		if (l == MATCH_CERTAIN && refs[r].from_tokens)
			l = MATCH_LIKELY;
		if (l > best)
			best = l;
	}
	return best;
}

/*
 * The nearest earlier migration that failed or was skipped and would have
 * done act to w (provide it, remove it, or provide-or-alter it when
 * alter_too), with no passing migration certainly doing so after it.
 * Sets *level to the match found; -1 when there is none.
 */
static long
latest_cause(const obj_index *ix, const cf_failure_view *v, size_t i,
	     const cf_obj *w, cf_obj_action act, bool alter_too,
	     match_level *level)
{
	size_t first = index_lower(ix, w->name, 0);
	size_t e = index_lower(ix, w->name, i);

	while (e > first) {
		size_t j = ix->refs[e - 1].j, b = e - 1;
		/* rule 3 (alter_too) links by use alone: never by a bare
		 * name of unknown kind */
		match_level l;

		while (b > first && ix->refs[b - 1].j == j)
			b--;
		l = refs_match(ix->refs, b, e, act, w, !alter_too);
		if (alter_too) {
			match_level a = refs_match(ix->refs, b, e, CF_ACT_ALTER,
						   w, false);

			if (a > l)
				l = a;
		}
		e = b;
		if (l == MATCH_NONE)
			continue;
		if (v[j].kind != CF_OUTCOME_OK) {
			*level = l;
			return (long)j;
		}
		if (l == MATCH_CERTAIN)
			return -1; /* it was there: explained otherwise */
	}
	return -1;
}

/* Applies rule 1, 2 or 3 (see the file comment) to failure i. */
static long
find_cause(const obj_index *ix, const cf_failure_view *v, size_t i,
	   bool *likely)
{
	obj_list named = {0};
	const cf_stmt_model *stmt = failing_statement(&v[i]);
	error_shape shape = error_objects(v[i].error, &named);
	obj_list *wanted = &named;
	match_level best_level = MATCH_NONE;
	long best = -1;

	if (shape == ERR_OTHER && stmt) {
		/* rule 3: what the failing statement uses */
		for (size_t k = 0; k < stmt->n; k++) {
			const cf_obj *o = &stmt->objs[k];

			if (o->action == CF_ACT_USE && o->kind != CF_OBJ_NAME &&
			    o->kind != CF_OBJ_OTHER)
				cf_stmt_model_add(&named, o->kind, CF_ACT_USE,
						  o->schema, o->parent, o->name,
						  o->args);
		}
	}
	resolve_columns(wanted, stmt);
	for (size_t m = 0; m < wanted->n; m++) {
		match_level l = MATCH_NONE;
		long j = latest_cause(ix, v, i, &wanted->objs[m],
				      shape == ERR_EXISTS ? CF_ACT_REMOVE :
							    CF_ACT_PROVIDE,
				      shape == ERR_OTHER, &l);

		if (j < 0)
			continue;
		if (shape == ERR_OTHER)
			l = MATCH_LIKELY;
		if (j > best || (j == best && l > best_level)) {
			best = j;
			best_level = l;
		}
	}
	cf_stmt_model_release(&named);
	*likely = best >= 0 && best_level != MATCH_CERTAIN;
	return best;
}

void
cf_analyze_failures(const cf_failure_view *v, size_t n, bool one_transaction,
		    cf_cause_label *labels)
{
	obj_index ix = {0};
	bool built = false;

	for (size_t i = 0; i < n; i++) {
		cf_cause_label *label = &labels[i];
		long cause;
		bool likely = false;

		label->cause = CF_CAUSE_NONE;
		label->caused_by = -1;
		label->likely = false;
		label->artifact = false;
		label->artifact_reason = NULL;
		if (v[i].kind != CF_OUTCOME_FAILED)
			continue;
		label->cause = CF_CAUSE_ROOT;
		if (!v[i].error)
			continue;
		if (one_transaction && label_artifact(v, i, label))
			continue;
		/* it would fail whatever failed before it */
		if (v[i].uses_missing)
			continue;
		if (!built) {
			index_build(&ix, v, n);
			built = true;
		}
		cause = find_cause(&ix, v, i, &likely);
		if (cause >= 0) {
			label->cause = CF_CAUSE_CONSEQUENCE;
			label->caused_by = cause;
			label->likely = likely;
		}
	}
	free(ix.refs);
}
