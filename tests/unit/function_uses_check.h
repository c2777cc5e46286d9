/*
 * function_uses_check.h — one check shared by tests/unit/test_tree_json.c
 * and fuzz/fuzz_trees.c (which links no test library): on every Node of
 * a libpg_query tree whose statement model provides nothing (what a model
 * provides drops its own uses), cf_node_function_uses() lists exactly the
 * function uses of cf_stmt_model_from_node(), in order.
 *
 * Include after <pg_query/pg_query.pb-c.h> and "history/model.h".
 */
#ifndef CF_FUNCTION_USES_CHECK_H
#define CF_FUNCTION_USES_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct uses_check {
	size_t nodes;	     /* Nodes compared */
	const char *differs; /* the first name that differs (borrowed from
			      * the model or the walk), or "" for a count */
	bool failed;
} uses_check;

typedef struct uses_cursor {
	const cf_stmt_model *model;
	size_t k; /* the model's next object */
	uses_check *check;
} uses_cursor;

/* The model's next function use at or after c->k, or NULL. */
static const cf_obj *
next_model_use(uses_cursor *c)
{
	const cf_stmt_model *m = c->model;

	while (c->k < m->n && (m->objs[c->k].kind != CF_OBJ_FUNCTION ||
			       m->objs[c->k].action != CF_ACT_USE))
		c->k++;
	return c->k < m->n ? &m->objs[c->k] : NULL;
}

static void
uses_compare_one(void *arg, const char *name)
{
	uses_cursor *c = arg;
	const cf_obj *o = next_model_use(c);

	if (c->check->failed)
		return;
	if (!o || strcmp(o->name, name) != 0) {
		c->check->failed = true;
		c->check->differs = o ? o->name : "";
		return;
	}
	c->k++;
}

static bool
uses_check_node(const void *msg, void *arg)
{
	const ProtobufCMessage *m = msg;
	uses_check *check = arg;

	if (!m || check->failed)
		return check->failed;
	if (m->descriptor == &pg_query__node__descriptor) {
		cf_stmt_model *model = cf_stmt_model_from_node(msg);
		bool provides = false;

		for (size_t i = 0; i < model->n; i++)
			provides |= model->objs[i].action == CF_ACT_PROVIDE;
		if (!provides) {
			uses_cursor c = {model, 0, check};

			cf_node_function_uses(msg, uses_compare_one, &c);
			if (!check->failed && next_model_use(&c)) {
				check->failed = true;
				check->differs = "";
			}
			check->nodes++;
		}
		cf_stmt_model_free(model);
		return uses_check_node(cf_pb_node_member(msg), check) ||
		       check->failed;
	}
	return cf_pb_each_child(msg, uses_check_node, check);
}

/* Checks every Node under msg (a tree's message); false when one differs
 * (check->differs says which name). */
static inline bool
function_uses_agree(const void *msg, uses_check *check)
{
	uses_check_node(msg, check);
	return !check->failed;
}

#endif /* CF_FUNCTION_USES_CHECK_H */
