/*
 * cmd_migrate_lint.c — `confiture migrate lint [FILE...]`: deploy-safety
 * rules on the migration files (lint/ in the library).  Without files it
 * lints the pending migrations when the database is reachable, else every
 * migration.  Exit 1 on an error finding (on a warning too with --strict),
 * 2 on usage and configuration errors.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char *
severity_name(cf_lint_severity s)
{
	return s == CF_LINT_ERROR ? "error" : "warning";
}

/* Splits a comma-separated list into a NULL-terminated array of strings
 * (the array and the copy are freed together with free_list()). */
static char **
split_list(const char *s)
{
	char *copy, *tok, *save = NULL;
	char **out;
	size_t n = 0;

	if (!s)
		return NULL;
	copy = strdup(s);
	out = calloc(strlen(s) + 2, sizeof(char *));
	if (!copy || !out) {
		cli_error("out of memory");
		exit(CF_EXIT_USAGE);
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	out[n] = NULL;
	if (n == 0)
		free(copy);
	return out;
}

static void
free_list(char **l)
{
	if (l && l[0])
		free(l[0]);
	free(l);
}

static int
list_rules(bool json)
{
	size_t n;
	const cf_lint_rule *t = cf_lint_rules(&n);
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		if (json) {
			json_t *o = json_object();

			json_object_set_new(o, "rule", json_string(t[i].id));
			json_object_set_new(
				o, "severity",
				json_string(severity_name(t[i].severity)));
			json_object_set_new(o, "summary",
					    json_string(t[i].summary));
			json_object_set_new(o, "docs", json_string(t[i].docs));
			json_array_append_new(arr, o);
		} else {
			printf("%-30s %-8s %s\n", t[i].id,
			       severity_name(t[i].severity), t[i].summary);
		}
	}
	if (json) {
		json_t *doc = json_object();

		json_object_set_new(doc, "rules", arr);
		cli_json_print(doc);
	} else {
		json_decref(arr);
	}
	return CF_EXIT_OK;
}

static json_t *
result_json(const cf_lint_result *r)
{
	json_t *doc = json_object(), *fs = json_array(), *nl = json_array();

	for (size_t i = 0; i < r->n_findings; i++) {
		const cf_lint_finding *f = &r->findings[i];
		json_t *o = json_object();

		json_object_set_new(o, "rule", json_string(f->rule));
		json_object_set_new(o, "severity",
				    json_string(severity_name(f->severity)));
		json_object_set_new(o, "file", json_string(f->file));
		json_object_set_new(o, "line", json_integer(f->line));
		json_object_set_new(o, "column", json_integer(f->column));
		json_object_set_new(o, "message", json_string(f->message));
		json_object_set_new(o, "suggestion",
				    json_string(f->suggestion));
		json_object_set_new(o, "docs", json_string(f->docs));
		json_array_append_new(fs, o);
	}
	for (size_t i = 0; i < r->n_not_linted; i++) {
		const cf_lint_unread *u = &r->not_linted[i];
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(u->file));
		json_object_set_new(o, "line", json_integer(u->line));
		json_object_set_new(o, "column", json_integer(u->column));
		json_object_set_new(o, "reason", json_string(u->reason));
		json_array_append_new(nl, o);
	}
	json_object_set_new(doc, "findings", fs);
	json_object_set_new(doc, "pg_version", json_integer(r->pg_major));
	json_object_set_new(doc, "pg_version_assumed",
			    json_boolean(r->pg_assumed));
	json_object_set_new(doc, "not_linted", nl);
	json_object_set_new(doc, "errors", json_integer((json_int_t)r->errors));
	json_object_set_new(doc, "warnings",
			    json_integer((json_int_t)r->warnings));
	json_object_set_new(doc, "files", json_integer((json_int_t)r->files));
	return doc;
}

static void
result_text(const cf_lint_result *r)
{
	FILE *o = stdout;
	const char *file = NULL;
	char *detail = NULL;
	size_t cap = 0;

	printf("target: PostgreSQL %d%s\n", r->pg_major,
	       r->pg_assumed ? " (assumed: no connection, --pg-version or "
			       "postgres_version)" :
			       "");
	for (size_t i = 0; i < r->n_findings; i++) {
		const cf_lint_finding *f = &r->findings[i];
		cf_error e = {0};
		size_t nr = strlen(f->rule), nd = strlen(f->docs);

		/* "rule %s, see %s", without printf: thousands of findings */
		if (nr + nd + 12 > cap) {
			cap = 2 * (nr + nd + 12);
			detail = cli_realloc(detail, cap, 1);
		}
		memcpy(detail, "rule ", 5);
		memcpy(detail + 5, f->rule, nr);
		memcpy(detail + 5 + nr, ", see ", 6);
		memcpy(detail + 11 + nr, f->docs, nd + 1);

		if (!file || strcmp(file, f->file) != 0) {
			char *name = cli_escape(f->file, false);

			file = f->file;
			fprintf(o, "\n%s%s%s\n", cli_c(o, "bold"), name,
				cli_c(o, "reset"));
			free(name);
		}
		/* the excerpt and caret are rendered as for errors */
		e.severity = f->severity == CF_LINT_ERROR ? CF_SEV_ERROR :
							    CF_SEV_WARNING;
		e.message = f->message;
		e.file = f->file;
		e.line = f->line;
		e.column = f->column;
		e.excerpt = f->excerpt;
		e.excerpt_column = f->excerpt_column;
		e.detail = detail;
		e.hint = (char *)f->suggestion; /* only read */
		cli_print_error_indented(o, &e, "  ");
	}
	free(detail);
	for (size_t i = 0; i < r->n_not_linted; i++) {
		const cf_lint_unread *u = &r->not_linted[i];
		char *name = cli_escape(u->file, false);
		char *reason = cli_escape(u->reason, false);

		printf("not linted: %s:%d:%d: %s\n", name, u->line, u->column,
		       reason);
		free(name);
		free(reason);
	}
	printf("%s%zu file%s, %zu error%s, %zu warning%s, %zu statement%s "
	       "not linted\n",
	       r->n_findings ? "\n" : "", r->files, r->files == 1 ? "" : "s",
	       r->errors, r->errors == 1 ? "" : "s", r->warnings,
	       r->warnings == 1 ? "" : "s", r->n_not_linted,
	       r->n_not_linted == 1 ? "" : "s");
}

/* Whether a database is named (file, option or environment). */
static bool
has_database(const cf_session *s)
{
	const cf_config *cfg = cf_session_config(s);

	return cfg->database_url && *cfg->database_url;
}

/*
 * Fills paths with the files to lint: the pending migrations when the
 * database answers, else every migration (with a warning); context with
 * the applied ones (read for what they define).  Connecting also gives
 * the target's major.
 */
static void
migration_files(cf_session *s, const char ***paths, size_t *n,
		const char ***context)
{
	cf_migration_set *set = cf_session_migrations(s);
	cf_status *st = NULL;
	cf_error *err = NULL;
	size_t nc = 0;

	*paths = calloc(set->n + 1, sizeof(char *));
	*context = calloc(set->n + 1, sizeof(char *));
	*n = 0;
	if (!*paths || !*context) {
		cli_error("out of memory");
		exit(CF_EXIT_USAGE);
	}
	if (has_database(s) && cf_session_status(s, &st, &err) < 0) {
		cli_warning("cannot read the database (%s): linting every "
			    "migration",
			    err->message);
		cf_error_free(err);
	}
	for (size_t i = 0; i < set->n; i++) {
		const cf_migration *m = &set->items[i];
		bool pending = true;

		for (size_t k = 0; st && k < st->n; k++)
			if (strcmp(st->entries[k].version, m->version) == 0)
				pending = st->entries[k].state ==
					  CF_STATE_PENDING;
		if (m->up_path && pending)
			(*paths)[(*n)++] = m->up_path;
		else if (m->up_path)
			(*context)[nc++] = m->up_path;
	}
	cf_status_free(st);
}

int
cmd_migrate_lint(int argc, const char **argv)
{
	struct cli_env_opts eo = {.format = "text"};
	struct cli_list reports = {0};
	const char *select = NULL, *ignore = NULL;
	bool strict = false, rules = false;
	const struct cli_option options[] = {
		CLI_ENV_OPTIONS(&eo),
		OPT_INT(0, "pg-version", &eo.postgres_version, "MAJOR",
			"target's PostgreSQL major when not connected"),
		OPT_STRING(0, "select", &select, "RULE[,RULE]",
			   "run only these rules"),
		OPT_STRING(0, "ignore", &ignore, "RULE[,RULE]",
			   "do not run these rules"),
		OPT_BOOL(0, "list-rules", &rules, "list the rules and exit"),
		OPT_BOOL(0, "strict", &strict, "exit 1 on warnings too"),
		REPORT_OPTIONS(&eo.format, &reports),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture migrate lint [<options>] [FILE...]",
		"confiture migrate lint --list-rules", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Checks migrations for statements that are unsafe to deploy on a\n"
		"busy database (long locks, table rewrites, breaking renames), for\n"
		"the target's PostgreSQL major: the connected server's, else\n"
		"--pg-version, else the environment's postgres_version. Without\n"
		"FILE it lints the pending migrations (every migration when the\n"
		"database cannot be read). Silence one statement with\n"
		"\"-- confiture:ignore RULE[,RULE] reason\" on the line before it.\n"
		"Statements the parser cannot read are listed as not linted.\n"
		"Exit status 0 when clean, 1 on an error finding (or a warning\n"
		"with --strict), 2 on usage and configuration errors. Formats as\n"
		"for preflight: text (table), json, github, junit, sarif, markdown.\n"
		"Rules are described in docs/lint.md.",
		options};
	cf_lint_options lo = {0};
	cf_lint_result *r = NULL;
	cf_session *s = NULL;
	cf_error *err = NULL;
	const char **paths = NULL, **context = NULL;
	char **sel, **ign;
	size_t n = 0;
	int npos = 0, rc, fmt;

	rc = cli_parse(argc, argv, &usage, &npos);
	if (rc == CLI_PARSE_HELP)
		return CF_EXIT_OK;
	if (rc == CLI_PARSE_ERROR)
		return CF_EXIT_USAGE;
	if ((rc = report_check_args(&reports)) != 0)
		return rc;
	fmt = report_format_parse(eo.format);
	if (rules)
		return list_rules(cli_json(&eo));
	if (npos > 0) {
		paths = argv;
		n = (size_t)npos;
		/* a named environment still gives the target's major */
		if ((eo.env || eo.config || eo.database_url) &&
		    (rc = cli_open_session(&eo, &s)) != 0)
			return rc;
		if (s && has_database(s)) {
			cf_status *st = NULL;

			if (cf_session_status(s, &st, &err) < 0) {
				cli_warning("cannot read the database (%s)",
					    err->message);
				cf_error_free(err);
				err = NULL;
			}
			cf_status_free(st);
		}
	} else {
		if ((rc = cli_open_session(&eo, &s)) != 0)
			return rc;
		migration_files(s, &paths, &n, &context);
		lo.context = context;
	}
	lo.pg_major = s ? cf_session_target_major(s) : eo.postgres_version;
	if (s) {
		lo.grades = cf_session_config(s)->lint_grades;
		lo.n_grades = cf_session_config(s)->n_lint_grades;
	}
	sel = split_list(select);
	ign = split_list(ignore);
	lo.select = (const char *const *)sel;
	lo.ignore = (const char *const *)ign;
	if (cf_lint_files(paths, n, &lo, &r, &err) < 0) {
		rc = cli_fail(err, cli_json(&eo));
	} else {
		json_t *doc = report_needs_json(fmt, &reports) ?
				      result_json(r) :
				      NULL;
		struct report *rep = report_needs_report(fmt, &reports) ?
					     report_from_lint(r, paths, n,
							      strict) :
					     NULL;
		int wrc;

		if (fmt == REPORT_TEXT)
			result_text(r);
		wrc = report_finish(fmt, &reports, rep, doc);
		rc = wrc				  ? wrc :
		     r->errors || (strict && r->warnings) ? CF_EXIT_FAILURE :
							    CF_EXIT_OK;
	}
	cf_lint_result_free(r);
	free_list(sel);
	free_list(ign);
	if (npos == 0)
		free(paths);
	free(context);
	cf_session_free(s);
	return rc;
}
