/*
 * advisory.c — the migration lock: a session advisory lock with the Python
 * tool's key, so that both tools exclude each other.
 *
 * The lock is never waited for inside the server.  A backend blocked in
 * pg_advisory_lock() holds the snapshot of its statement, and CREATE INDEX
 * CONCURRENTLY, run by the lock's holder, waits for every older snapshot:
 * the holder waits for the waiter, the waiter for the holder's lock, and
 * the server cancels the index build as a deadlock.  So we poll
 * pg_try_advisory_lock(), one short statement per try, sleeping in between
 * on the client side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"

/* Backoff between tries: from FIRST_MS, doubling, up to MAX_MS, with
 * jitter so that many waiters do not try in step. */
#define TRY_FIRST_MS 25
#define TRY_MAX_MS 500
/* How often on_wait hears about the holder. */
#define REPORT_EVERY_MS 2000

static void
key_params(PGconn *conn, char key[16])
{
	snprintf(key, 16, "%d", (int)cf_lock_key(PQdb(conn)));
}

/* 1: taken, 0: held by another session, -1: error. */
static int
try_lock(PGconn *conn, const char *key, cf_error **err)
{
	const char *params[1] = {key};
	PGresult *res;
	int rc;

	res = cf_db_query(conn,
			  "SELECT pg_try_advisory_lock(" CF_STRINGIFY(
				  CF_LOCK_CLASS_ID) ", $1::int)",
			  1, params, err);
	if (!res)
		return -1;
	rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

static char *
value_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL :
					  cf_strdup(PQgetvalue(res, 0, col));
}

/*
 * Makes text one printable line in place: control characters (C0, DEL and
 * C1, which a terminal may obey) become spaces, and text that is not UTF-8
 * keeps only its ASCII.
 */
static void
printable_line(char *q)
{
	size_t len = strlen(q), bad;
	unsigned char *p = (unsigned char *)q;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			p[i] = ' ';
		else if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
			 p[i + 1] < 0xa0) {
			p[i] = ' ';
			memmove(p + i + 1, p + i + 2, len - i - 1);
			len--;
		}
	}
	if (!cf_utf8_valid(q, len, &bad))
		for (size_t i = 0; i < len; i++)
			if (p[i] >= 0x80)
				p[i] = '?';
}

/* See db.h. */
char *
cf_db_safe_query(char *q)
{
	char *out;
	size_t cut;

	if (!q)
		return NULL;
	if (strcasestr(q, "password")) {
		free(q);
		return cf_strdup("(statement hidden: it mentions a password)");
	}
	if (strstr(q, "://")) {
		out = cf_redact_url(q);
		free(q);
		q = out;
	}
	printable_line(q);
	cut = cf_utf8_char_offset(q, strlen(q), CF_DB_QUERY_SHOWN_CHARS);
	if (q[cut] == '\0')
		return q;
	out = cf_asprintf("%.*s ...", (int)cut, q);
	free(q);
	return out;
}

/*
 * Reads who holds the lock now into *h (caller frees with
 * cf_lock_holder_release()).  Returns 1 when found, 0 when nobody holds it,
 * -1 on error.
 */
static int
read_holder(PGconn *conn, const char *key, cf_lock_holder *h, cf_error **err)
{
	const char *params[1] = {key};
	PGresult *res;

	memset(h, 0, sizeof(*h));
	res = cf_db_query(
		conn,
		"SELECT coalesce(l.pid, 0), a.application_name,"
		" coalesce(host(a.client_addr),"
		"  CASE WHEN a.client_port = -1 THEN 'local socket' END),"
		" to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'),"
		" a.state,"
		" to_char(a.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'),"
		" a.query"
		" FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
		" WHERE l.locktype = 'advisory' AND l.granted"
		" AND l.database = (SELECT oid FROM pg_database"
		"   WHERE datname = current_database())"
		" AND l.classid = " CF_STRINGIFY(
			CF_LOCK_CLASS_ID) "::oid AND l.objid = $1::int::oid"
					  " AND l.objsubid = 2"
					  " AND l.pid IS DISTINCT FROM "
					  "pg_backend_pid()"
					  " LIMIT 1",
		1, params, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	h->pid = atol(PQgetvalue(res, 0, 0));
	h->application_name = value_or_null(res, 1);
	h->client = value_or_null(res, 2);
	h->backend_start = value_or_null(res, 3);
	h->state = value_or_null(res, 4);
	h->query_start = value_or_null(res, 5);
	h->query = cf_db_safe_query(value_or_null(res, 6));
	PQclear(res);
	return 1;
}

/* See db.h. */
void
cf_lock_holder_release(cf_lock_holder *h)
{
	free(h->application_name);
	free(h->client);
	free(h->backend_start);
	free(h->state);
	free(h->query_start);
	free(h->query);
	memset(h, 0, sizeof(*h));
}

/* See confiture.h. */
char *
cf_lock_holder_text(const cf_lock_holder *h)
{
	if (h->pid == 0)
		return cf_strdup(
			"a prepared transaction (see pg_prepared_xacts)");
	return cf_asprintf(
		"pid %ld (application_name '%s', %s, connected since %s), %s since %s: %s",
		h->pid, h->application_name ? h->application_name : "",
		h->client ? h->client : "client unknown",
		h->backend_start ? h->backend_start : "?",
		h->state ? h->state : "state unknown",
		h->query_start ? h->query_start : "?",
		h->query ? h->query : "");
}

static cf_error *
timeout_error(PGconn *conn, int timeout_ms, const char *key,
	      const cf_lock_holder *last)
{
	cf_error *le = cf_error_new(
		CF_ERR_LOCK,
		"could not acquire the migration lock within %d ms",
		timeout_ms);
	char *who = last && last->pid ? cf_lock_holder_text(last) : NULL;

	cf_error_set_detail(
		le,
		"another migration process holds advisory lock (%d, %s) on database '%s'%s%s",
		CF_LOCK_CLASS_ID, key, PQdb(conn), who ? "; held by " : "",
		who ? who : "");
	cf_error_set_hint(
		le,
		"wait for it to finish, or raise migration.locking.timeout_ms; a session whose client is gone can be ended with SELECT pg_terminate_backend(PID)");
	cf_error_set_code(le, "lock-timeout");
	free(who);
	return le;
}

int
cf_lock_acquire(PGconn *conn, int timeout_ms, cf_lock_wait_fn on_wait,
		void *arg, cf_error **err)
{
	char key[16];
	cf_lock_holder last = {0};
	double t0 = cf_now_ms(), next_report = 0;
	long delay = TRY_FIRST_MS;
	uint32_t jitter;
	int rc;

	key_params(conn, key);
	/* seeded per process so that concurrent runs spread their tries */
	jitter = (uint32_t)getpid() * 2654435761u ^ (uint32_t)t0;
	for (;;) {
		double waited;

		rc = try_lock(conn, key, err);
		if (rc != 0)
			break;
		waited = cf_now_ms() - t0;
		if (waited >= next_report) {
			cf_lock_holder h;
			int found = read_holder(conn, key, &h, err);

			if (found < 0) {
				rc = -1;
				break;
			}
			if (found) {
				cf_lock_holder_release(&last);
				last = h;
			}
			if (on_wait)
				on_wait(arg, found ? &last : NULL, waited);
			next_report = waited + REPORT_EVERY_MS;
		}
		if (cf_cancel_requested()) {
			cf_error *e = cf_error_new(
				CF_ERR_LOCK,
				"interrupted while waiting for the migration lock");

			cf_error_set_code(e, "interrupted");
			rc = cf_fail(err, e);
			break;
		}
		if (timeout_ms > 0 && waited >= timeout_ms) {
			rc = cf_fail(err,
				     timeout_error(conn, timeout_ms, key,
						   last.pid ? &last : NULL));
			break;
		}
		{
			long sleep_ms;

			jitter ^= jitter << 13;
			jitter ^= jitter >> 17;
			jitter ^= jitter << 5;
			sleep_ms = delay / 2 +
				   (long)(jitter % (uint32_t)(delay / 2 + 1));

			if (timeout_ms > 0 && waited + sleep_ms > timeout_ms)
				sleep_ms = (long)(timeout_ms - waited) + 1;
			cf_sleep_ms(sleep_ms);
		}
		if (delay < TRY_MAX_MS)
			delay = delay * 2 > TRY_MAX_MS ? TRY_MAX_MS : delay * 2;
	}
	cf_lock_holder_release(&last);
	return rc > 0 ? 0 : -1;
}

void
cf_lock_release(PGconn *conn)
{
	char key[16];
	const char *params[1] = {key};

	key_params(conn, key);
	PQclear(PQexecParams(conn,
			     "SELECT pg_advisory_unlock(" CF_STRINGIFY(
				     CF_LOCK_CLASS_ID) ", $1::int)",
			     1, NULL, params, NULL, NULL, 0));
}
