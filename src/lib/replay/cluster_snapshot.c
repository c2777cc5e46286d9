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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

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

/* Appends every string constant under node ("sval" values: literals, DO
 * and function bodies, EXECUTE strings) to the scope's text. */
static void
collect_strings(cf_cluster_scope *scope, const json_t *node, int depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 200 || scope->text.len > SCOPE_TEXT_MAX)
		return;
	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			collect_strings(scope, v, depth + 1);
		return;
	}
	json_object_foreach((json_t *)node, key, v)
	{
		if (strcmp(key, "sval") == 0 && json_is_string(v)) {
			cf_strbuf_addstr(&scope->text, json_string_value(v));
			cf_strbuf_addch(&scope->text, '\n');
		} else if (json_is_object(v) || json_is_array(v)) {
			collect_strings(scope, v, depth + 1);
		}
	}
}

static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '$';
}

bool
cl_scope_mentions(const cf_cluster_scope *scope, const char *name)
{
	const char *text, *p;
	size_t n;

	if (!scope || !name || !*name || !scope->text.len)
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

/* The string of a {"String": {"sval": ...}} node, or NULL. */
static const char *
sval(const json_t *node)
{
	return json_string_value(
		json_object_get(json_object_get(node, "String"), "sval"));
}

/*
 * Records the role of a RoleSpec, bare or wrapped ({"RoleSpec": {...}}).
 * CURRENT_USER, CURRENT_ROLE and SESSION_USER set CF_SCOPE_CURRENT_USER
 * (the restore reads them as the snapshot's user); PUBLIC is no role.
 */
static void
add_role_spec(cf_cluster_scope *scope, const json_t *spec)
{
	const json_t *in = json_object_get(spec, "RoleSpec");
	const char *type;

	if (in)
		spec = in;
	type = json_string_value(json_object_get(spec, "roletype"));
	if (!type)
		return;
	if (strcmp(type, "ROLESPEC_CSTRING") == 0)
		scope_add(scope, 'r',
			  json_string_value(json_object_get(spec, "rolename")));
	else if (strcmp(type, "ROLESPEC_PUBLIC") != 0)
		scope->flags |= CF_SCOPE_CURRENT_USER;
}

/* Records every RoleSpec of a JSON array. */
static void
add_role_specs(cf_cluster_scope *scope, const json_t *list)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		add_role_spec(scope, json_array_get(list, i));
}

/* The roles of CREATE/ALTER ROLE options IN ROLE, ROLE, ADMIN (and
 * ALTER GROUP ... ADD/DROP USER): memberships on either side. */
static void
add_option_roles(cf_cluster_scope *scope, const json_t *options)
{
	for (size_t i = 0; i < json_array_size(options); i++) {
		const json_t *d = json_object_get(json_array_get(options, i),
						  "DefElem");
		const char *name = json_string_value(
			json_object_get(d, "defname"));

		if (name && (strcmp(name, "addroleto") == 0 ||
			     strcmp(name, "rolemembers") == 0 ||
			     strcmp(name, "adminmembers") == 0))
			add_role_specs(
				scope,
				json_object_get(
					json_object_get(
						json_object_get(d, "arg"),
						"List"),
					"items"));
	}
}

/* The kind letter of an ObjectType for a shared object, or 0. */
static char
object_kind(const json_t *objtype)
{
	const char *t = json_string_value(objtype);

	if (!t)
		return 0;
	if (strcmp(t, "OBJECT_ROLE") == 0)
		return 'r';
	if (strcmp(t, "OBJECT_DATABASE") == 0)
		return 'd';
	if (strcmp(t, "OBJECT_TABLESPACE") == 0)
		return 't';
	return 0;
}

void
cf_cluster_scope_add_statement(cf_cluster_scope *scope, const void *stmt_json)
{
	json_t *node = (json_t *)stmt_json, *in, *x;
	const char *type;
	char kind;

	if (!scope || !json_is_object(node))
		return;
	if ((in = json_object_get(node, "stmt")) && json_is_object(in))
		node = in;
	if (json_object_size(node) != 1)
		return;
	type = json_object_iter_key(json_object_iter(node));
	x = json_object_iter_value(json_object_iter(node));
	collect_strings(scope, x, 0);

#define IS(name) (strcmp(type, name) == 0)
#define FIELD(key) json_object_get(x, key)
#define STR(key) json_string_value(json_object_get(x, key))
	if (IS("CreateRoleStmt")) {
		scope_add(scope, 'r', STR("role"));
		add_option_roles(scope, FIELD("options"));
	} else if (IS("AlterRoleStmt")) {
		add_role_spec(scope, FIELD("role"));
		add_option_roles(scope, FIELD("options"));
	} else if (IS("AlterRoleSetStmt")) {
		/* no role: ALTER ROLE ALL [IN DATABASE d]; the database
		 * alone names the rows of all roles in it */
		if (FIELD("role"))
			add_role_spec(scope, FIELD("role"));
		else if (!STR("database"))
			scope->flags |= CF_SCOPE_ALL_ROLES;
		scope_add(scope, 'd', STR("database"));
	} else if (IS("DropRoleStmt")) {
		add_role_specs(scope, FIELD("roles"));
	} else if (IS("GrantRoleStmt")) {
		json_t *granted = FIELD("granted_roles");

		for (size_t i = 0; i < json_array_size(granted); i++)
			scope_add(scope, 'r',
				  json_string_value(json_object_get(
					  json_object_get(
						  json_array_get(granted, i),
						  "AccessPriv"),
					  "priv_name")));
		add_role_specs(scope, FIELD("grantee_roles"));
	} else if (IS("RenameStmt")) {
		if ((kind = object_kind(FIELD("renameType")))) {
			scope_add(scope, kind, STR("subname"));
			scope_add(scope, kind, STR("newname"));
		}
	} else if (IS("CreatedbStmt") || IS("AlterDatabaseStmt") ||
		   IS("AlterDatabaseSetStmt") || IS("DropdbStmt") ||
		   IS("AlterDatabaseRefreshCollStmt")) {
		scope_add(scope, 'd', STR("dbname"));
	} else if (IS("AlterOwnerStmt")) {
		if ((kind = object_kind(FIELD("objectType"))) && kind != 'r')
			scope_add(scope, kind, sval(FIELD("object")));
	} else if (IS("GrantStmt")) {
		json_t *objects = FIELD("objects");

		if ((kind = object_kind(FIELD("objtype"))) && kind != 'r')
			for (size_t i = 0; i < json_array_size(objects); i++)
				scope_add(scope, kind,
					  sval(json_array_get(objects, i)));
	} else if (IS("CreateTableSpaceStmt") ||
		   IS("AlterTableSpaceOptionsStmt") ||
		   IS("DropTableSpaceStmt")) {
		scope_add(scope, 't', STR("tablespacename"));
	} else if (IS("AlterSystemStmt")) {
		json_t *set = FIELD("setstmt");
		const char *k = json_string_value(json_object_get(set, "kind"));

		if (k && strcmp(k, "VAR_RESET_ALL") == 0)
			scope->flags |= CF_SCOPE_SYSTEM_ALL;
		else
			scope_add(scope, 's',
				  json_string_value(
					  json_object_get(set, "name")));
	} else if (IS("CommentStmt") || IS("SecLabelStmt")) {
		if ((kind = object_kind(FIELD("objtype"))))
			scope_add(scope, kind, sval(FIELD("object")));
	} else if (IS("ReassignOwnedStmt") || IS("DropOwnedStmt")) {
		add_role_specs(scope, FIELD("roles"));
	} else if (IS("DoStmt") || IS("CallStmt")) {
		scope->flags |= CF_SCOPE_OPAQUE;
	}
#undef IS
#undef FIELD
#undef STR
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

/*
 * The name of the first function call under node (the last part of a
 * qualified name) that pred accepts, or NULL.  Borrowed from node.
 */
static const char *
find_call(const json_t *node, bool (*pred)(const char *), int depth)
{
	const char *key, *found;
	json_t *v;
	size_t i;

	if (depth > 200)
		return NULL;
	if (json_is_array(node)) {
		json_array_foreach(
			node, i,
			v) if ((found = find_call(v, pred,
						  depth + 1))) return found;
		return NULL;
	}
	json_object_foreach((json_t *)node, key, v)
	{
		if (strcmp(key, "FuncCall") == 0) {
			json_t *parts = json_object_get(v, "funcname");
			const char *name = sval(json_array_get(
				parts, json_array_size(parts) - 1));

			if (name && pred(name))
				return name;
		}
		if ((json_is_object(v) || json_is_array(v)) &&
		    (found = find_call(v, pred, depth + 1)))
			return found;
	}
	return NULL;
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
cf_cluster_guard_statement(const cf_cluster_snapshot *snap,
			   const void *stmt_json, const char *clone_name,
			   cf_error **err)
{
	json_t *node = (json_t *)stmt_json, *in;
	const char *name;

	if (!snap || !json_is_object(node))
		return 0;
	if ((in = json_object_get(node, "stmt")) && json_is_object(in))
		node = in;
	if ((in = json_object_get(node, "DropdbStmt"))) {
		name = json_string_value(json_object_get(in, "dbname"));
		if (name && !(clone_name && strcmp(name, clone_name) == 0) &&
		    cl_db_by_name(snap, name))
			return refuse(
				err,
				"preflight refuses to drop database '%s' on the against server",
				name,
				"DROP DATABASE acts on the whole server, not on the clone, and a dropped database cannot be restored afterwards");
	} else if ((in = json_object_get(node, "DropTableSpaceStmt"))) {
		name = json_string_value(json_object_get(in, "tablespacename"));
		if (name && cl_ts_by_name(snap, name))
			return refuse(
				err,
				"preflight refuses to drop tablespace '%s' on the against server",
				name,
				"DROP TABLESPACE acts on the whole server, not on the clone, and a dropped tablespace is not restored afterwards");
	} else if ((in = json_object_get(node, "DropRoleStmt"))) {
		json_t *roles = json_object_get(in, "roles");

		if (snap->passwords_known)
			return 0;
		for (size_t i = 0; i < json_array_size(roles); i++) {
			json_t *spec = json_object_get(json_array_get(roles, i),
						       "RoleSpec");

			name = json_string_value(
				json_object_get(spec, "rolename"));
			if (name && cl_role_by_name(snap, name))
				return refuse(
					err,
					"preflight refuses to drop role '%s' on the against server",
					name,
					"roles are shared by the whole server; the preflight cannot read password hashes as this user, so the role could not be recreated as it was");
		}
	} else if (json_object_get(node, "AlterSystemStmt")) {
		if (!snap->system_known)
			return refuse(
				err,
				"preflight refuses ALTER SYSTEM on the against server%s",
				"",
				"ALTER SYSTEM changes the whole server; the preflight cannot read postgresql.auto.conf (pg_file_settings) as this user, so the change could not be undone");
	} else if ((in = json_object_get(node, "CopyStmt"))) {
		name = json_string_value(json_object_get(in, "filename"));
		if (name && json_is_true(json_object_get(in, "is_program")))
			return refuse(
				err,
				"preflight refuses COPY ... PROGRAM '%s' on the against server",
				name,
				"COPY ... PROGRAM runs a program on the server's machine; what it does there cannot be undone by dropping the clone");
		if (name && !json_is_true(json_object_get(in, "is_from")))
			return refuse(
				err,
				"preflight refuses COPY ... TO '%s' on the against server",
				name,
				"COPY ... TO a file writes that file on the server's machine; it would stay after the clone is dropped");
	}
	if ((name = find_call(node, is_file_function, 0)))
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
cf_cluster_statement_warning(const void *stmt_json)
{
	static const char reach_detail[] =
		"dblink and foreign data wrappers such as postgres_fdw can reach other databases, the against database itself included; what they write there is not in the clone and the preflight does not undo it";
	json_t *node = (json_t *)stmt_json, *in;
	cf_cluster_scope *strings;
	const char *name, *text;
	cf_error *w = NULL;

	if (!json_is_object(node))
		return NULL;
	if ((in = json_object_get(node, "stmt")) && json_is_object(in))
		node = in;
	if ((name = find_call(node, is_dblink_function, 0)))
		return reach_warning("reaches-other-databases",
				     "a replayed statement calls %s()", name,
				     reach_detail);
	if ((in = json_object_get(node, "CreateForeignServerStmt")))
		return reach_warning(
			"reaches-other-databases",
			"a replayed statement creates foreign server '%s'",
			json_string_value(json_object_get(in, "servername")),
			reach_detail);
	if ((in = json_object_get(node, "CreateExtensionStmt")) &&
	    (name = json_string_value(json_object_get(in, "extname"))) &&
	    (strcmp(name, "dblink") == 0 || strcmp(name, "postgres_fdw") == 0))
		return reach_warning(
			"reaches-other-databases",
			"a replayed statement creates extension %s", name,
			reach_detail);
	/* dynamic SQL: what function bodies and DO blocks say */
	strings = cf_cluster_scope_new();
	collect_strings(strings, node, 0);
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
