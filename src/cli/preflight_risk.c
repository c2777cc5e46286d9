/*
 * preflight_risk.c — how preflight shows deploy risk: per statement the
 * locks the replay took, rewrites and scans, production's sizes, a tier,
 * a reason and an estimated lock time (JSON: against.migrations[]
 * .statements, against.trace, change_set; text: the riskiest first).
 */
#include <stdlib.h>

#include "cli.h"

static json_t *
tristate(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *
tier_json(cf_tier t)
{
	return t == CF_TIER_NONE ? json_null() : json_string(cf_tier_name(t));
}

static json_t *
ms_json(double ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)(ms + 0.5));
}

static json_t *
lock_json(const cf_risk_lock *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "relation", json_string(l->relation));
	json_object_set_new(o, "mode",
			    l->mode ? json_string(l->mode) : json_null());
	json_object_set_new(o, "rewrite", tristate(l->rewrite));
	json_object_set_new(o, "scan", tristate(l->scan));
	json_object_set_new(o, "rows",
			    l->rows < 0 ? json_null() :
					  json_integer((json_int_t)l->rows));
	json_object_set_new(o, "bytes",
			    l->bytes < 0 ? json_null() :
					   json_integer((json_int_t)l->bytes));
	/* additions */
	json_object_set_new(o, "pages",
			    l->pages < 0 ? json_null() :
					   json_integer((json_int_t)l->pages));
	json_object_set_new(o, "index", json_boolean(l->is_index));
	json_object_set_new(o, "acquired", json_boolean(l->acquired));
	json_object_set_new(o, "observed", json_boolean(l->observed));
	return o;
}

static json_t *
statement_json(const cf_risk_statement *st)
{
	json_t *o = json_object(), *locks = json_array();

	json_object_set_new(o, "index", json_integer((json_int_t)st->index));
	json_object_set_new(o, "line", json_integer(st->line));
	json_object_set_new(o, "duration_ms", ms_json(st->duration_ms));
	for (size_t k = 0; k < st->n_locks; k++)
		json_array_append_new(locks, lock_json(&st->locks[k]));
	json_object_set_new(o, "locks", locks);
	json_object_set_new(o, "tier", tier_json(st->tier));
	json_object_set_new(o, "reason", json_string(st->reason));
	json_object_set_new(o, "est_lock_ms", ms_json(st->est_lock_ms));
	/* additions */
	json_object_set_new(o, "blocks",
			    json_string(cf_blocks_name(st->blocks)));
	json_object_set_new(o, "kind",
			    st->kind ? json_string(st->kind) : json_null());
	json_object_set_new(o, "object",
			    st->object ? json_string(st->object) : json_null());
	json_object_set_new(o, "autocommit", json_boolean(st->autocommit));
	return o;
}

void
cli_risk_migration_json(json_t *j, const cf_preflight_migration *pm,
			bool traced)
{
	json_t *list = json_array();

	for (size_t s = 0; s < pm->n_statements; s++)
		json_array_append_new(list, statement_json(&pm->statements[s]));
	json_object_set_new(j, "statements", traced ? list : json_null());
	if (!traced)
		json_decref(list);
	json_object_set_new(j, "tier", tier_json(pm->tier));
	json_object_set_new(j, "est_lock_ms",
			    traced ? ms_json(pm->est_lock_ms) : json_null());
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
cli_risk_trace_json(const cf_preflight_result *r)
{
	json_t *o = json_object(), *cal = json_null();

	json_object_set_new(o, "traced", json_boolean(r->traced));
	json_object_set_new(o, "overhead_ms",
			    ms_json(r->traced ? r->trace_ms : -1));
	json_object_set_new(o, "note", str_or_null(r->trace_note));
	json_object_set_new(o, "sizes_from", str_or_null(r->sizes_from));
	json_object_set_new(o, "sizes_note", str_or_null(r->sizes_note));
	if (r->calibration) {
		cal = json_object();
		json_object_set_new(cal, "rewrite_mb_s",
				    json_real(r->rewrite_mb_s));
		json_object_set_new(cal, "scan_mb_s", json_real(r->scan_mb_s));
		json_object_set_new(cal, "method", json_string(r->calibration));
	}
	json_object_set_new(o, "calibration", cal);
	return o;
}

json_t *
cli_change_set_json(const cf_preflight_result *r)
{
	json_t *o, *list;

	if (!r->traced)
		return NULL;
	o = json_object();
	list = json_array();
	json_object_set_new(o, "contract_version", json_integer(1));
	for (size_t i = 0; i < r->n_changes; i++) {
		const cf_risk_change *c = &r->changes[i];
		json_t *j = json_object();

		json_object_set_new(j, "kind", json_string(c->kind));
		json_object_set_new(j, "object", str_or_null(c->object));
		json_object_set_new(j, "migration", json_string(c->migration));
		json_object_set_new(j, "tier", tier_json(c->tier));
		json_object_set_new(j, "detail", str_or_null(c->detail));
		json_array_append_new(list, j);
	}
	json_object_set_new(o, "changes", list);
	return o;
}

/* A traced statement and where it is, for sorting. */
struct ranked {
	const cf_preflight_migration *pm;
	const cf_risk_statement *st;
};

static int
by_risk(const void *a, const void *b)
{
	const cf_risk_statement *x = ((const struct ranked *)a)->st;
	const cf_risk_statement *y = ((const struct ranked *)b)->st;
	double ex = x->est_lock_ms < 0 ? 1e18 : x->est_lock_ms;
	double ey = y->est_lock_ms < 0 ? 1e18 : y->est_lock_ms;

	if (x->tier != y->tier)
		return x->tier > y->tier ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks > y->blocks ? -1 : 1;
	return ex > ey ? -1 : ex < ey;
}

#define SHOWN 10

void
cli_print_risk(FILE *f, const cf_preflight_result *r)
{
	struct ranked *all = NULL;
	size_t n = 0, shown = 0;

	if (!r->traced)
		return; /* not asked for: the output stays as it was */
	for (size_t i = 0; i < r->n; i++)
		for (size_t s = 0; s < r->migrations[i].n_statements; s++) {
			all = realloc(all, (n + 1) * sizeof(*all));
			if (!all)
				abort();
			all[n].pm = &r->migrations[i];
			all[n++].st = &r->migrations[i].statements[s];
		}
	if (n)
		qsort(all, n, sizeof(*all), by_risk);
	fprintf(f,
		"\n%sDeploy risk%s, riskiest first (locks traced in the replay; %s)\n",
		cli_c(f, "bold"), cli_c(f, "reset"),
		r->sizes_from ? "sizes from production" :
				"production sizes unknown");
	for (size_t i = 0; i < n && shown < SHOWN; i++) {
		const cf_risk_statement *st = all[i].st;
		const char *color = st->tier >= CF_TIER_LOCK_RISKY ? "red" :
				    st->tier == CF_TIER_REVERSIBLE ? "yellow" :
								     "green";

		/* what can hurt a deploy: the rest is in the JSON */
		if (st->tier < CF_TIER_LOCK_RISKY &&
		    st->blocks == CF_BLOCKS_NOTHING)
			continue;
		fprintf(f, "  %s%-12s%s %s %s:%d  %s\n", cli_c(f, color),
			cf_tier_name(st->tier), cli_c(f, "reset"),
			all[i].pm->migration->version,
			all[i].pm->migration->name, st->line, st->reason);
		shown++;
	}
	if (!shown)
		fprintf(f,
			"  no statement blocks reads or writes of a relation that existed before, or loses data\n");
	else if (n > shown)
		fprintf(f,
			"  %s(%zu statements in all; --format json lists each)%s\n",
			cli_c(f, "dim"), n, cli_c(f, "reset"));
	if (r->calibration)
		fprintf(f, "  %scalibration:%s %s\n", cli_c(f, "dim"),
			cli_c(f, "reset"), r->calibration);
	if (r->sizes_from)
		fprintf(f,
			"  %ssizes:%s reltuples, relpages and pg_total_relation_size read from %s\n",
			cli_c(f, "dim"), cli_c(f, "reset"), r->sizes_from);
	else if (r->sizes_note)
		fprintf(f, "  %ssizes:%s %s\n", cli_c(f, "dim"),
			cli_c(f, "reset"), r->sizes_note);
	if (r->trace_note)
		fprintf(f, "  %snote:%s %s\n", cli_c(f, "yellow"),
			cli_c(f, "reset"), r->trace_note);
	free(all);
}
