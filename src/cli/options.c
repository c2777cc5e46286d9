/*
 * options.c — declarative option parsing: commands describe their options
 * as a table and get parsing, validation and --help from it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
print_option(FILE *out, const struct cli_option *o)
{
	char left[96];
	int n = 0;

	if (o->short_name)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->short_name,
			     o->long_name);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->long_name);
	if (o->argh && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->argh);
	if (strlen(left) > 30)
		fprintf(out, "%s\n%32s%s\n", left, "", o->help);
	else
		fprintf(out, "%-32s%s\n", left, o->help);
}

void
cli_print_usage(FILE *out, const struct cli_usage *usage)
{
	for (const char *const *s = usage->synopsis; *s; s++)
		fprintf(out, "%s %s\n",
			s == usage->synopsis ? "usage:" : "   or:", *s);
	if (usage->description)
		fprintf(out, "\n%s\n", usage->description);
	fprintf(out, "\noptions:\n");
	for (const struct cli_option *o = usage->options;
	     o && o->type != CLI_OPT_END; o++)
		print_option(out, o);
	fprintf(out, "  -h, --help                    show this help\n");
}

/*
 * Length of the command part of a synopsis line: the leading words up to
 * the first placeholder or option ("confiture migrate up [--env ..." gives
 * "confiture migrate up").
 */
static int
command_len(const char *synopsis)
{
	const char *p = synopsis, *end = synopsis;

	while (*p) {
		const char *w = p;

		while (*p && *p != ' ')
			p++;
		if (*w == '[' || *w == '-' || *w == '<' ||
		    (*w >= 'A' && *w <= 'Z'))
			break;
		end = p;
		while (*p == ' ')
			p++;
	}
	return (int)(end - synopsis);
}

/* Prints a usage error with a pointer to the command's --help. */
static int
opt_error(const struct cli_usage *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "%serror:%s ", cli_c(stderr, "red"),
		cli_c(stderr, "reset"));
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nhint: see '%.*s --help'\n",
		command_len(usage->synopsis[0]), usage->synopsis[0]);
	return CLI_PARSE_ERROR;
}

static int
set_value(const struct cli_usage *usage, const struct cli_option *o,
	  const char *val, const char *shown)
{
	switch (o->type) {
	case CLI_OPT_LIST: {
		struct cli_list *l = o->value;

		if (l->n == CLI_LIST_MAX)
			return opt_error(usage, "too many '%s' options", shown);
		l->items[l->n++] = val;
		return 0;
	}
	case CLI_OPT_STRING:
		*(const char **)o->value = val;
		return 0;
	case CLI_OPT_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 0 || v > INT_MAX)
			return opt_error(
				usage,
				"option '%s' expects a non-negative integer",
				shown);
		*(int *)o->value = (int)v;
		return 0;
	}
	case CLI_OPT_CHOICE:
		for (const char *const *c = o->choices; *c; c++)
			if (strcmp(*c, val) == 0) {
				*(const char **)o->value = *c;
				return 0;
			}
		fprintf(stderr,
			"%serror:%s invalid value '%s' for option '%s'\n",
			cli_c(stderr, "red"), cli_c(stderr, "reset"), val,
			shown);
		fprintf(stderr, "hint: choose one of:");
		for (const char *const *c = o->choices; *c; c++)
			fprintf(stderr, " %s", *c);
		fprintf(stderr, "\n");
		return CLI_PARSE_ERROR;
	default:
		return CLI_PARSE_ERROR;
	}
}

int
cli_parse(int argc, const char **argv, const struct cli_usage *usage, int *npos)
{
	int pos = 0;
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct cli_option *match = NULL;
		const char *val = NULL;

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			argv[pos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli_print_usage(stdout, usage);
			return CLI_PARSE_HELP;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			for (const struct cli_option *o = usage->options;
			     o && o->type != CLI_OPT_END; o++)
				if (o->long_name &&
				    strlen(o->long_name) == len &&
				    strncmp(o->long_name, name, len) == 0)
					match = o;
			if (!match)
				return opt_error(usage, "unknown option '%s'",
						 arg);
			if (eq)
				val = eq + 1;
		} else {
			for (const struct cli_option *o = usage->options;
			     o && o->type != CLI_OPT_END; o++)
				if (o->short_name == arg[1])
					match = o;
			if (!match)
				return opt_error(usage, "unknown option '%s'",
						 arg);
			if (arg[2])
				val = arg + 2;
		}
		if (match->type == CLI_OPT_BOOL) {
			if (val)
				return opt_error(usage,
						 "option '%s' takes no value",
						 arg);
			*(bool *)match->value = true;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return opt_error(usage,
						 "option '%s' requires a value",
						 arg);
			val = argv[++i];
		}
		if (set_value(usage, match, val, arg) < 0)
			return CLI_PARSE_ERROR;
	}
	*npos = pos;
	return CLI_PARSE_OK;
}

int
cli_parse_no_args(int argc, const char **argv, const struct cli_usage *usage)
{
	int npos;
	int rc = cli_parse(argc, argv, usage, &npos);

	if (rc != CLI_PARSE_OK)
		return rc == CLI_PARSE_HELP ? CF_EXIT_OK : CF_EXIT_USAGE;
	if (npos > 0) {
		cli_error("unexpected argument '%s'", argv[0]);
		return CF_EXIT_USAGE;
	}
	return -1;
}
