/*
 * advisory.c — the migration lock: a session advisory lock with the Python
 * tool's key, so that both tools exclude each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int
cf_lock_acquire(PGconn *conn, int timeout_ms, cf_error **err)
{
	char key[16], timeout[32];
	const char *params[2] = {key, timeout};
	cf_error *e = NULL;
	PGresult *res;
	int32_t k;

	k = cf_lock_key(PQdb(conn));
	snprintf(key, sizeof(key), "%d", (int)k);
	snprintf(timeout, sizeof(timeout), "%dms", timeout_ms);
	/* lock_timeout bounds the wait on the heavyweight advisory lock;
	 * set_config(..., false) so the lock call itself is not in a
	 * transaction that later commands must end. */
	if (cf_db_exec_params(conn,
			      "SELECT set_config('lock_timeout', $1, false)", 1,
			      params + 1, err) < 0)
		return -1;
	res = cf_db_query(conn,
			  "SELECT pg_advisory_lock(" CF_STRINGIFY(
				  CF_LOCK_CLASS_ID) ", $1::int)",
			  1, params, &e);
	if (res)
		PQclear(res);
	/* Back to the session default, whatever happened. */
	PQclear(PQexec(conn, "RESET lock_timeout"));
	if (!res) {
		if (strcmp(e->sqlstate, "55P03") == 0) {
			cf_error *le = cf_error_new(
				CF_ERR_LOCK,
				"could not acquire the migration lock within %d ms",
				timeout_ms);

			cf_error_set_detail(
				le,
				"another migration process holds advisory lock (%d, %d) on database '%s'",
				CF_LOCK_CLASS_ID, (int)k, PQdb(conn));
			cf_error_set_hint(
				le,
				"wait for it to finish, or raise migration.locking.timeout_ms");
			cf_error_free(e);
			e = le;
		}
		return cf_fail(err, e);
	}
	return 0;
}

void
cf_lock_release(PGconn *conn)
{
	char key[16];
	const char *params[1] = {key};

	snprintf(key, sizeof(key), "%d", (int)cf_lock_key(PQdb(conn)));
	PQclear(PQexecParams(conn,
			     "SELECT pg_advisory_unlock(" CF_STRINGIFY(
				     CF_LOCK_CLASS_ID) ", $1::int)",
			     1, NULL, params, NULL, NULL, 0));
}
