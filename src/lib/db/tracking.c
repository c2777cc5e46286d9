/*
 * tracking.c — the tb_confiture tracking table, byte-for-byte the Python
 * tool's (v0.9.4): same columns, types, defaults, indexes and row format,
 * so either tool can take over a database from the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"

char *
cf_tracking_ident(const cf_config *cfg)
{
	char *name = cf_quote_ident(cfg->tracking_name);
	char *schema, *out;

	if (!cfg->tracking_schema)
		return name;
	schema = cf_quote_ident(cfg->tracking_schema);
	out = cf_asprintf("%s.%s", schema, name);
	free(schema);
	free(name);
	return out;
}

/* The columns a tracking table must have, in order, with format_type(). */
static const struct {
	const char *name;
	const char *type;
} expected_columns[] = {
	{"id", "uuid"},
	{"pk_confiture", "bigint"},
	{"slug", "text"},
	{"version", "character varying(255)"},
	{"name", "character varying(255)"},
	{"applied_at", "timestamp with time zone"},
	{"execution_time_ms", "integer"},
	{"checksum", "character varying(64)"},
};
#define N_EXPECTED (sizeof(expected_columns) / sizeof(expected_columns[0]))

/*
 * Column list of the table, or no rows when it does not exist.  to_regclass
 * resolves an unqualified name through search_path, as the INSERTs will.
 */
static const char columns_sql[] =
	"SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
	"       a.attnotnull, a.atthasdef OR a.attidentity <> ''"
	"  FROM pg_attribute a"
	" WHERE a.attrelid = to_regclass($1) AND a.attnum > 0"
	"   AND NOT a.attisdropped"
	" ORDER BY a.attnum";

int
cf_tracking_check(PGconn *conn, const cf_config *cfg, bool *exists,
		  cf_error **err)
{
	char *ident = cf_tracking_ident(cfg);
	const char *params[1] = {ident};
	PGresult *res = cf_db_query(conn, columns_sql, 1, params, err);
	cf_strbuf problems = CF_STRBUF_INIT;
	int rows;

	if (!res) {
		free(ident);
		return -1;
	}
	rows = PQntuples(res);
	*exists = rows > 0;
	for (int i = 0; i < rows; i++) {
		const char *col = PQgetvalue(res, i, 0);
		const char *type = PQgetvalue(res, i, 1);

		if ((size_t)i < N_EXPECTED) {
			if (strcmp(col, expected_columns[i].name) != 0 ||
			    strcmp(type, expected_columns[i].type) != 0)
				cf_strbuf_addf(
					&problems,
					"%scolumn %d is %s %s, expected %s %s",
					problems.len ? "; " : "", i + 1, col,
					type, expected_columns[i].name,
					expected_columns[i].type);
		} else if (PQgetvalue(res, i, 2)[0] == 't' &&
			   PQgetvalue(res, i, 3)[0] != 't') {
			/* Later Python versions add nullable columns
			 * (applied_by, ...): fine, we can still insert. */
			cf_strbuf_addf(
				&problems,
				"%sextra column %s is NOT NULL without a default",
				problems.len ? "; " : "", col);
		}
	}
	if (rows > 0 && (size_t)rows < N_EXPECTED)
		cf_strbuf_addf(&problems, "%sonly %d of %zu columns",
			       problems.len ? "; " : "", rows, N_EXPECTED);
	PQclear(res);
	if (problems.len) {
		cf_error *e = cf_error_new(
			CF_ERR_TRACKING,
			"tracking table %s has an unexpected shape", ident);

		cf_error_set_detail(e, "%s", problems.buf);
		cf_error_set_hint(
			e,
			"it must match the Python confiture's tb_confiture (id, pk_confiture, slug, version, name, applied_at, execution_time_ms, checksum); point migration.tracking_table at another table or fix it by hand");
		cf_strbuf_release(&problems);
		free(ident);
		return cf_fail(err, e);
	}
	free(ident);
	return 0;
}

int
cf_tracking_ensure(PGconn *conn, const cf_config *cfg, cf_error **err)
{
	bool exists;
	char *ident, *base, *sql;
	int rc = 0;
	static const char *const index_cols[][2] = {
		{"pk_confiture", "pk_confiture"},
		{"slug", "slug"},
		{"version", "version"},
		{"applied_at", "applied_at DESC"},
	};

	if (cf_tracking_check(conn, cfg, &exists, err) < 0)
		return -1;
	if (exists)
		return 0;

	ident = cf_tracking_ident(cfg);
	base = cf_strdup(cfg->tracking_name);
	if (cf_db_exec(conn, "BEGIN", err) < 0) {
		free(ident);
		free(base);
		return -1;
	}
	sql = cf_asprintf(
		"CREATE TABLE %s (\n"
		"    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),\n"
		"    pk_confiture BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,\n"
		"    slug TEXT NOT NULL UNIQUE,\n"
		"    version VARCHAR(255) NOT NULL UNIQUE,\n"
		"    name VARCHAR(255) NOT NULL,\n"
		"    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),\n"
		"    execution_time_ms INTEGER,\n"
		"    checksum VARCHAR(64)\n"
		")",
		ident);
	rc = cf_db_exec(conn, sql, err);
	free(sql);
	for (size_t i = 0; rc == 0 && i < 4; i++) {
		char *idx_name = cf_asprintf("idx_%s_%s", base,
					     index_cols[i][0]);
		char *qidx = cf_quote_ident(idx_name);

		sql = cf_asprintf("CREATE INDEX %s ON %s(%s)", qidx, ident,
				  index_cols[i][1]);
		rc = cf_db_exec(conn, sql, err);
		free(sql);
		free(qidx);
		free(idx_name);
	}
	if (rc == 0)
		rc = cf_db_exec(conn, "COMMIT", err);
	if (rc < 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		if (err && *err) {
			cf_error *e = *err;
			char *m = e->message;

			e->kind = CF_ERR_TRACKING;
			e->message = cf_asprintf(
				"cannot create tracking table %s: %s", ident,
				m);
			free(m);
		}
	}
	free(ident);
	free(base);
	return rc;
}

static int
applied_cmp_numeric(const void *a, const void *b)
{
	return cf_version_compare(((const cf_applied *)a)->version,
				  ((const cf_applied *)b)->version, true);
}

static int
applied_cmp_bytes(const void *a, const void *b)
{
	return cf_version_compare(((const cf_applied *)a)->version,
				  ((const cf_applied *)b)->version, false);
}

static int
applied_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const cf_applied *const *)a)->version,
		      (*(const cf_applied *const *)b)->version);
}

int
cf_tracking_read(PGconn *conn, const cf_config *cfg, bool numeric,
		 cf_applied_list *list, cf_error **err)
{
	bool exists;
	char *ident, *sql;
	PGresult *res;
	int rows;

	memset(list, 0, sizeof(*list));
	if (cf_tracking_check(conn, cfg, &exists, err) < 0)
		return -1;
	list->table_exists = exists;
	if (!exists)
		return 0;
	ident = cf_tracking_ident(cfg);
	sql = cf_asprintf(
		"SELECT version, name,"
		" to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		" execution_time_ms, checksum FROM %s",
		ident);
	res = cf_db_query(conn, sql, 0, NULL, err);
	free(sql);
	free(ident);
	if (!res)
		return -1;
	rows = PQntuples(res);
	list->items = cf_calloc((size_t)rows, sizeof(cf_applied));
	for (int i = 0; i < rows; i++) {
		cf_applied *a = &list->items[i];

		a->version = cf_strdup(PQgetvalue(res, i, 0));
		a->name = cf_strdup(PQgetvalue(res, i, 1));
		a->applied_at = cf_strdup(PQgetvalue(res, i, 2));
		a->execution_time_ms = PQgetisnull(res, i, 3) ?
					       -1 :
					       atoi(PQgetvalue(res, i, 3));
		a->checksum = PQgetisnull(res, i, 4) ?
				      NULL :
				      cf_strdup(PQgetvalue(res, i, 4));
	}
	list->n = (size_t)rows;
	PQclear(res);
	qsort(list->items, list->n, sizeof(cf_applied),
	      numeric ? applied_cmp_numeric : applied_cmp_bytes);
	/* exact lookups by text: a total order whatever the versions look
	 * like, searched once per migration of the history */
	if (list->n) {
		list->by_text = cf_calloc(list->n, sizeof(*list->by_text));
		for (size_t i = 0; i < list->n; i++)
			list->by_text[i] = &list->items[i];
		qsort(list->by_text, list->n, sizeof(*list->by_text),
		      applied_ptr_cmp);
	}
	return 0;
}

void
cf_applied_list_release(cf_applied_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].version);
		free(list->items[i].name);
		free(list->items[i].applied_at);
		free(list->items[i].checksum);
	}
	free(list->items);
	free(list->by_text);
	memset(list, 0, sizeof(*list));
}

const cf_applied *
cf_applied_find(const cf_applied_list *list, const char *version)
{
	size_t lo = 0, hi = list->by_text ? list->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(list->by_text[mid]->version, version);

		if (c == 0)
			return list->by_text[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

char *
cf_tracking_slug(const char *name, const char *suffix)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d_%H%M%S", &tm);
	if (suffix)
		return cf_asprintf("%s_%s_%s", name, ts, suffix);
	return cf_asprintf("%s_%s", name, ts);
}

char *
cf_tracking_insert_sql(const char *ident)
{
	/* Two migrations with the same name applied within one second would
	 * share a slug, which is UNIQUE: the version then disambiguates.  A
	 * NULL $4 is the time since the transaction began, measured by the
	 * server (the engine sends the row before the statements ran). */
	return cf_asprintf(
		"INSERT INTO %s (id, slug, version, name, execution_time_ms, checksum)"
		" SELECT gen_random_uuid(),"
		" CASE WHEN EXISTS (SELECT 1 FROM %s WHERE slug = $1)"
		" THEN $1 || '_' || $2 ELSE $1 END,"
		" $2, $3, COALESCE($4::integer,"
		" (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer),"
		" $5",
		ident, ident);
}

char *
cf_tracking_delete_sql(const char *ident)
{
	return cf_asprintf("DELETE FROM %s WHERE version = $1", ident);
}

int
cf_tracking_insert(PGconn *conn, const char *ident, const cf_migration *m,
		   const char *slug, int execution_time_ms, cf_error **err)
{
	char ms[16];
	const char *params[5];
	char *sql;
	int rc;

	snprintf(ms, sizeof(ms), "%d", execution_time_ms);
	params[0] = slug;
	params[1] = m->version;
	params[2] = m->name;
	params[3] = ms;
	params[4] = m->checksum[0] ? m->checksum : NULL;
	sql = cf_tracking_insert_sql(ident);
	rc = cf_db_exec_params(conn, sql, 5, params, err);
	free(sql);
	return rc;
}

int
cf_tracking_delete(PGconn *conn, const char *ident, const char *version,
		   cf_error **err)
{
	const char *params[1] = {version};
	char *sql = cf_tracking_delete_sql(ident);
	int rc = cf_db_exec_params(conn, sql, 1, params, err);

	free(sql);
	return rc;
}
