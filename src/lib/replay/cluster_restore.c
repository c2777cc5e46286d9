/*
 * cluster_restore.c — undoing a clone-mode replay's cluster-wide changes.
 *
 * cf_cluster_snapshot_restore() compares the server with the snapshot taken
 * before the replay (cluster_snapshot.c) and undoes the differences the
 * scope attributes to the replay — by name, or by the xmin of the catalog
 * row that differs — reporting each action as a note.  It decides that
 * once, on its first read after the replay.
 *
 * Objects are matched by oid, so a rename is seen as a rename.  A role that
 * has to be recreated gets a new oid: the restore maps snapshot oids to
 * current ones before it fixes owners, memberships, settings and
 * privileges.  The restore re-reads the server between phases rather than
 * tracking what each of its statements changed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replay/cluster_internal.h"

/* ------------------------------------------------------------------------
 * Rendering values
 * ------------------------------------------------------------------------ */

/* Settings whose value is a list of quoted items (as pg_dump knows them). */
static bool
is_list_quote(const char *name)
{
	static const char *const names[] = {
		"local_preload_libraries",
		"search_path",
		"session_preload_libraries",
		"shared_preload_libraries",
		"temp_tablespaces",
		"unix_socket_directories",
		NULL,
	};

	for (int i = 0; names[i]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Appends a setting's stored value as SQL: one literal, or for list
 * settings (stored as `a, "B c"`) one literal per item, like pg_dump.
 */
static void
add_value(cf_strbuf *sb, const char *name, const char *value)
{
	const char *p = value;
	bool first = true;

	if (!is_list_quote(name)) {
		char *q = cf_quote_literal(value);

		cf_strbuf_addstr(sb, q);
		free(q);
		return;
	}
	for (;;) {
		cf_strbuf item = CF_STRBUF_INIT;
		char *q;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '"') {
			for (p++; *p; p++) {
				if (*p == '"') {
					if (p[1] != '"')
						break;
					p++;
				}
				cf_strbuf_addch(&item, *p);
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t' &&
			       *p != '\n')
				cf_strbuf_addch(&item, *p++);
		}
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!first)
			cf_strbuf_addstr(sb, ", ");
		first = false;
		q = cf_quote_literal(cf_strbuf_str(&item));
		cf_strbuf_addstr(sb, q);
		free(q);
		cf_strbuf_release(&item);
		if (*p != ',')
			break;
		p++;
	}
}

/* Appends `"name" TO value` from a stored "name=value" item. */
void
cl_add_set_item(cf_strbuf *sb, const char *item)
{
	const char *eq = strchr(item, '=');
	char *name = eq ? cf_strndup(item, (size_t)(eq - item)) :
			  cf_strdup(item);
	char *q = cf_quote_ident(name);

	cf_strbuf_addf(sb, "%s TO ", q);
	add_value(sb, name, eq ? eq + 1 : "");
	free(q);
	free(name);
}

/* ------------------------------------------------------------------------
 * Restoring
 * ------------------------------------------------------------------------ */

/* A growable list of oids. */
typedef struct oid_list {
	Oid *v;
	size_t n, a;
} oid_list;

/* A (role, member, grantor) membership or (db, role) setting key. */
typedef struct row_key {
	Oid a, b, c;
} row_key;

typedef struct restore_ctx {
	PGconn *conn;
	const cf_cluster_snapshot *snap;
	cf_cluster_snapshot *cur; /* the server now; re-read between phases */
	const cf_cluster_scope *scope;
	cf_error_list *notes;
	Oid *map;      /* snapshot role index -> oid now; 0 when missing */
	bool broken;   /* the connection was lost */
	cf_error *err; /* why, when broken */
	unsigned acts, acts_read; /* statements sent; as of the last read */
	/*
	 * What the replay did, decided once on the first read after it (the
	 * restore's own statements change names and xmins later): snapshot
	 * objects by index, new objects by oid, new or changed membership and
	 * setting rows by key.
	 */
	bool *role_in, *db_in, *ts_in;
	oid_list new_roles, new_dbs, new_tss;
	row_key *members_in;
	size_t n_members_in, a_members_in;
	row_key *settings_in;
	size_t n_settings_in, a_settings_in;
} restore_ctx;

#define ACT_QUIET 0x1  /* no note on failure (a later pass retries) */
#define ACT_SECRET 0x2 /* the statement holds a password hash */
#define ACT_SILENT 0x4 /* no note on success (an intermediate step) */

/*
 * Runs one undo statement.  sql, done and failed are taken (and freed).  On
 * success a notice with done; on failure a warning with failed and the
 * server's words, unless ACT_QUIET.  Returns 0 or -1.
 */
static int
act(restore_ctx *c, int flags, char *sql, char *done, char *failed)
{
	cf_error *e = NULL;
	int rc = 0;

	if (c->broken) {
		rc = -1;
	} else if (c->acts++, cf_db_exec(c->conn, sql, &e) == 0) {
		if (!(flags & ACT_SILENT)) {
			cf_error *n = cf_error_new(CF_ERR_SQL, "%s", done);

			n->severity = CF_SEV_NOTICE;
			cf_error_set_code(n, "cluster-restored");
			if (!(flags & ACT_SECRET))
				n->statement = cf_strdup(sql);
			cf_error_list_add(c->notes, n);
		}
	} else if (PQstatus(c->conn) == CONNECTION_BAD) {
		c->broken = true;
		e->kind = CF_ERR_CONNECT;
		c->err = e;
		e = NULL;
		rc = -1;
	} else {
		rc = -1;
		if (!(flags & ACT_QUIET)) {
			cf_error *w = cf_error_new(CF_ERR_SQL, "%s", failed);

			w->severity = CF_SEV_WARNING;
			cf_error_set_code(w, "cluster-not-restored");
			if (e->detail)
				cf_error_set_detail(w, "%s: %s", e->message,
						    e->detail);
			else
				cf_error_set_detail(w, "%s", e->message);
			memcpy(w->sqlstate, e->sqlstate, sizeof(w->sqlstate));
			if (!(flags & ACT_SECRET))
				w->statement = cf_strdup(sql);
			cf_error_set_hint(
				w,
				"the server keeps this change from the preflight; undo it by hand");
			cf_error_list_add(c->notes, w);
		}
	}
	cf_error_free(e);
	free(sql);
	free(done);
	free(failed);
	return rc;
}

/* Adds a warning that no statement can fix.  Takes message. */
static void
warn(restore_ctx *c, char *message, const char *hint)
{
	cf_error *w = cf_error_new(CF_ERR_SQL, "%s", message);

	w->severity = CF_SEV_WARNING;
	cf_error_set_code(w, "cluster-not-restored");
	if (hint)
		cf_error_set_hint(w, "%s", hint);
	cf_error_list_add(c->notes, w);
	free(message);
}

/* Replaces c->cur with a fresh read of the server, unless no statement
 * ran since the last read. */
static int
reread(restore_ctx *c)
{
	cf_error *e = NULL;

	if (c->broken)
		return -1;
	if (c->cur && c->acts == c->acts_read)
		return 0;
	c->acts_read = c->acts;
	cf_cluster_snapshot_free(c->cur);
	c->cur = NULL;
	if (cl_read_state(c->conn, &c->cur, &e) < 0) {
		c->broken = true;
		c->err = e;
		return -1;
	}
	return 0;
}

/* The oid now of the snapshot's role oid; 0 for 0 (PUBLIC, "all"), and 0
 * with *ok false when the role is gone. */
static Oid
map_role(const restore_ctx *c, Oid old, bool *ok)
{
	if (old == 0)
		return 0;
	for (size_t i = 0; i < c->snap->n_roles; i++)
		if (c->snap->roles[i].oid == old) {
			if (!c->map[i])
				*ok = false;
			return c->map[i];
		}
	*ok = false;
	return 0;
}

/* Role name now, quoted; "PUBLIC" for 0.  Caller frees. */
static char *
qrole(const restore_ctx *c, Oid oid)
{
	const cl_role *r = cl_role_by_oid(c->cur, oid);

	if (oid == 0)
		return cf_strdup("PUBLIC");
	return r ? cf_quote_ident(r->name) : cf_asprintf("%u", oid);
}

static const char *
rname(const restore_ctx *c, Oid oid)
{
	const cl_role *r = cl_role_by_oid(c->cur, oid);

	if (oid == 0)
		return "PUBLIC";
	return r ? r->name : "?";
}

/* Is a role now one that the snapshot does not know (created since)? */
static bool
role_is_new(const restore_ctx *c, Oid oid)
{
	if (cl_role_by_oid(c->snap, oid))
		return false;
	for (size_t i = 0; i < c->snap->n_roles; i++)
		if (c->map[i] == oid)
			return false;
	return true;
}

/* ---- attribution: which differences are the replay's ---- */

static void
oid_add(oid_list *l, Oid oid)
{
	CF_GROW(l->v, l->a, l->n + 1);
	l->v[l->n++] = oid;
}

static bool
oid_in(const oid_list *l, Oid oid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == oid)
			return true;
	return false;
}

static void
key_add(row_key **keys, size_t *n, size_t *alloc, Oid a, Oid b, Oid k)
{
	CF_GROW(*keys, *alloc, *n + 1);
	(*keys)[(*n)++] = (row_key){a, b, k};
}

static bool
key_in(const row_key *keys, size_t n, Oid a, Oid b, Oid k)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].a == a && keys[i].b == b && keys[i].c == k)
			return true;
	return false;
}

/* Is a role name in scope?  CURRENT_USER & co stand for the snapshot's
 * user, the one the maintenance connection logged in as. */
static bool
role_named(const restore_ctx *c, const char *name)
{
	if (cl_scope_named(c->scope, 'r', name))
		return true;
	return (c->scope->flags & CF_SCOPE_CURRENT_USER) && c->snap->user &&
	       name && strcmp(name, c->snap->user) == 0;
}

static bool
xid_in(const restore_ctx *c, uint32_t xid)
{
	return cf_cluster_scope_has_xid(c->scope, xid);
}

static bool
is_clone(const restore_ctx *c, const char *name)
{
	return c->scope->clone && name && strcmp(c->scope->clone, name) == 0;
}

static bool kept(const restore_ctx *c, const char *name);

/*
 * Decides, on the first read after the replay, which objects and rows it
 * touched: by name (snapshot name or name now), or by the xmin of the row
 * now.  The restore's own statements change both later, so this is done
 * once, before any of them.
 */
static void
attribute(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;

	c->role_in = cf_calloc(s->n_roles + 1, sizeof(bool));
	c->db_in = cf_calloc(s->n_dbs + 1, sizeof(bool));
	c->ts_in = cf_calloc(s->n_tss + 1, sizeof(bool));
	for (size_t i = 0; i < s->n_roles; i++) {
		const cl_role *n = cl_role_by_oid(now, s->roles[i].oid);

		c->role_in[i] = role_named(c, s->roles[i].name) ||
				(n && (role_named(c, n->name) ||
				       xid_in(c, n->xmin) ||
				       xid_in(c, n->cmt_xmin)));
	}
	for (size_t i = 0; i < now->n_roles; i++) {
		const cl_role *n = &now->roles[i];

		if (!cl_role_by_oid(s, n->oid) &&
		    (role_named(c, n->name) || xid_in(c, n->xmin) ||
		     xid_in(c, n->cmt_xmin)))
			oid_add(&c->new_roles, n->oid);
	}
	for (size_t i = 0; i < s->n_dbs; i++) {
		const cl_database *o = &s->dbs[i];
		const cl_database *n = cl_db_by_oid(now, o->oid);

		if (is_clone(c, o->name) || (n && is_clone(c, n->name)))
			continue;
		c->db_in[i] = cl_scope_named(c->scope, 'd', o->name) ||
			      (n &&
			       (cl_scope_named(c->scope, 'd', n->name) ||
				xid_in(c, n->xmin) || xid_in(c, n->cmt_xmin)));
	}
	for (size_t i = 0; i < now->n_dbs; i++) {
		const cl_database *n = &now->dbs[i];

		if (!cl_db_by_oid(s, n->oid) && !is_clone(c, n->name) &&
		    !kept(c, n->name) &&
		    (cl_scope_named(c->scope, 'd', n->name) ||
		     xid_in(c, n->xmin) || xid_in(c, n->cmt_xmin)))
			oid_add(&c->new_dbs, n->oid);
	}
	for (size_t i = 0; i < s->n_tss; i++) {
		const cl_tablespace *o = &s->tss[i];
		const cl_tablespace *n = cl_ts_by_oid(now, o->oid);

		c->ts_in[i] = cl_scope_named(c->scope, 't', o->name) ||
			      (n &&
			       (cl_scope_named(c->scope, 't', n->name) ||
				xid_in(c, n->xmin) || xid_in(c, n->cmt_xmin)));
	}
	for (size_t i = 0; i < now->n_tss; i++) {
		const cl_tablespace *n = &now->tss[i];

		if (!cl_ts_by_oid(s, n->oid) &&
		    (cl_scope_named(c->scope, 't', n->name) ||
		     xid_in(c, n->xmin) || xid_in(c, n->cmt_xmin)))
			oid_add(&c->new_tss, n->oid);
	}
	for (size_t i = 0; i < now->n_members; i++) {
		const cl_member *m = &now->members[i];

		if (xid_in(c, m->xmin))
			key_add(&c->members_in, &c->n_members_in,
				&c->a_members_in, m->role, m->member,
				m->grantor);
	}
	for (size_t i = 0; i < now->n_settings; i++) {
		const cl_setting *x = &now->settings[i];

		if (xid_in(c, x->xmin))
			key_add(&c->settings_in, &c->n_settings_in,
				&c->a_settings_in, x->db, x->role, 0);
	}
}

/* Is the role with this oid now one the replay touched? */
static bool
role_in_now(const restore_ctx *c, Oid oid)
{
	if (oid == 0)
		return false;
	for (size_t i = 0; i < c->snap->n_roles; i++)
		if (c->map[i] == oid)
			return c->role_in[i];
	return oid_in(&c->new_roles, oid);
}

/* The same for a role of the snapshot, by its snapshot oid. */
static bool
role_in_snap(const restore_ctx *c, Oid oid)
{
	for (size_t i = 0; i < c->snap->n_roles; i++)
		if (c->snap->roles[i].oid == oid)
			return c->role_in[i];
	return false;
}

/* Is the database with this oid (stable: never recreated) the replay's? */
static bool
db_in(const restore_ctx *c, Oid oid)
{
	if (oid == 0)
		return false;
	for (size_t i = 0; i < c->snap->n_dbs; i++)
		if (c->snap->dbs[i].oid == oid)
			return c->db_in[i];
	return oid_in(&c->new_dbs, oid);
}

static bool
ts_in(const restore_ctx *c, Oid oid)
{
	for (size_t i = 0; i < c->snap->n_tss; i++)
		if (c->snap->tss[i].oid == oid)
			return c->ts_in[i];
	return oid_in(&c->new_tss, oid);
}

/* Is an ALTER SYSTEM setting the replay's? */
static bool
sys_in(const restore_ctx *c, const char *name)
{
	return (c->scope->flags & CF_SCOPE_SYSTEM_ALL) ||
	       cl_scope_named(c->scope, 's', name);
}

/* Did the replay record anything at all? */
static bool
scope_empty(const cf_cluster_scope *scope)
{
	return !scope->n_names && !scope->n_xids && !scope->flags;
}

/* One warning when part of the state was unreadable for this user. */
static void
restore_unknown(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap;
	cf_error *w;

	if ((s->passwords_known && s->system_known) || scope_empty(c->scope))
		return;
	w = cf_error_new(
		CF_ERR_SQL,
		"cluster-wide changes were only partly checked as role '%s'",
		s->user ? s->user : "?");
	w->severity = CF_SEV_WARNING;
	cf_error_set_code(w, "cluster-partly-checked");
	cf_error_set_detail(
		w,
		"%s%s%s cannot be read by this role, so a replayed migration's changes to them are neither seen nor undone",
		s->passwords_known ? "" : "role password hashes (pg_authid)",
		!s->passwords_known && !s->system_known ? " and " : "",
		s->system_known ? "" :
				  "ALTER SYSTEM settings (pg_file_settings)");
	cf_error_set_hint(
		w,
		"run preflight as a superuser to have every cluster-wide change checked and undone");
	cf_error_list_add(c->notes, w);
}

/* An object to rename back: its oid, its name now, its snapshot name. */
typedef struct rename_item {
	Oid oid;
	const char *orig; /* name now, for messages */
	char *now;	  /* name now, or the temporary name (owned) */
	const char *to;
	bool via_tmp;
	bool done;
} rename_item;

/*
 * Renames objects of one kind (kw "ROLE", "DATABASE", "TABLESPACE") back to
 * their snapshot names.  Objects whose target name another of them holds
 * now (swaps, chains) first get a temporary name; then the others are
 * renamed, then the temporary ones.  Sets done on success.
 */
static void
rename_back(restore_ctx *c, const char *kw, const char *lkw, rename_item *it,
	    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		it[i].via_tmp = false;
		for (size_t j = 0; j < n; j++)
			it[i].via_tmp |= j != i &&
					 strcmp(it[i].to, it[j].now) == 0;
	}
	for (size_t i = 0; i < n; i++) {
		char *tmp, *qf, *qt;

		if (!it[i].via_tmp)
			continue;
		tmp = cf_asprintf("cf_restore_%u", it[i].oid);
		qf = cf_quote_ident(it[i].now);
		qt = cf_quote_ident(tmp);
		if (act(c, ACT_SILENT,
			cf_asprintf("ALTER %s %s RENAME TO %s", kw, qf, qt),
			NULL,
			cf_asprintf("cannot rename %s '%s' back to '%s'", lkw,
				    it[i].orig, it[i].to)) == 0) {
			free(it[i].now);
			it[i].now = tmp;
		} else {
			it[i].via_tmp = false;
			it[i].done = true; /* failed; already noted */
			free(tmp);
		}
		free(qf);
		free(qt);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			char *qf, *qt;

			if (it[i].done || it[i].via_tmp != (pass == 1))
				continue;
			qf = cf_quote_ident(it[i].now);
			qt = cf_quote_ident(it[i].to);
			it[i].done =
				act(c, 0,
				    cf_asprintf("ALTER %s %s RENAME TO %s", kw,
						qf, qt),
				    cf_asprintf("renamed %s '%s' back to '%s'",
						lkw, it[i].orig, it[i].to),
				    cf_asprintf(
					    "cannot rename %s '%s' back to '%s'",
					    lkw, it[i].orig, it[i].to)) == 0;
			free(qf);
			free(qt);
		}
	for (size_t i = 0; i < n; i++)
		free(it[i].now);
}

/* Renames back the roles ('r'), databases ('d') or tablespaces ('t') whose
 * name changed, then re-reads the server. */
static void
restore_names(restore_ctx *c, char kind)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;
	size_t cap = s->n_roles + s->n_dbs + s->n_tss + 1, n = 0;
	rename_item *it = cf_calloc(cap, sizeof(*it));

	for (size_t i = 0; kind == 'r' && i < s->n_roles; i++) {
		const cl_role *x = cl_role_by_oid(now, s->roles[i].oid);

		if (x && c->role_in[i] &&
		    strcmp(x->name, s->roles[i].name) != 0)
			it[n++] = (rename_item){
				x->oid,		  x->name, cf_strdup(x->name),
				s->roles[i].name, false,   false};
	}
	for (size_t i = 0; kind == 'd' && i < s->n_dbs; i++) {
		const cl_database *x = cl_db_by_oid(now, s->dbs[i].oid);

		if (x && c->db_in[i] && strcmp(x->name, s->dbs[i].name) != 0)
			it[n++] = (rename_item){
				x->oid,		x->name, cf_strdup(x->name),
				s->dbs[i].name, false,	 false};
	}
	for (size_t i = 0; kind == 't' && i < s->n_tss; i++) {
		const cl_tablespace *x = cl_ts_by_oid(now, s->tss[i].oid);

		if (x && c->ts_in[i] && strcmp(x->name, s->tss[i].name) != 0)
			it[n++] = (rename_item){
				x->oid,		x->name, cf_strdup(x->name),
				s->tss[i].name, false,	 false};
	}
	if (n) {
		rename_back(c,
			    kind == 'r' ? "ROLE" :
			    kind == 'd' ? "DATABASE" :
					  "TABLESPACE",
			    kind == 'r' ? "role" :
			    kind == 'd' ? "database" :
					  "tablespace",
			    it, n);
		reread(c);
	}
	free(it);
}

static void
restore_system(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;
	bool changed = false;

	if (!s->system_known || !now->system_known)
		return;
	for (size_t i = 0; i < now->n_sys; i++) {
		const cl_sysset *n = &now->sys[i], *o = NULL;
		char *q;
		cf_strbuf sb = CF_STRBUF_INIT;

		if (!sys_in(c, n->name))
			continue;
		q = cf_quote_ident(n->name);
		for (size_t k = 0; k < s->n_sys; k++)
			if (strcasecmp(s->sys[k].name, n->name) == 0)
				o = &s->sys[k];
		if (!o) {
			changed |=
				act(c, 0,
				    cf_asprintf("ALTER SYSTEM RESET %s", q),
				    cf_asprintf(
					    "reset ALTER SYSTEM setting '%s' set by a replayed migration",
					    n->name),
				    cf_asprintf(
					    "cannot reset ALTER SYSTEM setting '%s' set by a replayed migration",
					    n->name)) == 0;
		} else if (strcmp(o->value, n->value) != 0) {
			cf_strbuf_addf(&sb, "ALTER SYSTEM SET %s TO ", q);
			add_value(&sb, o->name, o->value);
			changed |=
				act(c, 0, cf_strbuf_detach(&sb),
				    cf_asprintf(
					    "restored ALTER SYSTEM setting '%s' to '%s'",
					    o->name, o->value),
				    cf_asprintf(
					    "cannot restore ALTER SYSTEM setting '%s' to '%s'",
					    o->name, o->value)) == 0;
		}
		free(q);
	}
	for (size_t k = 0; k < s->n_sys; k++) {
		const cl_sysset *o = &s->sys[k];
		bool found = false;
		cf_strbuf sb = CF_STRBUF_INIT;
		char *q;

		for (size_t i = 0; i < now->n_sys; i++)
			found |= strcasecmp(now->sys[i].name, o->name) == 0;
		if (found || !sys_in(c, o->name))
			continue;
		q = cf_quote_ident(o->name);
		cf_strbuf_addf(&sb, "ALTER SYSTEM SET %s TO ", q);
		add_value(&sb, o->name, o->value);
		changed |=
			act(c, 0, cf_strbuf_detach(&sb),
			    cf_asprintf(
				    "restored ALTER SYSTEM setting '%s' reset by a replayed migration",
				    o->name),
			    cf_asprintf(
				    "cannot restore ALTER SYSTEM setting '%s' reset by a replayed migration",
				    o->name)) == 0;
		free(q);
	}
	if (changed)
		act(c, 0, cf_strdup("SELECT pg_catalog.pg_reload_conf()"),
		    cf_strdup("reloaded the server configuration"),
		    cf_strdup("cannot reload the server configuration"));
}

static bool
kept(const restore_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->snap->n_keep; i++)
		if (strcmp(c->snap->keep[i], name) == 0)
			return true;
	return false;
}

/* Comment statement for a shared object; value NULL removes it. */
static char *
comment_sql(const char *kind, const char *qname, const char *value)
{
	char *lit = value ? cf_quote_literal(value) : cf_strdup("NULL");
	char *sql = cf_asprintf("COMMENT ON %s %s IS %s", kind, qname, lit);

	free(lit);
	return sql;
}

/* Databases: drop new ones, put back names, options, tablespace, comment. */
static void
restore_databases(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now;

	restore_names(c, 'd');
	if (c->broken)
		return;
	now = c->cur;

	for (size_t i = 0; i < now->n_dbs; i++) {
		const cl_database *n = &now->dbs[i];
		const cl_database *o = cl_db_by_oid(s, n->oid);
		char *q;
		const char *name = n->name;
		cf_strbuf sb = CF_STRBUF_INIT;

		/* attribute() left out the clone and the kept databases */
		if (!db_in(c, n->oid))
			continue;
		q = cf_quote_ident(n->name);
		if (!o) {
			if (!kept(c, n->name) && !is_clone(c, n->name)) {
				if (n->istemplate)
					act(c, ACT_QUIET,
					    cf_asprintf(
						    "ALTER DATABASE %s WITH IS_TEMPLATE false",
						    q),
					    cf_asprintf(
						    "unmarked database '%s' as a template before dropping it",
						    n->name),
					    NULL);
				act(c, 0,
				    cf_asprintf("DROP DATABASE %s WITH (FORCE)",
						q),
				    cf_asprintf(
					    "dropped database '%s' created by a replayed migration",
					    n->name),
				    cf_asprintf(
					    "cannot drop database '%s' created by a replayed migration",
					    n->name));
			}
			free(q);
			continue;
		}
		if (o->allowconn != n->allowconn)
			cf_strbuf_addf(&sb, " ALLOW_CONNECTIONS %s",
				       o->allowconn ? "true" : "false");
		if (o->connlimit != n->connlimit)
			cf_strbuf_addf(&sb, " CONNECTION LIMIT %d",
				       o->connlimit);
		if (o->istemplate != n->istemplate)
			cf_strbuf_addf(&sb, " IS_TEMPLATE %s",
				       o->istemplate ? "true" : "false");
		if (sb.len)
			act(c, 0,
			    cf_asprintf("ALTER DATABASE %s WITH%s", q,
					cf_strbuf_str(&sb)),
			    cf_asprintf("restored the options of database '%s'",
					name),
			    cf_asprintf(
				    "cannot restore the options of database '%s'",
				    name));
		cf_strbuf_release(&sb);
		if (o->tablespace != n->tablespace) {
			const cl_tablespace *t = cl_ts_by_oid(now,
							      o->tablespace);

			if (t) {
				char *qt = cf_quote_ident(t->name);

				act(c, 0,
				    cf_asprintf(
					    "ALTER DATABASE %s SET TABLESPACE %s",
					    q, qt),
				    cf_asprintf(
					    "moved database '%s' back to tablespace '%s'",
					    name, t->name),
				    cf_asprintf(
					    "cannot move database '%s' back to tablespace '%s'",
					    name, t->name));
				free(qt);
			}
		}
		if (!cl_str_eq(o->comment, n->comment))
			act(c, 0, comment_sql("DATABASE", q, o->comment),
			    cf_asprintf("restored the comment on database '%s'",
					name),
			    cf_asprintf(
				    "cannot restore the comment on database '%s'",
				    name));
		free(q);
	}
	for (size_t i = 0; i < s->n_dbs; i++)
		if (c->db_in[i] && !cl_db_by_oid(now, s->dbs[i].oid))
			warn(c,
			     cf_asprintf(
				     "database '%s' was dropped by a replayed migration and cannot be restored",
				     s->dbs[i].name),
			     "restore it from a backup");
}

/* The quoted name part of a stored "name=value" option.  Caller frees. */
static char *
option_name(const char *item)
{
	const char *eq = strchr(item, '=');
	char *name = cf_strndup(item, eq ? (size_t)(eq - item) : strlen(item));
	char *q = cf_quote_ident(name);

	free(name);
	return q;
}

/* Tablespaces: drop new ones, put back names, options and comments. */
static void
restore_tablespaces(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now;

	restore_names(c, 't');
	if (c->broken)
		return;
	now = c->cur;

	for (size_t i = 0; i < now->n_tss; i++) {
		const cl_tablespace *n = &now->tss[i];
		const cl_tablespace *o = cl_ts_by_oid(s, n->oid);
		char *q;
		const char *name = n->name;

		if (!ts_in(c, n->oid))
			continue;
		q = cf_quote_ident(n->name);
		if (!o) {
			act(c, 0, cf_asprintf("DROP TABLESPACE %s", q),
			    cf_asprintf(
				    "dropped tablespace '%s' created by a replayed migration",
				    n->name),
			    cf_asprintf(
				    "cannot drop tablespace '%s' created by a replayed migration",
				    n->name));
			free(q);
			continue;
		}
		if (!cl_strings_eq(o->options, o->n_options, n->options,
				   n->n_options)) {
			cf_strbuf sb = CF_STRBUF_INIT;

			for (size_t k = 0; k < n->n_options; k++) {
				char *opt = option_name(n->options[k]);

				if (k == 0)
					cf_strbuf_addf(
						&sb,
						"ALTER TABLESPACE %s RESET (",
						q);
				cf_strbuf_addf(&sb, "%s%s", k ? ", " : "", opt);
				free(opt);
			}
			if (n->n_options)
				cf_strbuf_addstr(&sb, ")");
			for (size_t k = 0; k < o->n_options; k++) {
				const char *eq = strchr(o->options[k], '=');
				char *opt = option_name(o->options[k]);
				char *lit = cf_quote_literal(eq ? eq + 1 : "");

				if (k == 0)
					cf_strbuf_addf(
						&sb,
						"%sALTER TABLESPACE %s SET (",
						sb.len ? "; " : "", q);
				cf_strbuf_addf(&sb, "%s%s = %s", k ? ", " : "",
					       opt, lit);
				free(lit);
				free(opt);
			}
			if (o->n_options)
				cf_strbuf_addstr(&sb, ")");
			act(c, 0, cf_strbuf_detach(&sb),
			    cf_asprintf(
				    "restored the options of tablespace '%s'",
				    name),
			    cf_asprintf(
				    "cannot restore the options of tablespace '%s'",
				    name));
		}
		if (!cl_str_eq(o->comment, n->comment))
			act(c, 0, comment_sql("TABLESPACE", q, o->comment),
			    cf_asprintf(
				    "restored the comment on tablespace '%s'",
				    name),
			    cf_asprintf(
				    "cannot restore the comment on tablespace '%s'",
				    name));
		free(q);
	}
	for (size_t i = 0; i < s->n_tss; i++)
		if (c->ts_in[i] && !cl_ts_by_oid(now, s->tss[i].oid)) {
			cf_error *w = cf_error_new(
				CF_ERR_SQL,
				"tablespace '%s' was dropped by a replayed migration and was not restored",
				s->tss[i].name);

			w->severity = CF_SEV_WARNING;
			cf_error_set_code(w, "cluster-not-restored");
			cf_error_set_detail(
				w, "its location was '%s'",
				s->tss[i].location ? s->tss[i].location : "");
			cf_error_set_hint(
				w,
				"recreate it by hand with CREATE TABLESPACE ... LOCATION, then restore its privileges");
			cf_error_list_add(c->notes, w);
		}
}

/* Drops roles created since; final is the last attempt (failures noted). */
static void
drop_new_roles(restore_ctx *c, bool final)
{
	for (size_t i = 0; i < c->cur->n_roles; i++) {
		const cl_role *n = &c->cur->roles[i];
		char *q;

		if (!role_is_new(c, n->oid) || !oid_in(&c->new_roles, n->oid))
			continue;
		q = cf_quote_ident(n->name);
		act(c, final ? 0 : ACT_QUIET, cf_asprintf("DROP ROLE %s", q),
		    cf_asprintf(
			    "dropped role '%s' created by a replayed migration",
			    n->name),
		    cf_asprintf(
			    "cannot drop role '%s' created by a replayed migration",
			    n->name));
		free(q);
	}
}

/* Appends the role attribute options of r (CREATE/ALTER ROLE syntax). */
static void
add_role_options(cf_strbuf *sb, const cl_role *r, const cl_role *was)
{
#define OPT(f, yes, no)             \
	if (!was || was->f != r->f) \
	cf_strbuf_addstr(sb, r->f ? " " yes : " " no)
	OPT(super, "SUPERUSER", "NOSUPERUSER");
	OPT(inherit, "INHERIT", "NOINHERIT");
	OPT(createrole, "CREATEROLE", "NOCREATEROLE");
	OPT(createdb, "CREATEDB", "NOCREATEDB");
	OPT(login, "LOGIN", "NOLOGIN");
	OPT(replication, "REPLICATION", "NOREPLICATION");
	OPT(bypassrls, "BYPASSRLS", "NOBYPASSRLS");
#undef OPT
	if (!was || was->connlimit != r->connlimit)
		cf_strbuf_addf(sb, " CONNECTION LIMIT %d", r->connlimit);
	if (r->validuntil &&
	    (!was || !cl_str_eq(was->validuntil, r->validuntil))) {
		char *lit = cf_quote_literal(r->validuntil);

		cf_strbuf_addf(sb, " VALID UNTIL %s", lit);
		free(lit);
	}
}

/* Looks up a role's oid by name now; 0 when absent. */
static Oid
lookup_role_oid(restore_ctx *c, const char *name)
{
	const char *vals[1] = {name};
	PGresult *r = cf_db_query(
		c->conn,
		"SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1", 1,
		vals, NULL);
	Oid oid = 0;

	if (r && PQntuples(r) == 1)
		oid = cl_foid(r, 0, 0);
	PQclear(r);
	return oid;
}

/* Recreates roles dropped since; final is the last attempt. */
static void
recreate_roles(restore_ctx *c, bool final)
{
	const cf_cluster_snapshot *s = c->snap;

	for (size_t i = 0; i < s->n_roles; i++) {
		const cl_role *o = &s->roles[i];
		cf_strbuf sb = CF_STRBUF_INIT;
		char *q;

		if (c->map[i] || c->broken || !c->role_in[i])
			continue;
		q = cf_quote_ident(o->name);
		cf_strbuf_addf(&sb, "CREATE ROLE %s WITH", q);
		add_role_options(&sb, o, NULL);
		if (o->password) {
			char *lit = cf_quote_literal(o->password);

			cf_strbuf_addf(&sb, " PASSWORD %s", lit);
			free(lit);
		}
		if (act(c, (final ? 0 : ACT_QUIET) | ACT_SECRET,
			cf_strbuf_detach(&sb),
			cf_asprintf(
				"recreated role '%s' dropped by a replayed migration",
				o->name),
			cf_asprintf(
				"cannot recreate role '%s' dropped by a replayed migration",
				o->name)) == 0) {
			c->map[i] = lookup_role_oid(c, o->name);
			if (!s->passwords_known)
				warn(c,
				     cf_asprintf(
					     "role '%s' was recreated without its password",
					     o->name),
				     "set its password again with ALTER ROLE ... PASSWORD");
			if (o->comment)
				act(c, 0, comment_sql("ROLE", q, o->comment),
				    cf_asprintf(
					    "restored the comment on role '%s'",
					    o->name),
				    cf_asprintf(
					    "cannot restore the comment on role '%s'",
					    o->name));
		}
		free(q);
	}
}

/* Roles that still exist: name, attributes, password, expiry, comment. */
static void
restore_role_attributes(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now;
	/* renaming clears an MD5 password; the re-read after the renames
	 * shows that as a changed password */
	restore_names(c, 'r');
	if (c->broken)
		return;
	now = c->cur;

	for (size_t i = 0; i < s->n_roles; i++) {
		const cl_role *o = &s->roles[i];
		const cl_role *n = cl_role_by_oid(now, o->oid);
		char *q;
		const char *name;
		cf_strbuf sb = CF_STRBUF_INIT;

		if (!n || !c->role_in[i])
			continue;
		q = cf_quote_ident(n->name);
		name = n->name;
		add_role_options(&sb, o, n);
		if (sb.len)
			act(c, 0,
			    cf_asprintf("ALTER ROLE %s WITH%s", q,
					cf_strbuf_str(&sb)),
			    cf_asprintf("restored the attributes of role '%s'",
					name),
			    cf_asprintf(
				    "cannot restore the attributes of role '%s'",
				    name));
		cf_strbuf_release(&sb);
		if (!o->validuntil && n->validuntil) {
			/* no ALTER ROLE syntax sets "no expiry" back to NULL */
			char *sql = cf_asprintf(
				"UPDATE pg_catalog.pg_authid SET rolvaliduntil = NULL WHERE oid = %u",
				o->oid);

			act(c, 0, sql,
			    cf_asprintf(
				    "removed the password expiry of role '%s'",
				    name),
			    cf_asprintf(
				    "cannot remove the password expiry of role '%s'",
				    name));
		}
		if (s->passwords_known && now->passwords_known &&
		    !cl_str_eq(o->password, n->password)) {
			char *lit = o->password ?
					    cf_quote_literal(o->password) :
					    cf_strdup("NULL");

			act(c, ACT_SECRET,
			    cf_asprintf("ALTER ROLE %s PASSWORD %s", q, lit),
			    cf_asprintf("restored the password of role '%s'",
					name),
			    cf_asprintf(
				    "cannot restore the password of role '%s'",
				    name));
			free(lit);
		}
		if (!cl_str_eq(o->comment, n->comment))
			act(c, 0, comment_sql("ROLE", q, o->comment),
			    cf_asprintf("restored the comment on role '%s'",
					name),
			    cf_asprintf(
				    "cannot restore the comment on role '%s'",
				    name));
		free(q);
	}
}

/* Owners of databases and tablespaces (a new role may own one). */
static void
restore_owners(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;

	for (size_t i = 0; i < now->n_dbs; i++) {
		const cl_database *n = &now->dbs[i];
		const cl_database *o = cl_db_by_oid(s, n->oid);
		bool ok = true;
		Oid owner;

		if (!o || !db_in(c, n->oid))
			continue;
		owner = map_role(c, o->owner, &ok);
		if (ok && owner != n->owner) {
			char *q = cf_quote_ident(n->name),
			     *qr = qrole(c, owner);

			act(c, 0,
			    cf_asprintf("ALTER DATABASE %s OWNER TO %s", q, qr),
			    cf_asprintf("gave database '%s' back to role '%s'",
					n->name, rname(c, owner)),
			    cf_asprintf(
				    "cannot give database '%s' back to role '%s'",
				    n->name, rname(c, owner)));
			free(q);
			free(qr);
		}
	}
	for (size_t i = 0; i < now->n_tss; i++) {
		const cl_tablespace *n = &now->tss[i];
		const cl_tablespace *o = cl_ts_by_oid(s, n->oid);
		bool ok = true;
		Oid owner;

		if (!o || !ts_in(c, n->oid))
			continue;
		owner = map_role(c, o->owner, &ok);
		if (ok && owner != n->owner) {
			char *q = cf_quote_ident(n->name),
			     *qr = qrole(c, owner);

			act(c, 0,
			    cf_asprintf("ALTER TABLESPACE %s OWNER TO %s", q,
					qr),
			    cf_asprintf(
				    "gave tablespace '%s' back to role '%s'",
				    n->name, rname(c, owner)),
			    cf_asprintf(
				    "cannot give tablespace '%s' back to role '%s'",
				    n->name, rname(c, owner)));
			free(q);
			free(qr);
		}
	}
}

static bool
acl_eq(const cl_acl *a, const cl_acl *b)
{
	return a->kind == b->kind && a->obj == b->obj &&
	       a->grantor == b->grantor && a->grantee == b->grantee &&
	       a->grantable == b->grantable && strcmp(a->priv, b->priv) == 0;
}

/*
 * Rebuilds the privileges of one database or tablespace when they differ
 * from want (the snapshot's rows in today's oids, in acl order): revoke
 * everything the owner granted, with CASCADE (every grant chain starts at
 * the owner), then grant the saved rows in their order, each as its grantor
 * (SET LOCAL ROLE when the grantor is not the owner), so that even the
 * order of the acl items comes back.  One implicit transaction.
 */
static void
restore_object_acl(restore_ctx *c, char kind, Oid obj, const char *name,
		   Oid owner, const cl_acl *want, size_t n_want)
{
	const cf_cluster_snapshot *now = c->cur;
	const char *kw = kind == 'd' ? "DATABASE" : "TABLESPACE";
	const char *lkw = kind == 'd' ? "database" : "tablespace";
	cf_strbuf revoke = CF_STRBUF_INIT, sb = CF_STRBUF_INIT;
	size_t k = 0;
	bool same = true;
	char *q = cf_quote_ident(name);

	for (size_t i = 0; i < now->n_acls; i++) {
		const cl_acl *n = &now->acls[i];

		if (n->kind != kind || n->obj != obj)
			continue;
		while (k < n_want &&
		       (want[k].kind != kind || want[k].obj != obj))
			k++;
		if (k >= n_want || !acl_eq(&want[k], n))
			same = false;
		k++;
		if (n->grantor == owner) {
			bool dup = false;

			for (size_t j = 0; j < i; j++)
				dup |= now->acls[j].kind == kind &&
				       now->acls[j].obj == obj &&
				       now->acls[j].grantor == owner &&
				       now->acls[j].grantee == n->grantee;
			if (!dup) {
				char *qg = qrole(c, n->grantee);

				cf_strbuf_addf(&revoke, "%s%s",
					       revoke.len ? ", " : "", qg);
				free(qg);
			}
		}
	}
	for (; k < n_want; k++)
		if (want[k].kind == kind && want[k].obj == obj)
			same = false;
	if (same) {
		cf_strbuf_release(&revoke);
		free(q);
		return;
	}
	if (revoke.len)
		cf_strbuf_addf(&sb, "REVOKE ALL ON %s %s FROM %s CASCADE", kw,
			       q, cf_strbuf_str(&revoke));
	for (k = 0; k < n_want; k++) {
		const cl_acl *w = &want[k];
		char *qg;

		if (w->kind != kind || w->obj != obj)
			continue;
		if (sb.len)
			cf_strbuf_addstr(&sb, "; ");
		if (w->grantor != owner) {
			char *qr = qrole(c, w->grantor);

			cf_strbuf_addf(&sb, "SET LOCAL ROLE %s; ", qr);
			free(qr);
		}
		qg = qrole(c, w->grantee);
		cf_strbuf_addf(&sb, "GRANT %s ON %s %s TO %s%s", w->priv, kw, q,
			       qg, w->grantable ? " WITH GRANT OPTION" : "");
		free(qg);
		if (w->grantor != owner)
			cf_strbuf_addstr(&sb, "; RESET ROLE");
	}
	act(c, 0, cf_strbuf_detach(&sb),
	    cf_asprintf("restored the privileges on %s '%s'", lkw, name),
	    cf_asprintf("cannot restore the privileges on %s '%s'", lkw, name));
	cf_strbuf_release(&revoke);
	free(q);
}

/* Privileges on databases and tablespaces, compared as exploded rows. */
static void
restore_acls(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;
	cl_acl *want = cf_calloc(s->n_acls + 1, sizeof(*want));
	size_t n_want = 0;

	/* the snapshot's rows in terms of today's oids; a row naming a role
	 * that could not be recreated is left out */
	for (size_t i = 0; i < s->n_acls; i++) {
		cl_acl a = s->acls[i];
		bool ok = true;

		a.grantor = map_role(c, a.grantor, &ok);
		a.grantee = map_role(c, a.grantee, &ok);
		if (ok)
			want[n_want++] = a;
	}
	for (size_t i = 0; i < now->n_dbs; i++)
		if (cl_db_by_oid(s, now->dbs[i].oid) &&
		    db_in(c, now->dbs[i].oid))
			restore_object_acl(c, 'd', now->dbs[i].oid,
					   now->dbs[i].name, now->dbs[i].owner,
					   want, n_want);
	for (size_t i = 0; i < now->n_tss; i++)
		if (cl_ts_by_oid(s, now->tss[i].oid) &&
		    ts_in(c, now->tss[i].oid))
			restore_object_acl(c, 't', now->tss[i].oid,
					   now->tss[i].name, now->tss[i].owner,
					   want, n_want);
	free(want);
}

/* GRANT role TO member with the options of m (oids now). */
static char *
grant_sql(const restore_ctx *c, const cl_member *m)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	char *qr = qrole(c, m->role), *qm = qrole(c, m->member);

	cf_strbuf_addf(&sb, "GRANT %s TO %s", qr, qm);
	if (c->cur->version >= 160000)
		cf_strbuf_addf(&sb, " WITH ADMIN %s, INHERIT %s, SET %s",
			       m->admin ? "TRUE" : "FALSE",
			       m->inherit ? "TRUE" : "FALSE",
			       m->set ? "TRUE" : "FALSE");
	else if (m->admin)
		cf_strbuf_addstr(&sb, " WITH ADMIN OPTION");
	/* only a superuser may name another grantor; others grant as
	 * themselves (the membership is back, its grantor differs) */
	if (c->cur->superuser && m->grantor && m->grantor != c->cur->user_oid &&
	    cl_role_by_oid(c->cur, m->grantor)) {
		char *qg = qrole(c, m->grantor);

		cf_strbuf_addf(&sb, " GRANTED BY %s", qg);
		free(qg);
	}
	free(qr);
	free(qm);
	return cf_strbuf_detach(&sb);
}

/*
 * Role memberships.  Before PostgreSQL 16 a (role, member) pair has one
 * row; from 16 on each grantor has its own.  A row that differs in any
 * option is revoked and granted again as it was.
 */
static void
restore_members(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;
	bool by_grantor = now->version >= 160000;
	cl_member *want = cf_calloc(s->n_members + 1, sizeof(*want));
	bool *done = NULL, *want_in;
	size_t n_want = 0;

	want_in = cf_calloc(s->n_members + 1, sizeof(*want_in));
	for (size_t i = 0; i < s->n_members; i++) {
		cl_member m = s->members[i];
		bool ok = true, gok = true;

		/* a row gone is the replay's when either role is */
		want_in[n_want] = role_in_snap(c, m.role) ||
				  role_in_snap(c, m.member);
		m.role = map_role(c, m.role, &ok);
		m.member = map_role(c, m.member, &ok);
		m.grantor = map_role(c, m.grantor, &gok);
		/* a grantor gone before the snapshot matches any (0) */
		if (!gok)
			m.grantor = 0;
		if (ok)
			want[n_want++] = m;
	}
	done = cf_calloc(n_want + 1, sizeof(*done));
	for (size_t i = 0; i < now->n_members; i++) {
		const cl_member *n = &now->members[i];
		const cl_member *w = NULL;
		size_t wi = 0;
		char *qr, *qm, *sql;

		for (size_t k = 0; k < n_want && !w; k++)
			if (want[k].role == n->role &&
			    want[k].member == n->member &&
			    (!by_grantor || !want[k].grantor ||
			     want[k].grantor == n->grantor)) {
				w = &want[k];
				wi = k;
			}
		/* another session's row: leave it, and what it replaced */
		if (!role_in_now(c, n->role) && !role_in_now(c, n->member) &&
		    !key_in(c->members_in, c->n_members_in, n->role, n->member,
			    n->grantor)) {
			if (w)
				done[wi] = true;
			continue;
		}
		/* a non-superuser cannot name a grantor: ignore that part */
		if (w && w->admin == n->admin &&
		    (!w->grantor || w->grantor == n->grantor ||
		     !now->superuser) &&
		    (!by_grantor ||
		     (w->inherit == n->inherit && w->set == n->set))) {
			done[wi] = true;
			continue;
		}
		qr = qrole(c, n->role);
		qm = qrole(c, n->member);
		if (by_grantor && n->grantor != now->user_oid) {
			char *qg = qrole(c, n->grantor);

			sql = cf_asprintf("REVOKE %s FROM %s GRANTED BY %s", qr,
					  qm, qg);
			free(qg);
		} else {
			sql = cf_asprintf("REVOKE %s FROM %s", qr, qm);
		}
		if (w) {
			done[wi] = true;
			if (act(c, 0, sql,
				cf_asprintf(
					"revoked membership of '%s' in role '%s' changed by a replayed migration",
					rname(c, n->member), rname(c, n->role)),
				cf_asprintf(
					"cannot revoke membership of '%s' in role '%s' changed by a replayed migration",
					rname(c, n->member),
					rname(c, n->role))) == 0)
				act(c, 0, grant_sql(c, w),
				    cf_asprintf(
					    "granted membership of '%s' in role '%s' back as it was",
					    rname(c, w->member),
					    rname(c, w->role)),
				    cf_asprintf(
					    "cannot grant membership of '%s' in role '%s' back as it was",
					    rname(c, w->member),
					    rname(c, w->role)));
		} else {
			act(c, 0, sql,
			    cf_asprintf(
				    "revoked membership of '%s' in role '%s' granted by a replayed migration",
				    rname(c, n->member), rname(c, n->role)),
			    cf_asprintf(
				    "cannot revoke membership of '%s' in role '%s' granted by a replayed migration",
				    rname(c, n->member), rname(c, n->role)));
		}
		free(qr);
		free(qm);
	}
	for (size_t k = 0; k < n_want; k++) {
		const cl_member *w = &want[k];

		if (done[k] || !want_in[k])
			continue;
		act(c, 0, grant_sql(c, w),
		    cf_asprintf(
			    "restored membership of '%s' in role '%s' revoked by a replayed migration",
			    rname(c, w->member), rname(c, w->role)),
		    cf_asprintf(
			    "cannot restore membership of '%s' in role '%s' revoked by a replayed migration",
			    rname(c, w->member), rname(c, w->role)));
	}
	free(done);
	free(want_in);
	free(want);
}

/* The ALTER prefix for a pg_db_role_setting key, and a description. */
static void
setting_target(const restore_ctx *c, Oid db, Oid role, char **prefix,
	       char **what)
{
	const cl_database *d = db ? cl_db_by_oid(c->cur, db) : NULL;
	char *qd = d ? cf_quote_ident(d->name) : NULL;
	char *qr = role ? qrole(c, role) : NULL;

	if (role && db) {
		*prefix = cf_asprintf("ALTER ROLE %s IN DATABASE %s", qr, qd);
		*what = cf_asprintf("role '%s' in database '%s'",
				    rname(c, role), d->name);
	} else if (role) {
		*prefix = cf_asprintf("ALTER ROLE %s", qr);
		*what = cf_asprintf("role '%s'", rname(c, role));
	} else if (db) {
		*prefix = cf_asprintf("ALTER DATABASE %s", qd);
		*what = cf_asprintf("database '%s'", d->name);
	} else {
		*prefix = cf_strdup("ALTER ROLE ALL");
		*what = cf_strdup("all roles");
	}
	free(qd);
	free(qr);
}

/* Rewrites a settings row: RESET ALL, then SET each saved item. */
static void
write_setting(restore_ctx *c, Oid db, Oid role, const cl_setting *o)
{
	char *prefix, *what;
	cf_strbuf sb = CF_STRBUF_INIT;

	setting_target(c, db, role, &prefix, &what);
	cf_strbuf_addf(&sb, "%s RESET ALL", prefix);
	for (size_t k = 0; o && k < o->n; k++) {
		cf_strbuf_addf(&sb, "; %s SET ", prefix);
		cl_add_set_item(&sb, o->items[k]);
	}
	/* one implicit transaction: all or nothing */
	act(c, 0, cf_strbuf_detach(&sb),
	    cf_asprintf("restored the settings of %s", what),
	    cf_asprintf("cannot restore the settings of %s", what));
	free(prefix);
	free(what);
}

/* pg_db_role_setting rows: per role, per database, per role in database. */
static void
restore_settings(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;
	bool *seen = cf_calloc(s->n_settings + 1, sizeof(*seen));
	bool all = c->scope->flags & CF_SCOPE_ALL_ROLES;

	for (size_t i = 0; i < now->n_settings; i++) {
		const cl_setting *n = &now->settings[i], *o = NULL;

		for (size_t k = 0; k < s->n_settings && !o; k++) {
			bool ok = true;
			Oid role = map_role(c, s->settings[k].role, &ok);

			if (ok && role == n->role &&
			    s->settings[k].db == n->db) {
				o = &s->settings[k];
				seen[k] = true;
			}
		}
		/* the replay's when its role or database is, or by xmin */
		if (!role_in_now(c, n->role) && !db_in(c, n->db) &&
		    !(all && !n->role && !n->db) &&
		    !key_in(c->settings_in, c->n_settings_in, n->db, n->role,
			    0))
			continue;
		if (!o || !cl_strings_eq(o->items, o->n, n->items, n->n))
			write_setting(c, n->db, n->role, o);
	}
	for (size_t k = 0; k < s->n_settings; k++) {
		const cl_setting *o = &s->settings[k];
		bool ok = true;
		Oid role = map_role(c, o->role, &ok);

		if (seen[k] || !ok || (o->db && !cl_db_by_oid(now, o->db)))
			continue;
		/* a row gone: by name only */
		if (!role_in_snap(c, o->role) && !db_in(c, o->db) &&
		    !(all && !o->role && !o->db))
			continue;
		write_setting(c, o->db, role, o);
	}
	free(seen);
}

/* The slot of that name in s, or NULL. */
static const cl_slot *
slot_by_name(const cf_cluster_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_slots; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			return &s->slots[i];
	return NULL;
}

static const cl_origin *
origin_by_name(const cf_cluster_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_origins; i++)
		if (strcmp(s->origins[i].name, name) == 0)
			return &s->origins[i];
	return NULL;
}

/* A warning about a change left on the server, with the command that
 * undoes it.  Takes message. */
static void
warn_left(restore_ctx *c, char *message, const char *detail, char *command)
{
	cf_error *w = cf_error_new(CF_ERR_SQL, "%s", message);

	w->severity = CF_SEV_WARNING;
	cf_error_set_code(w, "cluster-not-restored");
	if (detail)
		cf_error_set_detail(w, "%s", detail);
	if (command) {
		cf_error_set_hint(w, "if the preflight made it, undo it: %s",
				  command);
		w->statement = command;
	}
	cf_error_list_add(c->notes, w);
	free(message);
}

/*
 * Replication slots: slots hold WAL (physical) or catalog rows (logical)
 * on the server for as long as they exist.  Temporary ones die with their
 * session and are ignored.
 */
static void
restore_slots(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;

	for (size_t i = 0; i < now->n_slots; i++) {
		const cl_slot *n = &now->slots[i];
		char *lit, *sql;

		if (n->temporary || slot_by_name(s, n->name))
			continue;
		lit = cf_quote_literal(n->name);
		sql = cf_asprintf(
			"SELECT pg_catalog.pg_drop_replication_slot(%s)", lit);
		if (cl_scope_mentions(c->scope, n->name) ||
		    is_clone(c, n->database))
			act(c, 0, sql,
			    cf_asprintf(
				    "dropped replication slot '%s' created by a replayed migration",
				    n->name),
			    cf_asprintf(
				    "cannot drop replication slot '%s' created by a replayed migration",
				    n->name));
		else
			warn_left(
				c,
				cf_asprintf(
					"replication slot '%s' was created while the preflight ran",
					n->name),
				"no replayed statement names it, so it may be another session's; a slot keeps WAL on the server until it is dropped",
				sql);
		free(lit);
	}
	for (size_t i = 0; i < s->n_slots; i++) {
		const cl_slot *o = &s->slots[i];

		if (!o->temporary && !slot_by_name(now, o->name) &&
		    cl_scope_mentions(c->scope, o->name))
			warn(c,
			     cf_asprintf(
				     "replication slot '%s' was dropped by a replayed migration and cannot be restored",
				     o->name),
			     "recreate it by hand; its consumer has lost its position");
	}
}

/* Replication origins (pg_replication_origin_create() and the origins of
 * subscriptions). */
static void
restore_origins(restore_ctx *c)
{
	const cf_cluster_snapshot *s = c->snap, *now = c->cur;

	if (!s->origins_known || !now->origins_known)
		return;
	for (size_t i = 0; i < now->n_origins; i++) {
		const cl_origin *n = &now->origins[i];
		char *lit, *sql;

		if (origin_by_name(s, n->name))
			continue;
		lit = cf_quote_literal(n->name);
		sql = cf_asprintf(
			"SELECT pg_catalog.pg_replication_origin_drop(%s)",
			lit);
		if (xid_in(c, n->xmin) || cl_scope_mentions(c->scope, n->name))
			act(c, 0, sql,
			    cf_asprintf(
				    "dropped replication origin '%s' created by a replayed migration",
				    n->name),
			    cf_asprintf(
				    "cannot drop replication origin '%s' created by a replayed migration",
				    n->name));
		else
			free(sql);
		free(lit);
	}
	for (size_t i = 0; i < s->n_origins; i++) {
		const cl_origin *o = &s->origins[i];

		if (!origin_by_name(now, o->name) &&
		    cl_scope_mentions(c->scope, o->name))
			warn(c,
			     cf_asprintf(
				     "replication origin '%s' was dropped by a replayed migration and cannot be restored",
				     o->name),
			     "recreate it with pg_replication_origin_create() and set its progress by hand");
	}
}

int
cf_cluster_snapshot_restore(PGconn *conn, const cf_cluster_snapshot *snap,
			    const cf_cluster_scope *scope, cf_error_list *notes,
			    cf_error **err)
{
	restore_ctx c;

	/* no scope, nothing known to be ours: touch nothing */
	if (!snap || !scope)
		return 0;
	memset(&c, 0, sizeof(c));
	c.conn = conn;
	c.snap = snap;
	c.scope = scope;
	c.notes = notes;
	c.map = cf_calloc(snap->n_roles + 1, sizeof(*c.map));
	if (reread(&c) < 0)
		goto out;
	for (size_t i = 0; i < snap->n_roles; i++)
		if (cl_role_by_oid(c.cur, snap->roles[i].oid))
			c.map[i] = snap->roles[i].oid;
	attribute(&c);

	restore_unknown(&c);
	restore_system(&c);
	restore_slots(&c);
	restore_origins(&c);
	/* databases and tablespaces first: new roles may own new ones */
	restore_databases(&c);
	if (reread(&c) < 0)
		goto out;
	restore_tablespaces(&c);
	if (reread(&c) < 0)
		goto out;
	/* a first try at dropping new roles frees their names for the
	 * recreated ones; what still owns or holds something is retried */
	drop_new_roles(&c, false);
	if (reread(&c) < 0)
		goto out;
	recreate_roles(&c, false);
	if (reread(&c) < 0)
		goto out;
	restore_role_attributes(&c);
	if (reread(&c) < 0)
		goto out;
	restore_owners(&c);
	if (reread(&c) < 0)
		goto out;
	restore_acls(&c);
	if (reread(&c) < 0)
		goto out;
	drop_new_roles(&c, true);
	recreate_roles(&c, true);
	if (reread(&c) < 0)
		goto out;
	restore_members(&c);
	if (reread(&c) < 0)
		goto out;
	restore_settings(&c);
out:
	cf_cluster_snapshot_free(c.cur);
	free(c.map);
	free(c.role_in);
	free(c.db_in);
	free(c.ts_in);
	free(c.new_roles.v);
	free(c.new_dbs.v);
	free(c.new_tss.v);
	free(c.members_in);
	free(c.settings_in);
	if (c.broken) {
		if (!c.err)
			c.err = cf_error_new(
				CF_ERR_CONNECT,
				"lost the connection while restoring the server's cluster-wide state");
		return cf_fail(err, c.err);
	}
	return 0;
}
