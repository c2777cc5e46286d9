/*
 * schema_diff.c — test driver for the library's schema snapshot and diff
 * (tests/integration/t0500-schema-diff.sh): prints one line per difference
 * between two databases, or every object of one.  Not installed.
 *
 *   schema_diff [--owners] [--grants] [--exclude REL] URL_FROM URL_TO
 *   schema_diff --list [--owners] [--grants] URL
 *
 * Exit status: 0 no difference, 1 differences, 2 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confiture.h"

static int
fail(cf_error *e)
{
	fprintf(stderr, "error: %s\n", e->message);
	if (e->detail)
		fprintf(stderr, "detail: %s\n", e->detail);
	cf_error_free(e);
	return 2;
}

static void
list(const cf_schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const cf_schema_object *o = &s->objects[i];

		printf("%s %s\n", cf_object_kind_name(o->kind), o->name);
		for (size_t a = 0; a < o->n_attrs; a++)
			printf("  %s: %s\n", o->attrs[a].name,
			       o->attrs[a].value);
	}
}

int
main(int argc, char **argv)
{
	cf_snapshot_options opts = {0};
	const char *exclude[2] = {NULL, NULL};
	const char *urls[2];
	cf_schema *s[2] = {NULL, NULL};
	cf_schema_diff *d;
	cf_error *err = NULL;
	bool do_list = false;
	int n = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--owners") == 0)
			opts.owners = true;
		else if (strcmp(argv[i], "--grants") == 0)
			opts.grants = true;
		else if (strcmp(argv[i], "--list") == 0)
			do_list = true;
		else if (strcmp(argv[i], "--exclude") == 0 && i + 1 < argc)
			exclude[0] = argv[++i];
		else if (n < 2)
			urls[n++] = argv[i];
		else
			n = 3;
	}
	if (n != (do_list ? 1 : 2)) {
		fprintf(stderr, "usage: schema_diff [--list] [--owners] "
				"[--grants] [--exclude REL] URL [URL]\n");
		return 2;
	}
	opts.exclude = exclude;
	for (int i = 0; i < n; i++)
		if (cf_schema_snapshot(urls[i], &opts, &s[i], &err) < 0) {
			cf_schema_free(s[0]);
			return fail(err);
		}
	if (do_list) {
		list(s[0]);
		cf_schema_free(s[0]);
		return 0;
	}
	d = cf_schema_diff_compute(s[0], s[1]);
	for (size_t i = 0; i < d->n; i++) {
		char *line = cf_schema_change_text(&d->items[i]);

		printf("%s\n", line);
		free(line);
	}
	rc = d->n ? 1 : 0;
	cf_schema_diff_free(d);
	cf_schema_free(s[0]);
	cf_schema_free(s[1]);
	return rc;
}
