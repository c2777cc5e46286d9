/*
 * risk_trace.c — what each replayed statement did to the relations that
 * existed before the replay: the locks it took (pg_locks of the replay
 * session, read while its transaction is still open: relation locks are
 * held to the end of the transaction, so the difference with the previous
 * read is exactly what the statement took), whether it rewrote a relation
 * (pg_class.relfilenode changed) and whether it scanned one (the
 * session's per-transaction scan counter, pg_stat_get_xact_numscans,
 * grew).  docs/risk.md says why each signal is exact and where not.
 */
#include <stdlib.h>
#include <string.h>

#include "history/model.h"
#include "replay/risk.h"

/* Lock modes, weakest first; bit (1 << i) in a held mask. */
static const struct {
	const char *pg; /* pg_locks.mode */
	const char *name;
} modes[] = {
	{"AccessShareLock", "ACCESS SHARE"},
	{"RowShareLock", "ROW SHARE"},
	{"RowExclusiveLock", "ROW EXCLUSIVE"},
	{"ShareUpdateExclusiveLock", "SHARE UPDATE EXCLUSIVE"},
	{"ShareLock", "SHARE"},
	{"ShareRowExclusiveLock", "SHARE ROW EXCLUSIVE"},
	{"ExclusiveLock", "EXCLUSIVE"},
	{"AccessExclusiveLock", "ACCESS EXCLUSIVE"},
};
#define N_MODES (sizeof(modes) / sizeof(modes[0]))
#define SUE_MODE 3

/* One relation that existed before the first migration. */
typedef struct rel {
	unsigned oid;
	char *schema, *name;
	bool is_index;
	unsigned fn;	  /* relfilenode as last committed */
	unsigned unit_fn; /* as seen in unit `unit`, not yet committed */
	unsigned unit;
	unsigned held; /* modes held in lock epoch `held_epoch` */
	unsigned held_epoch;
	long long scans; /* scan counter in scan epoch `scan_epoch` */
	unsigned scan_epoch;
} rel;

struct cf_risk_tracer {
	rel *rels; /* sorted by oid */
	size_t n;
	bool savepoint;
	bool scans_known; /* PostgreSQL 15+: see docs/risk.md */
	int pid;
	unsigned unit, lock_epoch, scan_epoch;
	size_t traced; /* statements traced since the last unit_done */
	char *lock_sql;
};

/*
 * This session's relation locks in this database, each relation's
 * relfilenode (NULL once dropped) and scan count in this transaction.
 * Flat (no join, constant database) to plan fast: it runs after every
 * statement.  The forced flush publishes the session's pending counts
 * when it next goes idle outside a transaction, after the unit ends, so
 * that the next unit counts from zero.
 */
static char *
lock_query(unsigned dboid, bool scans)
{
	return cf_asprintf(
		"SELECT relation, mode, pg_relation_filenode(relation), %s"
		" FROM pg_locks WHERE locktype = 'relation' AND granted"
		" AND pid = pg_backend_pid() AND database = %u"
		" AND relation >= 16384",
		scans ? "pg_stat_get_xact_numscans(relation),"
			" pg_stat_force_next_flush()" :
			"0, NULL",
		dboid);
}

static int
rel_cmp(const void *a, const void *b)
{
	unsigned x = ((const rel *)a)->oid, y = ((const rel *)b)->oid;

	return x < y ? -1 : x > y;
}

static rel *
find_oid(cf_risk_tracer *t, unsigned oid)
{
	rel key = {.oid = oid};

	return bsearch(&key, t->rels, t->n, sizeof(rel), rel_cmp);
}

/* By name, for static facts: the schema when given, else public first. */
static rel *
find_name(cf_risk_tracer *t, const char *schema, const char *name)
{
	rel *any = NULL;

	for (size_t i = 0; name && i < t->n; i++) {
		rel *r = &t->rels[i];

		if (strcmp(r->name, name) != 0)
			continue;
		if (schema ? strcmp(r->schema, schema) == 0 :
			     strcmp(r->schema, "public") == 0)
			return r;
		if (!schema && !any)
			any = r;
	}
	return any;
}

static int
mode_index(const char *pg)
{
	for (size_t i = 0; i < N_MODES; i++)
		if (strcmp(modes[i].pg, pg) == 0)
			return (int)i;
	return -1;
}

static int
strongest(unsigned mask)
{
	int best = -1;

	for (size_t i = 0; i < N_MODES; i++)
		if (mask & (1u << i))
			best = (int)i;
	return best;
}

cf_risk_tracer *
cf_risk_tracer_begin(PGconn *conn, bool savepoint, cf_error **err)
{
	cf_risk_tracer *t;
	PGresult *res = cf_db_query(
		conn,
		"SELECT c.oid, c.relfilenode, c.relkind IN ('i', 'I'),"
		" n.nspname, c.relname,"
		" (SELECT oid FROM pg_database WHERE datname = current_database())"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.oid >= 16384 AND c.relkind <> 't'"
		" AND n.nspname <> 'pg_toast' AND n.nspname !~ '^pg_(toast_)?temp_'"
		" ORDER BY c.oid",
		0, NULL, err);

	if (!res)
		return NULL;
	t = cf_new(cf_risk_tracer);
	t->savepoint = savepoint;
	t->scans_known = PQserverVersion(conn) >= 150000;
	t->pid = PQbackendPID(conn);
	t->unit = t->lock_epoch = t->scan_epoch = 1;
	t->n = (size_t)PQntuples(res);
	t->lock_sql = lock_query(
		t->n ? (unsigned)strtoul(PQgetvalue(res, 0, 5), NULL, 10) : 0,
		t->scans_known);
	t->rels = cf_calloc(t->n ? t->n : 1, sizeof(rel));
	for (size_t i = 0; i < t->n; i++) {
		rel *r = &t->rels[i];

		r->oid = (unsigned)strtoul(PQgetvalue(res, (int)i, 0), NULL,
					   10);
		r->fn = (unsigned)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
		r->is_index = PQgetvalue(res, (int)i, 2)[0] == 't';
		r->schema = cf_strdup(PQgetvalue(res, (int)i, 3));
		r->name = cf_strdup(PQgetvalue(res, (int)i, 4));
	}
	PQclear(res);
	return t;
}

const char *
cf_risk_tracer_note(const cf_risk_tracer *t)
{
	if (!t->scans_known && t->savepoint)
		return "savepoint mode: scans are not traced after a migration ran in autocommit (its commit may publish the session's scan counters)";
	if (!t->scans_known)
		return "scans are not traced before PostgreSQL 15 (its per-transaction scan counters may hold earlier transactions' counts)";
	if (t->savepoint)
		return "savepoint mode: a lock an earlier migration of the replay already holds is not seen again (one transaction holds every lock to the end)";
	return NULL;
}

static cf_risk_lock *
add_lock(cf_risk_statement *st, const rel *r)
{
	cf_risk_lock *l;

	st->locks = cf_reallocarray(st->locks, st->n_locks + 1,
				    sizeof(cf_risk_lock));
	l = &st->locks[st->n_locks++];
	memset(l, 0, sizeof(*l));
	l->schema = cf_strdup(r->schema);
	l->name = cf_strdup(r->name);
	l->relation = cf_asprintf("%s.%s", r->schema, r->name);
	l->is_index = r->is_index;
	l->rows = -1;
	l->pages = -1;
	l->bytes = -1;
	return l;
}

static cf_risk_lock *
has_lock(cf_risk_statement *st, const rel *r)
{
	for (size_t k = 0; k < st->n_locks; k++)
		if (strcmp(st->locks[k].name, r->name) == 0 &&
		    strcmp(st->locks[k].schema, r->schema) == 0)
			return &st->locks[k];
	return NULL;
}

static unsigned
baseline_fn(const cf_risk_tracer *t, const rel *r)
{
	return r->unit == t->unit ? r->unit_fn : r->fn;
}

/*
 * A statement in its transaction: pg_locks, relfilenode, scan counter.
 * The query runs inside the migration's transaction, where a failure
 * would abort it: it reads only in-memory state and takes no lock.
 */
static void
trace_in_transaction(cf_risk_tracer *t, PGconn *conn, cf_risk_statement *st)
{
	PGresult *res = cf_db_query(conn, t->lock_sql, 0, NULL, NULL);
	int n = res ? PQntuples(res) : 0;
	/* the rows of one relation, merged: mask, relfilenode, scans */
	struct seen {
		rel *r;
		unsigned mask;
		unsigned fn;
		bool fn_known;
		long long scans;
	} *seen = cf_calloc(n ? (size_t)n : 1, sizeof(*seen));
	size_t ns = 0;

	for (int i = 0; i < n; i++) {
		rel *r = find_oid(
			t, (unsigned)strtoul(PQgetvalue(res, i, 0), NULL, 10));
		int mi = mode_index(PQgetvalue(res, i, 1));
		size_t k;

		if (!r || mi < 0)
			continue; /* new in this replay, or not a table lock */
		for (k = 0; k < ns && seen[k].r != r; k++)
			;
		if (k == ns) {
			seen[ns].r = r;
			seen[ns].fn_known = !PQgetisnull(res, i, 2);
			seen[ns].fn = (unsigned)strtoul(PQgetvalue(res, i, 2),
							NULL, 10);
			seen[ns].scans = atoll(PQgetvalue(res, i, 3));
			ns++;
		}
		seen[k].mask |= 1u << mi;
	}
	for (size_t k = 0; k < ns; k++) {
		rel *r = seen[k].r;
		unsigned before = r->held_epoch == t->lock_epoch ? r->held : 0;
		unsigned fresh = seen[k].mask & ~before;
		long long scans0 = r->scan_epoch == t->scan_epoch ? r->scans :
								    0;
		/* relfilenode 0: mapped or partitioned, no storage of its own */
		bool rewrite = seen[k].fn_known && seen[k].fn &&
			       seen[k].fn != baseline_fn(t, r);
		bool scan = t->scans_known && seen[k].scans > scans0;
		cf_risk_lock *l;

		if (fresh || rewrite || scan) {
			l = add_lock(st, r);
			/* the work happens under the strongest mode held */
			l->mode = modes[strongest(seen[k].mask)].name;
			l->acquired = fresh != 0;
			l->observed = true;
			l->rewrite = rewrite;
			l->scan = t->scans_known ? scan : -1;
		}
		r->held = seen[k].mask;
		r->held_epoch = t->lock_epoch;
		r->scans = seen[k].scans;
		r->scan_epoch = t->scan_epoch;
		if (seen[k].fn_known) {
			r->unit_fn = seen[k].fn;
			r->unit = t->unit;
		}
	}
	free(seen);
	PQclear(res);
}

/* Does a non-transactional statement of this kind take SHARE UPDATE
 * EXCLUSIVE on what it names (and does it scan)? */
static bool
static_sue(const char *nt, int *scan)
{
	static const char *const sue[] = {
		"CREATE INDEX CONCURRENTLY",
		"DROP INDEX CONCURRENTLY",
		"REINDEX CONCURRENTLY",
		"VACUUM",
		"ALTER TABLE DETACH PARTITION CONCURRENTLY",
	};

	*scan = -1;
	for (size_t i = 0; nt && i < sizeof(sue) / sizeof(sue[0]); i++)
		if (strcmp(nt, sue[i]) == 0) {
			/* an index build and VACUUM read the whole table */
			if (i == 0 || i == 2 || i == 3)
				*scan = 1;
			return true;
		}
	return false;
}

/*
 * Reads every committed relfilenode again (outside a transaction): after
 * an autocommit statement, reports in st (may be NULL) the relations it
 * rewrote; after --check-down's down and up, only catches up.
 */
static void
refresh_filenodes(cf_risk_tracer *t, PGconn *conn, cf_risk_statement *st)
{
	PGresult *res = cf_db_query(conn,
				    "SELECT oid, relfilenode FROM pg_class"
				    " WHERE oid >= 16384 AND relfilenode <> 0",
				    0, NULL, NULL);

	for (int i = 0; res && i < PQntuples(res); i++) {
		rel *r = find_oid(
			t, (unsigned)strtoul(PQgetvalue(res, i, 0), NULL, 10));
		unsigned fn = (unsigned)strtoul(PQgetvalue(res, i, 1), NULL,
						10);
		cf_risk_lock *l;

		if (!r)
			continue;
		if (st && fn != r->fn) {
			if (!(l = has_lock(st, r)))
				l = add_lock(st, r);
			l->rewrite = 1;
		}
		r->fn = fn;
	}
	PQclear(res);
}

/*
 * A statement that ran outside a transaction: its locks are gone when it
 * returns.  Rewrites are still exact (committed relfilenodes); the locks
 * are static facts of the statement's kind, labelled observed = false.
 */
static void
trace_autocommit(cf_risk_tracer *t, PGconn *conn, cf_script *script,
		 size_t index, cf_risk_statement *st)
{
	const cf_statement *s = &script->stmts[index];
	const cf_stmt_model *m;
	int scan;

	cf_script_build_models(script);
	m = s->model;
	if (m && static_sue(s->non_transactional, &scan)) {
		for (size_t k = 0; k < m->n; k++) {
			const cf_obj *o = &m->objs[k];
			/* CREATE INDEX names its table as the index's parent */
			const char *name =
				o->kind == CF_OBJ_INDEX &&
						o->action == CF_ACT_PROVIDE ?
					o->parent :
					o->name;
			rel *r;
			cf_risk_lock *l;

			if (o->kind != CF_OBJ_RELATION &&
			    o->kind != CF_OBJ_INDEX)
				continue;
			if (!(r = find_name(t, o->schema, name)) ||
			    has_lock(st, r))
				continue;
			l = add_lock(st, r);
			l->mode = modes[SUE_MODE].name;
			l->acquired = true;
			l->rewrite = -1;
			l->scan = r->is_index ? -1 : scan;
		}
	}
	refresh_filenodes(t, conn, st);
	for (size_t k = 0; k < st->n_locks; k++)
		if (st->locks[k].rewrite < 0)
			st->locks[k].rewrite = 0;
}

void
cf_risk_tracer_after(cf_risk_tracer *t, PGconn *conn, cf_script *script,
		     size_t index, double elapsed_ms,
		     cf_preflight_migration *pm)
{
	cf_risk_statement *st;

	if (PQbackendPID(conn) != t->pid) {
		/* a new session after a crash: nothing held, nothing counted */
		t->pid = PQbackendPID(conn);
		t->lock_epoch++;
		t->scan_epoch++;
		t->unit++;
	}
	pm->statements = cf_reallocarray(pm->statements, pm->n_statements + 1,
					 sizeof(cf_risk_statement));
	st = &pm->statements[pm->n_statements++];
	memset(st, 0, sizeof(*st));
	st->index = index + 1;
	st->line = script->stmts[index].line;
	st->duration_ms = elapsed_ms;
	st->est_lock_ms = -1;
	st->autocommit = PQtransactionStatus(conn) == PQTRANS_IDLE;
	t->traced++;
	if (!t->n)
		return; /* nothing existed before: nothing to report */
	if (st->autocommit)
		trace_autocommit(t, conn, script, index, st);
	else
		trace_in_transaction(t, conn, st);
}

void
cf_risk_tracer_unit_done(cf_risk_tracer *t, PGconn *conn, bool committed,
			 bool autocommit, bool more)
{
	size_t traced = t->traced;

	t->traced = 0;
	if (committed)
		for (size_t i = 0; i < t->n; i++)
			if (t->rels[i].unit == t->unit)
				t->rels[i].fn = t->rels[i].unit_fn;
	t->unit++;
	if (PQstatus(conn) != CONNECTION_OK)
		return;
	if (t->savepoint && autocommit) {
		/* the engine committed the replay's transaction and opened
		 * another: what was held and counted is gone */
		t->lock_epoch++;
		t->scan_epoch++;
		t->scans_known = false;
		return;
	}
	if (t->savepoint) {
		/* ROLLBACK TO SAVEPOINT released the failed unit's locks */
		if (!committed) {
			cf_risk_statement scratch;

			memset(&scratch, 0, sizeof(scratch));
			t->lock_epoch++;
			trace_in_transaction(t, conn, &scratch);
			cf_risk_statement_release(&scratch);
		}
		return;
	}
	t->lock_epoch++;
	t->scan_epoch++;
	if (more && t->n)
		refresh_filenodes(t, conn, NULL);
	/* the lock query forced the flush, unless no statement was traced
	 * (the first one failed) or more ran after the unit (--check-down) */
	if (t->scans_known && t->n && (!traced || more || autocommit))
		PQclear(PQexec(conn, "SELECT pg_stat_force_next_flush()"));
}

void
cf_risk_tracer_free(cf_risk_tracer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->rels[i].schema);
		free(t->rels[i].name);
	}
	free(t->rels);
	free(t->lock_sql);
	free(t);
}

void
cf_risk_statement_release(cf_risk_statement *st)
{
	for (size_t i = 0; i < st->n_locks; i++) {
		free(st->locks[i].relation);
		free(st->locks[i].schema);
		free(st->locks[i].name);
	}
	free(st->locks);
	free(st->kind);
	free(st->object);
	free(st->reason);
	memset(st, 0, sizeof(*st));
}
