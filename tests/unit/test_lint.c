/*
 * test_lint.c — unit tests for the lint rules (lint/rules.c) and driver
 * (lint/lint.c): SQL in, the rule ids found out, at a target major.
 * Table-driven: every rule has a case that fires and a safe form that
 * stays silent; version-dependent rules are tried at 10, 11, 12 and 16.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "lint/lint.h"

static const struct lint_case {
	const char *name;
	int pg;
	const char *sql;
	const char *expect; /* rule ids found, space-separated, in order */
} cases[] = {
	/* 1 index-without-concurrently */
	{"index on existing table", 16, "CREATE INDEX i ON t (a);",
	 "index-without-concurrently"},
	{"index concurrently", 16, "CREATE INDEX CONCURRENTLY i ON t (a);", ""},
	{"index on a table of the same migration", 16,
	 "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);", ""},
	/* 2 foreign-key-not-valid */
	{"foreign key validated", 16,
	 "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES u (id);",
	 "foreign-key-not-valid"},
	{"foreign key not valid, validated later", 16,
	 "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES u (id) "
	 "NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT f;",
	 ""},
	/* 3 check-not-valid */
	{"check validated", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
	 "check-not-valid"},
	{"check not valid", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
	 ""},
	/* 4 set-not-null */
	{"set not null alone, 16", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	{"set not null alone, 12", 12,
	 "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	{"set not null after validated check, 12", 12,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 ""},
	{"set not null after validated check, 16", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 ""},
	{"set not null after another table's validated check, 16", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE u ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE u VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (b IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	{"set not null after a check never validated, 16", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	{"set not null after validated check, 11", 11,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	{"set not null after validated check, 10", 10,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	 "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
	 "set-not-null"},
	/* 5 add-column-default */
	{"constant default, 16", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int DEFAULT 0;",
	 ""},
	{"constant default, 11", 11,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int DEFAULT 0;",
	 ""},
	{"constant default, 10", 10,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int DEFAULT 0;",
	 "add-column-default"},
	{"now() default, 12", 12,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD COLUMN b timestamptz DEFAULT now();",
	 ""},
	{"volatile default, 16", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid();",
	 "add-column-default"},
	{"volatile default, 11", 11,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD COLUMN b float8 DEFAULT random();",
	 "add-column-default"},
	{"serial column on an existing table", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b serial;",
	 "add-column-default"},
	{"no default", 10,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;", ""},
	/* 10 add-not-null-without-default */
	{"not null without default", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int NOT NULL;",
	 "add-not-null-without-default"},
	{"not null with a constant default", 16,
	 "SET lock_timeout = '2s';\n"
	 "ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;",
	 ""},
	{"not null on a new table", 16,
	 "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int NOT NULL;",
	 ""},
	/* 8 drop-column-or-table */
	{"drop column", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t DROP COLUMN a;",
	 "drop-column-or-table"},
	{"drop table", 16, "SET lock_timeout = '2s';\nDROP TABLE t;",
	 "drop-column-or-table"},
	{"drop table of the same migration", 16,
	 "CREATE TABLE t (a int);\nDROP TABLE t;", ""},
	/* 19 drop-cascade */
	{"drop cascade", 16, "DROP VIEW v CASCADE;", "drop-cascade"},
	{"drop restrict", 16, "DROP VIEW v;", ""},
	/* 7 rename-column-or-table */
	{"rename column", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t RENAME COLUMN a TO b;",
	 "rename-column-or-table"},
	{"rename table", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t RENAME TO u;",
	 "rename-column-or-table"},
	{"rename an index", 16, "ALTER INDEX i RENAME TO j;", ""},
	/* 16 timestamp-without-time-zone */
	{"timestamp column", 16, "CREATE TABLE t (a timestamp);",
	 "timestamp-without-time-zone"},
	{"timestamptz column", 16,
	 "CREATE TABLE t (a timestamptz, b timestamp with time zone);", ""},
	/* 17 security-definer-search-path */
	{"security definer without search_path", 16,
	 "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER "
	 "AS 'SELECT 1';",
	 "security-definer-search-path"},
	{"security definer with search_path", 16,
	 "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER "
	 "SET search_path = pg_catalog, pg_temp AS 'SELECT 1';",
	 ""},
	{"security invoker", 16,
	 "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", ""},
	/* 11 missing-lock-timeout */
	{"access exclusive without lock_timeout", 16,
	 "ALTER TABLE t ADD COLUMN b int;", "missing-lock-timeout"},
	{"reported once per file", 16,
	 "ALTER TABLE t ADD COLUMN b int;\nALTER TABLE u ADD COLUMN c int;",
	 "missing-lock-timeout"},
	{"set local lock_timeout first", 16,
	 "SET LOCAL lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;", ""},
	{"new table needs no lock_timeout", 16,
	 "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;", ""},
	/* 6 column-type-change */
	{"type change to bigint", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
	 "column-type-change"},
	{"type change to text", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN a TYPE text;",
	 ""},
	{"type change to text with USING", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN a TYPE text USING a::text;",
	 "column-type-change"},
	{"type change on a new table", 16,
	 "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
	 ""},
	/* 9 constraint-without-index */
	{"unique added directly", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT u UNIQUE (a);",
	 "constraint-without-index"},
	{"primary key added directly", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD PRIMARY KEY (a);",
	 "constraint-without-index"},
	{"unique using an index", 16,
	 "CREATE UNIQUE INDEX CONCURRENTLY u_i ON t (a);", ""},
	{"unique using index", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u_i;",
	 ""},
	/* 13 concurrently-with-other-changes */
	{"concurrently beside a change", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;\n"
	 "CREATE INDEX CONCURRENTLY i ON t (b);",
	 "concurrently-with-other-changes"},
	{"concurrently after SET only", 16,
	 "SET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY i ON t (b);",
	 ""},
	/* 14 int-primary-key */
	{"serial primary key", 16, "CREATE TABLE t (id serial PRIMARY KEY);",
	 "int-primary-key"},
	{"int primary key as a table constraint", 16,
	 "CREATE TABLE t (id int, PRIMARY KEY (id));", "int-primary-key"},
	{"bigint identity primary key", 16,
	 "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
	 ""},
	/* 15 varchar-length */
	{"varchar(n) column", 16, "CREATE TABLE t (a varchar(20));",
	 "varchar-length"},
	{"text column", 16, "CREATE TABLE t (a text, b varchar);", ""},
	/* 20 data-change-with-ddl */
	{"update without where beside ddl", 16,
	 "CREATE TABLE u (a int);\nUPDATE t SET a = 0;",
	 "data-change-with-ddl"},
	{"update with where beside ddl", 16,
	 "CREATE TABLE u (a int);\nUPDATE t SET a = 0 WHERE a IS NULL;", ""},
	{"update alone", 16, "UPDATE t SET a = 0;", ""},
	{"delete without where, no transaction", 16,
	 "-- confiture:no-transaction\nCREATE TABLE u (a int);\nDELETE FROM t;",
	 ""},
	/* 12 separate-alters */
	{"two alters of one table", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;\nALTER TABLE t ADD COLUMN c int;\n"
	 "ALTER TABLE t DROP COLUMN d;",
	 "separate-alters drop-column-or-table"},
	{"three alters of one table, two of another: once per table", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;\n"
	 "ALTER TABLE u ADD COLUMN b int;\nALTER TABLE t ADD COLUMN c int;\n"
	 "ALTER TABLE u ADD COLUMN c int;\nALTER TABLE t ADD COLUMN d int;",
	 "separate-alters separate-alters"},
	{"one alter with two subcommands", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int, ADD COLUMN c int;",
	 ""},
	{"alters of two tables", 16,
	 "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int;\nALTER TABLE u ADD COLUMN c int;",
	 ""},
	/* 18 replace-with-dependents (from the files' own history) */
	{"replaced function body under an index", 16,
	 "CREATE FUNCTION f(x int) RETURNS int IMMUTABLE LANGUAGE sql AS "
	 "'select x';\nCREATE TABLE t (a int);\nCREATE INDEX i ON t (f(a));\n"
	 "CREATE OR REPLACE FUNCTION f(x int) RETURNS int IMMUTABLE "
	 "LANGUAGE sql AS 'select x + 1';",
	 "replace-with-dependents"},
	{"replaced function under a CHECK", 16,
	 "CREATE FUNCTION ok(x int) RETURNS bool IMMUTABLE LANGUAGE sql AS "
	 "'select x > 0';\nCREATE TABLE t (a int CHECK (ok(a)));\n"
	 "CREATE OR REPLACE FUNCTION ok(x int) RETURNS bool IMMUTABLE "
	 "LANGUAGE sql AS 'select x >= 0';",
	 "replace-with-dependents"},
	{"same function body again under an index", 16,
	 "CREATE FUNCTION f(x int) RETURNS int IMMUTABLE LANGUAGE sql AS "
	 "'select x';\nCREATE TABLE t (a int);\nCREATE INDEX i ON t (f(a));\n"
	 "CREATE OR REPLACE FUNCTION f(x int) RETURNS int IMMUTABLE "
	 "LANGUAGE sql AS 'select x';",
	 ""},
	{"replaced function under a default only", 16,
	 "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';\n"
	 "CREATE TABLE t (a int DEFAULT f());\n"
	 "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS "
	 "'select 2';",
	 ""},
	{"replaced trigger function body", 16,
	 "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS "
	 "'begin return new; end';\nCREATE TABLE t (a int);\n"
	 "CREATE TRIGGER tt BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION "
	 "trg();\nCREATE OR REPLACE FUNCTION trg() RETURNS trigger LANGUAGE "
	 "plpgsql AS 'begin new.a := 1; return new; end';",
	 ""},
	{"function result changed under a view", 16,
	 "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'select x';\n"
	 "CREATE VIEW v AS SELECT f(1) AS one;\n"
	 "CREATE OR REPLACE FUNCTION f(x int) RETURNS bigint LANGUAGE sql AS "
	 "'select x';",
	 "replace-with-dependents"},
	{"function result changed, nothing depends on it", 16,
	 "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'select x';\n"
	 "CREATE OR REPLACE FUNCTION f(x int) RETURNS bigint LANGUAGE sql AS "
	 "'select x';",
	 ""},
	{"new argument list beside a used function", 16,
	 "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'select x';\n"
	 "CREATE VIEW v AS SELECT f(1) AS one;\n"
	 "CREATE OR REPLACE FUNCTION f(x bigint) RETURNS int LANGUAGE sql AS "
	 "'select 1';",
	 "replace-with-dependents"},
	{"view column renamed under a view", 16,
	 "CREATE VIEW v AS SELECT 1 AS a, 2 AS b;\n"
	 "CREATE VIEW w AS SELECT a FROM v;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS a, 2 AS c;",
	 "replace-with-dependents"},
	{"view column appended under a view", 16,
	 "CREATE VIEW v AS SELECT 1 AS a, 2 AS b;\n"
	 "CREATE VIEW w AS SELECT a FROM v;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS a, 3 AS b, 4 AS c;",
	 ""},
	{"view columns changed, nothing depends on it", 16,
	 "CREATE VIEW v AS SELECT 1 AS a, 2 AS b;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;",
	 ""},
	{"view replaced under a materialized view", 16,
	 "CREATE VIEW v AS SELECT 1 AS a;\n"
	 "CREATE MATERIALIZED VIEW m AS SELECT a FROM v;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 2 AS a;",
	 "replace-with-dependents"},
	{"view column renamed under a view dropped and made again", 16,
	 "CREATE VIEW v AS SELECT 1 AS a;\n"
	 "CREATE VIEW w AS SELECT a FROM v;\nDROP VIEW w;\n"
	 "CREATE VIEW w AS SELECT a FROM v;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS b;",
	 "replace-with-dependents"},
	{"view column renamed after its dependent view was dropped", 16,
	 "CREATE VIEW v AS SELECT 1 AS a;\n"
	 "CREATE VIEW w AS SELECT a FROM v;\nDROP VIEW w;\n"
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS b;",
	 ""},
	{"replaced after its dependent index was dropped", 16,
	 "CREATE FUNCTION f(x int) RETURNS int IMMUTABLE LANGUAGE sql AS "
	 "'select x';\nCREATE TABLE t (a int);\nCREATE INDEX i ON t (f(a));\n"
	 "DROP INDEX i;\nCREATE OR REPLACE FUNCTION f(x int) RETURNS int "
	 "IMMUTABLE LANGUAGE sql AS 'select x + 1';",
	 ""},
	{"replaced view never defined in the files", 16,
	 "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;", ""},
	/* inline suppression */
	{"ignored with a reason", 16,
	 "-- confiture:ignore index-without-concurrently t is tiny\n"
	 "CREATE INDEX i ON t (a);",
	 ""},
	{"ignored without a reason", 16,
	 "-- confiture:ignore index-without-concurrently\n"
	 "CREATE INDEX i ON t (a);",
	 "ignore-without-reason"},
	{"ignore names two rules", 16,
	 "-- confiture:ignore drop-column-or-table,missing-lock-timeout old\n"
	 "DROP TABLE t;",
	 ""},
	{"ignore not on the line before", 16,
	 "-- confiture:ignore index-without-concurrently tiny\n\n"
	 "CREATE INDEX i ON t (a);",
	 "index-without-concurrently"},
	{"ignore of an unknown rule", 16,
	 "-- confiture:ignore no-such-rule because\nCREATE INDEX i ON t (a);",
	 "ignore-without-reason index-without-concurrently"},
	{"ignore of another rule", 16,
	 "-- confiture:ignore drop-cascade tiny\nCREATE INDEX i ON t (a);",
	 "index-without-concurrently"},
	/* kinds lint does not parse (no rule reads them) still count */
	{"ignore without a reason before an INSERT", 16,
	 "-- confiture:ignore drop-cascade\nINSERT INTO t VALUES (1);",
	 "ignore-without-reason"},
	{"a COMMENT is a schema change beside an UPDATE", 16,
	 "COMMENT ON TABLE t IS 'x';\nUPDATE t SET a = 0;",
	 "data-change-with-ddl"},
	{"an INSERT is no schema change", 16,
	 "INSERT INTO t VALUES (1);\nUPDATE t SET a = 0;", ""},
	{"a GRANT is another change beside CONCURRENTLY", 16,
	 "GRANT SELECT ON t TO r;\nCREATE INDEX CONCURRENTLY i ON t (a);",
	 "concurrently-with-other-changes"},
	{"a materialized view is a table created in the file", 16,
	 "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a;\n"
	 "CREATE INDEX i ON mv (a);",
	 ""},
	{"CREATE OR REPLACE FUNCTION is read", 16,
	 "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql "
	 "SECURITY DEFINER AS 'SELECT 1';",
	 "security-definer-search-path"},
};

/* Lints sql, which must succeed; the caller frees the result. */
static cf_lint_result *
lint(const char *sql, const cf_lint_options *o)
{
	cf_lint_result *r = NULL;
	cf_error *err = NULL;

	assert_int_equal(
		cf_lint_text("m.up.sql", sql, strlen(sql), o, &r, &err), 0);
	assert_non_null(r);
	return r;
}

static char *
found_ids(const cf_lint_result *r)
{
	cf_strbuf sb;

	cf_strbuf_init(&sb);
	for (size_t i = 0; i < r->n_findings; i++) {
		if (i)
			cf_strbuf_addch(&sb, ' ');
		cf_strbuf_addstr(&sb, r->findings[i].rule);
	}
	return cf_strbuf_detach(&sb);
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lint_case *c = &cases[i];
		cf_lint_options o = {.pg_major = c->pg};
		cf_lint_result *r = NULL;
		char *got;

		/* trees kept from the preparation, or parsed again when
		 * linted (a large script): the same findings */
		for (int defer = 0; defer < 2; defer++) {
			size_t saved = cf_lint_trees_max;

			cf_lint_trees_max = defer ? 0 : saved;
			r = lint(c->sql, &o);
			cf_lint_trees_max = saved;
			got = found_ids(r);
			if (strcmp(got, c->expect) != 0)
				fail_msg("%s (PG %d%s): expected \"%s\", got "
					 "\"%s\"",
					 c->name, c->pg,
					 defer ? ", trees parsed again" : "",
					 c->expect, got);
			assert_int_equal(r->n_not_linted, 0);
			free(got);
			cf_lint_result_free(r);
		}
	}
}

static void
test_position_and_fields(void **state)
{
	const char *sql = "SELECT 1;\n  CREATE INDEX i ON t (a);\n";
	cf_lint_options o = {.pg_major = 15};
	cf_lint_result *r = NULL;

	(void)state;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_int_equal(r->findings[0].line, 2);
	assert_int_equal(r->findings[0].column, 3);
	assert_int_equal(r->findings[0].severity, CF_LINT_ERROR);
	assert_string_equal(r->findings[0].excerpt,
			    "  CREATE INDEX i ON t (a);");
	assert_string_equal(r->findings[0].docs,
			    "docs/lint.md#index-without-concurrently");
	assert_true(strlen(r->findings[0].suggestion) > 0);
	assert_int_equal(r->pg_major, 15);
	assert_int_equal(r->errors, 1);
	cf_lint_result_free(r);
}

static void
test_select_ignore(void **state)
{
	const char *sql = "CREATE INDEX i ON t (a);\nDROP VIEW v CASCADE;\n";
	const char *const sel[] = {"drop-cascade", NULL};
	const char *const bad[] = {"no-such-rule", NULL};
	cf_lint_options o = {.pg_major = 16, .select = sel};
	cf_lint_result *r = NULL;
	cf_error *err = NULL;

	(void)state;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_string_equal(r->findings[0].rule, "drop-cascade");
	cf_lint_result_free(r);
	o.select = NULL;
	o.ignore = sel;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_string_equal(r->findings[0].rule, "index-without-concurrently");
	cf_lint_result_free(r);
	o.ignore = bad;
	assert_int_equal(
		cf_lint_text("m.up.sql", sql, strlen(sql), &o, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err->kind, CF_ERR_USAGE);
	cf_error_free(err);
}

static void
test_not_linted(void **state)
{
	const char *sql = "CREATE INDEX i ON t (a);\nCREATE FROBNICATOR x;\n";
	cf_lint_options o = {.pg_major = 99};
	cf_lint_result *r = NULL;

	(void)state;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_int_equal(r->n_not_linted, 1);
	assert_int_equal(r->not_linted[0].line, 2);
	cf_lint_result_free(r);
}

/* With a database's facts, replace-with-dependents reads them, never the
 * files' history. */
static void
test_replace_facts(void **state)
{
	const char *sql =
		"CREATE OR REPLACE FUNCTION f(x int) RETURNS int IMMUTABLE "
		"LANGUAGE sql AS 'select x + 1';\n";
	cf_dependent idx = {"index", "public.i", NULL, true};
	cf_dependent view = {"view", "public.v", NULL, false};
	cf_statement_dependents stored = {
		1, 1, "function", "public.f(integer)", &idx, 1};
	cf_statement_dependents plain = {
		1, 1, "function", "public.f(integer)", &view, 1};
	cf_lint_fact fact = {"m.up.sql", 1, &stored, true, NULL};
	cf_lint_options o = {.pg_major = 16,
			     .facts_known = true,
			     .facts = &fact,
			     .n_facts = 1};
	cf_lint_result *r;

	(void)state;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_string_equal(r->findings[0].rule, "replace-with-dependents");
	assert_non_null(strstr(r->findings[0].message, "index public.i"));
	cf_lint_result_free(r);
	/* the same source again: nothing stored goes stale */
	fact.body_changed = false;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 0);
	cf_lint_result_free(r);
	/* a view picks the new body up: no finding */
	fact.body_changed = true;
	fact.replaced = &plain;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 0);
	cf_lint_result_free(r);
	/* a new argument list beside a used function */
	fact.replaced = NULL;
	fact.overloaded = &plain;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 1);
	assert_non_null(strstr(r->findings[0].message, "view public.v"));
	cf_lint_result_free(r);
	/* facts known but none for the statement: silent */
	o.n_facts = 0;
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 0);
	cf_lint_result_free(r);
}

/* Context files feed the history, never the findings or the counts. */
static void
test_context(void **state)
{
	char path[] = "/tmp/test_lint_ctx_XXXXXX";
	const char *ctx =
		"CREATE FUNCTION f(x int) RETURNS int IMMUTABLE LANGUAGE sql "
		"AS 'select x';\nCREATE INDEX i ON t (f(a));\n";
	const char *sql = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int "
			  "IMMUTABLE LANGUAGE sql AS 'select x + 1';\n";
	const char *context[] = {path, NULL};
	cf_lint_options o = {.pg_major = 16};
	cf_lint_result *r;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ctx, strlen(ctx)), (ssize_t)strlen(ctx));
	close(fd);
	r = lint(sql, &o);
	assert_int_equal(r->n_findings, 0);
	cf_lint_result_free(r);
	o.context = context;
	r = lint(sql, &o);
	unlink(path);
	/* the context's own index-without-concurrently is not reported */
	assert_int_equal(r->n_findings, 1);
	assert_string_equal(r->findings[0].rule, "replace-with-dependents");
	assert_int_equal(r->files, 1);
	assert_int_equal(r->statements, 1);
	cf_lint_result_free(r);
}

static void
test_rule_table(void **state)
{
	size_t n = 0;
	const cf_lint_rule *t = cf_lint_rules(&n);

	(void)state;
	assert_true(n >= 12);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(strstr(t[i].docs, t[i].id));
		assert_true(t[i].severity == CF_LINT_ERROR ||
			    t[i].severity == CF_LINT_WARNING);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_position_and_fields),
		cmocka_unit_test(test_select_ignore),
		cmocka_unit_test(test_not_linted),
		cmocka_unit_test(test_replace_facts),
		cmocka_unit_test(test_context),
		cmocka_unit_test(test_rule_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
