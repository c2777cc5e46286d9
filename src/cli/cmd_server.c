/*
 * cmd_server.c — `confiture server start|stop|status`: the embedded
 * PostgreSQL cluster that `migrate preflight --from-dump` starts by itself.
 *
 *   start   starts it (creating it on first use) and leaves it running,
 *           then prints its URL: later preflights attach to it at once,
 *           and tests and users can reach it with psql "$(... start)"
 *   stop    stops it if it is running
 *   status  says whether it runs, where its data and socket are, and its
 *           version
 *
 * Server binaries: --bindir, else $CONFITURE_PG_BINDIR, else searched (see
 * server.c).
 */
#include <string.h>

#include "cli.h"

/* Options every subcommand shares. */
struct server_opts {
	const char *cache_dir;
	const char *bindir;
	int major;
};

#define SERVER_CACHE_OPTION(o)                          \
	OPT_STRING(                                     \
		0, "cache-dir", &(o)->cache_dir, "DIR", \
		"cache directory (default $XDG_CACHE_HOME/confiture or ~/.cache/confiture)")

static int
server_start(int argc, const char **argv)
{
	struct server_opts so = {0};
	const struct cli_option options[] = {
		SERVER_CACHE_OPTION(&so),
		OPT_INT(0, "major", &so.major, "N",
			"PostgreSQL major version (default: newest installed)"),
		OPT_STRING(
			0, "bindir", &so.bindir, "DIR",
			"server binaries (default $CONFITURE_PG_BINDIR, else searched)"),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture server start [--cache-dir DIR] [--major N] [--bindir DIR]",
		NULL};
	const struct cli_usage usage = {
		synopsis,
		"Starts the embedded PostgreSQL server (creating it on first use) and\n"
		"leaves it running, so that later preflights attach to it at once.\n"
		"Prints its URL (database postgres) on stdout. Stop it with\n"
		"'confiture server stop'.",
		options};
	cf_server_options opts = {0};
	cf_server *srv = NULL;
	cf_error *err = NULL;
	int rc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	opts.cache_dir = so.cache_dir;
	opts.bindir = so.bindir;
	opts.major_version = so.major;
	if (cf_server_start(&opts, &srv, &err) < 0)
		return cli_fail(err, false);
	printf("%s\n", cf_server_url(srv, "postgres"));
	cf_server_release(srv, true);
	return CF_EXIT_OK;
}

static int
server_stop(int argc, const char **argv)
{
	struct server_opts so = {0};
	const struct cli_option options[] = {
		SERVER_CACHE_OPTION(&so),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture server stop [--cache-dir DIR]", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Stops the embedded PostgreSQL server if it is running (every major\n"
		"version). Its data, and the cached templates, are kept.",
		options};
	cf_server_options opts = {0};
	cf_error *err = NULL;
	bool stopped = false;
	int rc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	opts.cache_dir = so.cache_dir;
	if (cf_server_stop_running(&opts, &stopped, &err) < 0)
		return cli_fail(err, false);
	printf("%s\n", stopped ? "stopped the embedded server" :
				 "the embedded server was not running");
	return CF_EXIT_OK;
}

static int
server_status(int argc, const char **argv)
{
	struct server_opts so = {0};
	const struct cli_option options[] = {
		SERVER_CACHE_OPTION(&so),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture server status [--cache-dir DIR]", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Says whether the embedded PostgreSQL server runs, and where its data\n"
		"directory and socket are. Exit status 0 either way.",
		options};
	cf_server_options opts = {0};
	cf_server_info *info = NULL;
	cf_error *err = NULL;
	size_t n = 0;
	int rc;
	FILE *o = stdout;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	opts.cache_dir = so.cache_dir;
	if (cf_server_list(&opts, &info, &n, &err) < 0)
		return cli_fail(err, false);
	if (n == 0)
		fprintf(o, "embedded server: not running (never created)\n");
	for (size_t i = 0; i < n; i++) {
		const cf_server_info *in = &info[i];

		fprintf(o, "%sembedded server %d%s: %s%s%s", cli_c(o, "bold"),
			in->major, cli_c(o, "reset"),
			cli_c(o, in->running ? "green" : "dim"),
			in->running ? "running" : "not running",
			cli_c(o, "reset"));
		if (in->running)
			fprintf(o, " (pid %ld)", in->pid);
		fprintf(o, "\n  version:  %s\n  data dir: %s\n",
			in->version ? in->version : "unknown", in->data_dir);
		if (in->running)
			fprintf(o, "  socket:   %s (port %d)\n  url:      %s\n",
				in->socket_dir, in->port, in->url);
	}
	cf_server_info_free(info, n);
	return CF_EXIT_OK;
}

static const struct {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
} subcommands[] = {
	{"start", server_start,
	 "start the embedded server and keep it running"},
	{"status", server_status, "show whether the embedded server runs"},
	{"stop", server_stop, "stop the embedded server"},
};

static void
usage_text(FILE *out)
{
	fprintf(out,
		"usage: confiture server <subcommand> [<options>]\n\n"
		"The PostgreSQL server confiture runs for 'migrate preflight --from-dump'.\n\n"
		"subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name,
			subcommands[i].summary);
	fprintf(out, "\nSee 'confiture server <subcommand> --help'.\n");
}

int
cmd_server(int argc, const char **argv)
{
	if (argc < 2) {
		usage_text(stderr);
		return CF_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_text(stdout);
		return CF_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		if (strcmp(subcommands[i].name, argv[1]) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "error: unknown subcommand 'server %s'\n", argv[1]);
	usage_text(stderr);
	return CF_EXIT_USAGE;
}
