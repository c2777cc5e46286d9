/*
 * engine.c — the one execution engine.  `migrate up`, `migrate down` and
 * preflight all apply a migration through cf_engine_apply(), so what a
 * preflight replays is exactly what a deploy does.
 *
 * A migration is a unit: its own transaction (deploys, clone preflight) or
 * a savepoint inside the caller's transaction (savepoint preflight).
 * Statements are sent one by one, so an error names the statement and its
 * file:line:column.  Non-transactional migrations run in autocommit,
 * statement by statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

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

static const char savepoint_name[] = "cf_migration";

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

/*
 * Sends one statement.  On error builds a cf_error that points at the
 * statement in the file.
 */
static int
send_statement(cf_engine *e, const cf_migration *m, const cf_script *script,
	       size_t index, cf_error **err)
{
	const cf_statement *st = &script->stmts[index];
	char *sql = cf_strndup(script->text + st->offset, st->length);
	PGresult *res;
	ExecStatusType status;
	cf_error *ce;
	const char *pos;
	int line = st->line, column = st->column;
	double t0;

	if (cf_cancel_requested()) {
		ce = cf_error_new(CF_ERR_INTERNAL,
				  "interrupted before statement %zu",
				  index + 1);
		cf_error_set_code(ce, "interrupted");
		cf_error_set_where(ce, script->path, st->line, st->column);
		ce->statement = sql;
		ce->statement_index = (int)index + 1;
		*err = ce;
		return -1;
	}
	if (e->before_statement &&
	    e->before_statement(e->hook_arg, m, script, index, &ce) < 0) {
		if (!ce->file)
			cf_error_set_where(ce, script->path, st->line,
					   st->column);
		ce->statement = sql;
		ce->statement_index = (int)index + 1;
		*err = ce;
		return -1;
	}
	t0 = cf_now_ms();
	res = PQexec(e->conn, sql);
	status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
	    status == PGRES_EMPTY_QUERY) {
		PQclear(res);
		free(sql);
		if (e->after_statement)
			e->after_statement(e->hook_arg, e->conn, m, script,
					   index, cf_now_ms() - t0);
		return 0;
	}
	if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
	    status == PGRES_COPY_BOTH) {
		/* COPY ... FROM STDIN has no data in a migration file */
		PQclear(res);
		while ((res = PQgetResult(e->conn)) != NULL)
			PQclear(res);
		ce = cf_error_new(
			CF_ERR_SQL,
			"COPY to or from the client is not supported in a migration");
		cf_error_set_hint(
			ce,
			"use COPY with a server-side file, or INSERT statements");
		PQputCopyEnd(e->conn, "not supported");
		while ((res = PQgetResult(e->conn)) != NULL)
			PQclear(res);
	} else {
		ce = cf_db_error(e->conn, res, CF_ERR_SQL);
		pos = res ? PQresultErrorField(res,
					       PG_DIAG_STATEMENT_POSITION) :
			    NULL;
		if (pos)
			cf_script_position(script, st, atoi(pos), &line,
					   &column);
		PQclear(res);
	}
	cf_error_set_where(ce, script->path, line, column);
	ce->statement = sql;
	ce->statement_index = (int)index + 1;
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

static int
unit_begin(cf_engine *e, cf_error **err)
{
	char *sql;
	int rc;

	if (e->unit == CF_UNIT_TRANSACTION && e->lock_timeout_ms > 0) {
		/* LOCAL: a SET of the migration wins, and it ends with the
		 * transaction */
		sql = cf_asprintf("BEGIN; SET LOCAL lock_timeout = %d",
				  e->lock_timeout_ms);
		rc = cf_db_exec(e->conn, sql, err);
		free(sql);
		return rc;
	}
	if (e->unit == CF_UNIT_TRANSACTION)
		return cf_db_exec(e->conn, "BEGIN", err);
	sql = cf_asprintf("SAVEPOINT %s", savepoint_name);
	rc = cf_db_exec(e->conn, sql, err);
	free(sql);
	return rc;
}

static int
unit_commit(cf_engine *e, cf_error **err)
{
	char *sql;
	int rc;

	if (e->unit == CF_UNIT_TRANSACTION)
		return cf_db_exec(e->conn, "COMMIT", err);
	/*
	 * A savepoint is not a COMMIT: deferred constraints would never be
	 * checked.  Fire them now, as COMMIT would, inside a savepoint that
	 * is then rolled back so that the next migration still sees them
	 * deferred (rolling back a subtransaction restores the constraint
	 * modes and un-fires its trigger events).
	 */
	if (cf_db_exec(e->conn,
		       "SAVEPOINT cf_deferred_check; "
		       "SET CONSTRAINTS ALL IMMEDIATE; "
		       "ROLLBACK TO SAVEPOINT cf_deferred_check; "
		       "RELEASE SAVEPOINT cf_deferred_check",
		       err) < 0)
		return -1;
	sql = cf_asprintf("RELEASE SAVEPOINT %s", savepoint_name);
	rc = cf_db_exec(e->conn, sql, err);
	free(sql);
	return rc;
}

static void
unit_rollback(cf_engine *e)
{
	char *sql;

	if (e->unit == CF_UNIT_TRANSACTION) {
		PQclear(PQexec(e->conn, "ROLLBACK"));
		return;
	}
	sql = cf_asprintf("ROLLBACK TO SAVEPOINT %s; RELEASE SAVEPOINT %s",
			  savepoint_name, savepoint_name);
	PQclear(PQexec(e->conn, sql));
	free(sql);
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

int
cf_engine_apply(cf_engine *e, const cf_migration *m, bool down, cf_outcome *out)
{
	const cf_script *script = down ? m->down : m->up;
	double t0 = cf_now_ms();
	cf_error *err = NULL;

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

	if (cf_db_exec(e->conn, reset_sql, &err) < 0) {
		set_failure(out, bookkeeping_error(err, m, "session reset"));
		return -1;
	}
	if (unit_begin(e, &err) < 0) {
		set_failure(out, bookkeeping_error(err, m,
						   "opening the transaction"));
		return -1;
	}
	if (run_statements(e, m, script, &err) < 0) {
		set_failure(out, err);
		unit_rollback(e);
		out->elapsed_ms = cf_now_ms() - t0;
		return -1;
	}
	if (record(e, m, down, (int)(cf_now_ms() - t0), &err) < 0) {
		set_failure(out, bookkeeping_error(err, m, "recording"));
		unit_rollback(e);
		out->elapsed_ms = cf_now_ms() - t0;
		return -1;
	}
	if (e->before_commit &&
	    e->before_commit(e->hook_arg, e->conn, &err) < 0) {
		set_failure(out,
			    bookkeeping_error(
				    err, m, "recording cluster-wide changes"));
		unit_rollback(e);
		out->elapsed_ms = cf_now_ms() - t0;
		return -1;
	}
	if (unit_commit(e, &err) < 0) {
		/* deferred constraints fire at COMMIT: a real failure */
		if (!err->file)
			cf_error_set_where(err, script->path, 0, 0);
		set_failure(out, err);
		unit_rollback(e);
		out->elapsed_ms = cf_now_ms() - t0;
		return -1;
	}
	out->kind = CF_OUTCOME_OK;
	out->elapsed_ms = cf_now_ms() - t0;
	return 0;
}
