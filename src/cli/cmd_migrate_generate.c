/*
 * cmd_migrate_generate.c — `confiture migrate generate NAME`: writes a new
 * timestamped pair of .up.sql / .down.sql files.
 */
#include <stdlib.h>

#include "cli.h"

int
cmd_migrate_generate(int argc, const char **argv)
{
	const char *dir = NULL, *project = NULL;
	const struct cli_option options[] = {
		OPT_STRING(0, "migrations-dir", &dir, "DIR",
			   "where to write (default db/migrations)"),
		OPT_STRING('C', "project-dir", &project, "DIR",
			   "project root holding db/ (default .)"),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture migrate generate NAME [--migrations-dir DIR]", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Writes <YYYYMMDDHHMMSS>_NAME.up.sql and .down.sql. NAME uses lowercase\n"
		"letters, digits and underscores.",
		options};
	cf_error *err = NULL;
	char *up = NULL, *down = NULL, *owned = NULL;
	int npos, rc;

	rc = cli_parse(argc, argv, &usage, &npos);
	if (rc != CLI_PARSE_OK)
		return rc == CLI_PARSE_HELP ? CF_EXIT_OK : CF_EXIT_USAGE;
	if (npos != 1) {
		cli_error(npos == 0 ? "missing migration NAME" :
				      "too many arguments");
		fprintf(stderr,
			"hint: confiture migrate generate add_users_table\n");
		return CF_EXIT_USAGE;
	}
	if (!dir) {
		/* same spelling as the session's paths: no "./" prefix */
		owned = project ? cli_asprintf("%s/db/migrations", project) :
				  cli_asprintf("db/migrations");
		dir = owned;
	}
	if (cf_generate_migration(dir, argv[0], &up, &down, &err) < 0) {
		free(owned);
		return cli_fail(err, false);
	}
	printf("created %s\ncreated %s\n", up, down);
	free(up);
	free(down);
	free(owned);
	return CF_EXIT_OK;
}
