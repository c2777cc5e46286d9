/* cmd_init.c — placeholder */
#include "cli.h"
