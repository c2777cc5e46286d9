/*
 * test_parallel.c — unit tests for cf_parallel_ordered() (parallel.c):
 * every item prepared once, consumed in order after its preparation,
 * released on the thread that prepared it, never more than the window
 * ahead; and cf_parallel_threads()'s CONFITURE_JOBS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

typedef struct item {
	atomic_int prepared;   /* times prepare() ran */
	pthread_t prepared_on; /* its thread */
	int consumed_at;       /* position among consume() calls, or -1 */
	atomic_int released;   /* times release() ran */
	bool released_on_preparer;
	bool ready_when_consumed; /* its preparation was over */
} item;

typedef struct run {
	item *items;
	size_t n, window;
	int next_consume;
	atomic_int in_flight; /* prepared, not yet consumed */
	atomic_int max_in_flight;
	atomic_int in_consume; /* consume() calls running */
	bool consume_overlap;
	pthread_t caller;
	bool consume_on_caller;
} run;

static void
spin(size_t i)
{
	/* uneven work, so that threads overtake each other */
	struct timespec ts = {0, (long)((i * 7919) % 5) * 20000};

	nanosleep(&ts, NULL);
}

static void
prepare(void *arg, size_t i)
{
	run *r = arg;
	int f = atomic_fetch_add(&r->in_flight, 1) + 1;
	int m = atomic_load(&r->max_in_flight);

	while (f > m && !atomic_compare_exchange_weak(&r->max_in_flight, &m, f))
		;
	spin(i);
	r->items[i].prepared_on = pthread_self();
	atomic_fetch_add(&r->items[i].prepared, 1);
}

static void
consume(void *arg, size_t i)
{
	run *r = arg;

	if (atomic_fetch_add(&r->in_consume, 1) != 0)
		r->consume_overlap = true;
	if (!pthread_equal(pthread_self(), r->caller))
		r->consume_on_caller = false;
	r->items[i].ready_when_consumed = atomic_load(&r->items[i].prepared) ==
					  1;
	r->items[i].consumed_at = r->next_consume++;
	atomic_fetch_sub(&r->in_flight, 1);
	atomic_fetch_sub(&r->in_consume, 1);
}

static void
release(void *arg, size_t i)
{
	run *r = arg;

	r->items[i].released_on_preparer = pthread_equal(
		pthread_self(), r->items[i].prepared_on);
	atomic_fetch_add(&r->items[i].released, 1);
}

static void
check_run(size_t n, size_t window, int threads)
{
	run r = {.n = n,
		 .window = window,
		 .caller = pthread_self(),
		 .consume_on_caller = true};

	r.items = calloc(n ? n : 1, sizeof(item));
	cf_parallel_ordered(n, window, threads, prepare, consume, release, &r);
	assert_int_equal(r.next_consume, (int)n);
	assert_false(r.consume_overlap);
	assert_true(r.consume_on_caller);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r.items[i].prepared, 1);
		assert_int_equal(r.items[i].released, 1);
		assert_int_equal(r.items[i].consumed_at, (int)i);
		assert_true(r.items[i].ready_when_consumed);
		assert_true(r.items[i].released_on_preparer);
	}
	/* the window bounds what is prepared and not yet consumed, plus
	 * the item each thread may have claimed meanwhile */
	if (window)
		assert_true(r.max_in_flight <= (int)window + threads);
	free(r.items);
}

static void
test_ordered(void **state)
{
	(void)state;
	for (int threads = 1; threads <= 4; threads++) {
		check_run(0, 0, threads);
		check_run(1, 0, threads);
		check_run(2, 1, threads);
		check_run(200, 0, threads);
		check_run(200, 1, threads);
		check_run(200, 4, threads);
	}
}

/* Without consume or release: every item prepared exactly once. */
static void
test_prepare_only(void **state)
{
	run r = {.n = 300};

	(void)state;
	r.items = calloc(r.n, sizeof(item));
	cf_parallel_ordered(r.n, 0, 4, prepare, NULL, NULL, &r);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.items[i].prepared, 1);
	free(r.items);
}

static void
test_threads_env(void **state)
{
	(void)state;
	setenv("CONFITURE_JOBS", "1", 1);
	assert_int_equal(cf_parallel_threads(), 1);
	setenv("CONFITURE_JOBS", "3", 1);
	assert_int_equal(cf_parallel_threads(), 3);
	setenv("CONFITURE_JOBS", "99", 1);
	assert_int_equal(cf_parallel_threads(), 4); /* capped */
	setenv("CONFITURE_JOBS", "two", 1);	    /* not a count: ignored */
	assert_true(cf_parallel_threads() >= 1);
	setenv("CONFITURE_JOBS", "0", 1);
	assert_true(cf_parallel_threads() >= 1);
	unsetenv("CONFITURE_JOBS");
	assert_true(cf_parallel_threads() >= 1 && cf_parallel_threads() <= 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordered),
		cmocka_unit_test(test_prepare_only),
		cmocka_unit_test(test_threads_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
