/*
 * cmd_migrate_status.c — `confiture migrate status`: which migrations are
 * applied and which are pending.  Exit 1 when any are pending.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *
state_name(cf_migration_state s)
{
	switch (s) {
	case CF_STATE_APPLIED:
		return "applied";
	case CF_STATE_APPLIED_MISSING_FILE:
		return "applied (file missing)";
	default:
		return "pending";
	}
}

static json_t *
status_json(const cf_session *s, const cf_status *st)
{
	const cf_config *cfg = cf_session_config(s);
	json_t *doc = json_object();
	json_t *applied = json_array(), *pending = json_array(),
	       *list = json_array();
	json_t *summary = json_object();
	const char *current = NULL;

	for (size_t i = 0; i < st->n; i++) {
		const cf_status_entry *en = &st->entries[i];
		json_t *m = json_object();

		json_object_set_new(m, "version", json_string(en->version));
		json_object_set_new(m, "name", json_string(en->name));
		json_object_set_new(m, "status",
				    json_string(en->state == CF_STATE_PENDING ?
							"pending" :
							"applied"));
		json_object_set_new(m, "applied_at",
				    en->applied_at ?
					    json_string(en->applied_at) :
					    json_null());
		json_object_set_new(
			m, "execution_time_ms",
			en->execution_time_ms >= 0 ?
				json_integer(en->execution_time_ms) :
				json_null());
		json_object_set_new(m, "checksum",
				    en->checksum_file ?
					    json_string(en->checksum_file) :
					    json_null());
		json_object_set_new(m, "checksum_mismatch",
				    json_boolean(en->checksum_mismatch));
		json_object_set_new(
			m, "file_missing",
			json_boolean(en->state ==
				     CF_STATE_APPLIED_MISSING_FILE));
		json_array_append_new(list, m);
		if (en->state == CF_STATE_PENDING) {
			json_array_append_new(pending,
					      json_string(en->version));
		} else {
			json_array_append_new(applied,
					      json_string(en->version));
			current = en->version;
		}
	}
	json_object_set_new(doc, "tracking_table",
			    json_string(cfg->tracking_table));
	json_object_set_new(doc, "applied", applied);
	json_object_set_new(doc, "pending", pending);
	json_object_set_new(doc, "current",
			    current ? json_string(current) : json_null());
	json_object_set_new(doc, "total", json_integer((json_int_t)st->n));
	json_object_set_new(doc, "migrations", list);
	json_object_set_new(summary, "applied",
			    json_integer((json_int_t)st->applied));
	json_object_set_new(summary, "pending",
			    json_integer((json_int_t)st->pending));
	json_object_set_new(summary, "total", json_integer((json_int_t)st->n));
	json_object_set_new(doc, "summary", summary);
	json_object_set_new(doc, "database",
			    json_string(cf_session_redacted_url(s)));
	json_object_set_new(doc, "tracking_table_exists",
			    json_boolean(st->tracking_table_exists));
	return doc;
}

static void
status_text(const cf_session *s, const cf_status *st)
{
	FILE *o = stdout;

	fprintf(o, "%sMigrations%s  %s\n", cli_c(o, "bold"), cli_c(o, "reset"),
		cf_session_redacted_url(s));
	if (st->n == 0) {
		fprintf(o, "  no migrations found\n");
		return;
	}
	fprintf(o, "  %-16s %-32s %-10s %s\n", "VERSION", "NAME", "STATUS",
		"APPLIED AT");
	for (size_t i = 0; i < st->n; i++) {
		const cf_status_entry *en = &st->entries[i];
		const char *color = en->state == CF_STATE_PENDING ? "yellow" :
								    "green";
		/* a row of the tracking table may hold anything */
		char *version = cli_escape(en->version, false);
		char *name = cli_escape(en->name, false);

		fprintf(o, "  %-16s %-32s %s%-10s%s %s%s\n", version, name,
			cli_c(o, color), state_name(en->state),
			cli_c(o, "reset"), en->applied_at ? en->applied_at : "",
			en->checksum_mismatch ?
				"  (file changed since applied)" :
				"");
		free(version);
		free(name);
	}
	fprintf(o, "%zu migration%s: %zu applied, %zu pending\n", st->n,
		st->n == 1 ? "" : "s", st->applied, st->pending);
}

int
cmd_migrate_status(int argc, const char **argv)
{
	struct cli_env_opts eo = {.format = "text"};
	const struct cli_option options[] = {
		CLI_ENV_OPTIONS(&eo),
		OPT_CHOICE('f', "format", &eo.format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture migrate status [--env NAME | -c PATH] [--format text|json]",
		NULL};
	const struct cli_usage usage = {
		synopsis,
		"Lists every migration file and whether the database has applied it.\n"
		"Reads the tracking table; never writes. Exit status 0 when everything\n"
		"is applied, 1 when migrations are pending, 2 on errors.",
		options};
	cf_session *s = NULL;
	cf_status *st = NULL;
	cf_error *err = NULL;
	int rc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	if ((rc = cli_open_session(&eo, &s)) != 0)
		return rc;
	if (cf_session_status(s, &st, &err) < 0) {
		rc = cli_fail(err, cli_json(&eo));
		cf_session_free(s);
		return rc;
	}
	if (cli_json(&eo))
		cli_json_print(status_json(s, st));
	else
		status_text(s, st);
	rc = st->pending > 0 ? CF_EXIT_FAILURE : CF_EXIT_OK;
	cf_status_free(st);
	cf_session_free(s);
	return rc;
}
