/*
 * report.h — CI report formats for the commands that check migrations
 * (preflight, status, lint): GitHub workflow commands, JUnit XML,
 * SARIF 2.1.0 and a Markdown summary.
 *
 * A command turns its library result into a struct report (one builder per
 * command: report_from_preflight(), report_from_status(); a lint command
 * adds its own) and hands it to report_render() for stdout and to
 * report_write_all() for the --report FORMAT:FILE files.  Renderers only
 * see struct report, so a new command needs a builder and nothing else.
 */
#ifndef CF_CLI_REPORT_H
#define CF_CLI_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"

enum report_format {
	REPORT_TEXT = 0, /* the command's own text output ("table" too) */
	REPORT_JSON,
	REPORT_GITHUB,
	REPORT_JUNIT,
	REPORT_SARIF,
	REPORT_MARKDOWN,
};

/* Choices for --format of the reporting commands. */
extern const char *const report_format_choices[];

enum report_level {
	REPORT_NOTE = 0,
	REPORT_WARNING,
	REPORT_ERROR,
};

/* One diagnostic at a place: an annotation, a SARIF result. */
struct report_finding {
	enum report_level level;
	char *rule;    /* stable id, e.g. "syntax-error", "sql-error" */
	char *title;   /* short, e.g. "002_add_fk: root cause" */
	char *message; /* primary message, one line */
	char *detail;  /* may be NULL, as the next four */
	char *hint;
	char *context;
	char *sqlstate;
	char *file;
	int line, column; /* 0 when unknown */
	long testcase;	  /* index in cases[] it belongs to, or -1 */
	long root;	  /* for a consequence: the root's finding, else -1 */
	bool artifact;	  /* exists only in savepoint mode */
	bool root_cause;  /* a replay failure of its own making */
};

enum report_case_state {
	REPORT_CASE_PASSED = 0,
	REPORT_CASE_FAILED,
	REPORT_CASE_SKIPPED,
};

/* One migration (or, for lint, one finding): a JUnit testcase. */
struct report_case {
	char *name;   /* "<version>_<name>" */
	char *file;   /* its .up.sql, or NULL */
	char *status; /* words for the summary: "passed", "pending", ... */
	enum report_case_state state;
	char *skipped; /* reason when SKIPPED */
	double time_ms;
};

struct report {
	const char *command; /* "preflight", "status", "lint" */
	char *headline;	     /* one line saying how it went */
	bool ok;	     /* the command's verdict (exit 0) */
	struct report_case *cases;
	size_t n_cases;
	struct report_finding *findings;
	size_t n_findings;
};

/* --format and --report of a reporting command, as in CLI_ENV_OPTIONS. */
#define REPORT_OPTIONS(format, reports)                                       \
	OPT_CHOICE('f', "format", (format), "FORMAT",                         \
		   "text (or table), json, github, junit, sarif or markdown", \
		   report_format_choices),                                    \
		OPT_LIST(0, "report", (reports), "FORMAT:FILE",               \
			 "also write FORMAT to FILE, atomically (repeatable)")

/* report.c: the model, format names and output files */

/* "github" etc. to a format; -1 when unknown. */
int report_format_parse(const char *name);
/* A new empty report for command (static string); free with report_free(). */
struct report *report_new(const char *command);
/* Appends a case / finding and returns it zeroed (indexes set to -1);
 * the pointer is valid until the next append. */
struct report_case *report_add_case(struct report *r);
struct report_finding *report_add_finding(struct report *r);
void report_free(struct report *r);

/* For a consequence: the name of the migration it follows (its root's
 * case), else the root's message; "" when x is no consequence. */
const char *report_root_name(const struct report *r,
			     const struct report_finding *x);

/* Writes c as an XML/HTML character reference when it is one of & < > ";
 * returns whether it did. */
bool report_put_entity(FILE *f, char c);

/* Renders r in format (not TEXT or JSON) to f. */
void report_render(FILE *f, enum report_format format, const struct report *r);

/*
 * Checks every --report FORMAT:FILE argument before the command runs: the
 * format is known and the file's directory exists.  Prints the error and
 * returns CF_EXIT_USAGE, or 0.
 */
int report_check_args(const struct cli_list *args);
/* Whether any --report argument asks for format. */
bool report_wanted(const struct cli_list *args, enum report_format format);
/*
 * Writes every --report file: each through a temporary file in the target
 * directory renamed over the destination (a symlink there is replaced, never
 * followed); "-" is stdout.  json is the command's JSON document for
 * "json:FILE" (may be NULL when not wanted).  Returns 0, or CF_EXIT_USAGE
 * after printing what could not be written.
 */
int report_write_all(const struct cli_list *args, const struct report *r,
		     json_t *json);

/*
 * What a command needs to build for its --format and --report arguments:
 * its JSON document, and/or a struct report.
 */
bool report_needs_json(int format, const struct cli_list *args);
bool report_needs_report(int format, const struct cli_list *args);
/*
 * Prints the document or the report on stdout for a non-text format (the
 * command prints its own text before), writes the --report files and frees
 * rep and json.  Returns 0, or CF_EXIT_USAGE when a file was not written.
 */
int report_finish(int format, const struct cli_list *args, struct report *rep,
		  json_t *json);

/* report_build.c: builders, one per command */

/* strict: --strict (warnings fail); down_strict: --check-down verdicts
 * fail (--strict or preflight.check_down_strict) */
struct report *report_from_preflight(const cf_preflight_result *pr, bool strict,
				     bool down_strict);
struct report *report_from_status(const cf_status *st,
				  const cf_migration_set *set);
/* One case per linted file (files[0..n_files)), a finding per lint finding
 * and per statement not linted; strict: warnings fail too. */
struct report *report_from_lint(const cf_lint_result *lr,
				const char *const *files, size_t n_files,
				bool strict);

/* one file per format */
void report_github(FILE *f, const struct report *r);
void report_junit(FILE *f, const struct report *r);
void report_sarif(FILE *f, const struct report *r);
void report_markdown(FILE *f, const struct report *r);

#endif /* CF_CLI_REPORT_H */
