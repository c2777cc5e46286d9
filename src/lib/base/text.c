/*
 * text.c — UTF-8 validation, byte/character positions, file reading (regular
 * files only, never blocking on a FIFO) and SQL quoting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		uint64_t w;
		size_t n;

		/* runs of ASCII (SQL is mostly that) eight bytes a step */
		if (len - i >= 8) {
			memcpy(&w, u + i, 8);
			if ((w & 0x8080808080808080u) == 0) {
				i += 8;
				continue;
			}
		}
		n = utf8_seq_len(u + i, len - i);
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
	/* a line at a time, never past off: text need not end in a NUL, and
	 * a long line is not scanned beyond the position asked for (one call
	 * per statement of a one-line file would be quadratic); characters
	 * are counted on the last line only */
	size_t i = 0; /* where the current line starts */
	int l = 1, c = 1;

	for (;;) {
		const char *nl = memchr(text + i, '\n', off - i);

		if (!nl)
			break;
		l++;
		i = (size_t)(nl - text) + 1;
	}
	for (; i < off; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80)
			c++;
	*line = l;
	*column = c;
}

size_t
cf_utf8_char_offset(const char *s, size_t len, size_t nchars)
{
	size_t i = 0;

	while (i < len && nchars > 0) {
		uint64_t w;

		/* eight ASCII bytes are eight characters */
		if (nchars >= 8 && len - i >= 8) {
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080u) == 0) {
				i += 7;
				nchars -= 7;
			}
		}
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		nchars--;
	}
	return i;
}

/* A line of at most EXCERPT_WHOLE characters is its own excerpt (real
 * migrations have lines of 200 and more); a longer one is cut to
 * EXCERPT_WIDTH characters, EXCERPT_BEFORE of them before the position
 * at least. */
#define EXCERPT_WHOLE 400
#define EXCERPT_WIDTH 160
#define EXCERPT_BEFORE 60

/* Start of the span of at most n characters of off's line before off. */
static size_t
excerpt_back(const char *t, size_t off, size_t n, size_t *got)
{
	size_t b = off, k = 0;

	while (b > 0 && t[b - 1] != '\n' && k < n) {
		b--;
		if (((unsigned char)t[b] & 0xC0) != 0x80)
			k++;
	}
	*got = k;
	return b;
}

/* End of the span of at most n characters of off's line from off. */
static size_t
excerpt_forward(const char *t, size_t len, size_t off, size_t n, size_t *got)
{
	size_t e = off, k = 0;

	for (; e < len && t[e] != '\n' && t[e] != '\r'; e++)
		if (((unsigned char)t[e] & 0xC0) != 0x80) {
			if (k == n)
				break;
			k++;
		}
	*got = k;
	return e;
}

char *
cf_text_excerpt(const char *text, size_t len, size_t off, int column,
		int *first_column)
{
	size_t before, after, b, e;
	bool cut_front, cut_end;
	cf_strbuf sb = CF_STRBUF_INIT;

	if (off > len)
		off = len;
	b = excerpt_back(text, off, EXCERPT_WHOLE, &before);
	e = excerpt_forward(text, len, off, EXCERPT_WHOLE, &after);
	cut_front = b > 0 && text[b - 1] != '\n';
	cut_end = e < len && text[e] != '\n' && text[e] != '\r';
	if (cut_front || cut_end || before + after > EXCERPT_WHOLE) {
		/* at least EXCERPT_BEFORE characters before the position,
		 * more when the line ends soon after it */
		size_t keep = after < EXCERPT_WIDTH - EXCERPT_BEFORE ?
				      EXCERPT_WIDTH - after :
				      EXCERPT_BEFORE;

		if (keep > before)
			keep = before;
		b = excerpt_back(text, off, keep, &before);
		e = excerpt_forward(text, len, off, EXCERPT_WIDTH - before,
				    &after);
	}
	cut_front = b > 0 && text[b - 1] != '\n';
	cut_end = e < len && text[e] != '\n' && text[e] != '\r';
	if (cut_front)
		cf_strbuf_addstr(&sb, "\xE2\x80\xA6");
	cf_strbuf_add(&sb, text + b, e - b);
	if (cut_end)
		cf_strbuf_addstr(&sb, "\xE2\x80\xA6");
	if (first_column)
		*first_column = cut_front && column > (int)before ?
					column - (int)before :
					1;
	return cf_strbuf_detach(&sb);
}

size_t
cf_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

/* What a file that is not a regular file is, for messages. */
static const char *
file_type_name(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a named pipe (FIFO)";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a regular file";
}

/* See base/base.h. */
int
cf_read_file_ex(const char *path, unsigned flags, size_t max, char **data,
		size_t *len, cf_error **err)
{
	return cf_read_file_at(AT_FDCWD, path, path, flags, max, data, len,
			       err);
}

/* See base/base.h. */
int
cf_read_file_at(int dirfd, const char *name, const char *path, unsigned flags,
		size_t max, char **data, size_t *len, cf_error **err)
{
	int oflags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	size_t cap, used = 0;
	char *buf;
	struct stat st;
	cf_error *e;
	int fd;

	*data = NULL;
	*len = 0;
	if (flags & CF_READ_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = openat(dirfd, name, oflags);
	if (fd < 0) {
		if (errno == ELOOP && (flags & CF_READ_NOFOLLOW)) {
			e = cf_error_new(CF_ERR_IO,
					 "'%s' is a symbolic link, which is "
					 "not followed here",
					 path);
			cf_error_set_hint(e, "replace the link with the file "
					     "itself");
			cf_error_set_code(e, "not-regular-file");
		} else {
			e = cf_error_new(CF_ERR_IO, "cannot open '%s': %s",
					 path, strerror(errno));
		}
		return cf_fail(err, e);
	}
	if (fstat(fd, &st) != 0) {
		e = cf_error_new(CF_ERR_IO, "cannot access '%s': %s", path,
				 strerror(errno));
		close(fd);
		return cf_fail(err, e);
	}
	if (!S_ISREG(st.st_mode)) {
		e = cf_error_new(CF_ERR_IO, "'%s' is not a regular file", path);
		cf_error_set_detail(e, "it is %s", file_type_name(st.st_mode));
		cf_error_set_hint(e, "give the path of a regular file");
		cf_error_set_code(e, "not-regular-file");
		close(fd);
		return cf_fail(err, e);
	}
	if (max > 0 && (unsigned long long)st.st_size > max) {
		e = cf_error_new(CF_ERR_IO, "'%s' is too large", path);
		cf_error_set_detail(e,
				    "it has %lld bytes; at most %zu are read",
				    (long long)st.st_size, max);
		cf_error_set_code(e, "file-too-large");
		close(fd);
		return cf_fail(err, e);
	}
	/* read straight into a buffer of the size fstat() gave, no copy; a
	 * file that grows meanwhile still reads whole */
	cap = (size_t)st.st_size + 1; /* + 1: a file that grew shows it */
	buf = cf_malloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (used == cap) {
			cap = cap * 2;
			buf = cf_reallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* never mistaken for the end of the file */
			e = cf_error_new(CF_ERR_IO, "cannot read '%s': %s",
					 path, strerror(errno));
			close(fd);
			free(buf);
			return cf_fail(err, e);
		}
		if (n == 0)
			break;
		if (max > 0 && used + (size_t)n > max) {
			/* grew while we read it */
			e = cf_error_new(CF_ERR_IO, "'%s' is too large", path);
			cf_error_set_detail(e, "at most %zu bytes are read",
					    max);
			cf_error_set_code(e, "file-too-large");
			close(fd);
			free(buf);
			return cf_fail(err, e);
		}
		used += (size_t)n;
		/* exactly the size fstat() gave, asking for one more byte:
		 * the end of a regular file, no second read to see it (files
		 * of /proc report 0 and are read to the end) */
		if (st.st_size > 0 && used == (size_t)st.st_size)
			break;
	}
	buf[used] = '\0';
	close(fd);
	*len = used;
	*data = buf;
	return 0;
}

/* See base/base.h. */
int
cf_read_file(const char *path, char **data, size_t *len, cf_error **err)
{
	return cf_read_file_ex(path, 0, 0, data, len, err);
}

/* See base/base.h. */
bool
cf_path_inside(const char *real, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return real[0] == '/';
	return strncmp(real, root, n) == 0 &&
	       (real[n] == '\0' || real[n] == '/');
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
