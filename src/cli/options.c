/* options.c — placeholder */
#include "cli.h"
