/*
 * output.c — how the CLI talks: colour only on a TTY (and never with
 * NO_COLOR), errors in PostgreSQL's primary/detail/hint shape with the
 * file:line:col and an excerpt with a caret, control characters escaped,
 * and JSON documents (jansson escapes control characters as \uXXXX).
 */
#include <fcntl.h>
#include <stdarg.h>
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
 * A copy of s for the terminal: C0 control characters (ESC included), DEL
 * and the C1 controls U+0080..U+009F become \xNN, so that a file or
 * object name cannot move the cursor, retitle the window or fake a line.
 * Tabs stay, and newlines when multiline.  Caller frees; NULL gives NULL.
 */
char *
cli_escape(const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out;
	size_t n = 0;

	if (!s)
		return NULL;
	out = malloc(strlen(s) * 4 + 1);
	if (!out)
		abort(); /* out of memory */
	for (; *p; p++) {
		bool c1 = p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;

		if ((*p < 0x20 && *p != '\t' && !(multiline && *p == '\n')) ||
		    *p == 0x7F || c1) {
			if (c1)
				p++;
			n += (size_t)sprintf(out + n, "\\x%02X", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
	return out;
}

/* fputs(cli_escape(s, multiline), f). */
static void
put_escaped(FILE *f, const char *s, bool multiline)
{
	char *esc;
	const unsigned char *p = (const unsigned char *)s;

	/* most text has nothing to escape: no copy then */
	while (*p >= 0x20 && *p != 0x7F && *p != 0xC2)
		p++;
	if (!*p) {
		fputs(s, f);
		return;
	}
	esc = cli_escape(s, multiline);

	fputs(esc, f);
	free(esc);
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

/* Prints "   4 | text" and a caret under the column (columns count
 * characters; tabs are kept so the caret lines up). */
static void
print_excerpt(FILE *f, FILE *tty, const cf_error *e, const char *in)
{
	char *text;
	char *raw;
	int col = 1;

	if (!e->file || e->line <= 0)
		return;
	if (e->excerpt)
		raw = strdup(e->excerpt);
	else if (is_sql_file(e->file))
		raw = file_line(e->file, e->line);
	else
		return;
	if (!raw || !*raw) {
		free(raw);
		return;
	}
	text = cli_escape(raw, false);
	free(raw);
	fprintf(f, "%s  %s%5d |%s %s\n", in, cli_c(tty, "dim"), e->line,
		cli_c(tty, "reset"), text);
	if (e->column > 0) {
		fprintf(f, "%s  %s      |%s ", in, cli_c(tty, "dim"),
			cli_c(tty, "reset"));
		for (const char *p = text; *p && col < e->column; p++) {
			if (((unsigned char)*p & 0xC0) == 0x80)
				continue;
			fputc(*p == '\t' ? '\t' : ' ', f);
			col++;
		}
		fprintf(f, "%s^%s\n", cli_c(tty, "red"), cli_c(tty, "reset"));
	}
	free(text);
}

/* Renders e into f, colored as for tty (stdout or stderr). */
static void
render_error(FILE *f, FILE *tty, const cf_error *e, const char *in)
{
	bool warning = e->severity == CF_SEV_WARNING;
	const char *label = warning ? "warning" :
				      (e->severity == CF_SEV_NOTICE ? "note" :
								      "error");

	/* every field may quote a file or object name: escaped */
	fprintf(f, "%s%s%s:%s ", in,
		cli_c(tty, warning			? "yellow" :
			   e->severity == CF_SEV_NOTICE ? "cyan" :
							  "red"),
		label, cli_c(tty, "reset"));
	put_escaped(f, e->message, false);
	fputc('\n', f);
	if (e->file) {
		fprintf(f, "%s  %s-->%s ", in, cli_c(tty, "cyan"),
			cli_c(tty, "reset"));
		put_escaped(f, e->file, false);
		if (e->line > 0)
			fprintf(f, ":%d", e->line);
		if (e->column > 0)
			fprintf(f, ":%d", e->column);
		if (e->statement_index > 0)
			fprintf(f, " (statement %d)", e->statement_index);
		fputc('\n', f);
		print_excerpt(f, tty, e, in);
	}
	if (e->sqlstate[0])
		fprintf(f, "%s  SQLSTATE: %s\n", in, e->sqlstate);
	if (e->detail) {
		fprintf(f, "%s  DETAIL: ", in);
		put_escaped(f, e->detail, true);
		fputc('\n', f);
	}
	if (e->context) {
		fprintf(f, "%s  CONTEXT: ", in);
		put_escaped(f, e->context, true);
		fputc('\n', f);
	}
	if (e->hint) {
		fprintf(f, "%s  %sHINT:%s ", in, cli_c(tty, "bold"),
			cli_c(tty, "reset"));
		put_escaped(f, e->hint, true);
		fputc('\n', f);
	}
}

void
cli_print_error_indented(FILE *f, const cf_error *e, const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	/* one write per error: stderr is unbuffered, and a run with
	 * thousands of findings made a write per fragment */
	if (!m) {
		render_error(f, f, e, in);
		return;
	}
	render_error(m, f, e, in);
	fclose(m);
	fwrite(buf, 1, len, f);
	free(buf);
}

void
cli_print_error(FILE *f, const cf_error *e)
{
	cli_print_error_indented(f, e, "");
}

void
cli_print_problems(FILE *f, const cf_error_list *list)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = list->n > 1 ? open_memstream(&buf, &len) : NULL;

	/* one stream for the whole list: opening one per problem cost more
	 * than rendering it */
	if (!m) {
		for (size_t i = 0; i < list->n; i++)
			cli_print_error(f, list->items[i]);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		render_error(m, f, list->items[i], "");
		if (fflush(m) == 0 && len >= 65536) {
			fwrite(buf, 1, len, f);
			rewind(m);
		}
	}
	fclose(m);
	fwrite(buf, 1, len, f);
	free(buf);
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

void
cli_json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
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
