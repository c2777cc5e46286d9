/*
 * clone.c — the clone database's own lifecycle in a clone-mode preflight:
 * emptying it of subscriptions and logical slots so that it can be
 * dropped, checking that it is gone, and the marker (its COMMENT) from
 * which the next run repairs the against database after a killed run.
 *
 * A migration may say ALTER DATABASE <against> ...: in clone mode that acts
 * on the real database, not on the clone.  The restore undoes it at the
 * end of the run; a run killed before then cannot, so its marker keeps the
 * database's state from before the replay, and the next preflight against
 * the same server puts it back.
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "replay/clone.h"
#include "replay/cluster_internal.h"

/* The start of every marker comment; what follows is JSON. */
#define MARKER_PREFIX "confiture preflight clone; do not edit: "

/* The against database's own state, as the marker keeps it. */
typedef struct db_state {
	Oid oid;
	char *name;
	int connlimit;
	bool allowconn, istemplate;
	char *owner;
	char *comment;	 /* NULL for none */
	char **settings; /* per-database "name=value" items */
	size_t n_settings;
	uint32_t xmin, set_xmin, cmt_xmin; /* 0: no row */
} db_state;

struct cf_clone_marker {
	char *clone;
	db_state db;
	char *saved; /* the comment last written, or NULL */
};

/* Adds a note of severity sev and code.  Takes message. */
static void
note(cf_error_list *notes, cf_severity sev, const char *code, char *message,
     const char *detail, const char *statement)
{
	cf_error *n = cf_error_new(CF_ERR_SQL, "%s", message);

	n->severity = sev;
	cf_error_set_code(n, code);
	if (detail)
		cf_error_set_detail(n, "%s", detail);
	if (statement)
		n->statement = cf_strdup(statement);
	cf_error_list_add(notes, n);
	free(message);
}

/*
 * Runs sql on conn: a notice with done on success, a warning with failed,
 * the server's words and the statement on failure.  Takes sql, done and
 * failed.  Returns 0 or -1.
 */
static int
run(PGconn *conn, cf_error_list *notes, const char *ok_code,
    const char *fail_code, char *sql, char *done, char *failed)
{
	cf_error *e = NULL;
	int rc = cf_db_exec(conn, sql, &e);

	if (rc == 0) {
		note(notes, CF_SEV_NOTICE, ok_code, done, NULL, sql);
		free(failed);
	} else {
		note(notes, CF_SEV_WARNING, fail_code, failed,
		     e->detail ? e->detail : e->message, sql);
		notes->items[notes->n - 1]->hint = cf_asprintf(
			"run it by hand once the cause is fixed: %s", sql);
		cf_error_free(e);
		free(done);
	}
	free(sql);
	return rc;
}

void
cf_clone_clear(PGconn *maint, const char *conninfo, const char *clone,
	       cf_error_list *notes)
{
	const char *params[1] = {clone};
	/* what stops DROP DATABASE, read in one round trip */
	const cl_query qs[3] = {
		{"SELECT s.subname, s.subslotname"
		 " FROM pg_catalog.pg_subscription s"
		 " JOIN pg_catalog.pg_database d ON d.oid = s.subdbid"
		 " WHERE d.datname = $1 ORDER BY 1",
		 1, params},
		/* a template cannot be dropped; a migration may have made it
		 * one */
		{"SELECT 1 FROM pg_catalog.pg_database"
		 " WHERE datname = $1 AND datistemplate",
		 1, params},
		{"SELECT slot_name FROM pg_catalog.pg_replication_slots"
		 " WHERE database = $1 AND NOT temporary ORDER BY 1",
		 1, params},
	};
	PGresult *res[3], *r;
	PGconn *conn = NULL;
	cf_error *e = NULL;

	cl_query_batch(maint, qs, 3, res);
	for (int i = 0; i < 3; i++)
		if (res[i] && PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
			PQclear(res[i]);
			res[i] = NULL;
		}
	r = res[0];
	if (r && PQntuples(r) > 0 &&
	    cf_db_connect_db(conninfo, clone, NULL, &conn, &e) < 0) {
		note(notes, CF_SEV_WARNING, "cluster-not-restored",
		     cf_asprintf(
			     "cannot connect to the clone '%s' to drop its subscriptions",
			     clone),
		     e->message, NULL);
		PQfinish(conn);
		conn = NULL;
	}
	cf_error_free(e);
	for (int i = 0; conn && i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		char *q = cf_quote_ident(name);

		/* without slot_name = NONE, DROP connects to the publisher */
		if (run(conn, notes, "cluster-restored", "cluster-not-restored",
			cf_asprintf(
				"ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s",
				q, q, q),
			cf_asprintf(
				"dropped subscription '%s' created by a replayed migration",
				name),
			cf_asprintf(
				"cannot drop subscription '%s' created by a replayed migration",
				name)) == 0 &&
		    !PQgetisnull(r, i, 1)) {
			char *lit = cf_quote_literal(PQgetvalue(r, i, 1));
			char *cmd = cf_asprintf(
				"SELECT pg_drop_replication_slot(%s)", lit);

			note(notes, CF_SEV_WARNING, "reaches-other-databases",
			     cf_asprintf(
				     "subscription '%s' named replication slot '%s' on its publisher, which the preflight does not reach",
				     name, PQgetvalue(r, i, 1)),
			     "CREATE SUBSCRIPTION with connect = true creates that slot on the publisher, where it keeps WAL until dropped",
			     cmd);
			notes->items[notes->n - 1]->hint = cf_asprintf(
				"if the slot exists there, drop it on the publisher: %s",
				cmd);
			free(cmd);
			free(lit);
		}
		free(q);
	}
	PQfinish(conn);
	PQclear(r);
	r = res[1];
	if (r && PQntuples(r) == 1) {
		char *q = cf_quote_ident(clone);

		run(maint, notes, "cluster-restored", "cluster-not-restored",
		    cf_asprintf("ALTER DATABASE %s IS_TEMPLATE false", q),
		    cf_asprintf("unmarked the clone '%s' as a template", clone),
		    cf_asprintf("cannot unmark the clone '%s' as a template",
				clone));
		free(q);
	}
	PQclear(r);
	r = res[2];
	for (int i = 0; r && i < PQntuples(r); i++) {
		char *lit = cf_quote_literal(PQgetvalue(r, i, 0));

		run(maint, notes, "cluster-restored", "cluster-not-restored",
		    cf_asprintf(
			    "SELECT pg_catalog.pg_drop_replication_slot(%s)",
			    lit),
		    cf_asprintf(
			    "dropped logical replication slot '%s' of the clone",
			    PQgetvalue(r, i, 0)),
		    cf_asprintf(
			    "cannot drop logical replication slot '%s' of the clone",
			    PQgetvalue(r, i, 0)));
		free(lit);
	}
	PQclear(r);
}

int
cf_clone_exists(PGconn *maint, const char *clone, cf_error **err)
{
	const char *params[1] = {clone};
	cf_error *e = NULL;
	PGresult *r = cf_db_query(
		maint,
		"SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1",
		1, params, &e);
	int n;

	if (!r)
		return cf_fail(err, e);
	n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n > 0;
}

void
cf_clone_finish(PGconn *conn)
{
	/* the server closes the socket after leaving the process array (its
	 * last exit step): our copy of the socket then reads end of file */
	int fd = conn && PQstatus(conn) == CONNECTION_OK ? dup(PQsocket(conn)) :
							   -1;
	double until = cf_now_ms() + 1000;
	char buf[512];

	PQfinish(conn);
	if (fd < 0)
		return;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(until - cf_now_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0 ||
		    read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	close(fd);
}

/* ---- the against database's state ---- */

static const char state_sql[] =
	"SELECT d.oid, d.datname, d.datconnlimit, d.datallowconn,"
	" d.datistemplate, pg_catalog.pg_get_userbyid(d.datdba),"
	" pg_catalog.shobj_description(d.oid, 'pg_database'),"
	" (SELECT pg_catalog.array_to_json(s.setconfig)::text"
	"  FROM pg_catalog.pg_db_role_setting s"
	"  WHERE s.setdatabase = d.oid AND s.setrole = 0),"
	" d.xmin::text,"
	" (SELECT s.xmin::text FROM pg_catalog.pg_db_role_setting s"
	"  WHERE s.setdatabase = d.oid AND s.setrole = 0),"
	" (SELECT c.xmin::text FROM pg_catalog.pg_shdescription c"
	"  WHERE c.objoid = d.oid"
	"  AND c.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass)"
	" FROM pg_catalog.pg_database d WHERE ";

static void
state_release(db_state *d)
{
	free(d->name);
	free(d->owner);
	free(d->comment);
	for (size_t i = 0; i < d->n_settings; i++)
		free(d->settings[i]);
	free(d->settings);
	memset(d, 0, sizeof(*d));
}

static uint32_t
xid_field(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ?
		       0 :
		       (uint32_t)strtoull(PQgetvalue(r, 0, col), NULL, 10);
}

/* Reads the database named name, or with oid name ("by_oid"); 1 found, 0
 * not found, -1 with *err. */
static int
state_read(PGconn *maint, const char *key, bool by_oid, db_state *d,
	   cf_error **err)
{
	const char *params[1] = {key};
	char *sql = cf_asprintf("%s%s", state_sql,
				by_oid ? "d.oid::text = $1" : "d.datname = $1");
	cf_error *e = NULL;
	PGresult *r = cf_db_query(maint, sql, 1, params, &e);
	json_t *j;

	free(sql);
	memset(d, 0, sizeof(*d));
	if (!r)
		return cf_fail(err, e);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	d->oid = cl_foid(r, 0, 0);
	d->name = cf_strdup(PQgetvalue(r, 0, 1));
	d->connlimit = atoi(PQgetvalue(r, 0, 2));
	d->allowconn = PQgetvalue(r, 0, 3)[0] == 't';
	d->istemplate = PQgetvalue(r, 0, 4)[0] == 't';
	d->owner = cf_strdup(PQgetvalue(r, 0, 5));
	d->comment = PQgetisnull(r, 0, 6) ? NULL :
					    cf_strdup(PQgetvalue(r, 0, 6));
	j = PQgetisnull(r, 0, 7) ? NULL :
				   json_loads(PQgetvalue(r, 0, 7), 0, NULL);
	cl_strings_from_json(j, &d->settings, &d->n_settings);
	json_decref(j);
	d->xmin = xid_field(r, 8);
	d->set_xmin = xid_field(r, 9);
	d->cmt_xmin = xid_field(r, 10);
	PQclear(r);
	return 1;
}

static json_t *
state_json(const db_state *d)
{
	json_t *o = json_object(), *a = json_array();

	json_object_set_new(o, "oid", json_integer(d->oid));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "connlimit", json_integer(d->connlimit));
	json_object_set_new(o, "allowconn", json_boolean(d->allowconn));
	json_object_set_new(o, "istemplate", json_boolean(d->istemplate));
	json_object_set_new(o, "owner", json_string(d->owner));
	json_object_set_new(o, "comment",
			    d->comment ? json_string(d->comment) : json_null());
	for (size_t i = 0; i < d->n_settings; i++)
		json_array_append_new(a, json_string(d->settings[i]));
	json_object_set_new(o, "settings", a);
	return o;
}

/* Reads a marker's state back; false when malformed. */
static bool
state_from_json(const json_t *o, db_state *d)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *owner = json_string_value(json_object_get(o, "owner"));
	const char *comment = json_string_value(json_object_get(o, "comment"));

	memset(d, 0, sizeof(*d));
	if (!name || !owner || !json_is_integer(json_object_get(o, "oid")))
		return false;
	d->oid = (Oid)json_integer_value(json_object_get(o, "oid"));
	d->name = cf_strdup(name);
	d->owner = cf_strdup(owner);
	d->comment = comment ? cf_strdup(comment) : NULL;
	d->connlimit = (int)json_integer_value(json_object_get(o, "connlimit"));
	d->allowconn = json_is_true(json_object_get(o, "allowconn"));
	d->istemplate = json_is_true(json_object_get(o, "istemplate"));
	cl_strings_from_json(json_object_get(o, "settings"), &d->settings,
			     &d->n_settings);
	return true;
}

/* ---- the marker ---- */

int
cf_clone_marker_new(PGconn *maint, const char *against, const char *clone,
		    cf_clone_marker **out, cf_error **err)
{
	cf_clone_marker *m = cf_new(cf_clone_marker);
	char *lit = cf_quote_literal(clone);
	char *sql = cf_asprintf("SET application_name = %s", lit);
	int rc;

	*out = NULL;
	free(lit);
	/* a live run is known by this name (cf_clone_repair_stale()) */
	rc = cf_db_exec(maint, sql, err);
	free(sql);
	if (rc == 0 &&
	    (rc = state_read(maint, against, false, &m->db, err)) == 0) {
		rc = -1;
		*err = cf_error_new(CF_ERR_SQL, "database '%s' not found",
				    against);
	}
	if (rc < 0) {
		cf_clone_marker_free(m);
		return -1;
	}
	m->clone = cf_strdup(clone);
	*out = m;
	return 0;
}

/* Writes text as the clone's comment. */
static int
set_comment(PGconn *maint, const char *clone, const char *text, cf_error **err)
{
	char *q = cf_quote_ident(clone), *lit = cf_quote_literal(text);
	char *sql = cf_asprintf("COMMENT ON DATABASE %s IS %s", q, lit);
	int rc = cf_db_exec(maint, sql, err);

	free(sql);
	free(lit);
	free(q);
	return rc;
}

int
cf_clone_marker_save(PGconn *maint, cf_clone_marker *m, bool named,
		     const cf_cluster_scope *scope, cf_error **err)
{
	json_t *o = json_object(), *xs = json_array();
	const uint32_t *xids;
	size_t n = cf_cluster_scope_xids(scope, &xids);
	char *js, *text;

	json_object_set_new(o, "v", json_integer(1));
	json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(o, "named", json_boolean(named));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(xs, json_integer(xids[i]));
	json_object_set_new(o, "xids", xs);
	json_object_set_new(o, "against", state_json(&m->db));
	js = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	text = cf_asprintf("%s%s", MARKER_PREFIX, js);
	free(js);
	if (m->saved && strcmp(m->saved, text) == 0) {
		free(text);
		return 0;
	}
	if (set_comment(maint, m->clone, text, err) < 0) {
		free(text);
		return -1;
	}
	free(m->saved);
	m->saved = text;
	return 0;
}

void
cf_clone_marker_done(PGconn *maint, cf_clone_marker *m)
{
	if (m && m->saved)
		set_comment(maint, m->clone,
			    MARKER_PREFIX "{\"v\":1,\"restored\":true}", NULL);
}

void
cf_clone_marker_free(cf_clone_marker *m)
{
	if (!m)
		return;
	free(m->clone);
	state_release(&m->db);
	free(m->saved);
	free(m);
}

/* ---- repairing after a killed run ---- */

static bool
xid_listed(const json_t *xids, uint32_t xid)
{
	for (size_t i = 0; xid && i < json_array_size(xids); i++)
		if ((uint32_t)json_integer_value(json_array_get(xids, i)) ==
		    xid)
			return true;
	return false;
}

static bool
same_settings(const db_state *a, const db_state *b)
{
	if (a->n_settings != b->n_settings)
		return false;
	for (size_t i = 0; i < a->n_settings; i++)
		if (strcmp(a->settings[i], b->settings[i]) != 0)
			return false;
	return true;
}

/* Puts back what the dead run changed in the against database. */
static void
repair_against(PGconn *maint, const json_t *marker, cf_error_list *notes)
{
	const json_t *xids = json_object_get(marker, "xids");
	bool named = json_is_true(json_object_get(marker, "named"));
	db_state was, now;
	cf_strbuf sb = CF_STRBUF_INIT;
	char *key, *q;

	if (!state_from_json(json_object_get(marker, "against"), &was))
		return;
	key = cf_asprintf("%u", was.oid);
	if (state_read(maint, key, true, &now, NULL) <= 0) {
		free(key);
		state_release(&was);
		return;
	}
	free(key);
#define RUN(sql, what)                                                        \
	run(maint, notes, "stale-preflight-repaired", "stale-preflight", sql, \
	    cf_asprintf("%s of database '%s', left changed by a killed "      \
			"preflight",                                          \
			"restored the " what, was.name),                      \
	    cf_asprintf("cannot restore the " what " of database '%s', "      \
			"left changed by a killed preflight",                 \
			was.name))
	if (named || xid_listed(xids, now.xmin)) {
		if (strcmp(now.name, was.name) != 0) {
			char *qf = cf_quote_ident(now.name);

			q = cf_quote_ident(was.name);
			if (RUN(cf_asprintf("ALTER DATABASE %s RENAME TO %s",
					    qf, q),
				"name") == 0) {
				free(now.name);
				now.name = cf_strdup(was.name);
			}
			free(qf);
			free(q);
		}
		q = cf_quote_ident(now.name);
		if (now.allowconn != was.allowconn ||
		    now.connlimit != was.connlimit ||
		    now.istemplate != was.istemplate)
			RUN(cf_asprintf(
				    "ALTER DATABASE %s WITH ALLOW_CONNECTIONS %s CONNECTION LIMIT %d IS_TEMPLATE %s",
				    q, was.allowconn ? "true" : "false",
				    was.connlimit,
				    was.istemplate ? "true" : "false"),
			    "options");
		if (strcmp(now.owner, was.owner) != 0) {
			char *qo = cf_quote_ident(was.owner);

			RUN(cf_asprintf("ALTER DATABASE %s OWNER TO %s", q, qo),
			    "owner");
			free(qo);
		}
		free(q);
	}
	q = cf_quote_ident(now.name);
	if (!same_settings(&now, &was) &&
	    (named || xid_listed(xids, now.set_xmin))) {
		cf_strbuf_addf(&sb, "ALTER DATABASE %s RESET ALL", q);
		for (size_t i = 0; i < was.n_settings; i++) {
			cf_strbuf_addf(&sb, "; ALTER DATABASE %s SET ", q);
			cl_add_set_item(&sb, was.settings[i]);
		}
		RUN(cf_strbuf_detach(&sb), "settings");
	}
	if (!cl_str_eq(now.comment, was.comment) &&
	    (named || xid_listed(xids, now.cmt_xmin))) {
		char *lit = was.comment ? cf_quote_literal(was.comment) :
					  cf_strdup("NULL");

		RUN(cf_asprintf("COMMENT ON DATABASE %s IS %s", q, lit),
		    "comment");
		free(lit);
	}
#undef RUN
	free(q);
	state_release(&was);
	state_release(&now);
}

void
cf_clone_repair_stale(PGconn *maint, const char *conninfo, cf_error_list *notes)
{
	PGresult *r = cf_db_query(
		maint,
		"SELECT d.datname, pg_catalog.shobj_description(d.oid, 'pg_database')"
		" FROM pg_catalog.pg_database d"
		" WHERE d.datname LIKE 'cf\\_preflight\\_%'"
		/* only our own: another role could forge a marker */
		" AND d.datdba = (SELECT r.oid FROM pg_catalog.pg_roles r"
		"  WHERE r.rolname = current_user)"
		" AND pg_catalog.starts_with("
		"  pg_catalog.shobj_description(d.oid, 'pg_database'), $1)"
		" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a"
		"  WHERE a.application_name = d.datname)"
		" ORDER BY 1",
		1, (const char *const[]){MARKER_PREFIX}, NULL);

	for (int i = 0; r && i < PQntuples(r); i++) {
		const char *clone = PQgetvalue(r, i, 0);
		json_t *marker = json_loads(
			PQgetvalue(r, i, 1) + strlen(MARKER_PREFIX), 0, NULL);
		char *q = cf_quote_ident(clone);

		/* drop first: FORCE ends the dead run's backends, whose
		 * open transactions then roll back */
		cf_clone_clear(maint, conninfo, clone, notes);
		if (run(maint, notes, "stale-preflight-repaired",
			"stale-preflight",
			cf_asprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)",
				    q),
			cf_asprintf(
				"dropped clone '%s' left by a killed preflight",
				clone),
			cf_asprintf(
				"cannot drop clone '%s' left by a killed preflight",
				clone)) < 0)
			set_comment(maint, clone,
				    MARKER_PREFIX "{\"v\":1,\"restored\":true}",
				    NULL);
		if (marker &&
		    !json_is_true(json_object_get(marker, "restored")))
			repair_against(maint, marker, notes);
		json_decref(marker);
		free(q);
	}
	PQclear(r);
}
