/*
 * fuzz_trees.c — libFuzzer harness, differential: arbitrary bytes as a
 * migration file, read the two ways the library reads one.
 *
 *   A: cf_script_parse_target() (the split, a chunk of a few statements
 *      at a time as for a large file: cf_split_chunk), each statement
 *      parsed alone;
 *   B: cf_script_parse_trees() (one parse of the whole text), each
 *      statement's tree taken from it with its locations made relative.
 *
 * Both must give the same statements, the same problems, trees that pack
 * to the same bytes, the function uses the statement model lists, and the
 * same lint findings (cf_lint_scripts() on A; on B the lint stream with
 * its trees, as a static preflight runs it, each statement parsed again
 * when linted as for a large file: cf_lint_trees_max).  Any difference
 * aborts.
 *
 * Not part of the meson build; fuzz/README.md has the build command.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "confiture.h"
#include "history/model.h"
#include "lint/lint.h"
#include "../tests/unit/function_uses_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
differ(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_trees: %s differs (statement %zu)\n", what, i);
	abort();
}

static uint8_t *
packed(const PgQuery__ParseResult *pr, size_t *n)
{
	uint8_t *buf;

	*n = protobuf_c_message_get_packed_size(&pr->base);
	buf = malloc(*n ? *n : 1);
	if (!buf)
		abort();
	protobuf_c_message_pack(&pr->base, buf);
	return buf;
}

static void
same_lint(const cf_lint_result *x, const cf_lint_result *y)
{
	if (x->n_findings != y->n_findings)
		differ("the number of lint findings", 0);
	for (size_t i = 0; i < x->n_findings; i++) {
		const cf_lint_finding *f = &x->findings[i], *g = &y->findings[i];

		if (strcmp(f->rule, g->rule) != 0 || f->line != g->line ||
		    f->column != g->column ||
		    strcmp(f->message, g->message) != 0 ||
		    (f->excerpt == NULL) != (g->excerpt == NULL) ||
		    (f->excerpt && strcmp(f->excerpt, g->excerpt) != 0))
			differ("a lint finding", i);
	}
	if (x->n_not_linted != y->n_not_linted)
		differ("the statements not linted", 0);
	for (size_t i = 0; i < x->n_not_linted; i++)
		if (x->not_linted[i].line != y->not_linted[i].line ||
		    strcmp(x->not_linted[i].reason, y->not_linted[i].reason))
			differ("a statement not linted", i);
}

static void
compare_statements(cf_script *a, cf_script *b, const cf_script_trees *trees)
{
	if (a->n_stmts != b->n_stmts || a->text_len != b->text_len ||
	    a->transactional != b->transactional)
		differ("the statement count", 0);
	for (size_t i = 0; i < a->n_stmts; i++) {
		const cf_statement *x = &a->stmts[i], *y = &b->stmts[i];
		char *t1, *t2, *m1, *m2;
		cf_stmt_tree *s1, *s2;
		const PgQuery__ParseResult *r1, *r2;

		if (x->offset != y->offset || x->length != y->length ||
		    x->line != y->line || x->column != y->column ||
		    x->transaction_control != y->transaction_control ||
		    (x->non_transactional == NULL) !=
			    (y->non_transactional == NULL) ||
		    x->syntax_error != y->syntax_error)
			differ("a statement", i);
		s1 = cf_script_stmt_tree(a, NULL, i, &t1, &m1);
		s2 = cf_script_stmt_tree(b, trees, i, &t2, &m2);
		r1 = cf_stmt_tree_result(s1);
		r2 = cf_stmt_tree_result(s2);
		if (strcmp(t1, t2) != 0 || (r1 == NULL) != (r2 == NULL) ||
		    (m1 == NULL) != (m2 == NULL))
			differ("a statement's text or parse", i);
		if (r1) {
			size_t n1, n2;
			uint8_t *p1 = packed(r1, &n1), *p2 = packed(r2, &n2);

			if (n1 != n2 || memcmp(p1, p2, n1) != 0)
				differ("a statement's tree", i);
			free(p1);
			free(p2);
			for (size_t k = 0; k < r1->n_stmts; k++) {
				uses_check check = {0};

				if (!function_uses_agree(r1->stmts[k]->stmt,
							 &check))
					differ("a function use", i);
			}
		}
		cf_stmt_tree_free(s1);
		cf_stmt_tree_free(s2);
		free(t1);
		free(t2);
		free(m1);
		free(m2);
	}
}

static void
compare_lint(cf_script *a, cf_script *b, const cf_script_trees *trees)
{
	cf_lint_options lo = {.pg_major = 15};
	cf_lint_result *la = NULL, *lb = NULL;
	cf_lint_stream *ls = NULL;
	cf_error *e = NULL;
	void *prep;

	if (cf_lint_scripts(&a, 1, false, &lo, &la, &e) != 0)
		abort();
	if (cf_lint_stream_begin(&lo, false, &ls, &e) != 0)
		abort();
	cf_lint_trees_max = 0;
	prep = cf_lint_stream_prepare(ls, b, trees);
	cf_lint_stream_consume(ls, b, prep);
	cf_lint_stream_release(ls, b, prep);
	cf_lint_trees_max = 256 * 1024;
	lb = cf_lint_stream_end(ls);
	same_lint(la, lb);
	cf_lint_result_free(la);
	cf_lint_result_free(lb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cf_error_list pa = CF_ERROR_LIST_INIT, pb = CF_ERROR_LIST_INIT;
	cf_script *a = NULL, *b = NULL;
	cf_script_trees *trees = NULL;
	const char *text = (const char *)data;

	cf_split_chunk = 1 + size % 200;
	cf_script_parse_target("fuzz.sql", text, size, 15, &a, &pa);
	cf_split_chunk = 64 * 1024;
	cf_script_parse_trees("fuzz.sql", text, size, 15, &b, &pb, &trees);
	if ((a == NULL) != (b == NULL) || pa.n != pb.n)
		differ("the outcome", 0);
	for (size_t k = 0; k < pa.n; k++)
		if (strcmp(pa.items[k]->message, pb.items[k]->message) != 0 ||
		    pa.items[k]->line != pb.items[k]->line ||
		    pa.items[k]->column != pb.items[k]->column)
			differ("a problem", k);
	if (a) {
		compare_statements(a, b, trees);
		compare_lint(a, b, trees);
	}
	cf_script_trees_free(trees);
	cf_script_free(a);
	cf_script_free(b);
	cf_error_list_release(&pa);
	cf_error_list_release(&pb);
	return 0;
}
