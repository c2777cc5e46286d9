/*
 * cmd_migrate_baseline.c — `confiture migrate baseline --through V`.
 */
#include "cli.h"

int
cmd_migrate_baseline(int argc, const char **argv)
{
	return cli_run_command(argc, argv, "baseline");
}
