/* cache.c — placeholder: provisioning and the template cache are being written */
#include <stdlib.h>

#include "internal.h"

int
cf_provision(const cf_provision_options *opts, cf_provisioned **out, cf_error **err)
{
	(void)opts;
	*out = NULL;
	return cf_fail(err, cf_error_new(CF_ERR_CONFIG, "provisioning is not available in this build"));
}

void
cf_provisioned_release(cf_provisioned *p)
{
	free(p);
}

int
cf_cache_list(const char *cache_dir, cf_cache_entry **entries, size_t *n, cf_error **err)
{
	(void)cache_dir;
	(void)err;
	*entries = NULL;
	*n = 0;
	return 0;
}

void
cf_cache_entries_free(cf_cache_entry *entries, size_t n)
{
	(void)n;
	free(entries);
}

int
cf_cache_clear(const char *cache_dir, size_t *removed, cf_error **err)
{
	(void)cache_dir;
	(void)err;
	*removed = 0;
	return 0;
}

char *
cf_cache_dir(const char *override)
{
	return cf_strdup(override ? override : "");
}
