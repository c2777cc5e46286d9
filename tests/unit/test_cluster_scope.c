/*
 * test_cluster_scope.c — unit tests for the scope of a clone-mode
 * preflight's restore (cluster_snapshot.c): which shared objects a replayed
 * statement names, and the transaction ids it keeps.
 *
 * Statements are parsed here with pg_query_parse_protobuf(), as the
 * statement model does, and the first statement's node is handed over as
 * preflight hands it to the guard.  Each row lists names that must be
 * recorded and names that must not be (the grantor of a GRANT, the new
 * owner of a database, ...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "replay/cluster_internal.h"

/* The parse result of sql (the caller frees it with
 * pg_query__parse_result__free_unpacked()). */
static PgQuery__ParseResult *
parse(const char *sql)
{
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
	PgQuery__ParseResult *pr;

	if (r.error)
		fail_msg("cannot parse '%s': %s", sql, r.error->message);
	pr = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
					    (const uint8_t *)r.parse_tree.data);
	pg_query_free_protobuf_parse_result(r);
	assert_non_null(pr);
	assert_true(pr->n_stmts >= 1);
	return pr;
}

/* The first statement node of sql, as preflight hands it over; the
 * caller frees *doc with pg_query__parse_result__free_unpacked(). */
static const void *
first_stmt(const char *sql, PgQuery__ParseResult **doc)
{
	*doc = parse(sql);
	return (*doc)->stmts[0]->stmt;
}

/* Parses sql and adds its first statement to scope, as preflight does
 * (wrapped says: hand over the RawStmt around it instead). */
static void
add_sql(cf_cluster_scope *scope, const char *sql, bool wrapped)
{
	PgQuery__ParseResult *doc = parse(sql);

	cf_cluster_scope_add_statement(
		scope, wrapped ? (const void *)doc->stmts[0] :
				 (const void *)doc->stmts[0]->stmt);
	pg_query__parse_result__free_unpacked(doc, NULL);
}

/*
 * Checks a space-separated list of "k:name" items against the scope:
 * each must be recorded (want true) or must not be (want false).
 */
static void
check_names(const cf_cluster_scope *scope, const char *sql, const char *list,
	    bool want)
{
	char *copy = strdup(list ? list : ""), *save = NULL;

	for (char *tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		bool has;

		assert_true(strlen(tok) > 2 && tok[1] == ':');
		has = cf_cluster_scope_has_name(scope, tok[0], tok + 2);
		if (has != want)
			fail_msg("'%s': %s %s", sql, tok,
				 want ? "not recorded" : "recorded");
	}
	free(copy);
}

static void
test_statement_names(void **state)
{
	static const struct {
		const char *sql;
		const char *present; /* "k:name ..." */
		const char *absent;
		unsigned flags;
	} cases[] = {
		{"CREATE ROLE app LOGIN", "r:app", "r:LOGIN", 0},
		{"CREATE USER u IN ROLE grp ROLE m1 ADMIN m2",
		 "r:u r:grp r:m1 r:m2", NULL, 0},
		{"CREATE GROUP \"MixedCase\"", "r:MixedCase", "r:mixedcase", 0},
		{"ALTER ROLE app WITH NOLOGIN CONNECTION LIMIT 3", "r:app",
		 NULL, 0},
		{"ALTER GROUP grp ADD USER u1, u2", "r:grp r:u1 r:u2", NULL, 0},
		{"ALTER ROLE CURRENT_USER WITH CREATEDB", NULL,
		 "r:current_user", CF_SCOPE_CURRENT_USER},
		{"ALTER ROLE app SET search_path = a, b", "r:app",
		 "s:search_path", 0},
		{"ALTER ROLE app IN DATABASE shop RESET ALL", "r:app d:shop",
		 NULL, 0},
		{"ALTER ROLE ALL IN DATABASE shop SET work_mem = '8MB'",
		 "d:shop", NULL, 0},
		{"ALTER ROLE ALL SET work_mem = '8MB'", NULL, "d:work_mem",
		 CF_SCOPE_ALL_ROLES},
		{"ALTER USER SESSION_USER SET x.y = 1", NULL, NULL,
		 CF_SCOPE_CURRENT_USER},
		{"DROP ROLE IF EXISTS a, b", "r:a r:b", NULL, 0},
		{"GRANT r1, r2 TO m1, PUBLIC WITH ADMIN OPTION GRANTED BY g",
		 "r:r1 r:r2 r:m1", "r:g r:PUBLIC r:public", 0},
		{"REVOKE r1 FROM m1", "r:r1 r:m1", NULL, 0},
		{"ALTER ROLE old RENAME TO new", "r:old r:new", "d:old", 0},
		{"ALTER DATABASE olddb RENAME TO newdb", "d:olddb d:newdb",
		 "r:olddb", 0},
		{"ALTER TABLESPACE oldts RENAME TO newts", "t:oldts t:newts",
		 NULL, 0},
		{"ALTER TABLE t RENAME TO u", NULL, "r:t r:u d:t d:u t:t t:u",
		 0},
		{"CREATE DATABASE shop2 OWNER o TEMPLATE template0 TABLESPACE ts",
		 "d:shop2", "r:o d:template0 t:ts", 0},
		{"ALTER DATABASE shop WITH CONNECTION LIMIT 5", "d:shop", NULL,
		 0},
		{"ALTER DATABASE shop SET TABLESPACE fast", "d:shop", "t:fast",
		 0},
		{"ALTER DATABASE shop SET statement_timeout = 0", "d:shop",
		 "s:statement_timeout", 0},
		{"DROP DATABASE IF EXISTS gone WITH (FORCE)", "d:gone", NULL,
		 0},
		{"ALTER DATABASE shop OWNER TO o", "d:shop", "r:o", 0},
		{"ALTER TABLESPACE ts OWNER TO CURRENT_USER", "t:ts", NULL, 0},
		{"ALTER TABLE t OWNER TO o", NULL, "r:o d:t t:t", 0},
		{"GRANT CONNECT, TEMP ON DATABASE d1, d2 TO r1", "d:d1 d:d2",
		 "r:r1", 0},
		{"REVOKE CREATE ON TABLESPACE ts FROM PUBLIC", "t:ts", NULL, 0},
		{"GRANT SELECT ON TABLE shop TO r1", NULL, "d:shop r:r1", 0},
		{"CREATE TABLESPACE ts OWNER o LOCATION '/srv/ts'", "t:ts",
		 "r:o", 0},
		{"ALTER TABLESPACE ts SET (random_page_cost = 1.1)", "t:ts",
		 NULL, 0},
		{"DROP TABLESPACE IF EXISTS ts", "t:ts", NULL, 0},
		{"ALTER SYSTEM SET Work_Mem = '64MB'", "s:work_mem s:WORK_MEM",
		 "r:work_mem", 0},
		{"ALTER SYSTEM RESET max_connections", "s:max_connections",
		 NULL, 0},
		{"ALTER SYSTEM RESET ALL", NULL, NULL, CF_SCOPE_SYSTEM_ALL},
		{"COMMENT ON ROLE app IS 'the app'", "r:app", NULL, 0},
		{"COMMENT ON DATABASE shop IS NULL", "d:shop", NULL, 0},
		{"COMMENT ON TABLESPACE ts IS 'fast'", "t:ts", NULL, 0},
		{"COMMENT ON TABLE shop IS 'x'", NULL, "d:shop r:shop", 0},
		{"REASSIGN OWNED BY a, b TO c", "r:a r:b", "r:c", 0},
		{"DROP OWNED BY a CASCADE", "r:a", NULL, 0},
		{"DO $$ BEGIN CREATE ROLE hidden; END $$", NULL, "r:hidden",
		 CF_SCOPE_OPAQUE},
		{"CALL make_roles()", NULL, NULL, CF_SCOPE_OPAQUE},
		{"CREATE TABLE app (id int)", NULL, "r:app d:app", 0},
		{"SELECT 1", NULL, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_cluster_scope *scope = cf_cluster_scope_new();

		add_sql(scope, cases[i].sql, false);
		check_names(scope, cases[i].sql, cases[i].present, true);
		check_names(scope, cases[i].sql, cases[i].absent, false);
		if (cf_cluster_scope_flags(scope) != cases[i].flags)
			fail_msg("'%s': flags %#x, want %#x", cases[i].sql,
				 cf_cluster_scope_flags(scope), cases[i].flags);
		cf_cluster_scope_free(scope);
	}
}

/* Names accumulate over statements; the RawStmt wrapper is accepted;
 * what is not a statement node changes nothing. */
static void
test_accumulate(void **state)
{
	cf_cluster_scope *scope = cf_cluster_scope_new();
	PgQuery__Node unset = PG_QUERY__NODE__INIT;
	PgQuery__String str = PG_QUERY__STRING__INIT;
	PgQuery__RawStmt empty = PG_QUERY__RAW_STMT__INIT;

	(void)state;
	add_sql(scope, "CREATE ROLE a", true);
	add_sql(scope, "CREATE DATABASE d", false);
	add_sql(scope, "CREATE ROLE a", false);
	add_sql(scope, "DO 'BEGIN NULL; END'", true);
	cf_cluster_scope_add_statement(scope, &unset);
	cf_cluster_scope_add_statement(scope, &str);
	cf_cluster_scope_add_statement(scope, &empty);
	cf_cluster_scope_add_statement(scope, NULL);
	cf_cluster_scope_add_statement(NULL, &unset);
	assert_false(cf_cluster_statement_names(NULL, 'r', "a"));
	assert_false(cf_cluster_statement_names(&unset, 'r', "a"));
	{
		PgQuery__ParseResult *doc;
		const void *stmt = first_stmt(
			"COMMENT ON DATABASE shop IS 'lo_export'", &doc);

		assert_true(cf_cluster_statement_names(stmt, 'd', "shop"));
		assert_false(cf_cluster_statement_names(stmt, 'r', "shop"));
		assert_false(
			cf_cluster_statement_names(stmt, 'd', "lo_export"));
		assert_false(cf_cluster_statement_names(stmt, 'd', NULL));
		pg_query__parse_result__free_unpacked(doc, NULL);
	}
	assert_true(cf_cluster_scope_has_name(scope, 'r', "a"));
	assert_true(cf_cluster_scope_has_name(scope, 'd', "d"));
	assert_false(cf_cluster_scope_has_name(scope, 'd', "a"));
	assert_false(cf_cluster_scope_has_name(scope, 'r', NULL));
	assert_int_equal(cf_cluster_scope_flags(scope), CF_SCOPE_OPAQUE);
	assert_int_equal(cf_cluster_scope_flags(NULL), 0);
	assert_false(cf_cluster_scope_has_name(NULL, 'r', "a"));
	cf_cluster_scope_free(scope);
	cf_cluster_scope_free(NULL);
}

/* Transaction ids: xid8 or xid text, kept as the low 32 bits. */
static void
test_xids(void **state)
{
	static const struct {
		const char *text;
		uint32_t xid; /* 0: ignored */
	} cases[] = {
		{"735", 735},	   {"4294967295", 4294967295u},
		{"8589934597", 5}, /* epoch 2, xid 5 */
		{"4294967298", 0}, /* epoch 1, xid 2: frozen */
		{"2", 0},	   {"0", 0},
		{"", 0},	   {"12x", 0},
		{"abc", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_cluster_scope *scope = cf_cluster_scope_new();

		cf_cluster_scope_add_xid(scope, cases[i].text);
		if (cases[i].xid)
			assert_true(
				cf_cluster_scope_has_xid(scope, cases[i].xid));
		else
			for (uint32_t x = 0; x < 8; x++)
				assert_false(
					cf_cluster_scope_has_xid(scope, x));
		assert_false(cf_cluster_scope_has_xid(scope, 736));
		cf_cluster_scope_free(scope);
	}
}

/* Statements that write server files are refused in clone mode, wherever
 * the call is; reading a file is fine. */
static void
test_guard_files(void **state)
{
	static const struct {
		const char *sql;
		const char *refusal; /* NULL: allowed */
	} cases[] = {
		{"COPY t TO '/tmp/x'",
		 "preflight refuses COPY ... TO '/tmp/x' on the against server"},
		{"COPY (SELECT 1) TO PROGRAM 'id'",
		 "preflight refuses COPY ... PROGRAM 'id' on the against server"},
		{"COPY t FROM PROGRAM 'id'",
		 "preflight refuses COPY ... PROGRAM 'id' on the against server"},
		{"SELECT lo_export(1, '/tmp/x')",
		 "preflight refuses lo_export() on the against server"},
		{"INSERT INTO t SELECT pg_catalog.pg_file_write('f', 'x', false)",
		 "preflight refuses pg_file_write() on the against server"},
		{"SELECT 1 FROM t WHERE pg_file_unlink('f')",
		 "preflight refuses pg_file_unlink() on the against server"},
		{"COPY t FROM '/tmp/x'", NULL},
		{"COPY t TO STDOUT", NULL},
		{"SELECT lo_import('/tmp/x')", NULL},
		{"SELECT 'lo_export'", NULL},
	};
	cf_cluster_snapshot *snap = calloc(1, sizeof(*snap));

	(void)state;
	snap->passwords_known = snap->system_known = true;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PgQuery__ParseResult *doc;
		const void *stmt = first_stmt(cases[i].sql, &doc);
		cf_error *err = NULL;
		int rc = cf_cluster_guard_statement(snap, stmt, NULL, &err);

		if (!cases[i].refusal && rc != 0)
			fail_msg("'%s' refused: %s", cases[i].sql,
				 err->message);
		if (cases[i].refusal &&
		    (rc == 0 || strcmp(err->message, cases[i].refusal) != 0 ||
		     strcmp(err->code, "preflight-refused") != 0))
			fail_msg("'%s': got '%s'", cases[i].sql,
				 rc ? err->message : "allowed");
		cf_error_free(err);
		pg_query__parse_result__free_unpacked(doc, NULL);
	}
	free(snap);
}

/* What a statement may do outside the clone that preflight cannot see. */
static void
test_statement_warning(void **state)
{
	static const struct {
		const char *sql;
		const char *code; /* NULL: no warning */
		const char *message;
	} cases[] = {
		{"SELECT dblink_exec('dbname=prod', 'DROP TABLE t')",
		 "reaches-other-databases",
		 "a replayed statement calls dblink_exec()"},
		{"SELECT * FROM public.dblink('x', 'y') AS t(a int)",
		 "reaches-other-databases",
		 "a replayed statement calls dblink()"},
		{"CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw",
		 "reaches-other-databases",
		 "a replayed statement creates foreign server 'prod'"},
		{"CREATE EXTENSION IF NOT EXISTS postgres_fdw",
		 "reaches-other-databases",
		 "a replayed statement creates extension postgres_fdw"},
		{"DO $$ BEGIN PERFORM dblink_exec('x', 'y'); END $$",
		 "reaches-other-databases",
		 "dynamic SQL in a replayed statement mentions dblink"},
		{"DO $$ BEGIN EXECUTE 'COPY t TO ''/tmp/x'''; END $$",
		 "server-file-may-be-written",
		 "dynamic SQL in a replayed statement may write a file on the server's machine (COPY ... TO or PROGRAM)"},
		{"CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT lo_export(1, '/tmp/x') $$",
		 "server-file-may-be-written",
		 "dynamic SQL in a replayed statement may write a file on the server's machine (lo_export)"},
		{"DO $$ BEGIN EXECUTE 'COPY t FROM ''/tmp/x'''; END $$", NULL,
		 NULL},
		{"CREATE EXTENSION pgcrypto", NULL, NULL},
		{"SELECT 'mydblink'", NULL, NULL},
		{"CREATE TABLE dblink_log (x int)", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PgQuery__ParseResult *doc;
		const void *stmt = first_stmt(cases[i].sql, &doc);
		cf_error *w = cf_cluster_statement_warning(stmt);

		if (!cases[i].code && w)
			fail_msg("'%s': unexpected '%s'", cases[i].sql,
				 w->message);
		if (cases[i].code &&
		    (!w || strcmp(w->code, cases[i].code) != 0 ||
		     strcmp(w->message, cases[i].message) != 0 ||
		     w->severity != CF_SEV_WARNING))
			fail_msg("'%s': got '%s'", cases[i].sql,
				 w ? w->message : "nothing");
		cf_error_free(w);
		pg_query__parse_result__free_unpacked(doc, NULL);
	}
}

/* Dynamic SQL that may write a file names the file when it can. */
static void
test_statement_warning_path(void **state)
{
	PgQuery__ParseResult *doc;
	const void *stmt = first_stmt(
		"DO $$ BEGIN EXECUTE 'COPY t TO ''/tmp/x y'''; END $$", &doc);
	cf_error *w = cf_cluster_statement_warning(stmt);

	(void)state;
	assert_non_null(w);
	assert_string_equal(w->statement, "rm -f '/tmp/x y'");
	assert_string_equal(
		w->hint,
		"if it ran, remove the file on the server's machine: rm -f '/tmp/x y'");
	cf_error_free(w);
	pg_query__parse_result__free_unpacked(doc, NULL);
	stmt = first_stmt("DO $$ BEGIN EXECUTE 'COPY t TO ' || f(); END $$",
			  &doc);
	w = cf_cluster_statement_warning(stmt);
	assert_non_null(w);
	assert_null(w->statement);
	cf_error_free(w);
	pg_query__parse_result__free_unpacked(doc, NULL);
}

/* A name is mentioned by the replay's string constants as a whole word. */
static void
test_mentions(void **state)
{
	cf_cluster_scope *scope = cf_cluster_scope_new();

	(void)state;
	add_sql(scope, "SELECT pg_create_physical_replication_slot('s_1')",
		false);
	add_sql(scope,
		"DO $$ BEGIN PERFORM pg_replication_origin_create('o'); END $$",
		false);
	assert_true(cl_scope_mentions(scope, "s_1"));
	assert_true(cl_scope_mentions(scope, "o"));
	assert_false(cl_scope_mentions(scope, "s"));
	assert_false(cl_scope_mentions(scope, "s_10"));
	assert_false(cl_scope_mentions(scope, "pg_create"));
	assert_false(cl_scope_mentions(scope, ""));
	assert_false(cl_scope_mentions(NULL, "s_1"));
	cf_cluster_scope_free(scope);
}

/*
 * The guard parses only the statements cf_cluster_statement_relevant()
 * keeps: for every other one, the guard refuses nothing, the scope gets
 * no name and no flag, and there is no warning, whatever the snapshot.
 */
static void
test_relevant(void **state)
{
	static const struct {
		const char *sql;
		bool relevant;
	} cases[] = {
		{"CREATE TABLE t (id int, s text DEFAULT 'x')", false},
		{"ALTER TABLE t OWNER TO app", false},
		{"ALTER TABLE t RENAME TO u", false},
		{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
		 false},
		{"INSERT INTO t VALUES (1, 'it''s')", false},
		{"UPDATE t SET s = 'a' WHERE id = 1", false},
		{"SELECT pg_create_physical_replication_slot('s_1')", false},
		{"DROP INDEX t_idx", false},
		{"CREATE ROLE app", true},
		{"create  user app", true},
		{"Alter Database shop SET x = 1", true},
		{"ALTER SYSTEM SET work_mem = '1MB'", true},
		{"DROP OWNED BY app", true},
		{"DROP TABLESPACE ts", true},
		{"CREATE EXTENSION dblink", true},
		{"CREATE SERVER s FOREIGN DATA WRAPPER w", true},
		{"GRANT app TO u", true},
		{"REVOKE CONNECT ON DATABASE shop FROM PUBLIC", true},
		{"COMMENT ON DATABASE shop IS 'x'", true},
		{"SECURITY LABEL ON ROLE app IS 'x'", true},
		{"REASSIGN OWNED BY a TO b", true},
		{"DO 'BEGIN NULL; END'", true},
		{"CALL p()", true},
		{"COPY t TO '/tmp/x'", true},
		{"SELECT LO_EXPORT(1, '/tmp/x')", true},
		{"SELECT \"pg_file_write\"('f', 'x', false)", true},
		{"SELECT U&\"\\006Co_export\"(1, '/tmp/x')", true},
		{"SELECT public.DbLink('a', 'b')", true},
		{"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'Copy t TO ''/x'''; END $$",
		 true},
		{"SELECT E'lo\\137export'", true},
		{"SELECT 'lo_'\n'export'", true},
		{"SELECT 'lo_' -- split\n'export'", true},
		{"CREATE /* c */ ROLE app", true},
		{"(SELECT 1)", true},
	};
	cf_cluster_snapshot *snap = calloc(1, sizeof(*snap));
	cl_database db = {.name = "shop"};
	cl_tablespace ts = {.name = "ts"};
	cl_role role = {.name = "app"};

	(void)state;
	snap->dbs = &db;
	snap->n_dbs = 1;
	snap->tss = &ts;
	snap->n_tss = 1;
	snap->roles = &role;
	snap->n_roles = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *sql = cases[i].sql;
		bool rel = cf_cluster_statement_relevant(sql, strlen(sql));
		PgQuery__ParseResult *doc;
		const void *stmt;
		cf_cluster_scope *scope;
		cf_error *err = NULL, *w;

		if (rel != cases[i].relevant)
			fail_msg("'%s': relevant %d, want %d", sql, rel,
				 cases[i].relevant);
		if (rel)
			continue;
		stmt = first_stmt(sql, &doc);
		if (cf_cluster_guard_statement(snap, stmt, NULL, &err) != 0)
			fail_msg("'%s' refused but not relevant", sql);
		scope = cf_cluster_scope_new();
		cf_cluster_scope_add_names(scope, stmt);
		if (scope->n_names || cf_cluster_scope_flags(scope))
			fail_msg("'%s' names objects but is not relevant", sql);
		if ((w = cf_cluster_statement_warning(stmt)))
			fail_msg("'%s' warned but is not relevant: %s", sql,
				 w->message);
		cf_cluster_scope_free(scope);
		pg_query__parse_result__free_unpacked(doc, NULL);
	}
	free(snap);
}

/* Recorded texts are parsed only when a mention is asked, and give the
 * string constants cf_cluster_scope_add_statement() would. */
static void
test_text_later(void **state)
{
	static const char sql[] =
		"SELECT pg_create_physical_replication_slot('s_1') trailing";
	cf_cluster_scope *scope = cf_cluster_scope_new();

	(void)state;
	cf_cluster_scope_add_text(scope, sql, strlen(sql) - 9);
	cf_cluster_scope_add_text(scope, "SELECT (", 8); /* rejected */
	cf_cluster_scope_add_text(NULL, sql, 3);
	assert_int_equal(scope->text.len, 0);
	assert_true(cl_scope_mentions(scope, "s_1"));
	assert_false(cl_scope_mentions(scope, "trailing"));
	assert_int_equal(scope->n_pending, 0);
	cf_cluster_scope_free(scope);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statement_names),
		cmocka_unit_test(test_accumulate),
		cmocka_unit_test(test_xids),
		cmocka_unit_test(test_guard_files),
		cmocka_unit_test(test_statement_warning),
		cmocka_unit_test(test_statement_warning_path),
		cmocka_unit_test(test_mentions),
		cmocka_unit_test(test_relevant),
		cmocka_unit_test(test_text_later),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	pg_query_exit(); /* release libpg_query's caches for valgrind */
	return rc;
}
