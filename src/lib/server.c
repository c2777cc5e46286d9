/* server.c — placeholder: the embedded cluster is being written */
#include <stdlib.h>

#include "internal.h"

static int
not_yet(cf_error **err)
{
	return cf_fail(err, cf_error_new(CF_ERR_CONFIG, "the embedded server is not available in this build"));
}

int
cf_server_start(const cf_server_options *opts, cf_server **out, cf_error **err)
{
	(void)opts;
	*out = NULL;
	return not_yet(err);
}

const char *
cf_server_url(cf_server *srv, const char *dbname)
{
	(void)srv;
	(void)dbname;
	return NULL;
}

int
cf_server_major(const cf_server *srv)
{
	(void)srv;
	return 0;
}

const char *
cf_server_bindir(const cf_server *srv)
{
	(void)srv;
	return NULL;
}

void
cf_server_release(cf_server *srv, bool keep)
{
	(void)srv;
	(void)keep;
}

int
cf_server_stop_running(const cf_server_options *opts, bool *stopped, cf_error **err)
{
	(void)opts;
	*stopped = false;
	(void)err;
	return 0;
}
