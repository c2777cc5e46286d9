/* cmd_migrate_generate.c — placeholder */
#include "cli.h"
