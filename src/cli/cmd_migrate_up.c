/*
 * cmd_migrate_up.c — `confiture migrate up`, plus the progress display and
 * JSON rendering that down and baseline share.
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void
on_start(void *arg, const cf_migration *m, bool down)
{
	(void)arg;
	(void)m;
	(void)down;
	fflush(stdout);
}

static void
on_done(void *arg, const cf_outcome *o, bool down)
{
	struct cli_progress_state *st = arg;
	FILE *f = stdout;
	const cf_migration *m = o->migration;

	(void)down;
	if (st->json)
		return;
	switch (o->kind) {
	case CF_OUTCOME_OK:
		fprintf(f, "  %s✓%s %s %s  %s%.0f ms%s%s\n", cli_c(f, "green"),
			cli_c(f, "reset"), m->version, m->name, cli_c(f, "dim"),
			o->elapsed_ms, cli_c(f, "reset"),
			o->autocommit ? "  (autocommit)" : "");
		break;
	case CF_OUTCOME_SKIPPED:
		fprintf(f, "  %s-%s %s %s  %s(%s)%s\n", cli_c(f, "yellow"),
			cli_c(f, "reset"), m->version, m->name, cli_c(f, "dim"),
			o->skipped_reason, cli_c(f, "reset"));
		break;
	case CF_OUTCOME_FAILED:
		fprintf(f, "  %s✗%s %s %s  %s%.0f ms%s\n", cli_c(f, "red"),
			cli_c(f, "reset"), m->version, m->name, cli_c(f, "dim"),
			o->elapsed_ms, cli_c(f, "reset"));
		fflush(f);
		cli_print_error(stderr, o->error);
		if (o->error && o->error->kind == CF_ERR_CONNECT)
			fprintf(stderr,
				o->autocommit ?
					"  note: the connection was lost during a migration that runs in autocommit: statements before the one in flight were committed and it is not recorded; run the same command again once the server accepts connections: it checks what an interrupted run left\n" :
					"  note: the connection was lost: the server rolled this migration back and it is not recorded; run the same command again once the server accepts connections\n");
		else if (o->autocommit)
			fprintf(stderr,
				"  note: this migration ran in autocommit; statements before the failing one were committed\n");
		break;
	}
	fflush(f);
}

static void
on_warning(void *arg, const cf_error *w)
{
	(void)arg;
	cli_print_error(stderr, w);
}

/*
 * Waiting for the migration lock: say who holds it when we start waiting
 * and when the holder changes, and on a terminal every few seconds too.
 */
static void
on_lock_wait(void *arg, const cf_lock_holder *h, double waited_ms)
{
	struct cli_progress_state *st = arg;
	FILE *f = stderr;
	const char *q;
	int qlen;

	if (!h)
		return;
	if (st->lock_reports > 0 && h->pid == st->lock_pid &&
	    (!isatty(fileno(f)) || waited_ms - st->lock_reported_ms < 5000))
		return;
	st->lock_reports++;
	st->lock_pid = h->pid;
	st->lock_reported_ms = waited_ms;
	q = h->query ? h->query : "";
	qlen = (int)strcspn(q, "\n");
	if (qlen > 120)
		qlen = 120;
	fprintf(f,
		"%swaiting for the migration lock%s (%.0f s): held by pid %ld '%s' (%s, connected since %s), %s since %s: %.*s%s\n",
		cli_c(f, "yellow"), cli_c(f, "reset"), waited_ms / 1000, h->pid,
		h->application_name ? h->application_name : "",
		h->client ? h->client : "client unknown",
		h->backend_start ? h->backend_start : "?",
		h->state ? h->state : "state unknown",
		h->query_start ? h->query_start : "?", qlen, q,
		(size_t)qlen < strlen(q) ? " ..." : "");
	fflush(f);
}

/*
 * A migration's try gave up waiting for a lock: say what it waited for,
 * who was in the way, and whether it is tried again (also in JSON mode:
 * stderr is the log).
 */
static void
on_statement_lock_wait(void *arg, const cf_migration *m, const cf_lock_wait *w)
{
	FILE *f = stderr;

	(void)arg;
	fprintf(f,
		"%slock timeout%s: %s %s, statement %d (%s:%d), try %d, gave up after %.0f ms",
		cli_c(f, "yellow"), cli_c(f, "reset"), m->version, m->name,
		w->statement_index, w->file ? w->file : "?", w->line,
		w->attempt, w->elapsed_ms);
	if (w->lock)
		fprintf(f, " waiting for %s", w->lock);
	if (w->retry_in_ms >= 0)
		fprintf(f, "; rolled back, trying again in %.1f s\n",
			w->retry_in_ms / 1000.0);
	else
		fprintf(f, "; not tried again\n");
	for (size_t i = 0; i < w->n_blockers; i++) {
		char *who = cf_lock_holder_text(&w->blockers[i]);

		fprintf(f, "  blocked by %s\n", who);
		free(who);
	}
	if (!w->n_blockers)
		fprintf(f, "  the blocking session was not seen: %s\n",
			w->unseen_reason ? w->unseen_reason : "unknown");
	fflush(f);
}

void
cli_progress_init(cf_progress *p, struct cli_progress_state *st)
{
	memset(p, 0, sizeof(*p));
	p->arg = st;
	p->migration_start = on_start;
	p->migration_done = on_done;
	p->warning = on_warning;
	p->lock_wait = on_lock_wait;
	p->statement_lock_wait = on_statement_lock_wait;
}

static json_t *
json_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* An outcome's lock_waits (docs/json-format.md). */
static json_t *
lock_waits_json(const cf_outcome *o)
{
	json_t *list = json_array();

	for (size_t i = 0; i < o->n_lock_waits; i++) {
		const cf_lock_wait *w = &o->lock_waits[i];
		json_t *jw = json_object(), *blockers = json_array();

		for (size_t k = 0; k < w->n_blockers; k++) {
			const cf_lock_holder *h = &w->blockers[k];
			json_t *b = json_object();

			json_object_set_new(b, "pid",
					    json_integer((json_int_t)h->pid));
			json_object_set_new(
				b, "application_name",
				json_string_or_null(h->application_name));
			json_object_set_new(b, "client",
					    json_string_or_null(h->client));
			json_object_set_new(
				b, "backend_start",
				json_string_or_null(h->backend_start));
			json_object_set_new(b, "state",
					    json_string_or_null(h->state));
			json_object_set_new(
				b, "query_start",
				json_string_or_null(h->query_start));
			json_object_set_new(b, "query",
					    json_string_or_null(h->query));
			json_array_append_new(blockers, b);
		}
		json_object_set_new(jw, "attempt", json_integer(w->attempt));
		json_object_set_new(jw, "file", json_string_or_null(w->file));
		json_object_set_new(jw, "statement_index",
				    json_integer(w->statement_index));
		json_object_set_new(jw, "line", json_integer(w->line));
		json_object_set_new(
			jw, "elapsed_ms",
			json_integer((json_int_t)(w->elapsed_ms + 0.5)));
		json_object_set_new(jw, "lock", json_string_or_null(w->lock));
		json_object_set_new(jw, "blockers", blockers);
		json_object_set_new(jw, "unseen_reason",
				    json_string_or_null(w->unseen_reason));
		json_object_set_new(jw, "retry_in_ms",
				    w->retry_in_ms >= 0 ?
					    json_integer(w->retry_in_ms) :
					    json_null());
		json_array_append_new(list, jw);
	}
	return list;
}

json_t *
cli_run_result_json(const cf_run_result *r, const char *action)
{
	json_t *doc = json_object(), *list = json_array();

	json_object_set_new(doc, "action", json_string(action));
	json_object_set_new(doc, "dry_run", json_boolean(r->dry_run));
	for (size_t i = 0; i < r->n; i++) {
		const cf_outcome *o = &r->outcomes[i];
		json_t *m = json_object();
		const char *status = o->kind == CF_OUTCOME_OK	  ? "ok" :
				     o->kind == CF_OUTCOME_FAILED ? "failed" :
								    "skipped";

		json_object_set_new(m, "version",
				    json_string(o->migration->version));
		json_object_set_new(m, "name", json_string(o->migration->name));
		json_object_set_new(m, "status", json_string(status));
		json_object_set_new(
			m, "execution_time_ms",
			json_integer((json_int_t)(o->elapsed_ms + 0.5)));
		json_object_set_new(m, "autocommit",
				    json_boolean(o->autocommit));
		json_object_set_new(m, "skipped_reason",
				    o->skipped_reason ?
					    json_string(o->skipped_reason) :
					    json_null());
		json_object_set_new(m, "error",
				    o->error ? cli_error_json(o->error) :
					       json_null());
		json_object_set_new(m, "lock_waits", lock_waits_json(o));
		json_array_append_new(list, m);
	}
	json_object_set_new(doc, "migrations", list);
	json_object_set_new(doc, "succeeded",
			    json_integer((json_int_t)r->succeeded));
	json_object_set_new(doc, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(doc, "warnings", cli_problems_json(&r->warnings));
	return doc;
}

/* A migration's own failure is 1; a lost connection (terminated session,
 * server shutdown or restart) is 2, whatever was running. */
int
cli_run_exit(const cf_run_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->outcomes[i].kind == CF_OUTCOME_FAILED &&
		    r->outcomes[i].error &&
		    r->outcomes[i].error->kind == CF_ERR_CONNECT)
			return CF_EXIT_USAGE;
	return r->failed ? CF_EXIT_FAILURE : CF_EXIT_OK;
}

/*
 * Renders a failure that happened before any migration ran: the individual
 * file problems first, then the summary error.
 */
static int
fail_before_run(cf_session *s, cf_error *err, bool json)
{
	cf_migration_set *set = cf_session_migrations(s);
	int code = cf_error_exit_code(err);

	if (json) {
		json_t *doc = json_object();

		json_object_set_new(doc, "error", cli_error_json(err));
		json_object_set_new(doc, "problems",
				    cli_problems_json(&set->problems));
		cli_json_print(doc);
	}
	cli_print_problems(stderr, &set->problems);
	cli_print_error(stderr, err);
	cf_error_free(err);
	return code;
}

static const char *const checksum_choices[] = {"fail", "warn", "ignore", NULL};

/* up and down share the lock-wait options and their story. */
#define CLI_LOCK_OPTIONS(timeout, retries)                                          \
	OPT_INT(0, "lock-timeout", (timeout), "MS",                                 \
		"lock_timeout of each transactional migration (default 2000, also " \
		"migration.lock_timeout_ms); 0 waits without limit"),               \
		OPT_INT(0, "lock-retries", (retries), "N",                          \
			"tries again after a lock timeout, rolled back, with "      \
			"backoff (default 3, also migration.lock_retries)")
#define LOCK_WAIT_HELP                                                             \
	"Lock waits are bounded: each transactional migration runs with\n"         \
	"lock_timeout --lock-timeout MS (default 2000; its own SET lock_timeout\n" \
	"wins), so a statement waiting for a lock never stalls a busy table\n"     \
	"behind it for long. A migration that gives up is rolled back whole and\n" \
	"tried again after 0.5-1 s, 1-2 s, 2-4 s, ... up to --lock-retries N\n"    \
	"times (default 3); each wait names the sessions in the way (pid,\n"       \
	"application_name, statement). Non-transactional migrations run without\n" \
	"it and are never tried again: what they committed may not be safe to\n"   \
	"run twice.\n"

int
cmd_migrate_up(int argc, const char **argv)
{
	return cli_run_command(argc, argv, "up");
}

/*
 * up, down and baseline share options and rendering; they differ in the
 * library call and a few options.
 */
int
cli_run_command(int argc, const char **argv, const char *action)
{
	struct cli_env_opts eo = {.format = "text"};
	const char *target = NULL, *through = NULL, *on_mismatch = "fail";
	bool dry_run = false, out_of_order = false, repair = false;
	int steps = 1, lock_timeout = -1, lock_retries = -1;
	bool is_up = strcmp(action, "up") == 0,
	     is_down = strcmp(action, "down") == 0;
	const struct cli_option up_options[] = {
		CLI_ENV_OPTIONS(&eo),
		OPT_STRING(0, "target", &target, "VERSION",
			   "apply up to and including VERSION"),
		OPT_BOOL(0, "dry-run", &dry_run,
			 "validate and list what would run; change nothing"),
		OPT_CHOICE(
			0, "on-checksum-mismatch", &on_mismatch, "POLICY",
			"fail (default), warn or ignore when applied files were edited",
			checksum_choices),
		OPT_BOOL(
			0, "out-of-order", &out_of_order,
			"apply pending versions older than the newest applied one"),
		OPT_BOOL(
			0, "repair", &repair,
			"drop an INVALID index an interrupted run left, keep a valid unrecorded one (also migration.repair)"),
		CLI_LOCK_OPTIONS(&lock_timeout, &lock_retries),
		OPT_CHOICE('f', "format", &eo.format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_END(),
	};
	const struct cli_option down_options[] = {
		CLI_ENV_OPTIONS(&eo),
		OPT_INT('n', "steps", &steps, "N",
			"how many migrations to roll back (default 1)"),
		OPT_BOOL(0, "dry-run", &dry_run,
			 "list what would be rolled back; change nothing"),
		CLI_LOCK_OPTIONS(&lock_timeout, &lock_retries),
		OPT_CHOICE('f', "format", &eo.format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_END(),
	};
	const struct cli_option baseline_options[] = {
		CLI_ENV_OPTIONS(&eo),
		OPT_STRING(
			0, "through", &through, "VERSION",
			"record every migration up to and including VERSION"),
		OPT_BOOL(0, "dry-run", &dry_run,
			 "list what would be recorded; change nothing"),
		OPT_CHOICE('f', "format", &eo.format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_END(),
	};
	static const char *const up_syn[] = {
		"confiture migrate up [--env NAME | -c PATH] [--target VERSION] [--dry-run] [--on-checksum-mismatch fail|warn|ignore] [--out-of-order] [--repair] [--lock-timeout MS] [--lock-retries N] [--format text|json]",
		NULL};
	static const char *const down_syn[] = {
		"confiture migrate down [--env NAME | -c PATH] [-n N] [--dry-run] [--lock-timeout MS] [--lock-retries N] [--format text|json]",
		NULL};
	static const char *const base_syn[] = {
		"confiture migrate baseline --through VERSION [--env NAME | -c PATH] [--dry-run] [--format text|json]",
		NULL};
	struct cli_usage usage;
	cf_run_options ro = {0};
	cf_progress progress;
	struct cli_progress_state pst = {0};
	cf_session *s = NULL;
	cf_run_result *r = NULL;
	cf_error *err = NULL;
	int rc;

	if (is_up)
		usage = (struct cli_usage){
			up_syn,
			"Applies pending migrations in version order. Each runs in its own\n"
			"transaction together with its tracking row; a file with a\n"
			"non-transactional statement (CREATE INDEX CONCURRENTLY, VACUUM, ...)\n"
			"or a '-- confiture:no-transaction' line runs in autocommit. Every file\n"
			"is parsed and checked before anything runs, and checksums of applied\n"
			"files are verified. Stops at the first failure. A pending version\n"
			"older than the newest applied one (a merged branch) is refused unless\n"
			"--out-of-order or migration.out_of_order: true.\n"
			"\n"
			"Runs exclude each other with an advisory lock (the Python tool's key),\n"
			"polled without holding a snapshot, so concurrent runs never deadlock\n"
			"with CREATE INDEX CONCURRENTLY; while waiting, the lock's holder is\n"
			"shown. Before a non-transactional migration runs, an index its\n"
			"CREATE INDEX CONCURRENTLY names that an interrupted run left is\n"
			"reported: INVALID, or valid but not recorded. --repair drops the\n"
			"INVALID one and keeps the valid one (as IF NOT EXISTS would), then\n"
			"runs the migration.\n"
			"\n" LOCK_WAIT_HELP "\n"
			"Exit 1: a migration failed (also after its last lock-wait try); 2:\n"
			"usage, configuration, migration-lock timeout, or the connection was\n"
			"lost.",
			up_options};
	else if (is_down)
		usage = (struct cli_usage){
			down_syn,
			"Rolls back the last N applied migrations (newest first) by running\n"
			"their .down.sql files and deleting their tracking rows.\n"
			"\n" LOCK_WAIT_HELP,
			down_options};
	else
		usage = (struct cli_usage){
			base_syn,
			"Records migrations up to VERSION as applied without running them,\n"
			"for a database whose schema already has them.",
			baseline_options};

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	ro.target = target;
	ro.through = through;
	ro.steps = steps;
	ro.dry_run = dry_run;
	ro.out_of_order = out_of_order;
	ro.repair = repair;
	ro.lock_timeout_ms = lock_timeout;
	ro.lock_retries = lock_retries;
	ro.on_checksum_mismatch = strcmp(on_mismatch, "warn") == 0 ?
					  CF_CHECKSUM_WARN :
				  strcmp(on_mismatch, "ignore") == 0 ?
					  CF_CHECKSUM_IGNORE :
					  CF_CHECKSUM_FAIL;
	if (lock_retries > CF_MAX_LOCK_RETRIES) {
		cli_error("option '--lock-retries' must be at most %d",
			  CF_MAX_LOCK_RETRIES);
		fprintf(stderr, "hint: see 'confiture migrate %s --help'\n",
			action);
		return CF_EXIT_USAGE;
	}
	if (is_down && steps < 1) {
		cli_error("option '-n' must be at least 1");
		fprintf(stderr, "hint: see 'confiture migrate down --help'\n");
		return CF_EXIT_USAGE;
	}
	if (!is_up && !is_down && !through) {
		cli_error("missing --through VERSION");
		fprintf(stderr,
			"hint: see 'confiture migrate baseline --help'\n");
		return CF_EXIT_USAGE;
	}
	if ((rc = cli_open_session(&eo, &s)) != 0)
		return rc;
	pst.json = cli_json(&eo);
	cli_progress_init(&progress, &pst);
	if (is_up)
		rc = cf_session_up(s, &ro, &progress, &r, &err);
	else if (is_down)
		rc = cf_session_down(s, &ro, &progress, &r, &err);
	else
		rc = cf_session_baseline(s, &ro, &progress, &r, &err);
	if (rc < 0) {
		rc = fail_before_run(s, err, pst.json);
		cf_session_free(s);
		return rc;
	}
	if (pst.json) {
		cli_json_print(cli_run_result_json(r, action));
	} else {
		const char *verb = is_up   ? "applied" :
				   is_down ? "rolled back" :
					     "recorded";

		if (r->n == 0)
			printf("nothing to do: %s\n",
			       is_up   ? "database is up to date" :
			       is_down ? "no applied migrations" :
					 "all are recorded already");
		else if (r->dry_run && r->failed)
			printf("%sdry run: %zu migration%s would be %s, then 1 would fail%s; nothing was changed\n",
			       cli_c(stdout, "red"), r->n - 1,
			       r->n - 1 == 1 ? "" : "s", verb,
			       cli_c(stdout, "reset"));
		else if (r->dry_run)
			printf("dry run: %zu migration%s would be %s; nothing was changed\n",
			       r->n, r->n == 1 ? "" : "s", verb);
		else if (r->failed)
			printf("%s%zu %s, 1 failed%s; later migrations were not attempted\n",
			       cli_c(stdout, "red"), r->succeeded, verb,
			       cli_c(stdout, "reset"));
		else
			printf("%s%zu migration%s %s%s\n",
			       cli_c(stdout, "green"), r->succeeded,
			       r->succeeded == 1 ? "" : "s", verb,
			       cli_c(stdout, "reset"));
	}
	rc = cli_run_exit(r);
	cf_run_result_free(r);
	cf_session_free(s);
	return rc;
}
