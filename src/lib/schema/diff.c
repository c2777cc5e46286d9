/*
 * diff.c — the differences between two schema snapshots, named by object
 * and attribute ("column public.orders.total: type numeric(12,2) →
 * numeric(14,2)"), not by lines of a dump.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

struct diff_builder {
	cf_schema_diff *d;
	size_t alloc;
};

static cf_schema_change *
add_change(struct diff_builder *b, cf_change_kind kind,
	   const cf_schema_object *o)
{
	cf_schema_change *c;

	CF_GROW(b->d->items, b->alloc, b->d->n + 1);
	c = &b->d->items[b->d->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->object_kind = o->kind;
	c->object = cf_strdup(o->name);
	c->parent = cf_strdup(o->parent);
	return c;
}

static const char *
attr_value(const cf_schema_object *o, const char *name)
{
	for (size_t i = 0; i < o->n_attrs; i++)
		if (strcmp(o->attrs[i].name, name) == 0)
			return o->attrs[i].value;
	return NULL;
}

/* Owners and grants are compared only when both snapshots have them. */
static bool
comparable(const char *attr, const cf_schema *from, const cf_schema *to)
{
	if (strcmp(attr, "owner") == 0)
		return from->owners && to->owners;
	if (strcmp(attr, "grants") == 0)
		return from->grants && to->grants;
	return true;
}

static void
changed_attr(struct diff_builder *b, const cf_schema_object *o,
	     const char *attr, const char *old_value, const char *new_value)
{
	cf_schema_change *c = add_change(b, CF_CHANGE_CHANGED, o);

	c->attribute = cf_strdup(attr);
	c->old_value = cf_strdup(old_value);
	c->new_value = cf_strdup(new_value);
}

static void
compare_objects(struct diff_builder *b, const cf_schema_object *x,
		const cf_schema_object *y, const cf_schema *from,
		const cf_schema *to)
{
	for (size_t i = 0; i < x->n_attrs; i++) {
		const char *name = x->attrs[i].name;
		const char *v = attr_value(y, name);

		if (!comparable(name, from, to))
			continue;
		if (!v || strcmp(v, x->attrs[i].value) != 0)
			changed_attr(b, x, name, x->attrs[i].value, v);
	}
	for (size_t i = 0; i < y->n_attrs; i++) {
		const char *name = y->attrs[i].name;

		if (comparable(name, from, to) && !attr_value(x, name))
			changed_attr(b, x, name, NULL, y->attrs[i].value);
	}
}

static int
object_order(const cf_schema_object *a, const cf_schema_object *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the objects added (or removed), sorted, for the parent
 * test. */
static char **
names_of(const cf_schema_diff *d, cf_change_kind kind, size_t *n)
{
	char **names = cf_calloc(d->n + 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].kind == kind)
			names[(*n)++] = d->items[i].object;
	qsort(names, *n, sizeof(char *), str_cmp);
	return names;
}

void
cf_schema_change_release(cf_schema_change *c)
{
	free(c->object);
	free(c->parent);
	free(c->attribute);
	free(c->old_value);
	free(c->new_value);
}

void
cf_schema_change_copy(cf_schema_change *dst, const cf_schema_change *src)
{
	dst->kind = src->kind;
	dst->object_kind = src->object_kind;
	dst->object = cf_strdup(src->object);
	dst->parent = cf_strdup(src->parent);
	dst->attribute = cf_strdup(src->attribute);
	dst->old_value = cf_strdup(src->old_value);
	dst->new_value = cf_strdup(src->new_value);
}

/* Drops added (removed) objects whose parent is added (removed) too. */
static void
fold_children(cf_schema_diff *d)
{
	size_t n_added, n_removed, w = 0;
	char **added = names_of(d, CF_CHANGE_ADDED, &n_added);
	char **removed = names_of(d, CF_CHANGE_REMOVED, &n_removed);
	bool *fold = cf_calloc(d->n + 1, sizeof(bool));

	/* decide first: the name arrays point into the items */
	for (size_t i = 0; i < d->n; i++) {
		const cf_schema_change *c = &d->items[i];

		if (c->parent && c->kind == CF_CHANGE_ADDED)
			fold[i] = bsearch(&c->parent, added, n_added,
					  sizeof(char *), str_cmp) != NULL;
		else if (c->parent && c->kind == CF_CHANGE_REMOVED)
			fold[i] = bsearch(&c->parent, removed, n_removed,
					  sizeof(char *), str_cmp) != NULL;
	}
	free(added);
	free(removed);
	for (size_t i = 0; i < d->n; i++) {
		if (fold[i])
			cf_schema_change_release(&d->items[i]);
		else
			d->items[w++] = d->items[i];
	}
	d->n = w;
	free(fold);
}

cf_schema_diff *
cf_schema_diff_compute(const cf_schema *from, const cf_schema *to)
{
	struct diff_builder b = {cf_new(cf_schema_diff), 0};
	size_t i = 0, j = 0;

	while (i < from->n || j < to->n) {
		int c = i >= from->n ? 1 :
			j >= to->n   ? -1 :
				       object_order(&from->objects[i],
						    &to->objects[j]);

		if (c < 0)
			add_change(&b, CF_CHANGE_REMOVED, &from->objects[i++]);
		else if (c > 0)
			add_change(&b, CF_CHANGE_ADDED, &to->objects[j++]);
		else
			compare_objects(&b, &from->objects[i++],
					&to->objects[j++], from, to);
	}
	fold_children(b.d);
	for (size_t k = 0; k < b.d->n; k++) {
		switch (b.d->items[k].kind) {
		case CF_CHANGE_ADDED:
			b.d->added++;
			break;
		case CF_CHANGE_REMOVED:
			b.d->removed++;
			break;
		default:
			b.d->changed++;
		}
	}
	return b.d;
}

void
cf_schema_diff_free(cf_schema_diff *diff)
{
	if (!diff)
		return;
	for (size_t i = 0; i < diff->n; i++)
		cf_schema_change_release(&diff->items[i]);
	free(diff->items);
	free(diff);
}

/* A value on one line, at most 120 characters (UTF-8 safe). */
static void
add_value(cf_strbuf *sb, const char *v)
{
	size_t chars = 0;
	bool space = false;

	if (!v) {
		cf_strbuf_addstr(sb, "(none)");
		return;
	}
	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
			space = true;
			continue;
		}
		if (space && chars > 0) {
			cf_strbuf_addch(sb, ' ');
			chars++;
		}
		space = false;
		if ((ch & 0xC0) != 0x80 && chars >= 120) {
			cf_strbuf_addstr(sb, "…");
			return;
		}
		cf_strbuf_addch(sb, (char)ch);
		if ((ch & 0xC0) != 0x80)
			chars++;
	}
}

char *
cf_schema_change_text(const cf_schema_change *c)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	cf_strbuf_addf(&sb, "%s %s: ", cf_object_kind_name(c->object_kind),
		       c->object);
	if (c->kind == CF_CHANGE_ADDED)
		cf_strbuf_addstr(&sb, "added");
	else if (c->kind == CF_CHANGE_REMOVED)
		cf_strbuf_addstr(&sb, "removed");
	else {
		cf_strbuf_addf(&sb, "%s ", c->attribute);
		add_value(&sb, c->old_value);
		cf_strbuf_addstr(&sb, " → ");
		add_value(&sb, c->new_value);
	}
	return cf_strbuf_detach(&sb);
}
