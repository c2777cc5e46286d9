/*
 * lint_internal.h — what the lint driver (lint.c) and the rules (rules.c)
 * share: the per-file state a rule reads and the way it reports.  Not
 * installed.
 */
#ifndef CF_LINT_INTERNAL_H
#define CF_LINT_INTERNAL_H

#include "base/base.h"
#include "history/model.h"

/* A CHECK (col IS NOT NULL) seen earlier in the file. */
typedef struct lint_notnull_check {
	char *table, *constraint, *column;
	bool validated;
} lint_notnull_check;

/* What the rules know about the file so far (earlier statements). */
typedef struct lint_file_state {
	char **created; /* tables created by earlier statements */
	size_t n_created, alloc_created;
	lint_notnull_check *checks;
	size_t n_checks, alloc_checks;
	bool lock_timeout;  /* SET [LOCAL] lock_timeout seen */
	bool lock_reported; /* the missing-lock-timeout finding was made */
	struct lint_altered {
		char *table;
		bool reported;
	} * altered; /* tables of earlier combinable ALTER TABLEs */
	size_t n_altered, alloc_altered;
	/* the whole file, counted before the rules run */
	size_t n_changes;   /* statements neither SET/RESET nor autocommit */
	size_t n_ddl;	    /* schema changes (not DML, SELECT, SET) */
	bool transactional; /* the file runs in one transaction */
} lint_file_state;

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
	void *driver; /* the driver's context */
};

/* rules.c: runs every rule on one statement, then records what it does
 * in the file state. */
void lint_rules_run(lint_stmt *s);
/* The table row of rule id, or NULL. */
const cf_lint_rule *lint_rule_find(const char *id);
/* Rule id's one-line safe alternative (static; "" when unknown). */
const char *lint_rule_suggestion(const char *id);

#endif /* CF_LINT_INTERNAL_H */
