/* dump.c — placeholder: schema dumps are being written */
#include <stdlib.h>

#include "internal.h"

int
cf_dump_schema(const char *url, const char *bindir, const char *cache_dir, char **dump_path, cf_error **err)
{
	(void)url;
	(void)bindir;
	(void)cache_dir;
	*dump_path = NULL;
	return cf_fail(err, cf_error_new(CF_ERR_CONFIG, "pg_dump support is not available in this build"));
}
