/*
 * cmd_init.c — `confiture init [DIR]`: scaffolds db/migrations,
 * db/environments/local.yaml and db/schema without overwriting anything.
 */
#include <stdlib.h>

#include "cli.h"

int
cmd_init(int argc, const char **argv)
{
	const struct cli_option options[] = {OPT_END()};
	static const char *const synopsis[] = {"confiture init [DIR]", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Creates the project layout in DIR (default .): db/migrations,\n"
		"db/environments/local.yaml and db/schema. Existing files are kept.",
		options};
	cf_error *err = NULL;
	char **created = NULL;
	int npos, rc;
	size_t n = 0;

	rc = cli_parse(argc, argv, &usage, &npos);
	if (rc != CLI_PARSE_OK)
		return rc == CLI_PARSE_HELP ? CF_EXIT_OK : CF_EXIT_USAGE;
	if (npos > 1) {
		cli_error("too many arguments");
		return CF_EXIT_USAGE;
	}
	if (cf_scaffold_project(npos ? argv[0] : ".", &created, &err) < 0)
		return cli_fail(err, false);
	for (; created && created[n]; n++) {
		printf("created %s\n", created[n]);
		free(created[n]);
	}
	free(created);
	if (n == 0)
		printf("nothing to do: the project layout already exists\n");
	else
		printf("next: edit db/environments/local.yaml, then 'confiture migrate generate NAME'\n");
	return CF_EXIT_OK;
}
