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

void
cli_progress_init(cf_progress *p, struct cli_progress_state *st)
{
	memset(p, 0, sizeof(*p));
	p->arg = st;
	p->migration_start = on_start;
	p->migration_done = on_done;
	p->warning = on_warning;
	p->lock_wait = on_lock_wait;
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
	bool dry_run = false, repair = false;
	int steps = 1;
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
			0, "repair", &repair,
			"drop an INVALID index an interrupted run left, keep a valid unrecorded one (also migration.repair)"),
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
		"confiture migrate up [--env NAME | -c PATH] [--target VERSION] [--dry-run] [--on-checksum-mismatch fail|warn|ignore] [--repair] [--format text|json]",
		NULL};
	static const char *const down_syn[] = {
		"confiture migrate down [--env NAME | -c PATH] [-n N] [--dry-run] [--format text|json]",
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
			"files are verified. Stops at the first failure.\n"
			"\n"
			"Runs exclude each other with an advisory lock (the Python tool's key),\n"
			"polled without holding a snapshot, so concurrent runs never deadlock\n"
			"with CREATE INDEX CONCURRENTLY; while waiting, the lock's holder is\n"
			"shown. Before a non-transactional migration runs, an index its\n"
			"CREATE INDEX CONCURRENTLY names that an interrupted run left is\n"
			"reported: INVALID, or valid but not recorded. --repair drops the\n"
			"INVALID one and keeps the valid one (as IF NOT EXISTS would), then\n"
			"runs the migration. Exit 1: a migration failed; 2: usage,\n"
			"configuration, lock timeout, or the connection was lost.",
			up_options};
	else if (is_down)
		usage = (struct cli_usage){
			down_syn,
			"Rolls back the last N applied migrations (newest first) by running\n"
			"their .down.sql files and deleting their tracking rows.",
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
	ro.repair = repair;
	ro.on_checksum_mismatch = strcmp(on_mismatch, "warn") == 0 ?
					  CF_CHECKSUM_WARN :
				  strcmp(on_mismatch, "ignore") == 0 ?
					  CF_CHECKSUM_IGNORE :
					  CF_CHECKSUM_FAIL;
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
