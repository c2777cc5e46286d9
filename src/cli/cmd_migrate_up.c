/* cmd_migrate_up.c — placeholder */
#include "cli.h"
