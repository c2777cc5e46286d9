/*
 * cmd_cache.c — `confiture cache list|clear`: the template databases that
 * preflight --from-dump keeps so that repeat runs skip loading the dump.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "12.3 MB" style size; buf must hold 32 bytes. */
static const char *
human_size(long long n, char *buf)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	int u = 0;

	if (n < 0)
		return "?";
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

static int
cache_list(int argc, const char **argv)
{
	const char *format = "text", *cache_dir = NULL;
	const struct cli_option options[] = {
		OPT_CHOICE('f', "format", &format, "FORMAT", "text or json",
			   cli_format_choices),
		OPT_STRING(
			0, "cache-dir", &cache_dir, "DIR",
			"cache directory (default $XDG_CACHE_HOME/confiture or ~/.cache/confiture)"),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture cache list [--format text|json] [--cache-dir DIR]",
		NULL};
	const struct cli_usage usage = {
		synopsis,
		"Lists the template databases made from schema dumps by\n"
		"'migrate preflight --from-dump', most recently used first. At most\n"
		"3 are kept per server (CONFITURE_CACHE_MAX overrides).",
		options};
	cf_cache_entry *v = NULL;
	cf_error *err = NULL;
	size_t n = 0;
	char *dir;
	int rc;
	bool json;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	json = strcmp(format, "json") == 0;
	if (cf_cache_list(cache_dir, &v, &n, &err) < 0)
		return cli_fail(err, json);
	dir = cf_cache_dir(cache_dir);
	if (json) {
		json_t *doc = json_object(), *list = json_array();

		for (size_t i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "template",
					    json_string(v[i].template_name));
			json_object_set_new(o, "dump_hash",
					    json_string(v[i].dump_hash));
			json_object_set_new(o, "server_major",
					    json_integer(v[i].server_major));
			json_object_set_new(o, "created_at",
					    json_string(v[i].created_at));
			json_object_set_new(o, "last_used_at",
					    json_string(v[i].last_used_at));
			json_object_set_new(
				o, "size_bytes",
				v[i].size_bytes >= 0 ?
					json_integer(v[i].size_bytes) :
					json_null());
			json_array_append_new(list, o);
		}
		json_object_set_new(doc, "cache_dir", json_string(dir));
		json_object_set_new(doc, "templates", list);
		json_object_set_new(doc, "total", json_integer((json_int_t)n));
		cli_json_print(doc);
	} else {
		FILE *o = stdout;
		char buf[32];

		fprintf(o, "%sTemplate cache%s  %s\n", cli_c(o, "bold"),
			cli_c(o, "reset"), dir);
		if (n == 0) {
			fprintf(o, "  no cached templates\n");
		} else {
			fprintf(o, "  %-24s %-5s %-9s %-25s %s\n", "TEMPLATE",
				"PG", "SIZE", "LAST USED", "DUMP SHA-256");
			for (size_t i = 0; i < n; i++)
				fprintf(o, "  %-24s %-5d %-9s %-25s %.16s\n",
					v[i].template_name, v[i].server_major,
					human_size(v[i].size_bytes, buf),
					v[i].last_used_at, v[i].dump_hash);
		}
		fprintf(o, "%zu template%s\n", n, n == 1 ? "" : "s");
	}
	free(dir);
	cf_cache_entries_free(v, n);
	return CF_EXIT_OK;
}

static int
cache_clear(int argc, const char **argv)
{
	const char *cache_dir = NULL;
	const struct cli_option options[] = {
		OPT_STRING(
			0, "cache-dir", &cache_dir, "DIR",
			"cache directory (default $XDG_CACHE_HOME/confiture or ~/.cache/confiture)"),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture cache clear [--cache-dir DIR]", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Drops every cached template database, stops a kept-warm embedded\n"
		"server and empties the cache directory.",
		options};
	cf_error *err = NULL;
	size_t removed = 0;
	int rc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0)
		return rc;
	rc = cf_cache_clear(cache_dir, &removed, &err);
	printf("removed %zu cached template%s\n", removed,
	       removed == 1 ? "" : "s");
	if (rc < 0)
		return cli_fail(err, false);
	return CF_EXIT_OK;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: confiture cache <subcommand> [<options>]\n\n"
		     "subcommands:\n"
		     "  list       list cached template databases\n"
		     "  clear      drop them and empty the cache directory\n"
		     "\nSee 'confiture cache <subcommand> --help'.\n");
}

int
cmd_cache(int argc, const char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CF_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CF_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return cache_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "clear") == 0)
		return cache_clear(argc - 1, argv + 1);
	fprintf(stderr, "error: unknown subcommand 'cache %s'\n", argv[1]);
	usage(stderr);
	return CF_EXIT_USAGE;
}
