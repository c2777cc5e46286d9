/*
 * cmd_migrate_preflight.c — `confiture migrate preflight`: renders the
 * static checks and the replay report, in text or in the Python tool's
 * JSON envelope {"static": ..., "against": ...}.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

static const char *const mode_choices[] = {"auto", "clone", "savepoint", NULL};

static const char *
mode_name(cf_preflight_mode m)
{
	return m == CF_PREFLIGHT_CLONE	   ? "clone" :
	       m == CF_PREFLIGHT_SAVEPOINT ? "savepoint" :
					     "auto";
}

static bool
all_reversible(const cf_preflight_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->migrations[i].has_down)
			return false;
	return true;
}

static bool
all_transactional(const cf_preflight_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->migrations[i].transactional)
			return false;
	return true;
}

/* The Python tool's definition, plus "no static errors". */
static bool
safe_to_deploy(const cf_preflight_result *r)
{
	return r->static_ok && all_reversible(r) && all_transactional(r) &&
	       r->n_duplicates == 0 && !r->checksum_mismatches[0];
}

static json_t *
strv_json(char **v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
static_json(const cf_preflight_result *r)
{
	json_t *o = json_object(), *list = json_array(), *dups = json_object();

	json_object_set_new(o, "safe_to_deploy",
			    json_boolean(safe_to_deploy(r)));
	json_object_set_new(o, "all_reversible",
			    json_boolean(all_reversible(r)));
	json_object_set_new(o, "all_transactional",
			    json_boolean(all_transactional(r)));
	json_object_set_new(o, "has_duplicates",
			    json_boolean(r->n_duplicates > 0));
	json_object_set_new(o, "has_checksum_mismatches",
			    json_boolean(r->checksum_mismatches[0] != NULL));
	json_object_set_new(o, "checksum_verified",
			    json_boolean(r->checksum_verified));
	for (size_t i = 0; i < r->n; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];
		const cf_migration *m = pm->migration;
		json_t *j = json_object();

		json_object_set_new(j, "version", json_string(m->version));
		json_object_set_new(j, "name", json_string(m->name));
		json_object_set_new(j, "has_down", json_boolean(pm->has_down));
		json_object_set_new(j, "reversible",
				    json_boolean(pm->has_down));
		json_object_set_new(j, "fully_transactional",
				    json_boolean(pm->transactional));
		json_object_set_new(j, "non_transactional_statements",
				    strv_json(pm->non_transactional));
		json_object_set_new(j, "checksum",
				    m->checksum[0] ? json_string(m->checksum) :
						     json_null());
		json_array_append_new(list, j);
	}
	json_object_set_new(o, "migrations", list);
	for (size_t i = 0; i < r->n_duplicates; i++)
		json_object_set_new(dups, r->duplicates[i].version,
				    strv_json(r->duplicates[i].files));
	json_object_set_new(o, "duplicate_versions", dups);
	json_object_set_new(o, "checksum_mismatches",
			    strv_json(r->checksum_mismatches));
	/* additions */
	json_object_set_new(o, "errors",
			    json_integer((json_int_t)cf_error_list_count(
				    &r->problems, CF_SEV_ERROR)));
	json_object_set_new(o, "warnings",
			    json_integer((json_int_t)r->static_warnings));
	json_object_set_new(o, "problems", cli_problems_json(&r->problems));
	return o;
}

static void
set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void
set_int(json_t *o, const char *k, int v)
{
	json_object_set_new(o, k, v > 0 ? json_integer(v) : json_null());
}

/* against.migrations[].dependents: what depended on what a statement
 * replaced, dropped or retyped, read just before it ran. */
static json_t *
dependents_json(const cf_preflight_migration *pm)
{
	json_t *list = json_array();

	for (size_t i = 0; i < pm->n_dependents; i++) {
		const cf_statement_dependents *d = &pm->dependents[i];
		json_t *o = json_object(), *items = json_array();

		json_object_set_new(o, "statement_index",
				    json_integer(d->statement_index));
		json_object_set_new(o, "line", json_integer(d->line));
		set_str(o, "object_kind", d->object_kind);
		set_str(o, "object", d->object);
		for (size_t k = 0; k < d->n; k++) {
			json_t *it = json_object();

			set_str(it, "kind", d->items[k].kind);
			set_str(it, "name", d->items[k].name);
			set_str(it, "via", d->items[k].via);
			json_object_set_new(it, "stored",
					    json_boolean(d->items[k].stored));
			json_array_append_new(items, it);
		}
		json_object_set_new(o, "dependents", items);
		json_array_append_new(list, o);
	}
	return list;
}

/* fputs() of an object name a migration chose: escaped for the terminal. */
static void
put_name(FILE *f, const char *s)
{
	char *esc = cli_escape(s, false);

	fputs(esc, f);
	free(esc);
}

/* Under a replayed migration: "line 3: view public.v — depends on it:
 * view public.w, trigger t on public.x (through ...)". */
static void
print_dependents(FILE *f, const cf_preflight_migration *pm)
{
	for (size_t i = 0; i < pm->n_dependents; i++) {
		const cf_statement_dependents *d = &pm->dependents[i];

		fprintf(f, "      %sline %d: %s ", cli_c(f, "dim"), d->line,
			d->object_kind);
		put_name(f, d->object);
		fprintf(f, " — depends on it:%s ", cli_c(f, "reset"));
		for (size_t k = 0; k < d->n && k < 8; k++) {
			fprintf(f, "%s%s ", k ? ", " : "", d->items[k].kind);
			put_name(f, d->items[k].name);
			if (d->items[k].via) {
				fputs(" (through ", f);
				put_name(f, d->items[k].via);
				fputc(')', f);
			}
		}
		if (d->n > 8)
			fprintf(f, " and %zu more", d->n - 8);
		fputc('\n', f);
	}
}

static json_t *
against_json(const cf_preflight_result *r)
{
	json_t *o = json_object(), *list = json_array();

	set_str(o, "against_url", r->against_url);
	json_object_set_new(o, "all_passed", json_boolean(r->all_passed));
	json_object_set_new(o, "total", json_integer((json_int_t)r->total));
	json_object_set_new(o, "passed", json_integer((json_int_t)r->passed));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(o, "db_consumed", json_boolean(r->db_consumed));
	for (size_t i = 0; i < r->n; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];
		const cf_outcome *oc = &pm->outcome;
		const cf_error *e = oc->error;
		json_t *j = json_object(), *down;

		set_str(j, "version", pm->migration->version);
		set_str(j, "name", pm->migration->name);
		json_object_set_new(j, "success",
				    json_boolean(oc->kind == CF_OUTCOME_OK));
		set_str(j, "error", e ? e->message : NULL);
		json_object_set_new(
			j, "skipped",
			json_boolean(oc->kind == CF_OUTCOME_SKIPPED));
		set_str(j, "skipped_reason", oc->skipped_reason);
		json_object_set_new(
			j, "execution_time_ms",
			json_integer((json_int_t)(oc->elapsed_ms + 0.5)));
		/* additions */
		set_str(j, "sqlstate",
			e && e->sqlstate[0] ? e->sqlstate : NULL);
		set_str(j, "message", e ? e->message : NULL);
		set_str(j, "detail", e ? e->detail : NULL);
		set_str(j, "hint", e ? e->hint : NULL);
		set_str(j, "context", e ? e->context : NULL);
		set_str(j, "file", e ? e->file : NULL);
		set_int(j, "line", e ? e->line : 0);
		set_int(j, "column", e ? e->column : 0);
		set_int(j, "statement_index", e ? e->statement_index : 0);
		set_str(j, "cause",
			oc->kind != CF_OUTCOME_FAILED	  ? NULL :
			pm->cause == CF_CAUSE_CONSEQUENCE ? "consequence" :
							    "root");
		set_str(j, "caused_by",
			pm->caused_by >= 0 ?
				r->migrations[pm->caused_by].migration->version :
				NULL);
		set_str(j, "confidence",
			pm->caused_by < 0 ? NULL :
			pm->cause_likely  ? "likely" :
					    "certain");
		json_object_set_new(j, "artifact", json_boolean(pm->artifact));
		set_str(j, "artifact_reason", pm->artifact_reason);
		json_object_set_new(j, "autocommit",
				    json_boolean(oc->autocommit));
		if ((down = cli_down_json(&pm->down)) != NULL)
			json_object_set_new(j, "down", down);
		json_object_set_new(j, "dependents", dependents_json(pm));
		cli_risk_migration_json(j, pm, r->traced);
		json_array_append_new(list, j);
	}
	json_object_set_new(o, "migrations", list);
	set_str(o, "mode", mode_name(r->mode));
	set_str(o, "fallback_reason", r->fallback_reason);
	json_object_set_new(o, "root_causes",
			    json_integer((json_int_t)r->root_causes));
	json_object_set_new(o, "consequences",
			    json_integer((json_int_t)r->consequences));
	json_object_set_new(o, "artifacts",
			    json_integer((json_int_t)r->artifacts));
	json_object_set_new(o, "interrupted", json_boolean(r->interrupted));
	set_str(o, "closing", r->closing);
	json_object_set_new(o, "leftovers",
			    json_integer((json_int_t)r->leftovers));
	json_object_set_new(o, "notes", cli_problems_json(&r->notes));
	json_object_set_new(o, "trace", cli_risk_trace_json(r));
	return o;
}

static void
print_static(const cf_preflight_result *r)
{
	FILE *f = stdout;
	size_t errors = cf_error_list_count(&r->problems, CF_SEV_ERROR);

	fprintf(f, "%sPreflight%s: %zu pending migration%s\n", cli_c(f, "bold"),
		cli_c(f, "reset"), r->n, r->n == 1 ? "" : "s");
	fflush(f);
	cli_print_problems(stderr, &r->problems);
	fprintf(f, "  static checks: %s%zu error%s%s, %zu warning%s%s\n",
		cli_c(f, errors ? "red" : "green"), errors,
		errors == 1 ? "" : "s", cli_c(f, "reset"), r->static_warnings,
		r->static_warnings == 1 ? "" : "s",
		r->checksum_verified ?
			"; checksums of applied migrations verified" :
			"");
}

/* One line per migration; full error blocks for root causes only. */
static void
print_replay(const cf_preflight_result *r)
{
	FILE *f = stdout;

	fprintf(f, "\n%sReplay%s on %s (%s mode)\n", cli_c(f, "bold"),
		cli_c(f, "reset"), r->against_url, mode_name(r->mode));
	if (r->fallback_reason)
		fprintf(f,
			"  %snote:%s clone mode not possible: %s; using savepoint mode\n",
			cli_c(f, "yellow"), cli_c(f, "reset"),
			r->fallback_reason);
	for (size_t i = 0; i < r->n; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];
		const cf_outcome *o = &pm->outcome;
		const cf_migration *m = pm->migration;

		switch (o->kind) {
		case CF_OUTCOME_OK:
			fprintf(f, "  %s✓%s %s %s  %s%.0f ms%s%s\n",
				cli_c(f, "green"), cli_c(f, "reset"),
				m->version, m->name, cli_c(f, "dim"),
				o->elapsed_ms, cli_c(f, "reset"),
				o->autocommit ? "  (autocommit)" : "");
			print_dependents(f, pm);
			break;
		case CF_OUTCOME_SKIPPED:
			fprintf(f, "  %s-%s %s %s  skipped: %s\n",
				cli_c(f, "yellow"), cli_c(f, "reset"),
				m->version, m->name, o->skipped_reason);
			break;
		case CF_OUTCOME_FAILED:
			if (pm->cause == CF_CAUSE_CONSEQUENCE) {
				fprintf(f,
					"  %s✗%s %s %s  %s%.0f ms%s  %sconsequence of %s: %s\n",
					cli_c(f, "red"), cli_c(f, "reset"),
					m->version, m->name, cli_c(f, "dim"),
					o->elapsed_ms, cli_c(f, "reset"),
					pm->cause_likely ? "likely " : "",
					r->migrations[pm->caused_by]
						.migration->version,
					o->error->message);
				print_dependents(f, pm);
				break;
			}
			fprintf(f, "  %s✗%s %s %s  %s%.0f ms%s  %s\n",
				cli_c(f, "red"), cli_c(f, "reset"), m->version,
				m->name, cli_c(f, "dim"), o->elapsed_ms,
				cli_c(f, "reset"),
				pm->artifact ? "artifact of savepoint mode" :
					       "root cause");
			cli_print_error_indented(f, o->error, "      ");
			print_dependents(f, pm);
			if (pm->artifact)
				fprintf(f, "        %sartifact:%s %s\n",
					cli_c(f, "yellow"), cli_c(f, "reset"),
					pm->artifact_reason);
			break;
		}
	}
}

static void
print_summary(const cf_preflight_result *r)
{
	FILE *f = stdout;

	if (r->failed) {
		fprintf(f,
			"\n%s%zu failed: %zu root cause%s, %zu consequence%s%s",
			cli_c(f, "red"), r->failed, r->root_causes,
			r->root_causes == 1 ? "" : "s", r->consequences,
			r->consequences == 1 ? "" : "s", cli_c(f, "reset"));
		if (r->artifacts)
			fprintf(f, " (%zu artifact%s of savepoint mode)",
				r->artifacts, r->artifacts == 1 ? "" : "s");
		fprintf(f, "; %zu passed, %zu skipped\n", r->passed,
			r->skipped);
		for (size_t i = 0; i < r->n; i++) {
			const cf_preflight_migration *pm = &r->migrations[i];

			if (pm->outcome.kind != CF_OUTCOME_FAILED ||
			    pm->cause == CF_CAUSE_CONSEQUENCE)
				continue;
			fprintf(f, "  %s %s: %s\n", pm->migration->version,
				pm->migration->name,
				pm->outcome.error->message);
			for (size_t k = i + 1; k < r->n; k++) {
				const cf_preflight_migration *c =
					&r->migrations[k];
				long root = c->caused_by;

				if (c->outcome.kind != CF_OUTCOME_FAILED ||
				    c->cause != CF_CAUSE_CONSEQUENCE)
					continue;
				while (root >= 0 &&
				       r->migrations[root].cause ==
					       CF_CAUSE_CONSEQUENCE)
					root = r->migrations[root].caused_by;
				if (root != (long)i)
					continue;
				fprintf(f, "      └ %s %s  (consequence)\n",
					c->migration->version,
					c->migration->name);
			}
		}
	} else if (!r->interrupted) {
		fprintf(f, "\n%sAll %zu migration%s passed%s%s\n",
			cli_c(f, "green"), r->passed, r->passed == 1 ? "" : "s",
			cli_c(f, "reset"), r->skipped ? " (some skipped)" : "");
	}
	if (r->interrupted)
		fprintf(f,
			"%sinterrupted%s: the remaining migrations were not replayed\n",
			cli_c(f, "red"), cli_c(f, "reset"));
	fflush(f);
	cli_print_problems(stderr, &r->notes);
	if (r->closing)
		fprintf(f, "%s\n", r->closing);
}

struct provision_args {
	const char *from_dump;
	const char *from_env;
	const char *server;
	const char *cache_dir;
	const char *project_dir;
	bool keep_server;
	bool no_cache;
	bool keep_owners;
	struct cli_tty_progress *tty; /* dump load progress on a terminal */
};

/*
 * Makes the disposable database for --from-dump / --from-env.  Returns 0,
 * or the exit code after printing the error.  *dump_tmp is a pg_dump file
 * made for --from-env, to delete afterwards; *env_url that environment's
 * URL (production's sizes come from it), to free.
 */
static int
provision(const struct provision_args *a, cf_provisioned **out, char **dump_tmp,
	  char **env_url, bool json)
{
	cf_provision_options popts = {0};
	cf_error *err = NULL;
	const char *dump = a->from_dump;

	if (a->from_env) {
		cf_config *cfg = NULL;
		char *dir = cf_cache_dir(a->cache_dir);
		int rc;

		if (cf_config_load_env(a->project_dir ? a->project_dir : ".",
				       a->from_env, &cfg, &err) < 0) {
			free(dir);
			return cli_fail(err, json);
		}
		if (!cfg->database_url) {
			cf_config_free(cfg);
			free(dir);
			cli_error(
				"environment '%s' has no database_url to dump",
				a->from_env);
			return CF_EXIT_USAGE;
		}
		rc = cf_dump_schema(cfg->database_url, NULL, dir, dump_tmp,
				    &err);
		*env_url = cli_asprintf("%s", cfg->database_url);
		cf_config_free(cfg);
		free(dir);
		if (rc < 0)
			return cli_fail(err, json);
		dump = *dump_tmp;
	}
	popts.dump_path = dump;
	popts.server_url = a->server;
	popts.keep_server = a->keep_server;
	popts.no_cache = a->no_cache;
	popts.keep_owners = a->keep_owners;
	popts.cache_dir = a->cache_dir;
	cli_tty_progress_load(&popts, a->tty);
	if (cf_provision(&popts, out, &err) < 0)
		return cli_fail(err, json);
	return 0;
}

static void
release_provision(cf_provisioned *p, char *dump_tmp)
{
	if (p)
		cf_provisioned_release(p);
	if (dump_tmp) {
		unlink(dump_tmp);
		free(dump_tmp);
	}
}

static json_t *
provision_json(const cf_provisioned *p)
{
	json_t *o = json_object();
	char *url = cf_redact_url(p->against_url);

	json_object_set_new(o, "template", json_string(p->template_name));
	json_object_set_new(o, "cache_hit", json_boolean(p->cache_hit));
	json_object_set_new(o, "load_ms",
			    json_integer((json_int_t)(p->load_ms + 0.5)));
	json_object_set_new(
		o, "server_start_ms",
		json_integer((json_int_t)(p->server_start_ms + 0.5)));
	json_object_set_new(o, "url", json_string(url));
	json_object_set_new(o, "notes", cli_problems_json(&p->notes));
	free(url);
	return o;
}

static void
print_provision(const cf_provisioned *p)
{
	FILE *f = stdout;

	if (p->cache_hit)
		fprintf(f, "%sSchema%s: cached template %s (cache hit)\n",
			cli_c(f, "bold"), cli_c(f, "reset"), p->template_name);
	else
		fprintf(f,
			"%sSchema%s: dump loaded into template %s in %.0f ms\n",
			cli_c(f, "bold"), cli_c(f, "reset"), p->template_name,
			p->load_ms);
	fflush(f);
	cli_print_problems(stderr, &p->notes);
}

/* The JSON document: {"static", "against"[, "provision"]}; without a
 * replay the static keys are also at top level, as the Python tool has
 * them. */
static json_t *
preflight_json(const cf_preflight_result *r, const cf_provisioned *prov)
{
	json_t *doc = json_object(), *cs;

	json_object_set_new(doc, "static", static_json(r));
	json_object_set_new(doc, "against",
			    r->against_run ? against_json(r) : json_null());
	if (prov)
		json_object_set_new(doc, "provision", provision_json(prov));
	if ((cs = cli_change_set_json(r)) != NULL)
		json_object_set_new(doc, "change_set", cs);
	if (!r->against_run)
		json_object_update_missing(doc, json_object_get(doc, "static"));
	return doc;
}

static void
on_done(void *arg, const cf_outcome *o, bool down)
{
	(void)arg;
	(void)o;
	(void)down;
}

int
cmd_migrate_preflight(int argc, const char **argv)
{
	struct cli_env_opts eo = {.format = "text"};
	const char *against = NULL, *since = NULL, *mode = "auto";
	const char *from_dump = NULL, *from_env = NULL, *server = NULL,
		   *cache_dir = NULL;
	bool allow_nt = false, strict = false, keep_server = false,
	     no_cache = false;
	bool keep_owners = false, check_down = false, explain_drift = false;
	bool no_lint = false, trace_locks = false, no_trace_locks = false;
	int lock_timeout = -1, statement_timeout = -1;
	struct cli_list reports = {0};
	const struct cli_option options[] = {
		OPT_STRING(
			0, "against", &against, "URL",
			"replay on this disposable database (never written in clone mode)"),
		OPT_STRING(
			0, "from-dump", &from_dump, "FILE",
			"replay on a copy of this pg_dump --schema-only (plain, custom or directory format)"),
		OPT_STRING(
			0, "from-env", &from_env, "NAME",
			"pg_dump --schema-only that environment's database (read only), then as --from-dump"),
		OPT_STRING(
			0, "server", &server, "URL",
			"with --from-*: load on this server (needs CREATEDB) instead of an embedded one"),
		OPT_BOOL(
			0, "keep-server", &keep_server,
			"keep the embedded server running for the next run ('confiture server stop')"),
		OPT_BOOL(
			0, "no-cache", &no_cache,
			"load the dump afresh instead of reusing a cached template"),
		OPT_BOOL(
			0, "keep-owners", &keep_owners,
			"load OWNER/GRANT statements too (default: like pg_restore --no-owner --no-privileges)"),
		OPT_STRING(
			0, "cache-dir", &cache_dir, "DIR",
			"template cache (default $XDG_CACHE_HOME/confiture)"),
		CLI_ENV_OPTIONS(&eo),
		OPT_STRING(0, "since", &since, "VERSION",
			   "only versions >= VERSION"),
		OPT_CHOICE(0, "mode", &mode, "MODE",
			   "auto (default), clone or savepoint", mode_choices),
		OPT_BOOL(
			0, "allow-non-transactional", &allow_nt,
			"savepoint mode: run non-transactional migrations (consumes the database)"),
		OPT_INT(0, "lock-timeout", &lock_timeout, "MS",
			"lock_timeout for replayed statements (default 5000)"),
		OPT_INT(0, "statement-timeout", &statement_timeout, "MS",
			"statement_timeout for replayed statements (default 300000)"),
		REPORT_OPTIONS(&eo.format, &reports),
		OPT_BOOL(
			0, "check-down", &check_down,
			"clone mode: run each passing migration's .down.sql, check it restores the schema, run the up again"),
		OPT_BOOL(
			0, "explain-drift", &explain_drift,
			"on failures, run 'migrate drift' on the --env database and name the hand-made objects involved"),
		OPT_BOOL(0, "no-lint", &no_lint,
			 "leave migrate lint's rules out of the static checks"),
		OPT_BOOL(
			0, "trace-locks", &trace_locks,
			"trace each statement's locks, rewrites and scans in the replay and weigh them by --env's production sizes"),
		OPT_BOOL(
			0, "no-trace-locks", &no_trace_locks,
			"do not trace locks (the default: it costs ~0.5 ms a statement, see docs/risk.md)"),
		OPT_BOOL(0, "strict", &strict,
			 "warnings (and --check-down verdicts) fail too"),
		OPT_END(),
	};
	static const char *const synopsis[] = {
		"confiture migrate preflight [--against URL | --from-dump FILE | --from-env NAME]\n"
		"           [--env NAME | -c PATH] [--since VERSION] [--server URL] [--keep-server] [--no-cache]\n"
		"           [--mode auto|clone|savepoint] [--allow-non-transactional] [--lock-timeout MS]\n"
		"           [--statement-timeout MS] [--format FORMAT] [--report FORMAT:FILE]... [--check-down]\n"
		"           [--explain-drift] [--no-lint] [--[no-]trace-locks] [--strict]",
		NULL};
	const struct cli_usage usage = {
		synopsis,
		"Checks the pending migrations statically (syntax, duplicates, checksums,\n"
		"transaction control, non-transactional statements, missing .down.sql) and,\n"
		"with --against, replays them on a disposable copy of production's schema,\n"
		"reporting every failure with the database's own error and its root cause.\n\n"
		"Pending migrations are those the --env database has not applied (it is only\n"
		"read); without --env every file is pending. Clone mode copies the --against\n"
		"database with CREATE DATABASE ... TEMPLATE and drops the copy; savepoint mode\n"
		"replays inside one transaction that is rolled back.\n\n"
		"--from-dump and --from-env need no database of yours: the dump is loaded into\n"
		"a template on an embedded throwaway PostgreSQL (or --server) and cached, so a\n"
		"repeat run only clones it.\n\n"
		"Exit status: 0 all passed, 1 failures or static errors, 2 usage, config or\n"
		"connection errors.\n\n"
		"Formats: text (table is a synonym), json, github (workflow commands:\n"
		"annotations), junit (XML), sarif (2.1.0) and markdown (a summary for a\n"
		"pull request or $GITHUB_STEP_SUMMARY). --report writes more of them in\n"
		"the same run, e.g. --report junit:preflight.xml --report sarif:out.sarif.",
		options};
	cf_preflight_options po = {0};
	cf_progress progress = {0};
	cf_session *s = NULL;
	cf_preflight_result *r = NULL;
	cf_provisioned *prov = NULL;
	char *dump_tmp = NULL, *env_url = NULL;
	cf_error *err = NULL;
	struct report *rep = NULL;
	struct cli_tty_progress tty;
	json_t *doc = NULL;
	int fmt, rc, wrc;

	if ((rc = cli_parse_no_args(argc, argv, &usage)) >= 0 ||
	    (rc = report_check_args(&reports)) != 0)
		return rc;
	fmt = report_format_parse(eo.format);
	po.since = since;
	po.mode = strcmp(mode, "clone") == 0	 ? CF_PREFLIGHT_CLONE :
		  strcmp(mode, "savepoint") == 0 ? CF_PREFLIGHT_SAVEPOINT :
						   CF_PREFLIGHT_AUTO;
	po.allow_non_transactional = allow_nt;
	po.lock_timeout_ms = lock_timeout;
	po.statement_timeout_ms = statement_timeout;
	po.check_down = check_down;
	po.no_lint = no_lint;
	po.trace_locks = trace_locks;
	if (trace_locks && no_trace_locks) {
		cli_error(
			"--trace-locks and --no-trace-locks cannot be used together");
		return CF_EXIT_USAGE;
	}
	progress.migration_done = on_done;
	cli_tty_progress_init(&progress, &tty, fmt == REPORT_TEXT);
	if ((from_dump || from_env) && against) {
		cli_error(
			"--against cannot be combined with --from-dump or --from-env");
		return CF_EXIT_USAGE;
	}
	if (from_dump && from_env) {
		cli_error("--from-dump and --from-env cannot be used together");
		return CF_EXIT_USAGE;
	}
	if (!from_dump && !from_env &&
	    (server || keep_server || no_cache || keep_owners)) {
		cli_error(
			"--server, --keep-server, --no-cache and --keep-owners go with --from-dump or --from-env");
		return CF_EXIT_USAGE;
	}
	if ((rc = cli_open_session(&eo, &s)) != 0)
		return rc;
	if (from_dump || from_env) {
		struct provision_args pa = {
			from_dump, from_env,	   server,
			cache_dir, eo.project_dir, keep_server,
			no_cache,  keep_owners,	   &tty};

		if ((rc = provision(&pa, &prov, &dump_tmp, &env_url,
				    cli_json(&eo))) != 0) {
			release_provision(prov, dump_tmp);
			free(env_url);
			cf_session_free(s);
			return rc;
		}
		/* --from-env without --env: that environment is production */
		if (!cf_session_config(s)->database_url ||
		    !*cf_session_config(s)->database_url)
			po.sizes_url = env_url;
		against = prov->against_url;
		po.mode = CF_PREFLIGHT_CLONE;
	}
	rc = cf_session_preflight(s, against, &po, &progress, &r, &err);
	cli_tty_progress_end(&tty);
	if (rc < 0) {
		rc = cli_fail(err, cli_json(&eo));
		release_provision(prov, dump_tmp);
		free(env_url);
		cf_session_free(s);
		return rc;
	}
	if (explain_drift) {
		cf_drift_options dopts = {.server_url = server,
					  .cache_dir = cache_dir,
					  .project_dir = eo.project_dir};

		cli_explain_drift(s, r, &dopts);
	}
	if (report_needs_json(fmt, &reports))
		doc = preflight_json(r, prov);
	if (report_needs_report(fmt, &reports))
		rep = report_from_preflight(
			r, strict,
			strict || cf_session_config(s)
					  ->preflight_check_down_strict);
	if (fmt == REPORT_TEXT) {
		if (prov)
			print_provision(prov);
		print_static(r);
		if (r->against_run) {
			print_replay(r);
			cli_print_risk(stdout, r);
			if (check_down)
				cli_print_downs(stdout, r);
			print_summary(r);
		}
	}
	wrc = report_finish(fmt, &reports, rep, doc);
	if (r->interrupted)
		rc = CF_EXIT_USAGE;
	else if (!r->static_ok || !r->all_passed || r->leftovers ||
		 (strict && r->static_warnings) ||
		 ((strict ||
		   cf_session_config(s)->preflight_check_down_strict) &&
		  cli_down_problems(r)))
		rc = CF_EXIT_FAILURE;
	else
		rc = CF_EXIT_OK;
	if (wrc)
		rc = wrc;
	cf_preflight_result_free(r);
	release_provision(prov, dump_tmp);
	free(env_url);
	cf_session_free(s);
	return rc;
}
