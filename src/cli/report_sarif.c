/*
 * report_sarif.c — SARIF 2.1.0 for code scanning: one rule per check or
 * failure kind that occurs, one result per finding with its physical
 * location, and a consequence linked to its root through relatedLocations
 * and the "rootCause" property.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

/* What each rule checks; codes not listed get a generic description. */
static const struct {
	const char *id;
	const char *text;
} rule_texts[] = {
	{"sql-error", "the server rejected a migration statement on replay"},
	{"consequence", "a migration failed because an earlier one failed"},
	{"savepoint-artifact",
	 "a failure that exists only when every migration shares one transaction"},
	{"replay-failure", "a migration failed on replay"},
	{"lock-timeout", "a statement waited too long for a lock on replay"},
	{"statement-timeout", "a statement ran too long on replay"},
	{"syntax-error", "a migration file does not parse"},
	{"duplicate-version", "two migration files claim the same version"},
	{"checksum-mismatch", "an applied migration was edited afterwards"},
	{"missing-down", "a migration has no .down.sql"},
	{"non-transactional", "a statement cannot run inside a transaction"},
	{"transaction-control",
	 "a migration controls transactions itself (BEGIN, COMMIT, ...)"},
	{"psql-meta-command", "a migration holds a psql meta-command"},
	{"invalid-utf8", "a migration file is not valid UTF-8"},
	{"nul-byte", "a migration file holds a NUL byte"},
	{"pending", "a migration is not applied yet"},
	{"out-of-order",
	 "a pending migration is older than the newest applied one"},
	{"missing-file", "an applied migration has no file"},
	{"savepoint-fallback", "clone mode was not possible"},
	{"down-fails", "--check-down: the .down.sql failed on replay"},
	{"down-incomplete",
	 "--check-down: after the .down.sql the schema differs from before the up"},
	{"no-down", "--check-down: a migration has no .down.sql to roll back"},
	{"not-reappliable",
	 "--check-down: the up failed when run again after its .down.sql"},
	{"down-not-checked", "--check-down: the rollback could not be checked"},
};

static const char *
rule_text(const char *id)
{
	for (size_t i = 0; i < sizeof(rule_texts) / sizeof(rule_texts[0]); i++)
		if (strcmp(rule_texts[i].id, id) == 0)
			return rule_texts[i].text;
	return NULL;
}

static const char *
level_name(enum report_level l)
{
	return l == REPORT_ERROR   ? "error" :
	       l == REPORT_WARNING ? "warning" :
				     "note";
}

/*
 * A relative path as a URI reference: unreserved characters and '/' kept,
 * everything else percent-encoded.  Absolute paths become file:// URIs.
 */
static json_t *
uri_of(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *out = malloc(3 * n + 8);
	size_t k = 0;
	json_t *j;

	if (!out)
		cli_out_of_memory();
	if (path[0] == '/') {
		memcpy(out, "file://", 7);
		k = 7;
	}
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			out[k++] = (char)*p;
		} else {
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	out[k] = '\0';
	j = json_string(out);
	free(out);
	return j;
}

static json_t *
text(const char *s)
{
	return json_pack("{s:s}", "text", s ? s : "");
}

static json_t *
location(const struct report_finding *x)
{
	json_t *art = json_object(), *phys = json_object();

	json_object_set_new(art, "uri", uri_of(x->file));
	if (x->file[0] != '/')
		json_object_set_new(art, "uriBaseId", json_string("%SRCROOT%"));
	json_object_set_new(phys, "artifactLocation", art);
	if (x->line > 0) {
		json_t *region = json_pack("{s:i}", "startLine", x->line);

		if (x->column > 0)
			json_object_set_new(region, "startColumn",
					    json_integer(x->column));
		json_object_set_new(phys, "region", region);
	}
	return json_pack("{s:o}", "physicalLocation", phys);
}

/* Index of rule id in rules, adding it when new. */
static size_t
rule_index(json_t *rules, const struct report_finding *x)
{
	size_t i;
	json_t *rule;
	const char *desc = rule_text(x->rule);
	char *generic = NULL;

	json_array_foreach(rules, i, rule)
	{
		if (strcmp(json_string_value(json_object_get(rule, "id")),
			   x->rule) == 0)
			return i;
	}
	if (!desc)
		desc = generic = cli_asprintf("confiture check '%s'", x->rule);
	rule = json_pack("{s:s, s:s, s:o, s:{s:s}}", "id", x->rule, "name",
			 x->rule, "shortDescription", text(desc),
			 "defaultConfiguration", "level", level_name(x->level));
	json_array_append_new(rules, rule);
	free(generic);
	return json_array_size(rules) - 1;
}

static char *
full_message(const struct report *r, const struct report_finding *x)
{
	char *msg = cli_asprintf(
		"%s%s%s%s", x->message, x->sqlstate ? " (SQLSTATE " : "",
		x->sqlstate ? x->sqlstate : "", x->sqlstate ? ")" : "");
	char *more;

	if (x->root >= 0) {
		/* "[text](1)" links to relatedLocations id 1: the root */
		more = cli_asprintf("%s; consequence of [%s](1)", msg,
				    report_root_name(r, x));
		free(msg);
		msg = more;
	}
	if (x->detail) {
		more = cli_asprintf("%s\nDETAIL: %s", msg, x->detail);
		free(msg);
		msg = more;
	}
	if (x->hint) {
		more = cli_asprintf("%s\nHINT: %s", msg, x->hint);
		free(msg);
		msg = more;
	}
	return msg;
}

static json_t *
result(const struct report *r, const struct report_finding *x, json_t *rules)
{
	json_t *res = json_object(), *props = json_object();
	char *msg = full_message(r, x);
	size_t idx = rule_index(rules, x);

	json_object_set_new(res, "ruleId", json_string(x->rule));
	json_object_set_new(res, "ruleIndex", json_integer((json_int_t)idx));
	json_object_set_new(res, "level", json_string(level_name(x->level)));
	json_object_set_new(res, "message", text(msg));
	free(msg);
	if (x->file)
		json_object_set_new(res, "locations",
				    json_pack("[o]", location(x)));
	if (x->root >= 0) {
		const struct report_finding *root = &r->findings[x->root];
		json_t *rel = root->file ? location(root) : json_object();

		json_object_set_new(rel, "id", json_integer(1));
		json_object_set_new(rel, "message", text(root->message));
		json_object_set_new(res, "relatedLocations",
				    json_pack("[o]", rel));
		json_object_set_new(props, "cause", json_string("consequence"));
		json_object_set_new(props, "rootCause",
				    json_string(report_root_name(r, x)));
	} else if (x->level == REPORT_ERROR && x->testcase >= 0) {
		json_object_set_new(
			props, "cause",
			json_string(x->artifact ? "artifact" : "root"));
	}
	if (x->sqlstate)
		json_object_set_new(props, "sqlstate",
				    json_string(x->sqlstate));
	if (x->testcase >= 0)
		json_object_set_new(props, "migration",
				    json_string(r->cases[x->testcase].name));
	if (json_object_size(props))
		json_object_set_new(res, "properties", props);
	else
		json_decref(props);
	return res;
}

void
report_sarif(FILE *f, const struct report *r)
{
	json_t *rules = json_array(), *results = json_array();
	json_t *driver, *run, *doc;
	char *cmdline = cli_asprintf("confiture migrate %s", r->command);

	for (size_t i = 0; i < r->n_findings; i++)
		json_array_append_new(results,
				      result(r, &r->findings[i], rules));

	driver = json_pack("{s:s, s:s, s:o}", "name", "confiture", "version",
			   CF_VERSION, "rules", rules);
	run = json_pack("{s:{s:o}, s:[{s:b, s:s}], s:s, s:o}", "tool", "driver",
			driver, "invocations", "executionSuccessful", 1,
			"commandLine", cmdline, "columnKind",
			"unicodeCodePoints", "results", results);
	free(cmdline);
	json_object_set_new(
		run, "properties",
		json_pack("{s:s, s:b}", "summary", r->headline, "ok", r->ok));
	doc = json_pack("{s:s, s:s, s:[o]}", "$schema", SARIF_SCHEMA, "version",
			"2.1.0", "runs", run);
	cli_json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(doc);
}
