/*
 * traces.c — finding what an interrupted non-transactional migration left.
 *
 * A CREATE INDEX CONCURRENTLY that is interrupted (its client killed, the
 * session terminated, the server restarted, a deadlock) leaves an INVALID
 * index: not used by queries, still maintained on every write, and in the
 * way of the statement's next run ("relation already exists", or silently
 * kept by IF NOT EXISTS).  A run killed after the build but before its
 * tracking row leaves a valid index that no recorded migration explains.
 * Both are found by the index name the statement gives; an index without a
 * name gets one chosen by the server and cannot be matched.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

#include "history/model.h"
#include "replay/traces.h"

/* One CREATE INDEX CONCURRENTLY or DROP INDEX, from its parse tree. */
typedef struct index_stmt {
	bool create; /* else a DROP INDEX */
	bool concurrent;
	bool if_not_exists;
	char *schema;	/* NULL when not qualified */
	char *name;	/* NULL when the statement gives none */
	char *table;	/* CREATE: the table's name */
	char **dropped; /* DROP: the index names, NULL-terminated */
} index_stmt;

static void
index_stmt_release(index_stmt *s)
{
	free(s->schema);
	free(s->name);
	free(s->table);
	for (size_t i = 0; s->dropped && s->dropped[i]; i++)
		free(s->dropped[i]);
	free(s->dropped);
}

static const char *
jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The last String of a List node of names (schema.name -> name). */
static const char *
last_name(json_t *list_node)
{
	json_t *items = json_object_get(json_object_get(list_node, "List"),
					"items");
	size_t n = json_array_size(items);

	return n ? jstr(json_object_get(json_array_get(items, n - 1), "String"),
			"sval") :
		   NULL;
}

/*
 * Parses one statement; returns 1 with *out filled for CREATE INDEX and
 * DROP INDEX, 0 for anything else (or what does not parse: the migration
 * will report that when it runs).
 */
static int
parse_index_stmt(const char *sql, index_stmt *out)
{
	PgQueryParseResult r;
	json_t *root = NULL, *stmt, *b;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!cf_sql_parsable(sql, strlen(sql), NULL))
		return 0;
	r = pg_query_parse(sql);
	if (!r.error && r.parse_tree)
		root = json_loads(r.parse_tree, 0, NULL);
	pg_query_free_parse_result(r);
	stmt = json_object_get(
		json_array_get(json_object_get(root, "stmts"), 0), "stmt");
	if ((b = json_object_get(stmt, "IndexStmt")) != NULL) {
		json_t *rel = json_object_get(b, "relation");

		out->create = true;
		out->concurrent = json_is_true(
			json_object_get(b, "concurrent"));
		out->if_not_exists = json_is_true(
			json_object_get(b, "if_not_exists"));
		out->name = cf_strdup(jstr(b, "idxname"));
		/* the index goes into its table's schema */
		out->schema = cf_strdup(jstr(rel, "schemaname"));
		out->table = cf_strdup(jstr(rel, "relname"));
		rc = 1;
	} else if ((b = json_object_get(stmt, "DropStmt")) != NULL &&
		   jstr(b, "removeType") &&
		   strcmp(jstr(b, "removeType"), "OBJECT_INDEX") == 0) {
		json_t *objs = json_object_get(b, "objects");
		size_t n = json_array_size(objs);

		out->dropped = cf_calloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			out->dropped[i] = cf_strdup(
				last_name(json_array_get(objs, i)));
		rc = 1;
	}
	json_decref(root);
	return rc;
}

/* What the catalog says about an index name. */
typedef struct found_index {
	char *qualified; /* "schema"."name", quoted for SQL */
	bool valid;
	char *definition;
	long builder_pid; /* a session building it now, or 0 */
	char *builder_app;
} found_index;

static void
found_release(found_index *f)
{
	free(f->qualified);
	free(f->definition);
	free(f->builder_app);
}

/*
 * Looks the index up where the statement would create it: the named
 * schema, else the schema of its table as the search path finds it, else
 * the first schema of the search path.  1 found, 0 not, -1 error.
 */
static int
lookup(PGconn *conn, const index_stmt *is, found_index *f, cf_error **err)
{
	char *table = cf_quote_ident(is->table);
	const char *params[3] = {is->name, is->schema, table};
	PGresult *res;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	res = cf_db_query(
		conn,
		"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),"
		" i.indisvalid, pg_get_indexdef(c.oid),"
		" p.pid, a.application_name"
		" FROM pg_class c"
		" JOIN pg_index i ON i.indexrelid = c.oid"
		" JOIN pg_namespace n ON n.oid = c.relnamespace"
		" LEFT JOIN pg_stat_progress_create_index p"
		"  ON p.index_relid = c.oid AND p.pid <> pg_backend_pid()"
		" LEFT JOIN pg_stat_activity a ON a.pid = p.pid"
		" WHERE c.relname = $1 AND n.nspname = coalesce($2,"
		"  (SELECT s.nspname FROM pg_class t"
		"   JOIN pg_namespace s ON s.oid = t.relnamespace"
		"   WHERE t.oid = to_regclass($3)),"
		"  (current_schemas(false))[1])"
		" LIMIT 1",
		3, params, err);
	free(table);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		f->qualified = cf_strdup(PQgetvalue(res, 0, 0));
		f->valid = PQgetvalue(res, 0, 1)[0] == 't';
		f->definition = cf_strdup(PQgetvalue(res, 0, 2));
		f->builder_pid = PQgetisnull(res, 0, 3) ?
					 0 :
					 atol(PQgetvalue(res, 0, 3));
		f->builder_app = cf_strdup(PQgetvalue(res, 0, 4));
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static bool
dropped_before(char **dropped, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(dropped[i], name) == 0)
			return true;
	return false;
}

static cf_error *
unnamed_note(const cf_migration *m, const cf_script *script,
	     const cf_statement *st, const char *table)
{
	cf_error *w = cf_warning_new(
		"cannot check for an unfinished earlier run: this CREATE INDEX CONCURRENTLY gives no index name");

	cf_error_set_where(w, script->path, st->line, st->column);
	cf_error_set_code(w, "unnamed-concurrent-index");
	cf_error_set_detail(
		w,
		"the server picks the name, so an INVALID or unrecorded index an interrupted run of migration %s left cannot be told from another index; a rerun may build a second one",
		m->version);
	cf_error_set_hint(
		w,
		"name the index: CREATE INDEX CONCURRENTLY name ON ...; after an interrupted run, look for INVALID indexes on %s yourself (\\d %s in psql)",
		table, table);
	return w;
}

static cf_error *
trace_error(const cf_migration *m, const cf_script *script,
	    const cf_statement *st, const char *fmt, const char *index)
{
	cf_error *e = cf_error_new(CF_ERR_TRACKING, fmt, index);

	cf_error_set_where(e, script->path, st->line, st->column);
	e->statement_index = (int)(st - script->stmts) + 1;
	e->statement = cf_strndup(script->text + st->offset, st->length);
	cf_error_set_code(e, "interrupted-migration");
	(void)m;
	return e;
}

/*
 * Judges one found index.  Returns 0 (nothing to stop for, maybe a note or
 * a repair done), or -1 with *err.
 */
/*
 * Judges one found index.  Returns 0 (nothing to stop for, maybe a note or
 * a repair done), 1 with *err the trace that stops the migration, or -1
 * with *err when the repair failed.
 */
static int
judge(PGconn *conn, const cf_migration *m, const cf_script *script, size_t idx,
      const index_stmt *is, const found_index *f, bool repair, cf_traces *out,
      cf_error **err)
{
	const cf_statement *st = &script->stmts[idx];
	cf_error *e;

	if (f->builder_pid) {
		e = trace_error(
			m, script, st,
			"index %s is being built right now by another session",
			f->qualified);
		cf_error_set_detail(
			e,
			"pid %ld (application_name '%s') runs CREATE INDEX on it; migration %s (%s) creates it and is not recorded",
			f->builder_pid, f->builder_app ? f->builder_app : "",
			m->version, m->name);
		cf_error_set_hint(
			e,
			"wait for that session to finish, or stop it with SELECT pg_cancel_backend(%ld); then run 'confiture migrate up' again",
			f->builder_pid);
		cf_error_set_code(e, "index-being-built");
		*err = e;
		return 1;
	}
	if (!f->valid) {
		if (repair) {
			char *sql = cf_asprintf(
				"DROP INDEX CONCURRENTLY IF EXISTS %s",
				f->qualified);
			int rc = cf_db_exec(conn, sql, err);

			free(sql);
			if (rc < 0)
				return -1;
			e = cf_warning_new(
				"repaired: dropped INVALID index %s left by an unfinished run of migration %s",
				f->qualified, m->version);
			cf_error_set_where(e, script->path, st->line,
					   st->column);
			cf_error_set_code(e, "repaired-invalid-index");
			cf_error_set_detail(e, "it was: %s", f->definition);
			cf_error_list_add(&out->notes, e);
			return 0;
		}
		e = trace_error(
			m, script, st,
			"index %s is INVALID: an earlier run of this migration did not finish",
			f->qualified);
		cf_error_set_detail(
			e,
			"migration %s (%s) is not recorded and its CREATE INDEX CONCURRENTLY was interrupted or failed during the build, leaving an index queries do not use but every write maintains; running the statement again would %s",
			m->version, m->name,
			is->if_not_exists ?
				"keep the INVALID index (IF NOT EXISTS)" :
				"fail (relation already exists)");
		cf_error_set_hint(
			e,
			"run 'confiture migrate up --repair' to drop it and run the migration, or drop it yourself: DROP INDEX CONCURRENTLY %s;",
			f->qualified);
		*err = e;
		return 1;
	}
	if (is->if_not_exists) {
		e = cf_warning_new(
			"index %s exists already: IF NOT EXISTS keeps it",
			f->qualified);
		e->severity = CF_SEV_NOTICE;
		cf_error_set_where(e, script->path, st->line, st->column);
		cf_error_set_code(e, "index-exists");
		cf_error_set_detail(e, "it is: %s", f->definition);
		cf_error_list_add(&out->notes, e);
		return 0;
	}
	if (repair) {
		out->skip[idx] = true;
		e = cf_warning_new(
			"repaired: kept valid index %s instead of building it again; statement %zu was not run",
			f->qualified, idx + 1);
		cf_error_set_where(e, script->path, st->line, st->column);
		cf_error_set_code(e, "repaired-valid-index");
		cf_error_set_detail(
			e,
			"it is: %s; the definition was not compared with the statement's",
			f->definition);
		cf_error_list_add(&out->notes, e);
		return 0;
	}
	e = trace_error(
		m, script, st,
		"index %s exists and is valid, but the migration that creates it is not recorded",
		f->qualified);
	cf_error_set_detail(
		e,
		"migration %s (%s) is pending; an earlier run probably built the index and was interrupted before recording the migration, or the index was made by hand; it is: %s",
		m->version, m->name, f->definition);
	cf_error_set_hint(
		e,
		"if it is the index this statement creates, run 'confiture migrate up --repair' to keep it (as IF NOT EXISTS would) and run the rest of the migration; otherwise drop it: DROP INDEX CONCURRENTLY %s;",
		f->qualified);
	*err = e;
	return 1;
}

/*
 * Walks the CREATE INDEX CONCURRENTLY statements of script[0..n_stmts) that
 * name their index and that no earlier statement's DROP INDEX undoes,
 * calling fn with each and its index as found in the catalog (f NULL when
 * there is none).  Statements without a name get an unnamed-concurrent-
 * index note in notes when notes is not NULL.  Stops at fn's -1.
 */
typedef int (*visit_fn)(void *arg, size_t idx, const index_stmt *is,
			const found_index *f, cf_error **err);

static int
walk(PGconn *conn, const cf_migration *m, const cf_script *script,
     size_t n_stmts, cf_error_list *notes, visit_fn fn, void *arg,
     cf_error **err)
{
	char **dropped = NULL;
	size_t n_dropped = 0, alloc = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n_stmts; i++) {
		const cf_statement *st = &script->stmts[i];
		char *sql = cf_strndup(script->text + st->offset, st->length);
		index_stmt is;
		found_index f;
		int found;

		if (!parse_index_stmt(sql, &is)) {
			free(sql);
			continue;
		}
		free(sql);
		for (size_t k = 0; is.dropped && is.dropped[k]; k++) {
			CF_GROW(dropped, alloc, n_dropped + 1);
			dropped[n_dropped++] = cf_strdup(is.dropped[k]);
		}
		if (!is.create || !is.concurrent || !is.table ||
		    (is.name && dropped_before(dropped, n_dropped, is.name))) {
			index_stmt_release(&is);
			continue;
		}
		if (!is.name) {
			if (notes)
				cf_error_list_add(
					notes,
					unnamed_note(m, script, st, is.table));
			index_stmt_release(&is);
			continue;
		}
		found = lookup(conn, &is, &f, err);
		if (found < 0)
			rc = -1;
		else
			rc = fn(arg, i, &is, found ? &f : NULL, err);
		if (found > 0)
			found_release(&f);
		index_stmt_release(&is);
	}
	for (size_t i = 0; i < n_dropped; i++)
		free(dropped[i]);
	free(dropped);
	return rc;
}

struct check_arg {
	PGconn *conn;
	const cf_migration *m;
	const cf_script *script;
	bool repair;
	cf_traces *out;
	cf_error *first; /* the first trace found */
	cf_strbuf also;	 /* the others, for its detail */
};

static int
check_one(void *arg, size_t idx, const index_stmt *is, const found_index *f,
	  cf_error **err)
{
	struct check_arg *a = arg;
	cf_error *e = NULL;
	int rc;

	if (!f)
		return 0;
	rc = judge(a->conn, a->m, a->script, idx, is, f, a->repair, a->out, &e);
	if (rc < 0)
		return cf_fail(err, e);
	if (rc > 0 && !a->first) {
		a->first = e;
	} else if (rc > 0) {
		cf_strbuf_addf(&a->also, "%sstatement %d: %s",
			       a->also.len ? "; " : "", e->statement_index,
			       e->message);
		cf_error_free(e);
	}
	return 0;
}

int
cf_traces_check(PGconn *conn, const cf_migration *m, const cf_script *script,
		bool repair, cf_traces *out, cf_error **err)
{
	struct check_arg a = {conn, m,	  script,	 repair,
			      out,  NULL, CF_STRBUF_INIT};
	int rc;

	memset(out, 0, sizeof(*out));
	out->skip = cf_calloc(script->n_stmts ? script->n_stmts : 1,
			      sizeof(bool));
	rc = walk(conn, m, script, script->n_stmts, &out->notes, check_one, &a,
		  err);
	if (rc == 0 && a.first) {
		/* every trace is named, so that one repair covers them */
		if (a.also.len) {
			char *d = a.first->detail;

			a.first->detail = cf_asprintf("%s; also found: %s",
						      d ? d : "", a.also.buf);
			free(d);
		}
		rc = cf_fail(err, a.first);
		a.first = NULL;
	}
	cf_error_free(a.first);
	cf_strbuf_release(&a.also);
	if (rc < 0)
		cf_traces_release(out);
	return rc;
}

struct left_arg {
	const cf_migration *m;
	const cf_script *script;
	size_t failed; /* 0-based index of the failed statement */
	cf_error_list *notes;
};

static int
left_one(void *arg, size_t idx, const index_stmt *is, const found_index *f,
	 cf_error **err)
{
	struct left_arg *a = arg;
	const cf_statement *st = &a->script->stmts[idx];
	cf_error *w;

	(void)is;
	(void)err;
	if (!f || (f->valid && idx >= a->failed))
		return 0;
	if (!f->valid) {
		w = cf_warning_new("the failed run left INVALID index %s",
				   f->qualified);
		cf_error_set_detail(
			w,
			"queries do not use it but every write maintains it; migration %s is not recorded",
			a->m->version);
		cf_error_set_hint(
			w,
			"fix the cause, then run 'confiture migrate up --repair' (it drops the index and runs the migration again), or drop it: DROP INDEX CONCURRENTLY %s;",
			f->qualified);
	} else {
		w = cf_warning_new(
			"index %s was built and stays, but migration %s is not recorded",
			f->qualified, a->m->version);
		cf_error_set_hint(
			w,
			"fix the cause, then run 'confiture migrate up --repair': it keeps this index (as IF NOT EXISTS would) and runs the rest");
	}
	cf_error_set_where(w, a->script->path, st->line, st->column);
	cf_error_set_code(w, "left-by-failure");
	cf_error_list_add(a->notes, w);
	return 0;
}

void
cf_traces_after_failure(PGconn *conn, const cf_migration *m,
			const cf_script *script, int failed_statement,
			cf_error_list *notes)
{
	struct left_arg a = {m, script, 0, notes};
	size_t n = script->n_stmts;
	cf_error *e = NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return;
	if (failed_statement > 0 && (size_t)failed_statement <= n)
		n = (size_t)failed_statement;
	a.failed = n - 1;
	if (walk(conn, m, script, n, NULL, left_one, &a, &e) < 0)
		cf_error_free(e);
}

void
cf_traces_release(cf_traces *t)
{
	free(t->skip);
	t->skip = NULL;
	cf_error_list_release(&t->notes);
}
