/*
 * error.c — structured errors (primary message, detail, hint, location)
 * and lists of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static cf_error *
error_vnew(cf_error_kind kind, cf_severity sev, const char *fmt, va_list ap)
{
	cf_error *e = cf_new(cf_error);
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_vaddf(&sb, fmt, ap);
	e->kind = kind;
	e->severity = sev;
	e->message = cf_strbuf_detach(&sb);
	return e;
}

cf_error *
cf_error_new(cf_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	cf_error *e;

	va_start(ap, fmt);
	e = error_vnew(kind, CF_SEV_ERROR, fmt, ap);
	va_end(ap);
	return e;
}

cf_error *
cf_warning_new(const char *fmt, ...)
{
	va_list ap;
	cf_error *e;

	va_start(ap, fmt);
	e = error_vnew(CF_ERR_FILE, CF_SEV_WARNING, fmt, ap);
	va_end(ap);
	return e;
}

cf_error *
cf_warning_take(char *message)
{
	cf_error *e = cf_new(cf_error);

	e->kind = CF_ERR_FILE;
	e->severity = CF_SEV_WARNING;
	e->message = message ? message : cf_strdup("");
	return e;
}

static void
set_text(char **field, const char *fmt, va_list ap)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_vaddf(&sb, fmt, ap);
	free(*field);
	*field = cf_strbuf_detach(&sb);
}

void
cf_error_set_detail(cf_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_text(&e->detail, fmt, ap);
	va_end(ap);
}

void
cf_error_set_hint(cf_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_text(&e->hint, fmt, ap);
	va_end(ap);
}

void
cf_error_set_detail_str(cf_error *e, const char *text)
{
	free(e->detail);
	e->detail = cf_strdup(text);
}

void
cf_error_set_hint_str(cf_error *e, const char *text)
{
	free(e->hint);
	e->hint = cf_strdup(text);
}

void
cf_error_take_where(cf_error *e, char *file, int line, int column)
{
	free(e->file);
	e->file = file;
	e->line = line;
	e->column = column;
}

void
cf_error_set_where(cf_error *e, const char *file, int line, int column)
{
	cf_error_take_where(e, cf_strdup(file), line, column);
}

void
cf_error_set_code(cf_error *e, const char *code)
{
	free(e->code);
	e->code = cf_strdup(code);
}

int
cf_fail(cf_error **err, cf_error *e)
{
	if (err)
		*err = e;
	else
		cf_error_free(e);
	return -1;
}

cf_error *
cf_error_copy(const cf_error *src)
{
	cf_error *e = cf_new(cf_error);

	*e = *src;
	e->message = cf_strdup(src->message);
	e->detail = cf_strdup(src->detail);
	e->hint = cf_strdup(src->hint);
	e->context = cf_strdup(src->context);
	e->file = cf_strdup(src->file);
	e->statement = cf_strdup(src->statement);
	e->code = cf_strdup(src->code);
	e->excerpt = cf_strdup(src->excerpt);
	return e;
}

void
cf_error_free(cf_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->context);
	free(e->file);
	free(e->statement);
	free(e->code);
	free(e->excerpt);
	free(e);
}

int
cf_error_exit_code(const cf_error *e)
{
	switch (e->kind) {
	case CF_ERR_FILE:
	case CF_ERR_CHECKSUM:
	case CF_ERR_SQL:
		return CF_EXIT_FAILURE;
	default:
		return CF_EXIT_USAGE;
	}
}

void
cf_error_list_init(cf_error_list *list)
{
	list->items = NULL;
	list->n = 0;
	list->alloc = 0;
}

void
cf_error_list_add(cf_error_list *list, cf_error *e)
{
	CF_GROW(list->items, list->alloc, list->n + 1);
	list->items[list->n++] = e;
}

void
cf_error_list_release(cf_error_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		cf_error_free(list->items[i]);
	free(list->items);
	cf_error_list_init(list);
}

size_t
cf_error_list_count(const cf_error_list *list, cf_severity sev)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++)
		if (list->items[i]->severity == sev)
			n++;
	return n;
}
