/*
 * lint_internal.h — what the lint driver (lint.c) and the rules (rules.c)
 * share: the per-file state a rule reads and the way it reports.  Not
 * installed.
 */
#ifndef CF_LINT_INTERNAL_H
#define CF_LINT_INTERNAL_H

#include "base/base.h"
#include "history/model.h"

/* Positions in a list that share a key (rules.c's indexes). */
typedef struct lint_slot {
	char *key; /* owned; NULL: an empty slot */
	size_t *at;
	size_t n, alloc;
} lint_slot;

typedef struct lint_index {
	lint_slot *slots;
	size_t cap, used;
} lint_index;

/* A CHECK (col IS NOT NULL) seen earlier in the file. */
typedef struct lint_notnull_check {
	char *table, *constraint, *column;
	bool validated;
} lint_notnull_check;

/* What the rules know about the file so far (earlier statements). */
/*
 * Each list has an index by table name: a baseline of 5,000 tables looked
 * every earlier table up per statement (4x the time for 2x the file).
 */
typedef struct lint_file_state {
	lint_index created; /* tables created by earlier statements */
	lint_notnull_check *checks;
	size_t n_checks, alloc_checks;
	lint_index checks_by_table;
	bool lock_timeout;  /* SET [LOCAL] lock_timeout seen */
	bool lock_reported; /* the missing-lock-timeout finding was made */
	struct lint_altered {
		char *table;
		bool reported;
	} * altered; /* tables of earlier combinable ALTER TABLEs */
	size_t n_altered, alloc_altered;
	lint_index altered_by_table;
	/* the whole file, counted before the rules run */
	size_t n_changes;   /* statements neither SET/RESET nor autocommit */
	size_t n_ddl;	    /* schema changes (not DML, SELECT, SET) */
	bool transactional; /* the file runs in one transaction */
} lint_file_state;

/*
 * What the files linted so far in this run defined and what refers to
 * what (rule replace-with-dependents without a database): names are
 * unqualified, as the migrations spell them.
 */
typedef struct lint_def {
	char *name;
	bool function;	/* else a view */
	char *args;	/* functions: "integer, text" */
	char *returns;	/* functions: the result type(s) as written */
	char *body;	/* function source, or the statement's text */
	char **columns; /* views: output column names; NULL when unknown */
	size_t n_columns;
} lint_def;

typedef struct lint_use {
	char *target; /* the function or relation referred to */
	char *kind;   /* what refers to it: "view", "trigger", "index", ... */
	char *name;   /* its name */
	bool stored;  /* keeps values computed from the target */
} lint_use;

/*
 * defs and uses only grow: a forgotten one keeps its place with its name
 * (and a use's target) NULL, so that the indexes, which list places in
 * order, stay true.  Each lookup is by index: scanning every earlier
 * definition or use per statement made lint quadratic in the history.
 */
typedef struct lint_history {
	lint_def *defs;
	size_t n_defs, alloc_defs;
	lint_use *uses;
	size_t n_uses, alloc_uses;
	lint_index defs_by_name;
	lint_index uses_by_target, uses_by_name;
	lint_index uses_by_key; /* target, name and kind: no duplicates */
} lint_history;

typedef struct lint_stmt lint_stmt;

/*
 * How the driver takes a finding of rule id (a row of the table) at byte
 * offset loc of the statement text (-1: the statement's start); takes
 * message.  A pointer, so that the rules do not depend on the driver.
 */
typedef void (*lint_report_fn)(const lint_stmt *s, const char *id, int loc,
			       char *message);

/* One statement being linted. */
struct lint_stmt {
	const cf_script *script;
	const cf_statement *stmt;
	const void *node;	    /* PgQuery__Node * of the statement alone */
	const cf_stmt_model *model; /* node's model, when the statement's own
				     * (its first node); NULL otherwise */
	const char *text; /* the statement's text (offsets are into it) */
	int pg_major;
	lint_file_state *state;
	lint_report_fn report;
	void *driver;		  /* the driver's context */
	lint_history *history;	  /* the whole run's, across files */
	bool facts_known;	  /* a database's facts replace the history */
	const cf_lint_fact *fact; /* this statement's, or NULL */
};

/* rules.c: frees what the run's history owns. */
void lint_history_release(lint_history *h);
/* Frees what the rules remembered of one file. */
void lint_file_state_release(lint_file_state *st);

/* rules.c: runs every rule on one statement, then records what it does
 * in the file state. */
void lint_rules_run(lint_stmt *s);
/* The table row of rule id, or NULL. */
const cf_lint_rule *lint_rule_find(const char *id);
/* Rule id's one-line safe alternative (static; "" when unknown). */
const char *lint_rule_suggestion(const char *id);

#endif /* CF_LINT_INTERNAL_H */
