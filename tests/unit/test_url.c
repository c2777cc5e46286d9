/*
 * test_url.c — password redaction of connection URLs and conninfo strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

typedef struct redact_case {
	const char *input;
	const char *expected;
	const char *secret; /* must not survive redaction; NULL if none */
} redact_case;

static const redact_case redact_cases[] = {
	/* URLs */
	{"postgresql://user:secret@localhost:5432/db",
	 "postgresql://user:***@localhost:5432/db", "secret"},
	{"postgres://user:secret@host/db", "postgres://user:***@host/db",
	 "secret"},
	{"postgresql://user@host/db", "postgresql://user@host/db", NULL},
	{"postgresql://host:5432/db", "postgresql://host:5432/db", NULL},
	{"postgresql://", "postgresql://", NULL},
	{"postgresql://user:p@ss@host/db", "postgresql://user:***@host/db",
	 "p@ss"},
	{"postgresql://user:p%40ss@host/db", "postgresql://user:***@host/db",
	 "p%40ss"},
	{"postgresql://user:a@b/c@host/db", "postgresql://user:***@host/db",
	 "a@b/c"},
	{"postgresql://user:pa/ss@host/db", "postgresql://user:***@host/db",
	 "pa/ss"},
	{"postgresql://user:pa?ss@host/db", "postgresql://user:***@host/db",
	 "pa?ss"},
	{"postgresql://:secret@host/db", "postgresql://:***@host/db", "secret"},
	{"postgresql://u:secret@[::1]:5432/db",
	 "postgresql://u:***@[::1]:5432/db", "secret"},
	{"postgresql://u:secret@h1:5432,h2:5433/db?target_session_attrs=any",
	 "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=any",
	 "secret"},
	{"postgresql://host/db?password=secret",
	 "postgresql://host/db?password=***", "secret"},
	{"postgresql://u:one@host/db?sslmode=require&password=secret&x=1",
	 "postgresql://u:***@host/db?sslmode=require&password=***&x=1",
	 "secret"},
	{"postgresql://host/db?pass%77ord=secret",
	 "postgresql://host/db?pass%77ord=***", "secret"},
	{"postgresql://host/db?sslpassword=secret",
	 "postgresql://host/db?sslpassword=***", "secret"},
	{"  postgresql://u:secret@h/db", "  postgresql://u:***@h/db", "secret"},
	/* conninfo */
	{"", "", NULL},
	{"host=localhost password=secret dbname=db",
	 "host=localhost password=*** dbname=db", "secret"},
	{"host=h password='s e c' user=u", "host=h password=*** user=u",
	 "s e c"},
	{"password='it\\'s secret' user=u", "password=*** user=u", "secret"},
	{"password = secret port=5432", "password = *** port=5432", "secret"},
	{"PASSWORD=secret", "PASSWORD=***", "secret"},
	{"password=sec\\ ret host=h", "password=*** host=h", "ret"},
	{"host=h password='unterminated secret", "host=h password=***",
	 "secret"},
	{"host=h sslpassword=secret", "host=h sslpassword=***", "secret"},
	{"password secret", "password ***", "secret"},
	{"dbname=postgresql://u:secret@h/db host=x",
	 "dbname=postgresql://u:***@h/db host=x", "secret"},
	{"dbname='host=h password=secret'", "dbname='host=h password=***'",
	 "secret"},
	{"host=h dbname=app application_name='a password=b'",
	 "host=h dbname=app application_name='a password=b'", NULL},
	/* neither URL nor conninfo */
	{"mydb", "mydb", NULL},
	{"localhost:5432", "localhost:5432", NULL},
	{"postgresql:/u:secret@h/db", "postgresql:***@h/db", "secret"},
	{"user:secret@host/db", "user:***@host/db", "secret"},
	{"postgresql:/h/db?x=1@2&password=secret",
	 "postgresql:***@2&password=***", "secret"},
	/* found by fuzz/fuzz_url.c */
	{"postgresql://h/db?password=abcd@xyz",
	 "postgresql://h/db?password=***", "xyz"},
	{"postgresql://h/db?sslmode=require&password=ab?cdef",
	 "postgresql://h/db?sslmode=require&password=***", "cdef"},
	{"postgresql://u:pw@h/db?password=ab@cdef", "postgresql://u:***",
	 "cdef"},
	{"host-name=h password=secret", "host-name=h password=***", "secret"},
	{"rostgresql://h password=secret", "rostgresql://h password=***",
	 "secret"},
	{"k%3A=a:b password=secret@host", "k%3A=a:***", "secret"},
	{"dbname='host=h password=s\\ecret' user=u",
	 "dbname='host=h password=***' user=u", "ecret"},
	{"password x postgresql://u:secret@h/db",
	 "password *** postgresql://u:***@h/db", "secret"},
	{"host=h:5432 user=a@b", "host=h:5432 user=a@b", NULL},
	{"host=h options='postgresql://u:secret@h'",
	 "host=h options='postgresql://u:***@h'", "secret"},
};

typedef struct message_case {
	const char *message;
	const char *conninfo;
	const char *expected;
} message_case;

/* Messages about a connection string: libpq's and the server's. */
static const message_case message_cases[] = {
	{"invalid percent-encoded token: \"se%zz\"",
	 "postgresql://u:se%zz@h/db", "invalid percent-encoded token: \"***\""},
	{"end of string reached in URI: \"postgresql://u:secret@[bad\"",
	 "postgresql://u:secret@[bad",
	 "end of string reached in URI: \"postgresql://u:***@[bad\""},
	{"database \"postgresql://u:secret@/nodb?host=/tmp&port=5\" does not "
	 "exist",
	 "dbname='postgresql://u:secret@/nodb?host=/tmp&port=5432'",
	 "database \"postgresql://u:***@/nodb?host=/tmp&port=5\" does not "
	 "exist"},
	{"token: \"p%zz\"", "postgresql://u:p%zz@h/db?x=@y", "token: \"***\""},
	{"decoded: p@ss", "postgresql://u:p%40ss@h", "decoded: ***"},
	{"no secret here: \"h\"", "postgresql://u@h/db",
	 "no secret here: \"h\""},
};

/* cf_redact_message(): every row exact. */
static void
test_redact_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(message_cases) / sizeof(message_cases[0]);
	     i++) {
		const message_case *c = &message_cases[i];
		char *got = cf_redact_message(c->message, c->conninfo);

		assert_non_null(got);
		if (strcmp(got, c->expected) != 0)
			fail_msg("row %zu: '%s' -> '%s', expected '%s'", i,
				 c->message, got, c->expected);
		free(got);
	}
	assert_null(cf_redact_message(NULL, "x"));
}

/* Every row: exact output, and the secret is gone. */
static void
test_redact_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(redact_cases) / sizeof(redact_cases[0]);
	     i++) {
		const redact_case *c = &redact_cases[i];
		char *got = cf_redact_url(c->input);

		assert_non_null(got);
		if (strcmp(got, c->expected) != 0)
			fail_msg("row %zu: '%s' -> '%s', expected '%s'", i,
				 c->input, got, c->expected);
		if (c->secret && strstr(got, c->secret))
			fail_msg("row %zu: secret '%s' left in '%s'", i,
				 c->secret, got);
		free(got);
	}
}

static void
test_redact_null(void **state)
{
	(void)state;
	assert_null(cf_redact_url(NULL));
}

/* A URL whose query holds an '@' is over-redacted rather than leaking. */
static void
test_redact_prefers_hiding(void **state)
{
	char *got;

	(void)state;
	got = cf_redact_url("postgresql://h:5432/db?application_name=a@b");
	assert_non_null(got);
	assert_non_null(strstr(got, "***"));
	free(got);
}

/*
 * Property: whatever bytes a password holds, written into a URL (raw) or a
 * conninfo string (quoted or backslash-escaped as libpq reads it), none of
 * it survives.  Deterministic pseudo-random passwords of 6..20 bytes.
 */
static void
test_redact_random_passwords(void **state)
{
	static const char alphabet[] = "abcXYZ019@:/?#&=%' \\\"+;,[]~$";
	unsigned int seed = 12345;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		char pw[21];
		size_t len;
		cf_strbuf esc = CF_STRBUF_INIT;
		char *inputs[3];

		seed = seed * 1103515245u + 12345u;
		len = 6 + (seed >> 16) % 15;
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			pw[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		pw[len] = '\0';
		for (const char *p = pw; *p; p++) {
			if (*p == '\'' || *p == '\\' || *p == ' ')
				cf_strbuf_addch(&esc, '\\');
			cf_strbuf_addch(&esc, *p);
		}
		inputs[0] = cf_asprintf("postgresql://user:%s@host:5432/db"
					"?sslmode=require",
					pw);
		inputs[1] = cf_asprintf("host=h password='%s' dbname=db",
					cf_strbuf_str(&esc));
		inputs[2] = cf_asprintf("user=u password=%s port=5432",
					cf_strbuf_str(&esc));
		for (int k = 0; k < 3; k++) {
			char *got = cf_redact_url(inputs[k]);

			if (strstr(got, pw))
				fail_msg(
					"password '%s' left in '%s' (from '%s')",
					pw, got, inputs[k]);
			free(got);
			free(inputs[k]);
		}
		cf_strbuf_release(&esc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_redact_message),
		cmocka_unit_test(test_redact_null),
		cmocka_unit_test(test_redact_prefers_hiding),
		cmocka_unit_test(test_redact_random_passwords),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
