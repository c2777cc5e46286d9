/*
 * test_script.c — unit tests for script.c: statement splitting, positions,
 * classification (transaction control, non-transactional statements),
 * wrapper stripping, syntax errors, psql meta-commands, the no-transaction
 * marker and encoding checks.  Table-driven: one row per case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "base/base.h"
#include "history/model.h"

#define MAX_STMTS 4

/* Parses sql (NUL-terminated) and returns the return code. */
static int
parse(const char *sql, cf_script **out, cf_error_list *problems)
{
	return cf_script_parse("m.up.sql", sql, strlen(sql), out, problems);
}

/* The first problem with the given code, or NULL. */
static const cf_error *
find_problem(const cf_error_list *problems, const char *code)
{
	for (size_t i = 0; i < problems->n; i++)
		if (problems->items[i]->code &&
		    strcmp(problems->items[i]->code, code) == 0)
			return problems->items[i];
	return NULL;
}

/* ------------------------------------------------------------------------
 * Splitting
 * ------------------------------------------------------------------------ */

struct exp_stmt {
	size_t offset;
	const char *text;
	int line;
	int column;
	const char *node;
};

static const struct split_case {
	const char *name;
	const char *sql;
	size_t n;
	struct exp_stmt stmts[MAX_STMTS];
} split_cases[] = {
	{"one statement",
	 "SELECT 1;",
	 1,
	 {{0, "SELECT 1;", 1, 1, "SelectStmt"}}},
	{"leading comments",
	 "-- header\n/* block */\nCREATE TABLE t (a int);\n"
	 "\nDROP TABLE t;\n",
	 2,
	 {{22, "CREATE TABLE t (a int);", 3, 1, "CreateStmt"},
	  {47, "DROP TABLE t;", 5, 1, "DropStmt"}}},
	{"nested block comment",
	 "/* outer /* inner */ still */ SELECT 1;",
	 1,
	 {{30, "SELECT 1;", 1, 31, "SelectStmt"}}},
	{"multibyte before statement",
	 "SELECT 'é'; SELECT 'ü'",
	 2,
	 {{0, "SELECT 'é';", 1, 1, "SelectStmt"},
	  {13, "SELECT 'ü'", 1, 13, "SelectStmt"}}},
	{"multibyte comment",
	 "-- ünï\n  INSERT INTO t VALUES ('日本');",
	 1,
	 {{11, "INSERT INTO t VALUES ('日本');", 2, 3, "InsertStmt"}}},
	{"dollar-quoted body with ';'",
	 "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n"
	 "  RETURN 1;\nEND\n$$;\nSELECT f();",
	 2,
	 {{0,
	   "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n"
	   "  RETURN 1;\nEND\n$$;",
	   1, 1, "CreateFunctionStmt"},
	  {81, "SELECT f();", 6, 1, "SelectStmt"}}},
	{"tagged dollar quote",
	 "DO $body$ BEGIN PERFORM 1; END $body$;\n"
	 "SELECT 2",
	 2,
	 {{0, "DO $body$ BEGIN PERFORM 1; END $body$;", 1, 1, "DoStmt"},
	  {39, "SELECT 2", 2, 1, "SelectStmt"}}},
	{"no ';' and trailing comment",
	 "SELECT 1\n-- trailing\n/* x */\n",
	 1,
	 {{0, "SELECT 1", 1, 1, "SelectStmt"}}},
	{"comment before ';'",
	 "SELECT 1 /* c */ ;",
	 1,
	 {{0, "SELECT 1 /* c */ ;", 1, 1, "SelectStmt"}}},
	{"empty statements",
	 ";;\nSELECT 1;;\n;",
	 1,
	 {{3, "SELECT 1;", 2, 1, "SelectStmt"}}},
	{"string with ';'",
	 "SELECT 'a;b'",
	 1,
	 {{0, "SELECT 'a;b'", 1, 1, "SelectStmt"}}},
	{"escape string",
	 "SELECT E'it\\'s; ok' ;\nSELECT 3;",
	 2,
	 {{0, "SELECT E'it\\'s; ok' ;", 1, 1, "SelectStmt"},
	  {22, "SELECT 3;", 2, 1, "SelectStmt"}}},
	{"quoted identifier",
	 "CREATE TABLE \"we;ird\" (a int);",
	 1,
	 {{0, "CREATE TABLE \"we;ird\" (a int);", 1, 1, "CreateStmt"}}},
	{"CRLF",
	 "SELECT 1;\r\nSELECT 2;\r\n",
	 2,
	 {{0, "SELECT 1;", 1, 1, "SelectStmt"},
	  {11, "SELECT 2;", 2, 1, "SelectStmt"}}},
	{"byte-order mark",
	 "\xEF\xBB\xBFSELECT 1;",
	 1,
	 {{3, "SELECT 1;", 1, 1, "SelectStmt"}}},
	{"byte-order mark, two statements",
	 "\xEF\xBB\xBFSELECT 1; SELECT 2;\nSELECT 3;",
	 3,
	 {{3, "SELECT 1;", 1, 1, "SelectStmt"},
	  {13, "SELECT 2;", 1, 11, "SelectStmt"},
	  {23, "SELECT 3;", 2, 1, "SelectStmt"}}},
	{"only comments", "-- nothing\n/* here */\n", 0, {{0}}},
	{"empty file", "", 0, {{0}}},
};

static void
test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]);
	     i++) {
		const struct split_case *c = &split_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;

		print_message("# split: %s\n", c->name);
		assert_int_equal(parse(c->sql, &s, &problems), 0);
		assert_non_null(s);
		assert_int_equal(problems.n, 0);
		assert_int_equal(s->n_stmts, c->n);
		assert_true(s->transactional);
		cf_script_build_models(s);
		for (size_t j = 0; j < c->n; j++)
			assert_non_null(s->stmts[j].model);
		for (size_t j = 0; j < c->n; j++) {
			const cf_statement *st = &s->stmts[j];
			const struct exp_stmt *e = &c->stmts[j];

			assert_int_equal(st->offset, e->offset);
			assert_int_equal(st->length, strlen(e->text));
			assert_memory_equal(s->text + st->offset, e->text,
					    st->length);
			assert_int_equal(st->line, e->line);
			assert_int_equal(st->column, e->column);
			assert_string_equal(cf_script_node(s, j), e->node);
			assert_false(st->transaction_control);
			assert_null(st->non_transactional);
		}
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/* ------------------------------------------------------------------------
 * Classification: non-transactional statements
 * ------------------------------------------------------------------------ */

static const struct nontx_case {
	const char *sql;
	const char *node;
	const char *kind; /* expected non_transactional, or NULL */
} nontx_cases[] = {
	{"CREATE INDEX CONCURRENTLY i ON t (a);", "IndexStmt",
	 "CREATE INDEX CONCURRENTLY"},
	{"CREATE INDEX i ON t (a);", "IndexStmt", NULL},
	{"DROP INDEX CONCURRENTLY i;", "DropStmt", "DROP INDEX CONCURRENTLY"},
	{"DROP INDEX i;", "DropStmt", NULL},
	{"REINDEX INDEX CONCURRENTLY i;", "ReindexStmt",
	 "REINDEX CONCURRENTLY"},
	{"REINDEX (CONCURRENTLY) TABLE t;", "ReindexStmt",
	 "REINDEX CONCURRENTLY"},
	{"REINDEX (VERBOSE, CONCURRENTLY true) TABLE t;", "ReindexStmt",
	 "REINDEX CONCURRENTLY"},
	{"REINDEX (CONCURRENTLY false) TABLE t;", "ReindexStmt", NULL},
	{"REINDEX (CONCURRENTLY off) TABLE t;", "ReindexStmt", NULL},
	{"REINDEX (CONCURRENTLY 0) TABLE t;", "ReindexStmt", NULL},
	{"REINDEX TABLE t;", "ReindexStmt", NULL},
	{"REINDEX SCHEMA s;", "ReindexStmt", "REINDEX SCHEMA"},
	{"REINDEX DATABASE d;", "ReindexStmt", "REINDEX DATABASE"},
	{"REINDEX SYSTEM d;", "ReindexStmt", "REINDEX SYSTEM"},
	{"VACUUM t;", "VacuumStmt", "VACUUM"},
	{"VACUUM (ANALYZE) t;", "VacuumStmt", "VACUUM"},
	{"VACUUM;", "VacuumStmt", "VACUUM"},
	{"ANALYZE t;", "VacuumStmt", NULL},
	{"CLUSTER;", "ClusterStmt", "CLUSTER"},
	{"CLUSTER t USING i;", "ClusterStmt", NULL},
	{"CREATE DATABASE x;", "CreatedbStmt", "CREATE DATABASE"},
	{"DROP DATABASE x;", "DropdbStmt", "DROP DATABASE"},
	{"DROP DATABASE IF EXISTS x WITH (FORCE);", "DropdbStmt",
	 "DROP DATABASE"},
	{"ALTER DATABASE d SET TABLESPACE x;", "AlterDatabaseStmt",
	 "ALTER DATABASE SET TABLESPACE"},
	{"ALTER DATABASE d CONNECTION LIMIT 3;", "AlterDatabaseStmt", NULL},
	{"ALTER DATABASE d SET work_mem = '1MB';", "AlterDatabaseSetStmt",
	 NULL},
	{"ALTER SYSTEM SET work_mem = '1MB';", "AlterSystemStmt",
	 "ALTER SYSTEM"},
	{"ALTER SYSTEM RESET ALL;", "AlterSystemStmt", "ALTER SYSTEM"},
	{"CREATE TABLESPACE x LOCATION '/srv/x';", "CreateTableSpaceStmt",
	 "CREATE TABLESPACE"},
	{"DROP TABLESPACE x;", "DropTableSpaceStmt", "DROP TABLESPACE"},
	{"DISCARD ALL;", "DiscardStmt", "DISCARD ALL"},
	{"DISCARD PLANS;", "DiscardStmt", NULL},
	{"ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", "AlterTableStmt",
	 "ALTER TABLE DETACH PARTITION CONCURRENTLY"},
	{"ALTER TABLE p DETACH PARTITION c;", "AlterTableStmt", NULL},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p;",
	 "CreateSubscriptionStmt", "CREATE SUBSCRIPTION"},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (create_slot);",
	 "CreateSubscriptionStmt", "CREATE SUBSCRIPTION"},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (create_slot = true);",
	 "CreateSubscriptionStmt", "CREATE SUBSCRIPTION"},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (create_slot = false);",
	 "CreateSubscriptionStmt", NULL},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (create_slot = off);",
	 "CreateSubscriptionStmt", NULL},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (create_slot = 0);",
	 "CreateSubscriptionStmt", NULL},
	{"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p "
	 "WITH (connect = 'FALSE');",
	 "CreateSubscriptionStmt", NULL},
	{"DROP SUBSCRIPTION s;", "DropSubscriptionStmt", "DROP SUBSCRIPTION"},
	{"ALTER TYPE e ADD VALUE 'x';", "AlterEnumStmt", NULL},
	{"REFRESH MATERIALIZED VIEW CONCURRENTLY mv;", "RefreshMatViewStmt",
	 NULL},
};

static void
test_non_transactional(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(nontx_cases) / sizeof(nontx_cases[0]);
	     i++) {
		const struct nontx_case *c = &nontx_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;

		print_message("# non-transactional: case %zu\n", i);
		assert_int_equal(parse(c->sql, &s, &problems), 0);
		assert_int_equal(s->n_stmts, 1);
		assert_string_equal(cf_script_node(s, 0), c->node);
		assert_false(s->stmts[0].transaction_control);
		assert_false(s->no_transaction_marker);
		if (c->kind) {
			const cf_error *w = find_problem(&problems,
							 "non-transactional");
			char *msg = cf_asprintf("statement '%s' cannot run "
						"inside a transaction; this "
						"migration will run in "
						"autocommit",
						c->kind);

			assert_non_null(s->stmts[0].non_transactional);
			assert_string_equal(s->stmts[0].non_transactional,
					    c->kind);
			assert_false(s->transactional);
			assert_int_equal(problems.n, 1);
			assert_non_null(w);
			assert_int_equal(w->severity, CF_SEV_WARNING);
			assert_string_equal(w->message, msg);
			assert_string_equal(w->file, "m.up.sql");
			assert_int_equal(w->line, 1);
			assert_int_equal(w->column, 1);
			assert_string_equal(w->statement, c->sql);
			assert_int_equal(w->statement_index, 1);
			free(msg);
		} else {
			assert_null(s->stmts[0].non_transactional);
			assert_true(s->transactional);
			assert_int_equal(problems.n, 0);
		}
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/* A non-transactional statement among others gets a hint; its position. */
static void
test_non_transactional_position(void **state)
{
	cf_error_list problems = CF_ERROR_LIST_INIT;
	cf_script *s = NULL;
	const cf_error *w;

	(void)state;
	assert_int_equal(parse("CREATE TABLE t (a int);\n"
			       "-- é\n  CREATE INDEX CONCURRENTLY i ON t (a);",
			       &s, &problems),
			 0);
	assert_int_equal(problems.n, 1);
	w = problems.items[0];
	assert_string_equal(w->code, "non-transactional");
	assert_int_equal(w->line, 3);
	assert_int_equal(w->column, 3);
	assert_int_equal(w->statement_index, 2);
	assert_non_null(w->hint);
	assert_false(s->transactional);
	assert_null(s->stmts[0].non_transactional);
	cf_script_free(s);
	cf_error_list_release(&problems);
}

/* ------------------------------------------------------------------------
 * Classification: transaction control
 * ------------------------------------------------------------------------ */

static const struct txc_case {
	const char *sql;
	const char *name;
} txc_cases[] = {
	{"BEGIN;", "BEGIN"},
	{"BEGIN WORK;", "BEGIN"},
	{"begin;", "BEGIN"},
	{"START TRANSACTION;", "START TRANSACTION"},
	{"START TRANSACTION ISOLATION LEVEL SERIALIZABLE;",
	 "START TRANSACTION"},
	{"COMMIT;", "COMMIT"},
	{"commit work;", "COMMIT"},
	{"END;", "END"},
	{"ROLLBACK;", "ROLLBACK"},
	{"ABORT;", "ABORT"},
	{"SAVEPOINT a;", "SAVEPOINT"},
	{"RELEASE a;", "RELEASE SAVEPOINT"},
	{"RELEASE SAVEPOINT a;", "RELEASE SAVEPOINT"},
	{"ROLLBACK TO a;", "ROLLBACK TO SAVEPOINT"},
	{"ROLLBACK TO SAVEPOINT a;", "ROLLBACK TO SAVEPOINT"},
	{"PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"},
	{"COMMIT PREPARED 'x';", "COMMIT PREPARED"},
	{"ROLLBACK PREPARED 'x';", "ROLLBACK PREPARED"},
	{"COMMIT AND CHAIN;", "COMMIT AND CHAIN"},
	{"ROLLBACK AND CHAIN;", "ROLLBACK AND CHAIN"},
};

static void
test_transaction_control(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(txc_cases) / sizeof(txc_cases[0]); i++) {
		const struct txc_case *c = &txc_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;
		const cf_error *e;
		char *msg = cf_asprintf("transaction control statement '%s' "
					"is not allowed in a migration",
					c->name);
		char *sql = cf_asprintf("SELECT 1;\n  %s", c->sql);

		print_message("# transaction control: case %zu\n", i);
		assert_int_equal(parse(sql, &s, &problems), -1);
		assert_non_null(s);
		assert_int_equal(s->n_stmts, 2);
		assert_false(s->wrapper_stripped);
		assert_string_equal(cf_script_node(s, 1), "TransactionStmt");
		assert_true(s->stmts[1].transaction_control);
		assert_false(s->stmts[0].transaction_control);
		assert_int_equal(problems.n, 1);
		e = find_problem(&problems, "transaction-control");
		assert_non_null(e);
		assert_int_equal(e->severity, CF_SEV_ERROR);
		assert_int_equal(e->kind, CF_ERR_FILE);
		assert_string_equal(e->message, msg);
		assert_int_equal(e->line, 2);
		assert_int_equal(e->column, 3);
		assert_int_equal(e->statement_index, 2);
		assert_string_equal(e->statement, c->sql);
		assert_non_null(strstr(e->hint, "confiture:no-transaction"));
		free(msg);
		free(sql);
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/* ------------------------------------------------------------------------
 * BEGIN ... COMMIT wrapper
 * ------------------------------------------------------------------------ */

static const struct wrap_case {
	const char *sql;
	int rc;
	bool stripped;
	size_t n_stmts;
	size_t errors;
	size_t warnings;
	bool transactional;
} wrap_cases[] = {
	{"BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n", 0, true, 1, 0, 1, true},
	{"START TRANSACTION;\nCREATE TABLE t (a int);\nEND;", 0, true, 1, 0, 1,
	 true},
	{"begin isolation level serializable; create table t (a int); "
	 "commit work;",
	 0, true, 1, 0, 1, true},
	{"-- c\nBEGIN;\nCOMMIT;", 0, true, 0, 0, 1, true},
	{"-- c\nBEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;", 0,
	 true, 1, 0, 2, false},
	{"BEGIN;\nCREATE TABLE t (a int);\n", -1, false, 2, 1, 0, true},
	{"CREATE TABLE t (a int);\nCOMMIT;\n", -1, false, 2, 1, 0, true},
	{"BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\nCREATE TABLE u (a int);\n",
	 -1, false, 4, 2, 0, true},
	{"BEGIN;\nSAVEPOINT a;\nCOMMIT;", -1, false, 3, 3, 0, true},
	{"BEGIN;\nCREATE TABLE t (a int);\nCOMMIT AND CHAIN;", -1, false, 3, 2,
	 0, true},
	{"BEGIN;\nCREATE TABLE t (a int);\nROLLBACK;", -1, false, 3, 2, 0,
	 true},
	{"BEGIN;\nCREATE TABLE t (a int);\nCOMMIT PREPARED 'x';", -1, false, 3,
	 2, 0, true},
	{"BEGIN;\nBEGIN;\nCOMMIT;", -1, false, 3, 3, 0, true},
	{"BEGIN;", -1, false, 1, 1, 0, true},
};

static void
test_wrapper(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wrap_cases) / sizeof(wrap_cases[0]);
	     i++) {
		const struct wrap_case *c = &wrap_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;

		print_message("# wrapper: case %zu\n", i);
		assert_int_equal(parse(c->sql, &s, &problems), c->rc);
		assert_int_equal(s->wrapper_stripped, c->stripped);
		assert_int_equal(s->n_stmts, c->n_stmts);
		assert_int_equal(cf_error_list_count(&problems, CF_SEV_ERROR),
				 c->errors);
		assert_int_equal(cf_error_list_count(&problems, CF_SEV_WARNING),
				 c->warnings);
		assert_int_equal(s->transactional, c->transactional);
		if (c->stripped) {
			const cf_error *w = problems.items[0];
			int line = strncmp(c->sql, "-- c\n", 5) == 0 ? 2 : 1;

			assert_string_equal(w->code,
					    "transaction-wrapper-stripped");
			assert_string_equal(w->message,
					    "BEGIN ... COMMIT wrapper removed");
			assert_string_equal(w->detail,
					    "confiture runs each migration in "
					    "its own transaction");
			assert_int_equal(w->line, line);
			assert_int_equal(w->column, 1);
			for (size_t j = 0; j < s->n_stmts; j++)
				assert_false(s->stmts[j].transaction_control);
		} else {
			assert_null(find_problem(&problems,
						 "transaction-wrapper-"
						 "stripped"));
		}
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/* ------------------------------------------------------------------------
 * Syntax errors and psql meta-commands
 * ------------------------------------------------------------------------ */

static const struct syntax_case {
	const char *sql;
	const char *code;
	const char *message;
	int line;
	int column;
	const char *statement; /* NULL: not checked */
	int index;
	const char *hint_part; /* NULL: no hint expected */
} syntax_cases[] = {
	{"SELECT 1;\nSELEC 2;", "syntax-error",
	 "syntax error at or near \"SELEC\"", 2, 1, "SELEC 2;", 2, NULL},
	{"SELECT 'é', 'ü' FOO bar;", "syntax-error",
	 "syntax error at or near \"bar\"", 1, 21, "SELECT 'é', 'ü' FOO bar;",
	 1, NULL},
	{"-- ü\nCREATE TABLE t (\n  a int,\n  b intt text\n);\nSELECT 1;",
	 "syntax-error", "syntax error at or near \"text\"", 4, 10,
	 "CREATE TABLE t (\n  a int,\n  b intt text\n);", 1, NULL},
	{"SELECT 1; /* ; */ SELECT 2;\nCREATE TABLE t (a int", "syntax-error",
	 "syntax error at end of input", 2, 22, "CREATE TABLE t (a int", 3,
	 "ends in the middle"},
	{"SELECT 'abc", "syntax-error",
	 "unterminated quoted string at or near "
	 "\"'abc\"",
	 1, 8, "SELECT 'abc", 1, "never closed"},
	{"SELECT 1;\nSELECT :'var';", "syntax-error",
	 "syntax error at or near \":\"", 2, 8, "SELECT :'var';", 2,
	 "psql variables"},
	{"CREATE TABLE t (a int);\n\\i other.sql\n", "psql-meta-command",
	 "psql meta-command '\\i' is not supported", 2, 1, NULL, 0,
	 "inline the file or use a separate migration"},
	{"\\ir sub/other.sql\n", "psql-meta-command",
	 "psql meta-command '\\ir' is not supported", 1, 1, NULL, 0,
	 "inline the file"},
	{"\\set ON_ERROR_STOP on\nSELECT 1;", "psql-meta-command",
	 "psql meta-command '\\set' is not supported", 1, 1, NULL, 0,
	 "psql variables"},
	{"SELECT 'é';\n  \\c otherdb\n", "psql-meta-command",
	 "psql meta-command '\\c' is not supported", 2, 3, NULL, 0,
	 "another database"},
	{"SELECT 1;\n\\connect otherdb", "psql-meta-command",
	 "psql meta-command '\\connect' is not supported", 2, 1, NULL, 0,
	 "another database"},
	{"SELECT 'x'\n\\gexec\n", "psql-meta-command",
	 "psql meta-command '\\gexec' is not supported", 2, 1, NULL, 0,
	 "remove the meta-command"},
};

static void
test_syntax_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]);
	     i++) {
		const struct syntax_case *c = &syntax_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;
		const cf_error *e;

		print_message("# syntax: case %zu\n", i);
		assert_int_equal(parse(c->sql, &s, &problems), -1);
		assert_non_null(s);
		/* the rejected statement is kept, for the server to judge */
		cf_script_build_models(s);
		for (size_t j = 0; j < s->n_stmts; j++)
			assert_non_null(s->stmts[j].model);
		assert_int_equal(problems.n, 1);
		e = problems.items[0];
		assert_int_equal(e->kind, CF_ERR_FILE);
		assert_int_equal(e->severity, CF_SEV_ERROR);
		assert_string_equal(e->code, c->code);
		assert_string_equal(e->message, c->message);
		assert_string_equal(e->file, "m.up.sql");
		assert_int_equal(e->line, c->line);
		assert_int_equal(e->column, c->column);
		if (c->statement) {
			assert_non_null(e->statement);
			assert_string_equal(e->statement, c->statement);
			assert_int_equal(e->statement_index, c->index);
		}
		if (c->hint_part) {
			assert_non_null(e->hint);
			assert_non_null(strstr(e->hint, c->hint_part));
		} else {
			assert_null(e->hint);
		}
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/*
 * A run of more than CF_SQL_MAX_OP_RUN operator characters is never given
 * to libpg_query, whose scanner reads it in quadratic time: its statement
 * is kept for the server with a warning (never an error, even for the
 * parser's own major), the others are parsed as usual, and a long run in
 * a comment before a statement costs nothing.
 */
static void
test_unscannable(void **state)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	cf_error_list problems = CF_ERROR_LIST_INIT;
	cf_script *s = NULL;
	const cf_error *e;
	size_t at = 0;
	char run[1002];

	(void)state;
	memset(run, '+', sizeof(run) - 1);
	run[sizeof(run) - 1] = '\0';
	assert_true(cf_sql_scannable(run, CF_SQL_MAX_OP_RUN, NULL));
	assert_false(cf_sql_scannable(run, CF_SQL_MAX_OP_RUN + 1, &at));
	assert_int_equal(at, 0);
	/* broken by a space: two runs of 500 */
	run[500] = ' ';
	assert_true(cf_sql_scannable(run, sizeof(run) - 1, NULL));

	cf_strbuf_addstr(&sb, "CREATE TABLE t (a int);\nSELECT 1 ");
	for (int i = 0; i < 50000; i++)
		cf_strbuf_addstr(&sb, "+-");
	cf_strbuf_addstr(&sb, " 1;\n/*");
	for (int i = 0; i < 50000; i++)
		cf_strbuf_addstr(&sb, "/*");
	for (int i = 0; i < 50001; i++)
		cf_strbuf_addstr(&sb, "*/");
	cf_strbuf_addstr(&sb, "\nDROP TABLE t;\n");
	assert_int_equal(cf_script_parse_target("m.up.sql", sb.buf, sb.len, 15,
						&s, &problems),
			 0);
	assert_int_equal(s->n_stmts, 3);
	assert_false(s->stmts[0].syntax_error);
	assert_true(s->stmts[1].syntax_error);
	assert_false(s->stmts[2].syntax_error);
	cf_script_build_models(s);
	assert_string_equal(s->stmts[0].model->kind, "CreateStmt");
	assert_string_equal(s->stmts[1].model->kind, "");
	assert_string_equal(s->stmts[2].model->kind, "DropStmt");
	assert_int_equal(problems.n, 1);
	e = find_problem(&problems, "parse-skipped");
	assert_non_null(e);
	assert_int_equal(e->severity, CF_SEV_WARNING);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->column, 10);
	assert_int_equal(e->statement_index, 2);
	cf_script_free(s);
	cf_error_list_release(&problems);

	/* a chain of 30,000 operators: its tree would be 30,000 deep, which
	 * libpg_query's writers recurse through; in a literal, nothing */
	cf_strbuf_reset(&sb);
	cf_strbuf_addstr(&sb, "CREATE VIEW v AS SELECT 1");
	for (int i = 0; i < 30000; i++)
		cf_strbuf_addstr(&sb, " - 1");
	cf_strbuf_addstr(&sb, " AS x;");
	assert_true(cf_sql_scannable(sb.buf, sb.len, NULL));
	assert_false(cf_sql_parsable(sb.buf, sb.len, NULL));
	assert_int_equal(cf_script_parse_target("m.up.sql", sb.buf, sb.len, 15,
						&s, &problems),
			 0);
	assert_int_equal(s->n_stmts, 1);
	{
		char *text = NULL, *msg = NULL;
		cf_stmt_tree *t = cf_script_stmt_tree(s, NULL, 0, &text, &msg);

		assert_null(t);
		assert_non_null(msg);
		assert_non_null(strstr(msg, "more than 20000 operators"));
		free(text);
		free(msg);
	}
	cf_script_free(s);
	cf_error_list_release(&problems);
	cf_strbuf_reset(&sb);
	cf_strbuf_addstr(&sb, "SELECT '");
	for (int i = 0; i < 30000; i++)
		cf_strbuf_addstr(&sb, " - 1");
	cf_strbuf_addstr(&sb, "';");
	assert_true(cf_sql_parsable(sb.buf, sb.len, NULL));
	cf_strbuf_release(&sb);
}

/* ------------------------------------------------------------------------
 * The no-transaction marker
 * ------------------------------------------------------------------------ */

static const struct marker_case {
	const char *sql;
	bool marker;
	bool transactional;
} marker_cases[] = {
	{"-- confiture:no-transaction\nSELECT 1;", true, false},
	{"--confiture:no-transaction", true, false},
	{"  --   confiture:no-transaction \t\r\nSELECT 1;", true, false},
	{"SELECT 1;\n-- confiture:no-transaction\n", true, false},
	{"SELECT 1; -- confiture:no-transaction\n", false, true},
	{"-- confiture:no-transaction please\nSELECT 1;", false, true},
	{"-- Confiture:No-Transaction\nSELECT 1;", false, true},
	{"-- confiture: no-transaction\nSELECT 1;", false, true},
	{"/* confiture:no-transaction */ SELECT 1;", false, true},
	{"SELECT '\n-- confiture:no-transaction\n';", false, true},
	{"DO $$\n-- confiture:no-transaction\nBEGIN END $$;", false, true},
	{"CREATE INDEX CONCURRENTLY i ON t (a);", false, false},
};

static void
test_marker(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(marker_cases) / sizeof(marker_cases[0]);
	     i++) {
		const struct marker_case *c = &marker_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;

		print_message("# marker: case %zu\n", i);
		assert_int_equal(parse(c->sql, &s, &problems), 0);
		assert_int_equal(s->no_transaction_marker, c->marker);
		assert_int_equal(s->transactional, c->transactional);
		assert_int_equal(cf_error_list_count(&problems, CF_SEV_ERROR),
				 0);
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

static const struct enc_case {
	const char *bytes;
	size_t len;
	const char *code;
	int line;
	int column;
	bool utf16;
} enc_cases[] = {
	{"SELECT 1;\nSELECT '\xff';", 20, "invalid-utf8", 2, 9, false},
	{"\xc3\xa9\xc3", 3, "invalid-utf8", 1, 2, false},
	{"SELECT 1;\0 x", 12, "nul-byte", 1, 10, false},
	{"\xc3\xa9\0\xff", 4, "nul-byte", 1, 2, false},
	{"\xff\xfeS\0", 4, "invalid-utf8", 1, 1, true},
};

static void
test_encoding(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = (cf_script *)&problems; /* must be reset */
		const cf_error *e;

		print_message("# encoding: case %zu\n", i);
		assert_int_equal(cf_script_parse("bad.sql", c->bytes, c->len,
						 &s, &problems),
				 -1);
		assert_null(s);
		assert_int_equal(problems.n, 1);
		e = problems.items[0];
		assert_int_equal(e->kind, CF_ERR_FILE);
		assert_string_equal(e->code, c->code);
		assert_string_equal(e->file, "bad.sql");
		assert_int_equal(e->line, c->line);
		assert_int_equal(e->column, c->column);
		assert_non_null(e->hint);
		assert_int_equal(strstr(e->detail, "UTF-16") != NULL, c->utf16);
		cf_error_list_release(&problems);
	}
}

/* ------------------------------------------------------------------------
 * Server error positions
 * ------------------------------------------------------------------------ */

static const struct pos_case {
	const char *sql;
	size_t stmt;
	int char_pos;
	int line;
	int column;
} pos_cases[] = {
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, 15, 3, 3},
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, 1, 2, 1},
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, 9, 2, 9},
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, 10, 2, 10},
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, 0, 2, 1},
	{"-- ü\nSELECT 'é',\n  bogus_fn(1);", 0, -3, 2, 1},
	{"SELECT 'ü'; SELECT 'ö', x;", 1, 13, 1, 25},
	{"SELECT 'ü'; SELECT 'ö', x;", 1, 1, 1, 13},
	{"SELECT 'ü'; SELECT 'ö', x;", 1, 0, 1, 13},
	{"\xEF\xBB\xBFSELECT 'ö', x;", 0, 13, 1, 13},
};

static void
test_position(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pos_cases) / sizeof(pos_cases[0]); i++) {
		const struct pos_case *c = &pos_cases[i];
		cf_script *s = NULL;
		int line = -1, col = -1;

		print_message("# position: case %zu @%d\n", i, c->char_pos);
		assert_int_equal(parse(c->sql, &s, NULL), 0);
		assert_true(c->stmt < s->n_stmts);
		cf_script_position(s, &s->stmts[c->stmt], c->char_pos, &line,
				   &col);
		assert_int_equal(line, c->line);
		assert_int_equal(col, c->column);
		cf_script_free(s);
	}
}

/* Without a problem list the return code is still right. */
static void
test_null_problems(void **state)
{
	cf_script *s = NULL;

	(void)state;
	assert_int_equal(parse("COMMIT;", &s, NULL), -1);
	cf_script_free(s);
	assert_int_equal(parse("SELEC 1;", &s, NULL), -1);
	cf_script_free(s);
	assert_int_equal(parse("VACUUM;", &s, NULL), 0);
	assert_false(s->transactional);
	cf_script_free(s);
	assert_int_equal(cf_script_parse("x.sql", "\xff", 1, &s, NULL), -1);
	assert_null(s);
}

/* ------------------------------------------------------------------------
 * Loading files
 * ------------------------------------------------------------------------ */

static const struct load_case {
	const char *path;
	int rc;
	bool have_script;
	size_t n_stmts;
	const char *code; /* first problem's code, or NULL for none */
	int line;
} load_cases[] = {
	{"fixtures/script/plain.sql", 0, true, 3, NULL, 0},
	{"fixtures/script/wrapped.sql", 0, true, 2,
	 "transaction-wrapper-stripped", 3},
	{"fixtures/script/include.sql", -1, true, 2, "psql-meta-command", 4},
	{"fixtures/script/concurrent.sql", 0, true, 1, "non-transactional", 4},
	{"fixtures/script/latin1.sql", -1, false, 0, "invalid-utf8", 2},
	{"fixtures/script/missing.sql", -1, false, 0, "read-error", 0},
};

static void
test_load(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]);
	     i++) {
		const struct load_case *c = &load_cases[i];
		cf_error_list problems = CF_ERROR_LIST_INIT;
		cf_script *s = NULL;

		print_message("# load: %s\n", c->path);
		assert_int_equal(cf_script_load(c->path, &s, &problems), c->rc);
		assert_int_equal(s != NULL, c->have_script);
		if (s) {
			assert_string_equal(s->path, c->path);
			assert_int_equal(s->n_stmts, c->n_stmts);
		}
		if (c->code) {
			assert_true(problems.n >= 1);
			assert_string_equal(problems.items[0]->code, c->code);
			assert_int_equal(problems.items[0]->line, c->line);
		} else {
			assert_int_equal(problems.n, 0);
		}
		cf_script_free(s);
		cf_error_list_release(&problems);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_non_transactional),
		cmocka_unit_test(test_non_transactional_position),
		cmocka_unit_test(test_transaction_control),
		cmocka_unit_test(test_wrapper),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_unscannable),
		cmocka_unit_test(test_marker),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_position),
		cmocka_unit_test(test_null_problems),
		cmocka_unit_test(test_load),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	pg_query_exit();
	return rc;
}
