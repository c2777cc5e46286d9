/* cmd_migrate_down.c — placeholder */
#include "cli.h"
