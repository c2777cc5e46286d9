/*
 * db.c — thin helpers over libpq: connecting without leaking secrets,
 * running commands, and turning server errors into cf_error values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "db/db.h"

/* fallback_application_name of every connection; see
 * cf_set_application_name(). */
static char application_name[64] = "confiture";

void
cf_set_application_name(const char *name)
{
	snprintf(application_name, sizeof(application_name), "%s",
		 name && *name ? name : "confiture");
}

/* What cf_cancel() acts on; written by the main flow, read by handlers. */
static PGcancel *volatile cancel_handle;
static volatile sig_atomic_t cancel_flag;

void
cf_cancel_register(PGconn *conn)
{
	PGcancel *old = cancel_handle;

	cancel_handle = conn ? PQgetCancel(conn) : NULL;
	if (old)
		PQfreeCancel(old);
}

bool
cf_cancel_requested(void)
{
	return cancel_flag != 0;
}

void
cf_cancel(void)
{
	char buf[256];
	PGcancel *c = cancel_handle;

	cancel_flag = 1;
	/* PQcancel is documented as safe to call from a signal handler; a
	 * handle exists only once a connection did, so libpq is loaded, and
	 * the PQ names only read the table (db/pq.h): nothing here loads */
	if (c)
		PQcancel(c, buf, sizeof(buf));
}

/* libpq's messages end in a newline; ours are single lines. */
static char *
chomp_dup(const char *s)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	return cf_strndup(s, n);
}

/*
 * Removes any occurrence of the password from a libpq message: libpq does not
 * echo passwords today, but a message about an unparsable URL can quote it.
 */
static void
scrub(char *msg, const char *password)
{
	char *p;
	size_t n;

	if (!msg || !password || !*password)
		return;
	n = strlen(password);
	while ((p = strstr(msg, password)) != NULL) {
		memmove(p + 3, p + n, strlen(p + n) + 1);
		memcpy(p, "***", 3);
	}
}

int
cf_db_connect(const char *conninfo, const char *options, PGconn **out,
	      cf_error **err)
{
	return cf_db_connect_db(conninfo, NULL, options, out, err);
}

int
cf_db_connect_db(const char *conninfo, const char *dbname, const char *options,
		 PGconn **out, cf_error **err)
{
	const char *keys[5];
	const char *vals[5];
	int k = 0;
	PGconn *conn;
	char *errmsg = NULL;
	PQconninfoOption *parsed;
	const char *password = NULL;
	char *pw_copy = NULL;

	*out = NULL;
	if (cf_pq_load(err) < 0)
		return -1;
	parsed = PQconninfoParse(conninfo, &errmsg);
	if (!parsed) {
		char *redacted = cf_redact_url(conninfo);
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "invalid connection string '%s'",
					   redacted);
		char *raw = chomp_dup(errmsg);
		/* libpq quotes the string, or the token, it could not parse */
		char *m = cf_redact_message(raw, conninfo);

		free(raw);
		free(redacted);
		cf_error_set_detail(e, "%s", m ? m : "unparsable");
		cf_error_set_hint(
			e,
			"use a URL such as postgresql://user@host:5432/dbname");
		free(m);
		PQfreemem(errmsg);
		return cf_fail(err, e);
	}
	for (PQconninfoOption *o = parsed; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val)
			password = o->val;
	pw_copy = cf_strdup(password);
	PQconninfoFree(parsed);

	keys[k] = "dbname";
	vals[k++] = conninfo;
	keys[k] = "fallback_application_name";
	vals[k++] = application_name;
	if (options && *options) {
		keys[k] = "options";
		vals[k++] = options;
	}
	/* libpq: a later "dbname" overrides the one the URL expanded to */
	if (dbname) {
		keys[k] = "dbname";
		vals[k++] = dbname;
	}
	keys[k] = NULL;
	vals[k] = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char *redacted = cf_redact_url(conninfo);
		char *raw = chomp_dup(PQerrorMessage(conn));
		/* a server quotes a dbname, which may be a whole URL */
		char *m = cf_redact_message(raw, conninfo);
		cf_error *e;

		free(raw);
		scrub(m, pw_copy);
		e = cf_error_new(CF_ERR_CONNECT, "cannot connect to '%s'",
				 redacted);
		cf_error_set_detail(e, "%s", m ? m : "");
		cf_error_set_hint(
			e,
			"check database_url in the environment file, --database-url or CONFITURE_DATABASE_URL; libpq's PG* variables and ~/.pgpass fill in what the URL leaves out");
		free(redacted);
		free(m);
		free(pw_copy);
		PQfinish(conn);
		return cf_fail(err, e);
	}
	free(pw_copy);
	*out = conn;
	return 0;
}

/*
 * An error libpq made up itself (no server fields), typically a lost
 * connection.  When the server said why before closing (FATAL:
 * terminating connection due to administrator command), only the
 * connection's message has it: that line becomes the message and libpq's
 * own lines ("server closed the connection unexpectedly ...") the detail,
 * so the message stays one line.
 */
static cf_error *
libpq_error(PGconn *conn, const PGresult *res, cf_error_kind kind)
{
	bool bad = PQstatus(conn) == CONNECTION_BAD;
	const char *raw = bad || !res ? PQerrorMessage(conn) :
					PQresultErrorMessage(res);
	const char *nl;
	char *first, *p;
	cf_strbuf rest = CF_STRBUF_INIT;
	cf_error *e;

	if ((!raw || !*raw) && res)
		raw = PQresultErrorMessage(res);
	if (!raw || !*raw)
		raw = bad ? "lost connection to the server" :
			    "unknown server error";
	nl = strchr(raw, '\n');
	first = nl ? cf_strndup(raw, (size_t)(nl - raw)) : chomp_dup(raw);
	p = first;
	if (strncmp(p, "FATAL:  ", 8) == 0 || strncmp(p, "ERROR:  ", 8) == 0)
		p += 8;
	e = cf_error_new(bad ? CF_ERR_CONNECT : kind, "%s", p);
	for (const char *q = nl; q && *q;) {
		while (*q == '\n' || *q == '\t' || *q == ' ')
			q++;
		nl = strchr(q, '\n');
		if (*q) {
			if (rest.len)
				cf_strbuf_addch(&rest, ' ');
			cf_strbuf_add(&rest, q,
				      nl ? (size_t)(nl - q) : strlen(q));
		}
		q = nl;
	}
	if (rest.len)
		cf_error_set_detail(e, "%s", rest.buf);
	cf_strbuf_release(&rest);
	free(first);
	return e;
}

bool
cf_db_connection_lost(PGconn *conn, const char *sqlstate)
{
	if (conn && PQstatus(conn) == CONNECTION_BAD)
		return true;
	if (!sqlstate)
		return false;
	/* 08xxx connection exception; 57P01 admin shutdown (also
	 * pg_terminate_backend), 57P02 crash shutdown, 57P03 cannot connect
	 * now, 57P04 database dropped */
	return strncmp(sqlstate, "08", 2) == 0 ||
	       (strncmp(sqlstate, "57P0", 4) == 0 && sqlstate[4] >= '1' &&
		sqlstate[4] <= '4');
}

cf_error *
cf_db_error(PGconn *conn, const PGresult *res, cf_error_kind kind)
{
	cf_error *e;
	const char *f;

	if (!res)
		return libpq_error(conn, NULL, kind);
	f = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (!f)
		return libpq_error(conn, res, kind);
	e = cf_error_new(kind, "%s", f);
	if ((f = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL) {
		strncpy(e->sqlstate, f, 5);
		e->sqlstate[5] = '\0';
	}
	/* The session is gone (terminated, server shut down or crashed, the
	 * network): a connection error, whatever statement was running. */
	if (cf_db_connection_lost(conn, e->sqlstate))
		e->kind = CF_ERR_CONNECT;
	e->detail = chomp_dup(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	e->hint = chomp_dup(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	e->context = chomp_dup(PQresultErrorField(res, PG_DIAG_CONTEXT));
	return e;
}

PGresult *
cf_db_query(PGconn *conn, const char *sql, int n, const char *const *values,
	    cf_error **err)
{
	PGresult *res;
	ExecStatusType st;

	if (n > 0)
		res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	else
		res = PQexec(conn, sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		cf_error *e = cf_db_error(conn, res, CF_ERR_INTERNAL);

		e->statement = cf_strdup(sql);
		PQclear(res);
		cf_fail(err, e);
		return NULL;
	}
	return res;
}

int
cf_db_exec_params(PGconn *conn, const char *sql, int n,
		  const char *const *values, cf_error **err)
{
	PGresult *res = cf_db_query(conn, sql, n, values, err);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int
cf_db_exec(PGconn *conn, const char *sql, cf_error **err)
{
	return cf_db_exec_params(conn, sql, 0, NULL, err);
}

char *
cf_db_name(PGconn *conn)
{
	return cf_strdup(PQdb(conn));
}
