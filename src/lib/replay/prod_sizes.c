/*
 * prod_sizes.c — production's size of each relation the replay touched,
 * from its catalog statistics (reltuples, relpages) and
 * pg_total_relation_size: never a row.  One short read-only transaction;
 * a lock or statement that would wait gives up quickly.
 */
#include <stdlib.h>
#include <string.h>

#include "replay/risk.h"

/* Production is live: never wait on it, never write to it. */
static const char prod_options[] = "-c statement_timeout=5000 "
				   "-c lock_timeout=1000 "
				   "-c default_transaction_read_only=on";

static void
fill(cf_preflight_result *r, const char *schema, const char *name, double rows,
     long long pages, long long bytes)
{
	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];

		for (size_t s = 0; s < pm->n_statements; s++)
			for (size_t k = 0; k < pm->statements[s].n_locks; k++) {
				cf_risk_lock *l = &pm->statements[s].locks[k];

				if (strcmp(l->schema, schema) == 0 &&
				    strcmp(l->name, name) == 0) {
					l->rows = rows;
					l->pages = pages;
					l->bytes = bytes;
				}
			}
	}
}

/* Has an earlier lock of r named the same relation? (asked once each) */
static bool
asked(const cf_preflight_result *r, size_t mi, size_t si, size_t ki)
{
	const cf_risk_lock *x = &r->migrations[mi].statements[si].locks[ki];

	for (size_t i = 0; i <= mi; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];

		for (size_t s = 0; s < pm->n_statements; s++)
			for (size_t k = 0; k < pm->statements[s].n_locks; k++) {
				const cf_risk_lock *l =
					&pm->statements[s].locks[k];

				if (i == mi && s == si && k == ki)
					return false;
				if (strcmp(l->relation, x->relation) == 0)
					return true;
			}
	}
	return false;
}

static int
read_one(PGconn *conn, const cf_risk_lock *l, cf_preflight_result *r,
	 cf_error **err)
{
	const char *params[2] = {l->schema, l->name};
	PGresult *res = cf_db_query(
		conn,
		"SELECT c.reltuples, c.relpages, pg_total_relation_size(c.oid)"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2",
		2, params, err);

	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		double rows = atof(PQgetvalue(res, 0, 0));

		/* -1: never vacuumed nor analyzed (PostgreSQL 14+) */
		fill(r, l->schema, l->name, rows < 0 ? -1 : rows,
		     atoll(PQgetvalue(res, 0, 1)),
		     PQgetisnull(res, 0, 2) ? -1 :
					      atoll(PQgetvalue(res, 0, 2)));
	}
	PQclear(res);
	return 0;
}

void
cf_risk_read_sizes(cf_preflight_result *r, const char *url)
{
	PGconn *conn = NULL;
	cf_error *e = NULL;
	int rc = 0;

	if (!url || !*url) {
		r->sizes_note = cf_strdup(
			"production sizes unknown: no --env database to read them from");
		return;
	}
	if (cf_db_connect(url, prod_options, &conn, &e) < 0 ||
	    cf_db_exec(conn, "BEGIN READ ONLY", &e) < 0) {
		char *msg = cf_redact_message(e->message, url);

		r->sizes_note = cf_asprintf(
			"production sizes unknown: cannot read them: %s", msg);
		free(msg);
		cf_error_free(e);
		if (conn)
			PQfinish(conn);
		return;
	}
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		cf_preflight_migration *pm = &r->migrations[i];

		for (size_t s = 0; s < pm->n_statements && rc == 0; s++)
			for (size_t k = 0;
			     k < pm->statements[s].n_locks && rc == 0; k++)
				if (!asked(r, i, s, k))
					rc = read_one(
						conn,
						&pm->statements[s].locks[k], r,
						&e);
	}
	if (rc < 0) {
		char *msg = cf_redact_message(e->message, url);

		r->sizes_note = cf_asprintf(
			"production sizes partly unknown: reading them failed: %s",
			msg);
		free(msg);
		cf_error_free(e);
	}
	PQclear(PQexec(conn, "ROLLBACK"));
	PQfinish(conn);
	r->sizes_from = cf_redact_url(url);
}
