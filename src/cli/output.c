/*
 * output.c — how the CLI talks: colour only on a TTY (and never with
 * NO_COLOR), errors in PostgreSQL's primary/detail/hint shape with the
 * file:line:col and an excerpt with a caret, control characters escaped,
 * and JSON documents (jansson escapes control characters as \uXXXX).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static bool color_out, color_err;

void
cli_color_setup(enum cli_color mode)
{
	const char *no_color = getenv("NO_COLOR");
	bool forbid = no_color && *no_color;

	switch (mode) {
	case CLI_COLOR_ALWAYS:
		color_out = color_err = true;
		break;
	case CLI_COLOR_NEVER:
		color_out = color_err = false;
		break;
	default:
		color_out = !forbid && isatty(STDOUT_FILENO);
		color_err = !forbid && isatty(STDERR_FILENO);
		break;
	}
}

const char *
cli_c(FILE *f, const char *what)
{
	static const struct {
		const char *name, *seq;
	} codes[] = {
		{"red", "\033[31m"},	{"green", "\033[32m"},
		{"yellow", "\033[33m"}, {"cyan", "\033[36m"},
		{"bold", "\033[1m"},	{"dim", "\033[2m"},
		{"reset", "\033[0m"},
	};
	bool on = (f == stdout && color_out) || (f == stderr && color_err);

	if (!on)
		return "";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, what) == 0)
			return codes[i].seq;
	return "";
}

/*
 * Rendering appends to one buffer (memcpy, no printf per piece) that is
 * written with one fwrite: a run with thousands of findings spent more
 * in stdio than in finding them.
 */
struct obuf {
	char *buf;
	size_t len, alloc;
};

/* Makes room for n more bytes. */
static void
ob_grow(struct obuf *b, size_t n)
{
	size_t want = b->alloc ? b->alloc : 4096;

	while (want < b->len + n)
		want *= 2;
	b->buf = cli_realloc(b->buf, want, 1);
	b->alloc = want;
}

static inline void
ob_add(struct obuf *b, const char *s, size_t n)
{
	if (n == 0) /* b->buf may still be NULL */
		return;
	if (b->alloc - b->len < n)
		ob_grow(b, n);
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

static inline void
ob_adds(struct obuf *b, const char *s)
{
	ob_add(b, s, strlen(s));
}

static inline void
ob_addc(struct obuf *b, char c)
{
	if (b->len == b->alloc)
		ob_grow(b, 1);
	b->buf[b->len++] = c;
}

/* v in decimal, right-aligned in width characters (printf's "%*d"). */
static void
ob_addint(struct obuf *b, long long v, int width)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
				       (unsigned long long)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	for (int pad = width - ((int)sizeof(tmp) - i); pad > 0; pad--)
		ob_addc(b, ' ');
	ob_add(b, tmp + i, sizeof(tmp) - (size_t)i);
}

#define OB_ONES 0x0101010101010101u
#define OB_HIGHS 0x8080808080808080u

/* true when one of the 8 bytes at p is below 0x20, 0x7F or 0xC2. */
static inline bool
word_has_control(const unsigned char *p)
{
	uint64_t w, del, c2;

	memcpy(&w, p, 8);
	del = w ^ (OB_ONES * 0x7F);
	c2 = w ^ (OB_ONES * 0xC2);
	/* (x - ONES * n) & ~x & HIGHS is non-zero when a byte of x is below
	 * n (n <= 0x80): below 0x20, or zero after the XORs */
	return (((w - OB_ONES * 0x20) & ~w) | ((del - OB_ONES) & ~del) |
		((c2 - OB_ONES) & ~c2)) &
	       OB_HIGHS;
}

/*
 * Appends s for the terminal: C0 control characters (ESC included), DEL
 * and the C1 controls U+0080..U+009F become \xNN, so that a file or
 * object name cannot move the cursor, retitle the window or fake a line.
 * Tabs stay, and newlines when multiline.  Runs of plain text are copied
 * whole.
 */
static void
ob_add_escaped(struct obuf *b, const char *s, bool multiline)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);

	while (p < end) {
		const unsigned char *run = p;
		char esc[4] = {'\\', 'x', 0, 0};
		unsigned char c;

		/* a plain run ends at a C0 control, DEL, or 0xC2, which may
		 * start a C1 control; eight bytes are tested at once (the
		 * printed warnings are megabytes of plain text) */
		while (end - p >= 8 && !word_has_control(p))
			p += 8;
		while (p < end && *p >= 0x20 && *p != 0x7F && *p != 0xC2)
			p++;
		ob_add(b, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		c = *p;
		if (c == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			c = *++p; /* a C1 control, U+0080..U+009F */
		} else if (c == 0xC2 || c == '\t' || (multiline && c == '\n')) {
			ob_addc(b, (char)c);
			p++;
			continue;
		}
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 0xF];
		ob_add(b, esc, sizeof(esc));
		p++;
	}
}

/* Writes what b holds to f and empties it. */
static void
ob_flush(struct obuf *b, FILE *f)
{
	if (b->len)
		fwrite(b->buf, 1, b->len, f);
	b->len = 0;
}

/* ob_add_escaped()'s text as a new string; caller frees; NULL gives NULL. */
char *
cli_escape(const char *s, bool multiline)
{
	struct obuf b = {0};

	if (!s)
		return NULL;
	ob_add_escaped(&b, s, multiline);
	ob_addc(&b, '\0');
	return b.buf;
}

/* fputs(cli_escape(s, multiline), f). */
static void
put_escaped(FILE *f, const char *s, bool multiline)
{
	struct obuf b = {0};

	ob_add_escaped(&b, s, multiline);
	ob_flush(&b, f);
	free(b.buf);
}

static void
vmessage(const char *label, const char *color, const char *fmt, va_list ap)
{
	char *text = NULL;

	fprintf(stderr, "%s%s:%s ", cli_c(stderr, color), label,
		cli_c(stderr, "reset"));
	if (vasprintf(&text, fmt, ap) < 0)
		abort(); /* out of memory */
	put_escaped(stderr, text, false);
	free(text);
	fputc('\n', stderr);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("error", "red", fmt, ap);
	va_end(ap);
}

void
cli_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("warning", "yellow", fmt, ap);
	va_end(ap);
}

/*
 * Line n (1-based) of an SQL file, without its newline; NULL if it cannot
 * be read.  Only a regular file is read, and opening does not wait on a
 * FIFO: the path may have changed since the library read it.
 */
static char *
file_line(const char *path, int n)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !(f = fdopen(fd, "r"))) {
		close(fd);
		return NULL;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (++i == n) {
			while (len > 0 &&
			       (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			fclose(f);
			return line;
		}
	}
	free(line);
	fclose(f);
	return NULL;
}

/* Whether the CLI may read an excerpt of path itself: SQL files only;
 * the library gives the excerpt of a configuration file, secrets hidden. */
static bool
is_sql_file(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && strcmp(path + n - 4, ".sql") == 0;
}

/* The escape sequences of render_error() (cli_c()'s), "" when off. */
struct colors {
	const char *red, *yellow, *cyan, *bold, *dim, *reset;
};

static struct colors
colors_for(FILE *tty)
{
	struct colors c = {"", "", "", "", "", ""};

	if ((tty == stdout && color_out) || (tty == stderr && color_err))
		c = (struct colors){"\033[31m", "\033[33m", "\033[36m",
				    "\033[1m",	"\033[2m",  "\033[0m"};
	return c;
}

/* Appends in, two spaces, label in color, and a space. */
static void
add_label(struct obuf *b, const char *in, const char *color, const char *label,
	  const char *reset)
{
	ob_adds(b, in);
	ob_adds(b, "  ");
	ob_adds(b, color);
	ob_adds(b, label);
	ob_adds(b, reset);
	ob_addc(b, ' ');
}

/* A labelled line of text (newlines kept), when there is text. */
static void
add_text(struct obuf *b, const char *in, const char *color, const char *label,
	 const char *reset, const char *text)
{
	if (!text)
		return;
	add_label(b, in, color, label, reset);
	ob_add_escaped(b, text, true);
	ob_addc(b, '\n');
}

/*
 * The excerpt of e's line: the library's, else the line read from an SQL
 * file, cut around the column as the library cuts its own
 * (cf_text_excerpt()) and put in *owned for the caller to free; *first
 * is the line's column of its first character after a cut mark.
 */
static const char *
excerpt_of(const cf_error *e, char **owned, int *first)
{
	char *line;
	size_t len, off = 0;
	int col = 1;

	*owned = NULL;
	*first = e->excerpt_column > 1 ? e->excerpt_column : 1;
	if (e->excerpt)
		return e->excerpt;
	if (!is_sql_file(e->file) || !(line = file_line(e->file, e->line)))
		return NULL;
	len = strlen(line);
	/* the column's first byte: columns count characters */
	for (; off < len && col < e->column; col++)
		do
			off++;
		while (off < len && ((unsigned char)line[off] & 0xC0) == 0x80);
	*owned = cf_text_excerpt(line, len, off, col, first);
	free(line);
	return *owned;
}

/* Appends "   4 | text" and a caret under the column (columns count
 * characters; tabs are kept so the caret lines up). */
static void
add_excerpt(struct obuf *b, const struct colors *c, const cf_error *e,
	    const char *in)
{
	char *owned;
	const char *text;
	size_t start, end;
	int col;

	if (!e->file || e->line <= 0 || !(text = excerpt_of(e, &owned, &col)))
		return;
	if (!*text) {
		free(owned);
		return;
	}
	/* a cut mark stands before the excerpt's first column */
	if (col > 1)
		col--;
	ob_adds(b, in);
	ob_adds(b, "  ");
	ob_adds(b, c->dim);
	ob_addint(b, e->line, 5);
	ob_adds(b, " |");
	ob_adds(b, c->reset);
	ob_addc(b, ' ');
	start = b->len;
	ob_add_escaped(b, text, false);
	end = b->len;
	ob_addc(b, '\n');
	free(owned);
	if (e->column > 0) {
		add_label(b, in, c->dim, "      |", c->reset);
		/* under the escaped text, read by index: b->buf moves */
		for (size_t i = start; i < end && col < e->column; i++) {
			char ch = b->buf[i];

			if (((unsigned char)ch & 0xC0) == 0x80)
				continue;
			ob_addc(b, ch == '\t' ? '\t' : ' ');
			col++;
		}
		ob_adds(b, c->red);
		ob_addc(b, '^');
		ob_adds(b, c->reset);
		ob_addc(b, '\n');
	}
}

/* Appends e to b, colored as for tty (stdout or stderr). */
static void
render_error(struct obuf *b, FILE *tty, const cf_error *e, const char *in)
{
	struct colors c = colors_for(tty);
	bool warning = e->severity == CF_SEV_WARNING;
	bool notice = e->severity == CF_SEV_NOTICE;

	/* every field may quote a file or object name: escaped */
	ob_adds(b, in);
	ob_adds(b, warning ? c.yellow : notice ? c.cyan : c.red);
	ob_adds(b, warning ? "warning" : notice ? "note" : "error");
	ob_addc(b, ':');
	ob_adds(b, c.reset);
	ob_addc(b, ' ');
	ob_add_escaped(b, e->message, false);
	ob_addc(b, '\n');
	if (e->file) {
		add_label(b, in, c.cyan, "-->", c.reset);
		ob_add_escaped(b, e->file, false);
		if (e->line > 0) {
			ob_addc(b, ':');
			ob_addint(b, e->line, 0);
		}
		if (e->column > 0) {
			ob_addc(b, ':');
			ob_addint(b, e->column, 0);
		}
		if (e->statement_index > 0) {
			ob_adds(b, " (statement ");
			ob_addint(b, e->statement_index, 0);
			ob_addc(b, ')');
		}
		ob_addc(b, '\n');
		add_excerpt(b, &c, e, in);
	}
	if (e->sqlstate[0]) {
		add_label(b, in, "", "SQLSTATE:", "");
		ob_adds(b, e->sqlstate);
		ob_addc(b, '\n');
	}
	add_text(b, in, "", "DETAIL:", "", e->detail);
	add_text(b, in, "", "CONTEXT:", "", e->context);
	add_text(b, in, c.bold, "HINT:", c.reset, e->hint);
}

void
cli_print_error_indented(FILE *f, const cf_error *e, const char *in)
{
	struct obuf b = {0};

	/* one write per error: stderr is unbuffered */
	render_error(&b, f, e, in);
	ob_flush(&b, f);
	free(b.buf);
}

void
cli_print_error(FILE *f, const cf_error *e)
{
	cli_print_error_indented(f, e, "");
}

void
cli_print_problems(FILE *f, const cf_error_list *list)
{
	struct obuf b = {0};

	/* one buffer for the whole list, written every 64 KB */
	for (size_t i = 0; i < list->n; i++) {
		render_error(&b, f, list->items[i], "");
		if (b.len >= 65536)
			ob_flush(&b, f);
	}
	ob_flush(&b, f);
	free(b.buf);
}

static void
set_str(json_t *o, const char *key, const char *val)
{
	json_object_set_new(o, key, val ? json_string(val) : json_null());
}

json_t *
cli_error_json(const cf_error *e)
{
	json_t *o = json_object();

	set_str(o, "severity",
		e->severity == CF_SEV_WARNING ? "warning" :
		e->severity == CF_SEV_NOTICE  ? "notice" :
						"error");
	set_str(o, "code", e->code);
	set_str(o, "message", e->message);
	set_str(o, "detail", e->detail);
	set_str(o, "hint", e->hint);
	set_str(o, "context", e->context);
	set_str(o, "sqlstate", e->sqlstate[0] ? e->sqlstate : NULL);
	set_str(o, "file", e->file);
	json_object_set_new(o, "line",
			    e->line > 0 ? json_integer(e->line) : json_null());
	json_object_set_new(o, "column",
			    e->column > 0 ? json_integer(e->column) :
					    json_null());
	json_object_set_new(o, "statement_index",
			    e->statement_index > 0 ?
				    json_integer(e->statement_index) :
				    json_null());
	set_str(o, "statement", e->statement);
	return o;
}

json_t *
cli_problems_json(const cf_error_list *list)
{
	json_t *a = json_array();

	for (size_t i = 0; list && i < list->n; i++)
		json_array_append_new(a, cli_error_json(list->items[i]));
	return a;
}

/* json_dump_callback()'s sink: the piece goes to the buffer, which is
 * written out every 64 KB. */
struct json_sink {
	struct obuf b;
	FILE *f;
	int indent; /* JSON_INDENT's n */
	size_t flags;
};

static int
json_piece(const char *buffer, size_t size, void *data)
{
	struct json_sink *s = data;

	ob_add(&s->b, buffer, size);
	if (s->b.len >= 65536)
		ob_flush(&s->b, s->f);
	return 0;
}

/* The flags the writer below lays out as jansson does; the others
 * (sorted keys, ASCII only, compact, ...) are left to jansson. */
#define JSON_OWN_FLAGS                                             \
	(JSON_MAX_INDENT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | \
	 JSON_REAL_PRECISION(0x1F))

/* After "[", "{" or "," (comma), or before "]" or "}" (at depth). */
static void
json_space(struct json_sink *s, int depth, bool comma)
{
	static const char spaces[] = "                                ";

	if (s->indent > 0) {
		ob_addc(&s->b, '\n');
		for (int n = depth * s->indent; n > 0; n -= 32)
			ob_add(&s->b, spaces, n < 32 ? (size_t)n : 32);
	} else if (comma) {
		ob_addc(&s->b, ' ');
	}
}

/* A string in quotes: '"', '\\' and C0 controls escaped (\n, \t, ...,
 * else \u00XX), everything else as is.  jansson checked the UTF-8 when
 * the string entered the tree (json_string(); no _nocheck here). */
static void
json_str(struct json_sink *s, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char short_esc[] = {
		['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
		['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't',
	};
	const unsigned char *p = (const unsigned char *)str;
	const unsigned char *end = p + len;

	ob_addc(&s->b, '"');
	while (p < end) {
		const unsigned char *run = p;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		ob_add(&s->b, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		if (*p < sizeof(short_esc) && short_esc[*p]) {
			esc[1] = short_esc[*p];
			ob_add(&s->b, esc, 2);
		} else {
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xF];
			ob_add(&s->b, esc, sizeof(esc));
		}
		p++;
	}
	ob_addc(&s->b, '"');
}

/* Appends v at depth; -1 where jansson fails (a NULL value, a tree
 * deeper than any this program builds: a cycle). */
static int
json_value(struct json_sink *s, const json_t *v, int depth)
{
	if (!v || depth > 1000)
		return -1;
	switch (json_typeof(v)) {
	case JSON_NULL:
		ob_add(&s->b, "null", 4);
		return 0;
	case JSON_TRUE:
		ob_add(&s->b, "true", 4);
		return 0;
	case JSON_FALSE:
		ob_add(&s->b, "false", 5);
		return 0;
	case JSON_INTEGER:
		ob_addint(&s->b, json_integer_value(v), 0);
		return 0;
	case JSON_STRING:
		json_str(s, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_ARRAY: {
		size_t n = json_array_size(v);

		ob_addc(&s->b, '[');
		if (n == 0) {
			ob_addc(&s->b, ']');
			return 0;
		}
		json_space(s, depth + 1, false);
		for (size_t i = 0; i < n; i++) {
			if (json_value(s, json_array_get(v, i), depth + 1) < 0)
				return -1;
			if (i + 1 < n) {
				ob_addc(&s->b, ',');
				json_space(s, depth + 1, true);
			}
		}
		json_space(s, depth, false);
		ob_addc(&s->b, ']');
		return 0;
	}
	case JSON_OBJECT: {
		void *it = json_object_iter((json_t *)v);

		ob_addc(&s->b, '{');
		if (!it) {
			ob_addc(&s->b, '}');
			return 0;
		}
		json_space(s, depth + 1, false);
		while (it) {
			void *next = json_object_iter_next((json_t *)v, it);

			json_str(s, json_object_iter_key(it),
				 json_object_iter_key_len(it));
			ob_add(&s->b, ": ", 2);
			if (json_value(s, json_object_iter_value(it),
				       depth + 1) < 0)
				return -1;
			if (next) {
				ob_addc(&s->b, ',');
				json_space(s, depth + 1, true);
			}
			it = next;
		}
		json_space(s, depth, false);
		ob_addc(&s->b, '}');
		return 0;
	}
	default: { /* a real: jansson's own digits */
		char *text = json_dumps(v, JSON_ENCODE_ANY | s->flags);

		if (!text)
			return -1;
		ob_adds(&s->b, text);
		free(text);
		return 0;
	}
	}
}

int
cli_json_dumpf(const json_t *doc, FILE *f, size_t flags)
{
	struct json_sink s = {{0}, f, (int)(flags & JSON_MAX_INDENT), flags};
	int rc;

	/* json_dumpf() made one fwrite per token (over a million for a large
	 * preflight document) and json_dump_callback() one call per token,
	 * each string's UTF-8 decoded again: the document is written here,
	 * in jansson's layout, into one buffer */
	if (flags & ~(size_t)JSON_OWN_FLAGS)
		rc = json_dump_callback(doc, json_piece, &s, flags);
	else if (!(flags & JSON_ENCODE_ANY) && !json_is_array(doc) &&
		 !json_is_object(doc))
		rc = -1;
	else
		rc = json_value(&s, doc, 0);
	ob_flush(&s.b, f);
	free(s.b.buf);
	return rc;
}

void
cli_json_print(json_t *doc)
{
	cli_json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

int
cli_fail(cf_error *e, bool json)
{
	int code = cf_error_exit_code(e);

	if (json) {
		json_t *doc = json_object();

		json_object_set_new(doc, "error", cli_error_json(e));
		cli_json_print(doc);
	}
	cli_print_error(stderr, e);
	cf_error_free(e);
	return code;
}
