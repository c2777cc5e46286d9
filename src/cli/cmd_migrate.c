/*
 * cmd_migrate.c — `confiture migrate <subcommand>`: the subcommand table
 * and the session setup the subcommands share.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const cli_format_choices[] = {"text", "table", "json", NULL};

struct cli_subcommand {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
};

static const struct cli_subcommand subcommands[] = {
	{"status", cmd_migrate_status, "list applied and pending migrations"},
	{"up", cmd_migrate_up, "apply pending migrations"},
	{"down", cmd_migrate_down, "roll back the last applied migrations"},
	{"baseline", cmd_migrate_baseline,
	 "record migrations as applied without running them"},
	{"generate", cmd_migrate_generate,
	 "write a new pair of migration files"},
	{"preflight", cmd_migrate_preflight,
	 "check and replay pending migrations on a disposable database"},
	{"drift", cmd_migrate_drift,
	 "compare production with its replayed history"},
	{"lint", cmd_migrate_lint,
	 "check migrations for unsafe deploy patterns"},
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: confiture migrate <subcommand> [<options>]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name,
			subcommands[i].summary);
	fprintf(out, "\nSee 'confiture migrate <subcommand> --help'.\n");
}

int
cmd_migrate(int argc, const char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CF_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CF_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		if (strcmp(subcommands[i].name, argv[1]) == 0) {
			char app[64];

			snprintf(app, sizeof(app), "confiture migrate %s",
				 argv[1]);
			cf_set_application_name(app);
			return subcommands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "error: unknown subcommand 'migrate %s'\n", argv[1]);
	usage(stderr);
	return CF_EXIT_USAGE;
}

bool
cli_json(const struct cli_env_opts *o)
{
	return o->format && strcmp(o->format, "json") == 0;
}

int
cli_open_session(const struct cli_env_opts *o, cf_session **out)
{
	cf_session_options so = {0};
	cf_error *err = NULL;
	const cf_config *cfg;

	so.project_dir = o->project_dir;
	so.env_name = o->env;
	so.config_path = o->config;
	so.database_url = o->database_url;
	so.migrations_dir = o->migrations_dir;
	so.postgres_version = o->postgres_version;
	if (cf_session_open(&so, out, &err) < 0)
		return cli_fail(err, cli_json(o));
	cfg = cf_session_config(*out);
	cli_print_problems(stderr, &cfg->warnings);
	return 0;
}
