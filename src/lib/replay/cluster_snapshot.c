/*
 * cluster_snapshot.c — reading a server's cluster-wide state: the snapshot
 * taken before a clone-mode replay, the scope of what the replay touched,
 * and the guard that refuses what could not be undone.  The restore that
 * compares and undoes is in cluster_restore.c.
 *
 * A clone-mode preflight replays migrations in a copy of the target
 * database, but some statements reach past any one database: roles and
 * their memberships, per-role and per-database settings, databases,
 * tablespaces, privileges and comments on those, ALTER SYSTEM.  Such changes
 * are committed on the server and survive dropping the clone.
 * cf_cluster_snapshot_take() records that state before the replay.
 * cf_cluster_guard_statement() refuses, before it runs, a statement whose
 * effect could not be undone.
 *
 * The server is shared: while the replay runs, other sessions create,
 * change and drop roles and databases too, and those changes are not ours
 * to undo.  A cf_cluster_scope collects what the replay touched — the
 * shared objects its statements name (from their parse trees) and the
 * transaction ids under which it wrote shared catalog rows (for dynamic
 * SQL) — so that the restore undoes only the replay's changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "history/model.h"
#include "history/tree_json.h"
#include "replay/cluster_internal.h"

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* Field as a new string, NULL for SQL NULL. */
static char *
fval(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL :
					  cf_strdup(PQgetvalue(r, row, col));
}

static bool
fbool(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

Oid
cl_foid(const PGresult *r, int row, int col)
{
	return (Oid)strtoul(PQgetvalue(r, row, col), NULL, 10);
}

static int
fint(const PGresult *r, int row, int col)
{
	return atoi(PQgetvalue(r, row, col));
}

/* A 32-bit transaction id (xmin::text); 0 for SQL NULL. */
static uint32_t
fxid(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return (uint32_t)strtoull(PQgetvalue(r, row, col), NULL, 10);
}

void
cl_strings_from_json(const json_t *a, char ***items, size_t *n)
{
	size_t alloc = 0;

	*items = NULL;
	*n = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (!s)
			continue;
		CF_GROW(*items, alloc, *n + 1);
		(*items)[(*n)++] = cf_strdup(s);
	}
}

/*
 * Parses a JSON array of strings (array_to_json(text[])::text) into a new
 * array of new strings; NULL or malformed text gives an empty array.
 */
static void
json_strings(const char *text, char ***items, size_t *n)
{
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;

	cl_strings_from_json(doc, items, n);
	json_decref(doc);
}

static void
free_strings(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

bool
cl_query_batch(PGconn *conn, const cl_query *qs, size_t n, PGresult **res)
{
	size_t i = 0;

	memset(res, 0, n * sizeof(*res));
#ifdef LIBPQ_HAS_PIPELINING
	/* a sync after each query: an error ends only its own query */
	if (PQenterPipelineMode(conn)) {
		bool sent = true;

		for (size_t k = 0; k < n && sent; k++)
			sent = PQsendQueryParams(conn, qs[k].sql, qs[k].n, NULL,
						 qs[k].params, NULL, NULL, 0) &&
			       PQpipelineSync(conn);
		/* each query: its result, NULL, then the sync's result */
		for (; sent && i < n; i++) {
			PGresult *end, *sync;

			res[i] = PQgetResult(conn);
			end = res[i] ? PQgetResult(conn) : NULL;
			sync = PQgetResult(conn);
			PQclear(end);
			if (!res[i] || end ||
			    PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
				sent = false;
			PQclear(sync);
		}
		PQexitPipelineMode(conn);
		return sent;
	}
#endif
	for (; i < n && PQstatus(conn) == CONNECTION_OK; i++)
		res[i] = PQexecParams(conn, qs[i].sql, qs[i].n, NULL,
				      qs[i].params, NULL, NULL, 0);
	return i == n;
}

/*
 * A batch result as cf_db_query() gives it: r when it has rows, else NULL
 * with *err (and r cleared).  With optional, a refused query is 0 and no
 * error, a lost connection -1; a result is 1.
 */
static int
take_result(PGconn *conn, PGresult *r, const char *sql, bool optional,
	    PGresult **out, cf_error **err)
{
	cf_error *e;

	*out = NULL;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
		*out = r;
		return 1;
	}
	if (optional && r && PQstatus(conn) != CONNECTION_BAD) {
		PQclear(r);
		return 0;
	}
	e = cf_db_error(conn, r, CF_ERR_INTERNAL);
	e->statement = cf_strdup(sql);
	PQclear(r);
	e->kind = PQstatus(conn) == CONNECTION_BAD || !r ? CF_ERR_CONNECT :
							   CF_ERR_SQL;
	if (!optional)
		cf_error_set_hint(
			e,
			"the preflight reads pg_roles, pg_auth_members, pg_db_role_setting, pg_database and pg_tablespace through the maintenance connection");
	return cf_fail(err, e);
}

static const char role_sql_authid[] =
	"SELECT a.oid, a.rolname, a.rolsuper, a.rolinherit, a.rolcreaterole,"
	" a.rolcreatedb, a.rolcanlogin, a.rolreplication, a.rolbypassrls,"
	" a.rolconnlimit,"
	" CASE WHEN a.rolvaliduntil IS NULL THEN NULL"
	"  WHEN pg_catalog.isfinite(a.rolvaliduntil)"
	"  THEN pg_catalog.to_char(a.rolvaliduntil AT TIME ZONE 'UTC',"
	"   'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
	"  ELSE a.rolvaliduntil::text END,"
	" a.rolpassword, pg_catalog.shobj_description(a.oid, 'pg_authid'),"
	" a.xmin::text, (SELECT d.xmin::text FROM pg_catalog.pg_shdescription d"
	"  WHERE d.objoid = a.oid"
	"  AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass)"
	" FROM pg_catalog.pg_authid a ORDER BY a.oid";

static const char role_sql_roles[] =
	"SELECT a.oid, a.rolname, a.rolsuper, a.rolinherit, a.rolcreaterole,"
	" a.rolcreatedb, a.rolcanlogin, a.rolreplication, a.rolbypassrls,"
	" a.rolconnlimit,"
	" CASE WHEN a.rolvaliduntil IS NULL THEN NULL"
	"  WHEN pg_catalog.isfinite(a.rolvaliduntil)"
	"  THEN pg_catalog.to_char(a.rolvaliduntil AT TIME ZONE 'UTC',"
	"   'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
	"  ELSE a.rolvaliduntil::text END,"
	" NULL::text, pg_catalog.shobj_description(a.oid, 'pg_authid'),"
	" NULL::text, (SELECT d.xmin::text FROM pg_catalog.pg_shdescription d"
	"  WHERE d.objoid = a.oid"
	"  AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass)"
	" FROM pg_catalog.pg_roles a ORDER BY a.oid";

static void
read_roles(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_role *x;

		CF_GROW(s->roles, s->a_roles, s->n_roles + 1);
		x = &s->roles[s->n_roles++];
		memset(x, 0, sizeof(*x));
		x->oid = cl_foid(r, i, 0);
		x->name = fval(r, i, 1);
		x->super = fbool(r, i, 2);
		x->inherit = fbool(r, i, 3);
		x->createrole = fbool(r, i, 4);
		x->createdb = fbool(r, i, 5);
		x->login = fbool(r, i, 6);
		x->replication = fbool(r, i, 7);
		x->bypassrls = fbool(r, i, 8);
		x->connlimit = fint(r, i, 9);
		x->validuntil = fval(r, i, 10);
		x->password = fval(r, i, 11);
		x->comment = fval(r, i, 12);
		x->xmin = fxid(r, i, 13);
		x->cmt_xmin = fxid(r, i, 14);
	}
	PQclear(r);
}

static void
read_members(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_member *x;

		CF_GROW(s->members, s->a_members, s->n_members + 1);
		x = &s->members[s->n_members++];
		x->role = cl_foid(r, i, 0);
		x->member = cl_foid(r, i, 1);
		x->grantor = cl_foid(r, i, 2);
		x->admin = fbool(r, i, 3);
		x->inherit = fbool(r, i, 4);
		x->set = fbool(r, i, 5);
		x->xmin = fxid(r, i, 6);
	}
	PQclear(r);
}

static void
read_settings(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_setting *x;
		const char *j = PQgetisnull(r, i, 2) ? NULL :
						       PQgetvalue(r, i, 2);

		CF_GROW(s->settings, s->a_settings, s->n_settings + 1);
		x = &s->settings[s->n_settings++];
		x->db = cl_foid(r, i, 0);
		x->role = cl_foid(r, i, 1);
		json_strings(j, &x->items, &x->n);
		x->xmin = fxid(r, i, 3);
	}
	PQclear(r);
}

static void
read_databases(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_database *x;

		CF_GROW(s->dbs, s->a_dbs, s->n_dbs + 1);
		x = &s->dbs[s->n_dbs++];
		x->oid = cl_foid(r, i, 0);
		x->name = fval(r, i, 1);
		x->owner = cl_foid(r, i, 2);
		x->connlimit = fint(r, i, 3);
		x->allowconn = fbool(r, i, 4);
		x->istemplate = fbool(r, i, 5);
		x->tablespace = cl_foid(r, i, 6);
		x->comment = fval(r, i, 7);
		x->xmin = fxid(r, i, 8);
		x->cmt_xmin = fxid(r, i, 9);
	}
	PQclear(r);
}

static void
read_tablespaces(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_tablespace *x;
		const char *j = PQgetisnull(r, i, 4) ? NULL :
						       PQgetvalue(r, i, 4);

		CF_GROW(s->tss, s->a_tss, s->n_tss + 1);
		x = &s->tss[s->n_tss++];
		x->oid = cl_foid(r, i, 0);
		x->name = fval(r, i, 1);
		x->owner = cl_foid(r, i, 2);
		x->location = fval(r, i, 3);
		json_strings(j, &x->options, &x->n_options);
		x->comment = fval(r, i, 5);
		x->xmin = fxid(r, i, 6);
		x->cmt_xmin = fxid(r, i, 7);
	}
	PQclear(r);
}

/* Privileges as effective rows: a NULL acl reads as the owner's default. */
static void
read_acls(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_acl *x;

		CF_GROW(s->acls, s->a_acls, s->n_acls + 1);
		x = &s->acls[s->n_acls++];
		x->kind = PQgetvalue(r, i, 0)[0];
		x->obj = cl_foid(r, i, 1);
		x->grantor = cl_foid(r, i, 2);
		x->grantee = cl_foid(r, i, 3);
		x->priv = fval(r, i, 4);
		x->grantable = fbool(r, i, 5);
	}
	PQclear(r);
}

/*
 * ALTER SYSTEM settings: the rows of pg_file_settings that come from
 * postgresql.auto.conf, the last one winning as in the server.  Unreadable
 * (not a superuser, no grant) is not an error: system_known stays false.
 */
static void
read_system(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		cl_sysset *x = NULL;

		for (size_t k = 0; k < s->n_sys; k++)
			if (strcasecmp(s->sys[k].name, name) == 0)
				x = &s->sys[k];
		if (!x) {
			CF_GROW(s->sys, s->a_sys, s->n_sys + 1);
			x = &s->sys[s->n_sys++];
			x->name = cf_strdup(name);
			x->value = NULL;
		}
		free(x->value);
		x->value = fval(r, i, 1);
	}
	PQclear(r);
}

/* Replication slots: readable by every role (a system view). */
static void
read_slots(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_slot *x;

		CF_GROW(s->slots, s->a_slots, s->n_slots + 1);
		x = &s->slots[s->n_slots++];
		x->name = fval(r, i, 0);
		x->database = fval(r, i, 1);
		x->temporary = fbool(r, i, 2);
	}
	PQclear(r);
}

/* Replication origins; unreadable (a revoked grant) is not an error:
 * origins_known stays false. */
static void
read_origins(PGresult *r, cf_cluster_snapshot *s)
{
	for (int i = 0; i < PQntuples(r); i++) {
		cl_origin *x;

		CF_GROW(s->origins, s->a_origins, s->n_origins + 1);
		x = &s->origins[s->n_origins++];
		x->ident = cl_foid(r, i, 0);
		x->name = fval(r, i, 1);
		x->xmin = fxid(r, i, 2);
	}
	PQclear(r);
}

static const char user_sql[] =
	"SELECT current_user, r.oid, r.rolsuper,"
	" pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')"
	" FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/* Reads everything into a new snapshot; the caller frees it.  Two round
 * trips: who we are, then every catalog at once. */
int
cl_read_state(PGconn *conn, cf_cluster_snapshot **out, cf_error **err)
{
	enum {
		ROLES,
		MEMBERS,
		SETTINGS,
		DATABASES,
		TABLESPACES,
		ACLS,
		SYSTEM,
		SLOTS,
		ORIGINS,
		N_QUERIES
	};
	static void (*const readers[N_QUERIES])(PGresult *,
						cf_cluster_snapshot *) = {
		read_roles,	read_members,	  read_settings,
		read_databases, read_tablespaces, read_acls,
		read_system,	read_slots,	  read_origins,
	};
	cf_cluster_snapshot *s = cf_new(cf_cluster_snapshot);
	cl_query qs[N_QUERIES];
	PGresult *res[N_QUERIES], *r;
	int rc = 0;

	*out = NULL;
	s->version = PQserverVersion(conn);
	if (take_result(conn, PQexec(conn, user_sql), user_sql, false, &r,
			err) < 0)
		goto fail;
	if (PQntuples(r) == 1) {
		s->user = fval(r, 0, 0);
		s->user_oid = cl_foid(r, 0, 1);
		s->superuser = fbool(r, 0, 2);
		s->passwords_known = fbool(r, 0, 3);
	}
	PQclear(r);
	memset(qs, 0, sizeof(qs));
	qs[ROLES].sql = s->passwords_known ? role_sql_authid : role_sql_roles;
	qs[MEMBERS].sql =
		s->version >= 160000 ?
			"SELECT roleid, member, grantor, admin_option, inherit_option,"
			" set_option, xmin::text FROM pg_catalog.pg_auth_members"
			" ORDER BY 1, 2, 3" :
			"SELECT roleid, member, grantor, admin_option, true, true,"
			" xmin::text FROM pg_catalog.pg_auth_members ORDER BY 1, 2, 3";
	qs[SETTINGS].sql =
		"SELECT setdatabase, setrole,"
		" pg_catalog.array_to_json(setconfig)::text, xmin::text"
		" FROM pg_catalog.pg_db_role_setting ORDER BY 1, 2";
	qs[DATABASES].sql =
		"SELECT oid, datname, datdba, datconnlimit, datallowconn,"
		" datistemplate, dattablespace,"
		" pg_catalog.shobj_description(oid, 'pg_database'), xmin::text,"
		" (SELECT d.xmin::text FROM pg_catalog.pg_shdescription d"
		"  WHERE d.objoid = db.oid"
		"  AND d.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass)"
		" FROM pg_catalog.pg_database db ORDER BY oid";
	qs[TABLESPACES].sql =
		"SELECT oid, spcname, spcowner,"
		" pg_catalog.pg_tablespace_location(oid),"
		" pg_catalog.array_to_json(spcoptions)::text,"
		" pg_catalog.shobj_description(oid, 'pg_tablespace'), xmin::text,"
		" (SELECT d.xmin::text FROM pg_catalog.pg_shdescription d"
		"  WHERE d.objoid = ts.oid"
		"  AND d.classoid = 'pg_catalog.pg_tablespace'::pg_catalog.regclass)"
		" FROM pg_catalog.pg_tablespace ts ORDER BY oid";
	qs[ACLS].sql =
		"SELECT 'd', d.oid, a.grantor, a.grantee, a.privilege_type,"
		" a.is_grantable, a.n FROM pg_catalog.pg_database d,"
		" pg_catalog.aclexplode(COALESCE(d.datacl,"
		"  pg_catalog.acldefault('d', d.datdba))) WITH ORDINALITY"
		"  a(grantor, grantee, privilege_type, is_grantable, n)"
		" UNION ALL "
		"SELECT 't', t.oid, a.grantor, a.grantee, a.privilege_type,"
		" a.is_grantable, a.n FROM pg_catalog.pg_tablespace t,"
		" pg_catalog.aclexplode(COALESCE(t.spcacl,"
		"  pg_catalog.acldefault('t', t.spcowner))) WITH ORDINALITY"
		"  a(grantor, grantee, privilege_type, is_grantable, n)"
		" ORDER BY 1, 2, 7";
	qs[SYSTEM].sql = "SELECT name, setting FROM pg_catalog.pg_file_settings"
			 " WHERE sourcefile ~ '(^|/)postgresql\\.auto\\.conf$'"
			 " AND setting IS NOT NULL ORDER BY seqno";
	qs[SLOTS].sql = "SELECT slot_name::text, database::text, temporary"
			" FROM pg_catalog.pg_replication_slots ORDER BY 1";
	qs[ORIGINS].sql = "SELECT roident, roname, xmin::text"
			  " FROM pg_catalog.pg_replication_origin ORDER BY 1";
	cl_query_batch(conn, qs, N_QUERIES, res);
	/* unreadable settings or origins (not a superuser, a revoked grant)
	 * are no error: system_known or origins_known stays false */
	for (int i = 0; i < N_QUERIES; i++) {
		bool optional = i == SYSTEM || i == ORIGINS;

		if (rc < 0) {
			PQclear(res[i]);
			continue;
		}
		rc = take_result(conn, res[i], qs[i].sql, optional, &r, err);
		if (rc <= 0)
			continue;
		s->system_known |= i == SYSTEM;
		s->origins_known |= i == ORIGINS;
		readers[i](r, s);
	}
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	cf_cluster_snapshot_free(s);
	return -1;
}

int
cf_cluster_snapshot_take(PGconn *conn, cf_cluster_snapshot **out,
			 cf_error **err)
{
	return cl_read_state(conn, out, err);
}

void
cf_cluster_snapshot_keep_database(cf_cluster_snapshot *snap, const char *name)
{
	CF_GROW(snap->keep, snap->a_keep, snap->n_keep + 1);
	snap->keep[snap->n_keep++] = cf_strdup(name);
}

void
cf_cluster_snapshot_free(cf_cluster_snapshot *s)
{
	if (!s)
		return;
	free(s->user);
	for (size_t i = 0; i < s->n_roles; i++) {
		free(s->roles[i].name);
		free(s->roles[i].validuntil);
		free(s->roles[i].password);
		free(s->roles[i].comment);
	}
	free(s->roles);
	free(s->members);
	for (size_t i = 0; i < s->n_settings; i++)
		free_strings(s->settings[i].items, s->settings[i].n);
	free(s->settings);
	for (size_t i = 0; i < s->n_dbs; i++) {
		free(s->dbs[i].name);
		free(s->dbs[i].comment);
	}
	free(s->dbs);
	for (size_t i = 0; i < s->n_tss; i++) {
		free(s->tss[i].name);
		free(s->tss[i].location);
		free_strings(s->tss[i].options, s->tss[i].n_options);
		free(s->tss[i].comment);
	}
	free(s->tss);
	for (size_t i = 0; i < s->n_acls; i++)
		free(s->acls[i].priv);
	free(s->acls);
	for (size_t i = 0; i < s->n_sys; i++) {
		free(s->sys[i].name);
		free(s->sys[i].value);
	}
	free(s->sys);
	free_strings(s->keep, s->n_keep);
	for (size_t i = 0; i < s->n_slots; i++) {
		free(s->slots[i].name);
		free(s->slots[i].database);
	}
	free(s->slots);
	for (size_t i = 0; i < s->n_origins; i++)
		free(s->origins[i].name);
	free(s->origins);
	free(s);
}

/* ------------------------------------------------------------------------
 * Lookups
 * ------------------------------------------------------------------------ */

const cl_role *
cl_role_by_oid(const cf_cluster_snapshot *s, Oid oid)
{
	for (size_t i = 0; i < s->n_roles; i++)
		if (s->roles[i].oid == oid)
			return &s->roles[i];
	return NULL;
}

const cl_role *
cl_role_by_name(const cf_cluster_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_roles; i++)
		if (strcmp(s->roles[i].name, name) == 0)
			return &s->roles[i];
	return NULL;
}

const cl_database *
cl_db_by_oid(const cf_cluster_snapshot *s, Oid oid)
{
	for (size_t i = 0; i < s->n_dbs; i++)
		if (s->dbs[i].oid == oid)
			return &s->dbs[i];
	return NULL;
}

const cl_database *
cl_db_by_name(const cf_cluster_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_dbs; i++)
		if (strcmp(s->dbs[i].name, name) == 0)
			return &s->dbs[i];
	return NULL;
}

const cl_tablespace *
cl_ts_by_oid(const cf_cluster_snapshot *s, Oid oid)
{
	for (size_t i = 0; i < s->n_tss; i++)
		if (s->tss[i].oid == oid)
			return &s->tss[i];
	return NULL;
}

const cl_tablespace *
cl_ts_by_name(const cf_cluster_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_tss; i++)
		if (strcmp(s->tss[i].name, name) == 0)
			return &s->tss[i];
	return NULL;
}

bool
cl_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
cl_strings_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* ------------------------------------------------------------------------
 * Scope: what the replay touched
 * ------------------------------------------------------------------------ */

cf_cluster_scope *
cf_cluster_scope_new(void)
{
	return cf_new(cf_cluster_scope);
}

void
cf_cluster_scope_free(cf_cluster_scope *scope)
{
	if (!scope)
		return;
	for (size_t i = 0; i < scope->n_names; i++)
		free(scope->names[i].name);
	free(scope->names);
	free(scope->xids);
	free(scope->clone);
	cf_strbuf_release(&scope->text);
	free(scope->pending);
	free(scope->roles_seen);
	free(scope);
}

void
cf_cluster_scope_set_clone(cf_cluster_scope *scope, const char *name)
{
	free(scope->clone);
	scope->clone = name ? cf_strdup(name) : NULL;
}

/* Is (kind, name) recorded?  Setting names compare without case. */
bool
cl_scope_named(const cf_cluster_scope *scope, char kind, const char *name)
{
	if (!scope || !name)
		return false;
	for (size_t i = 0; i < scope->n_names; i++) {
		const cl_name *x = &scope->names[i];

		if (x->kind == kind &&
		    (kind == 's' ? strcasecmp(x->name, name) == 0 :
				   strcmp(x->name, name) == 0))
			return true;
	}
	return false;
}

/* The replay's string constants are kept up to this size: enough for
 * any migration, bounded for a hostile one. */
#define SCOPE_TEXT_MAX (8u << 20)

/*
 * Calls fn on msg and on every message under it, depth first in field
 * order (a Node stands for its one member), until fn returns true;
 * returns whether it did.  Deeper than 200 levels (a hostile statement)
 * is not visited.
 */
typedef struct visit_ctx {
	bool (*fn)(const ProtobufCMessage *, void *);
	void *arg;
	int depth;
} visit_ctx;

static bool visit_at(const ProtobufCMessage *msg, const visit_ctx *v);

/* cf_pb_each_child(): visits a child one level deeper. */
static bool
visit_child(const void *child, void *arg)
{
	const visit_ctx *v = arg;
	visit_ctx deeper = {v->fn, v->arg, v->depth + 1};

	return visit_at(child, &deeper);
}

static bool
visit_at(const ProtobufCMessage *msg, const visit_ctx *v)
{
	if (!msg || v->depth > 200)
		return false;
	if (msg->descriptor == &pg_query__node__descriptor)
		return visit_child(cf_pb_node_member(msg), (void *)v);
	if (v->fn(msg, v->arg))
		return true;
	return cf_pb_each_child(msg, visit_child, (void *)v);
}

static bool
visit(const ProtobufCMessage *msg, bool (*fn)(const ProtobufCMessage *, void *),
      void *arg, int depth)
{
	visit_ctx v = {fn, arg, depth};

	return visit_at(msg, &v);
}

/* visit(): appends a String's value (a literal, a DO or function body, an
 * EXECUTE string, a name) to the scope's text; stops at the size cap. */
static bool
collect_string(const ProtobufCMessage *msg, void *arg)
{
	cf_cluster_scope *scope = arg;

	if (scope->text.len > SCOPE_TEXT_MAX)
		return true;
	if (msg->descriptor == &pg_query__string__descriptor) {
		const char *s = ((const PgQuery__String *)msg)->sval;

		cf_strbuf_addstr(&scope->text, s ? s : "");
		cf_strbuf_addch(&scope->text, '\n');
	}
	return false;
}

/* Appends every string constant under node to the scope's text. */
static void
collect_strings(cf_cluster_scope *scope, const PgQuery__Node *node)
{
	visit((const ProtobufCMessage *)node, collect_string, scope, 0);
}

static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* Whether sql's tree is deeper than protobuf-c's unpack can take
 * (cf_json_deeper_than()); a text the parser rejects is not. */
static bool
too_deep(const char *sql)
{
	PgQueryParseResult j = pg_query_parse(sql);
	bool deep = !j.error &&
		    cf_json_deeper_than(j.parse_tree, CF_TREE_MAX_JSON_DEPTH);

	pg_query_free_parse_result(j);
	return deep;
}

/* Parses the statements of cf_cluster_scope_add_text() not read yet and
 * appends their string constants, in replay order. */
static void
read_pending(cf_cluster_scope *scope)
{
	for (size_t i = 0; i < scope->n_pending; i++) {
		char *sql = cf_strndup(scope->pending[i].sql,
				       scope->pending[i].len);
		PgQueryProtobufParseResult r;
		PgQuery__ParseResult *pr;

		if (!cf_sql_parsable(sql, scope->pending[i].len, NULL) ||
		    too_deep(sql)) {
			/* not parsed (cf_sql_parsable(), or a tree no
			 * recursive reader takes): every word of it counts
			 * as a mention */
			if (scope->text.len <= SCOPE_TEXT_MAX)
				cf_strbuf_addstr(&scope->text, sql);
			cf_strbuf_addch(&scope->text, '\n');
			free(sql);
			continue;
		}
		r = pg_query_parse_protobuf(sql);
		pr = r.error ? NULL :
			       pg_query__parse_result__unpack(
				       NULL, r.parse_tree.len,
				       (const uint8_t *)r.parse_tree.data);

		for (size_t k = 0; pr && k < pr->n_stmts; k++)
			collect_strings(scope, pr->stmts[k]->stmt);
		if (pr)
			pg_query__parse_result__free_unpacked(pr, NULL);
		pg_query_free_protobuf_parse_result(r);
		free(sql);
	}
	scope->n_pending = 0;
}

void
cf_cluster_scope_add_text(cf_cluster_scope *scope, const char *sql, size_t len)
{
	if (!scope || !sql)
		return;
	CF_GROW(scope->pending, scope->a_pending, scope->n_pending + 1);
	scope->pending[scope->n_pending].sql = sql;
	scope->pending[scope->n_pending++].len = len;
}

bool
cl_scope_mentions(const cf_cluster_scope *scope, const char *name)
{
	const char *text, *p;
	size_t n;

	if (!scope || !name || !*name)
		return false;
	/* the string constants are read once, when first asked (only when
	 * the replay left a slot or origin to attribute) */
	if (scope->n_pending)
		read_pending((cf_cluster_scope *)scope);
	if (!scope->text.len)
		return false;
	text = cf_strbuf_str(&scope->text);
	n = strlen(name);
	for (p = strstr(text, name); p; p = strstr(p + 1, name))
		if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
			return true;
	return false;
}

bool
cf_cluster_scope_has_name(const cf_cluster_scope *scope, char kind,
			  const char *name)
{
	return cl_scope_named(scope, kind, name);
}

unsigned
cf_cluster_scope_flags(const cf_cluster_scope *scope)
{
	return scope ? scope->flags : 0;
}

size_t
cf_cluster_scope_xids(const cf_cluster_scope *scope, const uint32_t **xids)
{
	*xids = scope ? scope->xids : NULL;
	return scope ? scope->n_xids : 0;
}

bool
cf_cluster_scope_has_xid(const cf_cluster_scope *scope, uint32_t xid)
{
	if (!scope || xid == 0)
		return false;
	for (size_t i = 0; i < scope->n_xids; i++)
		if (scope->xids[i] == xid)
			return true;
	return false;
}

/* Records (kind, name) once; NULL or empty names are ignored. */
static void
scope_add(cf_cluster_scope *scope, char kind, const char *name)
{
	if (!name || !*name || cl_scope_named(scope, kind, name))
		return;
	CF_GROW(scope->names, scope->a_names, scope->n_names + 1);
	scope->names[scope->n_names].kind = kind;
	scope->names[scope->n_names++].name = cf_strdup(name);
}

/*
 * Records the role of a RoleSpec.  CURRENT_USER, CURRENT_ROLE and
 * SESSION_USER set CF_SCOPE_CURRENT_USER (the restore reads them as the
 * snapshot's user); PUBLIC is no role.
 */
static void
add_role_spec(cf_cluster_scope *scope, const PgQuery__RoleSpec *spec)
{
	if (!spec || spec->roletype ==
			     PG_QUERY__ROLE_SPEC_TYPE__ROLE_SPEC_TYPE_UNDEFINED)
		return;
	if (spec->roletype == PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_CSTRING)
		scope_add(scope, 'r', cf_pb_str(spec->rolename));
	else if (spec->roletype != PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_PUBLIC)
		scope->flags |= CF_SCOPE_CURRENT_USER;
}

/* The RoleSpec of a node, or NULL. */
static const PgQuery__RoleSpec *
role_spec(const PgQuery__Node *node)
{
	return node && node->node_case == PG_QUERY__NODE__NODE_ROLE_SPEC ?
		       node->role_spec :
		       NULL;
}

/* Records every RoleSpec of a list of nodes. */
static void
add_role_specs(cf_cluster_scope *scope, PgQuery__Node *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add_role_spec(scope, role_spec(list[i]));
}

/* The roles of CREATE/ALTER ROLE options IN ROLE, ROLE, ADMIN (and
 * ALTER GROUP ... ADD/DROP USER): memberships on either side. */
static void
add_option_roles(cf_cluster_scope *scope, PgQuery__Node *const *options,
		 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const PgQuery__DefElem *d;
		const char *name;

		if (options[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
			continue;
		d = options[i]->def_elem;
		name = cf_pb_str(d->defname);
		if (name &&
		    (strcmp(name, "addroleto") == 0 ||
		     strcmp(name, "rolemembers") == 0 ||
		     strcmp(name, "adminmembers") == 0) &&
		    d->arg && d->arg->node_case == PG_QUERY__NODE__NODE_LIST)
			add_role_specs(scope, d->arg->list->items,
				       d->arg->list->n_items);
	}
}

/* The kind letter of an ObjectType for a shared object, or 0. */
static char
object_kind(PgQuery__ObjectType t)
{
	switch (t) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_ROLE:
		return 'r';
	case PG_QUERY__OBJECT_TYPE__OBJECT_DATABASE:
		return 'd';
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLESPACE:
		return 't';
	default:
		return 0;
	}
}

/* The statement node of stmt: a Node, or the RawStmt around one; NULL
 * when it is neither or has no statement. */
static const PgQuery__Node *
statement_of(const void *stmt)
{
	const ProtobufCMessage *msg = stmt;

	if (msg && msg->descriptor == &pg_query__raw_stmt__descriptor)
		msg = (const ProtobufCMessage *)((const PgQuery__RawStmt *)msg)
			      ->stmt;
	if (!msg || msg->descriptor != &pg_query__node__descriptor ||
	    ((const PgQuery__Node *)msg)->node_case ==
		    PG_QUERY__NODE__NODE__NOT_SET)
		return NULL;
	return (const PgQuery__Node *)msg;
}

/* CREATE/ALTER/DROP DATABASE or TABLESPACE: records its one name. */
static void
add_database_or_tablespace(cf_cluster_scope *scope, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
		scope_add(scope, 'd', cf_pb_str(n->createdb_stmt->dbname));
		break;
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
		scope_add(scope, 'd',
			  cf_pb_str(n->alter_database_stmt->dbname));
		break;
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT:
		scope_add(scope, 'd',
			  cf_pb_str(n->alter_database_set_stmt->dbname));
		break;
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		scope_add(scope, 'd', cf_pb_str(n->dropdb_stmt->dbname));
		break;
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_REFRESH_COLL_STMT:
		scope_add(
			scope, 'd',
			cf_pb_str(n->alter_database_refresh_coll_stmt->dbname));
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
		scope_add(
			scope, 't',
			cf_pb_str(n->create_table_space_stmt->tablespacename));
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_SPACE_OPTIONS_STMT:
		scope_add(scope, 't',
			  cf_pb_str(n->alter_table_space_options_stmt
					    ->tablespacename));
		break;
	default:
		scope_add(scope, 't',
			  cf_pb_str(n->drop_table_space_stmt->tablespacename));
		break;
	}
}

/* Records the shared objects statement n names (not its strings). */
static void
add_names(cf_cluster_scope *scope, const PgQuery__Node *n)
{
	char kind;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
		scope_add(scope, 'r', cf_pb_str(n->create_role_stmt->role));
		add_option_roles(scope, n->create_role_stmt->options,
				 n->create_role_stmt->n_options);
		break;
	case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
		add_role_spec(scope, n->alter_role_stmt->role);
		add_option_roles(scope, n->alter_role_stmt->options,
				 n->alter_role_stmt->n_options);
		break;
	case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT: {
		const PgQuery__AlterRoleSetStmt *x = n->alter_role_set_stmt;

		/* no role: ALTER ROLE ALL [IN DATABASE d]; the database
		 * alone names the rows of all roles in it */
		if (x->role)
			add_role_spec(scope, x->role);
		else if (!cf_pb_str(x->database))
			scope->flags |= CF_SCOPE_ALL_ROLES;
		scope_add(scope, 'd', cf_pb_str(x->database));
		break;
	}
	case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
		add_role_specs(scope, n->drop_role_stmt->roles,
			       n->drop_role_stmt->n_roles);
		break;
	case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT: {
		const PgQuery__GrantRoleStmt *x = n->grant_role_stmt;

		for (size_t i = 0; i < x->n_granted_roles; i++)
			if (x->granted_roles[i]->node_case ==
			    PG_QUERY__NODE__NODE_ACCESS_PRIV)
				scope_add(scope, 'r',
					  cf_pb_str(x->granted_roles[i]
							    ->access_priv
							    ->priv_name));
		add_role_specs(scope, x->grantee_roles, x->n_grantee_roles);
		break;
	}
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		if ((kind = object_kind(n->rename_stmt->rename_type))) {
			scope_add(scope, kind,
				  cf_pb_str(n->rename_stmt->subname));
			scope_add(scope, kind,
				  cf_pb_str(n->rename_stmt->newname));
		}
		break;
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT:
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_REFRESH_COLL_STMT:
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
	case PG_QUERY__NODE__NODE_ALTER_TABLE_SPACE_OPTIONS_STMT:
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
		add_database_or_tablespace(scope, n);
		break;
	case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
		if ((kind = object_kind(n->alter_owner_stmt->object_type)) &&
		    kind != 'r')
			scope_add(scope, kind,
				  cf_pb_sval(n->alter_owner_stmt->object));
		break;
	case PG_QUERY__NODE__NODE_GRANT_STMT: {
		const PgQuery__GrantStmt *x = n->grant_stmt;

		if ((kind = object_kind(x->objtype)) && kind != 'r')
			for (size_t i = 0; i < x->n_objects; i++)
				scope_add(scope, kind,
					  cf_pb_sval(x->objects[i]));
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT: {
		const PgQuery__VariableSetStmt *set =
			n->alter_system_stmt->setstmt;

		if (set &&
		    set->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL)
			scope->flags |= CF_SCOPE_SYSTEM_ALL;
		else if (set)
			scope_add(scope, 's', cf_pb_str(set->name));
		break;
	}
	case PG_QUERY__NODE__NODE_COMMENT_STMT:
		if ((kind = object_kind(n->comment_stmt->objtype)))
			scope_add(scope, kind,
				  cf_pb_sval(n->comment_stmt->object));
		break;
	case PG_QUERY__NODE__NODE_SEC_LABEL_STMT:
		if ((kind = object_kind(n->sec_label_stmt->objtype)))
			scope_add(scope, kind,
				  cf_pb_sval(n->sec_label_stmt->object));
		break;
	case PG_QUERY__NODE__NODE_REASSIGN_OWNED_STMT:
		add_role_specs(scope, n->reassign_owned_stmt->roles,
			       n->reassign_owned_stmt->n_roles);
		break;
	case PG_QUERY__NODE__NODE_DROP_OWNED_STMT:
		add_role_specs(scope, n->drop_owned_stmt->roles,
			       n->drop_owned_stmt->n_roles);
		break;
	case PG_QUERY__NODE__NODE_DO_STMT:
	case PG_QUERY__NODE__NODE_CALL_STMT:
		scope->flags |= CF_SCOPE_OPAQUE;
		break;
	default:
		break;
	}
}

void
cf_cluster_scope_add_names(cf_cluster_scope *scope, const void *stmt)
{
	const PgQuery__Node *n = statement_of(stmt);

	if (scope && n)
		add_names(scope, n);
}

/* Is s[0..len) at *pos a word (ASCII letters, digits, _, $)?  Reads it,
 * lowercased, into w (empty when too long). */
static bool
read_word(const char *s, size_t len, size_t *pos, char w[16])
{
	size_t start, n = 0;

	while (*pos < len &&
	       (s[*pos] == ' ' || s[*pos] == '\t' || s[*pos] == '\n' ||
		s[*pos] == '\r' || s[*pos] == '\f' || s[*pos] == '\v'))
		(*pos)++;
	start = *pos;
	while (*pos < len) {
		char c = s[*pos];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || c == '_' ||
		      (*pos > start && ((c >= '0' && c <= '9') || c == '$'))))
			break;
		if (n < 15)
			w[n] = c;
		n++;
		(*pos)++;
	}
	w[n < 16 ? n : 0] = '\0';
	return n > 0 && (*pos == len || (unsigned char)s[*pos] < 0x80);
}

/* Is w one of the words of list (" a b c ")? */
static bool
word_in(const char *w, const char *list)
{
	char key[18];

	snprintf(key, sizeof(key), " %s ", w);
	return *w && strstr(list, key) != NULL;
}

/*
 * Whether a string constant of the text may be spelt other than as it
 * reads: escapes (E'...', U&'...', U&"..."), or a constant continued on
 * another line ('a'<newline>'b' is 'ab'; a comment may come between).
 */
static bool
respelt_strings(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((s[i] == '&' && i > 0 && (s[i - 1] | 0x20) == 'u') ||
		    (s[i] == '\'' && i > 0 && (s[i - 1] | 0x20) == 'e'))
			return true;
		if (s[i] == '\'') {
			bool newline = false;
			size_t j = i + 1;

			for (; j < len &&
			       (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' ||
				s[j] == '\r' || s[j] == '\f' || s[j] == '\v');
			     j++)
				newline = newline || s[j] == '\n' ||
					  s[j] == '\r';
			if (j < len && (s[j] == '-' || s[j] == '/' ||
					(newline && s[j] == '\'')))
				return true;
		}
	}
	return false;
}

bool
cf_cluster_statement_relevant(const char *sql, size_t len)
{
	static const char alone[] =
		" grant revoke comment security reassign do call copy ";
	static const char ddl[] = " create alter drop ";
	static const char shared[] = " role user group database tablespace"
				     " system owned server extension ";
	/* what a call the guard refuses, a dblink call, or dynamic SQL it
	 * warns about must spell, in any case */
	static const char *const spelt[] = {
		"lo_export", "pg_file_", "dblink", "postgres_fdw", "copy", NULL,
	};
	char w[16];
	size_t pos = 0;

	if (!read_word(sql, len, &pos, w))
		return true; /* not a plain keyword first: parse it */
	if (word_in(w, alone))
		return true;
	if (word_in(w, ddl) &&
	    (!read_word(sql, len, &pos, w) || word_in(w, shared)))
		return true;
	for (size_t k = 0; k < len; k++) {
		char c = sql[k] | 0x20; /* ASCII letters to lower case */

		if (c != 'l' && c != 'p' && c != 'd' && c != 'c')
			continue;
		for (size_t i = 0; spelt[i]; i++) {
			size_t n = strlen(spelt[i]);

			if (spelt[i][0] == c && k + n <= len &&
			    strncasecmp(sql + k, spelt[i], n) == 0)
				return true;
		}
	}
	return respelt_strings(sql, len);
}

void
cf_cluster_scope_add_statement(cf_cluster_scope *scope, const void *stmt)
{
	const PgQuery__Node *n = statement_of(stmt);

	if (!scope || !n)
		return;
	collect_strings(scope, n);
	add_names(scope, n);
}

bool
cf_cluster_statement_names(const void *stmt, char kind, const char *name)
{
	const PgQuery__Node *n = statement_of(stmt);
	cf_cluster_scope one = {0};
	bool named;

	if (!n || !name)
		return false;
	add_names(&one, n);
	named = cl_scope_named(&one, kind, name);
	for (size_t i = 0; i < one.n_names; i++)
		free(one.names[i].name);
	free(one.names);
	return named;
}

void
cf_cluster_scope_add_xid(cf_cluster_scope *scope, const char *xid)
{
	char *end;
	unsigned long long v;
	uint32_t x;

	if (!scope || !xid || !*xid)
		return;
	v = strtoull(xid, &end, 10);
	if (*end)
		return;
	/* xid8 = epoch << 32 | xid: xmin shows only the low 32 bits */
	x = (uint32_t)(v & 0xffffffffULL);
	if (x < 3 || cf_cluster_scope_has_xid(scope, x))
		return; /* 0-2 are invalid, bootstrap and frozen */
	CF_GROW(scope->xids, scope->a_xids, scope->n_xids + 1);
	scope->xids[scope->n_xids++] = x;
}

/* Every role as (oid, name, attributes); the expiry as epoch seconds so
 * that a migration's TimeZone or DateStyle does not change the text. */
#define ROLE_ROWS                                                               \
	"SELECT oid, rolname, pg_catalog.concat_ws('|', rolname, rolsuper,"     \
	" rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication," \
	" rolbypassrls, rolconnlimit,"                                          \
	" pg_catalog.date_part('epoch', rolvaliduntil))"                        \
	" FROM pg_catalog.pg_roles"

/* A role row of a role_rows query (columns 0-2) or of the replay
 * connection's combined query (columns 1-3). */
typedef struct role_row {
	Oid oid;
	const char *name, *attrs;
} role_row;

/* The role rows of r from column col on (col 1: the rows whose column 0
 * is 'r'); borrowed from r. */
static role_row *
role_rows(const PGresult *r, int col, size_t *n)
{
	role_row *v = cf_calloc((size_t)PQntuples(r) + 1, sizeof(*v));

	*n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		if (col > 0 && PQgetvalue(r, i, 0)[0] != 'r')
			continue;
		v[*n].oid = cl_foid(r, i, col);
		v[*n].name = PQgetvalue(r, i, col + 1);
		v[(*n)++].attrs = PQgetvalue(r, i, col + 2);
	}
	return v;
}

static const role_row *
row_of(const role_row *v, size_t n, Oid oid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].oid == oid)
			return &v[i];
	return NULL;
}

/*
 * Roles the uncommitted transaction created, changed, renamed or dropped:
 * what it sees (ours, its own changes included) against what maint sees
 * right after (others' committed changes, not ours).  A role only ours has
 * and the snapshot lacks is new; one maint and the snapshot see but ours
 * does not was dropped; one whose attributes differ was changed.
 */
static int
add_roles(cf_cluster_scope *scope, const role_row *ours, size_t n_ours,
	  PGconn *maint, const cf_cluster_snapshot *snap, cf_error **err)
{
	cf_error *e = NULL;
	PGresult *r = cf_db_query(maint, ROLE_ROWS " ORDER BY oid", 0, NULL,
				  &e);
	role_row *theirs;
	size_t n;

	if (!r)
		return cf_fail(err, e);
	theirs = role_rows(r, 0, &n);
	for (size_t i = 0; i < n_ours; i++) {
		const role_row *t = row_of(theirs, n, ours[i].oid);

		if (!t && !cl_role_by_oid(snap, ours[i].oid)) {
			scope_add(scope, 'r', ours[i].name);
		} else if (t && strcmp(ours[i].attrs, t->attrs) != 0) {
			scope_add(scope, 'r', ours[i].name);
			scope_add(scope, 'r', t->name);
		}
	}
	for (size_t k = 0; k < n; k++)
		if (!row_of(ours, n_ours, theirs[k].oid) &&
		    cl_role_by_oid(snap, theirs[k].oid))
			scope_add(scope, 'r', theirs[k].name);
	free(theirs);
	PQclear(r);
	return 0;
}

/*
 * The xmin of every shared catalog row the current transaction of the
 * connection (or one of its subtransactions) wrote: those rows are visible
 * to it and their writer is still in progress.  pg_xact_status() takes an
 * xid8, so each 32-bit xmin is widened to the xid8 nearest to the
 * snapshot's xmax (within 2^31 either way, as every unfrozen xid is; our own
 * subtransactions' xids can lie above xmax).  Rows ('x', xid), then the
 * roles as ('r', oid, name, attributes), in one statement.
 */
static const char xact_rows_head[] =
	"WITH n AS (SELECT pg_catalog.pg_snapshot_xmax("
	"  pg_catalog.pg_current_snapshot())::text::bigint AS nx),"
	" r AS (SELECT DISTINCT x::text::bigint AS x FROM ("
	"  SELECT xmin AS x FROM pg_catalog.pg_database UNION ALL"
	"  SELECT xmin FROM pg_catalog.pg_tablespace UNION ALL"
	"  SELECT xmin FROM pg_catalog.pg_auth_members UNION ALL"
	"  SELECT xmin FROM pg_catalog.pg_db_role_setting UNION ALL"
	"  SELECT xmin FROM pg_catalog.pg_shdescription";
static const char xact_rows_origin[] =
	" UNION ALL SELECT xmin FROM pg_catalog.pg_replication_origin";
static const char xact_rows_tail[] =
	") s), w AS (SELECT r.x, n.nx + (r.x - (n.nx & 4294967295)"
	"  + 6442450944) % 4294967296 - 2147483648 AS x8"
	"  FROM r, n WHERE r.x >= 3)"
	" SELECT 'x', x::text::pg_catalog.oid, NULL, NULL FROM w"
	" WHERE x8 >= 3 AND pg_catalog.pg_xact_status("
	"  x8::text::pg_catalog.xid8) = 'in progress'"
	" UNION ALL SELECT 'r', * FROM (" ROLE_ROWS ") ro"
	" ORDER BY 1, 2";

/*
 * Whether the transaction wrote no row of the shared catalogs the query
 * above reads: its own statistics (counted for every insert, update and
 * delete of this backend, not yet flushed ones included: an overcount
 * only costs the full query) say so with next to nothing to plan.  With
 * track_counts off (a migration may SET it) they say nothing, so false.
 */
static const char xact_untouched_sql[] =
	"SELECT pg_catalog.current_setting('track_counts')::pg_catalog.bool"
	" AND pg_catalog.sum(pg_catalog.pg_stat_get_xact_tuples_inserted(c)"
	" + pg_catalog.pg_stat_get_xact_tuples_updated(c)"
	" + pg_catalog.pg_stat_get_xact_tuples_deleted(c)) = 0"
	" FROM pg_catalog.unnest('{pg_catalog.pg_authid,"
	" pg_catalog.pg_auth_members, pg_catalog.pg_database,"
	" pg_catalog.pg_tablespace, pg_catalog.pg_db_role_setting,"
	" pg_catalog.pg_shdescription, pg_catalog.pg_replication_origin}'"
	"::pg_catalog.regclass[]) c";

int
cf_cluster_scope_before_commit(cf_cluster_scope *scope, PGconn *conn,
			       PGconn *maint, const cf_cluster_snapshot *snap,
			       cf_error **err)
{
	const char *su = PQparameterStatus(conn, "is_superuser");
	cf_error *e = NULL;
	PGresult *r;
	bool authid = true, origin = true;
	cf_strbuf seen = CF_STRBUF_INIT;
	role_row *ours;
	size_t n;
	char *sql;
	int rc = 0;

	r = cf_db_query(conn, xact_untouched_sql, 0, NULL, &e);
	if (!r)
		return cf_fail(err, e);
	if (PQntuples(r) == 1 && fbool(r, 0, 0)) {
		/* no xid of ours on those rows, no role of ours changed */
		PQclear(r);
		return 0;
	}
	PQclear(r);
	/* a superuser reads both; the server reports is_superuser for the
	 * current role, SET ROLE included */
	if (!su || strcmp(su, "on") != 0) {
		r = cf_db_query(conn,
				"SELECT pg_catalog.has_table_privilege("
				"'pg_catalog.pg_authid', 'SELECT'),"
				" pg_catalog.has_table_privilege("
				"'pg_catalog.pg_replication_origin', 'SELECT')",
				0, NULL, &e);
		if (!r)
			return cf_fail(err, e);
		authid = PQntuples(r) == 1 && fbool(r, 0, 0);
		origin = PQntuples(r) == 1 && fbool(r, 0, 1);
		PQclear(r);
	}
	sql = cf_asprintf(
		"%s%s%s%s", xact_rows_head,
		authid ? " UNION ALL SELECT xmin FROM pg_catalog.pg_authid" :
			 "",
		origin ? xact_rows_origin : "", xact_rows_tail);
	r = cf_db_query(conn, sql, 0, NULL, &e);
	free(sql);
	if (!r)
		return cf_fail(err, e);
	for (int i = 0; i < PQntuples(r); i++)
		if (PQgetvalue(r, i, 0)[0] == 'x')
			cf_cluster_scope_add_xid(scope, PQgetvalue(r, i, 1));
	ours = role_rows(r, 1, &n);
	cf_strbuf_addf(&seen, "%zu\n", n);
	for (size_t i = 0; i < n; i++)
		cf_strbuf_addf(&seen, "%u %s\n", ours[i].oid, ours[i].attrs);
	/* unchanged since the last call: no role changed (nobody else's
	 * either), so maint has nothing to tell; a change the last call saw
	 * uncommitted was put in the scope then, whether it committed or not */
	if (!scope->roles_seen || strcmp(scope->roles_seen, seen.buf) != 0)
		rc = add_roles(scope, ours, n, maint, snap, err);
	free(scope->roles_seen);
	scope->roles_seen = cf_strbuf_detach(&seen);
	free(ours);
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------------------
 * Guard
 * ------------------------------------------------------------------------ */

/* visit(): finds the first function call whose name (the last part of
 * a qualified one) the predicate accepts. */
typedef struct call_search {
	bool (*pred)(const char *);
	const char *found;
} call_search;

static bool
match_call(const ProtobufCMessage *msg, void *arg)
{
	call_search *c = arg;
	const PgQuery__FuncCall *fc;
	const char *name;

	if (msg->descriptor != &pg_query__func_call__descriptor)
		return false;
	fc = (const PgQuery__FuncCall *)msg;
	name = fc->n_funcname ? cf_pb_sval(fc->funcname[fc->n_funcname - 1]) :
				NULL;
	if (name && c->pred(name)) {
		c->found = name;
		return true;
	}
	return false;
}

/* The name of the first function call under node that pred accepts, or
 * NULL.  Borrowed from node. */
static const char *
find_call(const PgQuery__Node *node, bool (*pred)(const char *))
{
	call_search c = {pred, NULL};

	visit((const ProtobufCMessage *)node, match_call, &c, 0);
	return c.found;
}

/* Functions that write or remove files on the server (lo_export, adminpack). */
static const char *const file_functions[] = {
	"lo_export", "pg_file_write", "pg_file_rename", "pg_file_unlink", NULL,
};

static bool
is_file_function(const char *name)
{
	for (size_t i = 0; file_functions[i]; i++)
		if (strcmp(name, file_functions[i]) == 0)
			return true;
	return false;
}

static int
refuse(cf_error **err, const char *message, const char *name,
       const char *detail)
{
	cf_error *e = cf_error_new(CF_ERR_SQL, message, name);

	cf_error_set_code(e, "preflight-refused");
	cf_error_set_detail(e, "%s", detail);
	cf_error_set_hint(
		e,
		"preflight this migration against a disposable copy of the server (--against a scratch cluster), or in savepoint mode");
	return cf_fail(err, e);
}

int
cf_cluster_guard_statement(const cf_cluster_snapshot *snap, const void *stmt,
			   const char *clone_name, cf_error **err)
{
	const PgQuery__Node *n = statement_of(stmt);
	const char *name;

	if (!snap || !n)
		return 0;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		name = cf_pb_str(n->dropdb_stmt->dbname);
		if (name && !(clone_name && strcmp(name, clone_name) == 0) &&
		    cl_db_by_name(snap, name))
			return refuse(
				err,
				"preflight refuses to drop database '%s' on the against server",
				name,
				"DROP DATABASE acts on the whole server, not on the clone, and a dropped database cannot be restored afterwards");
		break;
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
		name = cf_pb_str(n->drop_table_space_stmt->tablespacename);
		if (name && cl_ts_by_name(snap, name))
			return refuse(
				err,
				"preflight refuses to drop tablespace '%s' on the against server",
				name,
				"DROP TABLESPACE acts on the whole server, not on the clone, and a dropped tablespace is not restored afterwards");
		break;
	case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
		if (snap->passwords_known)
			return 0;
		for (size_t i = 0; i < n->drop_role_stmt->n_roles; i++) {
			const PgQuery__RoleSpec *spec = role_spec(
				n->drop_role_stmt->roles[i]);

			name = spec ? cf_pb_str(spec->rolename) : NULL;
			if (name && cl_role_by_name(snap, name))
				return refuse(
					err,
					"preflight refuses to drop role '%s' on the against server",
					name,
					"roles are shared by the whole server; the preflight cannot read password hashes as this user, so the role could not be recreated as it was");
		}
		break;
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
		if (!snap->system_known)
			return refuse(
				err,
				"preflight refuses ALTER SYSTEM on the against server%s",
				"",
				"ALTER SYSTEM changes the whole server; the preflight cannot read postgresql.auto.conf (pg_file_settings) as this user, so the change could not be undone");
		break;
	case PG_QUERY__NODE__NODE_COPY_STMT:
		name = cf_pb_str(n->copy_stmt->filename);
		if (name && n->copy_stmt->is_program)
			return refuse(
				err,
				"preflight refuses COPY ... PROGRAM '%s' on the against server",
				name,
				"COPY ... PROGRAM runs a program on the server's machine; what it does there cannot be undone by dropping the clone");
		if (name && !n->copy_stmt->is_from)
			return refuse(
				err,
				"preflight refuses COPY ... TO '%s' on the against server",
				name,
				"COPY ... TO a file writes that file on the server's machine; it would stay after the clone is dropped");
		break;
	default:
		break;
	}
	if ((name = find_call(n, is_file_function)))
		return refuse(
			err, "preflight refuses %s() on the against server",
			name,
			"it writes or removes a file on the server's machine, which stays after the clone is dropped");
	return 0;
}

/* dblink's functions: dblink(), dblink_exec(), dblink_connect(), ... */
static bool
is_dblink_function(const char *name)
{
	return strncmp(name, "dblink", 6) == 0;
}

/* Case-insensitive search in text for word starting a word (and ending
 * one too, when whole). */
static bool
has_word(const char *text, const char *word, bool whole)
{
	size_t n = strlen(word);

	for (const char *p = strcasestr(text, word); p;
	     p = strcasestr(p + 1, word))
		if ((p == text || !word_char(p[-1])) &&
		    (!whole || !word_char(p[n])))
			return true;
	return false;
}

/* The first name of names[] that text has as a whole word, or NULL. */
static const char *
first_word(const char *text, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (has_word(text, names[i], true))
			return names[i];
	return NULL;
}

/*
 * The first absolute path quoted in text ('/...', however many quotes
 * nest it), as a new string, or NULL: where dynamic SQL may write.
 */
static char *
quoted_path(const char *text)
{
	for (const char *p = strchr(text, '\''); p; p = strchr(p + 1, '\'')) {
		const char *end;

		if (p[1] != '/')
			continue;
		end = strchr(p + 1, '\'');
		if (!end)
			return NULL;
		return cf_strndup(p + 1, (size_t)(end - p - 1));
	}
	return NULL;
}

/* A warning with code, its message from fmt and name. */
static cf_error *
reach_warning(const char *code, const char *fmt, const char *name,
	      const char *detail)
{
	cf_error *w = cf_error_new(CF_ERR_SQL, fmt, name);

	w->severity = CF_SEV_WARNING;
	cf_error_set_code(w, code);
	cf_error_set_detail(w, "%s", detail);
	return w;
}

cf_error *
cf_cluster_statement_warning(const void *stmt)
{
	static const char reach_detail[] =
		"dblink and foreign data wrappers such as postgres_fdw can reach other databases, the against database itself included; what they write there is not in the clone and the preflight does not undo it";
	const PgQuery__Node *n = statement_of(stmt);
	cf_cluster_scope *strings;
	const char *name, *text;
	cf_error *w = NULL;

	if (!n)
		return NULL;
	if ((name = find_call(n, is_dblink_function)))
		return reach_warning("reaches-other-databases",
				     "a replayed statement calls %s()", name,
				     reach_detail);
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT)
		return reach_warning(
			"reaches-other-databases",
			"a replayed statement creates foreign server '%s'",
			n->create_foreign_server_stmt->servername,
			reach_detail);
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT &&
	    (name = cf_pb_str(n->create_extension_stmt->extname)) &&
	    (strcmp(name, "dblink") == 0 || strcmp(name, "postgres_fdw") == 0))
		return reach_warning(
			"reaches-other-databases",
			"a replayed statement creates extension %s", name,
			reach_detail);
	/* dynamic SQL: what function bodies and DO blocks say */
	strings = cf_cluster_scope_new();
	collect_strings(strings, n);
	text = cf_strbuf_str(&strings->text);
	if ((name = first_word(text, file_functions)) ||
	    (has_word(text, "copy", true) &&
	     (has_word(text, "program", true) || strcasestr(text, "to '") ||
	      strcasestr(text, "to e'")))) {
		char *path = quoted_path(text);

		w = reach_warning(
			"server-file-may-be-written",
			"dynamic SQL in a replayed statement may write a file on the server's machine (%s)",
			name ? name : "COPY ... TO or PROGRAM",
			"the preflight refuses such statements when they are replayed directly, but cannot see them in dynamic SQL; a file written there stays after the clone is dropped");
		if (path) {
			char *q = cf_quote_literal(path);

			/* a shell word: the literal's quotes suit sh too,
			 * as the path has no quote in it */
			w->statement = cf_asprintf("rm -f %s", q);
			cf_error_set_hint(
				w,
				"if it ran, remove the file on the server's machine: rm -f %s",
				q);
			free(q);
			free(path);
		}
	} else if ((name = has_word(text, "dblink", false) ? "dblink" :
			   has_word(text, "postgres_fdw", true) ?
							     "postgres_fdw" :
							     NULL))
		w = reach_warning(
			"reaches-other-databases",
			"dynamic SQL in a replayed statement mentions %s", name,
			reach_detail);
	cf_cluster_scope_free(strings);
	return w;
}
