/*
 * report.c — the report model shared by every CI format, the format names,
 * and the --report FORMAT:FILE files, written atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

const char *const report_format_choices[] = {
	"text", "table", "json", "github", "junit", "sarif", "markdown", NULL};

static const struct {
	const char *name;
	enum report_format format;
} format_names[] = {
	{"text", REPORT_TEXT},	       {"table", REPORT_TEXT},
	{"json", REPORT_JSON},	       {"github", REPORT_GITHUB},
	{"junit", REPORT_JUNIT},       {"sarif", REPORT_SARIF},
	{"markdown", REPORT_MARKDOWN},
};

int
report_format_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]);
	     i++)
		if (strcmp(format_names[i].name, name) == 0)
			return (int)format_names[i].format;
	return -1;
}

struct report *
report_new(const char *command)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		cli_out_of_memory();
	r->command = command;
	return r;
}

struct report_case *
report_add_case(struct report *r)
{
	struct report_case *c;

	r->cases = cli_realloc(r->cases, r->n_cases + 1, sizeof(*r->cases));
	c = &r->cases[r->n_cases++];
	memset(c, 0, sizeof(*c));
	return c;
}

struct report_finding *
report_add_finding(struct report *r)
{
	struct report_finding *f;

	r->findings = cli_realloc(r->findings, r->n_findings + 1,
				  sizeof(*r->findings));
	f = &r->findings[r->n_findings++];
	memset(f, 0, sizeof(*f));
	f->testcase = -1;
	f->root = -1;
	return f;
}

void
report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_cases; i++) {
		free(r->cases[i].name);
		free(r->cases[i].file);
		free(r->cases[i].status);
		free(r->cases[i].skipped);
	}
	for (size_t i = 0; i < r->n_findings; i++) {
		struct report_finding *f = &r->findings[i];

		free(f->rule);
		free(f->title);
		free(f->message);
		free(f->detail);
		free(f->hint);
		free(f->context);
		free(f->sqlstate);
		free(f->file);
	}
	free(r->cases);
	free(r->findings);
	free(r->headline);
	free(r);
}

const char *
report_root_name(const struct report *r, const struct report_finding *x)
{
	const struct report_finding *root;

	if (x->root < 0)
		return "";
	root = &r->findings[x->root];
	return root->testcase >= 0 ? r->cases[root->testcase].name :
				     root->message;
}

bool
report_put_entity(FILE *f, char c)
{
	switch (c) {
	case '&':
		fputs("&amp;", f);
		return true;
	case '<':
		fputs("&lt;", f);
		return true;
	case '>':
		fputs("&gt;", f);
		return true;
	case '"':
		fputs("&quot;", f);
		return true;
	default:
		return false;
	}
}

void
report_render(FILE *f, enum report_format format, const struct report *r)
{
	switch (format) {
	case REPORT_GITHUB:
		report_github(f, r);
		break;
	case REPORT_JUNIT:
		report_junit(f, r);
		break;
	case REPORT_SARIF:
		report_sarif(f, r);
		break;
	case REPORT_MARKDOWN:
		report_markdown(f, r);
		break;
	default:
		break;
	}
}

/*
 * Splits "FORMAT:FILE" (the first ':' separates them, so the file may hold
 * colons).  Returns the format or -1; *file points into arg.
 */
static int
split_arg(const char *arg, const char **file)
{
	const char *colon = strchr(arg, ':');
	char name[16];
	size_t len;
	int fmt;

	if (!colon || colon[1] == '\0')
		return -1;
	len = (size_t)(colon - arg);
	if (len >= sizeof(name))
		return -1;
	memcpy(name, arg, len);
	name[len] = '\0';
	fmt = report_format_parse(name);
	if (fmt == REPORT_TEXT || strcmp(name, "table") == 0)
		return -1;
	*file = colon + 1;
	return fmt;
}

/* The directory part of path (caller frees). */
static char *
dir_of(const char *path)
{
	char *copy = cli_asprintf("%s", path);
	char *dir = cli_asprintf("%s", dirname(copy));

	free(copy);
	return dir;
}

int
report_check_args(const struct cli_list *args)
{
	for (size_t i = 0; i < args->n; i++) {
		const char *file = NULL;
		struct stat st;
		char *dir;

		if (split_arg(args->items[i], &file) < 0) {
			cli_error("invalid --report '%s'", args->items[i]);
			fprintf(stderr,
				"hint: use FORMAT:FILE with FORMAT one of json, github, junit, sarif, markdown ('-' as FILE is stdout)\n");
			return CF_EXIT_USAGE;
		}
		if (strcmp(file, "-") == 0)
			continue;
		dir = dir_of(file);
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			cli_error("cannot write report '%s': directory '%s' "
				  "does not exist",
				  file, dir);
			fprintf(stderr, "hint: create it first (mkdir -p)\n");
			free(dir);
			return CF_EXIT_USAGE;
		}
		free(dir);
	}
	return 0;
}

bool
report_wanted(const struct cli_list *args, enum report_format format)
{
	for (size_t i = 0; i < args->n; i++) {
		const char *file;

		if (split_arg(args->items[i], &file) == (int)format)
			return true;
	}
	return false;
}

static void
render_any(FILE *f, enum report_format format, const struct report *r,
	   json_t *json)
{
	if (format == REPORT_JSON) {
		cli_json_dumpf(json, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', f);
	} else {
		report_render(f, format, r);
	}
}

/*
 * Writes one report to path: a new file (O_EXCL, so nothing is followed)
 * next to it, flushed and synced, then renamed over path.  rename()
 * replaces a symlink at path instead of writing through it.
 */
static int
write_atomic(const char *path, enum report_format format,
	     const struct report *r, json_t *json)
{
	char *dir = dir_of(path);
	char *tmp = cli_asprintf("%s/.confiture-report.XXXXXX", dir);
	mode_t mask = umask(0);
	int fd, saved;
	FILE *f;

	umask(mask);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto fail;
	/* mkstemp makes 0600; a report is as readable as any output file */
	if (fchmod(fd, 0666 & ~mask) < 0 || !(f = fdopen(fd, "w"))) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail_unlink;
	}
	render_any(f, format, r, json);
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
		saved = errno;
		fclose(f);
		errno = saved;
		goto fail_unlink;
	}
	if (fclose(f) != 0)
		goto fail_unlink;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	free(tmp);
	free(dir);
	return 0;

fail_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
fail:
	cli_error("cannot write report '%s': %s", path, strerror(errno));
	free(tmp);
	free(dir);
	return CF_EXIT_USAGE;
}

int
report_write_all(const struct cli_list *args, const struct report *r,
		 json_t *json)
{
	int rc = 0;

	for (size_t i = 0; i < args->n; i++) {
		const char *file = NULL;
		int format = split_arg(args->items[i], &file);

		if (format < 0)
			continue; /* report_check_args() said so already */
		if (strcmp(file, "-") == 0) {
			render_any(stdout, (enum report_format)format, r, json);
			fflush(stdout);
		} else if (write_atomic(file, (enum report_format)format, r,
					json) != 0) {
			rc = CF_EXIT_USAGE;
		}
	}
	return rc;
}

bool
report_needs_json(int format, const struct cli_list *args)
{
	return format == REPORT_JSON || report_wanted(args, REPORT_JSON);
}

bool
report_needs_report(int format, const struct cli_list *args)
{
	return format > REPORT_JSON || args->n > 0;
}

int
report_finish(int format, const struct cli_list *args, struct report *rep,
	      json_t *json)
{
	int rc;

	if (format != REPORT_TEXT)
		render_any(stdout, (enum report_format)format, rep, json);
	fflush(stdout);
	rc = report_write_all(args, rep, json);
	report_free(rep);
	json_decref(json);
	return rc;
}
