/*
 * replay/risk.h — deploy risk measured in the replay (docs/risk.md): the
 * locks, rewrites and scans each statement caused (risk_trace.c),
 * production's sizes of what they touched (prod_sizes.c), and the tiers,
 * estimates and change_set drawn from both (risk.c).  Not installed.
 */
#ifndef CF_RISK_H
#define CF_RISK_H

#include "db/db.h"

/* risk_trace.c */

typedef struct cf_risk_tracer cf_risk_tracer;

/*
 * Snapshots the relations conn's database holds before the first
 * migration (they exist in production too; later ones are new and empty
 * there).  savepoint: every migration runs in one transaction, as
 * savepoints.  Returns NULL with *err when the catalog cannot be read.
 * Free with cf_risk_tracer_free().
 */
cf_risk_tracer *cf_risk_tracer_begin(PGconn *conn, bool savepoint,
				     cf_error **err);

/*
 * After statement index (0-based) of script succeeded on conn, still in
 * its unit: appends what it did to pm->statements (locks newly held on
 * pre-existing relations, rewrites, scans, duration).
 */
void cf_risk_tracer_after(cf_risk_tracer *t, PGconn *conn, cf_script *script,
			  size_t index, double elapsed_ms,
			  cf_preflight_migration *pm);

/*
 * After a migration's unit ended (committed or rolled back; autocommit:
 * it ran outside a transaction) and, when more, other statements ran on
 * conn after it (--check-down): forgets what the unit's rollback
 * undid and, in transaction mode, makes the server publish this
 * session's pending statistics so the next unit counts scans from zero.
 */
void cf_risk_tracer_unit_done(cf_risk_tracer *t, PGconn *conn, bool committed,
			      bool autocommit, bool more);

/* A note on what the trace cannot see exactly, or NULL; static. */
const char *cf_risk_tracer_note(const cf_risk_tracer *t);

void cf_risk_tracer_free(cf_risk_tracer *t);

/* Frees what a traced statement owns (not the struct). */
void cf_risk_statement_release(cf_risk_statement *st);

/* prod_sizes.c */

/*
 * Reads reltuples, relpages and pg_total_relation_size of every relation
 * in r's traced locks from production's catalog (url), in a read-only
 * transaction with short timeouts: statistics only, never rows.  Sets
 * r->sizes_from; on failure r->sizes_note, and the sizes stay unknown.
 */
void cf_risk_read_sizes(cf_preflight_result *r, const char *url);

/* risk.c */

/* True when some traced statement rewrote or scanned a relation whose
 * production size is known: only then is calibration worth its cost. */
bool cf_risk_needs_calibration(const cf_preflight_result *r);

/*
 * Measures this server's rewrite and scan throughput on a sample table
 * (a TEMP one when temp, else a plain one; always rolled back) on conn,
 * outside any transaction.  Fills r->rewrite_mb_s, r->scan_mb_s and
 * r->calibration; on failure leaves them unset and adds nothing.
 */
void cf_risk_calibrate(cf_preflight_result *r, PGconn *conn, bool temp);

/*
 * What statements change, read ahead from parse trees another analysis
 * made (lint's, through cf_lint_options.on_tree), so that
 * cf_risk_assess() parses only the statements nobody parsed.
 */
typedef struct cf_risk_changes cf_risk_changes;

/* An empty set; free with cf_risk_changes_free(). */
cf_risk_changes *cf_risk_changes_new(void);

/* Notes what statement i of script changes from its parse node (a
 * PgQuery__Node *, only read during the call); arg is the set.  Fits
 * cf_lint_options.on_tree. */
void cf_risk_changes_note(void *arg, cf_script *script, size_t i,
			  const void *node);

void cf_risk_changes_free(cf_risk_changes *known);

/* Tiers, reasons, lock-time estimates and the change_set of r.  known
 * (may be NULL) holds what some statements change; assess takes it from
 * there instead of parsing them. */
void cf_risk_assess(cf_preflight_result *r, cf_risk_changes *known);

/* Frees r's change_set and calibration text. */
void cf_risk_result_release(cf_preflight_result *r);

#endif /* CF_RISK_H */
