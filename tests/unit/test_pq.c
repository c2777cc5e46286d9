/*
 * test_pq.c — unit tests for libpq loaded on first use (db/pq.c): before
 * loading every PQ name reaches a stand-in that acts as libpq does on NULL
 * objects and loads nothing; loading from several threads at once gives
 * every thread the same complete table; libpq's symbols stay out of the
 * program's global scope.  Runs in order: the first test must see libpq
 * not loaded yet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "db/pq.h"

/* Every entry of the table is set. */
static void
assert_complete(const cf_pq_api *api)
{
#define CHECK(name) assert_true(api->p_##name != NULL);
	CF_PQ_FUNCTIONS(CHECK)
#undef CHECK
}

static void
test_stand_ins(void **state)
{
	const cf_pq_api *before = cf_pq();
	char *msg = (char *)"untouched";
	char buf[64];

	assert_complete(before);
	assert_int_equal(PQstatus(NULL), CONNECTION_BAD);
	assert_int_equal(PQresultStatus(NULL), PGRES_FATAL_ERROR);
	assert_int_equal(PQtransactionStatus(NULL), PQTRANS_UNKNOWN);
	assert_int_equal(PQpingParams(NULL, NULL, 0), PQPING_NO_ATTEMPT);
	assert_null(PQconnectdb("dbname=x"));
	assert_null(PQconninfoParse("postgresql://u:pw@h/db", &msg));
	assert_null(msg);
	assert_null(PQgetvalue(NULL, 0, 0));
	assert_int_equal(PQgetisnull(NULL, 0, 0), 1);
	assert_int_equal(PQntuples(NULL), 0);
	assert_null(PQgetCancel(NULL));
	assert_int_equal(PQcancel(NULL, buf, sizeof(buf)), 0);
	assert_int_equal(PQlibVersion(), 0);
	assert_int_equal(PQsocket(NULL), -1);
	assert_string_equal(PQresultErrorMessage(NULL), "");
	PQclear(NULL);
	PQfinish(NULL);
	PQfreemem(NULL);
	PQconninfoFree(NULL);
	PQfreeCancel(NULL);
	/* none of that loaded libpq */
	assert_ptr_equal(cf_pq(), before);
	assert_null(dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD));
}

static void *
load_thread(void *arg)
{
	const cf_pq_api **seen = arg;

	if (cf_pq_load(NULL) == 0)
		*seen = cf_pq();
	return NULL;
}

static void
test_load_once_from_threads(void **state)
{
	const cf_pq_api *before = cf_pq();
	const cf_pq_api *seen[4] = {NULL};
	pthread_t t[4];
	cf_error *err = NULL;

	for (int i = 0; i < 4; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, load_thread, &seen[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(seen[0] != before);
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(seen[i], seen[0]);
	assert_int_equal(cf_pq_load(&err), 0);
	assert_null(err);
	assert_ptr_equal(cf_pq(), seen[0]);
	assert_complete(cf_pq());
	assert_true(PQlibVersion() >= 140000);
	/* libpq itself now: its own answer for a NULL connection */
	assert_int_equal(PQstatus(NULL), CONNECTION_BAD);
}

static void
test_symbols_stay_local(void **state)
{
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);

	/* loaded, but RTLD_LOCAL: the program's own lookups never see it */
	assert_non_null(h);
	dlclose(h);
	assert_null(dlsym(RTLD_DEFAULT, "PQexec"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stand_ins),
		cmocka_unit_test(test_load_once_from_threads),
		cmocka_unit_test(test_symbols_stay_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
