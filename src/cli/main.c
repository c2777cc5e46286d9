/*
 * main.c — entry point: global options, then dispatch through the command
 * table to one cmd_* function per command.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "cli.h"

const char *cli_program = "confiture";

struct cli_command {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
};

static const struct cli_command commands[] = {
	{"cache", cmd_cache, "list or clear cached schema-dump templates"},
	{"completion", cmd_completion,
	 "print a shell completion script (bash, zsh, fish)"},
	{"init", cmd_init, "create db/migrations and an example environment"},
	{"migrate", cmd_migrate,
	 "status, up, down, baseline, generate, preflight, drift"},
	{"server", cmd_server,
	 "start, stop or inspect the embedded PostgreSQL server"},
};

/*
 * SIGINT/SIGTERM: the first one cancels the statement in flight and lets the
 * command clean up (roll back, drop a clone) and exit; a second one kills.
 */
static void
on_signal(int sig)
{
	static volatile sig_atomic_t seen;

	if (seen) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	seen = 1;
	cf_cancel();
}

static void
install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: confiture [--color=auto|always|never] [--version] [--help]\n"
		"                 <command> [<args>]\n\n"
		"PostgreSQL schema migrations, compatible with the Python confiture.\n\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out,
		"\nexit codes: 0 success, 1 migration failure or pending, 2 usage, configuration or connection error\n"
		"See 'confiture <command> --help' and man confiture(1).\n");
}

int
main(int argc, char **argv)
{
	const char **args = (const char **)argv;
	enum cli_color color = CLI_COLOR_AUTO;
	char app[64];
	int i = 1;
	int rc;

	cli_program = argv[0];
	for (; i < argc && args[i][0] == '-'; i++) {
		const char *a = args[i];

		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			int lib = cf_libpq_version();

			printf("confiture %s\n", CF_VERSION);
			printf("parser: PostgreSQL %s grammar (libpg_query)\n",
			       cf_parser_version());
			if (lib > 0)
				printf("libpq: %d.%d\n", lib / 10000,
				       lib % 10000);
			else
				printf("libpq: not found (libpq.so.5 cannot be loaded)\n");
			return 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strncmp(a, "--color=", 8) == 0) {
			if (strcmp(a + 8, "always") == 0)
				color = CLI_COLOR_ALWAYS;
			else if (strcmp(a + 8, "never") == 0)
				color = CLI_COLOR_NEVER;
			else if (strcmp(a + 8, "auto") == 0)
				color = CLI_COLOR_AUTO;
			else {
				fprintf(stderr,
					"error: invalid value for --color: '%s'\nhint: use auto, always or never\n",
					a + 8);
				return CF_EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "error: unknown option '%s'\n", a);
			usage(stderr);
			return CF_EXIT_USAGE;
		}
	}
	cli_color_setup(color);
	install_signal_handlers();
	if (i >= argc) {
		usage(stderr);
		return CF_EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(commands[c].name, args[i]) == 0) {
			/* pg_query_exit() crashes when libpg_query never set up
			 * its memory context (commands that parse no SQL), so
			 * make sure it exists before releasing it. */
			pg_query_init();
			/* what pg_stat_activity shows for our connections */
			snprintf(app, sizeof(app), "confiture %s", args[i]);
			cf_set_application_name(app);
			rc = commands[c].fn(argc - i, args + i);
			pg_query_exit();
			return rc;
		}
	}
	fprintf(stderr, "error: unknown command '%s'\n", args[i]);
	usage(stderr);
	return CF_EXIT_USAGE;
}
