/*
 * preflight.c — `migrate preflight`: static checks on the pending
 * migrations, then a replay on a disposable database that continues past
 * failures and says which failures are root causes.
 *
 * The replay goes through cf_engine_apply(), the same code `migrate up`
 * uses; only the unit (own transaction vs savepoint), the target connection
 * and the bookkeeping differ.  Preflight never writes tracking rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "history/model.h"
#include "lint/lint.h"
#include "replay/analysis.h"
#include "replay/clone.h"
#include "replay/cluster.h"
#include "replay/risk.h"
#include "replay/rollback_check.h"
#include "replay/session_internal.h"
#include "schema/dependents.h"

/* What the replay database said about a CREATE OR REPLACE (indexes into
 * the migration's dependents, -1 for none), for lint's facts. */
typedef struct replace_fact {
	size_t migration;
	int line;
	long replaced, overloaded;
	bool body_changed;
} replace_fact;

typedef struct preflight_run {
	cf_session *s;
	const cf_preflight_options *opts;
	const cf_progress *progress;
	cf_preflight_result *r;
	const char *against_url;
	char *conn_options;
	int lock_timeout_ms;
	int statement_timeout_ms;
	/* clone mode */
	PGconn *maint;
	cf_cluster_snapshot *snap;
	char *clone_name;
	char *against_db;
	cf_cluster_scope *scope; /* what the replay touched */
	cf_clone_marker *marker; /* for the next run, should this one die */
	bool against_named;	 /* a statement names the against database */
	bool analysed;		 /* analyse() ran */
	bool checked;		 /* static_once() ran */
	size_t first_note;	 /* notes before it are about earlier runs */
	json_t *tree; /* the statement being replayed (statement_node()) */
	/* clone mode: the parse trees of the script being replayed, one per
	 * statement, read once for the guard's check and its record */
	const cf_script *trees_of;
	cf_stmt_tree **trees;
	unsigned char *tree_state; /* 0 not looked at, 1 read, 2 no need */
	int target_major;	   /* grammar of the target, 0 when unknown */
	PGconn *against_conn; /* savepoint mode: opened by against_major() */
	cf_rollback_checker *downs; /* --check-down, clone mode */
	cf_engine *engine;	    /* the replay's: its connection */
	/* the migration whose up file the replay is sending (not the
	 * --check-down runs): where dependents are recorded */
	cf_preflight_migration *replaying;
	size_t replaying_index;
	replace_fact *facts; /* CREATE OR REPLACE statements replayed */
	size_t n_facts, alloc_facts;
	cf_risk_tracer *tracer;	       /* locks, rewrites, scans (risk.h) */
	cf_risk_changes *risk_changes; /* read from lint's parse trees */
	/* with a replay, lint runs while the server replays migration
	 * lint_at (lint_deferred()) */
	bool lint_later, linted;
	size_t lint_at;
	/* a static preflight lints each file as it is read (parse_and_lint());
	 * lint_pending() takes these findings */
	cf_lint_result *prelinted;
	cf_preflight_migration *current; /* being applied, for the tracer */
	const cf_error **first_err; /* per pending migration: first_error() */
	/* relations the pending migrations before provided_upto provide
	 * (names borrowed from their models), for uses_missing_relation() */
	struct name_set {
		const char **slots;
		size_t n, cap;
	} provided;
	size_t provided_upto;
} preflight_run;

/* ---- pending set and static checks ---- */

static char *
timeout_options(const preflight_run *pr)
{
	return cf_asprintf("-c lock_timeout=%d -c statement_timeout=%d",
			   pr->lock_timeout_ms, pr->statement_timeout_ms);
}

/*
 * The --against server's major, whose grammar judges the files, and the
 * database's name.  One connection does for the whole run: savepoint mode
 * keeps it (with the timeouts) for the replay; clone mode closes it at
 * once, since CREATE DATABASE ... TEMPLATE needs the database idle.
 */
static void
against_major(preflight_run *pr)
{
	const cf_config *cfg = pr->s->cfg;
	bool keep = pr->opts->mode == CF_PREFLIGHT_SAVEPOINT;
	PGconn *conn = NULL;
	cf_error *e = NULL;

	pr->lock_timeout_ms = pr->opts->lock_timeout_ms >= 0 ?
				      pr->opts->lock_timeout_ms :
				      cfg->preflight_lock_timeout_ms;
	pr->statement_timeout_ms = pr->opts->statement_timeout_ms >= 0 ?
					   pr->opts->statement_timeout_ms :
					   cfg->preflight_statement_timeout_ms;
	pr->conn_options = timeout_options(pr);
	if (cf_db_connect(pr->against_url, keep ? pr->conn_options : NULL,
			  &conn, &e) == 0) {
		pr->target_major = PQserverVersion(conn) / 10000;
		pr->against_db = cf_strdup(PQdb(conn));
	}
	cf_error_free(e);
	if (conn && keep)
		pr->against_conn = conn;
	else
		cf_clone_finish(conn); /* gone before the clone is made */
}

static bool
has_code(const cf_error *e, const char *code)
{
	return e->code && strcmp(e->code, code) == 0;
}

/* A pending migration's file, for finding the migration of a problem by
 * its path (a binary search: problems x migrations was quadratic). */
typedef struct path_ix {
	const char *path;
	size_t k;  /* index in r->migrations */
	bool down; /* the path is its .down.sql */
} path_ix;

static int
path_ix_cmp(const void *a, const void *b)
{
	return strcmp(((const path_ix *)a)->path, ((const path_ix *)b)->path);
}

/* The pending migrations' up, down and .py paths, sorted; caller frees. */
static path_ix *
path_index(const cf_preflight_result *r, size_t *n)
{
	path_ix *ix = cf_calloc(3 * r->n + 1, sizeof(*ix));

	*n = 0;
	for (size_t k = 0; k < r->n; k++) {
		const cf_migration *m = r->migrations[k].migration;
		const char *paths[3] = {m->up_path, m->down_path, m->py_path};

		for (size_t p = 0; p < 3; p++)
			if (paths[p])
				ix[(*n)++] = (path_ix){paths[p], k, p == 1};
	}
	qsort(ix, *n, sizeof(*ix), path_ix_cmp);
	return ix;
}

/* The entry of path, or NULL. */
static const path_ix *
path_find(const path_ix *ix, size_t n, const char *path)
{
	path_ix key = {path, 0, false};

	return path ? bsearch(&key, ix, n, sizeof(*ix), path_ix_cmp) : NULL;
}

/*
 * For each pending migration, the first error-severity problem that keeps
 * its up file from being replayed, or NULL.  Its .down.sql never decides;
 * a statement the parser rejects is replayed anyway, for the server's own
 * verdict.  One pass over the problems; caller frees the array.
 */
static const cf_error **
first_errors(const cf_preflight_result *r, const path_ix *ix, size_t nix)
{
	const cf_error **first = cf_calloc(r->n + 1, sizeof(*first));

	for (size_t i = 0; i < r->problems.n; i++) {
		const cf_error *e = r->problems.items[i];
		const path_ix *p;

		if (e->severity != CF_SEV_ERROR ||
		    has_code(e, "duplicate-version") ||
		    has_code(e, "syntax-error"))
			continue;
		p = path_find(ix, nix, e->file);
		if (p && !p->down && !first[p->k])
			first[p->k] = e;
	}
	return first;
}

static char **
strv_add(char **v, size_t *n, char *s)
{
	v = cf_reallocarray(v, *n + 2, sizeof(char *));
	v[(*n)++] = s;
	v[*n] = NULL;
	return v;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Groups duplicate-version problems into {version, files}. */
static void
collect_duplicates(cf_preflight_result *r, const cf_migration_set *set)
{
	for (size_t i = 0; i < set->n_duplicates; i++) {
		const cf_duplicate_version *d = &set->duplicates[i];
		cf_duplicate_version *copy;
		size_t nf = 0;

		r->duplicates = cf_reallocarray(r->duplicates,
						r->n_duplicates + 1,
						sizeof(cf_duplicate_version));
		copy = &r->duplicates[r->n_duplicates++];
		copy->version = cf_strdup(d->version);
		copy->files = NULL;
		for (size_t f = 0; d->files && d->files[f]; f++)
			copy->files = strv_add(copy->files, &nf,
					       cf_strdup(d->files[f]));
	}
}

/* A pending version older than the newest applied one: `up` refuses it
 * without --out-of-order; the replay keeps `up`'s (version) order. */
static void
warn_out_of_order(cf_preflight_result *r, const cf_migration *m,
		  const cf_applied_list *applied)
{
	const cf_applied *newest = &applied->items[applied->n - 1];
	cf_error *w = cf_warning_new(
		"migration %s (%s) is older than the newest applied one, %s "
		"(%s): out of order",
		m->version, m->name, newest->version, newest->name);

	cf_error_set_code(w, "out-of-order");
	cf_error_set_where(w, m->up_path, 0, 0);
	cf_error_set_detail(w, "it is replayed in version order, before the "
			       "later pending ones, as 'migrate up "
			       "--out-of-order' would apply it");
	cf_error_set_hint(w,
			  "'migrate up' refuses it unless --out-of-order "
			  "(or migration.out_of_order: true); if it depends "
			  "on %s, give it a later version",
			  newest->version);
	cf_error_list_add(&r->problems, w);
}

/*
 * Reads the environment's tracking table (read only) to find what is
 * pending, verifying checksums of applied files.  Without a database every
 * file is pending.
 */
static int
find_pending(preflight_run *pr, cf_applied_list *applied, cf_error **err)
{
	cf_session *s = pr->s;
	cf_preflight_result *r = pr->r;
	cf_error_list found = CF_ERROR_LIST_INIT;
	size_t nm = 0;

	memset(applied, 0, sizeof(*applied));
	if (s->cfg->database_url && *s->cfg->database_url) {
		if (cf_session_connect(s, err) < 0)
			return -1;
		pr->target_major = cf_session_target_major(s);
		if (cf_tracking_read(s->conn, s->cfg, cf_session_numeric(s),
				     applied, err) < 0) {
			cf_session_disconnect(s);
			return -1;
		}
		cf_session_disconnect(s);
		r->checksum_verified = true;
		cf_session_verify_checksums(s, applied, CF_CHECKSUM_FAIL,
					    &found);
		/* the up files by path: every applied file may mismatch */
		path_ix *ups = cf_calloc(s->set->n + 1, sizeof(*ups));
		size_t nups = 0;

		for (size_t k = 0; k < s->set->n; k++)
			if (s->set->items[k].up_path)
				ups[nups++] = (path_ix){
					s->set->items[k].up_path, k, false};
		qsort(ups, nups, sizeof(*ups), path_ix_cmp);
		for (size_t i = 0; i < found.n; i++) {
			const path_ix *p = path_find(ups, nups,
						     found.items[i]->file);

			if (p)
				r->checksum_mismatches = strv_add(
					r->checksum_mismatches, &nm,
					cf_strdup(s->set->items[p->k].version));
			/* preflight has no --on-checksum-mismatch to suggest */
			cf_error_set_hint(
				found.items[i],
				"restore the file as it was applied and put the change in a new migration");
			cf_error_list_add(&r->problems, found.items[i]);
		}
		free(ups);
		free(found.items);
	}
	if (!r->checksum_mismatches)
		r->checksum_mismatches = cf_calloc(1, sizeof(char *));

	r->migrations = cf_calloc(s->set->n ? s->set->n : 1,
				  sizeof(cf_preflight_migration));
	for (size_t i = 0; i < s->set->n; i++) {
		const cf_migration *m = &s->set->items[i];
		cf_preflight_migration *pm;

		if (cf_applied_find(applied, m->version))
			continue;
		if (pr->opts->since &&
		    cf_version_compare(m->version, pr->opts->since,
				       cf_session_numeric(s)) < 0)
			continue;
		pm = &r->migrations[r->n++];
		pm->migration = m;
		pm->caused_by = -1;
		if (cf_session_out_of_order(s, applied, m->version))
			warn_out_of_order(r, m, applied);
	}
	return 0;
}

/*
 * migrate lint's rules on the pending up files, as static warnings: they
 * are deploy-safety advice, so an error-severity finding fails preflight
 * only with --strict.  Statements lint cannot read are already syntax
 * problems here, so its not_linted list is not repeated.
 */
/*
 * The options lint_pending() lints with: base, with the run's target
 * major, the configured grades and, without a replay, the migrations
 * before the first pending one as context.  Returns the context list, which
 * *out borrows: the caller frees it once lint is over.
 */
static const char **
lint_options(preflight_run *pr, const cf_lint_options *base,
	     cf_lint_options *out)
{
	cf_preflight_result *r = pr->r;
	cf_lint_options lo = *base;
	const char **context = cf_calloc(pr->s->set->n + 1, sizeof(char *));
	size_t nc = 0;

	lo.pg_major = pr->target_major;
	lo.grades = pr->s->cfg->lint_grades;
	lo.n_grades = pr->s->cfg->n_lint_grades;
	/* the migrations before the first pending one, for what they define
	 * (a replay reads the database instead) */
	for (size_t i = 0; !pr->against_url && r->n && i < pr->s->set->n &&
			   &pr->s->set->items[i] != r->migrations[0].migration;
	     i++)
		if (pr->s->set->items[i].up_path)
			context[nc++] = pr->s->set->items[i].up_path;
	lo.context = context;
	/* the replay's risk assessment reads lint's parse of each statement
	 * instead of its own */
	if (pr->against_url && !pr->risk_changes)
		pr->risk_changes = cf_risk_changes_new();
	lo.on_tree = pr->risk_changes ? cf_risk_changes_note : NULL;
	lo.on_tree_arg = pr->risk_changes;
	*out = lo;
	return context;
}

/* cf_parse_hooks for parse_and_lint(): arg is the lint stream. */
static void *
lint_hook_prepare(void *arg, cf_migration *m, const cf_script_trees *trees)
{
	return cf_lint_stream_prepare(arg, m->up, trees);
}

static void
lint_hook_consume(void *arg, cf_migration *m, void *prepared)
{
	cf_lint_stream_consume(arg, m->up, prepared);
}

static void
lint_hook_release(void *arg, cf_migration *m, void *prepared)
{
	cf_lint_stream_release(arg, m->up, prepared);
}

/*
 * A static preflight reads and parses the pending files (ms) and lints
 * each up file in the same pass: one parse gives the statements and the
 * trees the rules read, and the rules run while later files are read.
 * lint_pending() takes the findings where it would have linted.  Lint
 * fails to start only on an unknown rule id, which loading the
 * configuration already refuses; should it, the files are only read, and
 * lint_pending() reports the failure as it always did.
 */
static void
parse_and_lint(preflight_run *pr, cf_migration **ms)
{
	cf_lint_options lo;
	const char **context = lint_options(pr, &(cf_lint_options){0}, &lo);
	cf_lint_stream *ls = NULL;
	cf_error *e = NULL;
	cf_parse_hooks hooks = {lint_hook_prepare, lint_hook_consume,
				lint_hook_release, NULL,
				cf_lint_stream_window(cf_parallel_threads())};

	if (cf_lint_stream_begin(&lo, false, &ls, &e) == 0) {
		hooks.arg = ls;
		cf_migration_parse_each_hooked(pr->s->set, ms, pr->r->n, true,
					       true, pr->target_major, &hooks);
		pr->prelinted = cf_lint_stream_end(ls);
	} else {
		cf_error_free(e);
		cf_migration_parse_each(pr->s->set, ms, pr->r->n, true, true,
					pr->target_major);
	}
	free(context);
}

static void
lint_pending(preflight_run *pr, const cf_lint_options *base)
{
	cf_preflight_result *r = pr->r;
	cf_lint_options lo;
	const char **context = lint_options(pr, base, &lo);
	cf_script **scripts = cf_calloc(r->n + 1, sizeof(cf_script *));
	cf_lint_result *lr = pr->prelinted;
	cf_error *e = NULL;
	size_t n = 0;

	/* the scripts read and parsed for the static checks: a file whose
	 * text could not be read is a problem already */
	for (size_t k = 0; k < r->n; k++)
		if (r->migrations[k].migration->up_path &&
		    r->migrations[k].migration->up)
			scripts[n++] = r->migrations[k].migration->up;
	pr->prelinted = NULL;
	/* a replay's analysis reads the models lint builds */
	if (lr || (n && cf_lint_scripts(scripts, n, pr->against_url != NULL,
					&lo, &lr, &e) == 0)) {
		char major[16];
		cf_strbuf detail = CF_STRBUF_INIT;

		/* thousands of findings: their strings are moved out of lr
		 * (freed below) and the detail is built without printf */
		snprintf(major, sizeof(major), "%d", lr->pg_major);
		for (size_t i = 0; i < lr->n_findings; i++) {
			cf_lint_finding *f = &lr->findings[i];
			cf_error *w = cf_warning_take(f->message);

			f->message = NULL;
			cf_error_set_code(w, f->rule);
			cf_error_take_where(w, f->file, f->line, f->column);
			f->file = NULL;
			cf_strbuf_reset(&detail);
			cf_strbuf_addstr(&detail, "lint rule ");
			cf_strbuf_addstr(&detail, f->rule);
			cf_strbuf_addstr(&detail, f->severity == CF_LINT_ERROR ?
							  " (error" :
							  " (warning");
			cf_strbuf_addstr(&detail, " for PostgreSQL ");
			cf_strbuf_addstr(&detail, major);
			cf_strbuf_addstr(&detail, "); see ");
			cf_strbuf_addstr(&detail, f->docs);
			cf_error_set_detail_str(w, detail.buf);
			cf_error_set_hint_str(w, f->suggestion);
			w->excerpt = f->excerpt;
			w->excerpt_column = f->excerpt_column;
			f->excerpt = NULL;
			cf_error_list_add(&r->problems, w);
		}
		cf_strbuf_release(&detail);
	}
	cf_error_free(e); /* an unreadable file is already a problem */
	cf_lint_result_free(lr);
	free(scripts);
	free(context);
}

/* Lint rules that read facts from the replay database when there is one. */
static const char *const db_rules[] = {"replace-with-dependents", NULL};

/*
 * After the replay: the rules that need the database, on the facts its
 * hook read (what depended on each object a CREATE OR REPLACE replaced).
 * Their findings join the static warnings.
 */
static void
lint_replayed(preflight_run *pr)
{
	cf_preflight_result *r = pr->r;
	cf_lint_fact *facts = cf_calloc(pr->n_facts + 1, sizeof(*facts));
	cf_lint_options lo = {.select = db_rules, .facts_known = true};
	size_t before = r->problems.n;

	for (size_t i = 0; i < pr->n_facts; i++) {
		const replace_fact *f = &pr->facts[i];
		const cf_preflight_migration *pm = &r->migrations[f->migration];

		facts[i].file = pm->migration->up_path;
		facts[i].line = f->line;
		facts[i].replaced = f->replaced >= 0 ?
					    &pm->dependents[f->replaced] :
					    NULL;
		facts[i].overloaded = f->overloaded >= 0 ?
					      &pm->dependents[f->overloaded] :
					      NULL;
		facts[i].body_changed = f->body_changed;
	}
	lo.facts = facts;
	lo.n_facts = pr->n_facts;
	if (pr->n_facts)
		lint_pending(pr, &lo);
	r->static_warnings += r->problems.n - before;
	free(facts);
}

static void
static_checks(preflight_run *pr)
{
	cf_session *s = pr->s;
	cf_preflight_result *r = pr->r;
	cf_migration_set *set = s->set;
	size_t nix;
	path_ix *ix = path_index(r, &nix);

	/* The files were read and parsed by cf_session_preflight(). */
	/* Problems of pending files, and set-wide ones (duplicates, names). */
	for (size_t i = 0; i < set->problems.n; i++) {
		const cf_error *e = set->problems.items[i];
		/* a file that looks like a migration but is not one is never
		 * replayed: worth a warning, never silently left out */
		bool misnamed = has_code(e, "bad-file-name");
		bool keep = !e->file || misnamed ||
			    has_code(e, "duplicate-version");
		bool down = false;
		const path_ix *p = keep ? NULL : path_find(ix, nix, e->file);

		if (p) {
			/* A .down.sql is not replayed: only whether it is
			 * valid matters here, not how it would run. */
			down = p->down;
			keep = !(e->severity != CF_SEV_ERROR && down &&
				 !has_code(e, "syntax-left-to-server"));
		}
		if (!keep)
			continue;
		/* ...and they are warnings about the down file: its up
		 * file passes or fails on its own */
		cf_error_list_add(&r->problems, cf_error_copy(e));
		if (down || misnamed)
			r->problems.items[r->problems.n - 1]->severity =
				CF_SEV_WARNING;
	}
	collect_duplicates(r, set);
	for (size_t k = 0; k < r->n; k++) {
		cf_preflight_migration *pm = &r->migrations[k];
		const cf_migration *m = pm->migration;
		size_t nn = 0;

		pm->has_down = m->down_path != NULL;
		pm->transactional = !m->up || m->up->transactional;
		pm->non_transactional = cf_calloc(1, sizeof(char *));
		for (size_t j = 0; m->up && j < m->up->n_stmts; j++)
			if (m->up->stmts[j].non_transactional)
				pm->non_transactional = strv_add(
					pm->non_transactional, &nn,
					cf_asprintf("%s (line %d)",
						    m->up->stmts[j]
							    .non_transactional,
						    m->up->stmts[j].line));
		if (m->up && m->up->no_transaction_marker && nn == 0)
			pm->non_transactional = strv_add(
				pm->non_transactional, &nn,
				cf_strdup(
					"-- confiture:no-transaction marker"));
		if (!pm->has_down && m->up_path) {
			cf_error *w = cf_error_new(
				CF_ERR_FILE,
				"migration %s (%s) has no .down.sql: it cannot be rolled back",
				m->version, m->name);

			w->severity = CF_SEV_WARNING;
			cf_error_set_code(w, "missing-down");
			cf_error_set_where(w, m->up_path, 0, 0);
			cf_error_set_hint(w, "add %s_%s.down.sql next to it",
					  m->version, m->name);
			cf_error_list_add(&r->problems, w);
		}
	}
	if (!pr->opts->no_lint && !pr->against_url) {
		cf_lint_options lo = {0};

		lint_pending(pr, &lo);
	}
	r->static_warnings = cf_error_list_count(&r->problems, CF_SEV_WARNING);
	r->static_ok = cf_error_list_count(&r->problems, CF_SEV_ERROR) == 0;
	pr->first_err = first_errors(r, ix, nix);
	free(ix);
	/* lint's findings are warnings: no migration's fate waits for them */
	pr->lint_later = !pr->opts->no_lint && pr->against_url;
	pr->lint_at = r->n;
	for (size_t k = 0, most = 0; pr->lint_later && k < r->n; k++) {
		const cf_script *up = r->migrations[k].migration->up;

		if (up && up->transactional && !pr->first_err[k] &&
		    up->text_len > most) {
			most = up->text_len;
			pr->lint_at = k;
		}
	}
}

/*
 * Lint with a replay: while the server runs the migration with the most
 * SQL (likely the longest wait; lint needs no database), or after the
 * replay when that one never went out.  The rule that needs the database
 * runs after the replay, on what the replay database said
 * (lint_replayed()).  The findings land where static_checks() would have
 * put them: nothing else joins the problems in between.
 */
static void
lint_deferred(preflight_run *pr)
{
	cf_lint_options lo = {.ignore = db_rules};

	if (!pr->lint_later || pr->linted)
		return;
	pr->linted = true;
	lint_pending(pr, &lo);
	pr->r->static_warnings = cf_error_list_count(&pr->r->problems,
						     CF_SEV_WARNING);
}

/* ---- replay ---- */

/* Explains the timeouts when one fires, so nobody waits for a hung lock. */
static void
explain_timeouts(preflight_run *pr, cf_error *e)
{
	if (strcmp(e->sqlstate, "55P03") == 0) {
		cf_error_set_hint(
			e,
			"another session holds a lock this statement needs; preflight gave up after %d ms (--lock-timeout or preflight.lock_timeout_ms)",
			pr->lock_timeout_ms);
		cf_error_set_code(e, "lock-timeout");
	} else if (strcmp(e->sqlstate, "57014") == 0 &&
		   strstr(e->message, "statement timeout")) {
		cf_error_set_hint(
			e,
			"the statement ran longer than %d ms (--statement-timeout or preflight.statement_timeout_ms)",
			pr->statement_timeout_ms);
		cf_error_set_code(e, "statement-timeout");
	}
}

/*
 * The JSON parse node of a statement, for function_source(): the
 * statement's text is parsed alone (only CREATE OR REPLACE FUNCTION
 * statements whose dependents were read).  Borrowed until the next call;
 * NULL when the parser rejects it.
 */
static json_t *
statement_node(preflight_run *pr, const cf_script *script,
	       const cf_statement *st)
{
	char *sql = cf_strndup(script->text + st->offset, st->length);
	PgQueryParseResult r;

	json_decref(pr->tree);
	pr->tree = NULL;
	if (cf_sql_parsable(sql, st->length, NULL)) {
		r = pg_query_parse(sql);
		pr->tree = r.error ? NULL : json_loads(r.parse_tree, 0, NULL);
		pg_query_free_parse_result(r);
	}
	free(sql);
	return json_object_get(
		json_array_get(json_object_get(pr->tree, "stmts"), 0), "stmt");
}

/* Forgets the guard's parse trees (clone mode). */
static void
guard_trees_free(preflight_run *pr)
{
	for (size_t i = 0; pr->trees_of && i < pr->trees_of->n_stmts; i++)
		cf_stmt_tree_free(pr->trees[i]);
	free(pr->trees);
	free(pr->tree_state);
	pr->trees = NULL;
	pr->tree_state = NULL;
	pr->trees_of = NULL;
}

/*
 * The parse node (a PgQuery__Node *) of statement index, for the clone
 * guard, or NULL when the guard has nothing to say about the statement
 * (cf_cluster_statement_relevant(): no parse then) or the parser rejects
 * it.  The tree is the statement model's protobuf parse, which also gives
 * the statement its model, kept for the script being replayed so that the
 * guard's check (statement_hooked()) and its record (before_statement()
 * or statement_ran()) read one parse.  Borrowed.
 */
static const void *
guard_tree(preflight_run *pr, const cf_script *script, size_t index)
{
	const cf_statement *st = &script->stmts[index];
	const PgQuery__ParseResult *res;

	if (pr->trees_of != script) {
		guard_trees_free(pr);
		pr->trees = cf_calloc(script->n_stmts, sizeof(*pr->trees));
		pr->tree_state = cf_calloc(script->n_stmts,
					   sizeof(*pr->tree_state));
		pr->trees_of = script;
	}
	if (!pr->tree_state[index] &&
	    !cf_cluster_statement_relevant(script->text + st->offset,
					   st->length))
		pr->tree_state[index] = 2;
	if (!pr->tree_state[index]) {
		char *text, *msg;

		pr->trees[index] = cf_script_stmt_tree(
			(cf_script *)script, NULL, index, &text, &msg);
		free(text);
		free(msg);
		pr->tree_state[index] = 1;
		res = cf_stmt_tree_result(pr->trees[index]);
		/* the risk assessment reads this parse too */
		if (!pr->risk_changes)
			pr->risk_changes = cf_risk_changes_new();
		if (res && res->n_stmts >= 1)
			cf_risk_changes_note(pr->risk_changes,
					     (cf_script *)script, index,
					     res->stmts[0]->stmt);
	}
	res = cf_stmt_tree_result(pr->trees[index]);
	return res && res->n_stmts >= 1 ? res->stmts[0]->stmt : NULL;
}

/*
 * Whether the guard must see statement index before it is sent (clone
 * mode): it refuses it, or it names the against database, whose marker
 * must be saved before it runs.  Other statements are recorded after
 * their unit's batch ran (statement_ran()): a transaction's changes to
 * shared catalogs persist only at COMMIT, and before_commit() saves the
 * marker first.
 */
static bool
guard_fires(preflight_run *pr, const cf_script *script, size_t index)
{
	const void *stmt = guard_tree(pr, script, index);
	cf_error *e = NULL;

	if (!stmt)
		return false;
	if (cf_cluster_guard_statement(pr->snap, stmt, pr->clone_name, &e) <
	    0) {
		cf_error_free(e);
		return true;
	}
	return cf_cluster_statement_names(stmt, 'd', pr->against_db);
}

/*
 * Clone mode: records the shared objects a statement names (stmt, from
 * guard_tree()) and its string constants, so that the restore undoes the
 * replay's own changes and nothing another session did meanwhile, and its
 * warnings.  When it names the against database, the marker is saved
 * before it runs.
 */
static int
guard_record(preflight_run *pr, const cf_script *script, size_t index,
	     const void *stmt, cf_error **err)
{
	const cf_statement *st = &script->stmts[index];
	cf_error *w;

	/* the scripts outlive the restore, which parses these only when it
	 * has a slot or origin to attribute */
	cf_cluster_scope_add_text(pr->scope, script->text + st->offset,
				  st->length);
	if (!stmt)
		return 0;
	cf_cluster_scope_add_names(pr->scope, stmt);
	if ((w = cf_cluster_statement_warning(stmt))) {
		cf_error_set_where(w, script->path, st->line, st->column);
		cf_error_list_add(&pr->r->notes, w);
	}
	/* ALTER DATABASE <against> & co act on the real database */
	if (!cf_cluster_statement_names(stmt, 'd', pr->against_db))
		return 0;
	w = cf_error_new(
		CF_ERR_SQL,
		"a replayed statement changes database '%s' itself, not the clone",
		pr->against_db);
	w->severity = CF_SEV_WARNING;
	cf_error_set_code(w, "against-database-altered");
	cf_error_set_where(w, script->path, st->line, st->column);
	cf_error_set_detail(
		w,
		"ALTER DATABASE, COMMENT, GRANT and RENAME name the real database: other sessions see the change while the preflight runs, and the clone does not get it; the preflight restores it afterwards, and if the preflight is killed first, the next preflight against this server does");
	cf_error_list_add(&pr->r->notes, w);
	if (pr->against_named)
		return 0;
	pr->against_named = true;
	return cf_clone_marker_save(pr->maint, pr->marker, true, pr->scope,
				    err);
}

/*
 * Clone mode, before each statement of a unit sent statement by
 * statement: refuse what the snapshot could not undo (dropping an
 * existing database, tablespace, ...), then record it (guard_record()).
 */
static int
guard_statement(void *arg, const cf_migration *m, const cf_script *script,
		size_t index, cf_error **err)
{
	preflight_run *pr = arg;
	const void *stmt;

	(void)m;
	if (!pr->snap)
		return 0;
	stmt = guard_tree(pr, script, index);
	if (stmt &&
	    cf_cluster_guard_statement(pr->snap, stmt, pr->clone_name, err) < 0)
		return -1;
	return guard_record(pr, script, index, stmt, err);
}

/*
 * Clone mode, after a unit sent in pipeline mode (the guard fired on none
 * of its statements): records each statement that ran, as
 * guard_statement() would have before it.
 */
static void
statement_ran(void *arg, const cf_migration *m, const cf_script *script,
	      size_t index)
{
	preflight_run *pr = arg;
	const void *stmt;
	cf_error *e = NULL;

	(void)m;
	if (!pr->snap)
		return;
	stmt = guard_tree(pr, script, index);
	if (guard_record(pr, script, index, stmt, &e) < 0)
		cf_error_list_add(&pr->r->notes, e);
}

/* The AS source of a CREATE FUNCTION statement's JSON node, or NULL. */
static const char *
function_source(json_t *stmt)
{
	json_t *opts = json_object_get(
		json_object_get(stmt, "CreateFunctionStmt"), "options");
	size_t i;
	json_t *o;

	json_array_foreach(opts, i, o)
	{
		json_t *de = json_object_get(o, "DefElem");
		const char *name = json_string_value(
			json_object_get(de, "defname"));

		if (name && strcmp(name, "as") == 0)
			return json_string_value(json_object_get(
				json_object_get(
					json_array_get(
						json_object_get(
							json_object_get(
								json_object_get(
									de,
									"arg"),
								"List"),
							"items"),
						0),
					"String"),
				"sval"));
	}
	return NULL;
}

/* Appends d (taken) to pm's dependents; returns its index. */
static long
keep_dependents(cf_preflight_migration *pm, cf_statement_dependents *d,
		size_t index, int line)
{
	d->statement_index = (int)index + 1;
	d->line = line;
	pm->dependents = cf_reallocarray(pm->dependents, pm->n_dependents + 1,
					 sizeof(*pm->dependents));
	pm->dependents[pm->n_dependents] = *d;
	return (long)pm->n_dependents++;
}

/*
 * A CREATE OR REPLACE FUNCTION whose argument list matches no function:
 * it creates another one beside the one function of that name (if any),
 * whose dependents keep calling the old one.
 */
static long
overloaded(preflight_run *pr, cf_preflight_migration *pm, const cf_obj *o,
	   size_t index, int line)
{
	cf_obj byname = *o;
	cf_statement_dependents d;
	cf_error *e = NULL;

	byname.args = NULL;
	if (cf_dependents_read(pr->engine->conn, &byname, &d, &e) != 1) {
		cf_error_free(e);
		return -1;
	}
	if (d.n == 0) {
		cf_statement_dependents_release(&d);
		return -1;
	}
	return keep_dependents(pm, &d, index, line);
}

/* Whether a statement starts with CREATE, ALTER or DROP: the others
 * (data, SET, ...) never replace an object, and skip the model's parse. */
static bool
ddl_verb(const cf_script *script, const cf_statement *st)
{
	static const char *const verbs[] = {"create", "alter", "drop"};
	const char *t = script->text + st->offset;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i]);

		if (st->length > n && strncasecmp(t, verbs[i], n) == 0 &&
		    !((t[n] >= 'a' && t[n] <= 'z') ||
		      (t[n] >= 'A' && t[n] <= 'Z') || t[n] == '_'))
			return true;
	}
	return false;
}

/*
 * Before each replayed statement of an up file: what depends on the
 * objects it replaces, drops or retypes, read on the replay database
 * itself just before it runs, so that what the earlier pending migrations
 * and statements created is seen too.  Never fails the statement: a lost
 * connection is the statement's own failure to report.
 */
static void
record_dependents(preflight_run *pr, const cf_migration *m,
		  const cf_script *script, size_t index)
{
	const cf_statement *st = &script->stmts[index];
	cf_preflight_migration *pm = pr->replaying;
	size_t mi = pr->replaying_index;

	if (!pr->engine || !pm || pm->migration != m || script != m->up ||
	    st->transaction_control || !ddl_verb(script, st))
		return;
	cf_script_node((cf_script *)script, index);
	for (size_t k = 0; st->model && k < st->model->n; k++) {
		const cf_obj *o = &st->model->objs[k];
		cf_statement_dependents d;
		cf_error *e = NULL;
		replace_fact f = {mi, st->line, -1, -1, false};
		int rc;

		if (!cf_dependents_wanted(st->model, o))
			continue;
		rc = cf_dependents_read(pr->engine->conn, o, &d, &e);
		cf_error_free(e);
		if (rc < 0)
			return;
		if (rc == 0 && o->replace && o->kind == CF_OBJ_FUNCTION &&
		    o->args)
			f.overloaded = overloaded(pr, pm, o, index, st->line);
		if (rc == 1 && d.n && o->replace &&
		    o->kind == CF_OBJ_FUNCTION) {
			char *old = cf_function_source(pr->engine->conn,
						       d.object);
			const char *now = function_source(
				statement_node(pr, script, st));

			f.body_changed = !old || !now || strcmp(old, now) != 0;
			free(old);
		}
		if (rc == 1 && d.n)
			f.replaced = keep_dependents(pm, &d, index, st->line);
		else if (rc == 1)
			cf_statement_dependents_release(&d);
		if (o->replace && (f.replaced >= 0 || f.overloaded >= 0)) {
			CF_GROW(pr->facts, pr->alloc_facts, pr->n_facts + 1);
			pr->facts[pr->n_facts++] = f;
		}
	}
}

/*
 * Whether before_statement() must see statement index: in clone mode
 * those the guard fires on (guard_fires()), and those whose dependents are
 * read (record_dependents()), so that a replay of other migrations goes
 * out in pipeline mode.  Builds the statement's model.
 */
static bool
statement_hooked(void *arg, const cf_migration *m, const cf_script *script,
		 size_t index)
{
	preflight_run *pr = arg;
	const cf_statement *st = &script->stmts[index];

	if (pr->snap && guard_fires(pr, script, index))
		return true;
	if (!pr->engine || !pr->replaying || pr->replaying->migration != m ||
	    script != m->up || st->transaction_control || !ddl_verb(script, st))
		return false;
	cf_script_node((cf_script *)script, index);
	for (size_t k = 0; st->model && k < st->model->n; k++)
		if (cf_dependents_wanted(st->model, &st->model->objs[k]))
			return true;
	return false;
}

/* The engine's hook: dependents first (the clone guard may refuse the
 * statement, whose dependents still explain it), then the guard. */
static int
before_statement(void *arg, const cf_migration *m, const cf_script *script,
		 size_t index, cf_error **err)
{
	record_dependents(arg, m, script, index);
	return guard_statement(arg, m, script, index, err);
}

/*
 * Clone mode, before each migration commits: the transaction ids of the
 * shared catalog rows it wrote and the roles it created or changed
 * (dynamic SQL in DO blocks and functions), saved in the marker before
 * they can commit.
 */
static int
before_commit(void *arg, PGconn *conn, cf_error **err)
{
	preflight_run *pr = arg;

	if (!pr->scope)
		return 0;
	if (cf_cluster_scope_before_commit(pr->scope, conn, pr->maint, pr->snap,
					   err) < 0)
		return -1;
	return cf_clone_marker_save(pr->maint, pr->marker, pr->against_named,
				    pr->scope, err);
}

/* After each statement of a pending migration's up: trace it (not the
 * statements --check-down runs). */
static void
after_statement(void *arg, PGconn *conn, const cf_migration *m,
		const cf_script *script, size_t index, double elapsed_ms)
{
	preflight_run *pr = arg;
	double t0 = cf_now_ms();

	if (pr->tracer && pr->current && pr->current->migration == m &&
	    script == m->up)
		cf_risk_tracer_after(pr->tracer, conn, (cf_script *)script,
				     index, elapsed_ms, pr->current);
	pr->r->trace_ms += cf_now_ms() - t0;
}

static void
trace_unit_done(preflight_run *pr, PGconn *conn,
		const cf_preflight_migration *pm)
{
	double t0 = cf_now_ms();

	if (!pr->tracer)
		return;
	cf_risk_tracer_unit_done(pr->tracer, conn,
				 pm->outcome.kind == CF_OUTCOME_OK,
				 pm->outcome.autocommit, pr->downs != NULL);
	pr->r->trace_ms += cf_now_ms() - t0;
}

/* Starts the tracer on conn before the first migration, unless off. */
static void
trace_begin(preflight_run *pr, PGconn *conn, cf_engine *engine, bool savepoint)
{
	cf_error *e = NULL;

	if (!pr->opts->trace_locks) {
		pr->r->trace_note = cf_strdup("not asked for (--trace-locks)");
		return;
	}
	if (!(pr->tracer = cf_risk_tracer_begin(conn, savepoint, &e))) {
		pr->r->trace_note = cf_asprintf("cannot trace locks: %s",
						e->message);
		cf_error_free(e);
		return;
	}
	engine->after_statement = after_statement;
	engine->hook_arg = pr;
}

/*
 * After the replay, on its connection (idle, outside any transaction):
 * production's sizes of what was touched (--env), and the calibration
 * when some rewrite or scan has a size to weigh.
 */
static void
trace_end(preflight_run *pr, PGconn *conn, bool temp)
{
	const char *note;

	if (!pr->tracer)
		return;
	pr->r->traced = true;
	if ((note = cf_risk_tracer_note(pr->tracer)))
		pr->r->trace_note = cf_strdup(note);
	cf_risk_tracer_free(pr->tracer);
	pr->tracer = NULL;
	cf_risk_read_sizes(pr->r, pr->opts->sizes_url ?
					  pr->opts->sizes_url :
					  pr->s->cfg->database_url);
	if (cf_risk_needs_calibration(pr->r))
		cf_risk_calibrate(pr->r, conn, temp);
}

static void
fail_with_copy(cf_preflight_migration *pm, const cf_error *e)
{
	pm->outcome.kind = CF_OUTCOME_FAILED;
	pm->outcome.error = cf_error_copy(e);
}

static void
skip(cf_preflight_migration *pm, const char *reason)
{
	pm->outcome.migration = pm->migration;
	pm->outcome.kind = CF_OUTCOME_SKIPPED;
	pm->outcome.skipped_reason = cf_strdup(reason);
}

static void
notify(const preflight_run *pr, const cf_preflight_migration *pm)
{
	if (pr->progress && pr->progress->migration_done)
		pr->progress->migration_done(pr->progress->arg, &pm->outcome,
					     false);
}

/* A set of names (open addressing; the strings are borrowed). */
static bool
name_set_has(const struct name_set *set, const char *name)
{
	if (!set->cap)
		return false;
	for (size_t i = cf_hash_str(name) & (set->cap - 1); set->slots[i];
	     i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slots[i], name) == 0)
			return true;
	return false;
}

static void
name_set_add(struct name_set *set, const char *name)
{
	size_t i;

	if (name_set_has(set, name))
		return;
	if (2 * (set->n + 1) > set->cap) {
		struct name_set bigger = {
			cf_calloc(set->cap ? 2 * set->cap : 64, sizeof(char *)),
			0, set->cap ? 2 * set->cap : 64};

		for (size_t k = 0; k < set->cap; k++)
			if (set->slots[k])
				name_set_add(&bigger, set->slots[k]);
		free(set->slots);
		*set = bigger;
	}
	for (i = cf_hash_str(name) & (set->cap - 1); set->slots[i];
	     i = (i + 1) & (set->cap - 1))
		;
	set->slots[i] = name;
	set->n++;
}

/* Adds to set the relations (and indexes) the statements of script
 * provide. */
static void
add_provided(struct name_set *set, const cf_script *script)
{
	for (size_t s = 0; script && s < script->n_stmts; s++) {
		const cf_stmt_model *m = script->stmts[s].model;

		for (size_t k = 0; m && k < m->n; k++)
			if (m->objs[k].action == CF_ACT_PROVIDE &&
			    (m->objs[k].kind == CF_OBJ_RELATION ||
			     m->objs[k].kind == CF_OBJ_INDEX))
				name_set_add(set, m->objs[k].name);
	}
}

/* Whether the relation o uses is missing from the database now. */
static bool
relation_missing(PGconn *conn, const cf_obj *o)
{
	const char *params[2] = {o->schema ? o->schema : "", o->name};
	cf_error *e = NULL;
	PGresult *res = cf_db_query(
		conn,
		"SELECT to_regclass(CASE WHEN $1 = '' THEN "
		"quote_ident($2) ELSE quote_ident($1) || '.' || "
		"quote_ident($2) END) IS NULL",
		2, params, &e);
	bool missing = res && PQntuples(res) == 1 &&
		       PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	cf_error_free(e);
	return missing;
}

/*
 * After migration i failed (and was rolled back, so the database is as
 * just before it): does it use a relation that does not exist now and
 * that neither it nor any earlier pending migration would have provided?
 * Then it fails on its own, whatever failed before it.
 */
static bool
uses_missing_relation(preflight_run *pr, PGconn *conn, size_t i)
{
	cf_script *up = pr->r->migrations[i].migration->up;
	struct name_set own = {0}, present = {0};
	char **keys = NULL;
	size_t n_keys = 0, alloc = 0;
	bool missing = false;

	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) == PQTRANS_INERROR)
		return false;
	cf_script_build_models(up);
	if (i < pr->provided_upto) { /* a new replay: start again */
		free(pr->provided.slots);
		memset(&pr->provided, 0, sizeof(pr->provided));
		pr->provided_upto = 0;
	}
	/* what the migrations before it provide, read once for all the
	 * failures (a scan of every earlier migration per failure was
	 * quadratic in a long cascade) */
	for (; pr->provided_upto < i; pr->provided_upto++) {
		cf_script *e =
			pr->r->migrations[pr->provided_upto].migration->up;

		cf_script_build_models(e);
		add_provided(&pr->provided, e);
	}
	/* what it provides itself, and each relation asked about once (a
	 * scan of the migration per use, and a query per use, were
	 * quadratic and 40,000 round trips in one file of 40,000 INSERTs) */
	add_provided(&own, up);
	for (size_t s = 0; up && s < up->n_stmts && !missing; s++) {
		const cf_stmt_model *m = up->stmts[s].model;

		for (size_t k = 0; m && k < m->n && !missing; k++) {
			const cf_obj *o = &m->objs[k];
			char *key;

			if (o->kind != CF_OBJ_RELATION ||
			    o->action != CF_ACT_USE || m->from_tokens ||
			    name_set_has(&own, o->name) ||
			    name_set_has(&pr->provided, o->name))
				continue;
			key = cf_asprintf("%s.%s", o->schema ? o->schema : "",
					  o->name);
			if (name_set_has(&present, key)) {
				free(key);
				continue;
			}
			missing = relation_missing(conn, o);
			CF_GROW(keys, alloc, n_keys + 1);
			keys[n_keys++] = key;
			name_set_add(&present, key);
		}
	}
	for (size_t k = 0; k < n_keys; k++)
		free(keys[k]);
	free(keys);
	free(own.slots);
	free(present.slots);
	return missing;
}

/* The engine's wait for the server: work that needs no database runs
 * meanwhile (lint once, whose parse trees the risk assessment reads too;
 * the next migration's statement models). */
static void
while_waiting(void *arg)
{
	preflight_run *pr = arg;

	size_t i = pr->replaying_index;
	cf_script *next;

	if (!pr->replaying)
		return;
	if (i == pr->lint_at)
		lint_deferred(pr);
	/* the models statement_hooked() reads of the next migration, which
	 * lint builds when it ran first */
	next = i + 1 < pr->r->n ? pr->r->migrations[i + 1].migration->up : NULL;
	for (size_t k = 0; next && !pr->linted && k < next->n_stmts; k++)
		if (!next->stmts[k].transaction_control &&
		    ddl_verb(next, &next->stmts[k]))
			cf_script_node(next, k);
}

/* Reconnects to the clone after its backend died, so the rest can run. */
typedef int (*reconnect_fn)(preflight_run *pr, PGconn **conn);

/*
 * Replays every pending migration on conn with the engine configured by the
 * caller.  Static errors are failures without a replay (the file cannot be
 * sent).  Stops early only when interrupted or the connection is lost for
 * good.
 */
static void
replay(preflight_run *pr, cf_engine *engine, PGconn **conn,
       reconnect_fn reconnect)
{
	cf_preflight_result *r = pr->r;
	const char *stop_reason = NULL;
	int rc;

	if (pr->progress && pr->progress->replay_begin)
		pr->progress->replay_begin(pr->progress->arg, r->n);
	engine->while_waiting = while_waiting;
	engine->hook_arg = pr;
	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];
		const cf_error *static_err = pr->first_err[i];

		pm->replayed = true;
		pm->outcome.migration = pm->migration;
		if (stop_reason) {
			skip(pm, stop_reason);
		} else if (static_err || !pm->migration->up) {
			if (static_err)
				fail_with_copy(pm, static_err);
			else
				skip(pm, "no .up.sql file");
		} else {
			if (pr->progress && pr->progress->migration_start)
				pr->progress->migration_start(pr->progress->arg,
							      pm->migration,
							      false);
			engine->conn = *conn;
			pr->replaying = pm;
			pr->replaying_index = i;
			pr->current = pm;
			rc = cf_engine_apply(engine, pm->migration, false,
					     &pm->outcome);
			pr->replaying = NULL;
			if (rc < 0) {
				explain_timeouts(pr, pm->outcome.error);
				pm->uses_missing = uses_missing_relation(
					pr, *conn, i);
			}
			pr->current = NULL;
			if (pr->downs)
				cf_rollback_checker_after(pr->downs, engine,
							  pm);
			trace_unit_done(pr, *conn, pm);
			if (engine->consumed)
				r->db_consumed = true;
		}
		notify(pr, pm);
		if (cf_cancel_requested()) {
			r->interrupted = true;
			stop_reason = "interrupted";
		} else if (!stop_reason && PQstatus(*conn) != CONNECTION_OK) {
			if (!reconnect || reconnect(pr, conn) < 0)
				stop_reason =
					"the connection to the preflight database was lost";
		}
	}
}

/* ---- savepoint mode ---- */

static int
run_savepoint(preflight_run *pr, cf_error **err)
{
	PGconn *conn = pr->against_conn;
	cf_engine engine;
	cf_error *e = NULL;

	pr->against_conn = NULL;
	/* the connection against_major() kept may have been closed since
	 * (idle_session_timeout): then a new one */
	if (conn && cf_db_exec(conn, "BEGIN; SAVEPOINT cf_preflight", &e) < 0 &&
	    PQstatus(conn) == CONNECTION_OK) {
		PQfinish(conn);
		return cf_fail(err, e);
	}
	cf_error_free(e);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		if (cf_db_connect(pr->against_url, pr->conn_options, &conn,
				  err) < 0)
			return -1;
		if (cf_db_exec(conn, "BEGIN; SAVEPOINT cf_preflight", err) <
		    0) {
			PQfinish(conn);
			return -1;
		}
	}
	cf_cancel_register(conn);
	memset(&engine, 0, sizeof(engine));
	engine.unit = CF_UNIT_SAVEPOINT;
	engine.allow_autocommit = pr->opts->allow_non_transactional;
	engine.before_statement = before_statement;
	engine.statement_hooked = statement_hooked;
	engine.hook_arg = pr;
	pr->engine = &engine;
	trace_begin(pr, conn, &engine, true);
	replay(pr, &engine, &conn, NULL);
	pr->engine = NULL;
	/* Never commit: everything replayed is rolled back here. */
	if (PQstatus(conn) == CONNECTION_OK)
		PQclear(PQexec(conn, "ROLLBACK"));
	trace_end(pr, conn, true);
	cf_cancel_register(NULL);
	PQfinish(conn);
	pr->r->closing = cf_strdup(
		pr->r->db_consumed ?
			"Database consumed: non-transactional migrations were committed — re-provision it before the next preflight" :
			"Rolled back — preflight DB unchanged");
	return 0;
}

/* ---- clone mode ---- */

/*
 * Checks that cloning can work.  Returns 0 when it can, 1 with *reason when
 * it cannot (auto mode then falls back), -1 on connection errors.
 * Autovacuum workers do not count: CREATE DATABASE stops them itself.
 */
static int
clone_possible(preflight_run *pr, char **reason, cf_error **err)
{
	PGconn *conn;
	PGresult *res = NULL;
	const char *params[1];
	cf_error *e = NULL, *maint_err = NULL;
	int rc = 0;

	/*
	 * Everything else is asked from a maintenance database: connecting to
	 * the against database would itself be the "other session" that makes
	 * a concurrent preflight's CREATE DATABASE ... TEMPLATE fail.
	 */
	if (cf_db_connect_db(pr->against_url, "postgres", NULL, &pr->maint,
			     &e) < 0) {
		cf_error_free(e);
		e = NULL;
		if (cf_db_connect_db(pr->against_url, "template1", NULL,
				     &pr->maint, &maint_err) < 0)
			pr->maint = NULL;
	}
	/* first, what a killed run left: its CONNECTION LIMIT 0 or
	 * ALLOW_CONNECTIONS false on the against database would stop us */
	if (pr->maint)
		cf_clone_repair_stale(pr->maint, pr->against_url,
				      &pr->r->notes);
	pr->first_note = pr->r->notes.n;

	/* Reachable at all?  A connection error here is the user's to fix.
	 * against_major() knows when it could connect. */
	if (!pr->against_db &&
	    cf_db_connect(pr->against_url, NULL, &conn, err) < 0) {
		cf_error_free(maint_err);
		PQfinish(pr->maint);
		pr->maint = NULL;
		return -1;
	}
	if (!pr->against_db) {
		pr->against_db = cf_strdup(PQdb(conn));
		cf_clone_finish(conn);
	}
	if (!pr->maint) {
		*reason = cf_asprintf(
			"cannot connect to a maintenance database (postgres or template1): %s",
			maint_err->detail ? maint_err->detail :
					    maint_err->message);
		cf_error_free(maint_err);
		return 1;
	}
	params[0] = pr->against_db;
	/*
	 * A session that just disconnected (a previous preflight, the psql
	 * that loaded the schema) lingers for a moment in pg_stat_activity:
	 * look again for up to a second before giving up on cloning.
	 */
	for (int attempt = 0;; attempt++) {
		res = cf_db_query(
			pr->maint,
			"SELECT r.rolsuper OR r.rolcreatedb,"
			" (SELECT count(*) FROM pg_stat_activity a"
			"   WHERE a.datname = $1 AND a.pid <> pg_backend_pid()"
			"   AND a.backend_type <> 'autovacuum worker'),"
			" current_user"
			" FROM pg_roles r WHERE r.rolname = current_user",
			1, params, err);
		if (!res)
			return -1;
		if (attempt >= 10 || cf_cancel_requested() ||
		    PQntuples(res) != 1 || atoi(PQgetvalue(res, 0, 1)) == 0)
			break;
		PQclear(res);
		PQclear(PQexec(pr->maint, "SELECT pg_sleep(0.1)"));
	}
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
		*reason = cf_asprintf(
			"role '%s' may not create databases (needs CREATEDB)",
			PQntuples(res) == 1 ? PQgetvalue(res, 0, 2) : "?");
		rc = 1;
	} else if (atoi(PQgetvalue(res, 0, 1)) > 0) {
		*reason = cf_asprintf(
			"%s other session%s connected to '%s' (CREATE DATABASE ... TEMPLATE needs none)",
			PQgetvalue(res, 0, 1),
			atoi(PQgetvalue(res, 0, 1)) == 1 ? " is" : "s are",
			pr->against_db);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static int
clone_connect(preflight_run *pr, PGconn **conn)
{
	cf_error *e = NULL;

	if (*conn)
		PQfinish(*conn);
	*conn = NULL;
	if (cf_db_connect_db(pr->against_url, pr->clone_name, pr->conn_options,
			     conn, &e) < 0) {
		cf_error_free(e);
		return -1;
	}
	cf_cancel_register(*conn);
	return 0;
}

/* The static checks, once: in clone mode while the server makes the
 * clone (create_while_checking()), else before the replay. */
static void
static_once(preflight_run *pr)
{
	if (pr->checked)
		return;
	pr->checked = true;
	static_checks(pr);
}

/*
 * Runs CREATE DATABASE sql on the maintenance connection and, while the
 * server copies the template, the static checks on the client.  *err:
 * the CREATE's error, or NULL.
 */
static void
create_while_checking(preflight_run *pr, const char *sql, cf_error **err)
{
	PGresult *res;

	*err = NULL;
	if (!PQsendQuery(pr->maint, sql))
		*err = cf_db_error(pr->maint, NULL, CF_ERR_INTERNAL);
	static_once(pr);
	while (!*err && (res = PQgetResult(pr->maint)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			*err = cf_db_error(pr->maint, res, CF_ERR_INTERNAL);
		PQclear(res);
	}
	while (*err && (res = PQgetResult(pr->maint)) != NULL)
		PQclear(res);
	if (*err)
		(*err)->statement = cf_strdup(sql);
}

/* Makes the clone; 1 with *reason when the server refuses in a way auto
 * mode can fall back from. */
static int
clone_create(preflight_run *pr, char **reason)
{
	char *sql, *qclone, *qsrc;
	cf_error *e = NULL;
	double t0;
	int rc = 0;

	if (cf_cluster_snapshot_take(pr->maint, &pr->snap, &e) < 0) {
		*reason = cf_asprintf(
			"cannot read the server's roles and databases: %s",
			e->message);
		cf_error_free(e);
		return 1;
	}
	/* seeded: two hosts' preflights may share a pid on one server */
	srandom((unsigned)time(NULL) ^ (unsigned)getpid() ^
		(unsigned)(uintptr_t)pr);
	pr->clone_name = cf_asprintf("cf_preflight_%d_%08lx", (int)getpid(),
				     (unsigned long)random() & 0xffffffffUL);
	pr->scope = cf_cluster_scope_new();
	cf_cluster_scope_set_clone(pr->scope, pr->clone_name);
	if (cf_clone_marker_new(pr->maint, pr->against_db, pr->clone_name,
				&pr->marker, &e) < 0) {
		*reason = cf_asprintf("cannot read database '%s': %s",
				      pr->against_db, e->message);
		cf_error_free(e);
		free(pr->clone_name);
		pr->clone_name = NULL;
		return 1;
	}
	qclone = cf_quote_ident(pr->clone_name);
	qsrc = cf_quote_ident(pr->against_db);
	/* FILE_COPY (PostgreSQL 15+) copies the template's files instead of
	 * WAL-logging every block: 2.4 s -> 1.2 s for 2,000 tables, and no
	 * slower for a small schema (docs/performance.md). */
	sql = cf_asprintf("CREATE DATABASE %s TEMPLATE %s%s", qclone, qsrc,
			  PQserverVersion(pr->maint) >= 150000 ?
				  " STRATEGY FILE_COPY" :
				  "");
	cf_cancel_register(pr->maint);
	t0 = cf_now_ms();
	if (pr->progress && pr->progress->clone_begin)
		pr->progress->clone_begin(pr->progress->arg, pr->against_db);
	/* 55006: someone touched the template just now (another preflight's
	 * check, a psql that is going away): try again for a few seconds. */
	create_while_checking(pr, sql, &e);
	for (int attempt = 0;
	     e && attempt < 20 && strcmp(e->sqlstate, "55006") == 0 &&
	     !cf_cancel_requested();
	     attempt++) {
		cf_error_free(e);
		e = NULL;
		PQclear(PQexec(pr->maint, "SELECT pg_sleep(0.2)"));
		cf_db_exec(pr->maint, sql, &e);
	}
	if (pr->progress && pr->progress->clone_end)
		pr->progress->clone_end(pr->progress->arg, pr->against_db, !e,
					cf_now_ms() - t0);
	if (!e && cf_clone_marker_save(pr->maint, pr->marker, false, pr->scope,
				       &e) < 0) {
		/* the clone exists: clone_cleanup() drops it */
		*reason = cf_asprintf("cannot mark the clone '%s': %s",
				      pr->clone_name, e->message);
		cf_error_free(e);
		e = NULL;
		rc = 1;
	} else if (e) {
		*reason = cf_asprintf(
			"CREATE DATABASE ... TEMPLATE %s failed: %s",
			pr->against_db, e->message);
		cf_error_free(e);
		free(pr->clone_name);
		pr->clone_name = NULL;
		rc = 1;
	}
	cf_cancel_register(NULL);
	free(sql);
	free(qclone);
	free(qsrc);
	return rc;
}

/* Is a note about something the preflight left on the server? */
static bool
is_leftover(const cf_error *e)
{
	static const char *const codes[] = {
		"cluster-not-restored",
		"clone-not-dropped",
		"server-file-may-be-written",
		NULL,
	};

	if (e->severity != CF_SEV_WARNING || !e->code)
		return false;
	for (size_t i = 0; codes[i]; i++)
		if (strcmp(e->code, codes[i]) == 0)
			return true;
	return false;
}

/* Is a note about something the preflight could not see? */
static bool
is_unseen(const cf_error *e)
{
	return e->severity == CF_SEV_WARNING && e->code &&
	       (strcmp(e->code, "reaches-other-databases") == 0 ||
		strcmp(e->code, "cluster-partly-checked") == 0);
}

/*
 * The closing line of a clone-mode run: "unchanged" only when the clone is
 * verified gone and no note says something stayed or went unseen.
 */
static char *
clone_closing(preflight_run *pr, bool clone_left)
{
	cf_preflight_result *r = pr->r;
	size_t left = 0, unseen = 0;
	char *head, *line;

	for (size_t i = pr->first_note; i < r->notes.n; i++) {
		left += is_leftover(r->notes.items[i]);
		unseen += is_unseen(r->notes.items[i]);
	}
	r->leftovers = left;
	if (clone_left) {
		char *q = cf_quote_ident(pr->clone_name);

		head = cf_asprintf(
			"clone %s NOT dropped (DROP DATABASE %s WITH (FORCE))",
			pr->clone_name, q);
		free(q);
	} else {
		head = cf_strdup("clone dropped");
	}
	if (left)
		line = cf_asprintf(
			"%s — %s NOT unchanged: %zu change%s left on the server (see the warnings above)",
			head, pr->against_db, left, left == 1 ? "" : "s");
	else if (unseen)
		line = cf_asprintf(
			"%s — %s unchanged as far as the preflight can see (see the warnings above)",
			head, pr->against_db);
	else
		line = cf_asprintf("%s — %s unchanged", head, pr->against_db);
	free(head);
	return line;
}

static void label_causes(cf_preflight_result *r);

/* After a replay: lint if the replay gave it no wait to run in, which
 * failures are root causes, the deploy risk, and lint on what the replay
 * database said.  Needs no database. */
static void
analyse(preflight_run *pr)
{
	if (pr->analysed)
		return;
	pr->analysed = true;
	lint_deferred(pr); /* if no wait of the replay ran it */
	label_causes(pr->r);
	cf_risk_assess(pr->r, pr->risk_changes);
	if (!pr->opts->no_lint)
		lint_replayed(pr);
}

/*
 * Runs DROP DATABASE sql on the maintenance connection and, while the
 * server drops (a checkpoint, the files), the replay's analysis on the
 * client.  *err: the DROP's error, or NULL.
 */
static void
drop_while_analysing(preflight_run *pr, const char *sql, cf_error **err)
{
	PGresult *res;

	*err = NULL;
	if (!PQsendQuery(pr->maint, sql)) {
		*err = cf_db_error(pr->maint, NULL, CF_ERR_INTERNAL);
		analyse(pr);
		return;
	}
	analyse(pr);
	while ((res = PQgetResult(pr->maint)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !*err)
			*err = cf_db_error(pr->maint, res, CF_ERR_INTERNAL);
		PQclear(res);
	}
}

/*
 * Empties and drops the clone, checks in pg_database that it is gone, then
 * undoes the replay's cluster-wide changes.  After a replay (replayed),
 * its analysis runs while the server drops the clone.  Returns whether
 * the clone is (or may be) still there.
 */
static bool
clone_cleanup(preflight_run *pr, bool replayed)
{
	cf_error *e = NULL, *drop_err = NULL;
	bool left = false;

	if (!pr->maint)
		return false;
	if (pr->clone_name) {
		char *q = cf_quote_ident(pr->clone_name);
		char *sql = cf_asprintf(
			"DROP DATABASE IF EXISTS %s WITH (FORCE)", q);

		/* subscriptions and logical slots make DROP fail (55006) */
		cf_clone_clear(pr->maint, pr->against_url, pr->clone_name,
			       &pr->r->notes);
		if (replayed)
			drop_while_analysing(pr, sql, &drop_err);
		else
			cf_db_exec(pr->maint, sql, &drop_err);
		if (cf_clone_exists(pr->maint, pr->clone_name, &e) != 0) {
			cf_error *w = cf_error_new(
				CF_ERR_SQL, "the clone '%s' was not dropped",
				pr->clone_name);

			w->severity = CF_SEV_WARNING;
			cf_error_set_code(w, "clone-not-dropped");
			cf_error_set_detail(w, "%s",
					    e ? e->message :
					    drop_err ?
						drop_err->message :
						"it is still in pg_database");
			cf_error_set_hint(
				w,
				"drop it by hand: DROP DATABASE %s WITH (FORCE)",
				q);
			cf_error_list_add(&pr->r->notes, w);
			cf_error_free(e);
			e = NULL;
			left = true;
		}
		cf_error_free(drop_err);
		free(sql);
		free(q);
	}
	if (pr->snap &&
	    cf_cluster_snapshot_restore(pr->maint, pr->snap, pr->scope,
					&pr->r->notes, &e) < 0) {
		e->severity = CF_SEV_WARNING;
		cf_error_set_code(e, "cluster-not-restored");
		cf_error_list_add(&pr->r->notes, e);
	}
	/* a clone that stays must not make the next run restore again */
	if (left)
		cf_clone_marker_done(pr->maint, pr->marker);
	cf_clone_marker_free(pr->marker);
	pr->marker = NULL;
	cf_cluster_snapshot_free(pr->snap);
	pr->snap = NULL;
	cf_cluster_scope_free(pr->scope);
	pr->scope = NULL;
	PQfinish(pr->maint);
	pr->maint = NULL;
	return left;
}

static int
run_clone(preflight_run *pr)
{
	PGconn *conn = NULL;
	cf_engine engine;

	if (clone_connect(pr, &conn) < 0) {
		cf_error *e = cf_error_new(CF_ERR_CONNECT,
					   "cannot connect to the clone '%s'",
					   pr->clone_name);

		cf_error_list_add(&pr->r->notes, e);
		return -1;
	}
	memset(&engine, 0, sizeof(engine));
	engine.unit = CF_UNIT_TRANSACTION;
	engine.allow_autocommit = true; /* the clone is disposable */
	engine.before_statement = before_statement;
	engine.statement_hooked = statement_hooked;
	engine.statement_ran = statement_ran;
	engine.before_commit = before_commit;
	engine.hook_arg = pr;
	pr->engine = &engine;
	trace_begin(pr, conn, &engine, false);
	if (pr->opts->check_down) {
		cf_error *e = NULL;

		if (!(pr->downs = cf_rollback_checker_begin(conn, &e)))
			cf_error_list_add(&pr->r->notes, e);
	}
	replay(pr, &engine, &conn, clone_connect);
	pr->engine = NULL;
	guard_trees_free(pr);
	cf_rollback_checker_free(pr->downs);
	pr->downs = NULL;
	/* a plain table: written to WAL like production's */
	trace_end(pr, conn, false);
	cf_cancel_register(NULL);
	cf_clone_finish(conn);	    /* gone before DROP DATABASE */
	pr->r->db_consumed = false; /* the clone is, the against DB is not */
	return 0;
}

/* ---- orchestration ---- */

static void
label_causes(cf_preflight_result *r)
{
	cf_failure_view *v = cf_calloc(r->n ? r->n : 1,
				       sizeof(cf_failure_view));
	cf_cause_label *labels = cf_calloc(r->n ? r->n : 1,
					   sizeof(cf_cause_label));
	size_t upto = 0; /* analysis reads a failure and what ran before it */

	for (size_t i = 0; i < r->n; i++)
		if (r->migrations[i].outcome.kind == CF_OUTCOME_FAILED)
			upto = i + 1;
	for (size_t i = 0; i < r->n; i++) {
		/* the models parsing left for analysis */
		if (i < upto)
			cf_script_build_models(r->migrations[i].migration->up);
		v[i].script = r->migrations[i].migration->up;
		v[i].kind = r->migrations[i].outcome.kind;
		v[i].error = r->migrations[i].outcome.error;
		v[i].uses_missing = r->migrations[i].uses_missing;
		labels[i].caused_by = -1;
	}
	cf_analyze_failures(v, r->n, r->mode == CF_PREFLIGHT_SAVEPOINT, labels);
	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];

		pm->cause = labels[i].cause;
		pm->caused_by = labels[i].caused_by;
		pm->cause_likely = labels[i].likely;
		pm->artifact = labels[i].artifact;
		pm->artifact_reason = labels[i].artifact_reason;
		/* SET TRANSACTION ISOLATION LEVEL first in a migration works
		 * in a deploy (its own transaction), never in a savepoint */
		if (r->mode == CF_PREFLIGHT_SAVEPOINT && !pm->artifact &&
		    pm->outcome.kind == CF_OUTCOME_FAILED &&
		    pm->outcome.error &&
		    strcmp(pm->outcome.error->sqlstate, "25001") == 0 &&
		    pm->outcome.error->statement_index == 1 &&
		    pm->cause == CF_CAUSE_ROOT) {
			pm->artifact = true;
			pm->artifact_reason = cf_strdup(
				"savepoint mode replays every migration inside one transaction, where SET TRANSACTION can no longer come first; a real deploy gives each migration its own transaction (SQLSTATE 25001)");
		}
	}
	free(v);
	free(labels);
}

static void
count(cf_preflight_result *r)
{
	r->total = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];

		switch (pm->outcome.kind) {
		case CF_OUTCOME_OK:
			r->passed++;
			break;
		case CF_OUTCOME_SKIPPED:
			r->skipped++;
			break;
		case CF_OUTCOME_FAILED:
			r->failed++;
			if (pm->artifact)
				r->artifacts++;
			if (pm->cause == CF_CAUSE_CONSEQUENCE)
				r->consequences++;
			else
				r->root_causes++;
			break;
		}
	}
	r->all_passed = r->failed == 0 && !r->interrupted;
}

/* Marks every migration skipped when the run stopped before replaying. */
static void
interrupted_before_replay(preflight_run *pr)
{
	cf_preflight_result *r = pr->r;

	for (size_t i = 0; i < r->n; i++) {
		r->migrations[i].replayed = true;
		skip(&r->migrations[i], "interrupted");
	}
	r->interrupted = true;
	r->closing = cf_asprintf("interrupted before the replay — %s unchanged",
				 pr->against_db ? pr->against_db :
						  "the preflight DB");
}

static int
run_against(preflight_run *pr, cf_error **err)
{
	cf_preflight_result *r = pr->r;
	char *reason = NULL;
	int rc;

	r->against_run = true;
	r->against_url = cf_redact_url(pr->against_url);

	if (pr->opts->mode != CF_PREFLIGHT_SAVEPOINT) {
		rc = clone_possible(pr, &reason, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			rc = clone_create(pr, &reason);
		static_once(pr); /* no CREATE DATABASE to check during */
		if (rc == 0) {
			r->mode = CF_PREFLIGHT_CLONE;
			bool left;

			rc = run_clone(pr);
			left = clone_cleanup(pr, true);
			r->closing = clone_closing(pr, left);
			return 0;
		}
		clone_cleanup(pr, false);
		if (cf_cancel_requested()) {
			/* SIGINT while cloning: stop, do not fall back */
			free(reason);
			r->mode = CF_PREFLIGHT_CLONE;
			interrupted_before_replay(pr);
			return 0;
		}
		if (pr->opts->mode == CF_PREFLIGHT_CLONE) {
			cf_error *e = cf_error_new(
				CF_ERR_USAGE, "clone mode is not possible: %s",
				reason);

			cf_error_set_hint(
				e,
				"grant CREATEDB, disconnect other sessions, or use --mode savepoint");
			free(reason);
			return cf_fail(err, e);
		}
		r->fallback_reason = reason;
	}
	static_once(pr);
	r->mode = CF_PREFLIGHT_SAVEPOINT;
	return run_savepoint(pr, err);
}

int
cf_session_preflight(cf_session *s, const char *against_url,
		     const cf_preflight_options *opts,
		     const cf_progress *progress, cf_preflight_result **out,
		     cf_error **err)
{
	preflight_run pr;
	cf_applied_list applied;
	int rc = 0;

	*out = NULL;
	memset(&pr, 0, sizeof(pr));
	pr.s = s;
	pr.opts = opts;
	pr.progress = progress;
	pr.against_url = against_url;
	pr.r = cf_new(cf_preflight_result);
	pr.r->mode = opts->mode;

	/*
	 * find_pending() reads and checksums the applied files it compares
	 * with the tracking table; only the pending files are parsed, with
	 * the grammar of the server they go to.
	 */
	pr.target_major = cf_session_target_major(s);
	if (find_pending(&pr, &applied, err) < 0) {
		cf_applied_list_release(&applied);
		cf_preflight_result_free(pr.r);
		return -1;
	}
	cf_applied_list_release(&applied);
	if (against_url)
		against_major(&pr);
	if (pr.r->n) {
		cf_migration **ms = cf_calloc(pr.r->n, sizeof(*ms));

		for (size_t i = 0; i < pr.r->n; i++)
			ms[i] = (cf_migration *)pr.r->migrations[i].migration;
		if (!against_url && !opts->no_lint)
			parse_and_lint(&pr, ms);
		else
			cf_migration_parse_each(s->set, ms, pr.r->n, true, true,
						pr.target_major);
		free(ms);
	}
	if (!against_url)
		static_once(&pr); /* else run_against(): clone mode checks
				    * while the server makes the clone */
	if (against_url) {
		rc = run_against(&pr, err);
		lint_deferred(&pr);
		cf_risk_tracer_free(pr.tracer);
		if (rc == 0)
			analyse(&pr); /* clone mode: done while dropping */
	}
	count(pr.r);
	PQfinish(pr.against_conn);
	free(pr.first_err);
	free(pr.provided.slots);
	free(pr.conn_options);
	free(pr.clone_name);
	free(pr.against_db);
	json_decref(pr.tree);
	cf_risk_changes_free(pr.risk_changes);
	cf_lint_result_free(pr.prelinted);
	free(pr.facts);
	if (rc < 0) {
		cf_preflight_result_free(pr.r);
		return -1;
	}
	*out = pr.r;
	return 0;
}

void
cf_preflight_result_free(cf_preflight_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];

		strv_free(pm->non_transactional);
		cf_error_free(pm->outcome.error);
		free(pm->outcome.skipped_reason);
		free(pm->artifact_reason);
		cf_down_check_release(&pm->down);
		for (size_t k = 0; k < pm->n_dependents; k++)
			cf_statement_dependents_release(&pm->dependents[k]);
		free(pm->dependents);
		for (size_t s = 0; s < pm->n_statements; s++)
			cf_risk_statement_release(&pm->statements[s]);
		free(pm->statements);
	}
	cf_risk_result_release(r);
	free(r->migrations);
	cf_error_list_release(&r->problems);
	for (size_t i = 0; i < r->n_duplicates; i++) {
		free(r->duplicates[i].version);
		strv_free(r->duplicates[i].files);
	}
	free(r->duplicates);
	strv_free(r->checksum_mismatches);
	free(r->against_url);
	free(r->fallback_reason);
	free(r->closing);
	cf_error_list_release(&r->notes);
	free(r);
}
