/* cmd_migrate.c — placeholder */
#include "cli.h"
