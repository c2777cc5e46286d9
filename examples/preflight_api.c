/*
 * preflight_api.c — runs a preflight through libconfiture's public API,
 * the way the confiture CLI does.
 *
 *   cc preflight_api.c $(pkg-config --cflags --libs confiture) -o preflight_api
 *   ./preflight_api PROJECT_DIR ENV AGAINST_URL
 *
 * Prints one line per pending migration and exits 0 when all pass.
 */
#include <stdio.h>

#include <confiture.h>

int
main(int argc, char **argv)
{
	cf_session_options so = {0};
	cf_preflight_options po = {0};
	cf_session *session = NULL;
	cf_preflight_result *result = NULL;
	cf_error *err = NULL;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PROJECT_DIR ENV AGAINST_URL\n", argv[0]);
		return 2;
	}
	so.project_dir = argv[1];
	so.env_name = argv[2];
	po.mode = CF_PREFLIGHT_AUTO;
	po.lock_timeout_ms = -1;	/* from the environment file */
	po.statement_timeout_ms = -1;

	/* The session owns the configuration and the migration files. */
	if (cf_session_open(&so, &session, &err) < 0)
		goto fail;
	/* The result is ours; it borrows migrations from the session. */
	if (cf_session_preflight(session, argv[3], &po, NULL, &result, &err) < 0)
		goto fail;

	for (size_t i = 0; i < result->n; i++) {
		const cf_preflight_migration *m = &result->migrations[i];
		const cf_outcome *o = &m->outcome;

		printf("%-8s %-32s %s", m->migration->version, m->migration->name,
		       o->kind == CF_OUTCOME_OK ? "ok" :
		       o->kind == CF_OUTCOME_SKIPPED ? "skipped" :
		       m->cause == CF_CAUSE_CONSEQUENCE ? "consequence" : "FAILED");
		if (o->error)
			printf(": [%s] %s (%s:%d:%d)", o->error->sqlstate, o->error->message,
			       o->error->file, o->error->line, o->error->column);
		putchar('\n');
	}
	printf("%zu passed, %zu failed (%zu root causes), %zu skipped; %s\n",
	       result->passed, result->failed, result->root_causes, result->skipped,
	       result->closing ? result->closing : "");
	rc = result->static_ok && result->all_passed ? 0 : 1;
	cf_preflight_result_free(result);
	cf_session_free(session);
	return rc;

fail:
	fprintf(stderr, "error: %s\n", err->message);
	if (err->detail)
		fprintf(stderr, "detail: %s\n", err->detail);
	if (err->hint)
		fprintf(stderr, "hint: %s\n", err->hint);
	rc = cf_error_exit_code(err);
	cf_error_free(err);
	cf_session_free(session);
	return rc;
}
