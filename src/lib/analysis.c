/* analysis.c — placeholder, being written */
#include "analysis.h"
