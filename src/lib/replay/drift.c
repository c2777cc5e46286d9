/*
 * drift.c — how production differs from its migration history.
 *
 * The migrations production has applied (its tracking table, read only)
 * are replayed from an empty scratch database, through the same engine as
 * `migrate up`, after the environment's include_dirs schema files.  The
 * result and production are snapshotted (schema/) and compared.  A
 * snapshot after each replayed migration tells which migration last
 * touched each object, so every drift item can name it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/session_internal.h"
#include "schema/schema.h"

/* An object a replayed migration added, changed or dropped. */
struct touch {
	cf_object_kind kind;
	char *name;
	const cf_migration *m;
};

struct drift_run {
	cf_session *s;
	const cf_drift_options *opts;
	const cf_progress *progress;
	cf_drift_result *r;
	PGconn *prod;
	cf_provisioned *prov; /* --from-dump */
	PGconn *env_db;	      /* --from-dump: the session's database */
	bool all_applied;     /* --from-dump without a tracking table */
	char *prod_user;
	/* where we replay */
	cf_server *server;
	PGconn *admin; /* maintenance connection: creates and drops */
	char *admin_url;
	char *scratch; /* database name, once created */
	char **created_roles;
	size_t n_created_roles, alloc_roles;
	PGconn *conn; /* on the scratch database */
	cf_snapshot_options snap;
	const char *exclude[2];
	char *tracking_ident;
	struct touch *touches;
	size_t n_touches, alloc_touches;
};

static void
note(cf_drift_result *r, cf_error *e)
{
	e->severity = CF_SEV_WARNING;
	cf_error_list_add(&r->notes, e);
}

/* ---- the scratch database ---- */

/* Runs one statement built from a format; the maintenance connection. */
static int
admin_exec(struct drift_run *d, const char *sql, cf_error **err)
{
	return cf_db_exec(d->admin, sql, err);
}

/*
 * The embedded server is a copy of nobody's cluster: create the roles
 * production has (NOLOGIN), so that GRANTs and policies replay, and run
 * the migrations as production's own role, so that owners compare.  The
 * roles are dropped again with the scratch database.
 */
static int
mirror_roles(struct drift_run *d, cf_error **err)
{
	PGresult *prod_roles, *res;
	int rc = 0;

	/* with --from-dump, the roles of the environment's database */
	prod_roles = cf_db_query(d->env_db ? d->env_db : d->prod,
				 "SELECT rolname, rolsuper FROM pg_roles "
				 "WHERE rolname !~ '^pg_' ORDER BY 1",
				 0, NULL, err);
	if (!prod_roles)
		return -1;
	for (int i = 0; rc == 0 && i < PQntuples(prod_roles); i++) {
		const char *name = PQgetvalue(prod_roles, i, 0);
		bool super = strcmp(PQgetvalue(prod_roles, i, 1), "t") == 0;
		char *q;

		res = cf_db_query(d->admin,
				  "SELECT 1 FROM pg_roles WHERE rolname = $1",
				  1, &name, err);
		if (!res) {
			rc = -1;
			break;
		}
		if (PQntuples(res) == 0) {
			char *sql;

			q = cf_quote_ident(name);
			sql = cf_asprintf("CREATE ROLE %s NOLOGIN%s", q,
					  super ? " SUPERUSER" : "");
			rc = admin_exec(d, sql, err);
			free(sql);
			free(q);
			if (rc == 0) {
				CF_GROW(d->created_roles, d->alloc_roles,
					d->n_created_roles + 1);
				d->created_roles[d->n_created_roles++] =
					cf_strdup(name);
			}
		}
		PQclear(res);
	}
	PQclear(prod_roles);
	return rc;
}

/* "-c role=NAME" for a connection's startup options (spaces and
 * backslashes escaped, as libpq's options want).  Caller frees. */
static char *
role_option(const char *role)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_addstr(&sb, "-c role=");
	for (const char *p = role; *p; p++) {
		if (*p == ' ' || *p == '\\')
			cf_strbuf_addch(&sb, '\\');
		cf_strbuf_addch(&sb, *p);
	}
	return cf_strbuf_detach(&sb);
}

static int
create_scratch(struct drift_run *d, cf_error **err)
{
	char *name = cf_asprintf("confiture_drift_%ld_%ld", (long)getpid(),
				 (long)cf_now_ms());
	char *qname = cf_quote_ident(name), *quser = NULL, *sql;
	char *options = NULL;
	int rc;

	if (d->server) {
		if (mirror_roles(d, err) < 0) {
			free(name);
			free(qname);
			return -1;
		}
		quser = cf_quote_ident(d->prod_user);
		sql = cf_asprintf(
			"CREATE DATABASE %s OWNER %s TEMPLATE template0", qname,
			quser);
		/* the startup value: RESET ROLE between migrations keeps it */
		options = role_option(d->prod_user);
	} else {
		sql = cf_asprintf("CREATE DATABASE %s TEMPLATE template0",
				  qname);
	}
	rc = admin_exec(d, sql, err);
	free(sql);
	free(qname);
	free(quser);
	if (rc < 0) {
		free(name);
		free(options);
		return -1;
	}
	d->scratch = name;
	rc = cf_db_connect_db(d->admin_url, name, options, &d->conn, err);
	free(options);
	if (rc == 0)
		cf_cancel_register(d->conn);
	return rc;
}

static void
drop_scratch(struct drift_run *d)
{
	if (d->conn) {
		cf_cancel_register(NULL);
		PQfinish(d->conn);
		d->conn = NULL;
	}
	if (d->admin && d->scratch) {
		char *q = cf_quote_ident(d->scratch);
		char *sql = cf_asprintf("DROP DATABASE IF EXISTS %s%s", q,
					PQserverVersion(d->admin) >= 130000 ?
						" WITH (FORCE)" :
						"");

		PQclear(PQexec(d->admin, sql));
		free(sql);
		free(q);
	}
	for (size_t i = 0; d->admin && i < d->n_created_roles; i++) {
		char *q = cf_quote_ident(d->created_roles[i]);
		char *sql = cf_asprintf("DROP ROLE IF EXISTS %s", q);

		PQclear(PQexec(d->admin, sql));
		free(sql);
		free(q);
	}
	for (size_t i = 0; i < d->n_created_roles; i++)
		free(d->created_roles[i]);
	free(d->created_roles);
	d->created_roles = NULL;
	d->n_created_roles = 0;
	free(d->scratch);
	d->scratch = NULL;
}

static int
open_replay_server(struct drift_run *d, cf_error **err)
{
	if (d->opts->server_url) {
		d->admin_url = cf_strdup(d->opts->server_url);
		d->r->replay_where = cf_redact_url(d->opts->server_url);
	} else {
		cf_server_options so = {0};
		int prod_major = PQserverVersion(d->prod) / 10000;

		/* production's major when installed: the server's deparsers
		 * (views, defaults) then write the same text */
		so.cache_dir = d->opts->cache_dir;
		so.major_version = prod_major;
		if (cf_server_start(&so, &d->server, NULL) < 0) {
			so.major_version = 0;
			if (cf_server_start(&so, &d->server, err) < 0)
				return -1;
			note(d->r,
			     cf_error_new(
				     CF_ERR_CONFIG,
				     "production runs PostgreSQL %d, the embedded server %d: definitions may be written differently",
				     prod_major, cf_server_major(d->server)));
		}
		d->admin_url = cf_strdup(cf_server_url(d->server, "postgres"));
		d->r->replay_where = cf_asprintf("embedded server %d",
						 cf_server_major(d->server));
	}
	return cf_db_connect(d->admin_url, NULL, &d->admin, err);
}

/* ---- replay ---- */

static void
touch_all(struct drift_run *d, const cf_schema_diff *diff,
	  const cf_migration *m)
{
	for (size_t i = 0; i < diff->n; i++) {
		struct touch *t;

		CF_GROW(d->touches, d->alloc_touches, d->n_touches + 1);
		t = &d->touches[d->n_touches++];
		t->kind = diff->items[i].object_kind;
		t->name = cf_strdup(diff->items[i].object);
		t->m = m;
	}
}

/*
 * The migration that last touched an object.  A column made with its
 * table was charged to the table, so a missing or changed object falls
 * back to its parent; an extra one does not (a migration that touched its
 * table did not make it).
 */
static const cf_migration *
last_touch(const struct drift_run *d, const cf_schema_change *c)
{
	for (size_t i = d->n_touches; i-- > 0;)
		if (d->touches[i].kind == c->object_kind &&
		    strcmp(d->touches[i].name, c->object) == 0)
			return d->touches[i].m;
	if (c->kind == CF_CHANGE_ADDED)
		return NULL;
	for (size_t i = d->n_touches; c->parent && i-- > 0;)
		if (strcmp(d->touches[i].name, c->parent) == 0)
			return d->touches[i].m;
	return NULL;
}

/* Snapshots the scratch database and charges what changed since *prev to
 * m; *prev becomes the new snapshot. */
static int
step_snapshot(struct drift_run *d, const cf_migration *m, cf_schema **prev,
	      cf_error **err)
{
	cf_schema *now;
	cf_schema_diff *diff;

	if (cf_schema_snapshot_conn(d->conn, &d->snap, &now, err) < 0)
		return -1;
	diff = cf_schema_diff_compute(*prev, now);
	touch_all(d, diff, m);
	cf_schema_diff_free(diff);
	cf_schema_free(*prev);
	*prev = now;
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.sql file under dir, recursively; appended to *files. */
static void
list_sql(const char *dir, char ***files, size_t *n, size_t *alloc)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (!dh)
		return;
	while ((de = readdir(dh)) != NULL) {
		char *path;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		path = cf_path_join(dir, de->d_name);
		if (cf_is_dir(path)) {
			list_sql(path, files, n, alloc);
			free(path);
		} else if (len > 4 &&
			   strcmp(de->d_name + len - 4, ".sql") == 0) {
			CF_GROW(*files, *alloc, *n + 1);
			(*files)[(*n)++] = path;
		} else {
			free(path);
		}
	}
	closedir(dh);
}

/*
 * The include_dirs schema files, in path order, each applied like a
 * migration (same engine, no tracking row), before any migration.
 */
static int
apply_schema_files(struct drift_run *d, cf_engine *e, cf_error **err)
{
	char *const *dirs = d->s->cfg->include_dirs;
	const char *project = d->opts->project_dir ? d->opts->project_dir : ".";
	char **files = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;

	for (size_t i = 0; dirs && dirs[i]; i++) {
		char *dir = dirs[i][0] == '/' ? cf_strdup(dirs[i]) :
						cf_path_join(project, dirs[i]);

		if (!cf_is_dir(dir)) {
			cf_error *w = cf_error_new(
				CF_ERR_CONFIG,
				"include_dirs entry '%s' is not a directory",
				dir);

			cf_error_set_where(w, d->s->cfg->path, 0, 0);
			note(d->r, w);
		}
		list_sql(dir, &files, &n, &alloc);
		free(dir);
	}
	qsort(files, n, sizeof(char *), str_cmp);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_migration m = {0};
		cf_outcome o;

		m.version = "schema";
		m.name = files[i];
		m.up_path = files[i];
		if (cf_script_load(files[i], &m.up, &problems) < 0) {
			cf_error *pe = problems.n ?
					       cf_error_copy(
						       problems.items[0]) :
					       cf_error_new(CF_ERR_FILE,
							    "cannot read '%s'",
							    files[i]);

			cf_error_list_release(&problems);
			cf_script_free(m.up);
			rc = cf_fail(err, pe);
			break;
		}
		cf_error_list_release(&problems);
		if (cf_engine_apply(e, &m, false, &o) < 0) {
			rc = cf_fail(err, o.error);
			o.error = NULL;
		}
		free(o.skipped_reason);
		cf_script_free(m.up);
		d->r->schema_files++;
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return rc;
}

static int
replay(struct drift_run *d, const cf_applied_list *applied, cf_schema **history,
       cf_error **err)
{
	cf_engine e = {0};
	cf_schema *prev = NULL;
	double t0 = cf_now_ms();

	e.conn = d->conn;
	e.unit = CF_UNIT_TRANSACTION;
	e.allow_autocommit = true;
	if (apply_schema_files(d, &e, err) < 0)
		return -1;
	if (cf_schema_snapshot_conn(d->conn, &d->snap, &prev, err) < 0)
		return -1;
	for (size_t i = 0; i < d->s->set->n; i++) {
		const cf_migration *m = &d->s->set->items[i];
		cf_outcome o;

		if ((!d->all_applied &&
		     !cf_applied_find(applied, m->version)) ||
		    !m->up)
			continue;
		if (d->progress && d->progress->migration_start)
			d->progress->migration_start(d->progress->arg, m,
						     false);
		cf_engine_apply(&e, m, false, &o);
		if (d->progress && d->progress->migration_done)
			d->progress->migration_done(d->progress->arg, &o,
						    false);
		free(o.skipped_reason);
		if (o.kind == CF_OUTCOME_FAILED) {
			cf_error *ce = o.error;
			char *msg = ce->message;

			ce->message = cf_asprintf(
				"migration %s does not replay from an empty database: %s",
				m->version, msg);
			free(msg);
			if (!ce->hint)
				cf_error_set_hint(
					ce,
					"drift compares production with its history replayed from empty; fix the migration, or run on a --server that has what it needs");
			cf_error_set_code(ce, "replay-failed");
			cf_schema_free(prev);
			return cf_fail(err, ce);
		}
		d->r->replayed++;
		if (step_snapshot(d, m, &prev, err) < 0) {
			cf_schema_free(prev);
			return -1;
		}
	}
	d->r->replay_ms = cf_now_ms() - t0;
	*history = prev;
	return 0;
}

/* ---- production ---- */

/* Reads the applied migrations from conn's tracking table, with notes
 * for rows without a file and edited files. */
static int
read_applied(struct drift_run *d, PGconn *conn, cf_applied_list *applied,
	     cf_error **err)
{
	if (cf_tracking_read(conn, d->s->cfg, cf_session_numeric(d->s), applied,
			     err) < 0)
		return -1;
	if (!applied->table_exists)
		note(d->r, cf_error_new(CF_ERR_TRACKING,
					"production has no tracking table %s: "
					"no migration counts as applied",
					d->s->cfg->tracking_table));
	for (size_t i = 0; i < applied->n; i++)
		if (cf_migration_set_find(d->s->set,
					  applied->items[i].version) < 0) {
			cf_error *w = cf_error_new(
				CF_ERR_FILE,
				"applied migration %s (%s) has no file: what it made shows as drift",
				applied->items[i].version,
				applied->items[i].name);

			cf_error_set_code(w, "applied-missing-file");
			note(d->r, w);
		}
	cf_session_verify_checksums(d->s, applied, CF_CHECKSUM_WARN,
				    &d->r->notes);
	return 0;
}

/* Parses the up files of the applied migrations (every file when they all
 * count as applied), the ones drift replays; problems in any other file
 * are never a reason to refuse. */
static int
check_replayed_files(struct drift_run *d, const cf_applied_list *applied,
		     cf_error **err)
{
	cf_migration_set *set = d->s->set;
	bool *acted = cf_calloc(set->n + 1, sizeof(bool));
	int rc;

	for (size_t i = 0; d->all_applied && i < set->n; i++)
		acted[i] = true;
	for (size_t i = 0; i < applied->n; i++) {
		long idx = cf_migration_set_find(set,
						 applied->items[i].version);

		if (idx >= 0)
			acted[idx] = true;
	}
	rc = cf_session_check_files(d->s, acted, CF_FILES_RUN_UP, err);
	free(acted);
	return rc;
}

/*
 * --from-dump: production's schema is the dump, loaded into a cached
 * template (provision/); what production applied comes from the
 * session's database when it has one (read only), else every migration
 * file counts as applied.
 */
static int
read_dump(struct drift_run *d, cf_applied_list *applied, cf_error **err)
{
	cf_provision_options po = {0};
	const char *env_url = d->s->cfg->database_url;

	po.dump_path = d->opts->dump_path;
	po.server_url = d->opts->server_url;
	po.keep_server = d->opts->keep_server;
	po.keep_owners = d->opts->owners || d->opts->grants;
	po.cache_dir = d->opts->cache_dir;
	if (cf_provision(&po, &d->prov, err) < 0)
		return -1;
	for (size_t i = 0; i < d->prov->notes.n; i++)
		note(d->r, cf_error_copy(d->prov->notes.items[i]));
	d->r->production_url = cf_strdup(d->opts->dump_path);
	if (!env_url || !*env_url) {
		d->all_applied = true;
		note(d->r,
		     cf_error_new(
			     CF_ERR_CONFIG,
			     "no database to read the applied migrations "
			     "from: every migration file counts as applied"));
		return 0;
	}
	if (cf_db_connect(env_url, NULL, &d->env_db, err) < 0)
		return -1;
	return read_applied(d, d->env_db, applied, err);
}

static int
read_production(struct drift_run *d, cf_applied_list *applied, cf_error **err)
{
	const char *url = d->opts->against_url ? d->opts->against_url :
						 d->s->cfg->database_url;
	PGresult *res;

	if (d->opts->dump_path) {
		if (read_dump(d, applied, err) < 0)
			return -1;
		url = d->prov->against_url;
	} else if (!url || !*url) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "no database to check for drift");

		cf_error_set_hint(
			e,
			"pass --env NAME, --database-url URL, --against URL or --from-dump FILE");
		return cf_fail(err, e);
	} else {
		d->r->production_url = cf_redact_url(url);
	}
	if (cf_db_connect(url, NULL, &d->prod, err) < 0)
		return -1;
	res = cf_db_query(d->env_db ? d->env_db : d->prod,
			  "SELECT current_user", 0, NULL, err);
	if (!res)
		return -1;
	d->prod_user = cf_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return d->opts->dump_path ? 0 : read_applied(d, d->prod, applied, err);
}

static void
fill_items(struct drift_run *d, const cf_schema_diff *diff)
{
	cf_drift_result *r = d->r;

	r->items = cf_calloc(diff->n + 1, sizeof(cf_drift_item));
	for (size_t i = 0; i < diff->n; i++) {
		const cf_schema_change *c = &diff->items[i];
		const char *tracking_schema = d->s->cfg->tracking_schema;
		cf_drift_item *it;
		const cf_migration *m;

		/* the tracking table's own schema is made by hand, before
		 * any migration can run */
		if (c->kind == CF_CHANGE_ADDED &&
		    c->object_kind == CF_SCHEMA_OBJ_SCHEMA && tracking_schema &&
		    strcmp(c->object, tracking_schema) == 0)
			continue;
		it = &r->items[r->n++];
		m = last_touch(d, c);

		it->status = c->kind == CF_CHANGE_ADDED	  ? CF_DRIFT_EXTRA :
			     c->kind == CF_CHANGE_REMOVED ? CF_DRIFT_MISSING :
							    CF_DRIFT_CHANGED;
		cf_schema_change_copy(&it->change, c);
		if (m) {
			it->migration = cf_strdup(m->version);
			it->migration_name = cf_strdup(m->name);
		}
		if (it->status == CF_DRIFT_EXTRA)
			r->extra++;
		else if (it->status == CF_DRIFT_MISSING)
			r->missing++;
		else
			r->changed++;
	}
}

static void
run_release(struct drift_run *d)
{
	drop_scratch(d);
	if (d->admin)
		PQfinish(d->admin);
	if (d->server)
		cf_server_release(d->server, d->opts->keep_server);
	if (d->prod)
		PQfinish(d->prod);
	if (d->prov)
		cf_provisioned_release(d->prov);
	if (d->env_db)
		PQfinish(d->env_db);
	free(d->admin_url);
	free(d->prod_user);
	free(d->tracking_ident);
	for (size_t i = 0; i < d->n_touches; i++)
		free(d->touches[i].name);
	free(d->touches);
}

int
cf_session_drift(cf_session *s, const cf_drift_options *opts,
		 const cf_progress *progress, cf_drift_result **out,
		 cf_error **err)
{
	static const cf_drift_options defaults = {0};
	struct drift_run d = {0};
	cf_applied_list applied = {0};
	cf_schema *history = NULL, *production = NULL;
	cf_schema_diff *diff;
	double t0;
	int rc = -1;

	*out = NULL;
	d.s = s;
	d.opts = opts ? opts : &defaults;
	d.progress = progress;
	d.r = cf_new(cf_drift_result);
	d.snap.owners = d.opts->owners;
	d.snap.grants = d.opts->grants;
	d.tracking_ident = cf_tracking_ident(s->cfg);
	d.exclude[0] = d.tracking_ident;
	d.snap.exclude = d.exclude;

	cf_migration_set_checksum(s->set);
	if (read_production(&d, &applied, err) < 0 ||
	    check_replayed_files(&d, &applied, err) < 0 ||
	    open_replay_server(&d, err) < 0 || create_scratch(&d, err) < 0 ||
	    replay(&d, &applied, &history, err) < 0)
		goto done;
	t0 = cf_now_ms();
	if (cf_schema_snapshot_conn(d.prod, &d.snap, &production, err) < 0)
		goto done;
	d.r->snapshot_ms = cf_now_ms() - t0;
	diff = cf_schema_diff_compute(history, production);
	fill_items(&d, diff);
	cf_schema_diff_free(diff);
	rc = 0;
done:
	cf_applied_list_release(&applied);
	cf_schema_free(history);
	cf_schema_free(production);
	run_release(&d);
	if (rc < 0)
		cf_drift_result_free(d.r);
	else
		*out = d.r;
	return rc;
}

void
cf_drift_result_free(cf_drift_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		cf_schema_change_release(&r->items[i].change);
		free(r->items[i].migration);
		free(r->items[i].migration_name);
	}
	free(r->items);
	free(r->production_url);
	free(r->replay_where);
	cf_error_list_release(&r->notes);
	free(r);
}
