/* cmd_migrate_baseline.c — placeholder */
#include "cli.h"
