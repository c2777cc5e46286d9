/*
 * cluster.h — snapshot and restore of a server's cluster-wide state (roles,
 * memberships, per-role and per-database settings, databases, tablespaces,
 * their privileges and comments, ALTER SYSTEM), so that a clone-mode
 * preflight leaves the against server as it found it.  Readers, scope and
 * guard: cluster_snapshot.c; the restore: cluster_restore.c.
 */
#ifndef CF_CLUSTER_H
#define CF_CLUSTER_H

#include <stdint.h>

#include "db/db.h"

/* Opaque; defined in cluster_internal.h. */
typedef struct cf_cluster_snapshot cf_cluster_snapshot;

/*
 * Reads the cluster-wide state through conn (a maintenance connection, any
 * user).  What the user cannot read (password hashes without superuser,
 * ALTER SYSTEM settings without access to pg_file_settings) is recorded as
 * unknown and later reported once by the restore.  On success *out is the
 * caller's, freed with cf_cluster_snapshot_free(); -1 with *err when a
 * catalog query fails.
 */
int cf_cluster_snapshot_take(PGconn *conn, cf_cluster_snapshot **out,
			     cf_error **err);

/*
 * Names a database created after the snapshot that the restore must leave
 * alone (it otherwise drops every database it does not know).  The name is
 * copied into the snapshot.
 */
void cf_cluster_snapshot_keep_database(cf_cluster_snapshot *snap,
				       const char *name);

/*
 * What the replay touched, so that the restore undoes only that and never
 * what other sessions did on a shared server meanwhile: the shared objects
 * the replayed statements name, and the transaction ids the replay wrote
 * shared catalog rows under.  Opaque; defined in cluster_internal.h.
 */
typedef struct cf_cluster_scope cf_cluster_scope;

/* A new, empty scope; the caller frees it with cf_cluster_scope_free(). */
cf_cluster_scope *cf_cluster_scope_new(void);

/* Frees a scope; NULL is fine. */
void cf_cluster_scope_free(cf_cluster_scope *scope);

/*
 * Records the shared objects a replayed statement names, and its string
 * constants (cl_scope_mentions()).  stmt is the statement's protobuf parse
 * node (a PgQuery__Node *, or the PgQuery__RawStmt * around it), as for
 * cf_cluster_guard_statement(); it is only read.  Roles: CREATE/ALTER/DROP
 * ROLE (with the roles of IN ROLE, ROLE, ADMIN), ALTER ROLE ... SET (and its
 * IN DATABASE), GRANT/REVOKE role (granted roles and grantees, not the
 * grantor), REASSIGN OWNED and DROP OWNED (the old owners).  Databases and
 * tablespaces: CREATE/ALTER/DROP, ALTER ... OWNER, GRANT/REVOKE ON them (the
 * objects, not the grantees).  RENAME of a role, database or tablespace
 * records both names; COMMENT and SECURITY LABEL on one record it.  ALTER
 * SYSTEM records the setting (RESET ALL: CF_SCOPE_SYSTEM_ALL).
 * CURRENT_USER, CURRENT_ROLE and SESSION_USER stand for the snapshot's
 * user.  DO and CALL set CF_SCOPE_OPAQUE: what their dynamic SQL touches is
 * attributed by transaction id only (cf_cluster_scope_before_commit()).
 * Every other statement is ignored.
 */
void cf_cluster_scope_add_statement(cf_cluster_scope *scope, const void *stmt);

/*
 * Records the shared objects a replayed statement names, as
 * cf_cluster_scope_add_statement() does, but not its string constants
 * (cf_cluster_scope_add_text()).
 */
void cf_cluster_scope_add_names(cf_cluster_scope *scope, const void *stmt);

/*
 * Records a replayed statement's text, whose string constants the restore
 * reads (as cf_cluster_scope_add_statement() records them) only when it
 * must attribute a replication slot or origin: the text is parsed then,
 * once.  sql[0..len) is borrowed: it must outlive the restore.
 */
void cf_cluster_scope_add_text(cf_cluster_scope *scope, const char *sql,
			       size_t len);

/*
 * Whether the guard, the scope's names or the statement warning could say
 * anything about the statement sql[0..len) (false only when certain, from
 * the text alone): its first words are those of a statement on roles,
 * databases, tablespaces, ALTER SYSTEM, COPY, GRANT/REVOKE, COMMENT,
 * SECURITY LABEL, REASSIGN/DROP OWNED, DO, CALL, CREATE SERVER or
 * EXTENSION; or it spells lo_export, pg_file_, dblink, postgres_fdw or
 * copy in any case; or a string constant of it may be spelt otherwise
 * (escapes, a constant continued on another line).  Such statements only
 * need their parse tree for the guard.
 */
bool cf_cluster_statement_relevant(const char *sql, size_t len);

/*
 * Whether a replayed statement names (kind, name) as
 * cf_cluster_scope_add_statement() would record it ('r' role, 'd'
 * database, 't' tablespace, 's' setting), without its string constants.
 */
bool cf_cluster_statement_names(const void *stmt, char kind, const char *name);

/*
 * Records a transaction id as text: an xid8 (pg_current_xact_id()) or a
 * 32-bit xid.  Only its low 32 bits are kept, as the xmin of catalog rows
 * shows them.  Text that is not a number is ignored.
 */
void cf_cluster_scope_add_xid(cf_cluster_scope *scope, const char *xid);

/*
 * Records what the transaction open on conn (the replay connection) did to
 * shared objects; call it just before each migration's COMMIT, with conn
 * out of pipeline mode.  It only reads, in one round trip on conn when
 * nothing changed:
 *  - the xmin of every shared catalog row (pg_database, pg_tablespace,
 *    pg_auth_members, pg_db_role_setting, pg_shdescription, and pg_authid
 *    and pg_replication_origin when readable) that the transaction wrote,
 *    its subtransactions (plpgsql EXCEPTION blocks, SAVEPOINT) included —
 *    which pg_current_xact_id() alone would miss;
 *  - the roles it created, changed, renamed or dropped: what conn sees
 *    (pg_roles, readable by everyone, while xmins are in pg_authid, which
 *    only a superuser reads) against what maint (the maintenance
 *    connection) sees right after.  This finds what dynamic SQL (EXECUTE
 *    in a function, DO) did to roles for a non-superuser.  maint is asked
 *    only when conn's roles differ from those it saw at the previous call.
 * -1 with *err when a query fails (then the transaction is aborted).
 */
int cf_cluster_scope_before_commit(cf_cluster_scope *scope, PGconn *conn,
				   PGconn *maint,
				   const cf_cluster_snapshot *snap,
				   cf_error **err);

/*
 * Names the clone database: the restore never drops, renames or alters a
 * database of that name, whatever the scope says.  NULL forgets it.
 */
void cf_cluster_scope_set_clone(cf_cluster_scope *scope, const char *name);

/*
 * Compares the server with snap and undoes the differences that scope
 * attributes to the replay; scope NULL undoes nothing.  A difference is
 * attributed when
 *  - its object's name (old or new, for a rename) is in the scope: for a
 *    membership either role, for a per-role/per-database setting the role
 *    or the database, for ALTER SYSTEM the setting; or
 *  - the catalog row that differs now (pg_authid when readable,
 *    pg_database, pg_tablespace, pg_auth_members, pg_db_role_setting,
 *    pg_shdescription for comments) has an xmin among the scope's xids.
 * A row that is gone has no xmin: a dropped object, a revoked membership or
 * a reset setting is attributed by name only.  Differences not attributed
 * are other sessions' and are left alone without a note; so are the
 * databases named by cf_cluster_snapshot_keep_database() and the clone.
 * Replication slots and origins are compared too.  A new slot is the
 * replay's when it is a logical slot of the clone or a string constant of
 * the replay names it (slots have no xmin), and is then dropped; a new
 * slot not attributed, which no undo can tell from another session's, is
 * reported with the command that drops it.  A new origin is the replay's by
 * its xmin or when named, and is dropped.  Slots and origins the replay
 * dropped cannot be recreated as they were: reported.
 * Each action is appended to notes as a CF_SEV_NOTICE error, each failure
 * to undo as a CF_SEV_WARNING; notes takes ownership of them.  Returns -1
 * with *err (caller frees) only when the connection is lost.
 */
int cf_cluster_snapshot_restore(PGconn *conn, const cf_cluster_snapshot *snap,
				const cf_cluster_scope *scope,
				cf_error_list *notes, cf_error **err);

/* Frees a snapshot and everything it owns; NULL is fine. */
void cf_cluster_snapshot_free(cf_cluster_snapshot *snap);

/*
 * Called before a replayed statement runs: returns -1 with *err (kind
 * CF_ERR_SQL, code "preflight-refused") when its effect could not be
 * undone — DROP DATABASE or DROP TABLESPACE of one that exists in snap
 * (clone_name, the clone itself, is allowed), DROP ROLE of an existing role
 * when password hashes were unreadable, ALTER SYSTEM when its settings were
 * unreadable, COPY ... TO a server file, COPY ... PROGRAM, and calls to
 * lo_export(), pg_file_write(), pg_file_rename() and pg_file_unlink()
 * anywhere in the statement (files on the server's machine outlive the
 * clone).  stmt is the statement's protobuf parse node (a PgQuery__Node
 * *, or the PgQuery__RawStmt * around it; void * here: no protobuf
 * headers), as the statement model's parse gives it (history/model.h,
 * cf_script_stmt_tree()); it is only read.  Returns 0 otherwise.
 */
int cf_cluster_guard_statement(const cf_cluster_snapshot *snap,
			       const void *stmt, const char *clone_name,
			       cf_error **err);

/*
 * What a replayed statement may do outside the clone that the preflight
 * cannot see or undo, as a new CF_SEV_WARNING (caller frees) or NULL:
 * code "reaches-other-databases" when it calls dblink functions, creates a
 * foreign server or the dblink/postgres_fdw extension, or its function
 * bodies and DO blocks mention them; code "server-file-may-be-written"
 * when its function bodies or DO blocks mention lo_export, pg_file_write,
 * pg_file_rename, pg_file_unlink or COPY ... TO/PROGRAM (dynamic SQL the
 * guard cannot refuse).  stmt as for cf_cluster_guard_statement().
 */
cf_error *cf_cluster_statement_warning(const void *stmt);

/* For tests: what a scope recorded. */
#define CF_SCOPE_OPAQUE 0x1	  /* DO or CALL: names may be incomplete */
#define CF_SCOPE_CURRENT_USER 0x2 /* a RoleSpec said CURRENT_USER & co */
#define CF_SCOPE_ALL_ROLES 0x4	  /* ALTER ROLE ALL SET (no database) */
#define CF_SCOPE_SYSTEM_ALL 0x8	  /* ALTER SYSTEM RESET ALL */

/* Is name recorded as kind: 'r' role, 'd' database, 't' tablespace, 's'
 * ALTER SYSTEM setting (without case)? */
bool cf_cluster_scope_has_name(const cf_cluster_scope *scope, char kind,
			       const char *name);
/* The CF_SCOPE_* flags set so far. */
unsigned cf_cluster_scope_flags(const cf_cluster_scope *scope);
/* The 32-bit transaction ids recorded so far (*xids borrowed). */
size_t cf_cluster_scope_xids(const cf_cluster_scope *scope,
			     const uint32_t **xids);
/* Is the 32-bit transaction id recorded? */
bool cf_cluster_scope_has_xid(const cf_cluster_scope *scope, uint32_t xid);

#endif /* CF_CLUSTER_H */
