/*
 * preflight_drift.c — `migrate preflight --explain-drift`: when migrations
 * fail, run `migrate drift` on the environment's database and add to each
 * failure's hint the hand-made objects it involves.
 */
#include "cli.h"

void
cli_explain_drift(cf_session *s, cf_preflight_result *r,
		  const cf_drift_options *opts)
{
	cf_drift_result *d = NULL;
	cf_error *err = NULL;

	if (!r->failed)
		return;
	if (cf_session_drift(s, opts, NULL, &d, &err) < 0) {
		cli_warning("--explain-drift: drift could not be computed: %s",
			    err->message);
		cf_error_free(err);
		return;
	}
	cf_preflight_explain_drift(r, d);
	cf_drift_result_free(d);
}
