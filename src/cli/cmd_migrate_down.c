/*
 * cmd_migrate_down.c — `confiture migrate down [-n N]`.
 */
#include "cli.h"

int
cmd_migrate_down(int argc, const char **argv)
{
	return cli_run_command(argc, argv, "down");
}
