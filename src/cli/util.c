/*
 * util.c — allocation helpers for the CLI: they never return NULL; on
 * out-of-memory the program says so and exits with status 2.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

char *
cli_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		cli_out_of_memory();
	return out;
}

void
cli_out_of_memory(void)
{
	fputs("confiture: out of memory\n", stderr);
	exit(CF_EXIT_USAGE);
}

void *
cli_realloc(void *p, size_t n, size_t size)
{
	void *q = n && size <= SIZE_MAX / n ? realloc(p, n * size) : NULL;

	if (!q)
		cli_out_of_memory();
	return q;
}
