/*
 * engine.c — the one execution engine.  `migrate up`, `migrate down` and
 * preflight all apply a migration through cf_engine_apply(), so what a
 * preflight replays is exactly what a deploy does.
 *
 * A migration is a unit: its own transaction (deploys, clone preflight) or
 * a savepoint inside the caller's transaction (savepoint preflight).
 *
 * A unit is sent in libpq's pipeline mode: the session reset, BEGIN, the
 * statements, the tracking row and COMMIT go out back to back and the
 * replies are read after one sync, so a migration costs one round trip
 * instead of one per command.  Each command is its own query, so the first
 * error still names its statement and file:line:column; the server skips
 * everything after it up to the sync, so nothing after a failing statement
 * runs.  A statement that needs its result before the next is sent (COPY,
 * which has no data in a file; text the parser rejected, which the server
 * judges as psql would send it) or a caller that reads the session after
 * each statement (after_statement) makes the statements go one by one, with
 * the bookkeeping still batched.  A statement the caller must see first
 * (before_statement, where statement_hooked says so) only ends the batch
 * before it; a caller that needs to know which other statements ran learns
 * it after the batch (statement_ran).  Non-transactional migrations run in
 * autocommit, statement by statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"

#ifndef LIBPQ_HAS_PIPELINING
#error "confiture needs libpq 14 or newer (pipeline mode)"
#endif

/*
 * Session state a migration may leave behind (SET, SET ROLE, prepared
 * statements, cursors, temp tables, LISTEN).  Each migration starts from a
 * fresh session's state, as if applied by its own psql; RESET ALL returns
 * to the values given at connection time (our timeouts).  Every command
 * here is allowed inside a transaction block.
 */
static const char reset_sql[] =
	"RESET ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; "
	"DEALLOCATE ALL; CLOSE ALL; UNLISTEN *; DISCARD TEMP; "
	"DISCARD SEQUENCES";

/* Before recording: back to our own role and search_path. */
static const char pre_record_sql[] =
	"SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET search_path";

static void
set_failure(cf_outcome *out, cf_error *e)
{
	out->kind = CF_OUTCOME_FAILED;
	if (out->error)
		cf_error_free(out->error);
	out->error = e;
}

/* Wraps an error from engine bookkeeping (not from the user's SQL). */
static cf_error *
bookkeeping_error(cf_error *e, const cf_migration *m, const char *what)
{
	char *msg = e->message;

	e->message = cf_asprintf("%s for migration %s failed: %s", what,
				 m->version, msg);
	free(msg);
	if (e->kind == CF_ERR_INTERNAL)
		e->kind = CF_ERR_SQL;
	return e;
}

/* The error of statement index from its failed result (NULL: the
 * connection's), pointing at the statement in the file. */
static cf_error *
statement_error(PGconn *conn, const cf_script *script, size_t index,
		const PGresult *res)
{
	const cf_statement *st = &script->stmts[index];
	cf_error *ce = cf_db_error(conn, res, CF_ERR_SQL);
	const char *pos = res ? PQresultErrorField(res,
						   PG_DIAG_STATEMENT_POSITION) :
				NULL;
	int line = st->line, column = st->column;

	if (pos)
		cf_script_position(script, st, atoi(pos), &line, &column);
	cf_error_set_where(ce, script->path, line, column);
	ce->statement = cf_strndup(script->text + st->offset, st->length);
	ce->statement_index = (int)index + 1;
	return ce;
}

static cf_error *
interrupted_error(const cf_script *script, size_t index)
{
	const cf_statement *st = &script->stmts[index];
	cf_error *ce = cf_error_new(
		CF_ERR_INTERNAL, "interrupted before statement %zu", index + 1);

	cf_error_set_code(ce, "interrupted");
	cf_error_set_where(ce, script->path, st->line, st->column);
	ce->statement = cf_strndup(script->text + st->offset, st->length);
	ce->statement_index = (int)index + 1;
	return ce;
}

/*
 * Calls before_statement for statement index (the connection outside
 * pipeline mode); when it refuses the statement, *err points at it.
 */
static int
call_hook(cf_engine *e, const cf_migration *m, const cf_script *script,
	  size_t index, cf_error **err)
{
	const cf_statement *st = &script->stmts[index];
	cf_error *ce = NULL;

	if (e->before_statement(e->hook_arg, m, script, index, &ce) == 0)
		return 0;
	if (!ce->file)
		cf_error_set_where(ce, script->path, st->line, st->column);
	ce->statement = cf_strndup(script->text + st->offset, st->length);
	ce->statement_index = (int)index + 1;
	*err = ce;
	return -1;
}

/* Whether before_statement must see statement index before it is sent. */
static bool
hooked(const cf_engine *e, const cf_migration *m, const cf_script *script,
       size_t index)
{
	return e->before_statement &&
	       (!e->statement_hooked ||
		e->statement_hooked(e->hook_arg, m, script, index));
}

/*
 * Sends one statement and waits for its result (outside pipeline mode).
 * On error builds a cf_error that points at the statement in the file.
 */
static int
send_statement(cf_engine *e, const cf_migration *m, const cf_script *script,
	       size_t index, cf_error **err)
{
	const cf_statement *st = &script->stmts[index];
	char *sql;
	PGresult *res;
	ExecStatusType status;
	cf_error *ce;
	double t0;

	if (cf_cancel_requested()) {
		*err = interrupted_error(script, index);
		return -1;
	}
	if (e->before_statement && call_hook(e, m, script, index, err) < 0)
		return -1;
	sql = cf_strndup(script->text + st->offset, st->length);
	t0 = cf_now_ms();
	res = PQexec(e->conn, sql);
	free(sql);
	status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
	    status == PGRES_EMPTY_QUERY) {
		PQclear(res);
		if (e->after_statement)
			e->after_statement(e->hook_arg, e->conn, m, script,
					   index, cf_now_ms() - t0);
		return 0;
	}
	if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
	    status == PGRES_COPY_BOTH) {
		/* COPY ... FROM STDIN has no data in a migration file: end
		 * it with an error (PQgetResult would return COPY_IN for
		 * ever), or read and drop what COPY TO STDOUT sends */
		char *buf;

		PQclear(res);
		if (status == PGRES_COPY_IN)
			PQputCopyEnd(e->conn, "not supported in a migration");
		else
			while (PQgetCopyData(e->conn, &buf, 0) > 0)
				PQfreemem(buf);
		while ((res = PQgetResult(e->conn)) != NULL)
			PQclear(res);
		ce = cf_error_new(
			CF_ERR_SQL,
			"COPY to or from the client is not supported in a migration");
		cf_error_set_hint(
			ce,
			"use COPY with a server-side file, or INSERT statements");
		cf_error_set_where(ce, script->path, st->line, st->column);
		ce->statement = cf_strndup(script->text + st->offset,
					   st->length);
		ce->statement_index = (int)index + 1;
	} else {
		ce = statement_error(e->conn, script, index, res);
		PQclear(res);
	}
	*err = ce;
	return -1;
}

static int
run_statements(cf_engine *e, const cf_migration *m, const cf_script *script,
	       cf_error **err)
{
	for (size_t i = 0; i < script->n_stmts; i++)
		if (!(e->skip && e->skip[i]) &&
		    send_statement(e, m, script, i, err) < 0)
			return -1;
	return 0;
}

/* ---- pipeline ---- */

/* What a queued command is, to attribute its error. */
typedef enum step_kind {
	STEP_RESET = 0, /* a command of reset_sql; index 1: after COMMIT */
	STEP_OPEN, /* index 0: BEGIN or SAVEPOINT, 1: SET LOCAL lock_timeout */
	STEP_STATEMENT, /* the migration's statement number index */
	STEP_RECORD,	/* index 0: pre_record_sql, 1: the tracking row */
	STEP_CLOSE,	/* index 0: deferred_check_sql, 1: COMMIT/RELEASE */
} step_kind;

typedef struct step {
	step_kind kind;
	size_t index;
	bool seen; /* a statement before_statement saw before it was sent */
} step;

/*
 * Commands sent without waiting.  Replies are read at the sync, or when
 * PIPE_DRAIN_BYTES of SQL are queued: neither side then blocks writing
 * while the other does (a statement with a large result, a large INSERT).
 */
#define PIPE_DRAIN_BYTES 32768

typedef struct batch {
	PGconn *conn;
	const cf_engine *e; /* its while_waiting hook */
	step *steps;
	size_t n, alloc;
	size_t read;	   /* steps whose results were read */
	size_t bytes;	   /* SQL queued since the last drain */
	PGresult *res;	   /* the first failed step's result, or NULL */
	size_t failed;	   /* its index in steps */
	size_t synced;	   /* steps the last sync covered */
	bool lost;	   /* libpq failed (the connection): no more results */
	bool reset_failed; /* the reset after COMMIT failed */
} batch;

static void
pipe_begin(batch *p, const cf_engine *e)
{
	memset(p, 0, sizeof(*p));
	p->conn = e->conn;
	p->e = e;
	if (!PQenterPipelineMode(p->conn))
		p->lost = true;
}

/* Reads the result of the next queued step. */
static void
pipe_read_one(batch *p)
{
	PGresult *res = PQgetResult(p->conn);
	ExecStatusType st;

	if (!res) {
		p->lost = true;
		return;
	}
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY && st != PGRES_PIPELINE_ABORTED &&
	    !p->res) {
		p->res = res;
		p->failed = p->read;
	} else {
		PQclear(res);
	}
	p->read++;
	if (PQstatus(p->conn) == CONNECTION_BAD) {
		p->lost = true;
		return;
	}
	/* the NULL that ends this step's results */
	while ((res = PQgetResult(p->conn)) != NULL) {
		PQclear(res);
		if (PQstatus(p->conn) == CONNECTION_BAD) {
			p->lost = true;
			return;
		}
	}
}

static void
pipe_drain(batch *p)
{
	if (p->read == p->n || p->lost)
		return;
	if (!PQsendFlushRequest(p->conn) || PQflush(p->conn) != 0)
		p->lost = true;
	while (!p->lost && p->read < p->n)
		pipe_read_one(p);
	p->bytes = 0;
}

/* Queues one command; false (nothing queued) once a step failed. */
static bool
pipe_send(batch *p, step_kind kind, size_t index, const char *sql, int nparams,
	  const char *const *params)
{
	size_t len = strlen(sql);

	if (p->lost || p->res)
		return false;
	if (p->bytes && p->bytes + len > PIPE_DRAIN_BYTES) {
		pipe_drain(p);
		if (p->lost || p->res)
			return false;
	}
	if (!PQsendQueryParams(p->conn, sql, nparams, NULL, params, NULL, NULL,
			       0)) {
		p->lost = true;
		return false;
	}
	CF_GROW(p->steps, p->alloc, p->n + 1);
	p->steps[p->n].kind = kind;
	p->steps[p->n].index = index;
	p->steps[p->n].seen = false;
	p->n++;
	p->bytes += len;
	return true;
}

/* Queues each command of a "a; b; c" string (none contains "; "). */
static void
pipe_send_all(batch *p, step_kind kind, size_t index, const char *cmds)
{
	const char *s = cmds, *end;

	while (*s) {
		char *one;

		end = strstr(s, "; ");
		one = end ? cf_strndup(s, (size_t)(end - s)) : cf_strdup(s);
		pipe_send(p, kind, index, one, 0, NULL);
		free(one);
		s = end ? end + 2 : s + strlen(s);
	}
}

/* Syncs, reads every result and leaves pipeline mode. */
static void
pipe_end(batch *p)
{
	PGresult *res;

	if (p->n == p->synced && !p->lost) {
		/* nothing queued since the last sync: no round trip */
		if (!PQexitPipelineMode(p->conn))
			p->lost = true;
		return;
	}
	if (!p->lost && !PQpipelineSync(p->conn))
		p->lost = true;
	/* sent and flushed: the server works, the client may too */
	if (!p->lost && p->e && p->e->while_waiting)
		p->e->while_waiting(p->e->hook_arg);
	while (!p->lost && p->read < p->n)
		pipe_read_one(p);
	if (!p->lost) {
		res = PQgetResult(p->conn);
		if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			p->lost = true;
		PQclear(res);
	}
	if (!p->lost && !PQexitPipelineMode(p->conn))
		p->lost = true;
	p->bytes = 0;
	p->synced = p->n;
}

/* Queues again after pipe_end(), in the same batch (its steps kept). */
static void
pipe_resume(batch *p)
{
	if (!p->lost && !PQenterPipelineMode(p->conn))
		p->lost = true;
}

static void
pipe_release(batch *p)
{
	PQclear(p->res);
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

/*
 * Test-only (tests/integration/t0135-deploy-faults.sh): with
 * CONFITURE_TEST_STALL_BEFORE_RECORD=PATH, a non-transactional migration
 * creates PATH after its last statement and stalls there, before its
 * tracking row, so a test can kill the process at exactly that point.
 */
static void
test_stall_before_record(void)
{
	const char *path = getenv("CONFITURE_TEST_STALL_BEFORE_RECORD");
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "w")))
		return;
	fclose(f);
	for (int i = 0; i < 600 && !cf_cancel_requested(); i++)
		cf_sleep_ms(100);
}

static int
record(cf_engine *e, const cf_migration *m, bool down, int elapsed_ms,
       cf_error **err)
{
	char *slug;
	int rc;

	if (!e->tracking_ident)
		return 0;
	if (cf_db_exec(e->conn, pre_record_sql, err) < 0)
		return -1;
	if (down)
		return cf_tracking_delete(e->conn, e->tracking_ident,
					  m->version, err);
	slug = cf_tracking_slug(m->name, NULL);
	rc = cf_tracking_insert(e->conn, e->tracking_ident, m, slug, elapsed_ms,
				err);
	free(slug);
	return rc;
}

/*
 * Queues the tracking row (insert, or delete when down); *sql gets the
 * statement for error messages (caller frees).  The execution time is the
 * server's, since BEGIN.
 */
static void
queue_record(cf_engine *e, batch *p, const cf_migration *m, bool down,
	     char **sql)
{
	const char *params[5];
	char *slug;

	*sql = NULL;
	if (!e->tracking_ident)
		return;
	pipe_send_all(p, STEP_RECORD, 0, pre_record_sql);
	if (down) {
		params[0] = m->version;
		*sql = cf_tracking_delete_sql(e->tracking_ident);
		pipe_send(p, STEP_RECORD, 1, *sql, 1, params);
		return;
	}
	slug = cf_tracking_slug(m->name, NULL);
	params[0] = slug;
	params[1] = m->version;
	params[2] = m->name;
	params[3] = NULL;
	params[4] = m->checksum[0] ? m->checksum : NULL;
	*sql = cf_tracking_insert_sql(e->tracking_ident);
	pipe_send(p, STEP_RECORD, 1, *sql, 5, params);
	free(slug);
}

/*
 * A savepoint is not a COMMIT: deferred constraints would never be checked.
 * Fire them now, as COMMIT would, inside a savepoint that is then rolled
 * back so that the next migration still sees them deferred (rolling back a
 * subtransaction restores the constraint modes and un-fires its trigger
 * events).
 */
static const char deferred_check_sql[] =
	"SAVEPOINT cf_deferred_check; SET CONSTRAINTS ALL IMMEDIATE; "
	"ROLLBACK TO SAVEPOINT cf_deferred_check; "
	"RELEASE SAVEPOINT cf_deferred_check";

static const char *
open_sql(const cf_engine *e)
{
	return e->unit == CF_UNIT_TRANSACTION ? "BEGIN" :
						"SAVEPOINT cf_migration";
}

static const char *
close_sql(const cf_engine *e)
{
	return e->unit == CF_UNIT_TRANSACTION ?
		       "COMMIT" :
		       "RELEASE SAVEPOINT cf_migration";
}

/*
 * Queues the end of the unit.  After a COMMIT the session reset for the
 * next unit follows in the same round trip: run before BEGIN in one
 * implicit transaction it would count as the transaction's first query
 * (SET TRANSACTION ISOLATION LEVEL first in a migration must work).
 */
static void
queue_close(cf_engine *e, batch *p)
{
	if (e->unit == CF_UNIT_SAVEPOINT)
		pipe_send_all(p, STEP_CLOSE, 0, deferred_check_sql);
	pipe_send(p, STEP_CLOSE, 1, close_sql(e), 0, NULL);
	if (e->unit == CF_UNIT_TRANSACTION)
		pipe_send_all(p, STEP_RESET, 1, reset_sql);
}

/*
 * Undoes a unit that failed after it was opened.  The session state is
 * then what it was before BEGIN but for what a rollback keeps (prepared
 * statements): the next unit resets it first.
 */
static void
unit_rollback(cf_engine *e)
{
	PGTransactionStatusType ts = PQtransactionStatus(e->conn);

	e->clean = NULL;
	if (e->unit == CF_UNIT_TRANSACTION) {
		if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
			PQclear(PQexec(e->conn, "ROLLBACK"));
		return;
	}
	PQclear(PQexec(e->conn, "ROLLBACK TO SAVEPOINT cf_migration; "
				"RELEASE SAVEPOINT cf_migration"));
}

/* First statement that forces autocommit, for messages. */
static const cf_statement *
first_non_transactional(const cf_script *script)
{
	for (size_t i = 0; i < script->n_stmts; i++)
		if (script->stmts[i].non_transactional)
			return &script->stmts[i];
	return NULL;
}

static int
apply_autocommit(cf_engine *e, const cf_migration *m, const cf_script *script,
		 bool down, cf_outcome *out, double t0)
{
	cf_error *err = NULL;

	out->autocommit = true;
	if (e->unit == CF_UNIT_SAVEPOINT) {
		/* Leaving the caller's transaction commits everything
		 * replayed so far: the target is consumed. */
		if (cf_db_exec(e->conn, "COMMIT", &err) < 0) {
			set_failure(out, bookkeeping_error(
						 err, m,
						 "commit before autocommit"));
			return -1;
		}
	}
	e->consumed = true;
	e->clean = NULL;
	if (cf_db_exec(e->conn, reset_sql, &err) < 0 ||
	    run_statements(e, m, script, &err) < 0) {
		set_failure(out, err);
	} else {
		test_stall_before_record();
		if (record(e, m, down, (int)(cf_now_ms() - t0), &err) < 0)
			set_failure(out, err);
		else
			out->kind = CF_OUTCOME_OK;
	}
	if (e->unit == CF_UNIT_SAVEPOINT && PQstatus(e->conn) == CONNECTION_OK)
		PQclear(PQexec(e->conn, "BEGIN"));
	out->elapsed_ms = cf_now_ms() - t0;
	return out->kind == CF_OUTCOME_OK ? 0 : -1;
}

/*
 * True when a statement must have its result before the next is sent:
 * COPY (libpq's pipeline mode has no COPY; from or to the client it is
 * refused with its own message), and text the parser rejected (the server
 * judges it as one query string, as psql would send it).
 */
static bool
needs_result(const cf_script *script, const cf_statement *st)
{
	const char *t = script->text + st->offset;
	char next;

	if (st->syntax_error)
		return true;
	if (st->length < 4 || strncasecmp(t, "copy", 4) != 0)
		return false;
	next = st->length > 4 ? t[4] : ' ';
	return !(next == '_' || next == '$' || (next >= '0' && next <= '9') ||
		 (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
		 (unsigned char)next >= 0x80);
}

/*
 * Whether the statements of script can go out without waiting (a statement
 * before_statement must see only ends the batch before it:
 * queue_statements()).
 */
static bool
can_pipeline(const cf_engine *e, const cf_script *script)
{
	/* the hook sees the session right after each statement ran */
	if (e->after_statement)
		return false;
	for (size_t i = 0; i < script->n_stmts; i++) {
		if (e->skip && e->skip[i])
			continue;
		if (needs_result(script, &script->stmts[i]))
			return false;
	}
	return true;
}

/* The error of the step that failed (res NULL: the connection's). */
static cf_error *
step_error(cf_engine *e, const cf_migration *m, const cf_script *script,
	   const step *s, const PGresult *res, const char *record_sql)
{
	const char *what = NULL, *sql;
	cf_error *ce;

	switch (s->kind) {
	case STEP_STATEMENT:
		return statement_error(e->conn, script, s->index, res);
	case STEP_RESET:
		what = "session reset";
		sql = reset_sql;
		break;
	case STEP_OPEN:
		what = "opening the transaction";
		sql = s->index ? "SET LOCAL lock_timeout" : open_sql(e);
		break;
	case STEP_RECORD:
		what = "recording";
		sql = s->index ? record_sql : pre_record_sql;
		break;
	default:
		sql = s->index ? close_sql(e) : deferred_check_sql;
		break;
	}
	ce = cf_db_error(e->conn, res, CF_ERR_INTERNAL);
	ce->statement = cf_strdup(sql);
	if (what)
		return bookkeeping_error(ce, m, what);
	/* deferred constraints fire at COMMIT: a real failure */
	cf_error_set_where(ce, script->path, 0, 0);
	return ce;
}

/*
 * Ends a pipeline; on failure sets out's error (the first failed step, or
 * *local when that came first: nothing was queued after it) and undoes the
 * unit when it was opened.  Returns -1 on failure.
 */
static int
pipe_finish(cf_engine *e, batch *p, const cf_migration *m,
	    const cf_script *script, const char *record_sql, cf_error **local,
	    cf_outcome *out)
{
	step at;
	cf_error *ce;

	pipe_end(p);
	if (p->res && p->steps[p->failed].kind == STEP_RESET &&
	    p->steps[p->failed].index == 1) {
		/* the unit committed; the next one resets first */
		p->reset_failed = true;
		PQclear(p->res);
		p->res = NULL;
	}
	if (!p->res && !p->lost && !*local)
		return 0;
	if (p->res || (p->lost && p->read < p->n)) {
		at = p->steps[p->res ? p->failed : p->read];
		ce = step_error(e, m, script, &at, p->res, record_sql);
		cf_error_free(*local);
	} else if (*local) {
		at.kind = STEP_STATEMENT;
		ce = *local;
	} else {
		at.kind = STEP_RESET;
		ce = bookkeeping_error(
			cf_db_error(e->conn, NULL, CF_ERR_INTERNAL), m,
			"session reset");
	}
	*local = NULL;
	set_failure(out, ce);
	if (at.kind != STEP_RESET && at.kind != STEP_OPEN &&
	    PQstatus(e->conn) == CONNECTION_OK)
		unit_rollback(e);
	e->clean = NULL;
	return -1;
}

/*
 * Tells statement_ran which statements of a pipelined unit ran, other
 * than those before_statement saw (it was told then): those queued up to
 * the step that failed, that step included (the server skipped the rest);
 * all of them when the connection broke (the server may have run them
 * before).
 */
static void
batch_ran(cf_engine *e, const batch *p, const cf_migration *m,
	  const cf_script *script)
{
	size_t stop = p->res ? p->failed : p->n;

	for (size_t j = 0; e->statement_ran && j < p->n && j <= stop; j++)
		if (p->steps[j].kind == STEP_STATEMENT && !p->steps[j].seen)
			e->statement_ran(e->hook_arg, m, script,
					 p->steps[j].index);
}

/*
 * Queues the statements of script; *local is set when interrupted or
 * refused by before_statement.  Before a statement that hook must see, what
 * was queued is synced and read (the hook then reads the database as just
 * before that statement, outside pipeline mode) and the batch goes on
 * after it: one round trip more per such statement, not one per statement.
 * A failure read there stops the queueing; pipe_finish() reports it.
 */
static void
queue_statements(cf_engine *e, batch *p, const cf_migration *m,
		 const cf_script *script, cf_error **local)
{
	for (size_t i = 0; i < script->n_stmts; i++) {
		const cf_statement *st = &script->stmts[i];
		bool seen;
		char *sql;

		if (e->skip && e->skip[i])
			continue;
		if (cf_cancel_requested()) {
			*local = interrupted_error(script, i);
			return;
		}
		seen = hooked(e, m, script, i);
		if (seen) {
			pipe_end(p);
			if (p->res || p->lost ||
			    call_hook(e, m, script, i, local) < 0)
				return;
			pipe_resume(p);
		}
		sql = cf_strndup(script->text + st->offset, st->length);
		if (pipe_send(p, STEP_STATEMENT, i, sql, 0, NULL))
			p->steps[p->n - 1].seen = seen;
		free(sql);
	}
}

/*
 * Opens the unit: the session reset first (in a transaction unit, only
 * when the last unit on this connection did not end with one), then BEGIN
 * or SAVEPOINT, and the unit's lock_timeout.
 */
static void
queue_open(cf_engine *e, batch *p, const cf_migration *m, cf_outcome *out,
	   int *rc)
{
	cf_error *err = NULL;

	*rc = 0;
	if (e->unit == CF_UNIT_TRANSACTION && e->clean != e->conn &&
	    cf_db_exec(e->conn, reset_sql, &err) < 0) {
		set_failure(out, bookkeeping_error(err, m, "session reset"));
		*rc = -1;
		return;
	}
	e->clean = NULL;
	pipe_begin(p, e);
	if (e->unit == CF_UNIT_SAVEPOINT)
		pipe_send_all(p, STEP_RESET, 0, reset_sql);
	pipe_send(p, STEP_OPEN, 0, open_sql(e), 0, NULL);
	if (e->unit == CF_UNIT_TRANSACTION && e->lock_timeout_ms > 0) {
		/* LOCAL: a SET of the migration wins, and it ends with the
		 * transaction */
		char *sql = cf_asprintf("SET LOCAL lock_timeout = %d",
					e->lock_timeout_ms);

		pipe_send(p, STEP_OPEN, 1, sql, 0, NULL);
		free(sql);
	}
}

/* Applies a transactional migration as one unit; see the file comment. */
static int
apply_unit(cf_engine *e, const cf_migration *m, const cf_script *script,
	   bool down, cf_outcome *out)
{
	bool batched = can_pipeline(e, script);
	cf_error *local = NULL, *err = NULL;
	char *record_sql = NULL;
	batch p;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	queue_open(e, &p, m, out, &rc);
	if (rc < 0)
		return -1;
	rc = -1;
	if (batched) {
		queue_statements(e, &p, m, script, &local);
	} else {
		if (pipe_finish(e, &p, m, script, NULL, &local, out) < 0)
			goto done;
		pipe_release(&p);
		if (run_statements(e, m, script, &err) < 0) {
			set_failure(out, err);
			unit_rollback(e);
			goto done;
		}
		pipe_begin(&p, e);
	}
	if (!local)
		queue_record(e, &p, m, down, &record_sql);
	if (!local && !e->before_commit)
		queue_close(e, &p);
	rc = pipe_finish(e, &p, m, script, record_sql, &local, out);
	if (batched)
		batch_ran(e, &p, m, script);
	if (rc < 0)
		goto done;
	rc = -1;
	if (e->before_commit) {
		if (e->before_commit(e->hook_arg, e->conn, &err) < 0) {
			set_failure(out,
				    bookkeeping_error(
					    err, m,
					    "recording cluster-wide changes"));
			unit_rollback(e);
			goto done;
		}
		pipe_release(&p);
		pipe_begin(&p, e);
		queue_close(e, &p);
		if (pipe_finish(e, &p, m, script, NULL, &local, out) < 0)
			goto done;
	}
	if (e->unit == CF_UNIT_TRANSACTION && !p.reset_failed)
		e->clean = e->conn;
	out->kind = CF_OUTCOME_OK;
	rc = 0;
done:
	pipe_release(&p);
	free(record_sql);
	return rc;
}

int
cf_engine_apply(cf_engine *e, const cf_migration *m, bool down, cf_outcome *out)
{
	const cf_script *script = down ? m->down : m->up;
	double t0 = cf_now_ms();
	int rc;

	memset(out, 0, sizeof(*out));
	out->migration = m;
	if (!script) {
		set_failure(out,
			    cf_error_new(CF_ERR_FILE,
					 "migration %s has no parsed %s script",
					 m->version, down ? "down" : "up"));
		return -1;
	}
	if (!script->transactional) {
		if (e->unit == CF_UNIT_SAVEPOINT && !e->allow_autocommit) {
			const cf_statement *st = first_non_transactional(
				script);

			out->kind = CF_OUTCOME_SKIPPED;
			out->skipped_reason =
				st ? cf_asprintf(
					     "non-transactional statement %s at line %d; pass --allow-non-transactional to run it in autocommit",
					     st->non_transactional, st->line) :
				     cf_strdup(
					     "marked -- confiture:no-transaction; pass --allow-non-transactional to run it in autocommit");
			return 0;
		}
		return apply_autocommit(e, m, script, down, out, t0);
	}
	rc = apply_unit(e, m, script, down, out);
	out->elapsed_ms = cf_now_ms() - t0;
	return rc;
}
