/*
 * test_lock.c — unit tests for the SHA-256 helper (checksum.c), the
 * advisory-lock key shared with the Python tool (lock.c), and which server
 * errors mean a lost connection (db.c: exit 2 rather than 1), and how
 * another session's statement is made fit to show (advisory.c).
 *
 * Expected values are the published SHA-256 test vectors and keys computed
 * independently with Python's hashlib, the way the Python tool does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "db/db.h"

static void
test_sha256_vectors(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		const char *hex;
	} cases[] = {
		{"", 0,
		 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", 3,
		 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"caf\xC3\xA9", 5,
		 "850f7dc43910ff890f8879c0ed26fe697c93a067ad93a7d50f466a7028a9bf4e"},
		/* embedded NUL: the length counts, not strlen */
		{"a\0b", 3,
		 "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138"},
	};
	char out[65];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		cf_sha256_hex(cases[i].data, cases[i].len, out);
		assert_string_equal(out, cases[i].hex);
	}
}

static void
test_sha256_million_a(void **state)
{
	size_t len = 1000000;
	char *data = cf_malloc(len);
	char out[65];

	(void)state;
	memset(data, 'a', len);
	cf_sha256_hex(data, len, out);
	assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
	free(data);
}

static void
test_lock_key_vectors(void **state)
{
	static const struct {
		const char *dbname;
		int32_t key;
	} cases[] = {
		{"app", 561172188},
		{"postgres", 692237180},
		{"myapp_production", 415139148},
		/* first byte >= 0x80: the sign bit is cleared */
		{"tb_confiture", 2114025273},
		{"", 1672528962},
		{"\xC3\xA9", 1251562878}, /* "é", UTF-8 bytes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int32_t got = cf_lock_key(cases[i].dbname);

		if (got != cases[i].key)
			fail_msg("cf_lock_key('%s') = %d, want %d",
				 cases[i].dbname, got, cases[i].key);
		assert_true(got >= 0);
	}
}

static void
test_connection_lost_sqlstates(void **state)
{
	static const char *const lost[] = {"08000", "08006", "08P01", "57P01",
					   "57P02", "57P03", "57P04"};
	static const char *const not_lost[] = {
		"57014", "57P05", "40P01", "42P07", "23505", "55P03", ""};

	(void)state;
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
		assert_true(cf_db_connection_lost(NULL, lost[i]));
	for (size_t i = 0; i < sizeof(not_lost) / sizeof(not_lost[0]); i++)
		assert_false(cf_db_connection_lost(NULL, not_lost[i]));
	assert_false(cf_db_connection_lost(NULL, NULL));
}

/* Another session's statement as shown in lock waits (advisory.c). */
static void
test_safe_query(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"LOCK TABLE t;", "LOCK TABLE t;"},
		/* one line: newline, tab, ESC, DEL and C1 (U+009B) are spaces */
		{"SELECT 1,\n\t2", "SELECT 1,  2"},
		{"SELECT '\033[31mred'", "SELECT ' [31mred'"},
		{"a\x7f"
		 "b\xc2\x9b"
		 "c",
		 "a b c"},
		/* UTF-8 kept, text that is not UTF-8 keeps its ASCII only */
		{"SELECT 'caf\xc3\xa9'", "SELECT 'caf\xc3\xa9'"},
		{"SELECT '\xff\xfe'", "SELECT '?"
				      "?'"},
		{"ALTER ROLE app PASSWORD 'x'",
		 "(statement hidden: it mentions a password)"},
	};
	char long_q[512], *out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = cf_db_safe_query(cf_strdup(cases[i].in));
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	assert_null(cf_db_safe_query(NULL));
	out = cf_db_safe_query(
		cf_strdup("SELECT 'postgresql://u:hunter2@h/db'"));
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "***"));
	free(out);
	/* cut after CF_DB_QUERY_SHOWN_CHARS characters, never inside one */
	memset(long_q, 0, sizeof(long_q));
	for (size_t i = 0; i < 250; i++)
		memcpy(long_q + 2 * i, "\xc3\xa9", 2);
	out = cf_db_safe_query(cf_strdup(long_q));
	assert_int_equal(strlen(out), 2 * CF_DB_QUERY_SHOWN_CHARS + 4);
	assert_string_equal(out + 2 * CF_DB_QUERY_SHOWN_CHARS, " ...");
	free(out);
	memset(long_q, 'x', CF_DB_QUERY_SHOWN_CHARS);
	long_q[CF_DB_QUERY_SHOWN_CHARS] = '\0';
	out = cf_db_safe_query(cf_strdup(long_q));
	assert_string_equal(out, long_q);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_lock_key_vectors),
		cmocka_unit_test(test_connection_lost_sqlstates),
		cmocka_unit_test(test_safe_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
