/*
 * test_sqllex.c — unit tests for the dump lexer (sqllex.c): every psql
 * meta-command form and position of issue 15 is an error at its
 * file:line:col, and what pg_dump writes (dollar quotes, BEGIN ATOMIC,
 * rules, COPY data, \restrict) splits where psql and the server split it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision/sqllex.h"

/* A byte string with explicit length, so NUL fits in tables. */
#define BYTES(s) s, sizeof(s) - 1

static void
add_item(cf_strbuf *sb, cf_sqllex_kind k, const cf_sqllex_item *it,
	 const cf_error *e)
{
	if (sb->len)
		cf_strbuf_addch(sb, '|');
	switch (k) {
	case CF_SQLLEX_STATEMENT:
		cf_strbuf_addf(sb, "S%s%d:%d[%s]", it->copy_in ? "+" : "",
			       it->line, it->column, it->text);
		break;
	case CF_SQLLEX_COPY_DATA:
		cf_strbuf_addf(sb, "C[%.*s]", (int)it->len, it->text);
		break;
	case CF_SQLLEX_COPY_END:
		cf_strbuf_addstr(sb, "E");
		break;
	case CF_SQLLEX_RESTRICT:
	case CF_SQLLEX_UNRESTRICT:
		cf_strbuf_addf(sb, "%c[%.*s]",
			       k == CF_SQLLEX_RESTRICT ? 'R' : 'U',
			       (int)it->len, it->text);
		break;
	case CF_SQLLEX_ERROR:
		cf_strbuf_addf(sb, "X:%s@%d:%d", e->code, e->line, e->column);
		break;
	default:
		cf_strbuf_addstr(sb, "?");
	}
}

/* Lexes text line by line; a summary of the items, '|'-separated. */
static char *
lex_all(const char *text, size_t len)
{
	cf_sqllex *lx = cf_sqllex_new("t.sql");
	cf_strbuf sb = CF_STRBUF_INIT;
	cf_sqllex_item it;
	cf_sqllex_kind k = CF_SQLLEX_MORE;
	cf_error *e = NULL;
	size_t off = 0;

	while (off < len && k != CF_SQLLEX_ERROR) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) + 1 : len - off;

		cf_sqllex_feed(lx, text + off, n);
		while ((k = cf_sqllex_next(lx, &it, &e)) != CF_SQLLEX_MORE) {
			add_item(&sb, k, &it, e);
			if (k == CF_SQLLEX_ERROR)
				break;
		}
		off += n;
	}
	while (k != CF_SQLLEX_ERROR &&
	       (k = cf_sqllex_finish(lx, &it, &e)) != CF_SQLLEX_END)
		add_item(&sb, k, &it, e);
	if (e) {
		assert_non_null(e->message);
		assert_non_null(e->hint);
		assert_string_equal(e->file, "t.sql");
	}
	cf_error_free(e);
	cf_sqllex_free(lx);
	return cf_strbuf_detach(&sb);
}

static const struct {
	const char *what;
	const char *in;
	size_t len;
	const char *out;
} cases[] = {
	/* issue 15: every form and position that ran \! id under psql */
	{"meta after a statement on its line",
	 BYTES("CREATE TABLE a (id int); \\! id\n"),
	 "S1:1[CREATE TABLE a (id int);]|X:dump-meta-command@1:26"},
	{"\\g then \\!", BYTES("SELECT 1 \\g \\! id\n"),
	 "X:dump-meta-command@1:10"},
	{"\\o |cmd", BYTES("\\o |id\n"), "X:dump-meta-command@1:1"},
	{"\\g |cmd", BYTES("SELECT 1 \\g |id\n"), "X:dump-meta-command@1:10"},
	{"\\w |cmd", BYTES("SELECT 1;\n\\w |id\n"),
	 "S1:1[SELECT 1;]|X:dump-meta-command@2:1"},
	{"\\copy program", BYTES("\\copy t from program 'id'\n"),
	 "X:dump-meta-command@1:1"},
	{"leading spaces", BYTES("   \\! id\n"), "X:dump-meta-command@1:4"},
	{"line comment before", BYTES("-- c\n\\! id\n"),
	 "X:dump-meta-command@2:1"},
	{"block comment before", BYTES("/* c */ \\! id\n"),
	 "X:dump-meta-command@1:9"},
	{"inside an unfinished statement",
	 BYTES("CREATE TABLE a (\n\\! id\n);\n"), "X:dump-meta-command@2:1"},
	{"standard_conforming_strings off and 'x\\''",
	 BYTES("SET standard_conforming_strings = off;\nSELECT 'x\\''; \\! id\n"),
	 "S1:1[SET standard_conforming_strings = off;]|S2:1[SELECT 'x\\'';]|X:dump-meta-command@2:15"},
	{"standard_conforming_strings on and 'x\\'",
	 BYTES("SELECT 'x\\'; \\! id\n"),
	 "S1:1[SELECT 'x\\';]|X:dump-meta-command@1:14"},
	{"COPY TO STDOUT has no data", BYTES("COPY s TO STDOUT;\n\\! id\n"),
	 "S1:1[COPY s TO STDOUT;]|X:dump-meta-command@2:1"},
	{"COPY (query FROM stdin) TO STDOUT",
	 BYTES("COPY (SELECT 1 FROM stdin) TO STDOUT;\n\\! id\n"),
	 "S1:1[COPY (SELECT 1 FROM stdin) TO STDOUT;]|X:dump-meta-command@2:1"},
	{"GRANT line and \\! inside an open $q$",
	 BYTES("CREATE FUNCTION f() RETURNS text AS $q$\nGRANT x;\n\\! id\n$q$ LANGUAGE sql;\n"),
	 "S1:1[CREATE FUNCTION f() RETURNS text AS $q$\nGRANT x;\n\\! id\n$q$ LANGUAGE sql;]"},
	{"after a closed $q$", BYTES("SELECT $q$ a $q$;\n\\! id\n"),
	 "S1:1[SELECT $q$ a $q$;]|X:dump-meta-command@2:1"},
	{"meta between two statements on a line",
	 BYTES("SELECT 1; SELECT 2; \\! id\n"),
	 "S1:1[SELECT 1;]|S1:11[SELECT 2;]|X:dump-meta-command@1:21"},
	{"backslash-backslash", BYTES("\\\\\n"), "X:dump-meta-command@1:1"},
	{"\\connect of a --create dump", BYTES("\\connect other\n"),
	 "X:dump-meta-command@1:1"},

	/* literals, comments and identifiers hide a backslash */
	{"dollar tags nest others", BYTES("SELECT $a$ $b$ ; \\! $a$;\n"),
	 "S1:1[SELECT $a$ $b$ ; \\! $a$;]"},
	{"nested block comment", BYTES("/* a /* b */ \\! */ SELECT 1;\n"),
	 "S1:20[SELECT 1;]"},
	{"line comment", BYTES("SELECT 1; -- \\! id\n"), "S1:1[SELECT 1;]"},
	{"a line comment ends at \\r", BYTES("SELECT 1; -- c\r\\! id\n"),
	 "S1:1[SELECT 1;]|X:dump-meta-command@1:16"},
	{"quoted identifier", BYTES("SELECT \"a\\b;\";\n"),
	 "S1:1[SELECT \"a\\b;\";]"},
	{"E string", BYTES("SELECT E'a\\';\\! id';\n"),
	 "S1:1[SELECT E'a\\';\\! id';]"},
	{"e string in lower case", BYTES("SELECT e'\\'';\n"),
	 "S1:1[SELECT e'\\'';]"},
	{"E as the end of a word is no prefix", BYTES("SELECT fe'\\'; \\! x\n"),
	 "S1:1[SELECT fe'\\';]|X:dump-meta-command@1:15"},
	{"B string: a quote always ends it", BYTES("SELECT B'1\\'; \\! x\n"),
	 "S1:1[SELECT B'1\\';]|X:dump-meta-command@1:15"},
	{"continuation over a newline keeps E mode",
	 BYTES("SELECT E'a'\n'\\'; \\! x';\n"),
	 "S1:1[SELECT E'a'\n'\\'; \\! x';]"},
	{"continuation after a comment line",
	 BYTES("SELECT E'a'\n-- c\n'\\'; \\! x';\n"),
	 "S1:1[SELECT E'a'\n-- c\n'\\'; \\! x';]"},
	{"no continuation without a newline",
	 BYTES("SELECT E'a' '\\'; \\! x';\n"),
	 "S1:1[SELECT E'a' '\\';]|X:dump-meta-command@1:18"},
	{"U& string", BYTES("SELECT U&'\\0041';\n"),
	 "S1:1[SELECT U&'\\0041';]"},
	{"N string follows standard_conforming_strings",
	 BYTES("SET standard_conforming_strings TO 'off';\nSELECT N'a\\'b';\n"),
	 "S1:1[SET standard_conforming_strings TO 'off';]|S2:1[SELECT N'a\\'b';]"},
	{"RESET turns standard_conforming_strings back on",
	 BYTES("SET SESSION standard_conforming_strings = false;\nRESET standard_conforming_strings;\nSELECT 'a\\'; \\! x\n"),
	 "S1:1[SET SESSION standard_conforming_strings = false;]|S2:1[RESET standard_conforming_strings;]|S3:1[SELECT 'a\\';]|X:dump-meta-command@3:14"},
	{"a$b$ is an identifier, not a dollar quote",
	 BYTES("SELECT a$b$ FROM t; \\! x\n"),
	 "S1:1[SELECT a$b$ FROM t;]|X:dump-meta-command@1:21"},
	{"a number ends before a dollar quote", BYTES("SELECT 1$$ ; \\! $$;\n"),
	 "S1:1[SELECT 1$$ ; \\! $$;]"},
	{"$1 is a parameter", BYTES("SELECT $1; \\! x\n"),
	 "S1:1[SELECT $1;]|X:dump-meta-command@1:12"},

	/* what pg_dump writes */
	{"BEGIN ATOMIC body",
	 BYTES("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n SELECT CASE WHEN true THEN 2 END;\nEND;\nSELECT 3;\n"),
	 "S1:1[CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n SELECT CASE WHEN true THEN 2 END;\nEND;]|S6:1[SELECT 3;]"},
	{"BEGIN outside CREATE FUNCTION", BYTES("BEGIN;\nSELECT 1;\nEND;\n"),
	 "S1:1[BEGIN;]|S2:1[SELECT 1;]|S3:1[END;]"},
	{"rule with ';' inside parentheses",
	 BYTES("CREATE RULE r AS ON INSERT TO t DO ( SELECT 1;\n SELECT 2;\n);\n"),
	 "S1:1[CREATE RULE r AS ON INSERT TO t DO ( SELECT 1;\n SELECT 2;\n);]"},
	{"COPY data up to \\.",
	 BYTES("COPY public.t (id, s) FROM stdin;\n1\ta\\\\b\n\\! not a command\n\\.\nSELECT 1;\n"),
	 "S+1:1[COPY public.t (id, s) FROM stdin;]|C[1\ta\\\\b\n]|C[\\! not a command\n]|E|S5:1[SELECT 1;]"},
	{"COPY FROM STDIN WITH options",
	 BYTES("copy t FROM STDIN WITH (FORMAT csv);\n1,2\n\\.\n"),
	 "S+1:1[copy t FROM STDIN WITH (FORMAT csv);]|C[1,2\n]|E"},
	{"COPY data without \\.", BYTES("COPY t FROM stdin;\n1\n"),
	 "S+1:1[COPY t FROM stdin;]|C[1\n]|X:dump-copy-unterminated@2:1"},
	{"COPY FROM stdin without ';' at the end (fuzz_dump)",
	 BYTES("COPY s FROM stdin"), "X:dump-copy-unterminated@1:1"},
	{"text after COPY FROM stdin;", BYTES("COPY t FROM stdin; SELECT 1;\n"),
	 "S+1:1[COPY t FROM stdin;]|X:dump-copy-trailing@1:20"},
	{"\\restrict block",
	 BYTES("--\n\\restrict abc123\n\nSELECT 1;\n--\n\\unrestrict abc123\n\n"),
	 "R[abc123]|S4:1[SELECT 1;]|U[abc123]"},
	{"\\restrict with CRLF",
	 BYTES("\\restrict k1\r\nSELECT 1;\r\n\\unrestrict k1\r\n"),
	 "R[k1]|S2:1[SELECT 1;]|U[k1]"},
	{"SQL after \\unrestrict",
	 BYTES("\\restrict k\n\\unrestrict k\nSELECT 1;\n"),
	 "R[k]|U[k]|S3:1[SELECT 1;]"},
	{"\\unrestrict key mismatch",
	 BYTES("\\restrict abc\nSELECT 1;\n\\unrestrict abd\n"),
	 "R[abc]|S2:1[SELECT 1;]|X:dump-restrict@3:1"},
	{"\\restrict without \\unrestrict: truncated",
	 BYTES("\\restrict abc\nSELECT 1;\n"),
	 "R[abc]|S2:1[SELECT 1;]|X:dump-restrict@2:1"},
	{"\\unrestrict alone", BYTES("\\unrestrict abc\n"),
	 "X:dump-restrict@1:1"},
	{"two \\restrict", BYTES("\\restrict a\n\\restrict b\n"),
	 "R[a]|X:dump-restrict@2:1"},
	{"\\restrict with more on its line", BYTES("\\restrict abc; \\! id\n"),
	 "X:dump-meta-command@1:1"},
	{"\\restrict without a key", BYTES("\\restrict\n"),
	 "X:dump-meta-command@1:1"},
	{"\\restrict inside a statement", BYTES("SELECT\n\\restrict abc\n1;\n"),
	 "X:dump-meta-command@2:1"},
	{"indented \\restrict", BYTES(" \\restrict abc\n"),
	 "X:dump-meta-command@1:2"},

	/* odd input */
	{"NUL byte", BYTES("SELECT 1\0;\n"), "X:dump-nul@1:9"},
	{"NUL byte in a comment (fuzz_dump)", BYTES("SELECT 1 -- a\0b\n;\n"),
	 "X:dump-nul@1:14"},
	{"NUL byte in a literal", BYTES("SELECT 1;\nSELECT '\0';\n"),
	 "S1:1[SELECT 1;]|X:dump-nul@2:9"},
	{"NUL byte in COPY data is data",
	 BYTES("COPY t FROM stdin;\na\0\n\\.\n"),
	 "S+1:1[COPY t FROM stdin;]|C[a]|E"},
	{"unterminated string", BYTES("SELECT 'abc\n"),
	 "X:dump-unterminated@1:8"},
	{"unterminated dollar quote", BYTES("SELECT $$ x\n"),
	 "X:dump-unterminated@1:8"},
	{"unterminated comment", BYTES("/* x\n"), "X:dump-unterminated@1:1"},
	{"last statement without ';'", BYTES("SELECT 1\n"), "S1:1[SELECT 1\n]"},
	{"lone semicolons", BYTES(";;SELECT 1;\n"), "S1:3[SELECT 1;]"},
	{"client-only encoding", BYTES("SET client_encoding = 'SJIS';\n"),
	 "X:dump-encoding@1:1"},
	{"column counts characters", BYTES("SELECT 'é'; \\! x\n"),
	 "S1:1[SELECT 'é';]|X:dump-meta-command@1:13"},
	{"no final newline", BYTES("SELECT 1;"), "S1:1[SELECT 1;]"},
};

static void
test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = lex_all(cases[i].in, cases[i].len);

		if (strcmp(got, cases[i].out) != 0)
			fail_msg("%s:\n  want %s\n  got  %s", cases[i].what,
				 cases[i].out, got);
		free(got);
	}
}

/* The first and last top-level tokens, for the owner/privilege filter. */
static void
test_tokens(void **state)
{
	cf_sqllex *lx = cf_sqllex_new("t.sql");
	cf_sqllex_item it;
	cf_error *e = NULL;
	const char *sql =
		"ALTER FUNCTION public.f(integer, \"x\") OWNER TO \"Bob\";\n";

	cf_sqllex_feed(lx, sql, strlen(sql));
	assert_int_equal(cf_sqllex_next(lx, &it, &e), CF_SQLLEX_STATEMENT);
	assert_true(cf_sqllex_is_word(&it.first[0], "alter"));
	assert_true(cf_sqllex_is_word(&it.first[1], "function"));
	assert_int_equal(it.n_last, 3);
	assert_true(cf_sqllex_is_word(&it.last[0], "owner"));
	assert_true(cf_sqllex_is_word(&it.last[1], "to"));
	assert_int_equal(it.last[2].kind, 'q');
	assert_int_equal(cf_sqllex_next(lx, &it, &e), CF_SQLLEX_MORE);
	assert_int_equal(cf_sqllex_finish(lx, &it, &e), CF_SQLLEX_END);
	assert_null(e);
	cf_sqllex_free(lx);
	assert_true(cf_sqllex_unsafe_encoding("Shift_JIS_2004"));
	assert_true(cf_sqllex_unsafe_encoding("BIG5"));
	assert_false(cf_sqllex_unsafe_encoding("UTF8"));
	assert_false(cf_sqllex_unsafe_encoding("LATIN1"));
}

/* After an error the lexer stays failed. */
static void
test_failed_stays_failed(void **state)
{
	cf_sqllex *lx = cf_sqllex_new("t.sql");
	cf_sqllex_item it;
	cf_error *e = NULL;

	cf_sqllex_feed(lx, "\\! id\n", 6);
	assert_int_equal(cf_sqllex_next(lx, &it, &e), CF_SQLLEX_ERROR);
	assert_string_equal(e->code, "dump-meta-command");
	assert_non_null(strstr(e->message, "'\\!'"));
	cf_error_free(e);
	e = NULL;
	cf_sqllex_feed(lx, "SELECT 1;\n", 10);
	assert_int_equal(cf_sqllex_next(lx, &it, &e), CF_SQLLEX_ERROR);
	assert_int_equal(cf_sqllex_finish(lx, &it, &e), CF_SQLLEX_ERROR);
	assert_null(e);
	cf_sqllex_free(lx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_failed_stays_failed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
