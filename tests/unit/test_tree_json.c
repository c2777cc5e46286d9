/*
 * test_tree_json.c — the JSON reader (history/tree_json.c) gives the very
 * tree protobuf gives: for every statement it reads, packing its tree
 * again yields the bytes of pg_query_parse_protobuf(), and the statements
 * whose JSON is ambiguous (negative Integers the writer dropped) are
 * declined.  Checked on tricky statements, on the unit fixtures and, when
 * present, on the shared corpora and PostgreSQL's own extension scripts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "base/base.h"
#include "history/model.h"
#include "history/tree_json.h"
#include "function_uses_check.h"

/* Every block handed out, freed at once (as the arena in script.c). */
typedef struct blocks {
	void **p;
	size_t n, alloc;
} blocks;

static void *
block_alloc(void *data, size_t n)
{
	blocks *b = data;

	CF_GROW(b->p, b->alloc, b->n + 1);
	return b->p[b->n++] = cf_malloc(n ? n : 1);
}

static void
block_free(void *data, void *p)
{
	(void)data; /* released with the others */
	(void)p;
}

static void
blocks_release(blocks *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->p[i]);
	free(b->p);
}

enum outcome {
	READ,
	DECLINED,
	REJECTED
};

/*
 * Parses sql both ways; fails the test when the JSON reader's tree packs
 * differently from protobuf's bytes.  Returns what the reader did.
 */
static enum outcome
check(const char *sql)
{
	blocks b = {0};
	ProtobufCAllocator alloc = {block_alloc, block_free, &b};
	PgQueryProtobufParseResult pb = pg_query_parse_protobuf(sql);
	PgQueryParseResult j = pg_query_parse(sql);
	PgQuery__ParseResult *pr;
	enum outcome res = DECLINED;

	if (pb.error || j.error) {
		assert_true(pb.error && j.error);
		pg_query_free_protobuf_parse_result(pb);
		pg_query_free_parse_result(j);
		return REJECTED;
	}
	pr = cf_tree_from_json(j.parse_tree, sql,
			       cf_sql_zero_bound(sql, strlen(sql)), &alloc);
	if (pr) {
		size_t n = protobuf_c_message_get_packed_size(&pr->base);
		uint8_t *buf = cf_malloc(n ? n : 1);

		protobuf_c_message_pack(&pr->base, buf);
		if (n != pb.parse_tree.len ||
		    memcmp(buf, pb.parse_tree.data, n) != 0)
			fail_msg("tree differs from protobuf for: %s\njson: %s",
				 sql, j.parse_tree);
		free(buf);
		res = READ;
	}
	blocks_release(&b);
	pg_query_free_protobuf_parse_result(pb);
	pg_query_free_parse_result(j);
	return res;
}

static const struct tree_case {
	const char *sql;
	enum outcome expect;
} cases[] = {
	{"SELECT 1", READ},
	{"SELECT -3, 0, - 5, -0, -\n 9, 2147483647, -1.5", READ},
	{"SELECT -2147483648", READ}, /* a Float */
	{"SELECT -(3)", DECLINED},    /* -3 with no text to read it from */
	{"SELECT - /* c */ 4", DECLINED},
	{"CREATE TABLE t (a int[], b text[][], c int[3], e int ARRAY, "
	 "f int ARRAY[4], g \"weird\"[], h int[ 1 ])",
	 READ},
	{"CREATE TABLE t (g \"we[ird\"[])", READ}, /* '[' in a quoted name */
	{"CREATE TABLE t (d int[0])", DECLINED},   /* 0, not -1 */
	{"CREATE TABLE t (d int[/* ] */ 0], e text[])", DECLINED},
	{"CREATE TABLE t (d int[--\n0], e text[])", DECLINED},
	{"CREATE TABLE t (d int[\t00 ], e text[])", DECLINED},
	{"SELECT '[x', 'text[]'::text, NULL::text[]", READ},
	/* '[' in literals and comments, then a real zero bound */
	{"SELECT E'\\'[0]', $$ [0] $$, 'it''s [0]', '{}'::int[] -- [0]", READ},
	{"SELECT e'\\'', '{}'::int[0]", DECLINED},
	{"SELECT '{}'::int[ /* ] */ 0 ]", DECLINED},
	{"ALTER TABLE u ADD r text[] DEFAULT ARRAY['a']::text[]", READ},
	{"CREATE TABLE t (\"a[0]\" int[], b int ARRAY)", READ},
	{"CREATE TABLE t (a int ARRAY[0])", DECLINED},
	{"SELECT ARRAY[0], '{}'::int[]", DECLINED}, /* an element, but 0 */
	{"SELECT x[01], x[10], '{}'::int[]", READ},
	{"CREATE TABLE u (a int DEFAULT -1, b bigint DEFAULT 0, "
	 "c int DEFAULT - 7, d numeric(10, 0) DEFAULT -0.5)",
	 READ},
	{"ALTER TABLE t ALTER a SET STATISTICS -1", DECLINED},
	{"ALTER TABLE t ALTER a SET STATISTICS 0", DECLINED},
	{"CREATE SEQUENCE s INCREMENT BY -1 MINVALUE -100 START 0", DECLINED},
	{"CREATE AGGREGATE mx (int) (SFUNC = int4larger, STYPE = int)",
	 DECLINED},
	{"SELECT E'\\x01\\x1f tab\\there \"q\" back\\\\slash', 'ünï', "
	 "U&'\\0441', $$ dollar -1 $$, '[0]', '\\u0007'",
	 READ},
	{"SELECT a[1], '{}'::int[] FROM t WHERE x = -1 LIMIT 0 OFFSET 0", READ},
	{"SELECT a[-1], '{}'::int[]", READ}, /* '[' then '-' */
	{"CREATE INDEX CONCURRENTLY i ON t USING btree (a DESC NULLS LAST) "
	 "WHERE b IS NOT NULL",
	 READ},
	{"CREATE FUNCTION f(x int[] DEFAULT '{}', y int DEFAULT -1) RETURNS "
	 "SETOF int[] LANGUAGE sql AS $$ SELECT -1 $$",
	 READ},
	{"ALTER TABLE t ADD CONSTRAINT c CHECK (a[1] > -1 AND b <> '') "
	 "NOT VALID",
	 READ},
	{"SELECT 1 FROM t FETCH FIRST 0 ROWS ONLY", READ},
	{"SELECT interval '1' second(0), cast(1 as varchar(3)), "
	 "true, false, null, B'101', X'1F', 1e3",
	 READ},
	{"BEGIN; SET LOCAL lock_timeout = '2s'; COMMIT", READ},
	{"CREATE TABLE \"T\" (id bigint GENERATED ALWAYS AS IDENTITY, "
	 "v jsonb NOT NULL DEFAULT '{}'::jsonb, PRIMARY KEY (id))",
	 READ},
	{"SELEC 1", REJECTED},
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum outcome got = check(cases[i].sql);

		if (got != cases[i].expect)
			fail_msg("case %zu (%s): got %d, want %d", i,
				 cases[i].sql, got, cases[i].expect);
	}
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
		rewind(f);
		buf = cf_malloc((size_t)n + 1);
		buf[fread(buf, 1, (size_t)n, f)] = '\0';
	}
	fclose(f);
	return buf;
}

static size_t n_read, n_declined, n_whole, n_whole_files;

/* The bytes of a tree packed, for comparing two trees; caller frees. */
static uint8_t *
packed(const PgQuery__ParseResult *pr, size_t *n)
{
	uint8_t *buf;

	*n = protobuf_c_message_get_packed_size(&pr->base);
	buf = cf_malloc(*n ? *n : 1);
	protobuf_c_message_pack(&pr->base, buf);
	return buf;
}

static uses_check calls_checked;

/* The function uses of every Node of a tree agree with the model. */
static void
check_calls(const void *msg)
{
	if (!function_uses_agree(msg, &calls_checked))
		fail_msg("a function use differs from the model's (%s)",
			 calls_checked.differs);
}

/* Two parses of one text found the same problems, at the same places. */
static void
same_problems(const cf_error_list *pa, const cf_error_list *pb)
{
	assert_int_equal(pa->n, pb->n);
	for (size_t k = 0; k < pa->n; k++) {
		assert_string_equal(pa->items[k]->message,
				    pb->items[k]->message);
		assert_int_equal(pa->items[k]->line, pb->items[k]->line);
		assert_int_equal(pa->items[k]->column, pb->items[k]->column);
	}
}

/*
 * cf_script_parse_trees() gives the script cf_script_parse_target() gives,
 * and each statement's tree taken from the whole text's parse packs to the
 * bytes of the statement parsed alone.
 */
static void
check_whole(const char *path, const char *text)
{
	cf_error_list pa = {0}, pb = {0};
	cf_script *a = NULL, *b = NULL;
	cf_script_trees *trees = NULL;
	size_t len = strlen(text);

	cf_script_parse_target(path, text, len, 15, &a, &pa);
	cf_script_parse_trees(path, text, len, 15, &b, &pb, &trees);
	assert_true((a == NULL) == (b == NULL));
	same_problems(&pa, &pb);
	n_whole_files += trees != NULL;
	for (size_t i = 0; a && i < a->n_stmts; i++) {
		const cf_statement *x = &a->stmts[i], *y = &b->stmts[i];
		char *t1, *t2, *m1, *m2;
		cf_stmt_tree *s1, *s2;
		const PgQuery__ParseResult *r1, *r2;

		assert_int_equal(a->n_stmts, b->n_stmts);
		if (x->offset != y->offset || x->length != y->length ||
		    x->line != y->line || x->column != y->column ||
		    x->transaction_control != y->transaction_control ||
		    x->non_transactional != y->non_transactional ||
		    x->syntax_error != y->syntax_error)
			fail_msg("%s: statement %zu differs", path, i + 1);
		s1 = cf_script_stmt_tree(a, NULL, i, &t1, &m1);
		s2 = cf_script_stmt_tree(b, trees, i, &t2, &m2);
		r1 = cf_stmt_tree_result(s1);
		r2 = cf_stmt_tree_result(s2);
		assert_string_equal(t1, t2);
		assert_true((r1 == NULL) == (r2 == NULL));
		if (r1) {
			size_t n1, n2;
			uint8_t *p1 = packed(r1, &n1), *p2 = packed(r2, &n2);

			if (n1 != n2 || memcmp(p1, p2, n1) != 0)
				fail_msg("%s: statement %zu: the whole "
					 "text's tree differs: %s",
					 path, i + 1, t1);
			free(p1);
			free(p2);
			n_whole += trees != NULL;
			check_calls(r1->stmts[0]->stmt);
		}
		cf_stmt_tree_free(s1);
		cf_stmt_tree_free(s2);
		free(t1);
		free(t2);
		free(m1);
		free(m2);
	}
	cf_script_trees_free(trees);
	cf_script_free(a);
	cf_script_free(b);
	cf_error_list_release(&pa);
	cf_error_list_release(&pb);
}

static size_t n_chunked;

/*
 * The split a chunk at a time (cf_split_chunk) gives the statements and
 * problems of the whole text's split: checked with every statement its
 * own chunk, where any difference of the two splits shows, and with
 * chunks of a few statements.
 */
static void
check_chunked_by(const char *path, const char *text, size_t chunk)
{
	cf_error_list pa = {0}, pb = {0};
	cf_script *a = NULL, *b = NULL;
	size_t len = strlen(text), saved = cf_split_chunk;

	cf_split_chunk = SIZE_MAX;
	cf_script_parse_target(path, text, len, 15, &a, &pa);
	cf_split_chunk = chunk;
	cf_script_parse_target(path, text, len, 15, &b, &pb);
	cf_split_chunk = saved;
	assert_true((a == NULL) == (b == NULL));
	same_problems(&pa, &pb);
	if (a) {
		assert_int_equal(a->n_stmts, b->n_stmts);
		assert_int_equal(a->transactional, b->transactional);
		n_chunked += a->n_stmts > 1 && chunk == 1;
	}
	for (size_t i = 0; a && i < a->n_stmts; i++) {
		const cf_statement *x = &a->stmts[i], *y = &b->stmts[i];

		if (x->offset != y->offset || x->length != y->length ||
		    x->line != y->line || x->column != y->column ||
		    x->transaction_control != y->transaction_control ||
		    (x->non_transactional == NULL) !=
			    (y->non_transactional == NULL) ||
		    x->syntax_error != y->syntax_error ||
		    (x->model == NULL) != (y->model == NULL))
			fail_msg("%s: statement %zu differs when split a chunk "
				 "at a time",
				 path, i + 1);
	}
	cf_script_free(a);
	cf_script_free(b);
	cf_error_list_release(&pa);
	cf_error_list_release(&pb);
}

static void
check_chunked(const char *path, const char *text)
{
	check_chunked_by(path, text, 1);
	check_chunked_by(path, text, 300);
}

/* Every statement of the file alone, then the whole file. */
static void
check_file(const char *path)
{
	char *text = slurp(path);
	PgQuerySplitResult sr;

	if (!text)
		return;
	sr = pg_query_split_with_parser(text);
	if (sr.error) { /* psql's \echo in an extension script */
		pg_query_free_split_result(sr);
		sr = pg_query_split_with_scanner(text);
	}
	for (int i = 0; !sr.error && i < sr.n_stmts; i++) {
		char *stmt = cf_strndup(text + sr.stmts[i]->stmt_location,
					(size_t)sr.stmts[i]->stmt_len);
		enum outcome o = check(stmt);

		n_read += o == READ;
		n_declined += o == DECLINED;
		free(stmt);
	}
	check(text);
	check_whole(path, text);
	check_chunked(path, text);
	pg_query_free_split_result(sr);
	free(text);
}

/* The .sql files under dir, recursively. */
static void
check_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *path;
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		path = cf_asprintf("%s/%s", dir, e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0)
			check_file(path);
		else
			check_dir(path);
		free(path);
	}
	closedir(d);
}

static void
test_files(void **state)
{
	const char *corpora = getenv("CF_CORPORA");

	(void)state;
	check_dir("fixtures");
	check_dir(corpora ? corpora : "../../../shared/corpora");
	check_dir("/usr/share/postgresql");
	print_message("# %zu statements read from JSON, %zu declined\n", n_read,
		      n_declined);
	print_message("# %zu statements of %zu files taken from the whole "
		      "text's tree\n",
		      n_whole, n_whole_files);
	print_message("# function uses of %zu nodes checked\n",
		      calls_checked.nodes);
	print_message("# %zu files of several statements split a statement "
		      "at a time too\n",
		      n_chunked);
	assert_true(n_read > 0);
	assert_true(n_chunked > 0);
	assert_true(n_whole > 0);
	assert_true(calls_checked.nodes > 0);
}

/* Texts whose statements' locations must be made relative to each. */
static void
test_whole_texts(void **state)
{
	static const char *const texts[] = {
		"SELECT 1; SELECT 2",
		"  -- lead\n/* c */ CREATE TABLE t (a int DEFAULT -1, b int[]);"
		"\n\n  ALTER TABLE t ADD c text DEFAULT 'x' ;  -- tail\n"
		"CREATE INDEX CONCURRENTLY i ON t (a) WHERE b[1] > - 5",
		"\xEF\xBB\xBF"
		"ALTER TABLE t ADD d int DEFAULT 0;\r\nSELECT -0;",
		"BEGIN;\nALTER TABLE t ADD e int DEFAULT -3;\nCOMMIT;\n",
		"SELECT 1; SELECT -(3)", /* declined: parsed one by one */
		"CREATE TABLE u (a int[0]); CREATE TABLE v (b text[])",
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
		"SELECT -1; END; SELECT 2;",
		"SELECT 'é'; ALTER TABLE t ADD CONSTRAINT k CHECK (a > -1);",
		"SELEC 1; SELECT 2",
		"",
		"-- nothing\n",
	};

	cf_strbuf big = CF_STRBUF_INIT;
	cf_error_list problems = {0};
	cf_script *script = NULL;
	cf_script_trees *trees = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		check_whole("<text>", texts[i]);
		check_chunked("<text>", texts[i]);
	}
	assert_true(n_whole > 0);
	/* over 64 kB: statement by statement, the same script */
	while (big.len <= 64 * 1024)
		cf_strbuf_addstr(&big, "INSERT INTO t VALUES (1, 'a');\n"
				       "ALTER TABLE t ADD c int DEFAULT -1;\n");
	cf_script_parse_trees("<big>", big.buf, big.len, 15, &script, &problems,
			      &trees);
	assert_non_null(script);
	assert_null(trees);
	check_whole("<big>", big.buf);
	check_chunked("<big>", big.buf);
	cf_script_free(script);
	cf_error_list_release(&problems);
	cf_strbuf_release(&big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_whole_texts),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
