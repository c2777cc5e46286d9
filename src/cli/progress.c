/*
 * progress.c — a progress line for long steps on a terminal: the replay of
 * many migrations shows "replaying 3/12  003_add_index  4.2 s", redrawn in
 * place on stderr and erased when the step ends.  Only when stderr is a
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
}

void
cli_tty_progress_end(struct cli_tty_progress *st)
{
	if (st->drawn)
		fputs("\r\033[K", stderr);
	fflush(stderr);
	st->drawn = false;
}
