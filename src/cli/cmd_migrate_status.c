/* cmd_migrate_status.c — placeholder */
#include "cli.h"
