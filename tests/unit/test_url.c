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

#include "internal.h"

typedef struct redact_case {
	const char *input;
	const char *expected;
	const char *secret;	/* must not survive redaction; NULL if none */
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
	{"postgresql://:secret@host/db", "postgresql://:***@host/db",
	 "secret"},
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
	{"  postgresql://u:secret@h/db", "  postgresql://u:***@h/db",
	 "secret"},
	/* conninfo */
	{"", "", NULL},
	{"host=localhost password=secret dbname=db",
	 "host=localhost password=*** dbname=db", "secret"},
	{"host=h password='s e c' user=u", "host=h password=*** user=u",
	 "s e c"},
	{"password='it\\'s secret' user=u", "password=*** user=u",
	 "secret"},
	{"password = secret port=5432", "password = *** port=5432", "secret"},
	{"PASSWORD=secret", "PASSWORD=***", "secret"},
	{"password=sec\\ ret host=h", "password=*** host=h", "ret"},
	{"host=h password='unterminated secret", "host=h password=***",
	 "secret"},
	{"host=h sslpassword=secret", "host=h sslpassword=***", "secret"},
	{"password secret", "password ***", "secret"},
	{"dbname=postgresql://u:secret@h/db host=x",
	 "dbname='postgresql://u:***@h/db' host=x", "secret"},
	{"dbname='host=h password=secret'",
	 "dbname='host=h password=***'", "secret"},
	{"host=h dbname=app application_name='a password=b'",
	 "host=h dbname=app application_name='a password=b'", NULL},
	{"mydb", "mydb", NULL},
};

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_redact_null),
		cmocka_unit_test(test_redact_prefers_hiding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
