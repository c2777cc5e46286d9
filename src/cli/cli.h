/* cli.h — placeholder */
#include "confiture.h"
