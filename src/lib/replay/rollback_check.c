/*
 * rollback_check.c — `preflight --check-down`: does each .down.sql undo
 * its .up.sql?  For each migration that passes in clone mode: run the
 * down through the same engine, compare a schema snapshot with the one
 * taken before the up, then run the up again (a rollback must leave the
 * migration re-appliable).  Verdicts: reversible, down fails, down
 * incomplete (with the differences), no down, not re-appliable.
 */
#include <stdlib.h>
#include <string.h>

#include "replay/rollback_check.h"
#include "schema/schema.h"

struct cf_rollback_checker {
	cf_schema *before; /* schema before the next migration */
};

static const char *const status_names[] = {
	[CF_DOWN_NOT_CHECKED] = "not checked",
	[CF_DOWN_REVERSIBLE] = "reversible",
	[CF_DOWN_FAILS] = "down fails",
	[CF_DOWN_INCOMPLETE] = "down incomplete",
	[CF_DOWN_MISSING] = "no down",
	[CF_DOWN_NOT_REAPPLIABLE] = "not re-appliable",
};

const char *
cf_down_status_name(cf_down_status status)
{
	return status <= CF_DOWN_NOT_REAPPLIABLE ? status_names[status] :
						   "unknown";
}

cf_rollback_checker *
cf_rollback_checker_begin(PGconn *conn, cf_error **err)
{
	cf_rollback_checker *rc = cf_new(cf_rollback_checker);

	if (cf_schema_snapshot_conn(conn, NULL, &rc->before, err) < 0) {
		free(rc);
		return NULL;
	}
	return rc;
}

/* Replaces the "before" state with the database's current schema. */
static int
refresh(cf_rollback_checker *rc, PGconn *conn, cf_error **err)
{
	cf_schema *now;

	if (cf_schema_snapshot_conn(conn, NULL, &now, err) < 0)
		return -1;
	cf_schema_free(rc->before);
	rc->before = now;
	return 0;
}

/* Runs the down, compares, runs the up again. */
static void
check(cf_rollback_checker *rc, cf_engine *engine, cf_preflight_migration *pm)
{
	const cf_migration *m = pm->migration;
	cf_down_check *d = &pm->down;
	cf_schema *after_down = NULL;
	cf_outcome o;
	cf_error *err = NULL;

	if (cf_engine_apply(engine, m, true, &o) < 0) {
		d->status = CF_DOWN_FAILS;
		d->error = o.error;
		free(o.skipped_reason);
		return;
	}
	free(o.skipped_reason);
	if (cf_schema_snapshot_conn(engine->conn, NULL, &after_down, &err) <
	    0) {
		d->error = err;
		return;
	}
	d->diff = cf_schema_diff_compute(rc->before, after_down);
	cf_schema_free(after_down);
	d->status = d->diff->n ? CF_DOWN_INCOMPLETE : CF_DOWN_REVERSIBLE;
	if (cf_engine_apply(engine, m, false, &o) < 0) {
		char *msg = o.error->message;

		/* an incomplete down usually explains the failure: keep
		 * that verdict, with the failure as its consequence */
		if (d->status == CF_DOWN_REVERSIBLE)
			d->status = CF_DOWN_NOT_REAPPLIABLE;
		o.error->message = cf_asprintf(
			"the up fails again after the down: %s", msg);
		free(msg);
		d->error = o.error;
	}
	free(o.skipped_reason);
}

void
cf_rollback_checker_after(cf_rollback_checker *rc, cf_engine *engine,
			  cf_preflight_migration *pm)
{
	cf_error *err = NULL;

	if (pm->outcome.kind == CF_OUTCOME_OK) {
		if (!pm->migration->down)
			pm->down.status = CF_DOWN_MISSING;
		else
			check(rc, engine, pm);
	} else if (!pm->outcome.autocommit) {
		return; /* rolled back: the schema is as before */
	}
	if (PQstatus(engine->conn) == CONNECTION_OK &&
	    refresh(rc, engine->conn, &err) < 0 && !pm->down.error)
		pm->down.error = err;
	else
		cf_error_free(err);
}

void
cf_rollback_checker_free(cf_rollback_checker *rc)
{
	if (!rc)
		return;
	cf_schema_free(rc->before);
	free(rc);
}

void
cf_down_check_release(cf_down_check *d)
{
	cf_schema_diff_free(d->diff);
	cf_error_free(d->error);
	memset(d, 0, sizeof(*d));
}
