/*
 * cli.h — the confiture command-line program: option parsing, rendering and
 * one cmd_* function per (sub)command.  Only the CLI prints and chooses exit
 * codes; everything else lives in libconfiture.
 */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "confiture.h"

/* ---- options.c: declarative option parsing (git's parse-options, small) */

enum cli_opt_type {
	CLI_OPT_END = 0,
	CLI_OPT_BOOL,	/* sets a bool */
	CLI_OPT_STRING, /* stores a borrowed argv pointer */
	CLI_OPT_INT,	/* parses a non-negative int */
	CLI_OPT_CHOICE, /* string restricted to choices */
	CLI_OPT_LIST,	/* repeatable string: appends to a struct cli_list */
};

/* The values of a repeatable option, in order; items borrow argv.  A
 * fixed array: nothing to free on any return path. */
#define CLI_LIST_MAX 16
struct cli_list {
	const char *items[CLI_LIST_MAX];
	size_t n;
};

struct cli_option {
	enum cli_opt_type type;
	char short_name;
	const char *long_name;
	void *value;
	const char *argh; /* argument placeholder for help, e.g. "NAME" */
	const char *help;
	const char *const *choices; /* NULL-terminated, for CHOICE */
};

#define OPT_BOOL(s, l, v, h)                                 \
	{                                                    \
		CLI_OPT_BOOL, (s), (l), (v), NULL, (h), NULL \
	}
#define OPT_STRING(s, l, v, a, h)                             \
	{                                                     \
		CLI_OPT_STRING, (s), (l), (v), (a), (h), NULL \
	}
#define OPT_INT(s, l, v, a, h)                             \
	{                                                  \
		CLI_OPT_INT, (s), (l), (v), (a), (h), NULL \
	}
#define OPT_CHOICE(s, l, v, a, h, c)                         \
	{                                                    \
		CLI_OPT_CHOICE, (s), (l), (v), (a), (h), (c) \
	}
#define OPT_LIST(s, l, v, a, h)                             \
	{                                                   \
		CLI_OPT_LIST, (s), (l), (v), (a), (h), NULL \
	}
#define OPT_END()                                            \
	{                                                    \
		CLI_OPT_END, 0, NULL, NULL, NULL, NULL, NULL \
	}

/* A command's usage: synopsis lines, a description paragraph, options. */
struct cli_usage {
	const char *const *synopsis; /* NULL-terminated */
	const char *description;
	const struct cli_option *options;
};

enum {
	CLI_PARSE_OK = 0,
	CLI_PARSE_HELP = 1,  /* --help was printed: exit 0 */
	CLI_PARSE_ERROR = -1 /* message printed: exit 2 */
};

/*
 * Parses argv[0..argc) (argv[0] is the command name and is skipped).
 * Positional arguments are compacted to the front of argv; their count is
 * stored in *npos.  Options may follow positionals; "--" ends options.
 */
int cli_parse(int argc, const char **argv, const struct cli_usage *usage,
	      int *npos);
void cli_print_usage(FILE *out, const struct cli_usage *usage);
/* cli_parse() for commands without positional arguments: -1 to go on,
 * else the exit code to return (help printed, or a usage error). */
int cli_parse_no_args(int argc, const char **argv,
		      const struct cli_usage *usage);

/* ---- output.c: colour, messages, errors, JSON */

enum cli_color {
	CLI_COLOR_AUTO = 0,
	CLI_COLOR_ALWAYS,
	CLI_COLOR_NEVER
};

/* Decides once whether stdout/stderr get colour (TTY, NO_COLOR, --color). */
void cli_color_setup(enum cli_color mode);
/* Escape sequences, or "" when colour is off for that stream. */
const char *
cli_c(FILE *f,
      const char *what); /* "red" "green" "yellow" "bold" "dim" "reset" */

/* s with control characters as \xNN (newlines kept when multiline), for
 * the terminal.  Caller frees; NULL gives NULL. */
char *cli_escape(const char *s, bool multiline);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a structured error (message, location, excerpt, detail, hint). */
void cli_print_error(FILE *f, const cf_error *e);
/* The same, every line prefixed with indent (to nest under a heading). */
void cli_print_error_indented(FILE *f, const cf_error *e, const char *indent);
/* Prints every diagnostic of a list, errors and warnings. */
void cli_print_problems(FILE *f, const cf_error_list *list);
/* A JSON object for an error (redaction already done by the library). */
json_t *cli_error_json(const cf_error *e);
json_t *cli_problems_json(const cf_error_list *list);
/* json_dumpf()'s output byte for byte, written here into one buffer
 * (one fwrite per 64 KB); doc stays the caller's. */
int cli_json_dumpf(const json_t *doc, FILE *f, size_t flags);
/* Prints a JSON document to stdout (indented) and frees it. */
void cli_json_print(json_t *doc);
/* Renders the error and returns its exit code; frees it. */
int cli_fail(cf_error *e, bool json);

/* ---- util.c: allocation that never returns NULL */

char *cli_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* realloc() of an array of n items of size bytes; the result is the
 * caller's (free()). */
void *cli_realloc(void *p, size_t n, size_t size);
/* Says so and exits with status 2. */
void cli_out_of_memory(void) __attribute__((noreturn));

/* ---- shared option block for commands that use a database / project */

struct cli_env_opts {
	const char *env;
	const char *config;
	const char *database_url;
	const char *migrations_dir;
	const char *project_dir;
	const char *format;   /* "text" or "json" */
	int postgres_version; /* --postgres-version, 0 when not given */
};

extern const char *const cli_format_choices[];

#define CLI_ENV_OPTIONS(o)                                                               \
	OPT_STRING('e', "env", &(o)->env, "NAME",                                        \
		   "environment: db/environments/NAME.yaml"),                            \
		OPT_STRING('c', "config", &(o)->config, "PATH",                          \
			   "environment file to use instead of --env"),                  \
		OPT_STRING(                                                              \
			0, "database-url", &(o)->database_url, "URL",                    \
			"database URL (overrides the file and CONFITURE_DATABASE_URL)"), \
		OPT_STRING(0, "migrations-dir", &(o)->migrations_dir, "DIR",             \
			   "migration files (default db/migrations)"),                   \
		OPT_STRING('C', "project-dir", &(o)->project_dir, "DIR",                 \
			   "project root holding db/ (default .)"),                      \
		OPT_INT(0, "postgres-version", &(o)->postgres_version,                   \
			"MAJOR",                                                         \
			"target's PostgreSQL major, for syntax checks when not connected")

/* Opens a session from the shared options; prints errors; returns exit code
 * (0 on success). */
int cli_open_session(const struct cli_env_opts *o, cf_session **out);
bool cli_json(const struct cli_env_opts *o);

/* ---- preflight_down.c: --check-down verdicts */

/* against.migrations[].down, or NULL when the down was not checked. */
json_t *cli_down_json(const cf_down_check *d);
/* Migrations whose verdict is not "reversible" (of those checked). */
size_t cli_down_problems(const cf_preflight_result *r);
void cli_print_downs(FILE *f, const cf_preflight_result *r);

/* ---- preflight_risk.c: deploy risk (docs/risk.md) */

/* Adds statements[], tier and est_lock_ms to a migration's JSON object
 * (against.migrations[]); the statement objects may gain keys. */
void cli_risk_migration_json(json_t *j, const cf_preflight_migration *pm,
			     bool traced);
/* against.trace: whether traced, notes, sizes' source, calibration. */
json_t *cli_risk_trace_json(const cf_preflight_result *r);
/* The top-level change_set, or NULL when not traced: the default
 * envelope stays {static, against} (t0610). */
json_t *cli_change_set_json(const cf_preflight_result *r);
/* "Deploy risk": the riskiest statements first. */
void cli_print_risk(FILE *f, const cf_preflight_result *r);

/* ---- preflight_drift.c: --explain-drift */

/* When r has failures, runs drift with opts and adds what it explains to
 * the failures' hints; a drift error is only a warning. */
void cli_explain_drift(cf_session *s, cf_preflight_result *r,
		       const cf_drift_options *opts);

/* ---- commands */

/* How this program was run (main's argv[0]), to run it again. */
extern const char *cli_program;

typedef int (*cli_cmd_fn)(int argc, const char **argv);

int cmd_cache(int argc, const char **argv);
int cmd_completion(int argc, const char **argv);
int cmd_init(int argc, const char **argv);
int cmd_migrate(int argc, const char **argv);
int cmd_migrate_status(int argc, const char **argv);
int cmd_migrate_up(int argc, const char **argv);
int cmd_migrate_down(int argc, const char **argv);
int cmd_migrate_baseline(int argc, const char **argv);
int cmd_migrate_generate(int argc, const char **argv);
int cmd_migrate_preflight(int argc, const char **argv);
int cmd_migrate_drift(int argc, const char **argv);
int cmd_migrate_lint(int argc, const char **argv);
int cmd_server(int argc, const char **argv);

/* progress.c: a progress line on a terminal (stderr) for long steps */
struct cli_tty_progress {
	bool on;
	bool drawn;
	size_t total, done;
	double t0;
};
/* Sets p's callbacks when text_output and stderr is a terminal. */
void cli_tty_progress_init(cf_progress *p, struct cli_tty_progress *st,
			   bool text_output);
/* Sets po's dump load progress when st is on (cli_tty_progress_init). */
void cli_tty_progress_load(cf_provision_options *po,
			   struct cli_tty_progress *st);
/* Erases the progress line, if one was drawn. */
void cli_tty_progress_end(struct cli_tty_progress *st);

/* cmd_migrate_up.c: progress printing shared by up, down and baseline */
struct cli_progress_state {
	bool json;
	const char *verb; /* "applied", "rolled back", "recorded" */
	int lock_reports; /* lock-wait lines printed so far */
	long lock_pid;	  /* holder in the last one */
	double lock_reported_ms;
};
void cli_progress_init(cf_progress *p, struct cli_progress_state *st);
json_t *cli_run_result_json(const cf_run_result *r, const char *action);
int cli_run_exit(const cf_run_result *r);
/* Shared body of up, down and baseline; action is "up", "down" or
 * "baseline". */
int cli_run_command(int argc, const char **argv, const char *action);

#endif /* CF_CLI_H */
