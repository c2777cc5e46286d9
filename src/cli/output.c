/* output.c — placeholder */
#include "cli.h"
