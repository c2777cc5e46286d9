/*
 * test_analysis.c — unit tests for preflight failure analysis (analysis.c):
 * names provided by parse trees, names missing from server errors, and
 * root cause / consequence / artifact labelling over whole runs.
 *
 * Scripts are built here from SQL with cf_script_parse(), which reads
 * each statement's model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "replay/analysis.h"

/* A script parsed from sql (statement models set). */
static cf_script *
make_script(const char *path, const char *sql)
{
	cf_error_list problems = CF_ERROR_LIST_INIT;
	cf_script *s = NULL;

	/* target unknown: what the parser rejects is kept, as for a newer
	 * server */
	if (cf_script_parse_target(path, sql, strlen(sql), 0, &s, &problems) <
	    0)
		fail_msg("cannot parse test SQL '%s'", sql);
	cf_script_build_models(s);
	cf_error_list_release(&problems);
	return s;
}

static void
free_script(cf_script *s)
{
	cf_script_free(s);
}

/* A server-like error with a SQLSTATE; hint may be NULL. */
static cf_error *
make_error(const char *sqlstate, const char *message, const char *hint)
{
	cf_error *e = cf_error_new(CF_ERR_SQL, "%s", message);

	strcpy(e->sqlstate, sqlstate);
	if (hint)
		cf_error_set_hint(e, "%s", hint);
	return e;
}

/* Joins a NULL-terminated name array with ','; NULL stays NULL. */
static char *
join_names(char **names)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	if (!names)
		return NULL;
	for (char **p = names; *p; p++) {
		if (p != names)
			cf_strbuf_addch(&sb, ',');
		cf_strbuf_addstr(&sb, *p);
	}
	return cf_strbuf_detach(&sb);
}

static void
test_provided_names(void **state)
{
	static const struct {
		const char *sql;
		const char *want; /* names joined with ',' */
	} cases[] = {
		{"create table s.users (id int primary key, email text, "
		 "constraint c1 check (id > 0))",
		 "users,id,email,c1"},
		{"create table t (a int constraint a_nn not null)", "t,a,a_nn"},
		{"create table p1 partition of p for values in (1)", "p1"},
		{"create view v as select 1", "v"},
		{"create materialized view mv as select 1", "mv"},
		{"create table t2 as select 1 as x", "t2"},
		{"create sequence sq", "sq"},
		{"create index idx on t (a)", "idx"},
		{"create unique index on t (a)", ""},
		{"create type ct as (a int)", "ct"},
		{"create type mood as enum ('sad', 'ok')", "mood,sad,ok"},
		{"alter type mood add value 'happy'", "happy,mood"},
		{"alter type mood rename value 'a' to 'b'", "b,mood"},
		{"create domain dm as int", "dm"},
		{"create type rng as range (subtype = int)", "rng"},
		{"create type shell", "shell"},
		{"create aggregate ag(int) (sfunc = f, stype = int)", "ag"},
		{"create operator === (leftarg = int, rightarg = int, "
		 "function = f)",
		 "==="},
		{"create function s.add_one(int) returns int language sql "
		 "as 'select 1'",
		 "add_one"},
		{"create procedure p() language sql as 'select 1'", "p"},
		{"create schema s create table t (a int) create view v as "
		 "select 1",
		 "s,t,a,v"},
		{"create schema authorization bob", "bob"},
		{"alter table users rename to accounts", "accounts"},
		{"alter table users rename column a to b", "b"},
		{"alter table users rename constraint c to d", "d"},
		{"alter schema s rename to s2", "s2"},
		{"alter function f(int) rename to g", "g"},
		{"alter table users add column email text constraint em_nn "
		 "not null, add constraint uq unique (email)",
		 "email,em_nn,uq"},
		{"alter table users add constraint fk foreign key (a) "
		 "references u (b)",
		 "fk"},
		{"alter table users alter column a set not null", ""},
		{"create trigger trg before insert on t for each row execute "
		 "function f()",
		 "trg"},
		{"create event trigger et on ddl_command_start execute "
		 "function f()",
		 "et"},
		{"create role app", "app"},
		{"create user bob", "bob"},
		{"create extension pgcrypto", "pgcrypto"},
		{"create policy pol on t using (true)", "pol"},
		{"alter table t set schema s2", "t"},
		{"alter function f() set schema s2", "f"},
		{"alter type mood set schema s2", "mood"},
		{"alter extension pgcrypto set schema s", "pgcrypto"},
		{"create tablespace ts location '/x'", "ts"},
		{"create database db", "db"},
		{"create foreign table ft (a int) server x", "ft,a"},
		{"create rule r as on insert to t do nothing", "r"},
		{"drop table users; drop type mood", ""},
		{"do $$ begin create table hidden (a int); end $$", ""},
		{"insert into t values (1); update t set a = 2", ""},
		{"create table \"Users\" (\"Id\" int)", "Users,Id"},
		{"create table a (x int); create table b (x int)", "a,x,b"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_script *s = make_script("x.up.sql", cases[i].sql);
		char **names = cf_analysis_provided_names(s);
		char *got = join_names(names);

		assert_non_null(names);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].sql, got,
				 cases[i].want);
		free(got);
		cf_analysis_free_names(names);
		free_script(s);
	}
}

static void
test_provided_names_without_tree(void **state)
{
	cf_script s = {0};
	char **names;

	(void)state;
	names = cf_analysis_provided_names(&s);
	assert_non_null(names);
	assert_null(names[0]);
	cf_analysis_free_names(names);
	names = cf_analysis_provided_names(NULL);
	assert_non_null(names);
	assert_null(names[0]);
	cf_analysis_free_names(names);
	cf_analysis_free_names(NULL);
}

static void
test_missing_names(void **state)
{
	static const struct {
		const char *sqlstate;
		const char *message;
		const char *want; /* joined with ','; NULL: not "missing" */
	} cases[] = {
		{"42P01", "relation \"users\" does not exist", "users"},
		{"42P01", "relation \"s.users\" does not exist", "users,s"},
		{"42P01", "table \"old\" does not exist", "old"},
		{"42703", "column \"email\" does not exist", "email"},
		{"42703",
		 "column \"email\" of relation \"users\" does not exist",
		 "email"},
		{"42703", "column users.email does not exist", "email"},
		{"42703", "column u.email does not exist", "email"},
		{"42703",
		 "column \"email\" referenced in foreign key "
		 "constraint does not exist",
		 "email"},
		{"42703", "record \"new\" has no field \"email\"", "email"},
		{"42704", "type \"mood\" does not exist", "mood"},
		{"42704", "type \"s.mood\" does not exist", "mood,s"},
		{"42704", "index \"idx\" does not exist", "idx"},
		{"42704", "constraint \"c\" of relation \"t\" does not exist",
		 "c"},
		{"42704", "role \"app\" does not exist", "app"},
		{"42704", "trigger \"trg\" for table \"x\" does not exist",
		 "trg"},
		{"42704", "sequence \"sq\" does not exist", "sq"},
		{"42704", "extension \"pgcrypto\" does not exist", "pgcrypto"},
		{"42704", "policy \"pol\" for table \"t\" does not exist",
		 "pol"},
		{"42883", "function add_one(integer) does not exist",
		 "add_one"},
		{"42883", "function public.f() does not exist", "f,public"},
		{"42883", "function f(integer, \"My Type\") does not exist",
		 "f"},
		{"42883", "procedure p() does not exist", "p"},
		{"42883", "operator does not exist: integer === integer",
		 "==="},
		{"42883", "operator does not exist: character varying @@ text",
		 "@@"},
		{"3F000", "schema \"s\" does not exist", "s"},
		{"3D000", "database \"db\" does not exist", "db"},
		{"22P02", "invalid input value for enum mood: \"happy\"",
		 "happy,mood"},
		{"22P02", "invalid input value for enum s.mood: \"a\"b\"",
		 "a\"b,mood"},
		{"22P02", "invalid input value for enum \"Mood\": \"x\"",
		 "x,Mood"},
		{"22P02", "invalid input syntax for type integer: \"x\"", NULL},
		{"42601", "syntax error at or near \"tabel\"", NULL},
		{"23505",
		 "duplicate key value violates unique constraint "
		 "\"users_pkey\"",
		 NULL},
		{"42P07", "relation \"users\" already exists", NULL},
		{"42704", "large object 12 does not exist", NULL},
		{"3F000", "no schema has been selected to create in", NULL},
		{"", "relation \"users\" does not exist", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_error *e = make_error(cases[i].sqlstate, cases[i].message,
					 NULL);
		char **names = cf_analysis_missing_names(e);
		char *got = join_names(names);

		if (!cases[i].want != !got ||
		    (got && strcmp(got, cases[i].want) != 0))
			fail_msg("%s %s: got '%s', want '%s'",
				 cases[i].sqlstate, cases[i].message,
				 got ? got : "(null)",
				 cases[i].want ? cases[i].want : "(null)");
		free(got);
		cf_analysis_free_names(names);
		cf_error_free(e);
	}
	assert_null(cf_analysis_missing_names(NULL));
}

/* One migration of a scenario and the label expected for it. */
struct step {
	const char *sql;
	cf_outcome_kind kind;
	const char *sqlstate; /* error when FAILED */
	const char *message;
	cf_cause cause; /* expected */
	long caused_by;
	bool artifact;
	const char *reason_has; /* substring of artifact_reason, or NULL */
	bool likely;		/* a consequence linked by bare name or use */
	const char *detail;	/* the error's DETAIL, or NULL */
};

#define MAX_STEPS 6

struct scenario {
	const char *what;
	bool one_transaction;
	struct step steps[MAX_STEPS]; /* ends at the first NULL sql */
};

#define STEP(sql, kind, st, msg, cause, by, art, has, likely, detail)   \
	{                                                               \
		sql, kind, st, msg, cause, by, art, has, likely, detail \
	}
#define OK(sql)                                                              \
	STEP(sql, CF_OUTCOME_OK, NULL, NULL, CF_CAUSE_NONE, -1, false, NULL, \
	     false, NULL)
#define SKIP(sql)                                                           \
	STEP(sql, CF_OUTCOME_SKIPPED, NULL, NULL, CF_CAUSE_NONE, -1, false, \
	     NULL, false, NULL)
#define ROOT(sql, st, msg)                                                    \
	STEP(sql, CF_OUTCOME_FAILED, st, msg, CF_CAUSE_ROOT, -1, false, NULL, \
	     false, NULL)
#define CONSEQ(sql, st, msg, by)                                               \
	STEP(sql, CF_OUTCOME_FAILED, st, msg, CF_CAUSE_CONSEQUENCE, by, false, \
	     NULL, false, NULL)
#define CONSEQ_LIKELY(sql, st, msg, by)                                        \
	STEP(sql, CF_OUTCOME_FAILED, st, msg, CF_CAUSE_CONSEQUENCE, by, false, \
	     NULL, true, NULL)
#define CONSEQ_LIKELY_DETAIL(sql, st, msg, detail, by)                         \
	STEP(sql, CF_OUTCOME_FAILED, st, msg, CF_CAUSE_CONSEQUENCE, by, false, \
	     NULL, true, detail)
#define ARTIFACT(sql, st, msg, has)                                         \
	STEP(sql, CF_OUTCOME_FAILED, st, msg, CF_CAUSE_ROOT, -1, true, has, \
	     false, NULL)

static const struct scenario scenarios[] = {
	{"simple consequence",
	 false,
	 {
		 ROOT("create table users (id int); select 1/0", "22012",
		      "division by zero"),
		 CONSEQ("alter table users add column email text", "42P01",
			"relation \"users\" does not exist", 0),
	 }},
	{"transitive chain",
	 false,
	 {
		 ROOT("create table users (id int)", "42501",
		      "permission denied for schema public"),
		 CONSEQ("create view active_users as select * from users",
			"42P01", "relation \"users\" does not exist", 0),
		 OK("create table audit (id int)"),
		 CONSEQ("grant select on active_users to public", "42P01",
			"relation \"active_users\" does not exist", 1),
	 }},
	{"unrelated failure is a root",
	 false,
	 {
		 ROOT("create table users (id int)", "42501",
		      "permission denied for schema public"),
		 ROOT("create table orders (id int); insert into orders "
		      "values ('x')",
		      "22P02", "invalid input syntax for type integer: \"x\""),
		 ROOT("select * from ghosts", "42P01",
		      "relation \"ghosts\" does not exist"),
	 }},
	{"missing name provided by a passed migration",
	 false,
	 {
		 OK("create table users (id int)"),
		 ROOT("create index users_id on users (id)", "42P01",
		      "relation \"users\" does not exist"),
	 }},
	{"a later passed provider explains the name",
	 false,
	 {
		 ROOT("create table users (id int); select 1/0", "22012",
		      "division by zero"),
		 OK("create table if not exists users (id int)"),
		 ROOT("insert into users values (1)", "42P01",
		      "relation \"users\" does not exist"),
	 }},
	{"nearest failed provider is the cause",
	 false,
	 {
		 ROOT("create table users (id int)", "42501",
		      "permission denied for schema public"),
		 ROOT("create table users (id int, email text)", "42501",
		      "permission denied for schema public"),
		 CONSEQ("select email from users", "42P01",
			"relation \"users\" does not exist", 1),
	 }},
	{"skipped non-transactional migration",
	 true,
	 {
		 SKIP("create index concurrently idx_email on users (email)"),
		 CONSEQ("alter index idx_email rename to idx_users_email",
			"42P01", "relation \"idx_email\" does not exist", 0),
	 }},
	{"enum value used in the same transaction",
	 true,
	 {
		 OK("create type mood as enum ('sad')"),
		 OK("alter type mood add value 'happy'"),
		 ARTIFACT("create table happy_people (m mood); insert into "
			  "happy_people values ('happy')",
			  "55P04",
			  "unsafe use of new value \"happy\" of enum type mood",
			  "'happy' of type mood was added by migration "
			  "002_add_happy"),
		 CONSEQ("create index hp_m on happy_people (m)", "42P01",
			"relation \"happy_people\" does not exist", 2),
	 }},
	{"enum value 55P04 in clone mode is real",
	 false,
	 {
		 OK("create type mood as enum ('sad')"),
		 OK("alter type mood add value 'happy'"),
		 ROOT("insert into t values ('happy')", "55P04",
		      "unsafe use of new value \"happy\" of enum type mood"),
	 }},
	{"55P04 without an earlier adding migration",
	 true,
	 {
		 OK("create type mood as enum ('sad')"),
		 ROOT("alter type mood add value 'happy'; insert into t values "
		      "('happy')",
		      "55P04",
		      "unsafe use of new value \"happy\" of enum type mood"),
	 }},
	{"55P04 with the value added to another type",
	 true,
	 {
		 OK("alter type feeling add value 'happy'"),
		 ROOT("insert into t values ('happy')", "55P04",
		      "unsafe use of new value \"happy\" of enum type mood"),
	 }},
	{"failed enum value addition",
	 false,
	 {
		 ROOT("alter type mood add value 'happy'; select 1/0", "22012",
		      "division by zero"),
		 CONSEQ("insert into t values ('happy')", "22P02",
			"invalid input value for enum mood: \"happy\"", 0),
		 ROOT("insert into t2 values ('sad')", "22P02",
		      "invalid input value for enum mood: \"sad\""),
	 }},
	{"out of shared memory",
	 true,
	 {
		 OK("create table a1 (id int)"),
		 ARTIFACT("create table a2 (id int)", "53200",
			  "out of shared memory", "max_locks_per_transaction"),
		 CONSEQ("insert into a2 values (1)", "42P01",
			"relation \"a2\" does not exist", 1),
	 }},
	{"out of shared memory in clone mode",
	 false,
	 {
		 ROOT("create table a2 (id int)", "53200",
		      "out of shared memory"),
	 }},
	{"rename",
	 false,
	 {
		 ROOT("alter table users rename to accounts; select 1/0",
		      "22012", "division by zero"),
		 CONSEQ("create index acc_idx on accounts (id)", "42P01",
			"relation \"accounts\" does not exist", 0),
	 }},
	{"column add",
	 false,
	 {
		 ROOT("alter table users add column email text; select 1/0",
		      "22012", "division by zero"),
		 OK("create table other (id int)"),
		 CONSEQ("alter table users alter column email set not null",
			"42703",
			"column \"email\" of relation \"users\" does not exist",
			0),
		 CONSEQ("create view v as select u.email from users u", "42703",
			"column u.email does not exist", 0),
	 }},
	{"schema",
	 false,
	 {
		 ROOT("create schema app; select 1/0", "22012",
		      "division by zero"),
		 CONSEQ("create table app.t (a int)", "3F000",
			"schema \"app\" does not exist", 0),
		 CONSEQ("select * from app.users", "42P01",
			"relation \"app.users\" does not exist", 0),
	 }},
	{"a table named like the missing schema is no cause",
	 false,
	 {
		 ROOT("create table app (a int)", "42501",
		      "permission denied for schema public"),
		 ROOT("create table app.t (a int)", "3F000",
		      "schema \"app\" does not exist"),
	 }},
	{"function",
	 false,
	 {
		 ROOT("create function add_one(int) returns int language sql "
		      "as 'select $1 + 1'; select 1/0",
		      "22012", "division by zero"),
		 CONSEQ("select add_one(1)", "42883",
			"function add_one(integer) does not exist", 0),
	 }},
	{"drop provides nothing",
	 false,
	 {
		 ROOT("drop table users", "2BP01",
		      "cannot drop table users because other objects depend "
		      "on it"),
		 ROOT("select * from users", "42P01",
		      "relation \"users\" does not exist"),
	 }},
	/* the mislabelled cases of the issue on real project histories */
	{"a column belongs to its table: the other table's column is no cause",
	 false,
	 {
		 ROOT("alter table a add column nid int references nowhere (id)",
		      "42P01", "relation \"nowhere\" does not exist"),
		 ROOT("alter table c add column nid int references nowhere (id)",
		      "42P01", "relation \"nowhere\" does not exist"),
		 CONSEQ("create index on a (nid)", "42703",
			"column \"nid\" does not exist", 0),
	 }},
	{"a passing migration adding the same column name elsewhere masks "
	 "nothing",
	 false,
	 {
		 ROOT("alter table a add column nid int references nowhere (id)",
		      "42P01", "relation \"nowhere\" does not exist"),
		 OK("alter table e add column nid int"),
		 CONSEQ("create index on a (nid)", "42703",
			"column \"nid\" does not exist", 0),
	 }},
	{"DROP FUNCTION without an argument list",
	 false,
	 {
		 ROOT("create function f(numeric) returns int language sql as "
		      "'select 1'; select 1/0",
		      "22012", "division by zero"),
		 CONSEQ("drop function f", "42883",
			"could not find a function named \"f\"", 0),
		 ROOT("drop function g", "42883",
		      "could not find a function named \"g\""),
	 }},
	{"an error other than 'does not exist' on a column a failed "
	 "migration would have changed (42P17)",
	 false,
	 {
		 ROOT("alter table t alter column published type timestamptz "
		      "using published::timestamptz",
		      "22007", "invalid input syntax for type timestamp"),
		 CONSEQ_LIKELY("create index t_day on t "
			       "(date_trunc('day', published))",
			       "42P17",
			       "functions in index expression must be marked "
			       "IMMUTABLE",
			       0),
		 ROOT("create index t_other on t (lower(title))", "42P17",
		      "functions in index expression must be marked "
		      "IMMUTABLE"),
	 }},
	{"already exists: the failed migration that would have dropped it",
	 false,
	 {
		 ROOT("drop table legacy; select 1/0", "22012",
		      "division by zero"),
		 CONSEQ("create table legacy (id int)", "42P07",
			"relation \"legacy\" already exists", 0),
	 }},
	{"cannot drop: the failed migration that would have dropped the "
	 "dependent",
	 false,
	 {
		 ROOT("alter table jwk drop constraint jwk_fk; select 1/0",
		      "22012", "division by zero"),
		 CONSEQ_LIKELY_DETAIL(
			 "drop index jwk_uq", "2BP01",
			 "cannot drop index jwk_uq because other objects "
			 "depend on it",
			 "constraint jwk_fk on table jwk depends on index jwk_uq",
			 0),
	 }},
	{"a statement the parser rejects still provides its names",
	 false,
	 {
		 ROOT("create table events as select * from (select 1 as id)",
		      "42601", "subquery in FROM must have an alias"),
		 CONSEQ_LIKELY("alter table events add column at timestamptz",
			       "42P01", "relation \"events\" does not exist", 0),
	 }},
	{"later migrations are never causes",
	 false,
	 {
		 ROOT("select * from users", "42P01",
		      "relation \"users\" does not exist"),
		 ROOT("create table users (id int)", "42501",
		      "permission denied for schema public"),
	 }},
};

/* Builds the views of a scenario, analyses them and checks every label. */
static void
run_scenario(const struct scenario *sc)
{
	cf_failure_view v[MAX_STEPS];
	cf_cause_label labels[MAX_STEPS];
	cf_script *scripts[MAX_STEPS];
	cf_error *errors[MAX_STEPS];
	size_t n = 0;

	memset(labels, 0, sizeof(labels));
	while (n < MAX_STEPS && sc->steps[n].sql) {
		const struct step *st = &sc->steps[n];
		char *path = cf_asprintf("db/migrations/%03zu_%s.up.sql", n + 1,
					 strstr(st->sql, "add value 'happy'") ?
						 "add_happy" :
						 "step");

		scripts[n] = make_script(path, st->sql);
		free(path);
		errors[n] = st->kind == CF_OUTCOME_FAILED ?
				    make_error(st->sqlstate, st->message,
					       NULL) :
				    NULL;
		if (st->detail)
			cf_error_set_detail(errors[n], "%s", st->detail);
		v[n].script = scripts[n];
		v[n].kind = st->kind;
		v[n].error = errors[n];
		v[n].uses_missing = false;
		n++;
	}
	cf_analyze_failures(v, n, sc->one_transaction, labels);
	for (size_t i = 0; i < n; i++) {
		const struct step *st = &sc->steps[i];
		long want_by = st->caused_by;

		if (labels[i].cause != st->cause)
			fail_msg("%s: step %zu: cause %d, want %d", sc->what, i,
				 labels[i].cause, st->cause);
		if (labels[i].caused_by != want_by)
			fail_msg("%s: step %zu: caused_by %ld, want %ld",
				 sc->what, i, labels[i].caused_by, want_by);
		if (labels[i].likely != st->likely)
			fail_msg("%s: step %zu: likely %d, want %d", sc->what,
				 i, labels[i].likely, st->likely);
		if (labels[i].artifact != st->artifact)
			fail_msg("%s: step %zu: artifact %d, want %d", sc->what,
				 i, labels[i].artifact, st->artifact);
		if (st->artifact != (labels[i].artifact_reason != NULL))
			fail_msg("%s: step %zu: artifact_reason %s", sc->what,
				 i,
				 labels[i].artifact_reason ? "set" : "missing");
		if (st->reason_has &&
		    !strstr(labels[i].artifact_reason, st->reason_has))
			fail_msg("%s: step %zu: reason '%s' lacks '%s'",
				 sc->what, i, labels[i].artifact_reason,
				 st->reason_has);
	}
	for (size_t i = 0; i < n; i++) {
		free(labels[i].artifact_reason);
		free_script(scripts[i]);
		cf_error_free(errors[i]);
	}
}

static void
test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
}

/* A failure that fails on its own as well (the replay says it uses a
 * relation that exists nowhere) is a root whatever failed before it. */
static void
test_uses_missing(void **state)
{
	cf_script *a = make_script("db/migrations/001_a.up.sql",
				   "create table t1 (id int)");
	cf_script *b = make_script("db/migrations/002_b.up.sql",
				   "insert into t1 values (1); "
				   "insert into gone values (1)");
	cf_error *ea = make_error("22012", "division by zero", NULL);
	cf_error *eb = make_error("42P01", "relation \"t1\" does not exist",
				  NULL);
	cf_failure_view v[2] = {{a, CF_OUTCOME_FAILED, ea, false},
				{b, CF_OUTCOME_FAILED, eb, false}};
	cf_cause_label l[2] = {{0}, {0}};

	(void)state;
	cf_analyze_failures(v, 2, false, l);
	assert_int_equal(l[1].cause, CF_CAUSE_CONSEQUENCE);
	v[1].uses_missing = true;
	cf_analyze_failures(v, 2, false, l);
	assert_int_equal(l[1].cause, CF_CAUSE_ROOT);
	assert_int_equal(l[1].caused_by, -1);
	free_script(a);
	free_script(b);
	cf_error_free(ea);
	cf_error_free(eb);
}

/* A long cascade: every failure is linked to the one root, past the
 * passing migrations in between that provide other names (the analysis
 * looks objects up by name, not migration by migration). */
static void
test_long_cascade(void **state)
{
	enum {
		N = 400
	};
	cf_failure_view *v = cf_calloc(N, sizeof(*v));
	cf_cause_label *l = cf_calloc(N, sizeof(*l));
	cf_script **s = cf_calloc(N, sizeof(*s));
	cf_error *root = make_error("22012", "division by zero", NULL);
	cf_error *missing = make_error("42P01",
				       "relation \"t0\" does not exist", NULL);

	(void)state;
	for (size_t i = 0; i < N; i++) {
		char *sql =
			i == 0 ? cf_strdup("create table t0 (id int)") :
			i % 2  ? cf_asprintf("create table u%zu (t0 int)", i) :
				 cf_asprintf(
					 "alter table t0 add column c%zu int",
					 i);

		s[i] = make_script("db/migrations/x.up.sql", sql);
		free(sql);
		v[i].script = s[i];
		v[i].kind = i % 2 && i ? CF_OUTCOME_OK : CF_OUTCOME_FAILED;
		v[i].error = i == 0 ? root : i % 2 ? NULL : missing;
	}
	cf_analyze_failures(v, N, false, l);
	assert_int_equal(l[0].cause, CF_CAUSE_ROOT);
	for (size_t i = 2; i < N; i += 2) {
		assert_int_equal(l[i].cause, CF_CAUSE_CONSEQUENCE);
		assert_int_equal(l[i].caused_by, 0);
		assert_false(l[i].likely);
	}
	for (size_t i = 0; i < N; i++)
		free_script(s[i]);
	free(s);
	free(v);
	free(l);
	cf_error_free(root);
	cf_error_free(missing);
}

static void
test_artifact_reasons(void **state)
{
	cf_script *a = make_script("db/migrations/001_x.up.sql",
				   "create table x (id int)");
	cf_error *e = make_error("53200", "out of shared memory",
				 "You might need to increase "
				 "max_locks_per_transaction.");
	cf_failure_view v[1] = {{a, CF_OUTCOME_FAILED, e, false}};
	cf_cause_label l[1] = {{0}};

	(void)state;
	cf_analyze_failures(v, 1, true, l);
	assert_true(l[0].artifact);
	assert_int_equal(l[0].cause, CF_CAUSE_ROOT);
	assert_non_null(strstr(l[0].artifact_reason, "one transaction"));
	assert_non_null(strstr(l[0].artifact_reason, "clone mode"));
	assert_non_null(strstr(l[0].artifact_reason, "53200"));
	free(l[0].artifact_reason);

	/* a failure without an error or a script is a plain root */
	v[0].error = NULL;
	v[0].script = NULL;
	memset(l, 0, sizeof(l));
	cf_analyze_failures(v, 1, true, l);
	assert_int_equal(l[0].cause, CF_CAUSE_ROOT);
	assert_int_equal(l[0].caused_by, -1);
	assert_false(l[0].artifact);
	assert_null(l[0].artifact_reason);

	/* nothing to do for an empty run */
	cf_analyze_failures(NULL, 0, false, NULL);

	cf_error_free(e);
	free_script(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provided_names),
		cmocka_unit_test(test_provided_names_without_tree),
		cmocka_unit_test(test_missing_names),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_artifact_reasons),
		cmocka_unit_test(test_uses_missing),
		cmocka_unit_test(test_long_cascade),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	pg_query_exit();
	return rc;
}
