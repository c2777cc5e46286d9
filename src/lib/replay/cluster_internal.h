/*
 * cluster_internal.h — the snapshot and scope structs shared by
 * cluster_snapshot.c (readers, scope, guard) and cluster_restore.c.  Not
 * installed.
 */
#ifndef CF_CLUSTER_INTERNAL_H
#define CF_CLUSTER_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "replay/cluster.h"

typedef struct cl_role {
	Oid oid;
	char *name;
	bool super, inherit, createrole, createdb, login, replication,
		bypassrls;
	int connlimit;
	char *validuntil; /* UTC text, 'infinity', or NULL for none */
	char *password;	  /* hash; NULL when none or unknown */
	char *comment;
	uint32_t xmin;	   /* of the pg_authid row; 0 when unreadable */
	uint32_t cmt_xmin; /* of the pg_shdescription row; 0 for none */
} cl_role;

typedef struct cl_member {
	Oid role, member, grantor;
	bool admin, inherit, set; /* inherit, set: PostgreSQL 16 on */
	uint32_t xmin;
} cl_member;

/* One pg_db_role_setting row: 0 means "all" for either key. */
typedef struct cl_setting {
	Oid db, role;
	char **items; /* "name=value" */
	size_t n;
	uint32_t xmin;
} cl_setting;

typedef struct cl_database {
	Oid oid;
	char *name;
	Oid owner;
	int connlimit;
	bool allowconn, istemplate;
	Oid tablespace;
	char *comment;
	uint32_t xmin, cmt_xmin;
} cl_database;

typedef struct cl_tablespace {
	Oid oid;
	char *name;
	Oid owner;
	char *location;
	char **options; /* "name=value" */
	size_t n_options;
	char *comment;
	uint32_t xmin, cmt_xmin;
} cl_tablespace;

/* One exploded privilege on a database ('d') or tablespace ('t'). */
typedef struct cl_acl {
	char kind;
	Oid obj, grantor, grantee; /* grantee 0 is PUBLIC */
	char *priv;
	bool grantable;
} cl_acl;

/* One setting in postgresql.auto.conf. */
typedef struct cl_sysset {
	char *name;
	char *value;
} cl_sysset;

/* A replication slot (pg_replication_slots); database NULL for physical. */
typedef struct cl_slot {
	char *name;
	char *database;
	bool temporary;
} cl_slot;

/* A replication origin (pg_replication_origin). */
typedef struct cl_origin {
	Oid ident;
	char *name;
	uint32_t xmin;
} cl_origin;

struct cf_cluster_snapshot {
	int version; /* server_version_num */
	char *user;
	Oid user_oid;
	bool superuser;
	bool passwords_known; /* pg_authid was readable */
	bool system_known;    /* pg_file_settings was readable */
	cl_role *roles;
	size_t n_roles, a_roles;
	cl_member *members;
	size_t n_members, a_members;
	cl_setting *settings;
	size_t n_settings, a_settings;
	cl_database *dbs;
	size_t n_dbs, a_dbs;
	cl_tablespace *tss;
	size_t n_tss, a_tss;
	cl_acl *acls;
	size_t n_acls, a_acls;
	cl_sysset *sys;
	size_t n_sys, a_sys;
	char **keep;
	size_t n_keep, a_keep;
	cl_slot *slots;
	size_t n_slots, a_slots;
	cl_origin *origins;
	size_t n_origins, a_origins;
	bool origins_known; /* pg_replication_origin was readable */
};

/* A shared object a replayed statement names: 'r' role, 'd' database,
 * 't' tablespace, 's' ALTER SYSTEM setting. */
typedef struct cl_name {
	char kind;
	char *name;
} cl_name;

struct cf_cluster_scope {
	cl_name *names;
	size_t n_names, a_names;
	unsigned flags; /* CF_SCOPE_* */
	uint32_t *xids; /* 32-bit, as xmin shows them */
	size_t n_xids, a_xids;
	char *clone;	/* the clone database, never restored */
	cf_strbuf text; /* the replay's string constants, \n-separated */
	/* statements whose string constants are not in text yet (borrowed
	 * texts, in replay order): parsed when cl_scope_mentions() asks */
	struct cl_pending_text {
		const char *sql;
		size_t len;
	} * pending;
	size_t n_pending, a_pending;
	char *roles_seen; /* the replay connection's roles at the last
			     cf_cluster_scope_before_commit(); NULL: none */
};

/* cluster_snapshot.c */

/* Reads everything into a new snapshot (*out, the caller frees it with
 * cf_cluster_snapshot_free()); -1 with *err when a query fails. */
int cl_read_state(PGconn *conn, cf_cluster_snapshot **out, cf_error **err);
/* One catalog query of a batch: SQL with n text parameters. */
typedef struct cl_query {
	const char *sql;
	int n;
	const char *const *params;
} cl_query;
/*
 * Runs the n queries of qs in one round trip (pipeline mode, each on its
 * own, so that one refused query does not stop the others) and puts each
 * one's result in res[i], whatever its status (NULL when the connection
 * broke first); the caller PQclear()s them.  Returns false when the
 * connection broke.
 */
bool cl_query_batch(PGconn *conn, const cl_query *qs, size_t n, PGresult **res);
/* A field as an oid. */
Oid cl_foid(const PGresult *r, int row, int col);
/* Lookups in a snapshot; NULL when absent.  Borrowed from s. */
const cl_role *cl_role_by_oid(const cf_cluster_snapshot *s, Oid oid);
const cl_role *cl_role_by_name(const cf_cluster_snapshot *s, const char *name);
const cl_database *cl_db_by_oid(const cf_cluster_snapshot *s, Oid oid);
const cl_database *cl_db_by_name(const cf_cluster_snapshot *s,
				 const char *name);
const cl_tablespace *cl_ts_by_oid(const cf_cluster_snapshot *s, Oid oid);
const cl_tablespace *cl_ts_by_name(const cf_cluster_snapshot *s,
				   const char *name);
/* The strings of a JSON array (NULL: none) as a new array of new strings. */
void cl_strings_from_json(const json_t *a, char ***items, size_t *n);
/* NULL-safe string equality, and equality of two string arrays. */
bool cl_str_eq(const char *a, const char *b);
bool cl_strings_eq(char **a, size_t na, char **b, size_t nb);
/* Is (kind, name) recorded in scope?  Setting names compare without case. */
bool cl_scope_named(const cf_cluster_scope *scope, char kind, const char *name);

/* Does a string constant of the replay (a literal, a DO or function body)
 * mention name as a whole word? */
bool cl_scope_mentions(const cf_cluster_scope *scope, const char *name);

/* cluster_restore.c */

/* Appends `"name" TO value` (SET syntax, list settings quoted per item as
 * pg_dump does) from a pg_db_role_setting "name=value" item. */
void cl_add_set_item(cf_strbuf *sb, const char *item);

#endif /* CF_CLUSTER_INTERNAL_H */
