/*
 * drift_explain.c — when a replayed migration fails on an object that
 * production has but no migration made (or that differs from its
 * history), say so in the failure's hint: "production has index
 * public.idx_x that no migration created".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* The last component of an object's name, without a signature:
 * "public.orders.note" → "note", "public.f(integer)" → "f".  Caller
 * frees. */
static char *
short_name(const char *name)
{
	const char *paren = strchr(name, '(');
	size_t len = paren ? (size_t)(paren - name) : strlen(name);
	const char *start = name;

	for (size_t i = 0; i < len; i++)
		if (name[i] == '.')
			start = name + i + 1;
	return cf_strndup(start, len - (size_t)(start - name));
}

/* true when word appears in text as a whole identifier (or quoted). */
static bool
mentions(const char *text, const char *word)
{
	size_t n = strlen(word);

	if (!text || !n)
		return false;
	for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
		bool before = p == text || !(isalnum((unsigned char)p[-1]) ||
					     p[-1] == '_' || p[-1] == '$');
		bool after = !(isalnum((unsigned char)p[n]) || p[n] == '_' ||
			       p[n] == '$');

		if (before && after)
			return true;
	}
	return false;
}

static void
explain(cf_error *e, const cf_drift_result *d)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	for (size_t i = 0; i < d->n; i++) {
		const cf_drift_item *it = &d->items[i];
		char *word = short_name(it->change.object);

		/* the statement names many things: only hand-made objects
		 * are worth pointing at there */
		if (mentions(e->message, word) || mentions(e->detail, word) ||
		    (it->status == CF_DRIFT_EXTRA &&
		     mentions(e->statement, word))) {
			const char *kind = cf_object_kind_name(
				it->change.object_kind);

			if (sb.len)
				cf_strbuf_addstr(&sb, "; ");
			if (it->status == CF_DRIFT_EXTRA)
				cf_strbuf_addf(
					&sb,
					"production has %s %s that no migration created",
					kind, it->change.object);
			else if (it->status == CF_DRIFT_MISSING)
				cf_strbuf_addf(
					&sb,
					"production lacks %s %s that migration %s made",
					kind, it->change.object,
					it->migration ? it->migration : "?");
			else
				cf_strbuf_addf(
					&sb,
					"production's %s %s differs from its history: %s",
					kind, it->change.object,
					it->change.attribute);
		}
		free(word);
	}
	if (!sb.len)
		return;
	/* one line: renderers indent a hint as a single line */
	if (e->hint)
		cf_error_set_hint(e, "%s; %s", e->hint, cf_strbuf_str(&sb));
	else
		cf_error_set_hint(e, "%s", cf_strbuf_str(&sb));
	cf_strbuf_release(&sb);
}

size_t
cf_preflight_explain_drift(cf_preflight_result *r, const cf_drift_result *d)
{
	size_t explained = 0;

	for (size_t i = 0; i < r->n; i++) {
		cf_preflight_migration *pm = &r->migrations[i];
		cf_error *e = pm->outcome.error;
		char *before;

		if (pm->outcome.kind != CF_OUTCOME_FAILED || !e)
			continue;
		before = cf_strdup(e->hint);
		explain(e, d);
		if ((before == NULL) != (e->hint == NULL) ||
		    (before && strcmp(before, e->hint) != 0))
			explained++;
		free(before);
	}
	return explained;
}
