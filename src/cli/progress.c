/*
 * progress.c — a progress line for long steps on a terminal: the replay of
 * many migrations shows "replaying 3/12  003_add_index  4.2 s", a dump load
 * "loading dump 1.2 MiB of 4.0 MiB (30%)  812 statements  0.4 s", redrawn in
 * place on stderr and erased when the step ends; a clone leaves one line
 * "cloning database app ... done 0.3 s".  Only when stderr is a
 * terminal and the output is text: never in JSON or the CI formats, never
 * in a pipe or a log file.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_begin(void *arg, size_t total)
{
	struct cli_tty_progress *st = arg;

	st->total = total;
	st->done = 0;
	st->t0 = now_s();
}

static void
on_start(void *arg, const cf_migration *m, bool down)
{
	struct cli_tty_progress *st = arg;

	(void)down;
	st->done++;
	/* \r and erase-line: the line is redrawn, never scrolled */
	fprintf(stderr, "\r\033[K  replaying %zu/%zu  %s_%s  %.1f s", st->done,
		st->total, m->version, m->name, now_s() - st->t0);
	fflush(stderr);
	st->drawn = true;
}

static void
on_clone_begin(void *arg, const char *source)
{
	struct cli_tty_progress *st = arg;

	fprintf(stderr, "\r\033[K  cloning database %s ...", source);
	fflush(stderr);
	st->drawn = true;
}

/* The clone's line stays: it says what the replay runs on, and how long
 * the copy took. */
static void
on_clone_end(void *arg, const char *source, bool ok, double elapsed_ms)
{
	struct cli_tty_progress *st = arg;

	fprintf(stderr, "\r\033[K  cloning database %s ... %s %.1f s\n", source,
		ok ? "done" : "failed", elapsed_ms / 1000.0);
	fflush(stderr);
	st->drawn = false;
}

/* 1536 -> "1.5 KiB" into buf */
static const char *
human_bytes(long long n, char *buf, size_t size)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static void
on_load(void *arg, const cf_load_progress *lp)
{
	struct cli_tty_progress *st = arg;
	char got[32], all[32];

	if (lp->done) {
		cli_tty_progress_end(st);
		return;
	}
	fprintf(stderr, "\r\033[K  loading dump %s",
		human_bytes(lp->bytes_read, got, sizeof(got)));
	if (lp->bytes_total > 0)
		fprintf(stderr, " of %s (%d%%)",
			human_bytes(lp->bytes_total, all, sizeof(all)),
			(int)(100 * lp->bytes_read / lp->bytes_total));
	fprintf(stderr, "  %ld statement%s  %.1f s", lp->statements,
		lp->statements == 1 ? "" : "s", lp->elapsed_ms / 1000.0);
	fflush(stderr);
	st->drawn = true;
}

void
cli_tty_progress_load(cf_provision_options *po, struct cli_tty_progress *st)
{
	if (!st || !st->on)
		return;
	po->load_progress = on_load;
	po->progress_arg = st;
}

void
cli_tty_progress_init(cf_progress *p, struct cli_tty_progress *st,
		      bool text_output)
{
	const char *term = getenv("TERM");

	memset(st, 0, sizeof(*st));
	st->on = text_output && isatty(STDERR_FILENO) &&
		 !(term && strcmp(term, "dumb") == 0);
	if (!st->on)
		return;
	p->arg = st;
	p->replay_begin = on_begin;
	p->migration_start = on_start;
	p->clone_begin = on_clone_begin;
	p->clone_end = on_clone_end;
}

void
cli_tty_progress_end(struct cli_tty_progress *st)
{
	if (st->drawn)
		fputs("\r\033[K", stderr);
	fflush(stderr);
	st->drawn = false;
}
