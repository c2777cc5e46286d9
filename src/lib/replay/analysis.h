/*
 * analysis.h — root cause vs consequence for preflight failures.  Pure
 * logic over statement models and server errors; no database.  Not
 * installed.
 */
#ifndef CF_ANALYSIS_H
#define CF_ANALYSIS_H

#include "base/base.h"

/* What the analysis needs to know about one replayed migration. */
typedef struct cf_failure_view {
	const cf_script *script; /* parsed .up.sql (statement models set) */
	cf_outcome_kind kind;	 /* OK, FAILED or SKIPPED */
	const cf_error *error;	 /* set when FAILED */
	bool uses_missing; /* uses a relation that did not exist before it and
			    * that no earlier migration would have provided:
			    * it fails on its own */
} cf_failure_view;

/* The verdict for one migration; zero-initialised by the caller. */
typedef struct cf_cause_label {
	cf_cause cause;
	long caused_by; /* index of the direct cause, or -1 */
	bool likely;	/* the link is by bare name or by use, not by a
			 * qualified identity the error names */
	bool artifact;
	char *artifact_reason; /* owned by the caller after the call */
} cf_cause_label;

/*
 * Labels every FAILED migration as a root cause or a consequence, by the
 * rules in analysis.c's header comment: the latest earlier migration that
 * would have provided the object an error names missing (or removed the
 * one it names existing) decides; for other errors, an earlier failed or
 * skipped migration that would have created or altered an object the
 * failing statement uses.  caused_by is that migration; labels are
 * transitive through consequences (a consequence's objects were never
 * created either).
 *
 * one_transaction is true for savepoint mode: then 55P04 (a new enum value
 * used in the transaction that added it, when an earlier migration of the
 * run added it) and 53200 out of shared memory (max_locks_per_transaction)
 * are artifacts of replaying everything in one transaction: artifact=true,
 * artifact_reason explains, and cause stays ROOT so that what depends on it
 * can be labelled its consequence.
 */
void cf_analyze_failures(const cf_failure_view *v, size_t n,
			 bool one_transaction, cf_cause_label *labels);

/* Lower-level pieces, exposed for unit tests. */

/* Names of objects a script creates, renames into existence, or adds
 * (tables, views, columns, indexes, types, enum values and their types,
 * functions, schemas, sequences, constraints, triggers, roles, ...).
 * NULL-terminated array of unqualified names; caller frees each and the
 * array. */
char **cf_analysis_provided_names(const cf_script *script);

/* Names an error reports as missing; NULL-terminated, caller frees; NULL
 * when the error is not of a "does not exist" kind. */
char **cf_analysis_missing_names(const cf_error *e);

void cf_analysis_free_names(char **names);

#endif /* CF_ANALYSIS_H */
