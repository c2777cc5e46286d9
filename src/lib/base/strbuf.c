/*
 * strbuf.c — growable string buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void
cf_strbuf_init(cf_strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->alloc = 0;
}

void
cf_strbuf_release(cf_strbuf *sb)
{
	free(sb->buf);
	cf_strbuf_init(sb);
}

void
cf_strbuf_reset(cf_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void
cf_strbuf_add(cf_strbuf *sb, const void *data, size_t len)
{
	cf_grow((void **)&sb->buf, &sb->alloc, sb->len + len + 1, 1);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void
cf_strbuf_addstr(cf_strbuf *sb, const char *s)
{
	cf_strbuf_add(sb, s, strlen(s));
}

void
cf_strbuf_addch(cf_strbuf *sb, char c)
{
	cf_strbuf_add(sb, &c, 1);
}

void
cf_strbuf_vaddf(cf_strbuf *sb, const char *fmt, va_list ap)
{
	char tmp[512];
	va_list cp;
	int n;

	/* one pass for the usual short text (formatting twice, to measure
	 * and then to write, cost thousands of messages half their time) */
	va_copy(cp, ap);
	n = vsnprintf(tmp, sizeof(tmp), fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		cf_strbuf_add(sb, tmp, (size_t)n);
		return;
	}
	cf_grow((void **)&sb->buf, &sb->alloc, sb->len + (size_t)n + 1, 1);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void
cf_strbuf_addf(cf_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cf_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *
cf_strbuf_detach(cf_strbuf *sb)
{
	char *out = sb->buf ? sb->buf : cf_strdup("");

	cf_strbuf_init(sb);
	return out;
}

const char *
cf_strbuf_str(const cf_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}
