/*
 * session.c — the high-level API: a session ties a configuration, the
 * migration files and (once connected) a database together, and runs
 * status, up, down and baseline on them through the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db.h"
#include "replay/lockwait.h"
#include "replay/session_internal.h"
#include "replay/traces.h"

bool
cf_session_numeric(const cf_session *s)
{
	return s->set->numeric;
}

int
cf_session_open(const cf_session_options *opts, cf_session **out,
		cf_error **err)
{
	cf_session *s;
	const char *project = opts->project_dir ? opts->project_dir : ".";
	const char *url = opts->database_url;
	char *dir;
	int rc;

	*out = NULL;
	if (opts->env_name && opts->config_path) {
		cf_error *e = cf_error_new(
			CF_ERR_USAGE,
			"--env and --config cannot be used together");

		cf_error_set_hint(
			e,
			"choose the environment by name (--env production) or by file (-c path/to/env.yaml)");
		return cf_fail(err, e);
	}
	s = cf_new(cf_session);
	s->postgres_version = opts->postgres_version;
	if (opts->env_name)
		rc = cf_config_load_env(project, opts->env_name, &s->cfg, err);
	else if (opts->config_path)
		rc = cf_config_load(opts->config_path, &s->cfg, err);
	else {
		s->cfg = cf_config_new_default();
		rc = 0;
	}
	if (rc < 0) {
		cf_session_free(s);
		return -1;
	}
	if (!url || !*url)
		url = getenv("CONFITURE_DATABASE_URL");
	if (url && *url && cf_config_set_database_url(s->cfg, url, err) < 0) {
		cf_session_free(s);
		return -1;
	}
	s->redacted_url = cf_redact_url(
		s->cfg->database_url ? s->cfg->database_url : "");

	if (opts->migrations_dir)
		dir = cf_strdup(opts->migrations_dir);
	else
		dir = strcmp(project, ".") == 0 ?
			      cf_strdup("db/migrations") :
			      cf_asprintf("%s/db/migrations", project);
	/* a directory named on the command line is its own project */
	rc = cf_migration_set_discover_in(
		dir, opts->migrations_dir ? NULL : project, &s->set, err);
	free(dir);
	if (rc < 0) {
		cf_session_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

const cf_config *
cf_session_config(const cf_session *s)
{
	return s->cfg;
}

cf_migration_set *
cf_session_migrations(cf_session *s)
{
	return s->set;
}

const char *
cf_session_redacted_url(const cf_session *s)
{
	return s->redacted_url;
}

/*
 * A run killed mid-statement (SIGKILL, an OOM kill, a CI timeout) leaves
 * its backend running the statement, holding the migration lock, until the
 * statement ends: for a CREATE INDEX CONCURRENTLY on a big table, hours.
 * client_connection_check_interval (PostgreSQL 14+) makes the backend
 * notice within seconds that its client is gone and abort.  A server that
 * does not know the setting refuses the connection: connect without it.
 */
static int
connect_checked(cf_session *s, cf_error **err)
{
	PQconninfoOption *parsed;
	const char *user = getenv("PGOPTIONS");
	char *base, *opts;
	cf_error *e = NULL;
	int rc;

	if (cf_pq_load(err) < 0)
		return -1;
	/* Passing options replaces the URL's own and PGOPTIONS: keep them. */
	parsed = PQconninfoParse(s->cfg->database_url, NULL);
	for (PQconninfoOption *o = parsed; o && o->keyword; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val)
			user = o->val;
	base = cf_asprintf("%s %s", user ? user : "",
			   s->conn_options ? s->conn_options : "");
	PQconninfoFree(parsed);
	opts = cf_asprintf("%s -c client_connection_check_interval=2000", base);
	rc = cf_db_connect(s->cfg->database_url, opts, &s->conn, &e);
	if (rc < 0 && e->detail &&
	    strstr(e->detail, "client_connection_check_interval")) {
		cf_error_free(e);
		e = NULL;
		rc = cf_db_connect(s->cfg->database_url, base, &s->conn, &e);
	}
	free(opts);
	free(base);
	if (rc < 0)
		return cf_fail(err, e);
	return 0;
}

int
cf_session_connect(cf_session *s, cf_error **err)
{
	if (s->conn)
		return 0;
	if (!s->cfg->database_url || !*s->cfg->database_url) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "no database to connect to");

		cf_error_set_hint(
			e,
			"pass --env NAME (db/environments/NAME.yaml), -c PATH, --database-url URL, or set CONFITURE_DATABASE_URL");
		return cf_fail(err, e);
	}
	if (connect_checked(s, err) < 0)
		return -1;
	cf_cancel_register(s->conn);
	return 0;
}

void
cf_session_disconnect(cf_session *s)
{
	if (s->locked && s->conn && PQstatus(s->conn) == CONNECTION_OK)
		cf_lock_release(s->conn);
	s->locked = false;
	if (s->conn) {
		cf_cancel_register(NULL);
		PQfinish(s->conn);
	}
	s->conn = NULL;
}

void
cf_session_free(cf_session *s)
{
	if (!s)
		return;
	cf_session_disconnect(s);
	cf_config_free(s->cfg);
	cf_migration_set_free(s->set);
	free(s->redacted_url);
	free(s->conn_options);
	free(s);
}

/*
 * The PostgreSQL major whose grammar judges the SQL: the connected server's,
 * else --postgres-version, else the environment's postgres_version; 0 when
 * unknown.
 */
int
cf_session_target_major(const cf_session *s)
{
	if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
		return PQserverVersion(s->conn) / 10000;
	if (s->postgres_version > 0)
		return s->postgres_version;
	return s->cfg->postgres_version;
}

static bool
same_path(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A problem that only says a file could not be read or decoded. */
static bool
is_read_problem(const cf_error *e)
{
	static const char *const codes[] = {"unreadable-file", "read-error",
					    "invalid-utf8", "nul-byte"};

	for (size_t i = 0; e->code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(e->code, codes[i]) == 0)
			return true;
	return false;
}

/* true when a duplicate-version problem is about a version acted on. */
static bool
duplicate_acted_on(const cf_migration_set *set, const cf_error *e,
		   const bool *acted)
{
	const char *base = strrchr(e->file, '/');

	base = base ? base + 1 : e->file;
	for (size_t d = 0; d < set->n_duplicates; d++) {
		long idx = cf_migration_set_find(set,
						 set->duplicates[d].version);

		if (idx < 0 || !acted[idx])
			continue;
		for (size_t f = 0; set->duplicates[d].files[f]; f++)
			if (strcmp(set->duplicates[d].files[f], base) == 0)
				return true;
	}
	return false;
}

/* true when problem e is about a file the command acts on. */
static bool
concerns(const cf_migration_set *set, const cf_error *e, const bool *acted,
	 cf_file_use use)
{
	if (!e->file)
		return true;
	if (e->code && strcmp(e->code, "duplicate-version") == 0)
		return duplicate_acted_on(set, e, acted);
	for (size_t i = 0; i < set->n; i++) {
		const cf_migration *m = &set->items[i];

		if (!acted[i])
			continue;
		if (use == CF_FILES_RUN_DOWN) {
			if (same_path(e->file, m->down_path))
				return true;
		} else if (same_path(e->file, m->up_path) ||
			   same_path(e->file, m->py_path)) {
			return use == CF_FILES_RUN_UP || is_read_problem(e);
		}
	}
	return false;
}

/*
 * Parses the files a command acts on (the up or down files of the
 * migrations marked in acted; nothing for CF_FILES_RECORD) with the
 * target's grammar, and fails with a summary error when any of them has an
 * error-level problem.  Errors about any other file never refuse: they are
 * turned into warnings (see cf_session_report_other_files()).  The
 * individual problems stay in the set for the caller to render.
 */
int
cf_session_check_files(cf_session *s, const bool *acted, cf_file_use use,
		       cf_error **err)
{
	cf_migration_set *set = s->set;
	int target = cf_session_target_major(s);
	size_t n = 0;
	cf_error *e;

	if (use != CF_FILES_RECORD) {
		cf_migration **ms = cf_calloc(set->n ? set->n : 1, sizeof(*ms));
		size_t k = 0;

		for (size_t i = 0; i < set->n; i++)
			if (acted[i])
				ms[k++] = &set->items[i];
		cf_migration_parse_each(set, ms, k, use == CF_FILES_RUN_UP,
					use == CF_FILES_RUN_DOWN, target);
		free(ms);
	}
	for (size_t i = 0; i < set->problems.n; i++) {
		cf_error *p = set->problems.items[i];

		if (p->severity != CF_SEV_ERROR)
			continue;
		/* what the parser rejects runs anyway: the server judges
		 * it and its message is the verdict shown */
		if (p->code && strcmp(p->code, "syntax-error") == 0 &&
		    use != CF_FILES_RECORD)
			continue;
		if (concerns(set, p, acted, use))
			n++;
		else
			p->severity = CF_SEV_NOTICE;
	}
	if (n == 0)
		return 0;
	e = cf_error_new(
		CF_ERR_FILE,
		"%zu problem%s in migration files; nothing was applied", n,
		n == 1 ? "" : "s");
	cf_error_set_code(e, "invalid-migrations");
	return cf_fail(err, e);
}

/*
 * Reports, as notes, the errors of files the command does not act on
 * (cf_session_check_files() marked them so): worth knowing, never a reason
 * to refuse.
 */
void
cf_session_report_other_files(cf_session *s, const cf_progress *progress,
			      cf_error_list *to)
{
	for (size_t i = 0; i < s->set->problems.n; i++) {
		const cf_error *p = s->set->problems.items[i];
		cf_error *w;

		if (p->severity != CF_SEV_NOTICE)
			continue;
		w = cf_error_copy(p);
		if (!w->detail)
			cf_error_set_detail(w, "this command does not run "
					       "that file; it was left alone");
		if (progress && progress->warning)
			progress->warning(progress->arg, w);
		cf_error_list_add(to, w);
	}
}

/* Connects and takes the advisory lock when the environment asks for it;
 * progress hears who holds the lock while we wait. */
static int
connect_locked(cf_session *s, const cf_progress *progress, cf_error **err)
{
	if (cf_session_connect(s, err) < 0)
		return -1;
	if (!s->cfg->locking_enabled)
		return 0;
	if (cf_lock_acquire(s->conn, s->cfg->lock_timeout_ms,
			    progress ? progress->lock_wait : NULL,
			    progress ? progress->arg : NULL, err) < 0)
		return -1;
	s->locked = true;
	return 0;
}

/* ---- status ---- */

bool
cf_session_out_of_order(cf_session *s, const cf_applied_list *applied,
			const char *version)
{
	/* the list is in version order: its last item is the newest */
	return applied->n > 0 &&
	       cf_version_compare(applied->items[applied->n - 1].version,
				  version, cf_session_numeric(s)) > 0;
}

int
cf_session_status(cf_session *s, cf_status **out, cf_error **err)
{
	cf_applied_list applied;
	cf_status *st;
	size_t n = 0;

	*out = NULL;
	/* checksums only: status parses no SQL */
	cf_migration_set_checksum(s->set);
	memset(&applied, 0, sizeof(applied));
	st = cf_new(cf_status);
	/* No database: list the files, state unknown (the Python tool's
	 * habit), instead of failing. */
	st->database_known = s->cfg->database_url && *s->cfg->database_url;
	if (st->database_known &&
	    (cf_session_connect(s, err) < 0 ||
	     cf_tracking_read(s->conn, s->cfg, cf_session_numeric(s), &applied,
			      err) < 0)) {
		free(st);
		return -1;
	}
	st->tracking_table_exists = applied.table_exists;
	st->entries = cf_calloc(s->set->n + applied.n, sizeof(cf_status_entry));
	for (size_t i = 0; i < s->set->n; i++) {
		const cf_migration *m = &s->set->items[i];
		const cf_applied *a = cf_applied_find(&applied, m->version);
		cf_status_entry *en = &st->entries[n++];

		en->version = cf_strdup(m->version);
		en->name = cf_strdup(m->name);
		en->checksum_file = m->checksum[0] ? cf_strdup(m->checksum) :
						     NULL;
		en->execution_time_ms = -1;
		if (!st->database_known) {
			en->state = CF_STATE_UNKNOWN;
		} else if (a) {
			en->state = CF_STATE_APPLIED;
			en->applied_at = cf_strdup(a->applied_at);
			en->execution_time_ms = a->execution_time_ms;
			en->checksum_db = cf_strdup(a->checksum);
			en->checksum_mismatch =
				en->checksum_file &&
				(!a->checksum ||
				 strcmp(a->checksum, en->checksum_file) != 0);
			st->applied++;
		} else {
			en->state = CF_STATE_PENDING;
			en->out_of_order = cf_session_out_of_order(s, &applied,
								   m->version);
			st->out_of_order += en->out_of_order;
			st->pending++;
		}
	}
	for (size_t i = 0; i < applied.n; i++) {
		const cf_applied *a = &applied.items[i];
		cf_status_entry *en;

		if (cf_migration_set_find(s->set, a->version) >= 0)
			continue;
		en = &st->entries[n++];
		en->version = cf_strdup(a->version);
		en->name = cf_strdup(a->name);
		en->state = CF_STATE_APPLIED_MISSING_FILE;
		en->applied_at = cf_strdup(a->applied_at);
		en->execution_time_ms = a->execution_time_ms;
		en->checksum_db = cf_strdup(a->checksum);
		st->applied++;
	}
	st->n = n;
	cf_applied_list_release(&applied);
	*out = st;
	return 0;
}

void
cf_status_free(cf_status *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->entries[i].version);
		free(st->entries[i].name);
		free(st->entries[i].applied_at);
		free(st->entries[i].checksum_db);
		free(st->entries[i].checksum_file);
	}
	free(st->entries);
	free(st);
}

/* ---- results ---- */

static cf_run_result *
result_new(size_t cap)
{
	cf_run_result *r = cf_new(cf_run_result);

	r->outcomes = cf_calloc(cap ? cap : 1, sizeof(cf_outcome));
	return r;
}

void
cf_run_result_free(cf_run_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		cf_error_free(r->outcomes[i].error);
		free(r->outcomes[i].skipped_reason);
		cf_lock_waits_free(r->outcomes[i].lock_waits,
				   r->outcomes[i].n_lock_waits);
	}
	free(r->outcomes);
	cf_error_list_release(&r->warnings);
	free(r);
}

static void
notify_start(const cf_progress *p, const cf_migration *m, bool down)
{
	if (p && p->migration_start)
		p->migration_start(p->arg, m, down);
}

static void
notify_done(const cf_progress *p, const cf_outcome *o, bool down)
{
	if (p && p->migration_done)
		p->migration_done(p->arg, o, down);
}

static void
warn(const cf_progress *p, cf_run_result *r, cf_error *w)
{
	if (p && p->warning)
		p->warning(p->arg, w);
	cf_error_list_add(&r->warnings, w);
}

/*
 * Reports the file warnings (stripped wrapper, autocommit, ...) of a script
 * about to run, so that they are seen when they
 * matter and not on every later run.  The set keeps its own copies.
 */
/*
 * The set's file problems by file, then in their order: each script's are
 * found by a binary search (a scan of every problem per migration was
 * quadratic when each file has a warning).  Built at the first lookup
 * over the problems there were; later ones are scanned.
 */
typedef struct file_problem {
	const char *file;
	size_t at; /* index in set->problems */
} file_problem;

typedef struct file_problems {
	file_problem *items;
	size_t n;	/* entries */
	size_t covered; /* set->problems indexed: [0, covered) */
	bool built;
} file_problems;

static int
file_problem_cmp(const void *a, const void *b)
{
	const file_problem *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

static void
file_problems_build(file_problems *fp, const cf_migration_set *set)
{
	fp->items = cf_calloc(set->problems.n + 1, sizeof(*fp->items));
	for (size_t i = 0; i < set->problems.n; i++)
		if (set->problems.items[i]->file)
			fp->items[fp->n++] = (file_problem){
				set->problems.items[i]->file, i};
	qsort(fp->items, fp->n, sizeof(*fp->items), file_problem_cmp);
	fp->covered = set->problems.n;
	fp->built = true;
}

static void
warn_one(const cf_progress *p, cf_run_result *r, const cf_error *w)
{
	if (w->severity != CF_SEV_ERROR)
		warn(p, r, cf_error_copy(w));
}

static void
warn_file(const cf_progress *p, cf_run_result *r, const cf_migration_set *set,
	  file_problems *fp, const char *path)
{
	size_t lo = 0, hi;

	if (!path)
		return;
	if (!fp->built)
		file_problems_build(fp, set);
	for (hi = fp->n; lo < hi;) { /* the first entry >= path */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(fp->items[mid].file, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < fp->n && strcmp(fp->items[lo].file, path) == 0; lo++)
		warn_one(p, r, set->problems.items[fp->items[lo].at]);
	for (size_t i = fp->covered; i < set->problems.n; i++) {
		const cf_error *w = set->problems.items[i];

		if (w->file && strcmp(w->file, path) == 0)
			warn_one(p, r, w);
	}
}

/*
 * Compares recorded checksums with the files (reading the applied files
 * not read yet).  A mismatch is an error under
 * CF_CHECKSUM_FAIL, a warning under WARN, nothing under IGNORE.
 */
int
cf_session_verify_checksums(cf_session *s, const cf_applied_list *applied,
			    cf_checksum_policy policy, cf_error_list *found)
{
	int bad = 0;

	for (size_t i = 0; i < applied->n; i++) {
		const cf_applied *a = &applied->items[i];
		long idx = cf_migration_set_find(s->set, a->version);
		cf_migration *m;
		cf_error *e;

		if (idx < 0)
			continue;
		m = &s->set->items[idx];
		cf_migration_checksum(s->set, m);
		if (!m->checksum[0] ||
		    (a->checksum && strcmp(a->checksum, m->checksum) == 0))
			continue;
		if (policy == CF_CHECKSUM_IGNORE)
			continue;
		e = cf_error_new(
			CF_ERR_CHECKSUM,
			"applied migration %s (%s) was modified after it was applied",
			m->version, m->name);
		e->severity = policy == CF_CHECKSUM_WARN ? CF_SEV_WARNING :
							   CF_SEV_ERROR;
		cf_error_set_where(e, m->up_path, 0, 0);
		cf_error_set_code(e, "checksum-mismatch");
		cf_error_set_detail(e, "recorded checksum %s, file checksum %s",
				    a->checksum ? a->checksum : "(none)",
				    m->checksum);
		cf_error_set_hint(
			e,
			"restore the file as it was applied and put the change in a new migration, or pass --on-checksum-mismatch=warn");
		if (e->severity == CF_SEV_ERROR)
			bad++;
		cf_error_list_add(found, e);
	}
	return bad ? -1 : 0;
}

/* Reads the applied rows and verifies checksums; errors leave *err set. */
static int
read_applied(cf_session *s, cf_checksum_policy policy, cf_applied_list *applied,
	     cf_run_result *r, const cf_progress *progress, cf_error **err)
{
	cf_error_list found = CF_ERROR_LIST_INIT;
	int rc;

	if (cf_tracking_read(s->conn, s->cfg, cf_session_numeric(s), applied,
			     err) < 0)
		return -1;
	rc = cf_session_verify_checksums(s, applied, policy, &found);
	for (size_t i = 0; i < found.n; i++) {
		if (found.items[i]->severity == CF_SEV_WARNING)
			warn(progress, r, found.items[i]);
		else
			cf_error_list_add(&s->set->problems, found.items[i]);
	}
	free(found.items);
	if (rc < 0) {
		cf_error *e = cf_error_new(
			CF_ERR_CHECKSUM,
			"applied migrations were modified; nothing was applied");

		cf_error_set_code(e, "checksum-mismatch");
		return cf_fail(err, e);
	}
	return 0;
}

static void
engine_init(cf_session *s, cf_engine *e, char *ident)
{
	memset(e, 0, sizeof(*e));
	e->conn = s->conn;
	e->unit = CF_UNIT_TRANSACTION;
	e->tracking_ident = ident;
	e->allow_autocommit = true;
}

/* The lock waits of an up or down run: the options', else the
 * environment's lock_timeout and retries.  NULL for a dry run. */
static cf_lockwait *
lockwait_new(cf_session *s, const cf_run_options *opts)
{
	if (opts->dry_run)
		return NULL;
	return cf_lockwait_new(
		s->cfg->database_url, s->conn,
		opts->lock_timeout_ms >= 0 ? opts->lock_timeout_ms :
					     s->cfg->migration_lock_timeout_ms,
		opts->lock_retries >= 0 ? opts->lock_retries :
					  s->cfg->migration_lock_retries);
}

/* ---- up ---- */

/* The newest applied version (the list is in version order). */
static const cf_applied *
newest_applied(const cf_applied_list *applied)
{
	return applied->n ? &applied->items[applied->n - 1] : NULL;
}

/*
 * Refuses pending versions older than the newest applied one (a merged
 * branch's migrations) unless allowed; when allowed, warns about each.
 */
static int
check_out_of_order(cf_session *s, const cf_run_options *opts,
		   const cf_applied_list *applied, long target_idx,
		   const cf_progress *progress, cf_run_result *r,
		   cf_error **err)
{
	bool allowed = opts->out_of_order || s->cfg->out_of_order;
	const cf_applied *newest = newest_applied(applied);
	cf_strbuf late = CF_STRBUF_INIT;
	size_t n = 0;
	cf_error *e;

	for (size_t i = 0; newest && i < s->set->n; i++) {
		const cf_migration *m = &s->set->items[i];

		if (target_idx >= 0 && (long)i > target_idx)
			break;
		if (cf_applied_find(applied, m->version) ||
		    !cf_session_out_of_order(s, applied, m->version))
			continue;
		if (allowed) {
			e = cf_warning_new(
				"applying %s (%s) out of order: %s (%s) is "
				"already applied",
				m->version, m->name, newest->version,
				newest->name);
			cf_error_set_code(e, "out-of-order");
			cf_error_set_where(e, m->up_path, 0, 0);
			warn(progress, r, e);
			continue;
		}
		cf_strbuf_addf(&late, "%s%s (%s)", n ? ", " : "", m->version,
			       m->name);
		n++;
	}
	if (!n)
		return 0;
	e = cf_error_new(CF_ERR_FILE,
			 "%zu pending migration%s older than the newest "
			 "applied one (%s); nothing was applied",
			 n, n == 1 ? " is" : "s are", newest->version);
	cf_error_set_code(e, "out-of-order");
	cf_error_set_detail(e, "out of order: %s", cf_strbuf_str(&late));
	cf_error_set_hint(
		e,
		"if %s do%s not depend on %s, run 'confiture migrate up "
		"--out-of-order' (or set migration.out_of_order: true); "
		"otherwise rename %s to a version after %s",
		n == 1 ? "it" : "they", n == 1 ? "es" : "", newest->version,
		n == 1 ? "it" : "them", newest->version);
	cf_strbuf_release(&late);
	return cf_fail(err, e);
}

/* Adds the notes of a traces check to the run's warnings. */
static void
warn_notes(const cf_progress *progress, cf_run_result *r, cf_traces *traces)
{
	for (size_t i = 0; i < traces->notes.n; i++) {
		warn(progress, r, traces->notes.items[i]);
		traces->notes.items[i] = NULL;
	}
	traces->notes.n = 0;
}

/*
 * A dry run of one pending migration: nothing runs, but a non-transactional
 * one is checked (read only) for what an unfinished earlier run left, and
 * fails as the real run would, unless repair would deal with it.
 */
static int
dry_run_up(cf_session *s, const cf_migration *m, bool repair, cf_outcome *o,
	   cf_run_result *r, const cf_progress *progress)
{
	cf_traces traces;
	cf_error *err = NULL;

	memset(o, 0, sizeof(*o));
	o->migration = m;
	o->kind = CF_OUTCOME_SKIPPED;
	o->autocommit = !m->up->transactional;
	if (m->up->transactional) {
		o->skipped_reason = cf_strdup("dry run");
		return 0;
	}
	if (cf_traces_check(s->conn, m, m->up, false, &traces, &err) < 0) {
		if (repair && err->code &&
		    strcmp(err->code, "interrupted-migration") == 0) {
			o->skipped_reason = cf_asprintf(
				"dry run; --repair would deal with: %s",
				err->message);
			cf_error_free(err);
			return 0;
		}
		o->kind = CF_OUTCOME_FAILED;
		o->error = err;
		return -1;
	}
	warn_notes(progress, r, &traces);
	cf_traces_release(&traces);
	o->skipped_reason = cf_strdup("dry run");
	return 0;
}

/*
 * Applies one pending migration; a non-transactional one first gets
 * checked for what an interrupted earlier run left (replay/traces.h),
 * repaired under --repair or migration.repair.  Same contract as
 * cf_engine_apply(); what a failed one left goes to *left.
 */
static int
apply_up(cf_session *s, cf_engine *engine, cf_lockwait *lw,
	 const cf_migration *m, const cf_run_options *opts, cf_outcome *o,
	 cf_run_result *r, const cf_progress *progress, cf_error_list *left)
{
	bool repair = opts->repair || s->cfg->repair;
	cf_traces traces;
	cf_error *err = NULL;
	int rc;

	if (opts->dry_run)
		return dry_run_up(s, m, repair, o, r, progress);
	if (m->up->transactional)
		return cf_lockwait_apply(lw, engine, m, false, progress, o);
	if (cf_traces_check(s->conn, m, m->up, repair, &traces, &err) < 0) {
		memset(o, 0, sizeof(*o));
		o->migration = m;
		o->kind = CF_OUTCOME_FAILED;
		o->error = err;
		return -1;
	}
	warn_notes(progress, r, &traces);
	engine->skip = traces.skip;
	rc = cf_lockwait_apply(lw, engine, m, false, progress, o);
	engine->skip = NULL;
	cf_traces_release(&traces);
	/* a half-applied migration: say what it left, and what fixes it */
	if (rc < 0)
		cf_traces_after_failure(
			s->conn, m, m->up,
			o->error ? o->error->statement_index : 0, left);
	return rc;
}

int
cf_session_up(cf_session *s, const cf_run_options *opts,
	      const cf_progress *progress, cf_run_result **out, cf_error **err)
{
	cf_applied_list applied = {0};
	cf_error_list left = CF_ERROR_LIST_INIT;
	cf_run_result *r;
	cf_engine engine;
	cf_lockwait *lw;
	char *ident;
	long target_idx = -1;
	bool *acted;
	int rc;
	file_problems fp = {0};

	*out = NULL;
	if (opts->target) {
		target_idx = cf_migration_set_find(s->set, opts->target);
		if (target_idx < 0) {
			cf_error *e = cf_error_new(
				CF_ERR_USAGE, "target version '%s' not found",
				opts->target);

			cf_error_set_hint(
				e,
				"run 'confiture migrate status' to list versions");
			return cf_fail(err, e);
		}
	}
	if (connect_locked(s, progress, err) < 0)
		return -1;
	r = result_new(s->set->n);
	r->dry_run = opts->dry_run;
	if (read_applied(s, opts->on_checksum_mismatch, &applied, r, progress,
			 err) < 0) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		return -1;
	}
	if (check_out_of_order(s, opts, &applied, target_idx, progress, r,
			       err) < 0) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		cf_session_disconnect(s);
		return -1;
	}
	/* only the pending up files up to the target are parsed and checked */
	acted = cf_calloc(s->set->n + 1, sizeof(bool));
	for (size_t i = 0; i < s->set->n; i++)
		acted[i] = (target_idx < 0 || (long)i <= target_idx) &&
			   !cf_applied_find(&applied, s->set->items[i].version);
	rc = cf_session_check_files(s, acted, CF_FILES_RUN_UP, err);
	free(acted);
	if (rc < 0 ||
	    (!opts->dry_run && cf_tracking_ensure(s->conn, s->cfg, err) < 0)) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		cf_session_disconnect(s);
		return -1;
	}
	cf_session_report_other_files(s, progress, &r->warnings);
	ident = cf_tracking_ident(s->cfg);
	engine_init(s, &engine, ident);
	lw = lockwait_new(s, opts);
	for (size_t i = 0; i < s->set->n; i++) {
		const cf_migration *m = &s->set->items[i];
		cf_outcome *o;

		if (target_idx >= 0 && (long)i > target_idx)
			break;
		if (cf_applied_find(&applied, m->version))
			continue;
		o = &r->outcomes[r->n++];
		warn_file(progress, r, s->set, &fp, m->up_path);
		notify_start(progress, m, false);
		if (apply_up(s, &engine, lw, m, opts, o, r, progress, &left) <
		    0) {
			r->failed++;
			notify_done(progress, o, false);
			for (size_t k = 0; k < left.n; k++)
				warn(progress, r, left.items[k]);
			free(left.items);
			break;
		} else if (!opts->dry_run) {
			r->succeeded++;
		}
		notify_done(progress, o, false);
	}
	cf_lockwait_free(lw);
	free(ident);
	free(fp.items);
	cf_applied_list_release(&applied);
	cf_session_disconnect(s);
	*out = r;
	return 0;
}

/* ---- down ---- */

int
cf_session_down(cf_session *s, const cf_run_options *opts,
		const cf_progress *progress, cf_run_result **out,
		cf_error **err)
{
	cf_applied_list applied = {0};
	cf_run_result *r;
	cf_engine engine;
	cf_lockwait *lw;
	char *ident;
	int steps = opts->steps > 0 ? opts->steps : 1;
	size_t first;
	cf_error *missing = NULL;
	bool *acted;
	int rc;
	file_problems fp = {0};

	*out = NULL;
	if (connect_locked(s, progress, err) < 0)
		return -1;
	r = result_new((size_t)steps);
	r->dry_run = opts->dry_run;
	if (read_applied(s, CF_CHECKSUM_WARN, &applied, r, progress, err) < 0) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		return -1;
	}
	first = applied.n > (size_t)steps ? applied.n - (size_t)steps : 0;
	/* only the down files being rolled back are parsed and checked */
	acted = cf_calloc(s->set->n + 1, sizeof(bool));
	for (size_t i = first; i < applied.n; i++) {
		long idx = cf_migration_set_find(s->set,
						 applied.items[i].version);

		if (idx >= 0)
			acted[idx] = true;
	}
	rc = cf_session_check_files(s, acted, CF_FILES_RUN_DOWN, err);
	free(acted);
	if (rc < 0) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		cf_session_disconnect(s);
		return -1;
	}
	cf_session_report_other_files(s, progress, &r->warnings);
	/* Every migration to roll back needs its file and .down.sql first. */
	for (size_t i = applied.n; i-- > first;) {
		long idx = cf_migration_set_find(s->set,
						 applied.items[i].version);

		if (idx < 0 || !s->set->items[idx].down) {
			missing = cf_error_new(
				CF_ERR_FILE, "cannot roll back %s (%s): %s",
				applied.items[i].version, applied.items[i].name,
				idx < 0 ? "its migration file is missing" :
					  "it has no .down.sql file");
			cf_error_set_hint(
				missing,
				"write %s_%s.down.sql, or roll back fewer steps with -n",
				applied.items[i].version,
				applied.items[i].name);
			cf_error_set_code(missing, "no-down");
			break;
		}
	}
	if (missing) {
		cf_applied_list_release(&applied);
		cf_run_result_free(r);
		cf_session_disconnect(s);
		return cf_fail(err, missing);
	}
	ident = cf_tracking_ident(s->cfg);
	engine_init(s, &engine, ident);
	lw = lockwait_new(s, opts);
	for (size_t i = applied.n; i-- > first;) {
		const cf_migration *m = &s->set->items[cf_migration_set_find(
			s->set, applied.items[i].version)];
		cf_outcome *o = &r->outcomes[r->n++];

		warn_file(progress, r, s->set, &fp, m->down_path);
		notify_start(progress, m, true);
		if (opts->dry_run) {
			o->migration = m;
			o->kind = CF_OUTCOME_SKIPPED;
			o->skipped_reason = cf_strdup("dry run");
		} else if (cf_lockwait_apply(lw, &engine, m, true, progress,
					     o) < 0) {
			r->failed++;
			notify_done(progress, o, true);
			break;
		} else {
			r->succeeded++;
		}
		notify_done(progress, o, true);
	}
	cf_lockwait_free(lw);
	free(ident);
	free(fp.items);
	cf_applied_list_release(&applied);
	cf_session_disconnect(s);
	*out = r;
	return 0;
}

/* ---- baseline ---- */

int
cf_session_baseline(cf_session *s, const cf_run_options *opts,
		    const cf_progress *progress, cf_run_result **out,
		    cf_error **err)
{
	cf_applied_list applied = {0};
	cf_run_result *r;
	char *ident;
	long through;
	int rc = 0;
	bool *acted;

	*out = NULL;
	if (!opts->through) {
		cf_error *e = cf_error_new(CF_ERR_USAGE,
					   "baseline needs --through VERSION");

		return cf_fail(err, e);
	}
	through = cf_migration_set_find(s->set, opts->through);
	if (through < 0) {
		cf_error *e = cf_error_new(CF_ERR_USAGE,
					   "version '%s' not found in %s",
					   opts->through, s->set->dir);

		cf_error_set_hint(
			e, "run 'confiture migrate status' to list versions");
		return cf_fail(err, e);
	}
	/* Checksums are recorded, so the files recorded must be readable;
	 * baseline parses no SQL. */
	cf_migration_set_checksum(s->set);
	acted = cf_calloc(s->set->n + 1, sizeof(bool));
	for (long i = 0; i <= through; i++)
		acted[i] = true;
	rc = cf_session_check_files(s, acted, CF_FILES_RECORD, err);
	free(acted);
	if (rc < 0)
		return -1;
	if (connect_locked(s, progress, err) < 0)
		return -1;
	if (!opts->dry_run && cf_tracking_ensure(s->conn, s->cfg, err) < 0)
		return -1;
	if (cf_tracking_read(s->conn, s->cfg, cf_session_numeric(s), &applied,
			     err) < 0)
		return -1;
	r = result_new((size_t)through + 1);
	r->dry_run = opts->dry_run;
	cf_session_report_other_files(s, progress, &r->warnings);
	ident = cf_tracking_ident(s->cfg);
	if (!opts->dry_run)
		rc = cf_db_exec(s->conn, "BEGIN", err);
	for (long i = 0; rc == 0 && i <= through; i++) {
		const cf_migration *m = &s->set->items[i];
		cf_outcome *o;
		char *slug;

		if (cf_applied_find(&applied, m->version))
			continue;
		o = &r->outcomes[r->n++];
		o->migration = m;
		notify_start(progress, m, false);
		if (!opts->dry_run) {
			slug = cf_tracking_slug(m->name, "baseline");
			rc = cf_tracking_insert(s->conn, ident, m, slug, 0,
						err);
			free(slug);
		}
		o->kind = CF_OUTCOME_OK;
		r->succeeded++;
		notify_done(progress, o, false);
	}
	if (!opts->dry_run) {
		if (rc == 0)
			rc = cf_db_exec(s->conn, "COMMIT", err);
		else
			PQclear(PQexec(s->conn, "ROLLBACK"));
	}
	free(ident);
	cf_applied_list_release(&applied);
	cf_session_disconnect(s);
	if (rc < 0) {
		cf_run_result_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
cf_libpq_version(void)
{
	return cf_pq_load(NULL) < 0 ? 0 : PQlibVersion();
}
