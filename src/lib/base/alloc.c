/*
 * alloc.c — allocation helpers that never return NULL.
 *
 * The library has no useful way to continue after malloc fails, so these
 * abort() rather than thread an "out of memory" error through every call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static void *
check(void *p)
{
	if (p == NULL) {
		fputs("confiture: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *
cf_malloc(size_t size)
{
	return check(malloc(size ? size : 1));
}

void *
cf_calloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

void *
cf_realloc(void *p, size_t size)
{
	return check(realloc(p, size ? size : 1));
}

void *
cf_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		check(NULL);
	return cf_realloc(p, n * size);
}

char *
cf_strdup(const char *s)
{
	return s ? check(strdup(s)) : NULL;
}

char *
cf_strndup(const char *s, size_t n)
{
	return check(strndup(s, n));
}

char *
cf_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;

	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0)
		out = NULL;
	va_end(ap);
	return check(out);
}

void
cf_grow(void **arr, size_t *alloc, size_t need, size_t elem)
{
	size_t n;

	if (need <= *alloc)
		return;
	n = *alloc ? *alloc : 8;
	while (n < need)
		n *= 2;
	*arr = cf_reallocarray(*arr, n, elem);
	*alloc = n;
}
