/*
 * cmd_migrate_drift.c — `confiture migrate drift`: how production's schema
 * differs from what its applied migrations make, object by object, each
 * difference with the migration that last touched the object.
 * Exit 0 no drift, 1 drift (or a migration that does not replay), 2 errors.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *
status_name(cf_drift_status s)
{
	switch (s) {
	case CF_DRIFT_EXTRA:
		return "extra";
	case CF_DRIFT_MISSING:
		return "missing";
	default:
		return "changed";
	}
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
drift_json(const cf_drift_result *r)
{
	json_t *doc = json_object(), *items = json_array(),
	       *summary = json_object();

	json_object_set_new(doc, "production", str_or_null(r->production_url));
	json_object_set_new(doc, "replayed_on", str_or_null(r->replay_where));
	json_object_set_new(doc, "replayed",
			    json_integer((json_int_t)r->replayed));
	json_object_set_new(doc, "schema_files",
			    json_integer((json_int_t)r->schema_files));
	json_object_set_new(doc, "drift", json_boolean(r->n > 0));
	for (size_t i = 0; i < r->n; i++) {
		const cf_drift_item *it = &r->items[i];
		json_t *o = json_object();
		char *text = cf_schema_change_text(&it->change);

		json_object_set_new(o, "status",
				    json_string(status_name(it->status)));
		json_object_set_new(o, "kind",
				    json_string(cf_object_kind_name(
					    it->change.object_kind)));
		json_object_set_new(o, "object",
				    json_string(it->change.object));
		json_object_set_new(o, "parent",
				    str_or_null(it->change.parent));
		json_object_set_new(o, "attribute",
				    str_or_null(it->change.attribute));
		json_object_set_new(o, "history",
				    str_or_null(it->change.old_value));
		json_object_set_new(o, "production",
				    str_or_null(it->change.new_value));
		if (it->migration) {
			json_t *m = json_object();

			json_object_set_new(m, "version",
					    json_string(it->migration));
			json_object_set_new(m, "name",
					    str_or_null(it->migration_name));
			json_object_set_new(o, "migration", m);
		} else {
			json_object_set_new(o, "migration", json_null());
		}
		json_object_set_new(o, "text", json_string(text));
		free(text);
		json_array_append_new(items, o);
	}
	json_object_set_new(doc, "items", items);
	json_object_set_new(summary, "extra",
			    json_integer((json_int_t)r->extra));
	json_object_set_new(summary, "missing",
			    json_integer((json_int_t)r->missing));
	json_object_set_new(summary, "changed",
			    json_integer((json_int_t)r->changed));
	json_object_set_new(summary, "total", json_integer((json_int_t)r->n));
	json_object_set_new(doc, "summary", summary);
	json_object_set_new(doc, "notes", cli_problems_json(&r->notes));
	return doc;
}

/* One section of the text report: the items of one status. */
static void
print_section(FILE *f, const cf_drift_result *r, cf_drift_status st,
	      const char *title)
{
	bool first = true;

	for (size_t i = 0; i < r->n; i++) {
		const cf_drift_item *it = &r->items[i];
		char *text;

		if (it->status != st)
			continue;
		if (first)
			fprintf(f, "  %s%s%s\n", cli_c(f, "bold"), title,
				cli_c(f, "reset"));
		first = false;
		if (st == CF_DRIFT_CHANGED)
			text = cf_schema_change_text(&it->change);
		else
			text = cli_asprintf(
				"%s %s",
				cf_object_kind_name(it->change.object_kind),
				it->change.object);
		fprintf(f, "    %s%s%s",
			cli_c(f, st == CF_DRIFT_CHANGED ? "yellow" : "red"),
			text, cli_c(f, "reset"));
		if (it->migration)
			fprintf(f, "  %s(last touched by %s_%s)%s",
				cli_c(f, "dim"), it->migration,
				it->migration_name ? it->migration_name : "",
				cli_c(f, "reset"));
		fputc('\n', f);
		free(text);
	}
}

static void
drift_text(const cf_drift_result *r)
{
	FILE *f = stdout;

	fprintf(f, "%sDrift%s  %s\n", cli_c(f, "bold"), cli_c(f, "reset"),
		r->production_url);
	fprintf(f, "  history: %zu applied migration%s", r->replayed,
		r->replayed == 1 ? "" : "s");
	if (r->schema_files)
		fprintf(f, " after %zu schema file%s", r->schema_files,
			r->schema_files == 1 ? "" : "s");
	fprintf(f, " replayed from empty on %s\n", r->replay_where);
	fflush(f);
	cli_print_problems(stderr, &r->notes);
	if (r->n == 0) {
		fprintf(f, "%sno drift%s: production matches its history\n",
			cli_c(f, "green"), cli_c(f, "reset"));
		return;
	}
	print_section(f, r, CF_DRIFT_EXTRA,
		      "in production, made by no migration:");
	print_section(f, r, CF_DRIFT_MISSING,
		      "made by a migration, missing in production:");
	print_section(f, r, CF_DRIFT_CHANGED, "different in production:");
	fprintf(f, "%zu difference%s: %zu extra, %zu missing, %zu changed\n",
		r->n, r->n == 1 ? "" : "s", r->extra, r->missing, r->changed);
}

int
cmd_migrate_drift(int argc, const char **argv)
{
	struct cli_env_opts eo = {.format = "text"};
	cf_drift_options opts = {0};
	const char *against = NULL, *server = NULL, *cache_dir = NULL,
		   *from_dump = NULL;
	bool keep_server = false, owners = false, grants = false;
	const struct cli_option options[] = {
		OPT_STRING(
			0, "against", &against, "URL",
			"database to check (default: the environment's); only read"),
		OPT_STRING(
			0, "from-dump", &from_dump, "FILE",
			"production's schema from this pg_dump --schema-only (any format) instead of a database"),
		OPT_STRING(
			0, "server", &server, "URL",
			"replay on a scratch database of this server (needs CREATEDB) instead of an embedded one"),
		OPT_BOOL(
			0, "keep-server", &keep_server,
			"keep the embedded server running for the next run ('confiture server stop')"),
		OPT_STRING(
			0, "cache-dir", &cache_dir, "DIR",
			"embedded server's home (default $XDG_CACHE_HOME/confiture)"),
		OPT_BOOL(0, "owners", &owners, "compare owners too"),
		OPT_BOOL(0, "grants", &grants, "compare privileges too"),
		CLI_ENV_OPTIONS(&eo),
		OPT_CHOICE('f', "format", &eo.format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture migrate drift [--env NAME | -c PATH] [--against URL | --from-dump FILE]\n"
		"           [--server URL] [--keep-server] [--owners] [--grants] [--format text|json]",
		NULL};
	const struct cli_usage usage = {
		synopsis,
		"Shows how production's schema differs from its migration history. The\n"
		"migrations production has applied (its tracking table) are replayed from an\n"
		"empty database, after the environment's include_dirs schema files, on an\n"
		"embedded throwaway PostgreSQL (or a scratch database of --server, dropped\n"
		"afterwards); then both schemas are read from the catalogs and compared.\n"
		"Production is only read. With --from-dump its schema comes from a dump\n"
		"(loaded into a cached template, as for preflight) and the applied migrations\n"
		"from the environment's database when there is one, else every file.\n\n"
		"Lists objects production has that no migration made, objects a migration\n"
		"made that production lacks, and objects that differ (with the attribute),\n"
		"each with the migration that last touched it. Owners and privileges are\n"
		"compared only with --owners and --grants.\n\n"
		"Exit status: 0 no drift, 1 drift (or an applied migration that does not\n"
		"replay), 2 usage, config or connection errors.",
		options};
	cf_session *s = NULL;
	cf_drift_result *r = NULL;
	cf_error *err = NULL;
	int rc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	if (keep_server && server) {
		cli_error(
			"--keep-server goes with the embedded server, not --server");
		return CF_EXIT_USAGE;
	}
	if (from_dump && against) {
		cli_error("--against and --from-dump cannot be used together");
		return CF_EXIT_USAGE;
	}
	if ((rc = cli_open_session(&eo, &s)) != 0)
		return rc;
	opts.against_url = against;
	opts.dump_path = from_dump;
	opts.server_url = server;
	opts.cache_dir = cache_dir;
	opts.keep_server = keep_server;
	opts.owners = owners;
	opts.grants = grants;
	opts.project_dir = eo.project_dir;
	if (cf_session_drift(s, &opts, NULL, &r, &err) < 0) {
		cli_print_problems(stderr, &cf_session_migrations(s)->problems);
		rc = cli_fail(err, cli_json(&eo));
		cf_session_free(s);
		return rc;
	}
	if (cli_json(&eo))
		cli_json_print(drift_json(r));
	else
		drift_text(r);
	rc = r->n ? CF_EXIT_FAILURE : CF_EXIT_OK;
	cf_drift_result_free(r);
	cf_session_free(s);
	return rc;
}
