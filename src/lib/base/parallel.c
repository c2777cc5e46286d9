/*
 * parallel.c — ordered work on several threads.  Reading, splitting and
 * parsing migration files is independent per file and is most of a static
 * analysis; what follows it (lint rules that remember earlier files,
 * problems in file order) runs in order on the calling thread.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

/* Most threads used: the work is a few hundred milliseconds at most, and
 * each thread costs a malloc arena (resident memory). */
#define MAX_THREADS 4
#define THREAD_STACK (8 * 1024 * 1024)

/* See base/base.h. */
int
cf_parallel_threads(void)
{
	const char *env = getenv("CONFITURE_JOBS");
	long n = 0;

	if (env && *env) {
		char *end;

		n = strtol(env, &end, 10);
		if (*end != '\0' || n < 1)
			n = 0; /* not a count: as if unset */
	}
	if (n == 0) {
		cpu_set_t set;

		/* the CPUs this process may use (taskset, cgroup cpusets),
		 * not the machine's */
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			n = CPU_COUNT(&set);
		else
			n = sysconf(_SC_NPROCESSORS_ONLN);
	}
	if (n < 1)
		n = 1;
	return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

typedef struct ordered_run {
	pthread_mutex_t lock;
	pthread_cond_t done_cond; /* an item was prepared */
	pthread_cond_t room_cond; /* an item was consumed */
	size_t n, window;
	size_t chunk;	 /* items claimed at once */
	size_t next;	 /* the next item to prepare */
	size_t consumed; /* items consumed so far */
	bool *done;
	int *prepared_by;   /* 0: the calling thread, t: worker t */
	size_t *queue_next; /* per item: the next in its queue */
	size_t queue_head[MAX_THREADS], queue_tail[MAX_THREADS];
	size_t queue_len[MAX_THREADS];
	int waiting; /* workers waiting on room_cond */
	void (*prepare)(void *arg, size_t i);
	void (*release)(void *arg, size_t i);
	void *arg;
} ordered_run;

#define NONE ((size_t)-1)

/* Whether item run->next may be prepared now (lock held). */
static bool
may_claim(const ordered_run *run)
{
	return run->next < run->n &&
	       (run->window == 0 || run->next < run->consumed + run->window);
}

/*
 * Claims the next items (up to run->chunk, as the window allows) for
 * thread t and prepares them (lock held; released meanwhile).  Claiming a
 * few at a time keeps lock traffic low when files are small.
 */
static void
prepare_next(ordered_run *run, int t)
{
	size_t first = run->next, k = run->chunk;

	if (k > run->n - first)
		k = run->n - first;
	if (run->window && k > run->consumed + run->window - first)
		k = run->consumed + run->window - first;
	run->next += k;
	for (size_t i = first; i < first + k; i++)
		run->prepared_by[i] = t;
	pthread_mutex_unlock(&run->lock);
	for (size_t i = first; i < first + k; i++)
		run->prepare(run->arg, i);
	pthread_mutex_lock(&run->lock);
	for (size_t i = first; i < first + k; i++)
		run->done[i] = true;
	pthread_cond_signal(&run->done_cond);
}

/* Releases, on worker t, the items it prepared that were consumed (lock
 * held; released meanwhile). */
static void
release_queued(ordered_run *run, int t)
{
	size_t i = run->queue_head[t];

	run->queue_head[t] = run->queue_tail[t] = NONE;
	run->queue_len[t] = 0;
	pthread_mutex_unlock(&run->lock);
	while (i != NONE) {
		size_t next = run->queue_next[i];

		run->release(run->arg, i);
		i = next;
	}
	pthread_mutex_lock(&run->lock);
}

typedef struct worker_arg {
	ordered_run *run;
	int t;
} worker_arg;

static void *
worker(void *p)
{
	worker_arg *w = p;
	ordered_run *run = w->run;
	int t = w->t;

	pthread_mutex_lock(&run->lock);
	for (;;) {
		if (run->queue_head[t] != NONE)
			release_queued(run, t);
		else if (may_claim(run))
			prepare_next(run, t);
		else if (run->consumed == run->n)
			break; /* nothing left to prepare or release */
		else {
			run->waiting++;
			pthread_cond_wait(&run->room_cond, &run->lock);
			run->waiting--;
		}
	}
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

/* After consume(i): release i now, or queue it for its worker (lock
 * held). */
static void
hand_back(ordered_run *run, size_t i)
{
	int t = run->prepared_by[i];

	if (!run->release)
		return;
	if (t == 0) {
		pthread_mutex_unlock(&run->lock);
		run->release(run->arg, i);
		pthread_mutex_lock(&run->lock);
		return;
	}
	run->queue_next[i] = NONE;
	if (run->queue_tail[t] == NONE)
		run->queue_head[t] = i;
	else
		run->queue_next[run->queue_tail[t]] = i;
	run->queue_tail[t] = i;
	run->queue_len[t]++;
}

/* Releases are handed back by the batch: one wake-up per item would be a
 * context switch per file. */
#define RELEASE_BATCH 8

/* Whether a waiting worker has something to do now (lock held). */
static bool
worth_waking(const ordered_run *run, int started)
{
	if (run->waiting == 0)
		return false;
	if (run->consumed == run->n)
		return true;
	/* room for half a window at least: waking a worker for each item
	 * consumed would be a context switch per file */
	if (may_claim(run) &&
	    (run->window < 2 ||
	     run->consumed + run->window - run->next >= run->window / 2))
		return true;
	for (int t = 1; t <= started; t++)
		if (run->queue_len[t] >= RELEASE_BATCH)
			return true;
	return false;
}

/* See base/base.h. */
void
cf_parallel_ordered(size_t n, size_t window, int threads,
		    void (*prepare)(void *arg, size_t i),
		    void (*consume)(void *arg, size_t i),
		    void (*release)(void *arg, size_t i), void *arg)
{
	ordered_run run = {.n = n,
			   .window = window,
			   .prepare = prepare,
			   .release = release,
			   .arg = arg};
	pthread_t tids[MAX_THREADS];
	worker_arg wargs[MAX_THREADS];
	pthread_attr_t attr;
	sigset_t block, saved;
	int started = 0;

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads <= 1 || n < 2) {
		for (size_t i = 0; i < n; i++) {
			prepare(arg, i);
			if (consume)
				consume(arg, i);
			if (release)
				release(arg, i);
		}
		return;
	}
	/* a few items per claim, yet many claims per thread so that the
	 * threads finish together */
	run.chunk = n / ((size_t)threads * 32);
	if (run.window && run.chunk > run.window / 4)
		run.chunk = run.window / 4;
	if (run.chunk > 8)
		run.chunk = 8;
	if (run.chunk < 1)
		run.chunk = 1;
	run.done = cf_calloc(n, sizeof(bool));
	run.prepared_by = cf_calloc(n, sizeof(int));
	run.queue_next = cf_calloc(n, sizeof(size_t));
	for (int t = 0; t < MAX_THREADS; t++)
		run.queue_head[t] = run.queue_tail[t] = NONE;
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.done_cond, NULL);
	pthread_cond_init(&run.room_cond, NULL);
	pthread_attr_init(&attr);
	/* the main thread's usual stack: parse trees are walked
	 * recursively, as deep as the parser allows */
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	/* workers start with every signal blocked: SIGINT and SIGTERM stay
	 * the calling thread's, whose handlers and waits expect them */
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	/* a thread that cannot start leaves its share to the others: the
	 * calling thread alone still does everything */
	for (int t = 1; t < threads && (size_t)t < n; t++) {
		wargs[started] = (worker_arg){&run, started + 1};
		if (pthread_create(&tids[started], &attr, worker,
				   &wargs[started]) == 0)
			started++;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_mutex_lock(&run.lock);
	for (size_t c = 0; c < n; c++) {
		/* help rather than wait: prepare c (not claimed yet) or an
		 * item ahead of it */
		while (!run.done[c]) {
			if (may_claim(&run))
				prepare_next(&run, 0);
			else
				pthread_cond_wait(&run.done_cond, &run.lock);
		}
		if (consume) {
			pthread_mutex_unlock(&run.lock);
			consume(arg, c);
			pthread_mutex_lock(&run.lock);
		}
		run.consumed++;
		/* what a worker allocated, the worker frees: glibc's free()
		 * of another thread's memory waits on that thread's arena */
		hand_back(&run, c);
		if (worth_waking(&run, started))
			pthread_cond_broadcast(&run.room_cond);
	}
	pthread_mutex_unlock(&run.lock);
	for (int t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	pthread_cond_destroy(&run.room_cond);
	pthread_cond_destroy(&run.done_cond);
	pthread_mutex_destroy(&run.lock);
	free(run.queue_next);
	free(run.prepared_by);
	free(run.done);
}
