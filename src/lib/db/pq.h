/*
 * db/pq.h — libpq, loaded on first use.  Commands that never connect
 * (static preflight, lint) must not pay for loading libpq and the twenty
 * libraries it pulls in (TLS, GSSAPI, LDAP), so libpq.so.5 is not linked:
 * cf_pq_load() dlopen()s it the first time a connection is wanted.
 *
 * Every library file that calls libpq includes this header instead of
 * <libpq-fe.h>: it keeps libpq's types and maps each PQ name the library
 * uses to the loaded table, so call sites read as plain libpq.  Nothing
 * here defines a function named PQ*: a program that links libconfiture
 * and libpq itself keeps its own.  Not installed.
 */
#ifndef CF_DB_PQ_H
#define CF_DB_PQ_H

#include <stdatomic.h>

#include <libpq-fe.h>

#include "base/base.h"

/* The libpq functions the library calls, one X(name) each. */
#define CF_PQ_FUNCTIONS(X)      \
	X(PQbackendPID)         \
	X(PQcancel)             \
	X(PQclear)              \
	X(PQconnectdb)          \
	X(PQconnectdbParams)    \
	X(PQconninfoFree)       \
	X(PQconninfoParse)      \
	X(PQdb)                 \
	X(PQenterPipelineMode)  \
	X(PQerrorMessage)       \
	X(PQexec)               \
	X(PQexecParams)         \
	X(PQexitPipelineMode)   \
	X(PQfinish)             \
	X(PQflush)              \
	X(PQfreeCancel)         \
	X(PQfreemem)            \
	X(PQgetCancel)          \
	X(PQgetCopyData)        \
	X(PQgetResult)          \
	X(PQgetisnull)          \
	X(PQgetvalue)           \
	X(PQhost)               \
	X(PQlibVersion)         \
	X(PQnfields)            \
	X(PQntuples)            \
	X(PQparameterStatus)    \
	X(PQpingParams)         \
	X(PQpipelineSync)       \
	X(PQport)               \
	X(PQputCopyData)        \
	X(PQputCopyEnd)         \
	X(PQresultErrorField)   \
	X(PQresultErrorMessage) \
	X(PQresultStatus)       \
	X(PQsendFlushRequest)   \
	X(PQsendQuery)          \
	X(PQsendQueryParams)    \
	X(PQserverVersion)      \
	X(PQsetNoticeProcessor) \
	X(PQsetSingleRowMode)   \
	X(PQsocket)             \
	X(PQstatus)             \
	X(PQtransactionStatus)  \
	X(PQuser)

/* One pointer per function, typed from libpq-fe.h's own prototype. */
#define CF_PQ_MEMBER(name) __typeof__(name) *p_##name;
typedef struct cf_pq_api {
	CF_PQ_FUNCTIONS(CF_PQ_MEMBER)
} cf_pq_api;
#undef CF_PQ_MEMBER

/* pq.c */

/* The table in use; see cf_pq().  Only pq.c writes it. */
extern const cf_pq_api *_Atomic cf_pq_table;

/*
 * Loads libpq.so.5 once for the process (thread-safe) and makes cf_pq()
 * return its functions.  0 when loaded (now or before); -1 when it cannot
 * be, with a CF_ERR_CONNECT error (code "libpq-missing") naming the file
 * and dlerror()'s reason, and a hint to install the client library.  Every
 * path that opens a connection or parses a conninfo calls it first.  err
 * may be NULL.
 */
int cf_pq_load(cf_error **err);

/*
 * The functions behind the PQ names below: libpq's once cf_pq_load()
 * succeeded, else stand-ins that act as libpq does when handed NULL
 * objects (frees do nothing, statuses say bad, lookups give NULL), which is
 * all a caller can hold before libpq is loaded.  Never loads anything, so
 * calls reached without a connection (a PQclear(NULL) on a cleanup path)
 * cost nothing; a plain atomic read, safe in a signal handler.
 */
static inline const cf_pq_api *
cf_pq(void)
{
	return atomic_load_explicit(&cf_pq_table, memory_order_acquire);
}

#ifndef CF_PQ_NO_NAMES
#define PQbackendPID (cf_pq()->p_PQbackendPID)
#define PQcancel (cf_pq()->p_PQcancel)
#define PQclear (cf_pq()->p_PQclear)
#define PQconnectdb (cf_pq()->p_PQconnectdb)
#define PQconnectdbParams (cf_pq()->p_PQconnectdbParams)
#define PQconninfoFree (cf_pq()->p_PQconninfoFree)
#define PQconninfoParse (cf_pq()->p_PQconninfoParse)
#define PQdb (cf_pq()->p_PQdb)
#define PQenterPipelineMode (cf_pq()->p_PQenterPipelineMode)
#define PQerrorMessage (cf_pq()->p_PQerrorMessage)
#define PQexec (cf_pq()->p_PQexec)
#define PQexecParams (cf_pq()->p_PQexecParams)
#define PQexitPipelineMode (cf_pq()->p_PQexitPipelineMode)
#define PQfinish (cf_pq()->p_PQfinish)
#define PQflush (cf_pq()->p_PQflush)
#define PQfreeCancel (cf_pq()->p_PQfreeCancel)
#define PQfreemem (cf_pq()->p_PQfreemem)
#define PQgetCancel (cf_pq()->p_PQgetCancel)
#define PQgetCopyData (cf_pq()->p_PQgetCopyData)
#define PQgetResult (cf_pq()->p_PQgetResult)
#define PQgetisnull (cf_pq()->p_PQgetisnull)
#define PQgetvalue (cf_pq()->p_PQgetvalue)
#define PQhost (cf_pq()->p_PQhost)
#define PQlibVersion (cf_pq()->p_PQlibVersion)
#define PQnfields (cf_pq()->p_PQnfields)
#define PQntuples (cf_pq()->p_PQntuples)
#define PQparameterStatus (cf_pq()->p_PQparameterStatus)
#define PQpingParams (cf_pq()->p_PQpingParams)
#define PQpipelineSync (cf_pq()->p_PQpipelineSync)
#define PQport (cf_pq()->p_PQport)
#define PQputCopyData (cf_pq()->p_PQputCopyData)
#define PQputCopyEnd (cf_pq()->p_PQputCopyEnd)
#define PQresultErrorField (cf_pq()->p_PQresultErrorField)
#define PQresultErrorMessage (cf_pq()->p_PQresultErrorMessage)
#define PQresultStatus (cf_pq()->p_PQresultStatus)
#define PQsendFlushRequest (cf_pq()->p_PQsendFlushRequest)
#define PQsendQuery (cf_pq()->p_PQsendQuery)
#define PQsendQueryParams (cf_pq()->p_PQsendQueryParams)
#define PQserverVersion (cf_pq()->p_PQserverVersion)
#define PQsetNoticeProcessor (cf_pq()->p_PQsetNoticeProcessor)
#define PQsetSingleRowMode (cf_pq()->p_PQsetSingleRowMode)
#define PQsocket (cf_pq()->p_PQsocket)
#define PQstatus (cf_pq()->p_PQstatus)
#define PQtransactionStatus (cf_pq()->p_PQtransactionStatus)
#define PQuser (cf_pq()->p_PQuser)
#endif

#endif /* CF_DB_PQ_H */
