/*
 * lockwait.c — safe lock waits in `migrate up` and `down`.
 *
 * Each transactional migration runs under a lock_timeout (the engine sets
 * it with SET LOCAL as the transaction begins: the migration's own SET
 * wins, and what runs between migrations waits as before).  A try
 * that gives up waiting for a lock (55P03) was rolled back whole by the
 * engine: nothing of it is committed, so it is tried again after a backoff.
 * A non-transactional migration is not: statements before the failing one
 * were committed and may not be safe to run twice.
 *
 * Who a statement waits for can only be asked while it waits: once the
 * timeout fires, pg_blocking_pids() of our backend is empty.  So a monitor
 * thread, with a connection of its own (libpq: one PGconn per thread),
 * polls pg_blocking_pids() of the migrating backend during each try, and
 * only when pg_stat_activity says that backend waits for a lock.  The main
 * thread keeps the last blockers seen during the try; progress callbacks
 * are only ever called from the main thread.  The engine's send path is
 * untouched.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replay/lockwait.h"

/* Backoff before try n+1: RETRY_FIRST_MS doubling per try up to
 * RETRY_MAX_MS, each drawn from [d/2, d] so that runs do not retry in
 * step. */
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 30000
/*
 * Monitor looks: POLL_MIN_MS after a try or a statement starts (a lock
 * wait usually starts with its statement, and a migration's own
 * lock_timeout may be short), then at intervals doubling up to a quarter
 * of our lock_timeout (several looks during a wait that ends in a
 * timeout), at most POLL_MAX_MS.
 */
#define POLL_MIN_MS 20
#define POLL_MAX_MS 500
/* The monitor's own statements must never hang it. */
#define MONITOR_OPTIONS "-c statement_timeout=10000 -c lock_timeout=1000"

/* What one poll saw: the lock waited for and the sessions in the way. */
typedef struct sample {
	char *lock;
	cf_lock_holder *blockers;
	size_t n;
} sample;

struct cf_lockwait {
	char *conninfo;
	PGconn *conn; /* the migrating session (main thread only) */
	int lock_timeout_ms;
	int retries;
	int poll_max_ms;
	uint32_t jitter;
	bool started; /* the monitor was tried (once per run) */
	bool running; /* its thread runs */
	pthread_t thread;
	PGconn *mon;  /* the monitor's connection (its thread only) */
	char pid[16]; /* backend pid of conn */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	bool stop;	  /* the thread should end */
	bool active;	  /* a try runs: poll */
	unsigned attempt; /* bumped per try; a poll of an older one is void */
	sample last;	  /* blockers last seen during this try */
	char *unseen;	  /* why the monitor cannot look, or NULL */
};

static const char blockers_sql[] =
	"SELECT x.pid, b.application_name,"
	" coalesce(host(b.client_addr),"
	"  CASE WHEN b.client_port = -1 THEN 'local socket' END),"
	" to_char(b.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'),"
	" b.state,"
	" to_char(b.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'),"
	" b.query,"
	/* pg_locks and pg_blocking_pids() take the lock manager's locks:
	 * ask them only while our backend waits for a lock */
	" CASE WHEN w.wait_event_type = 'Lock' THEN"
	" (SELECT l.mode || ' on ' || CASE"
	"   WHEN l.locktype IN ('relation', 'tuple') THEN"
	"    CASE l.locktype WHEN 'tuple' THEN 'a row of ' ELSE '' END ||"
	"    coalesce((SELECT format('relation %I.%I', n.nspname, c.relname)"
	"      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"      WHERE c.oid = l.relation), 'relation ' || l.relation)"
	"   WHEN l.locktype = 'transactionid' THEN"
	"    'transaction ' || l.transactionid"
	"   ELSE l.locktype END"
	"  FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted LIMIT 1)"
	" END, w.query_start::text"
	" FROM pg_stat_activity w"
	" LEFT JOIN LATERAL (SELECT DISTINCT unnest(CASE"
	"   WHEN w.wait_event_type = 'Lock' THEN pg_blocking_pids(w.pid) END)"
	"   AS pid) x ON true"
	" LEFT JOIN pg_stat_activity b ON b.pid = x.pid"
	" WHERE w.pid = $1::int"
	" ORDER BY x.pid";

static char *
value_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ?
		       NULL :
		       cf_strdup(PQgetvalue(res, row, col));
}

static void
sample_release(sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		cf_lock_holder_release(&s->blockers[i]);
	free(s->blockers);
	free(s->lock);
	memset(s, 0, sizeof(*s));
}

/*
 * One look at the migrating backend: 1 when it waits for a lock that
 * someone holds (*out filled), 0 when not, -1 on error (*why, caller
 * frees).  *started (caller frees) is when its statement started.
 * Monitor thread only.
 */
static int
poll_blockers(cf_lockwait *lw, sample *out, char **started, char **why)
{
	const char *params[1] = {lw->pid};
	PGresult *res = PQexecParams(lw->mon, blockers_sql, 1, NULL, params,
				     NULL, NULL, 0);
	int n;

	memset(out, 0, sizeof(*out));
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorMessage(res);

		if (!m || !*m)
			m = PQerrorMessage(lw->mon);
		*why = cf_asprintf("the lock monitor stopped: %.*s",
				   (int)strcspn(m, "\n"), m);
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	*started = n ? value_or_null(res, 0, 8) : NULL;
	if (n == 0 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return 0;
	}
	out->lock = value_or_null(res, 0, 7);
	out->blockers = cf_calloc((size_t)n, sizeof(cf_lock_holder));
	out->n = (size_t)n;
	for (int i = 0; i < n; i++) {
		cf_lock_holder *h = &out->blockers[i];

		h->pid = atol(PQgetvalue(res, i, 0));
		h->application_name = value_or_null(res, i, 1);
		h->client = value_or_null(res, i, 2);
		h->backend_start = value_or_null(res, i, 3);
		h->state = value_or_null(res, i, 4);
		h->query_start = value_or_null(res, i, 5);
		h->query = cf_db_safe_query(value_or_null(res, i, 6));
	}
	PQclear(res);
	return 1;
}

static void
deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits (mu held) until ms passed, or the try changed or ended. */
static void
monitor_pause(cf_lockwait *lw, unsigned attempt, int ms)
{
	struct timespec ts;

	deadline_after(&ts, ms);
	while (!lw->stop && lw->active && attempt == lw->attempt &&
	       pthread_cond_timedwait(&lw->cv, &lw->mu, &ts) == 0)
		;
}

/*
 * The monitor: while a try runs, looks (see POLL_MIN_MS), the first time
 * POLL_MIN_MS after the try started, so that a migration that takes no
 * longer costs no look; keeps what it saw when the backend waited.
 */
static void *
monitor_main(void *arg)
{
	cf_lockwait *lw = arg;
	unsigned seen_attempt = 0;
	char *seen_start = NULL;
	int interval = POLL_MIN_MS;

	pthread_mutex_lock(&lw->mu);
	while (!lw->stop) {
		unsigned attempt = lw->attempt;
		sample s;
		char *why = NULL, *started = NULL;
		int rc;

		if (!lw->active) {
			pthread_cond_wait(&lw->cv, &lw->mu);
			continue;
		}
		if (attempt != seen_attempt) {
			seen_attempt = attempt;
			free(seen_start);
			seen_start = NULL;
			interval = POLL_MIN_MS;
			monitor_pause(lw, attempt, POLL_MIN_MS);
			continue;
		}
		pthread_mutex_unlock(&lw->mu);
		rc = poll_blockers(lw, &s, &started, &why);
		/* a new statement: look again soon; the same one: less often */
		if (!started || !seen_start || strcmp(started, seen_start) != 0)
			interval = POLL_MIN_MS;
		else if ((interval *= 2) > lw->poll_max_ms)
			interval = lw->poll_max_ms;
		free(seen_start);
		seen_start = started;
		pthread_mutex_lock(&lw->mu);
		if (rc < 0) {
			lw->unseen = why;
			break;
		}
		if (rc > 0 && attempt == lw->attempt) {
			sample_release(&lw->last);
			lw->last = s;
		} else {
			sample_release(&s);
		}
		monitor_pause(lw, attempt, interval);
	}
	pthread_mutex_unlock(&lw->mu);
	free(seen_start);
	return NULL;
}

cf_lockwait *
cf_lockwait_new(const char *conninfo, PGconn *conn, int lock_timeout_ms,
		int retries)
{
	cf_lockwait *lw = cf_new(cf_lockwait);
	pthread_condattr_t ca;

	lw->conninfo = cf_strdup(conninfo);
	lw->conn = conn;
	lw->lock_timeout_ms = lock_timeout_ms > 0 ? lock_timeout_ms : 0;
	lw->retries = retries < 0		    ? 0 :
		      retries > CF_MAX_LOCK_RETRIES ? CF_MAX_LOCK_RETRIES :
						      retries;
	lw->poll_max_ms = lw->lock_timeout_ms ? lw->lock_timeout_ms / 4 :
						POLL_MAX_MS;
	if (lw->poll_max_ms < POLL_MIN_MS)
		lw->poll_max_ms = POLL_MIN_MS;
	if (lw->poll_max_ms > POLL_MAX_MS)
		lw->poll_max_ms = POLL_MAX_MS;
	lw->jitter = (uint32_t)getpid() * 2654435761u ^ (uint32_t)cf_now_ms();
	snprintf(lw->pid, sizeof(lw->pid), "%d", PQbackendPID(conn));
	pthread_mutex_init(&lw->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lw->cv, &ca);
	pthread_condattr_destroy(&ca);
	return lw;
}

/*
 * Opens the monitor's connection and starts its thread, once, unless
 * nothing is timed out or retried.  A failure only leaves the blockers
 * unseen, with the reason.
 */
static void
monitor_start(cf_lockwait *lw)
{
	cf_error *err = NULL;
	sigset_t all, old;

	if (lw->started)
		return;
	lw->started = true;
	if (!lw->lock_timeout_ms && !lw->retries) {
		lw->unseen = cf_strdup(
			"with --lock-timeout 0 and --lock-retries 0 nobody looks");
		return;
	}
	if (cf_db_connect(lw->conninfo, MONITOR_OPTIONS, &lw->mon, &err) < 0) {
		lw->unseen = cf_asprintf(
			"the lock monitor could not connect: %s%s%s",
			err->message, err->detail ? ": " : "",
			err->detail ? err->detail : "");
		cf_error_free(err);
		return;
	}
	/* a URL naming several hosts may lead elsewhere */
	if (strcmp(PQhost(lw->mon), PQhost(lw->conn)) != 0 ||
	    strcmp(PQport(lw->mon), PQport(lw->conn)) != 0) {
		lw->unseen = cf_strdup(
			"the lock monitor reached another server than the migration");
		PQfinish(lw->mon);
		lw->mon = NULL;
		return;
	}
	/* signals (^C cancels the migration) stay with the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	lw->running = pthread_create(&lw->thread, NULL, monitor_main, lw) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!lw->running) {
		lw->unseen = cf_strdup("the lock monitor could not start");
		PQfinish(lw->mon);
		lw->mon = NULL;
	}
}

/* A try starts: forget what earlier tries saw, and look. */
static void
monitor_begin(cf_lockwait *lw)
{
	pthread_mutex_lock(&lw->mu);
	lw->attempt++;
	sample_release(&lw->last);
	lw->active = lw->running;
	pthread_cond_signal(&lw->cv);
	pthread_mutex_unlock(&lw->mu);
}

/* A try ended: stop looking; *s gets what it saw (caller releases), and
 * *unseen why it could not look (caller frees; NULL when it could). */
static void
monitor_end(cf_lockwait *lw, sample *s, char **unseen)
{
	pthread_mutex_lock(&lw->mu);
	lw->active = false;
	lw->attempt++;
	*s = lw->last;
	memset(&lw->last, 0, sizeof(lw->last));
	*unseen = lw->unseen ? cf_strdup(lw->unseen) : NULL;
	pthread_cond_signal(&lw->cv);
	pthread_mutex_unlock(&lw->mu);
}

void
cf_lockwait_free(cf_lockwait *lw)
{
	if (!lw)
		return;
	if (lw->running) {
		pthread_mutex_lock(&lw->mu);
		lw->stop = true;
		pthread_cond_signal(&lw->cv);
		pthread_mutex_unlock(&lw->mu);
		pthread_join(lw->thread, NULL);
	}
	if (lw->mon)
		PQfinish(lw->mon);
	sample_release(&lw->last);
	pthread_cond_destroy(&lw->cv);
	pthread_mutex_destroy(&lw->mu);
	free(lw->unseen);
	free(lw->conninfo);
	free(lw);
}

void
cf_lock_waits_free(cf_lock_wait *waits, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < waits[i].n_blockers; k++)
			cf_lock_holder_release(&waits[i].blockers[k]);
		free(waits[i].blockers);
		free(waits[i].lock);
		free(waits[i].unseen_reason);
	}
	free(waits);
}

static bool
gave_up_on_lock(const cf_outcome *o)
{
	return o->kind == CF_OUTCOME_FAILED && o->error &&
	       strcmp(o->error->sqlstate, "55P03") == 0;
}

/* Backoff before the try after try number attempt (1-based). */
static int
backoff_ms(cf_lockwait *lw, int attempt)
{
	long d = RETRY_FIRST_MS;

	for (int i = 1; i < attempt && d < RETRY_MAX_MS; i++)
		d *= 2;
	if (d > RETRY_MAX_MS)
		d = RETRY_MAX_MS;
	lw->jitter ^= lw->jitter << 13;
	lw->jitter ^= lw->jitter >> 17;
	lw->jitter ^= lw->jitter << 5;
	return (int)(d / 2 + (long)(lw->jitter % (uint32_t)(d / 2 + 1)));
}

/* Sleeps ms unless cf_cancel() comes first (then -1). */
static int
sleep_unless_cancelled(int ms)
{
	double end = cf_now_ms() + ms;

	for (;;) {
		double left = end - cf_now_ms();

		if (cf_cancel_requested())
			return -1;
		if (left <= 0)
			return 0;
		cf_sleep_ms(left > 50 ? 50 : (long)left + 1);
	}
}

/* The detail of the last try's error: what it waited for, and whom. */
static void
explain_blockers(cf_lockwait *lw, cf_error *e, const cf_lock_wait *w)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	bool hidden = false;

	if (w->lock)
		cf_strbuf_addf(&sb, "waited for %s; ", w->lock);
	if (!w->n_blockers)
		cf_strbuf_addf(&sb, "the blocking session was not seen: %s",
			       w->unseen_reason);
	for (size_t i = 0; i < w->n_blockers; i++) {
		char *t = cf_lock_holder_text(&w->blockers[i]);

		cf_strbuf_addf(&sb, "%s%s", i ? "; and by " : "blocked by ", t);
		free(t);
		hidden |= w->blockers[i].query &&
			  strcmp(w->blockers[i].query,
				 "<insufficient privilege>") == 0;
	}
	if (hidden)
		cf_strbuf_addf(
			&sb,
			" (another role's session: GRANT pg_read_all_stats TO %s shows what it runs)",
			PQuser(lw->conn));
	cf_error_set_detail(e, "%s", cf_strbuf_str(&sb));
	cf_strbuf_release(&sb);
}

/* Code, detail and hint of the error of the last try that gave up. */
static void
explain(cf_lockwait *lw, cf_error *e, const cf_lock_wait *w, bool autocommit,
	bool interrupted)
{
	char timeout[64];

	cf_error_set_code(e, "lock-timeout");
	explain_blockers(lw, e, w);
	if (autocommit) {
		cf_error_set_hint(
			e,
			"this migration runs in autocommit, so it is not tried again: statements before this one were committed and may not be safe to run twice; once the blocking session is gone (or ended: SELECT pg_terminate_backend(PID)), run the same command again: it checks what this run left");
		return;
	}
	if (lw->lock_timeout_ms)
		snprintf(timeout, sizeof(timeout),
			 "lock_timeout %d ms unless the migration sets its own",
			 lw->lock_timeout_ms);
	else
		snprintf(timeout, sizeof(timeout),
			 "the migration's own lock_timeout");
	cf_error_set_hint(
		e,
		"%s after %d tr%s (%s), %s: nothing of this migration is committed; let the blocking session finish or end it (SELECT pg_terminate_backend(PID)) and run the same command again; --lock-timeout MS (migration.lock_timeout_ms) waits longer per try, --lock-retries N (migration.lock_retries) tries more often, --lock-timeout 0 waits without limit",
		interrupted ? "interrupted" : "gave up", w->attempt,
		w->attempt == 1 ? "y" : "ies", timeout,
		w->attempt == 1 ? "rolled back" : "each rolled back");
}

/* Records try number attempt that gave up; takes s and unseen. */
static cf_lock_wait *
add_wait(cf_outcome *out, cf_lock_wait **waits, size_t *n, int attempt,
	 const char *file, sample *s, char *unseen)
{
	cf_lock_wait *w;

	*waits = cf_realloc(*waits, (*n + 1) * sizeof(cf_lock_wait));
	w = &(*waits)[(*n)++];
	memset(w, 0, sizeof(*w));
	w->attempt = attempt;
	w->file = file;
	w->statement_index = out->error->statement_index;
	w->line = out->error->line;
	w->elapsed_ms = out->elapsed_ms;
	w->lock = s->lock;
	w->blockers = s->blockers;
	w->n_blockers = s->n;
	memset(s, 0, sizeof(*s));
	if (!w->n_blockers)
		w->unseen_reason =
			unseen ?
				unseen :
				cf_strdup(
					"it waited for less than the monitor's look interval, or the lock was NOWAIT");
	else
		free(unseen);
	w->retry_in_ms = -1;
	return w;
}

int
cf_lockwait_apply(cf_lockwait *lw, cf_engine *e, const cf_migration *m,
		  bool down, const cf_progress *progress, cf_outcome *out)
{
	cf_lock_wait *waits = NULL;
	size_t n = 0;
	int rc;

	if (!lw)
		return cf_engine_apply(e, m, down, out);
	e->lock_timeout_ms = lw->lock_timeout_ms;
	monitor_start(lw);
	for (int attempt = 1;; attempt++) {
		sample s;
		char *unseen;
		cf_lock_wait *w;
		bool retry, interrupted = false;

		monitor_begin(lw);
		rc = cf_engine_apply(e, m, down, out);
		monitor_end(lw, &s, &unseen);
		if (rc == 0 || !gave_up_on_lock(out)) {
			sample_release(&s);
			free(unseen);
			break;
		}
		w = add_wait(out, &waits, &n, attempt,
			     down ? m->down_path : m->up_path, &s, unseen);
		retry = !out->autocommit && attempt <= lw->retries &&
			PQstatus(lw->conn) == CONNECTION_OK &&
			!cf_cancel_requested();
		if (retry)
			w->retry_in_ms = backoff_ms(lw, attempt);
		if (progress && progress->statement_lock_wait)
			progress->statement_lock_wait(progress->arg, m, w);
		if (retry && sleep_unless_cancelled(w->retry_in_ms) < 0) {
			retry = false;
			interrupted = true;
		}
		if (!retry) {
			explain(lw, out->error, w, out->autocommit,
				interrupted);
			break;
		}
		cf_error_free(out->error);
		free(out->skipped_reason);
	}
	out->lock_waits = waits;
	out->n_lock_waits = n;
	return rc;
}
