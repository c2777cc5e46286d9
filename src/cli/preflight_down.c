/*
 * preflight_down.c — how `migrate preflight --check-down` shows its
 * verdicts: one per migration whose up passed (reversible, down fails,
 * down incomplete with the differences, no down, not re-appliable), in
 * text and in JSON (against.migrations[].down).
 */
#include <stdlib.h>

#include "cli.h"

static const char *
change_name(cf_change_kind k)
{
	return k == CF_CHANGE_ADDED   ? "added" :
	       k == CF_CHANGE_REMOVED ? "removed" :
					"changed";
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
cli_down_json(const cf_down_check *d)
{
	json_t *o, *diff;

	if (d->status == CF_DOWN_NOT_CHECKED && !d->error)
		return NULL;
	o = json_object();
	diff = json_array();
	json_object_set_new(o, "status",
			    json_string(cf_down_status_name(d->status)));
	for (size_t i = 0; d->diff && i < d->diff->n; i++) {
		const cf_schema_change *c = &d->diff->items[i];
		json_t *item = json_object();
		char *text = cf_schema_change_text(c);

		json_object_set_new(item, "change",
				    json_string(change_name(c->kind)));
		json_object_set_new(
			item, "kind",
			json_string(cf_object_kind_name(c->object_kind)));
		json_object_set_new(item, "object", json_string(c->object));
		json_object_set_new(item, "attribute",
				    str_or_null(c->attribute));
		json_object_set_new(item, "before", str_or_null(c->old_value));
		json_object_set_new(item, "after", str_or_null(c->new_value));
		json_object_set_new(item, "text", json_string(text));
		free(text);
		json_array_append_new(diff, item);
	}
	json_object_set_new(o, "diff", diff);
	json_object_set_new(o, "error",
			    d->error ? cli_error_json(d->error) : json_null());
	return o;
}

size_t
cli_down_problems(const cf_preflight_result *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		cf_down_status st = r->migrations[i].down.status;

		if (st != CF_DOWN_NOT_CHECKED && st != CF_DOWN_REVERSIBLE)
			n++;
	}
	return n;
}

void
cli_print_downs(FILE *f, const cf_preflight_result *r)
{
	size_t checked = 0;

	fprintf(f, "\n%sRollback check%s (--check-down)\n", cli_c(f, "bold"),
		cli_c(f, "reset"));
	if (r->mode != CF_PREFLIGHT_CLONE) {
		fprintf(f,
			"  %snote:%s needs clone mode; no .down.sql was run\n",
			cli_c(f, "yellow"), cli_c(f, "reset"));
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const cf_preflight_migration *pm = &r->migrations[i];
		const cf_down_check *d = &pm->down;
		bool good = d->status == CF_DOWN_REVERSIBLE;

		if (d->status == CF_DOWN_NOT_CHECKED && !d->error)
			continue;
		checked++;
		fprintf(f, "  %s%s%s %s %s  %s\n",
			cli_c(f, good ? "green" : "yellow"), good ? "✓" : "!",
			cli_c(f, "reset"), pm->migration->version,
			pm->migration->name, cf_down_status_name(d->status));
		for (size_t k = 0; d->diff && k < d->diff->n; k++) {
			char *text = cf_schema_change_text(&d->diff->items[k]);

			fprintf(f, "      %s\n", text);
			free(text);
		}
		if (d->error)
			cli_print_error_indented(f, d->error, "      ");
	}
	if (!checked)
		fprintf(f, "  no migration passed: nothing to roll back\n");
	else
		fprintf(f, "  %zu checked, %zu reversible\n", checked,
			checked - cli_down_problems(r));
}
