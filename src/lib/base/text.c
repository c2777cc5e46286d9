/*
 * text.c — UTF-8 validation, byte/character positions, file reading and
 * SQL quoting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* Length of the UTF-8 sequence starting at s (0 if invalid). */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

bool
cf_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq_len(u + i, len - i);

		if (n == 0) {
			if (bad_offset)
				*bad_offset = i;
			return false;
		}
		i += n;
	}
	return true;
}

void
cf_text_line_col(const char *text, size_t off, int *line, int *column)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off && text[i]; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c;
}

size_t
cf_utf8_char_offset(const char *s, size_t len, size_t nchars)
{
	size_t i = 0;

	while (i < len && nchars > 0) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		nchars--;
	}
	return i;
}

int
cf_read_file(const char *path, char **data, size_t *len, cf_error **err)
{
	FILE *f = fopen(path, "rb");
	cf_strbuf sb = CF_STRBUF_INIT;
	char chunk[65536];
	size_t n;

	if (!f) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot open '%s': %s",
					   path, strerror(errno));
		return cf_fail(err, e);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cf_strbuf_add(&sb, chunk, n);
	if (ferror(f)) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot read '%s': %s",
					   path, strerror(errno));
		fclose(f);
		cf_strbuf_release(&sb);
		return cf_fail(err, e);
	}
	fclose(f);
	*len = sb.len;
	*data = cf_strbuf_detach(&sb);
	return 0;
}

char *
cf_quote_ident(const char *ident)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_addch(&sb, '"');
	for (const char *p = ident; *p; p++) {
		if (*p == '"')
			cf_strbuf_addch(&sb, '"');
		cf_strbuf_addch(&sb, *p);
	}
	cf_strbuf_addch(&sb, '"');
	return cf_strbuf_detach(&sb);
}

char *
cf_quote_literal(const char *s)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_addch(&sb, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			cf_strbuf_addch(&sb, '\'');
		cf_strbuf_addch(&sb, *p);
	}
	cf_strbuf_addch(&sb, '\'');
	return cf_strbuf_detach(&sb);
}
