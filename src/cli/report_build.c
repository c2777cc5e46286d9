/*
 * report_build.c — turns a command's library result into a struct report:
 * one builder per command.  Only these know the result structs; the
 * renderers know only the report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static char *
dup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		cli_out_of_memory();
	return d;
}

static enum report_level
level_of(const cf_error *e)
{
	return e->severity == CF_SEV_WARNING ? REPORT_WARNING :
	       e->severity == CF_SEV_NOTICE  ? REPORT_NOTE :
					       REPORT_ERROR;
}

/* A finding with the error's text and place; rule from its code. */
static struct report_finding *
add_error(struct report *r, const cf_error *e, const char *rule)
{
	struct report_finding *f = report_add_finding(r);

	f->level = level_of(e);
	f->rule = dup(rule ? rule : e->code ? e->code : "error");
	f->message = dup(e->message);
	f->detail = dup(e->detail);
	f->hint = dup(e->hint);
	f->context = dup(e->context);
	f->sqlstate = e->sqlstate[0] ? dup(e->sqlstate) : NULL;
	f->file = dup(e->file);
	f->line = e->line;
	f->column = e->column;
	return f;
}

static char *
case_name(const cf_migration *m)
{
	return cli_asprintf("%s_%s", m->version, m->name);
}

static bool
same_path(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * Paths to numbers (a migration's, a case's): an open-addressing hash, so
 * that thousands of findings find their case without a scan over
 * thousands of cases.  Paths are borrowed; it never grows, so it is made
 * for at most n paths.
 */
struct path_index {
	struct path_slot {
		const char *path; /* NULL: empty */
		long value;
	} * slots;
	size_t mask;
};

static void
path_index_init(struct path_index *ix, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 2)
		cap *= 2;
	ix->slots = cli_realloc(NULL, cap, sizeof(*ix->slots));
	memset(ix->slots, 0, cap * sizeof(*ix->slots));
	ix->mask = cap - 1;
}

/* The slot of path: its entry, or the empty slot where it would go. */
static struct path_slot *
path_index_slot(const struct path_index *ix, const char *path)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	size_t i;

	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (i = (size_t)h & ix->mask; ix->slots[i].path;
	     i = (i + 1) & ix->mask)
		if (strcmp(ix->slots[i].path, path) == 0)
			break;
	return &ix->slots[i];
}

/* Index of the first pending migration file belongs to, or -1. */
static long
case_of_file(const struct path_index *ix, const char *file)
{
	const struct path_slot *s = file ? path_index_slot(ix, file) : NULL;

	return s && s->path ? s->value : -1;
}

/* Each pending migration's files; a path keeps its first migration. */
static void
migration_files(struct path_index *ix, const cf_preflight_result *pr)
{
	path_index_init(ix, 3 * pr->n);
	for (size_t i = 0; i < pr->n; i++) {
		const cf_migration *m = pr->migrations[i].migration;
		const char *paths[] = {m->up_path, m->down_path, m->py_path};

		for (size_t k = 0; k < 3; k++) {
			struct path_slot *s;

			if (!paths[k])
				continue;
			s = path_index_slot(ix, paths[k]);
			if (!s->path)
				*s = (struct path_slot){paths[k], (long)i};
		}
	}
}

/* Whether a static finding already says what a replay failure says (a
 * file with a syntax error fails unsent with the same error). */
static bool
already_reported(const struct report *r, const cf_error *e)
{
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct report_finding *f = &r->findings[i];

		if (f->line == e->line && f->column == e->column &&
		    same_path(f->file, e->file) &&
		    same_path(f->message, e->message))
			return true;
	}
	return false;
}

/* The first migration of a chain of consequences: the root. */
static long
root_of(const cf_preflight_result *pr, long i)
{
	while (i >= 0 && pr->migrations[i].cause == CF_CAUSE_CONSEQUENCE)
		i = pr->migrations[i].caused_by;
	return i;
}

static void
add_replay_failure(struct report *r, const cf_preflight_result *pr, size_t i,
		   long *finding_of)
{
	const cf_preflight_migration *pm = &pr->migrations[i];
	const cf_migration *m = pm->migration;
	const cf_error *e = pm->outcome.error;
	bool consequence = pm->cause == CF_CAUSE_CONSEQUENCE;
	long root = consequence ? root_of(pr, pm->caused_by) : -1;
	struct report_finding *f;
	const char *rule = consequence	  ? "consequence" :
			   pm->artifact	  ? "savepoint-artifact" :
			   e->code	  ? e->code :
			   e->sqlstate[0] ? "sql-error" :
					    "replay-failure";

	if (!consequence && already_reported(r, e)) {
		for (size_t k = r->n_findings; k-- > 0;)
			if (r->findings[k].testcase == (long)i &&
			    r->findings[k].level == REPORT_ERROR) {
				finding_of[i] = (long)k;
				r->findings[k].root_cause = true;
			}
		return;
	}
	f = add_error(r, e, rule);
	f->level = REPORT_ERROR;
	f->testcase = (long)i;
	f->artifact = pm->artifact;
	if (!f->file) {
		f->file = dup(m->up_path);
		f->line = f->column = 0;
	}
	if (consequence && root >= 0) {
		f->root = finding_of[root];
		f->title = cli_asprintf(
			"%s_%s: consequence of %s", m->version, m->name,
			pr->migrations[root].migration->version);
	} else if (pm->artifact) {
		f->title = cli_asprintf("%s_%s: artifact of savepoint mode",
					m->version, m->name);
		if (pm->artifact_reason && !f->detail)
			f->detail = dup(pm->artifact_reason);
	} else {
		f->title = cli_asprintf("%s_%s: root cause", m->version,
					m->name);
		f->root_cause = true;
	}
	finding_of[i] = (long)(f - r->findings);
}

/* Rule ids of the --check-down verdicts that are problems, else NULL. */
static const char *
down_rule(cf_down_status st)
{
	switch (st) {
	case CF_DOWN_FAILS:
		return "down-fails";
	case CF_DOWN_INCOMPLETE:
		return "down-incomplete";
	case CF_DOWN_MISSING:
		return "no-down";
	case CF_DOWN_NOT_REAPPLIABLE:
		return "not-reappliable";
	default:
		return NULL;
	}
}

/*
 * A --check-down verdict other than "reversible" as a finding of case i:
 * an error that fails the case when down_strict (--strict or
 * preflight.check_down_strict, as the exit code), else a warning; a check
 * that could not run is a note.
 */
static void
add_down_verdict(struct report *r, const cf_preflight_migration *pm, size_t i,
		 bool down_strict)
{
	const cf_down_check *d = &pm->down;
	const cf_migration *m = pm->migration;
	const char *rule = down_rule(d->status);
	struct report_finding *f;
	char *diff = NULL;

	if (!rule && !(d->status == CF_DOWN_NOT_CHECKED && d->error))
		return;
	f = d->error ?
		    add_error(r, d->error, rule ? rule : "down-not-checked") :
		    report_add_finding(r);
	if (!d->error)
		f->rule = dup(rule);
	f->level = !rule       ? REPORT_NOTE :
		   down_strict ? REPORT_ERROR :
				 REPORT_WARNING;
	free(f->message);
	if (d->error)
		f->message = cli_asprintf("%s: %s",
					  cf_down_status_name(d->status),
					  d->error->message);
	else if (d->status == CF_DOWN_MISSING)
		f->message = cli_asprintf(
			"no down: migration %s (%s) has no .down.sql to roll it back with",
			m->version, m->name);
	else
		f->message = cli_asprintf("%s: rolling back migration %s (%s)",
					  cf_down_status_name(d->status),
					  m->version, m->name);
	for (size_t k = 0; d->diff && k < d->diff->n; k++) {
		char *text = cf_schema_change_text(&d->diff->items[k]);
		char *joined = cli_asprintf("%s%s%s", diff ? diff : "",
					    diff ? "; " : "", text);

		free(text);
		free(diff);
		diff = joined;
	}
	if (diff) {
		/* the schema difference says more than the error's detail */
		char *detail = cli_asprintf(
			"after the down the schema differs: %s%s%s", diff,
			f->detail ? "\n" : "", f->detail ? f->detail : "");

		free(f->detail);
		f->detail = detail;
		free(diff);
	}
	if (!f->hint)
		f->hint = dup(
			d->status == CF_DOWN_MISSING ?
				"add a .down.sql that undoes the migration" :
			d->status == CF_DOWN_INCOMPLETE ?
				"make the .down.sql undo each change listed" :
				"fix the .down.sql so that it undoes the up and the up can run again");
	f->testcase = (long)i;
	if (!f->file) {
		const char *file = d->status == CF_DOWN_INCOMPLETE &&
						   m->down_path ?
					   m->down_path :
					   m->up_path;

		f->file = dup(file);
		f->line = f->column = 0;
	}
	f->title = cli_asprintf("%s_%s: %s", m->version, m->name,
				rule ? cf_down_status_name(d->status) :
				       "rollback not checked");
	if (f->level == REPORT_ERROR)
		r->cases[i].state = REPORT_CASE_FAILED;
}

/* --trace-locks: statements from lock_risky up, as warnings at their
 * line (docs/risk.md); they never fail the run by themselves. */
static void
add_risks(struct report *r, const cf_preflight_result *pr)
{
	for (size_t i = 0; i < pr->n; i++) {
		const cf_preflight_migration *pm = &pr->migrations[i];

		for (size_t s = 0; s < pm->n_statements; s++) {
			const cf_risk_statement *st = &pm->statements[s];
			struct report_finding *f;

			if (st->tier < CF_TIER_LOCK_RISKY)
				continue;
			f = report_add_finding(r);
			f->level = REPORT_WARNING;
			f->rule = cli_asprintf("deploy-risk-%s",
					       cf_tier_name(st->tier));
			f->message = cli_asprintf(
				"%s: %s", cf_tier_name(st->tier), st->reason);
			f->file = dup(pm->migration->up_path);
			f->line = st->line;
			f->testcase = (long)i;
			f->title = cli_asprintf(
				"%s_%s: %s", pm->migration->version,
				pm->migration->name, cf_tier_name(st->tier));
		}
	}
}

static char *
case_status(const cf_preflight_result *pr, const cf_preflight_migration *pm)
{
	const cf_outcome *o = &pm->outcome;

	if (!pm->replayed)
		return dup("checked");
	if (o->kind == CF_OUTCOME_OK)
		return dup(o->autocommit ? "passed (autocommit)" : "passed");
	if (o->kind == CF_OUTCOME_SKIPPED)
		return cli_asprintf("skipped: %s", o->skipped_reason);
	if (pm->cause == CF_CAUSE_CONSEQUENCE)
		return cli_asprintf("consequence of %s",
				    pr->migrations[root_of(pr, pm->caused_by)]
					    .migration->version);
	return dup(pm->artifact ? "artifact of savepoint mode" : "root cause");
}

static char *
preflight_headline(const cf_preflight_result *pr, size_t errors)
{
	if (pr->interrupted)
		return dup("interrupted: the remaining migrations were not "
			   "replayed");
	if (pr->against_run && pr->failed)
		return cli_asprintf(
			"%zu failed: %zu root cause%s, %zu consequence%s; %zu "
			"passed, %zu skipped",
			pr->failed, pr->root_causes,
			pr->root_causes == 1 ? "" : "s", pr->consequences,
			pr->consequences == 1 ? "" : "s", pr->passed,
			pr->skipped);
	if (errors)
		return cli_asprintf("static checks: %zu error%s, %zu warning%s",
				    errors, errors == 1 ? "" : "s",
				    pr->static_warnings,
				    pr->static_warnings == 1 ? "" : "s");
	if (pr->against_run)
		return cli_asprintf(
			"all %zu migration%s passed (%zu warning%s)",
			pr->passed, pr->passed == 1 ? "" : "s",
			pr->static_warnings,
			pr->static_warnings == 1 ? "" : "s");
	return cli_asprintf("%zu pending migration%s checked: 0 errors, %zu "
			    "warning%s",
			    pr->n, pr->n == 1 ? "" : "s", pr->static_warnings,
			    pr->static_warnings == 1 ? "" : "s");
}

struct report *
report_from_preflight(const cf_preflight_result *pr, bool strict,
		      bool down_strict)
{
	struct report *r = report_new("preflight");
	struct path_index files;
	long *finding_of = calloc(pr->n + 1, sizeof(long));
	size_t errors = cf_error_list_count(&pr->problems, CF_SEV_ERROR);
	size_t down_problems = 0;
	bool loose = false;

	if (!finding_of)
		cli_out_of_memory();
	for (size_t i = 0; i < pr->n; i++) {
		const cf_preflight_migration *pm = &pr->migrations[i];
		const cf_migration *m = pm->migration;
		struct report_case *c = report_add_case(r);

		finding_of[i] = -1;
		c->name = case_name(m);
		c->file = dup(m->up_path ? m->up_path : m->py_path);
		c->status = case_status(pr, pm);
		if (pm->down.status != CF_DOWN_NOT_CHECKED) {
			char *st = cli_asprintf(
				"%s; %s", c->status,
				cf_down_status_name(pm->down.status));

			free(c->status);
			c->status = st;
		}
		if (pm->replayed) {
			c->time_ms = pm->outcome.elapsed_ms;
			c->state = pm->outcome.kind == CF_OUTCOME_FAILED ?
					   REPORT_CASE_FAILED :
				   pm->outcome.kind == CF_OUTCOME_SKIPPED ?
					   REPORT_CASE_SKIPPED :
					   REPORT_CASE_PASSED;
			if (c->state == REPORT_CASE_SKIPPED)
				c->skipped = dup(pm->outcome.skipped_reason);
		}
	}
	migration_files(&files, pr);
	for (size_t i = 0; i < pr->problems.n; i++) {
		const cf_error *e = pr->problems.items[i];
		struct report_finding *f = add_error(r, e, NULL);

		f->testcase = case_of_file(&files, e->file);
		f->title = f->testcase >= 0 ?
				   cli_asprintf("%s: %s",
						r->cases[f->testcase].name,
						f->rule) :
				   dup(f->rule);
		if (f->testcase < 0 && f->level != REPORT_NOTE)
			loose = true;
		if (f->testcase >= 0 && f->level == REPORT_ERROR) {
			struct report_case *c = &r->cases[f->testcase];

			c->state = REPORT_CASE_FAILED;
			/* a replay failure says more than "static error" */
			if (pr->migrations[f->testcase].outcome.kind !=
			    CF_OUTCOME_FAILED) {
				free(c->status);
				c->status = dup("static error");
			}
		}
	}
	for (size_t i = 0; pr->against_run && i < pr->n; i++)
		if (pr->migrations[i].replayed &&
		    pr->migrations[i].outcome.kind == CF_OUTCOME_FAILED &&
		    pr->migrations[i].outcome.error)
			add_replay_failure(r, pr, i, finding_of);
	for (size_t i = 0; i < pr->n; i++) {
		add_down_verdict(r, &pr->migrations[i], i, down_strict);
		down_problems += down_rule(pr->migrations[i].down.status) !=
				 NULL;
	}
	add_risks(r, pr);
	if (pr->fallback_reason) {
		struct report_finding *f = report_add_finding(r);

		f->level = REPORT_NOTE;
		f->rule = dup("savepoint-fallback");
		f->message = cli_asprintf("clone mode not possible: %s; using "
					  "savepoint mode",
					  pr->fallback_reason);
	}
	for (size_t i = 0; i < pr->notes.n; i++)
		add_error(r, pr->notes.items[i], NULL)->level = REPORT_NOTE;
	if (loose) {
		/* set-wide problems (duplicates, stray names) get a case of
		 * their own so that JUnit shows them */
		struct report_case *c = report_add_case(r);

		c->name = dup("static checks");
		c->status = dup(errors ? "failed" : "passed");
		for (size_t i = 0; i < r->n_findings; i++)
			if (r->findings[i].testcase < 0 &&
			    r->findings[i].level != REPORT_NOTE)
				r->findings[i].testcase = (long)(r->n_cases -
								 1);
		/* only errors fail it */
		c->state = REPORT_CASE_PASSED;
		for (size_t i = 0; i < r->n_findings; i++)
			if (r->findings[i].testcase == (long)(r->n_cases - 1) &&
			    r->findings[i].level == REPORT_ERROR)
				c->state = REPORT_CASE_FAILED;
	}
	r->headline = preflight_headline(pr, errors);
	if (down_problems) {
		char *h = cli_asprintf("%s; --check-down: %zu not reversible",
				       r->headline, down_problems);

		free(r->headline);
		r->headline = h;
	}
	r->ok = !pr->interrupted && pr->static_ok &&
		(!pr->against_run || pr->all_passed) &&
		!(strict && pr->static_warnings) &&
		!(down_strict && down_problems);
	free(finding_of);
	free(files.slots);
	return r;
}

static const char *
status_words(const cf_status_entry *en)
{
	switch (en->state) {
	case CF_STATE_APPLIED:
		return en->checksum_mismatch ? "applied (file changed)" :
					       "applied";
	case CF_STATE_APPLIED_MISSING_FILE:
		return "applied (file missing)";
	case CF_STATE_UNKNOWN:
		return "status unknown";
	default:
		return en->out_of_order ? "pending (out of order)" : "pending";
	}
}

struct report *
report_from_status(const cf_status *st, const cf_migration_set *set)
{
	struct report *r = report_new("status");

	for (size_t i = 0; i < st->n; i++) {
		const cf_status_entry *en = &st->entries[i];
		long idx = set ? cf_migration_set_find(set, en->version) : -1;
		const char *file = idx >= 0 ? set->items[idx].up_path : NULL;
		struct report_case *c = report_add_case(r);
		struct report_finding *f = NULL;

		c->name = cli_asprintf("%s_%s", en->version, en->name);
		c->file = dup(file);
		c->status = dup(status_words(en));
		c->time_ms = en->execution_time_ms > 0 ? en->execution_time_ms :
							 0;
		if (en->state == CF_STATE_UNKNOWN) {
			c->state = REPORT_CASE_SKIPPED;
			c->skipped = dup("no database configured");
			continue;
		}
		if (en->state == CF_STATE_PENDING) {
			c->state = REPORT_CASE_FAILED;
			f = report_add_finding(r);
			f->level = en->out_of_order ? REPORT_WARNING :
						      REPORT_NOTE;
			f->rule = dup(en->out_of_order ? "out-of-order" :
							 "pending");
			f->message =
				en->out_of_order ?
					cli_asprintf(
						"migration %s is pending but older than the newest applied one",
						en->version) :
					cli_asprintf("migration %s is pending",
						     en->version);
			if (en->out_of_order)
				f->hint = dup(
					"apply it with 'confiture migrate up --out-of-order' if it is independent of the newer ones");
		} else if (en->checksum_mismatch) {
			c->state = REPORT_CASE_FAILED;
			f = report_add_finding(r);
			f->level = REPORT_ERROR;
			f->rule = dup("checksum-mismatch");
			f->message = cli_asprintf(
				"migration %s was edited after it was applied",
				en->version);
			f->hint = dup(
				"restore the file as it was applied and put the change in a new migration");
		} else if (en->state == CF_STATE_APPLIED_MISSING_FILE) {
			f = report_add_finding(r);
			f->level = REPORT_WARNING;
			f->rule = dup("missing-file");
			f->message = cli_asprintf(
				"migration %s is applied but its file is missing",
				en->version);
		}
		if (f) {
			f->testcase = (long)(r->n_cases - 1);
			f->file = dup(file);
			f->title = cli_asprintf("%s_%s: %s", en->version,
						en->name, status_words(en));
		}
	}
	if (!st->database_known)
		r->headline = cli_asprintf(
			"%zu migration%s, status unknown: no database configured",
			st->n, st->n == 1 ? "" : "s");
	else
		r->headline = cli_asprintf(
			"%zu migration%s: %zu applied, %zu pending", st->n,
			st->n == 1 ? "" : "s", st->applied, st->pending);
	r->ok = st->pending == 0;
	return r;
}

/* The report case of file, added the first time it is asked for. */
static long
lint_case(struct report *r, struct path_index *cases, const char *file)
{
	const char *base = strrchr(file, '/');
	struct path_slot *s = path_index_slot(cases, file);
	struct report_case *c;

	if (s->path)
		return s->value;
	c = report_add_case(r);
	c->name = dup(base ? base + 1 : file);
	c->file = dup(file);
	c->status = dup("clean");
	*s = (struct path_slot){c->file, (long)(r->n_cases - 1)};
	return s->value;
}

struct report *
report_from_lint(const cf_lint_result *lr, const char *const *files,
		 size_t n_files, bool strict)
{
	struct report *r = report_new("lint");
	struct path_index cases;

	path_index_init(&cases, n_files + lr->n_findings + lr->n_not_linted);
	/* one case per linted file, so a clean file reads "passed" too */
	for (size_t i = 0; i < n_files; i++)
		lint_case(r, &cases, files[i]);
	for (size_t i = 0; i < lr->n_findings; i++) {
		const cf_lint_finding *lf = &lr->findings[i];
		bool fails = lf->severity == CF_LINT_ERROR || strict;
		long ci = lint_case(r, &cases, lf->file);
		struct report_finding *f = report_add_finding(r);
		struct report_case *c = &r->cases[ci];

		f->level = fails ? REPORT_ERROR : REPORT_WARNING;
		f->rule = dup(lf->rule);
		f->title = cli_asprintf("%s: %s", c->name, lf->rule);
		f->message = dup(lf->message);
		f->detail = lf->docs ? cli_asprintf("see %s", lf->docs) : NULL;
		f->hint = dup(lf->suggestion);
		f->file = dup(lf->file);
		f->line = lf->line;
		f->column = lf->column;
		f->testcase = ci;
		if (fails) {
			c->state = REPORT_CASE_FAILED;
			free(c->status);
			c->status = dup("unsafe to deploy");
		} else if (c->state != REPORT_CASE_FAILED) {
			free(c->status);
			c->status = dup("warnings");
		}
	}
	for (size_t i = 0; i < lr->n_not_linted; i++) {
		const cf_lint_unread *u = &lr->not_linted[i];
		struct report_finding *f = report_add_finding(r);

		f->level = REPORT_WARNING;
		f->rule = dup("not-linted");
		f->title = dup("not linted");
		f->message = cli_asprintf("not linted: %s", u->reason);
		f->hint = dup("the parser could not read this statement "
			      "(newer syntax?); review it by hand");
		f->file = dup(u->file);
		f->line = u->line;
		f->column = u->column;
		f->testcase = lint_case(r, &cases, u->file);
	}
	r->headline = cli_asprintf(
		"%zu file%s linted for PostgreSQL %d%s: %zu error%s, %zu warning%s, %zu statement%s not linted",
		lr->files, lr->files == 1 ? "" : "s", lr->pg_major,
		lr->pg_assumed ? " (assumed)" : "", lr->errors,
		lr->errors == 1 ? "" : "s", lr->warnings,
		lr->warnings == 1 ? "" : "s", lr->n_not_linted,
		lr->n_not_linted == 1 ? "" : "s");
	r->ok = lr->errors == 0 && !(strict && lr->warnings);
	free(cases.slots);
	return r;
}
