/*
 * lint.c — `migrate lint`'s driver: reads each file into statements and
 * their parse trees (history/script.c: the whole file parsed once, or each
 * statement alone when the file does not parse) and hands each tree to the
 * rules (rules.c) with what earlier statements of the file did; runs as
 * the files arrive for a caller that reads them itself (lint.h, the lint
 * stream); applies --select/--ignore and the inline
 * "-- confiture:ignore RULE[,RULE] reason" comments, and lists what the
 * parser could not read as not linted.
 */
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "lint/lint.h"
#include "lint/lint_internal.h"

#define IGNORE_MARK "confiture:ignore"

/* The inline suppression on the line before a statement. */
typedef struct lint_ignore {
	char **rules;
	size_t n, alloc;
} lint_ignore;

typedef struct lint_driver {
	const cf_lint_options *opts;
	cf_lint_result *res;
	size_t alloc_findings, alloc_unread;
	const lint_ignore *ignore; /* the current statement's */
	lint_history history;	   /* definitions and uses, across files */
	bool context;		   /* reading a context file: no findings */
} lint_driver;

static bool
in_list(const char *const *list, const char *id)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], id) == 0)
			return true;
	return false;
}

/* Characters (UTF-8 lead bytes) in s[0..n). */
static int
char_count(const char *s, size_t n)
{
	int c = 0;

	for (size_t i = 0; i < n && s[i]; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* A place in a script: byte offset and its 1-based line and column. */
typedef struct lint_pos {
	size_t off;
	int line, column;
} lint_pos;

/* Rule id's severity for this run: the last re-grading, else its own. */
static cf_lint_severity
rule_severity(const lint_driver *d, const cf_lint_rule *rule)
{
	cf_lint_severity sev = rule->severity;

	for (size_t i = 0; i < d->opts->n_grades; i++)
		if (strcmp(d->opts->grades[i].rule, rule->id) == 0)
			sev = d->opts->grades[i].severity;
	return sev;
}

/* Adds a finding of rule at p; takes message; suggestion is static. */
static void
add_finding(lint_driver *d, const cf_lint_rule *rule, const cf_script *script,
	    lint_pos p, char *message, const char *suggestion)
{
	cf_lint_severity sev = rule_severity(d, rule);
	cf_lint_result *r = d->res;
	cf_lint_finding *f;

	if (sev == CF_LINT_OFF || d->context) { /* re-graded off, or context */
		free(message);
		return;
	}
	CF_GROW(r->findings, d->alloc_findings, r->n_findings + 1);
	f = &r->findings[r->n_findings++];
	memset(f, 0, sizeof(*f));
	f->rule = rule->id;
	f->severity = sev;
	f->file = cf_strdup(script->path);
	f->line = p.line;
	f->column = p.column;
	f->message = message;
	f->excerpt = cf_text_excerpt(script->text, script->text_len, p.off,
				     p.column, &f->excerpt_column);
	f->suggestion = suggestion;
	f->docs = rule->docs;
	if (sev == CF_LINT_ERROR)
		r->errors++;
	else
		r->warnings++;
}

/* Whether rule id is on for this run (--select, --ignore). */
static bool
rule_on(const lint_driver *d, const char *id)
{
	if (d->opts->select && !in_list(d->opts->select, id))
		return false;
	return !in_list(d->opts->ignore, id);
}

static void
take_report(const lint_stmt *s, const char *id, int loc, char *message)
{
	lint_driver *d = s->driver;
	const cf_lint_rule *rule = lint_rule_find(id);
	size_t off = s->stmt->offset;
	int line, column;

	if (!rule || !rule_on(d, id)) {
		free(message);
		return;
	}
	for (size_t i = 0; d->ignore && i < d->ignore->n; i++)
		if (strcmp(d->ignore->rules[i], id) == 0) {
			free(message);
			return;
		}
	if (loc > 0 && (size_t)loc < s->stmt->length) {
		off += (size_t)loc;
		cf_script_position(s->script, s->stmt,
				   char_count(s->text, (size_t)loc) + 1, &line,
				   &column);
	} else {
		line = s->stmt->line;
		column = s->stmt->column;
	}
	add_finding(d, rule, s->script, (lint_pos){off, line, column}, message,
		    lint_rule_suggestion(id));
}

static void
add_unread(lint_driver *d, const char *file, int line, int column, char *reason)
{
	cf_lint_result *r = d->res;
	cf_lint_unread *u;

	if (d->context) {
		free(reason);
		return;
	}
	CF_GROW(r->not_linted, d->alloc_unread, r->n_not_linted + 1);
	u = &r->not_linted[r->n_not_linted++];
	u->file = cf_strdup(file);
	u->line = line;
	u->column = column;
	u->reason = reason;
}

/* ---- inline suppression ---- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Reads "-- confiture:ignore RULE[,RULE] reason" from the line just before
 * the statement, when that line lies after the previous statement's end
 * (so never inside its strings or bodies) and holds only the comment.
 * Returns true when a marker was found; *has_reason tells whether text
 * follows the rule list.
 */
static bool
read_ignore(const cf_script *script, size_t i, lint_ignore *ig,
	    bool *has_reason, size_t *mark_off)
{
	const cf_statement *st = &script->stmts[i];
	const char *t = script->text;
	size_t floor = 0, b, e, p;

	if (i > 0)
		floor = script->stmts[i - 1].offset +
			script->stmts[i - 1].length;
	/* start of the statement's line, then of the line before; neither
	 * scan goes back past the statement before (a line the two share
	 * holds no mark for this one), so a one-line file of many
	 * statements is not scanned once per statement */
	b = st->offset;
	while (b > floor && t[b - 1] != '\n')
		b--;
	if (b <= floor)
		return false;
	e = b - 1; /* the '\n' ending the line before */
	b = e;
	while (b > floor && t[b - 1] != '\n')
		b--;
	if (b == floor && floor > 0 && t[floor - 1] != '\n')
		return false;
	p = b;
	while (p < e && is_blank(t[p]))
		p++;
	if (e - p < 2 || t[p] != '-' || t[p + 1] != '-')
		return false;
	p += 2;
	while (p < e && is_blank(t[p]))
		p++;
	if (e - p < strlen(IGNORE_MARK) ||
	    strncmp(t + p, IGNORE_MARK, strlen(IGNORE_MARK)) != 0)
		return false;
	*mark_off = p;
	p += strlen(IGNORE_MARK);
	while (p < e && is_blank(t[p]))
		p++;
	/* RULE[,RULE]: a run without blanks */
	while (p < e && !is_blank(t[p])) {
		size_t q = p;

		while (q < e && !is_blank(t[q]) && t[q] != ',')
			q++;
		if (q > p) {
			CF_GROW(ig->rules, ig->alloc, ig->n + 1);
			ig->rules[ig->n++] = cf_strndup(t + p, q - p);
		}
		p = q < e && t[q] == ',' ? q + 1 : q;
	}
	while (p < e && is_blank(t[p]))
		p++;
	*has_reason = p < e;
	return true;
}

static void
ignore_release(lint_ignore *ig)
{
	for (size_t i = 0; i < ig->n; i++)
		free(ig->rules[i]);
	free(ig->rules);
	memset(ig, 0, sizeof(*ig));
}

/* Reports a suppression without a reason (or naming no known rule). */
static void
check_ignore(lint_driver *d, const cf_script *script, size_t i,
	     const lint_ignore *ig, bool has_reason, size_t mark_off)
{
	const cf_statement *st = &script->stmts[i];
	const cf_lint_rule *rule = lint_rule_find("ignore-without-reason");
	lint_pos p = {mark_off, st->line - 1, 1};
	size_t b = mark_off;

	while (b > 0 && script->text[b - 1] != '\n')
		b--;
	p.column = char_count(script->text + b, mark_off - b) + 1;
	if (!rule_on(d, rule->id))
		return;
	if (!has_reason)
		add_finding(
			d, rule, script, p,
			cf_asprintf("\"-- %s\" gives no reason", IGNORE_MARK),
			lint_rule_suggestion(rule->id));
	for (size_t k = 0; k < ig->n; k++)
		if (!lint_rule_find(ig->rules[k]))
			add_finding(d, rule, script, p,
				    cf_asprintf("\"-- %s\" names unknown rule "
						"\"%s\"",
						IGNORE_MARK, ig->rules[k]),
				    "name a rule from confiture migrate lint "
				    "--list-rules");
}

/* ---- the driver ---- */

/* The database's fact about the statement at path:line, or NULL. */
static const cf_lint_fact *
find_fact(const cf_lint_options *opts, const char *path, int line)
{
	for (size_t i = 0; opts->facts_known && i < opts->n_facts; i++)
		if (opts->facts[i].line == line && opts->facts[i].file &&
		    strcmp(opts->facts[i].file, path) == 0)
			return &opts->facts[i];
	return NULL;
}

/*
 * What lint needs of a statement.  Most bytes of a history are ALTER and
 * CREATE TABLE, CREATE INDEX and UPDATE, which the rules read; the kinds no
 * rule reads (and that the file state ignores) are told by their leading
 * words and never parsed into a tree here.
 */
typedef enum lint_need {
	NEED_TREE = 0, /* parsed: a rule or the file state may read it */
	NEED_NONE_DML, /* INSERT, SELECT, VALUES: data, no rule */
	NEED_NONE_DDL, /* COMMENT, GRANT, CREATE TYPE, ...: no rule */
} lint_need;

static bool
word_in(const char *w, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

static lint_need
lint_need_of(const cf_script *script, size_t i)
{
	/* statement kinds no rule of rules.c reads: lint_rules_run()'s
	 * switch, remember() (CREATE TABLE, CREATE TABLE AS, SET) and
	 * remember_history() (views, triggers, policies, functions: what
	 * replace-with-dependents needs) */
	static const char *const dml[] = {"insert", "select", "values", NULL};
	static const char *const other[] = {
		"comment", "grant",  "revoke",	"do",	   "call",
		"notify",  "listen", "analyze", "refresh", NULL};
	static const char *const create_other[] = {
		"extension",  "type",	    "schema",	   "sequence",
		"domain",     "role",	    "user",	   "group",
		"cast",	      "operator",   "rule",	   "collation",
		"aggregate",  "statistics", "publication", "language",
		"conversion", NULL};
	static const char *const create_prefix[] = {
		"or",	      "replace", "temp",       "temporary", "recursive",
		"constraint", "trusted", "procedural", NULL};
	char w[6][32];
	size_t n, k = 1;

	if (script->stmts[i].syntax_error || script->stmts[i].non_transactional)
		return NEED_TREE;
	n = cf_statement_words(script, i, w, 6);
	if (n == 0)
		return NEED_TREE;
	if (word_in(w[0], dml))
		return NEED_NONE_DML;
	if (word_in(w[0], other))
		return NEED_NONE_DDL;
	if (strcmp(w[0], "create") != 0)
		return NEED_TREE;
	while (k < n && word_in(w[k], create_prefix))
		k++;
	return k < n && word_in(w[k], create_other) ? NEED_NONE_DDL : NEED_TREE;
}

/* One statement of the file being linted: its parse, when needed. */
typedef struct lint_item {
	lint_need need;
	bool built;	    /* its model was built here */
	cf_stmt_tree *tree; /* NULL: not parsed, rejected, or deferred */
	char *text;	    /* the text the tree refers to */
	char *error;	    /* the parser's message when rejected */
	bool deferred;	    /* parsed again when linted (a large script) */
} lint_item;

/* Lints statement i with its parse (locations relative to its text). */
static void
lint_statement(lint_driver *d, cf_script *script, size_t i,
	       lint_file_state *state, const lint_item *it)
{
	const cf_statement *st = &script->stmts[i];
	const PgQuery__ParseResult *pr = cf_stmt_tree_result(it->tree);
	lint_ignore ig = {0};
	bool has_reason = true;
	size_t mark_off = 0;

	if (it->need == NEED_TREE &&
	    (st->syntax_error || !pr || pr->n_stmts < 1)) {
		add_unread(d, script->path, st->line, st->column,
			   it->error ?
				   cf_asprintf("the parser (PostgreSQL %d) "
					       "cannot read it: %s",
					       cf_parser_major(), it->error) :
				   cf_strdup("the parser cannot read it"));
		return;
	}
	if (read_ignore(script, i, &ig, &has_reason, &mark_off))
		check_ignore(d, script, i, &ig, has_reason, mark_off);
	d->ignore = &ig;
	/* a statement lint does not parse has no rule to run: only its
	 * ignore comment is checked */
	for (size_t k = 0; pr && k < pr->n_stmts; k++) {
		lint_stmt s = {
			.script = script,
			.stmt = st,
			.node = pr->stmts[k]->stmt,
			.model = k == 0 ? st->model : NULL,
			.text = it->text,
			.pg_major = d->res->pg_major,
			.state = state,
			.report = take_report,
			.driver = d,
			.history = &d->history,
			.facts_known = d->opts->facts_known,
			.fact = find_fact(d->opts, script->path, st->line),
		};

		lint_rules_run(&s);
	}
	d->ignore = NULL;
	d->res->statements++;
	ignore_release(&ig);
}

/* Whether a statement kind changes nothing (SET, RESET, SHOW). */
static bool
is_setting(const char *kind)
{
	return strcmp(kind, "VariableSetStmt") == 0 ||
	       strcmp(kind, "VariableShowStmt") == 0;
}

static bool
is_dml(const char *kind)
{
	static const char *const kinds[] = {"SelectStmt", "InsertStmt",
					    "UpdateStmt", "DeleteStmt",
					    "MergeStmt"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

/* Counts, from the statement models (or the leading words of statements
 * lint does not parse), what rules on the whole file need. */
static void
count_changes(cf_script *script, const lint_item *items, lint_file_state *state)
{
	state->transactional = script->transactional;
	for (size_t i = 0; i < script->n_stmts; i++) {
		const cf_statement *st = &script->stmts[i];
		const char *kind;

		if (st->transaction_control || st->syntax_error)
			continue;
		if (items[i].need == NEED_TREE) {
			kind = st->model ? st->model->kind : "";
			if (is_setting(kind))
				continue;
		} else {
			kind = items[i].need == NEED_NONE_DML ? "InsertStmt" :
								"";
		}
		if (!st->non_transactional)
			state->n_changes++;
		if (!is_dml(kind))
			state->n_ddl++;
	}
}

/*
 * The parse of a script's statements that a rule may read: each such
 * statement is parsed once, and its model (when it has none) comes from
 * the same tree; trees (may be NULL) holds them when the script was parsed
 * whole (cf_script_parse_trees()).  Touches only the script, so scripts are
 * prepared on
 * several threads while earlier ones are linted.  Caller passes the
 * result to lint_script(), then to lint_release().
 */
size_t cf_lint_trees_max = 256 * 1024;

static lint_item *
lint_prepare(cf_script *script, const cf_script_trees *trees)
{
	lint_item *items = cf_calloc(script->n_stmts ? script->n_stmts : 1,
				     sizeof(*items));
	bool defer = script->text_len > cf_lint_trees_max;

	for (size_t i = 0; i < script->n_stmts; i++) {
		lint_item *it = &items[i];

		if (script->stmts[i].transaction_control)
			continue;
		it->need = lint_need_of(script, i);
		it->built = !script->stmts[i].model;
		if (it->need != NEED_TREE)
			continue;
		/* the model comes from this parse: count_changes() reads
		 * every statement's before the first is linted */
		it->tree = cf_script_stmt_tree(script, trees, i, &it->text,
					       &it->error);
		if (defer && it->tree) {
			cf_stmt_tree_free(it->tree);
			free(it->text);
			it->tree = NULL;
			it->text = NULL;
			it->deferred = true;
		}
	}
	return items;
}

/*
 * Lints a script prepared by lint_prepare(), in order after the scripts
 * before it: the rules remember earlier files.
 */
static void
lint_script(lint_driver *d, cf_script *script, const lint_item *items)
{
	lint_file_state state = {0};

	d->res->files++;
	count_changes(script, items, &state);
	for (size_t i = 0; i < script->n_stmts; i++) {
		lint_item it = items[i];
		const PgQuery__ParseResult *pr;

		if (it.deferred) /* freed below, on this thread */
			it.tree = cf_script_stmt_tree(script, NULL, i, &it.text,
						      &it.error);
		pr = cf_stmt_tree_result(it.tree);
		if (!script->stmts[i].transaction_control)
			lint_statement(d, script, i, &state, &it);
		if (d->opts->on_tree && pr && pr->n_stmts >= 1)
			d->opts->on_tree(d->opts->on_tree_arg, script, i,
					 pr->stmts[0]->stmt);
		if (it.deferred) {
			cf_stmt_tree_free(it.tree);
			free(it.text);
			free(it.error);
		}
	}
	lint_file_state_release(&state);
}

/*
 * Frees what lint_prepare() made, on the thread that made it; the models
 * it built too unless keep_models: nobody reads them after lint, and
 * memory stays flat on long histories (a model is rebuilt when asked for).
 */
static void
lint_release(cf_script *script, lint_item *items, bool keep_models)
{
	for (size_t i = 0; items && i < script->n_stmts; i++) {
		cf_stmt_tree_free(items[i].tree);
		free(items[i].text);
		free(items[i].error);
		if (items[i].built && !keep_models) {
			cf_stmt_model_free(script->stmts[i].model);
			script->stmts[i].model = NULL;
		}
	}
	free(items);
}

/*
 * Scripts prepared ahead of the one being linted, at most: bounds the
 * parse trees held at once.  64 in all, shared by the threads: with two,
 * 32 ahead kept the worker busy while the rules ran (16 left it waiting),
 * and 10,000 migrations under 48 MB; with four, each thread's own arena
 * costs memory too, so fewer trees wait.
 */
static size_t
lint_window(int threads)
{
	return threads > 1 ? 64 / (size_t)threads : 1;
}

static int
check_ids(const char *const *ids, const char *option, cf_error **err)
{
	for (size_t i = 0; ids && ids[i]; i++)
		if (!lint_rule_find(ids[i])) {
			cf_error *e = cf_error_new(
				CF_ERR_USAGE, "%s names unknown rule \"%s\"",
				option, ids[i]);

			cf_error_set_hint(e, "see confiture migrate lint "
					     "--list-rules");
			return cf_fail(err, e);
		}
	return 0;
}

static cf_lint_result *
result_new(const cf_lint_options *opts)
{
	cf_lint_result *r = cf_new(cf_lint_result);

	r->pg_major = opts->pg_major;
	if (r->pg_major <= 0) {
		r->pg_major = cf_parser_major();
		r->pg_assumed = true;
	}
	return r;
}

/* Lints one file's text into the driver's result. */
static void
lint_one(lint_driver *d, const char *path, const char *text, size_t len)
{
	cf_error_list problems = {0};
	cf_script *script = NULL;
	cf_script_trees *trees = NULL;

	cf_script_parse_trees(path, text, len, d->res->pg_major, &script,
			      &problems, &trees);
	if (!script) {
		const cf_error *p = problems.n ? problems.items[0] : NULL;

		add_unread(d, path, 0, 0,
			   cf_strdup(p ? p->message :
					 "the file cannot be read as SQL"));
	} else {
		lint_item *items = lint_prepare(script, trees);

		lint_script(d, script, items);
		lint_release(script, items, false);
	}
	cf_script_trees_free(trees);
	cf_script_free(script);
	cf_error_list_release(&problems);
}

static int
lint_begin(const cf_lint_options *opts, lint_driver *d, cf_error **err)
{
	memset(d, 0, sizeof(*d));
	d->opts = opts;
	if (check_ids(opts->select, "--select", err) < 0 ||
	    check_ids(opts->ignore, "--ignore", err) < 0)
		return -1;
	for (size_t i = 0; i < opts->n_grades; i++) {
		const char *one[] = {opts->grades[i].rule, NULL};

		if (check_ids(one, "lint.rules", err) < 0)
			return -1;
	}
	d->res = result_new(opts);
	return 0;
}

/* Reads the context files for the history alone; an unreadable one is
 * skipped (it is not what is being linted). */
static void
read_context(lint_driver *d)
{
	size_t files = d->res->files, statements = d->res->statements;

	d->context = true;
	for (size_t i = 0; d->opts->context && d->opts->context[i]; i++) {
		char *data = NULL;
		size_t len = 0;
		cf_error *e = NULL;

		if (cf_read_file(d->opts->context[i], &data, &len, &e) == 0)
			lint_one(d, d->opts->context[i], data, len);
		cf_error_free(e);
		free(data);
	}
	d->context = false;
	d->res->files = files;
	d->res->statements = statements;
}

/* One file of cf_lint_files(), read and parsed ahead of its lint. */
typedef struct lint_file_job {
	char *data;
	size_t len;
	cf_error *read_error;
	cf_error_list problems;
	cf_script *script;
	cf_script_trees *trees;
	lint_item *items;
} lint_file_job;

typedef struct lint_files_run {
	lint_driver *d;
	const char *const *paths;
	lint_file_job *jobs;
	cf_error *failed; /* the first unreadable file's error */
} lint_files_run;

/* cf_parallel_ordered() prepare: touches only job i */
static void
lint_file_prepare(void *arg, size_t i)
{
	lint_files_run *run = arg;
	lint_file_job *job = &run->jobs[i];

	if (cf_read_file(run->paths[i], &job->data, &job->len,
			 &job->read_error) < 0)
		return;
	cf_script_parse_trees(run->paths[i], job->data, job->len,
			      run->d->res->pg_major, &job->script,
			      &job->problems, &job->trees);
	if (job->script)
		job->items = lint_prepare(job->script, job->trees);
}

static void
lint_file_consume(void *arg, size_t i)
{
	lint_files_run *run = arg;
	lint_file_job *job = &run->jobs[i];

	if (job->read_error && !run->failed) {
		run->failed = job->read_error; /* lint stops at it */
		job->read_error = NULL;
	}
	if (run->failed)
		return; /* after an unreadable file nothing more is linted */
	if (!job->script) {
		const cf_error *p = job->problems.n ? job->problems.items[0] :
						      NULL;

		add_unread(run->d, run->paths[i], 0, 0,
			   cf_strdup(p ? p->message :
					 "the file cannot be read as SQL"));
	} else {
		lint_script(run->d, job->script, job->items);
	}
}

static void
lint_file_release(void *arg, size_t i)
{
	lint_files_run *run = arg;
	lint_file_job *job = &run->jobs[i];

	if (job->script)
		lint_release(job->script, job->items, false);
	cf_script_trees_free(job->trees);
	cf_error_free(job->read_error);
	cf_script_free(job->script);
	cf_error_list_release(&job->problems);
	free(job->data);
}

int
cf_lint_files(const char *const *paths, size_t n, const cf_lint_options *opts,
	      cf_lint_result **out, cf_error **err)
{
	lint_driver d;
	lint_files_run run = {.d = &d, .paths = paths};
	int threads = cf_parallel_threads();

	*out = NULL;
	if (lint_begin(opts, &d, err) < 0)
		return -1;
	read_context(&d);
	run.jobs = cf_calloc(n ? n : 1, sizeof(*run.jobs));
	cf_parallel_ordered(n, lint_window(threads), threads, lint_file_prepare,
			    lint_file_consume, lint_file_release, &run);
	free(run.jobs);
	lint_history_release(&d.history);
	if (run.failed) {
		cf_lint_result_free(d.res);
		return cf_fail(err, run.failed);
	}
	*out = d.res;
	return 0;
}

/* See lint/lint.h. */
struct cf_lint_stream {
	lint_driver d;
	bool keep_models;
};

int
cf_lint_stream_begin(const cf_lint_options *opts, bool keep_models,
		     cf_lint_stream **out, cf_error **err)
{
	cf_lint_stream *ls = cf_new(cf_lint_stream);

	*out = NULL;
	if (lint_begin(opts, &ls->d, err) < 0) {
		free(ls);
		return -1;
	}
	ls->keep_models = keep_models;
	read_context(&ls->d);
	*out = ls;
	return 0;
}

size_t
cf_lint_stream_window(int threads)
{
	return lint_window(threads);
}

void *
cf_lint_stream_prepare(cf_lint_stream *ls, cf_script *script,
		       const cf_script_trees *trees)
{
	(void)ls; /* nothing shared is touched: any thread */
	return lint_prepare(script, trees);
}

void
cf_lint_stream_consume(cf_lint_stream *ls, cf_script *script, void *prepared)
{
	lint_script(&ls->d, script, prepared);
}

void
cf_lint_stream_release(cf_lint_stream *ls, cf_script *script, void *prepared)
{
	lint_release(script, prepared, ls->keep_models);
}

cf_lint_result *
cf_lint_stream_end(cf_lint_stream *ls)
{
	cf_lint_result *r;

	if (!ls)
		return NULL;
	r = ls->d.res;
	lint_history_release(&ls->d.history);
	free(ls);
	return r;
}

typedef struct lint_scripts_run {
	cf_lint_stream *ls;
	cf_script *const *scripts;
	void **items;
} lint_scripts_run;

static void
lint_scripts_prepare(void *arg, size_t i)
{
	lint_scripts_run *run = arg;

	run->items[i] = cf_lint_stream_prepare(run->ls, run->scripts[i], NULL);
}

static void
lint_scripts_consume(void *arg, size_t i)
{
	lint_scripts_run *run = arg;

	cf_lint_stream_consume(run->ls, run->scripts[i], run->items[i]);
}

static void
lint_scripts_release(void *arg, size_t i)
{
	lint_scripts_run *run = arg;

	cf_lint_stream_release(run->ls, run->scripts[i], run->items[i]);
}

int
cf_lint_scripts(cf_script *const *scripts, size_t n, bool keep_models,
		const cf_lint_options *opts, cf_lint_result **out,
		cf_error **err)
{
	lint_scripts_run run = {.scripts = scripts};
	int threads = cf_parallel_threads();

	*out = NULL;
	if (cf_lint_stream_begin(opts, keep_models, &run.ls, err) < 0)
		return -1;
	run.items = cf_calloc(n ? n : 1, sizeof(*run.items));
	cf_parallel_ordered(n, lint_window(threads), threads,
			    lint_scripts_prepare, lint_scripts_consume,
			    lint_scripts_release, &run);
	free(run.items);
	*out = cf_lint_stream_end(run.ls);
	return 0;
}

int
cf_lint_text(const char *path, const char *text, size_t len,
	     const cf_lint_options *opts, cf_lint_result **out, cf_error **err)
{
	lint_driver d;

	*out = NULL;
	if (lint_begin(opts, &d, err) < 0)
		return -1;
	read_context(&d);
	lint_one(&d, path, text, len);
	lint_history_release(&d.history);
	*out = d.res;
	return 0;
}

void
cf_lint_result_free(cf_lint_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_findings; i++) {
		free(r->findings[i].file);
		free(r->findings[i].message);
		free(r->findings[i].excerpt);
	}
	free(r->findings);
	for (size_t i = 0; i < r->n_not_linted; i++) {
		free(r->not_linted[i].file);
		free(r->not_linted[i].reason);
	}
	free(r->not_linted);
	free(r);
}
