/*
 * output.c — how the CLI talks: colour only on a TTY (and never with
 * NO_COLOR), errors in PostgreSQL's primary/detail/hint shape with the
 * file:line:col and an excerpt with a caret, and JSON documents.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

static void
vmessage(const char *label, const char *color, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s%s:%s ", cli_c(stderr, color), label,
		cli_c(stderr, "reset"));
	vfprintf(stderr, fmt, ap);
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

/* Line n (1-based) of a file, without its newline; NULL if unreadable. */
static char *
file_line(const char *path, int n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i = 0;

	if (!f)
		return NULL;
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

/*
 * True when the YAML key w[0..len) may hold a secret: "password" and
 * anything spelt close to it ("pasword:" draws an unknown-key warning
 * whose excerpt must not show the value), "secret", "token".
 */
static bool
is_secret_yaml_key(const char *w, size_t len)
{
	static const char *const parts[] = {"pass", "pasw",   "pssw",
					    "pwd",  "secret", "token"};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strlen(parts[i]);

		for (size_t j = 0; j + n <= len; j++)
			if (strncasecmp(w + j, parts[i], n) == 0)
				return true;
	}
	return false;
}

/*
 * Hides secrets in a line of a configuration file before it is shown as an
 * excerpt.  A "key: value" line whose key may hold a secret shows "***"
 * for the value; any other value, or a line that is no "key: value", goes
 * whole through cf_redact_url() when it holds a URL, an '@' or
 * "password", so that quotes or spaces inside a password cannot split it
 * (the price is hiding more of a broken line than needed).  Returns a new
 * string (the caller frees it), or NULL when out of memory.
 */
static char *
redact_config_line(const char *line)
{
	const char *p = line + strspn(line, " \t-");
	const char *key = p;
	const char *value = line;
	size_t keylen;
	char *red;
	char *out;

	/* "key:" then white space or the end; the key may be quoted */
	keylen = strcspn(key, ":");
	if (key[keylen] == ':' &&
	    (key[keylen + 1] == '\0' || key[keylen + 1] == ' ' ||
	     key[keylen + 1] == '\t')) {
		value = key + keylen + 1;
		if (is_secret_yaml_key(key, keylen))
			return cli_asprintf("%.*s ***", (int)(value - line),
					    line);
	}
	if (!strstr(value, "://") && !strchr(value, '@') &&
	    !strcasestr(value, "password"))
		return strdup(line);
	red = cf_redact_url(value);
	out = cli_asprintf("%.*s%s", (int)(value - line), line, red);
	free(red);
	return out;
}

/* Whether an excerpt of path is shown as is: SQL files are, configuration
 * files are redacted first. */
static bool
is_sql_file(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && strcmp(path + n - 4, ".sql") == 0;
}

/* Prints "   4 | text" and a caret under the column (columns count
 * characters; tabs are kept so the caret lines up).  Lines of
 * configuration files have their secrets hidden first. */
static void
print_excerpt(FILE *f, const cf_error *e, const char *in)
{
	char *text;
	int col = 1;

	if (!e->file || e->line <= 0)
		return;
	text = file_line(e->file, e->line);
	if (!text)
		return;
	if (!is_sql_file(e->file)) {
		char *red = redact_config_line(text);

		free(text);
		if (!red)
			return;
		text = red;
	}
	fprintf(f, "%s  %s%5d |%s %s\n", in, cli_c(f, "dim"), e->line,
		cli_c(f, "reset"), text);
	if (e->column > 0) {
		fprintf(f, "%s  %s      |%s ", in, cli_c(f, "dim"),
			cli_c(f, "reset"));
		for (const char *p = text; *p && col < e->column; p++) {
			if (((unsigned char)*p & 0xC0) == 0x80)
				continue;
			fputc(*p == '\t' ? '\t' : ' ', f);
			col++;
		}
		fprintf(f, "%s^%s\n", cli_c(f, "red"), cli_c(f, "reset"));
	}
	free(text);
}

void
cli_print_error_indented(FILE *f, const cf_error *e, const char *in)
{
	bool warning = e->severity == CF_SEV_WARNING;
	const char *label = warning ? "warning" :
				      (e->severity == CF_SEV_NOTICE ? "note" :
								      "error");

	fprintf(f, "%s%s%s:%s %s\n", in,
		cli_c(f, warning		      ? "yellow" :
			 e->severity == CF_SEV_NOTICE ? "cyan" :
							"red"),
		label, cli_c(f, "reset"), e->message);
	if (e->file) {
		fprintf(f, "%s  %s-->%s %s", in, cli_c(f, "cyan"),
			cli_c(f, "reset"), e->file);
		if (e->line > 0)
			fprintf(f, ":%d", e->line);
		if (e->column > 0)
			fprintf(f, ":%d", e->column);
		if (e->statement_index > 0)
			fprintf(f, " (statement %d)", e->statement_index);
		fputc('\n', f);
		print_excerpt(f, e, in);
	}
	if (e->sqlstate[0])
		fprintf(f, "%s  SQLSTATE: %s\n", in, e->sqlstate);
	if (e->detail)
		fprintf(f, "%s  DETAIL: %s\n", in, e->detail);
	if (e->context)
		fprintf(f, "%s  CONTEXT: %s\n", in, e->context);
	if (e->hint)
		fprintf(f, "%s  %sHINT:%s %s\n", in, cli_c(f, "bold"),
			cli_c(f, "reset"), e->hint);
}

void
cli_print_error(FILE *f, const cf_error *e)
{
	cli_print_error_indented(f, e, "");
}

void
cli_print_problems(FILE *f, const cf_error_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		cli_print_error(f, list->items[i]);
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
