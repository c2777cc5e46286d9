/*
 * pq.c — loads libpq.so.5 on first use and fills the table behind the PQ
 * names of db/pq.h.  Until then (or when it cannot be loaded) the table
 * holds stand-ins that behave as libpq does with NULL objects.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* this file fills the table: libpq's own names, not the mapped ones */
#define CF_PQ_NO_NAMES
#include "db/pq.h"

/* The soname of every libpq since 8.x; the versioned name, so that a
 * runtime without the -dev package's libpq.so symlink finds it. */
#define LIBPQ_SONAME "libpq.so.5"

/*
 * Stand-ins: what libpq returns for a NULL connection, result or cancel
 * handle.  No other object exists before libpq is loaded.
 */
static int
no_cancel(PGcancel *cancel, char *errbuf, int errbufsize)
{
	if (errbuf && errbufsize > 0)
		snprintf(errbuf, (size_t)errbufsize, "libpq is not loaded");
	return 0;
}

static void
no_clear(PGresult *res)
{
}

static PGconn *
no_connectdb(const char *conninfo)
{
	return NULL;
}

static PGconn *
no_connectdbParams(const char *const *keywords, const char *const *values,
		   int expand_dbname)
{
	return NULL;
}

static void
no_conninfoFree(PQconninfoOption *connOptions)
{
}

static PQconninfoOption *
no_conninfoParse(const char *conninfo, char **errmsg)
{
	if (errmsg)
		*errmsg = NULL;
	return NULL;
}

static char *
no_conn_string(const PGconn *conn)
{
	return NULL;
}

static int
no_conn_int(PGconn *conn)
{
	return 0;
}

static int
no_conn_fail(PGconn *conn)
{
	return -1;
}

static char *
no_errorMessage(const PGconn *conn)
{
	return "libpq is not loaded\n";
}

static PGresult *
no_exec(PGconn *conn, const char *query)
{
	return NULL;
}

static PGresult *
no_execParams(PGconn *conn, const char *command, int nParams,
	      const Oid *paramTypes, const char *const *paramValues,
	      const int *paramLengths, const int *paramFormats,
	      int resultFormat)
{
	return NULL;
}

static void
no_finish(PGconn *conn)
{
}

static void
no_freeCancel(PGcancel *cancel)
{
}

static void
no_freemem(void *ptr)
{
}

static PGcancel *
no_getCancel(PGconn *conn)
{
	return NULL;
}

static int
no_getCopyData(PGconn *conn, char **buffer, int async)
{
	if (buffer)
		*buffer = NULL;
	return -2;
}

static PGresult *
no_getResult(PGconn *conn)
{
	return NULL;
}

static int
no_getisnull(const PGresult *res, int tup_num, int field_num)
{
	return 1;
}

static char *
no_getvalue(const PGresult *res, int tup_num, int field_num)
{
	return NULL;
}

static int
no_libVersion(void)
{
	return 0;
}

static int
no_result_int(const PGresult *res)
{
	return 0;
}

static const char *
no_parameterStatus(const PGconn *conn, const char *paramName)
{
	return NULL;
}

static PGPing
no_pingParams(const char *const *keywords, const char *const *values,
	      int expand_dbname)
{
	return PQPING_NO_ATTEMPT;
}

static int
no_putCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	return -1;
}

static int
no_putCopyEnd(PGconn *conn, const char *errormsg)
{
	return -1;
}

static char *
no_resultErrorField(const PGresult *res, int fieldcode)
{
	return NULL;
}

static char *
no_resultErrorMessage(const PGresult *res)
{
	return "";
}

static ExecStatusType
no_resultStatus(const PGresult *res)
{
	return PGRES_FATAL_ERROR;
}

static int
no_sendQuery(PGconn *conn, const char *query)
{
	return 0;
}

static int
no_sendQueryParams(PGconn *conn, const char *command, int nParams,
		   const Oid *paramTypes, const char *const *paramValues,
		   const int *paramLengths, const int *paramFormats,
		   int resultFormat)
{
	return 0;
}

static int
no_conn_const_int(const PGconn *conn)
{
	return 0;
}

static PQnoticeProcessor
no_setNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
	return NULL;
}

static int
no_socket(const PGconn *conn)
{
	return -1;
}

static ConnStatusType
no_status(const PGconn *conn)
{
	return CONNECTION_BAD;
}

static PGTransactionStatusType
no_transactionStatus(const PGconn *conn)
{
	return PQTRANS_UNKNOWN;
}

static const cf_pq_api stand_ins = {
	.p_PQbackendPID = no_conn_const_int,
	.p_PQcancel = no_cancel,
	.p_PQclear = no_clear,
	.p_PQconnectdb = no_connectdb,
	.p_PQconnectdbParams = no_connectdbParams,
	.p_PQconninfoFree = no_conninfoFree,
	.p_PQconninfoParse = no_conninfoParse,
	.p_PQdb = no_conn_string,
	.p_PQenterPipelineMode = no_conn_int,
	.p_PQerrorMessage = no_errorMessage,
	.p_PQexec = no_exec,
	.p_PQexecParams = no_execParams,
	.p_PQexitPipelineMode = no_conn_int,
	.p_PQfinish = no_finish,
	.p_PQflush = no_conn_fail,
	.p_PQfreeCancel = no_freeCancel,
	.p_PQfreemem = no_freemem,
	.p_PQgetCancel = no_getCancel,
	.p_PQgetCopyData = no_getCopyData,
	.p_PQgetResult = no_getResult,
	.p_PQgetisnull = no_getisnull,
	.p_PQgetvalue = no_getvalue,
	.p_PQhost = no_conn_string,
	.p_PQlibVersion = no_libVersion,
	.p_PQnfields = no_result_int,
	.p_PQntuples = no_result_int,
	.p_PQparameterStatus = no_parameterStatus,
	.p_PQpingParams = no_pingParams,
	.p_PQpipelineSync = no_conn_int,
	.p_PQport = no_conn_string,
	.p_PQputCopyData = no_putCopyData,
	.p_PQputCopyEnd = no_putCopyEnd,
	.p_PQresultErrorField = no_resultErrorField,
	.p_PQresultErrorMessage = no_resultErrorMessage,
	.p_PQresultStatus = no_resultStatus,
	.p_PQsendFlushRequest = no_conn_int,
	.p_PQsendQuery = no_sendQuery,
	.p_PQsendQueryParams = no_sendQueryParams,
	.p_PQserverVersion = no_conn_const_int,
	.p_PQsetNoticeProcessor = no_setNoticeProcessor,
	.p_PQsetSingleRowMode = no_conn_int,
	.p_PQsocket = no_socket,
	.p_PQstatus = no_status,
	.p_PQtransactionStatus = no_transactionStatus,
	.p_PQuser = no_conn_string,
};

const cf_pq_api *_Atomic cf_pq_table = &stand_ins;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cf_pq_api loaded;
/* Why loading failed (dlerror()'s text), "" when it did not. */
static char load_error[512];

static void
load(void)
{
	void *h = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (!h)
		goto fail;
#define CF_PQ_RESOLVE(name)                                  \
	if (!(*(void **)&loaded.p_##name = dlsym(h, #name))) \
		goto fail;
	CF_PQ_FUNCTIONS(CF_PQ_RESOLVE)
#undef CF_PQ_RESOLVE
	atomic_store_explicit(&cf_pq_table, &loaded, memory_order_release);
	return;

fail:
	why = dlerror();
	snprintf(load_error, sizeof(load_error), "%s",
		 why && *why ? why : "unknown reason");
	if (h)
		dlclose(h);
}

int
cf_pq_load(cf_error **err)
{
	cf_error *e;

	pthread_once(&load_once, load);
	if (!load_error[0])
		return 0;
	e = cf_error_new(CF_ERR_CONNECT, "cannot load libpq (%s): %s",
			 LIBPQ_SONAME, load_error);
	cf_error_set_code(e, "libpq-missing");
	cf_error_set_hint(
		e,
		"install the PostgreSQL client library, libpq 14 or later (Debian and Ubuntu: libpq5; Fedora and RHEL: libpq)");
	return cf_fail(err, e);
}
