/*
 * test_text.c — unit tests for the UTF-8, position, file reading and
 * quoting helpers (text.c) and the string buffer (strbuf.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

/* A byte string with explicit length, so NUL and bad bytes fit in tables. */
#define BYTES(s) s, sizeof(s) - 1

static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
		bool valid;
		size_t bad; /* first bad byte when !valid */
	} cases[] = {
		{"empty", BYTES(""), true, 0},
		{"ascii", BYTES("SELECT 1;\n"), true, 0},
		{"nul byte is ASCII", BYTES("a\0b"), true, 0},
		{"2-byte", BYTES("caf\xC3\xA9"), true, 0},
		{"3-byte", BYTES("\xE2\x82\xAC"), true, 0},
		{"4-byte", BYTES("\xF0\x9F\x8D\x93"), true, 0},
		{"U+10FFFF", BYTES("\xF4\x8F\xBF\xBF"), true, 0},
		{"U+FFFF", BYTES("\xEF\xBF\xBF"), true, 0},
		{"U+D7FF", BYTES("\xED\x9F\xBF"), true, 0},
		{"U+E000", BYTES("\xEE\x80\x80"), true, 0},
		{"lone continuation", BYTES("ab\x80"), false, 2},
		{"overlong 2-byte C0", BYTES("x\xC0\xAF"), false, 1},
		{"overlong 2-byte C1", BYTES("\xC1\xBF"), false, 0},
		{"overlong 3-byte", BYTES("\xE0\x80\xAF"), false, 0},
		{"overlong 3-byte max", BYTES("\xE0\x9F\xBF"), false, 0},
		{"overlong 4-byte", BYTES("\xF0\x80\x80\xAF"), false, 0},
		{"surrogate low", BYTES("ok\xED\xA0\x80"), false, 2},
		{"surrogate high", BYTES("\xED\xBF\xBF"), false, 0},
		{"beyond U+10FFFF", BYTES("\xF4\x90\x80\x80"), false, 0},
		{"F5 lead", BYTES("\xF5\x80\x80\x80"), false, 0},
		{"FF byte", BYTES("abc\xFF"), false, 3},
		{"truncated 2-byte", BYTES("caf\xC3"), false, 3},
		{"truncated 3-byte", BYTES("\xE2\x82"), false, 0},
		{"truncated 4-byte", BYTES("x\xF0\x9F\x8D"), false, 1},
		{"bad continuation", BYTES("\xE2\x28\xA1"), false, 0},
		{"latin-1 e-acute", BYTES("caf\xE9 au lait"), false, 3},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t bad = 999;
		bool got = cf_utf8_valid(cases[i].s, cases[i].len, &bad);

		if (got != cases[i].valid)
			fail_msg("%s: valid = %d, want %d", cases[i].what, got,
				 cases[i].valid);
		if (!got && bad != cases[i].bad)
			fail_msg("%s: bad offset %zu, want %zu", cases[i].what,
				 bad, cases[i].bad);
		/* bad_offset may be NULL */
		assert_int_equal(cf_utf8_valid(cases[i].s, cases[i].len, NULL),
				 cases[i].valid);
	}
	/* only len bytes are looked at */
	assert_true(cf_utf8_valid("ab\xFF", 2, NULL));
}

static void
test_text_line_col(void **state)
{
	static const char text[] =
		"ab\n\xC3\xA9t\xC3\xA9 x\n\n\xF0\x9F\x8D\x93z";
	static const struct {
		size_t off;
		int line, column;
	} cases[] = {
		{0, 1, 1},  {1, 1, 2},	{2, 1, 3}, /* the newline itself */
		{3, 2, 1},  {5, 2, 2},		   /* after the 2-byte "é" */
		{6, 2, 3},  {8, 2, 4},	{9, 2, 5},  {10, 2, 6},
		{11, 3, 1}, {12, 4, 1}, {16, 4, 2}, /* after the 4-byte emoji */
		{17, 4, 3},			    /* end of text */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int line = 0, col = 0;

		cf_text_line_col(text, cases[i].off, &line, &col);
		if (line != cases[i].line || col != cases[i].column)
			fail_msg("offset %zu: %d:%d, want %d:%d", cases[i].off,
				 line, col, cases[i].line, cases[i].column);
	}
}

/* cf_text_line_col() reads text[0..off) only: the text need not end in
 * a NUL (a buffer from a caller, or a fuzzer). */
static void
test_text_line_col_unterminated(void **state)
{
	char *text = cf_malloc(6);
	int line = 0, col = 0;

	(void)state;
	memcpy(text, "a\nbcd\n", 6);
	cf_text_line_col(text, 6, &line, &col);
	assert_int_equal(line, 3);
	assert_int_equal(col, 1);
	cf_text_line_col(text, 5, &line, &col);
	assert_int_equal(line, 2);
	assert_int_equal(col, 4);
	free(text);
}

/* Checks one excerpt: its text and the column of its first character. */
static void
check_excerpt(const char *text, size_t off, int column, const char *want,
	      int want_first)
{
	int first = -1;
	char *got = cf_text_excerpt(text, strlen(text), off, column, &first);

	if (strcmp(got, want) != 0 || first != want_first)
		fail_msg("offset %zu: \"%s\" from column %d, want \"%s\" "
			 "from %d",
			 off, got, first, want, want_first);
	free(got);
}

/*
 * A line of at most 400 characters is its own excerpt; a longer one is cut
 * to 160 characters around the position (60 before it at least), each cut
 * marked, and the first column says where the excerpt starts.
 */
static void
test_text_excerpt(void **state)
{
	char line[601], want[200];
	char *text;

	(void)state;
	check_excerpt("SELECT 1;\nSELECT 2;\r\nx", 12, 3, "SELECT 2;", 1);
	check_excerpt("SELECT 1;\nSELECT 2;", 0, 1, "SELECT 1;", 1);
	check_excerpt("ab\n", 3, 1, "", 1); /* the empty last line */
	/* 600 characters a..z repeated on one line */
	for (int i = 0; i < 600; i++)
		line[i] = (char)('a' + i % 26);
	line[600] = '\0';
	/* at the start: nothing cut before, 160 characters, then a mark */
	snprintf(want, sizeof(want), "%.160s\xE2\x80\xA6", line);
	check_excerpt(line, 0, 1, want, 1);
	/* in the middle: 60 characters before the position */
	snprintf(want, sizeof(want), "\xE2\x80\xA6%.160s\xE2\x80\xA6",
		 line + 240);
	check_excerpt(line, 300, 301, want, 241);
	/* near the end: the rest of the line, and more before it */
	snprintf(want, sizeof(want), "\xE2\x80\xA6%s", line + 440);
	check_excerpt(line, 590, 591, want, 441);
	/* 400 characters: whole, wherever the position */
	line[400] = '\0';
	check_excerpt(line, 0, 1, line, 1);
	check_excerpt(line, 399, 400, line, 1);
	/* characters, not bytes: 500 two-byte characters, cut at a
	 * character */
	text = cf_malloc(1001);
	for (int i = 0; i < 500; i++)
		memcpy(text + 2 * i, "\xC3\xA9", 2);
	text[1000] = '\0';
	{
		int first = 0;
		char *got = cf_text_excerpt(text, 1000, 400, 201, &first);

		assert_int_equal(first, 141);
		assert_true(cf_utf8_valid(got, strlen(got), NULL));
		assert_int_equal(strlen(got), 3 + 2 * 160 + 3);
		free(got);
	}
	free(text);
}

static void
test_utf8_char_offset(void **state)
{
	static const char s[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8D\x93z";
	static const struct {
		size_t nchars;
		size_t offset;
	} cases[] = {
		{0, 0},	 {1, 1},  {2, 3},  {3, 6},
		{4, 10}, {5, 11}, {6, 11}, {1000, 11},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = cf_utf8_char_offset(s, sizeof(s) - 1,
						 cases[i].nchars);

		if (got != cases[i].offset)
			fail_msg("char %zu: offset %zu, want %zu",
				 cases[i].nchars, got, cases[i].offset);
	}
	/* clamped to len even in the middle of a character */
	assert_int_equal(cf_utf8_char_offset(s, 2, 5), 2);
	assert_int_equal(cf_utf8_char_offset(s, 0, 3), 0);
}

/* The byte-at-a-time definitions the word-at-a-time code must agree with. */
static size_t
naive_char_offset(const char *s, size_t len, size_t nchars)
{
	size_t i = 0;

	while (i < len && nchars > 0) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		nchars--;
	}
	return i;
}

static void
naive_line_col(const char *text, size_t off, int *line, int *column)
{
	*line = *column = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			(*column)++;
		}
	}
}

/* Well-formed UTF-8 by the Unicode standard's table of byte ranges. */
static bool
table_utf8_valid(const char *s, size_t len, size_t *bad)
{
	static const struct {
		unsigned char lead_lo, lead_hi, second_lo, second_hi;
		int n;
	} rows[] = {
		{0x00, 0x7F, 0, 0, 1},	     {0xC2, 0xDF, 0x80, 0xBF, 2},
		{0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
		{0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
		{0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4},
		{0xF4, 0xF4, 0x80, 0x8F, 4},
	};
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t r = 0, k;

		while (r < sizeof(rows) / sizeof(*rows) &&
		       !(u[i] >= rows[r].lead_lo && u[i] <= rows[r].lead_hi))
			r++;
		if (r == sizeof(rows) / sizeof(*rows) ||
		    i + (size_t)rows[r].n > len ||
		    (rows[r].n > 1 && (u[i + 1] < rows[r].second_lo ||
				       u[i + 1] > rows[r].second_hi))) {
			*bad = i;
			return false;
		}
		for (k = 2; k < (size_t)rows[r].n; k++)
			if (u[i + k] < 0x80 || u[i + k] > 0xBF) {
				*bad = i;
				return false;
			}
		i += (size_t)rows[r].n;
	}
	return true;
}

/*
 * Long texts, where the fast paths (8 ASCII bytes a step, a line a step)
 * run: every offset and character count gives what the byte-at-a-time
 * definition gives, invalid bytes and offsets past the end (the NUL)
 * included.
 */
static void
test_fast_paths(void **state)
{
	static const char *const pieces[] = {
		"SELECT 1;\n",
		"caf\xC3\xA9 ",
		"\xE2\x82\xAC\xE2\x82\xAC",
		"\n\n",
		"abcdefghijklmnop",
		"\xF0\x9F\x8D\x93",
		"\x80\x80",
		"x\xFFy",
		"        -- comment\n",
		"\r\n",
		"\xC3",
		"0123456789ABCDEF\x80",
	};
	char text[512];

	(void)state;
	for (unsigned seed = 1; seed <= 200; seed++) {
		size_t len = 0;
		unsigned r = seed;

		/* a mix of the pieces, different for each seed */
		while (len < 300) {
			const char *p;

			r = r * 1103515245u + 12345u;
			p = pieces[(r >> 16) %
				   (sizeof(pieces) / sizeof(*pieces))];
			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		text[len] = '\0';
		for (size_t n = 0; n <= len + 2; n++) {
			int l1, c1, l2, c2;
			size_t bad = 999, want_bad = 0;
			bool want, got;

			assert_int_equal(cf_utf8_char_offset(text, len, n),
					 naive_char_offset(text, len, n));
			if (n > len) /* line_col reads text[0..n) */
				continue;
			cf_text_line_col(text, n, &l1, &c1);
			naive_line_col(text, n, &l2, &c2);
			if (l1 != l2 || c1 != c2)
				fail_msg(
					"seed %u offset %zu: %d:%d, want %d:%d",
					seed, n, l1, c1, l2, c2);
			want = table_utf8_valid(text, n, &want_bad);
			got = cf_utf8_valid(text, n, &bad);
			if (got != want || (!want && bad != want_bad))
				fail_msg(
					"seed %u, %zu bytes: valid %d (bad %zu), "
					"want %d (bad %zu)",
					seed, n, got, bad, want, want_bad);
		}
	}
}

static void
test_quote(void **state)
{
	static const struct {
		const char *in, *ident, *literal;
	} cases[] = {
		{"tb_confiture", "\"tb_confiture\"", "'tb_confiture'"},
		{"", "\"\"", "''"},
		{"My Table", "\"My Table\"", "'My Table'"},
		{"a\"b", "\"a\"\"b\"", "'a\"b'"},
		{"it's", "\"it's\"", "'it''s'"},
		{"''", "\"''\"", "''''''"},
		{"caf\xC3\xA9", "\"caf\xC3\xA9\"", "'caf\xC3\xA9'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *id = cf_quote_ident(cases[i].in);
		char *lit = cf_quote_literal(cases[i].in);

		assert_string_equal(id, cases[i].ident);
		assert_string_equal(lit, cases[i].literal);
		free(id);
		free(lit);
	}
}

static void
test_strbuf(void **state)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	char *s;

	(void)state;
	assert_string_equal(cf_strbuf_str(&sb), "");
	cf_strbuf_addstr(&sb, "abc");
	cf_strbuf_addch(&sb, '-');
	cf_strbuf_addf(&sb, "%d/%s", 42, "x");
	cf_strbuf_add(&sb, "\0yz", 3);
	assert_int_equal(sb.len, 11);
	assert_memory_equal(sb.buf, "abc-42/x\0yz", 12);
	cf_strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(cf_strbuf_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		cf_strbuf_addch(&sb, (char)('a' + i % 26));
	assert_int_equal(sb.len, 1000);
	assert_int_equal(strlen(sb.buf), 1000);
	s = cf_strbuf_detach(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(s[999], 'a' + 999 % 26);
	free(s);

	/* detach of an empty buffer still returns a string */
	s = cf_strbuf_detach(&sb);
	assert_string_equal(s, "");
	free(s);
	cf_strbuf_addf(&sb, "%s", "");
	assert_string_equal(cf_strbuf_str(&sb), "");
	cf_strbuf_release(&sb);
	assert_null(sb.buf);
}

/* addf formats into a stack buffer first: texts around its size (512)
 * and appends after existing content come out whole. */
static void
test_strbuf_addf_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 63, 64, 511, 512, 513, 5000};
	char *want = malloc(5001);

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		cf_strbuf sb = CF_STRBUF_INIT;
		size_t n = sizes[k];

		memset(want, 'x', n);
		want[n] = '\0';
		cf_strbuf_addstr(&sb, "ab");
		cf_strbuf_addf(&sb, "%s|%d", want, 7);
		assert_int_equal(sb.len, n + 4);
		assert_int_equal(strlen(sb.buf), n + 4);
		assert_memory_equal(sb.buf, "ab", 2);
		assert_memory_equal(sb.buf + 2, want, n);
		assert_string_equal(sb.buf + 2 + n, "|7");
		cf_strbuf_release(&sb);
	}
	free(want);
}

/* The plain-text setters copy, the _take ones own what they are given
 * (freed by cf_error_free: ASan and valgrind see a leak or double free). */
static void
test_error_plain_setters(void **state)
{
	cf_error *e = cf_warning_take(cf_strdup("a %s message"));
	char text[] = "100% plain";

	(void)state;
	assert_int_equal(e->severity, CF_SEV_WARNING);
	assert_int_equal(e->kind, CF_ERR_FILE);
	assert_string_equal(e->message, "a %s message");
	cf_error_set_detail_str(e, text);
	cf_error_set_hint_str(e, text);
	text[0] = '9';
	assert_string_equal(e->detail, "100% plain");
	assert_string_equal(e->hint, "100% plain");
	cf_error_set_detail_str(e, "second");
	assert_string_equal(e->detail, "second");
	cf_error_set_hint_str(e, NULL);
	assert_null(e->hint);
	cf_error_set_where(e, "x.sql", 1, 2);
	cf_error_take_where(e, cf_strdup("y.sql"), 3, 4);
	assert_string_equal(e->file, "y.sql");
	assert_int_equal(e->line, 3);
	assert_int_equal(e->column, 4);
	cf_error_free(e);

	e = cf_warning_take(NULL);
	assert_string_equal(e->message, "");
	cf_error_free(e);
}

static void
test_read_file(void **state)
{
	static const char path[] = "fixtures/migration/ok/2_add_email.up.sql";
	static const char content[] =
		"ALTER TABLE users ADD COLUMN email text;\n";
	char *data = NULL;
	size_t len = 0;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(cf_read_file(path, &data, &len, &err), 0);
	assert_int_equal(len, sizeof(content) - 1);
	assert_string_equal(data, content);
	free(data);

	assert_int_equal(
		cf_read_file("fixtures/no/such/file", &data, &len, &err), -1);
	assert_int_equal(err->kind, CF_ERR_IO);
	assert_non_null(strstr(err->message, "'fixtures/no/such/file'"));
	cf_error_free(err);
}

/* Asserts that reading path fails with code (kind CF_ERR_IO). */
static void
assert_refused(const char *path, unsigned flags, size_t max, const char *code)
{
	char *data = NULL;
	size_t len = 0;
	cf_error *err = NULL;

	assert_int_equal(cf_read_file_ex(path, flags, max, &data, &len, &err),
			 -1);
	assert_null(data);
	assert_non_null(err);
	assert_int_equal(err->kind, CF_ERR_IO);
	assert_string_equal(err->code, code);
	cf_error_free(err);
}

/* Only regular files are read: a FIFO without a writer fails at once
 * instead of blocking, a device or directory is refused, a size cap and
 * O_NOFOLLOW hold. */
static void
test_read_file_refusals(void **state)
{
	char dir[] = "/tmp/cf-test-text-XXXXXX";
	char *fifo;
	char *file;
	char *link;
	char *data = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fifo = cf_asprintf("%s/pipe.sql", dir);
	file = cf_asprintf("%s/file.sql", dir);
	link = cf_asprintf("%s/link.sql", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("0123456789", f);
	fclose(f);
	assert_int_equal(symlink(file, link), 0);

	assert_refused(fifo, 0, 0, "not-regular-file");
	assert_refused("/dev/zero", 0, 0, "not-regular-file");
	assert_refused("/dev/null", 0, 0, "not-regular-file");
	assert_refused(dir, 0, 0, "not-regular-file");
	assert_refused(file, 0, 9, "file-too-large");
	assert_refused(link, CF_READ_NOFOLLOW, 0, "not-regular-file");
	/* a link is followed unless told otherwise; the cap is inclusive */
	assert_int_equal(cf_read_file_ex(link, 0, 10, &data, &len, NULL), 0);
	assert_int_equal(len, 10);
	free(data);

	unlink(fifo);
	unlink(link);
	unlink(file);
	rmdir(dir);
	free(fifo);
	free(file);
	free(link);
}

static void
test_path_inside(void **state)
{
	(void)state;
	assert_true(cf_path_inside("/a/b", "/a/b"));
	assert_true(cf_path_inside("/a/b/c", "/a/b"));
	assert_false(cf_path_inside("/a/bc", "/a/b"));
	assert_false(cf_path_inside("/a", "/a/b"));
	assert_false(cf_path_inside("/etc/shadow", "/a/b"));
	assert_true(cf_path_inside("/etc/shadow", "/"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_text_line_col),
		cmocka_unit_test(test_text_line_col_unterminated),
		cmocka_unit_test(test_text_excerpt),
		cmocka_unit_test(test_utf8_char_offset),
		cmocka_unit_test(test_fast_paths),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_strbuf),
		cmocka_unit_test(test_strbuf_addf_sizes),
		cmocka_unit_test(test_error_plain_setters),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_file_refusals),
		cmocka_unit_test(test_path_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
