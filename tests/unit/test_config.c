/*
 * test_config.c — loading environment configuration files, ${VAR}
 * expansion, error positions, tracking-table names and environment
 * resolution.  Fixtures live in fixtures/config (cwd is tests/unit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

#define FIX "fixtures/config/"

/* Fails when the secret shows anywhere in the error's text. */
static void
assert_no_secret(const cf_error *e, const char *secret)
{
	const char *parts[] = {e->message, e->detail, e->hint, e->context};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] && strstr(parts[i], secret))
			fail_msg("secret '%s' shown in '%s'", secret, parts[i]);
}

/* Asserts that haystack (non-NULL) contains needle. */
static void
assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'",
			 haystack ? haystack : "(null)", needle);
}

/* Writes text to dir/name; returns the path (caller frees). */
static char *
write_file(const char *dir, const char *name, const char *text)
{
	char *path = cf_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Removes a scratch directory holding only plain files (and db/...). */
static void
remove_tree(const char *dir)
{
	char *cmd = cf_asprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* ------------------------------------------------------------------------
 * Loading valid files
 * ------------------------------------------------------------------------ */

static void
test_full_file(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(cf_config_load(FIX "full.yaml", &cfg, &err), 0);
	assert_null(err);
	assert_string_equal(cfg->path, FIX "full.yaml");
	assert_string_equal(cfg->name, "production");
	assert_string_equal(cfg->database_url,
			    "postgresql://app:s3cret@db.example.com:5432/"
			    "app_prod");
	assert_string_equal(cfg->include_dirs[0], "db/schema/00_common");
	assert_string_equal(cfg->include_dirs[1], "db/schema/10_tables");
	assert_null(cfg->include_dirs[2]);
	assert_string_equal(cfg->tracking_table, "ops.tb_migrations");
	assert_string_equal(cfg->tracking_schema, "ops");
	assert_string_equal(cfg->tracking_name, "tb_migrations");
	assert_false(cfg->locking_enabled);
	assert_int_equal(cfg->lock_timeout_ms, 1500);
	assert_int_equal(cfg->preflight_lock_timeout_ms, 250);
	assert_int_equal(cfg->preflight_statement_timeout_ms, 60000);
	assert_int_equal(cfg->warnings.n, 0);
	cf_config_free(cfg);
}

static void
assert_defaults(const cf_config *cfg)
{
	assert_non_null(cfg->include_dirs);
	assert_null(cfg->include_dirs[0]);
	assert_string_equal(cfg->tracking_table, CF_DEFAULT_TRACKING_TABLE);
	assert_null(cfg->tracking_schema);
	assert_string_equal(cfg->tracking_name, CF_DEFAULT_TRACKING_TABLE);
	assert_true(cfg->locking_enabled);
	assert_int_equal(cfg->lock_timeout_ms, CF_DEFAULT_LOCK_TIMEOUT_MS);
	assert_int_equal(cfg->migration_lock_timeout_ms,
			 CF_DEFAULT_MIGRATION_LOCK_TIMEOUT_MS);
	assert_int_equal(cfg->migration_lock_retries,
			 CF_DEFAULT_MIGRATION_LOCK_RETRIES);
	assert_int_equal(cfg->preflight_lock_timeout_ms,
			 CF_DEFAULT_PREFLIGHT_LOCK_TIMEOUT_MS);
	assert_int_equal(cfg->preflight_statement_timeout_ms,
			 CF_DEFAULT_PREFLIGHT_STATEMENT_TIMEOUT_MS);
	assert_int_equal(cfg->warnings.n, 0);
}

/* Missing keys take their defaults; name comes from the file name. */
static void
test_minimal_defaults(void **state)
{
	cf_config *cfg = NULL;

	(void)state;
	assert_int_equal(cf_config_load(FIX "minimal.yaml", &cfg, NULL), 0);
	assert_string_equal(cfg->name, "minimal");
	assert_string_equal(cfg->database_url, "postgres://localhost/app");
	assert_defaults(cfg);
	cf_config_free(cfg);
}

/* "key:" / "~" / "null" count as absent. */
static void
test_null_values(void **state)
{
	cf_config *cfg = NULL;

	(void)state;
	assert_int_equal(cf_config_load(FIX "nulls.yaml", &cfg, NULL), 0);
	assert_string_equal(cfg->name, "nulls");
	assert_defaults(cfg);
	cf_config_free(cfg);
}

static void
test_new_default(void **state)
{
	cf_config *cfg = cf_config_new_default();

	(void)state;
	assert_null(cfg->path);
	assert_null(cfg->name);
	assert_null(cfg->database_url);
	assert_defaults(cfg);
	cf_config_free(cfg);
	cf_config_free(NULL);
}

/* database: block -> percent-encoded URL. */
static void
test_database_block(void **state)
{
	cf_config *cfg = NULL;
	char *shown;

	(void)state;
	assert_int_equal(cf_config_load(FIX "dbblock.yaml", &cfg, NULL), 0);
	assert_string_equal(cfg->database_url,
			    "postgresql://app%20user:p%40ss%3Aw%2Frd%25%3F%23"
			    "@db.example.com:6543/my%20db");
	shown = cf_redact_url(cfg->database_url);
	assert_string_equal(shown, "postgresql://app%20user:***"
				   "@db.example.com:6543/my%20db");
	free(shown);
	cf_config_free(cfg);

	assert_int_equal(cf_config_load(FIX "dbdefaults.yaml", &cfg, NULL), 0);
	assert_string_equal(cfg->database_url,
			    "postgresql://postgres:hunter2@localhost:5432/"
			    "postgres");
	cf_config_free(cfg);
}

/* database_url wins over database:, with a warning at the block. */
static void
test_url_and_block(void **state)
{
	cf_config *cfg = NULL;
	cf_error *w;

	(void)state;
	assert_int_equal(cf_config_load(FIX "both.yaml", &cfg, NULL), 0);
	assert_string_equal(cfg->database_url, "postgresql://u@urlhost/urldb");
	assert_int_equal(cfg->warnings.n, 1);
	w = cfg->warnings.items[0];
	assert_int_equal(w->severity, CF_SEV_WARNING);
	assert_int_equal(w->kind, CF_ERR_CONFIG);
	assert_string_equal(w->code, "database-url-and-block");
	assert_int_equal(w->line, 2);
	assert_int_equal(w->column, 1);
	assert_no_secret(w, "blockpass");
	cf_config_free(cfg);
}

/* Aliases and merge keys are resolved; the anchor's key is merely unknown. */
static void
test_alias(void **state)
{
	cf_config *cfg = NULL;

	(void)state;
	assert_int_equal(cf_config_load(FIX "alias.yaml", &cfg, NULL), 0);
	assert_int_equal(cfg->preflight_lock_timeout_ms, 100);
	assert_int_equal(cfg->preflight_statement_timeout_ms, 200);
	assert_int_equal(cfg->lock_timeout_ms, 7); /* merge key */
	assert_false(cfg->locking_enabled);
	/* x-timeouts, and the merged keys unknown in migration.locking */
	assert_int_equal(cfg->warnings.n, 3);
	assert_string_equal(cfg->warnings.items[0]->code, "unknown-key");
	assert_contains(cfg->warnings.items[1]->message, "'migration.locking.");
	assert_contains(cfg->warnings.items[2]->message, "'migration.locking.");
	cf_config_free(cfg);
}

/* ------------------------------------------------------------------------
 * ${VAR} expansion
 * ------------------------------------------------------------------------ */

static void
test_env_expansion(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	setenv("CF_TEST_DB_URL", "postgresql://u:pw@envhost/envdb", 1);
	setenv("CF_TEST_DIR", "/srv/app", 1);
	setenv("CF_TEST_EMPTY", "", 1);
	setenv("CF_TEST_TIMEOUT", "4321", 1);
	unsetenv("CF_TEST_UNSET_NAME");
	assert_int_equal(cf_config_load(FIX "envvar.yaml", &cfg, &err), 0);
	assert_string_equal(cfg->name, "fallback");
	assert_string_equal(cfg->database_url,
			    "postgresql://u:pw@envhost/envdb");
	assert_string_equal(cfg->include_dirs[0], "/srv/app/schema");
	assert_string_equal(cfg->include_dirs[1], "${HOME}/literal");
	assert_string_equal(cfg->include_dirs[2], "pa$$word");
	assert_string_equal(cfg->include_dirs[3], "cost $5");
	assert_string_equal(cfg->include_dirs[4], "end");
	assert_string_equal(cfg->include_dirs[5], "dflt");
	assert_null(cfg->include_dirs[6]);
	assert_int_equal(cfg->lock_timeout_ms, 4321);
	cf_config_free(cfg);

	/* expanded values are type-checked too */
	setenv("CF_TEST_TIMEOUT", "soon", 1);
	assert_int_equal(cf_config_load(FIX "envvar.yaml", &cfg, &err), -1);
	assert_null(cfg);
	assert_contains(err->message, "migration.locking.timeout_ms");
	assert_int_equal(err->line, 12);
	assert_int_equal(err->column, 17);
	cf_error_free(err);

	unsetenv("CF_TEST_DB_URL");
	unsetenv("CF_TEST_DIR");
	unsetenv("CF_TEST_EMPTY");
	unsetenv("CF_TEST_TIMEOUT");
}

static void
test_env_unset(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	unsetenv("CF_TEST_UNSET_VAR");
	assert_int_equal(cf_config_load(FIX "unset.yaml", &cfg, &err), -1);
	assert_null(cfg);
	assert_non_null(err);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_string_equal(err->message,
			    "environment variable 'CF_TEST_UNSET_VAR' is not "
			    "set");
	assert_contains(err->detail, "database_url");
	assert_string_equal(err->file, FIX "unset.yaml");
	assert_int_equal(err->line, 2);
	assert_int_equal(err->column, 15);
	assert_no_secret(err, "topsecret");
	cf_error_free(err);
}

/* Malformed references, via scratch files. */
static void
test_env_bad_reference(void **state)
{
	static const struct {
		const char *yaml;
		const char *message;
	} cases[] = {
		{"name: ${UNCLOSED\n", "unterminated '${'"},
		{"name: ${}\n", "invalid variable reference '${}'"},
		{"name: ${1X}\n", "invalid variable reference '${1X}'"},
		{"name: ${A-b}\n", "invalid variable reference '${A-b}'"},
		/* a password is never quoted */
		{"database_url: ${topsecret x}\n",
		 "invalid variable reference"},
	};
	char tmpl[] = "/tmp/cf_test_config_XXXXXX";
	char *dir = mkdtemp(tmpl);

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_file(dir, "c.yaml", cases[i].yaml);
		cf_config *cfg = NULL;
		cf_error *err = NULL;

		assert_int_equal(cf_config_load(path, &cfg, &err), -1);
		assert_null(cfg);
		assert_contains(err->message, cases[i].message);
		assert_no_secret(err, "topsecret");
		assert_int_equal(err->line, 1);
		assert_int_equal(err->column, strchr(cases[i].yaml, '$') -
						      cases[i].yaml + 1);
		cf_error_free(err);
		free(path);
	}
	remove_tree(dir);
}

/* ------------------------------------------------------------------------
 * Errors with positions
 * ------------------------------------------------------------------------ */

/* YAML syntax errors: exact line and column, nothing on stderr. */
static void
test_yaml_syntax_error(void **state)
{
	static const struct {
		const char *file;
		const char *message;
		int line;
		int column;
	} cases[] = {
		/* libfyaml points at the first character after the quote */
		{FIX "syntax.yaml",
		 "double-quoted scalar without closing quote", 4, 20},
		{FIX "duplicate.yaml", "duplicate key", 3, 1},
	};
	char tmpl[] = "/tmp/cf_test_stderr_XXXXXX";
	int fd = mkstemp(tmpl);
	int saved = dup(2);
	struct stat st;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_config *cfg = NULL;
		cf_error *err = NULL;
		int rc = cf_config_load(cases[i].file, &cfg, &err);

		fflush(stderr);
		dup2(saved, 2);
		assert_int_equal(rc, -1);
		assert_null(cfg);
		assert_int_equal(err->kind, CF_ERR_CONFIG);
		assert_contains(err->message, cases[i].message);
		assert_string_equal(err->file, cases[i].file);
		assert_int_equal(err->line, cases[i].line);
		assert_int_equal(err->column, cases[i].column);
		assert_string_equal(err->code, "yaml-syntax");
		cf_error_free(err);
		dup2(fd, 2);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0); /* the library printed nothing */
	close(fd);
	unlink(tmpl);
}

/* Unknown keys are warnings with file:line:col, not errors. */
static void
test_unknown_keys(void **state)
{
	cf_config *cfg = NULL;
	cf_error *w;

	(void)state;
	assert_int_equal(cf_config_load(FIX "unknown.yaml", &cfg, NULL), 0);
	assert_int_equal(cfg->warnings.n, 2);

	w = cfg->warnings.items[0];
	assert_int_equal(w->severity, CF_SEV_WARNING);
	assert_int_equal(w->kind, CF_ERR_CONFIG);
	assert_string_equal(w->code, "unknown-key");
	assert_string_equal(w->message,
			    "unknown configuration key 'schema_dir'");
	assert_string_equal(w->file, FIX "unknown.yaml");
	assert_int_equal(w->line, 3);
	assert_int_equal(w->column, 1);
	assert_contains(w->hint, "database_url");

	w = cfg->warnings.items[1];
	assert_string_equal(w->message,
			    "unknown configuration key 'migration.strict'");
	assert_int_equal(w->line, 6);
	assert_int_equal(w->column, 3);
	assert_contains(w->hint, "tracking_table");
	cf_error_list_release(&cfg->warnings);
	cf_config_free(cfg);
}

/* lint.rules re-grades rules in file order; an unknown id names them all. */
static void
test_lint_rules(void **state)
{
	char tmpl[] = "/tmp/cf_test_lint_XXXXXX";
	char *dir = mkdtemp(tmpl);
	char *path;
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_non_null(dir);
	path = write_file(dir, "a.yaml",
			  "lint:\n  rules:\n    drop-cascade: off\n"
			  "    varchar-length: error\n"
			  "    index-without-concurrently: warning\n");
	assert_int_equal(cf_config_load(path, &cfg, NULL), 0);
	assert_int_equal(cfg->n_lint_grades, 3);
	assert_string_equal(cfg->lint_grades[0].rule, "drop-cascade");
	assert_int_equal(cfg->lint_grades[0].severity, CF_LINT_OFF);
	assert_int_equal(cfg->lint_grades[1].severity, CF_LINT_ERROR);
	assert_int_equal(cfg->lint_grades[2].severity, CF_LINT_WARNING);
	assert_int_equal(cfg->warnings.n, 0);
	cf_config_free(cfg);
	free(path);

	path = write_file(dir, "b.yaml", "lint:\n  rules:\n    nope: off\n");
	assert_int_equal(cf_config_load(path, &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_string_equal(err->code, "unknown-lint-rule");
	assert_contains(err->hint, "index-without-concurrently, ");
	assert_contains(err->hint, "drop-cascade");
	cf_error_free(err);
	free(path);
	remove_tree(dir);
}

/* Type and value errors: message names the key path, position exact. */
static void
test_wrong_types(void **state)
{
	static const struct {
		const char *yaml;
		const char *message;
		int line;
		int column;
	} cases[] = {
		{"database_url: postgresql://x/y\nmigration:\n  locking:\n"
		 "    timeout_ms: abc\n",
		 "'migration.locking.timeout_ms' must be an integer", 4, 17},
		{"migration:\n  locking:\n    timeout_ms: 1.5\n",
		 "'migration.locking.timeout_ms' must be an integer", 3, 17},
		{"migration:\n  locking:\n    enabled: maybe\n",
		 "'migration.locking.enabled' must be true or false", 3, 14},
		{"migration:\n  locking: [1]\n",
		 "'migration.locking' must be a mapping", 2, 3},
		{"migration: 5\n", "'migration' must be a mapping", 1, 12},
		{"include_dirs: db/schema\n",
		 "'include_dirs' must be a list of strings", 1, 15},
		{"include_dirs:\n  - a\n  - [x]\n",
		 "'include_dirs[1]' must be a string", 3, 6},
		{"exclude_dirs: {a: 1}\n",
		 "'exclude_dirs' must be a list of strings", 1, 1},
		{"preflight:\n  lock_timeout_ms: -5\n",
		 "'preflight.lock_timeout_ms' must be an integer", 2, 20},
		{"preflight:\n  statement_timeout_ms: 99999999999\n",
		 "'preflight.statement_timeout_ms' must be an integer", 2, 25},
		{"name: [a, b]\n", "'name' must be a string", 1, 1},
		{"database:\n  port: 99999\n",
		 "'database.port' must be an "
		 "integer between 1 and 65535",
		 2, 9},
		{"database: postgres\n", "'database' must be a mapping", 1, 11},
		{"migration:\n  tracking_table: 1bad\n",
		 "invalid tracking table name '1bad'", 2, 19},
		{"migration:\n  tracking_table: a.b.c\n",
		 "invalid tracking table name 'a.b.c'", 2, 19},
		{"database_url: mysql://u:topsecret@h/db\n",
		 "invalid database URL 'mysql://h/db'", 1, 15},
		{"database_url: localhost\n",
		 "invalid database URL 'localhost'", 1, 15},
		{"database_url: ''\n", "database URL is empty", 1, 15},
		{"- a\n- b\n", "must be a mapping", 1, 3},
		{"just a string\n", "must be a mapping", 1, 1},
		{"# only a comment\n\n", "is empty", 0, 0},
		{"---\n", "is empty", 0, 0},
		{"a: 1\n---\nb: 2\n", "more than one YAML document", 3, 1},
		{"name: *nope\n", "invalid YAML: invalid alias", 1, 8},
		{"? [a]\n: 1\n", "keys must be plain strings", 1, 4},
		{"name: \"a\\0b\"\n", "contains a NUL character", 1, 7},
		{"name: \xff\n", "not valid UTF-8", 1, 7},
		{"lint:\n  rules:\n    no-such-rule: off\n",
		 "unknown lint rule 'no-such-rule' in 'lint.rules'", 3, 5},
		{"lint:\n  rules:\n    drop-cascade: loud\n",
		 "'lint.rules.drop-cascade' must be off, warning or error", 3,
		 19},
		{"lint:\n  rules: [drop-cascade]\n",
		 "'lint.rules' must be a mapping", 2, 3},
	};
	char tmpl[] = "/tmp/cf_test_config_XXXXXX";
	char *dir = mkdtemp(tmpl);

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_file(dir, "c.yaml", cases[i].yaml);
		cf_config *cfg = NULL;
		cf_error *err = NULL;

		if (cf_config_load(path, &cfg, &err) != -1)
			fail_msg("row %zu: loaded", i);
		assert_null(cfg);
		assert_int_equal(err->kind, CF_ERR_CONFIG);
		assert_int_equal(err->severity, CF_SEV_ERROR);
		if (!strstr(err->message, cases[i].message))
			fail_msg("row %zu: message '%s'", i, err->message);
		assert_string_equal(err->file, path);
		if (err->line != cases[i].line ||
		    err->column != cases[i].column)
			fail_msg("row %zu: at %d:%d, expected %d:%d", i,
				 err->line, err->column, cases[i].line,
				 cases[i].column);
		assert_no_secret(err, "topsecret");
		cf_error_free(err);
		free(path);
	}
	remove_tree(dir);
}

static void
test_missing_file(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(cf_config_load(FIX "nope.yaml", &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_string_equal(err->message, "configuration file '" FIX
					  "nope.yaml' does not exist");
	cf_error_free(err);
	/* err == NULL is allowed */
	assert_int_equal(cf_config_load(FIX "nope.yaml", &cfg, NULL), -1);
}

/*
 * Bytes YAML cannot hold (found by fuzz/fuzz_config.c: a NUL crashed
 * libfyaml): a configuration error with file:line:col, never a crash.
 */
static void
test_nul_bytes(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		int line, column;
	} cases[] = {
		{"? ?  ? ?  ):     \t\0\0  #x   *", 26, 1, 19},
		{"name: a\ndatabase_url: x\0y\n", 27, 2, 16},
		{"\0", 1, 1, 1},
	};
	char tmpl[] = "/tmp/cf-test-config-XXXXXX";
	char *dir = mkdtemp(tmpl);

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = cf_asprintf("%s/nul.yaml", dir);
		FILE *f = fopen(path, "wb");
		cf_config *cfg = NULL;
		cf_error *err = NULL;

		assert_non_null(f);
		assert_int_equal(fwrite(cases[i].text, 1, cases[i].len, f),
				 cases[i].len);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(cf_config_load(path, &cfg, &err), -1);
		assert_null(cfg);
		assert_int_equal(err->kind, CF_ERR_CONFIG);
		assert_contains(err->message, "NUL byte");
		assert_int_equal(err->line, cases[i].line);
		assert_int_equal(err->column, cases[i].column);
		cf_error_free(err);
		free(path);
	}
	remove_tree(dir);
}

/* ------------------------------------------------------------------------
 * Setters
 * ------------------------------------------------------------------------ */

#define A15 "aaaaaaaaaaaaaaa"
#define A16 "aaaaaaaaaaaaaaaa"

/* Identifier rules: 63 bytes, bare or double-quoted, at most one dot. */
static void
test_tracking_table_names(void **state)
{
	static const struct {
		const char *input;
		bool ok;
		const char *schema;
		const char *name;
	} cases[] = {
		{"tb_confiture", true, NULL, "tb_confiture"},
		{"ops.tb_x", true, "ops", "tb_x"},
		{"TB_Conf", true, NULL, "tb_conf"},
		{"Ops.Tb", true, "ops", "tb"},
		{"_x$1", true, NULL, "_x$1"},
		{"\"My Table\"", true, NULL, "My Table"},
		{"\"a\"\"b\"", true, NULL, "a\"b"},
		{"\"my.schema\".t", true, "my.schema", "t"},
		{"s.\"T\"", true, "s", "T"},
		{A16 A16 A16 A15, true, NULL, A16 A16 A16 A15},
		{A16 A16 A16 A16, false, NULL, NULL},
		{"", false, NULL, NULL},
		{"1abc", false, NULL, NULL},
		{"$abc", false, NULL, NULL},
		{"a-b", false, NULL, NULL},
		{"a.b.c", false, NULL, NULL},
		{"a.", false, NULL, NULL},
		{".a", false, NULL, NULL},
		{"a b", false, NULL, NULL},
		{"\"\"", false, NULL, NULL},
		{"\"abc", false, NULL, NULL},
		{"\"a\"b", false, NULL, NULL},
		{"tb; drop table x", false, NULL, NULL},
		{"t\xc3\xa9", false, NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_config *cfg = cf_config_new_default();
		cf_error *err = NULL;
		int rc = cf_config_set_tracking_table(cfg, cases[i].input,
						      &err);

		if ((rc == 0) != cases[i].ok)
			fail_msg("row %zu '%s': rc %d", i, cases[i].input, rc);
		if (cases[i].ok) {
			assert_null(err);
			assert_string_equal(cfg->tracking_table,
					    cases[i].input);
			if (cases[i].schema)
				assert_string_equal(cfg->tracking_schema,
						    cases[i].schema);
			else
				assert_null(cfg->tracking_schema);
			assert_string_equal(cfg->tracking_name, cases[i].name);
		} else {
			assert_int_equal(err->kind, CF_ERR_CONFIG);
			assert_non_null(err->hint);
			/* unchanged on error */
			assert_string_equal(cfg->tracking_table,
					    CF_DEFAULT_TRACKING_TABLE);
			assert_null(cfg->tracking_schema);
			cf_error_free(err);
		}
		cf_config_free(cfg);
	}
}

static void
test_set_database_url(void **state)
{
	static const struct {
		const char *url;
		bool ok;
		const char *shown; /* expected in the message */
	} cases[] = {
		{"postgresql://u:pw@h/db", true, NULL},
		{"postgres://h/db", true, NULL},
		{"host=h dbname=db password=pw", true, NULL},
		{"mysql://u:topsecret@h/db", false, "'mysql://h/db'"},
		{"mysql://u:pw@h/db?password=pw", false,
		 "'mysql://h/db?password=***'"},
		{"localhost", false, "'localhost'"},
		{"postgresql:/u:topsecret@h", false, NULL},
		{"", false, "empty"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cf_config *cfg = cf_config_new_default();
		cf_error *err = NULL;
		int rc = cf_config_set_database_url(cfg, cases[i].url, &err);

		if ((rc == 0) != cases[i].ok)
			fail_msg("row %zu '%s': rc %d", i, cases[i].url, rc);
		if (cases[i].ok) {
			assert_string_equal(cfg->database_url, cases[i].url);
		} else {
			assert_null(cfg->database_url);
			assert_int_equal(err->kind, CF_ERR_CONFIG);
			if (cases[i].shown)
				assert_contains(err->message, cases[i].shown);
			assert_no_secret(err, "topsecret");
			cf_error_free(err);
		}
		cf_config_free(cfg);
	}
}

/* ------------------------------------------------------------------------
 * Hostile files: secrets, aliases, links, FIFOs
 * ------------------------------------------------------------------------ */

/* Loads text from a scratch file; returns the error (caller frees). */
static cf_error *
load_fails(const char *text)
{
	char dir[] = "/tmp/cf-test-config-XXXXXX";
	char *path;
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	assert_non_null(mkdtemp(dir));
	path = write_file(dir, "env.yaml", text);
	assert_int_equal(cf_config_load(path, &cfg, &err), -1);
	assert_null(cfg);
	assert_non_null(err);
	free(path);
	remove_tree(dir);
	return err;
}

/* Fails when secret shows in the error or its excerpt. */
static void
assert_hidden(const cf_error *e, const char *secret)
{
	assert_no_secret(e, secret);
	if (e->excerpt && strstr(e->excerpt, secret))
		fail_msg("secret '%s' in excerpt '%s'", secret, e->excerpt);
}

/*
 * A value from ${VAR} is never shown in a message, whatever its key: the
 * message shows the reference as written.
 */
static void
test_expanded_values_hidden(void **state)
{
	static const char *const files[] = {
		"database_url: postgresql:///x\n"
		"migration:\n  tracking_table: ${T_SECRET}\n",
		"database_url: ${T_SECRET}\n",
		"database_url: postgresql:///x\n"
		"migration:\n  locking:\n    timeout_ms: ${T_SECRET}\n",
		"database_url: postgresql:///x\n"
		"migration:\n  locking:\n    enabled: ${T_SECRET}\n",
		"database:\n  port: \"${T_SECRET}\"\n",
	};

	(void)state;
	setenv("T_SECRET", "postgresql://u:hunter2@h/db", 1);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		cf_error *e;
		char *text;

		if (i == 1) /* a valid database_url */
			continue;
		e = load_fails(files[i]);
		text = cf_asprintf("%s %s", e->message,
				   e->detail ? e->detail : "");

		assert_hidden(e, "hunter2");
		assert_contains(text, "${T_SECRET}");
		free(text);
		cf_error_free(e);
	}
	setenv("T_SECRET", "hunter2!", 1);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		cf_error *e = load_fails(files[i]);

		assert_hidden(e, "hunter2");
		cf_error_free(e);
	}
	unsetenv("T_SECRET");
}

/*
 * A database: block's password never shows: not in the excerpt of an
 * error on its line (flow mapping), nor through an alias to it, nor in
 * the excerpt of a syntax error.
 */
static void
test_block_password_hidden(void **state)
{
	static const char *const files[] = {
		"database: {host: h, password: hunter2, port: nope}\n",
		"database:\n  password: &p hunter2\n  port: *p\n",
		"database:\n  password: &p hunter2\n"
		"migration:\n  tracking_table: *p x\n",
		"database: {password: \"hunter2\n  more\", port: nope}\n",
		"database:\n  password: \"hunter2\n",
		"database:\n  password: hunter2\n  password: x\n",
		"database:\n  password:\n    hunter2\n  port: x\n",
		"database:\n  pasword: hunter2\n  port: x\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		cf_error *e = load_fails(files[i]);

		assert_hidden(e, "hunter2");
		if (e->line > 0)
			assert_non_null(e->excerpt);
		cf_error_free(e);
	}
}

/* Warnings carry a redacted excerpt too (the CLI never rereads the file). */
static void
test_warning_excerpts(void **state)
{
	char dir[] = "/tmp/cf-test-config-XXXXXX";
	char *path;
	cf_config *cfg = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = write_file(dir, "env.yaml",
			  "database: {password: hunter2, prt: 5}\n"
			  "pasword: hunter2\n");
	assert_int_equal(cf_config_load(path, &cfg, NULL), 0);
	assert_int_equal(cfg->warnings.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_non_null(cfg->warnings.items[i]->excerpt);
		assert_hidden(cfg->warnings.items[i], "hunter2");
	}
	assert_string_equal(cfg->warnings.items[0]->excerpt,
			    "database: {password: ***, prt: 5}");
	cf_config_free(cfg);
	free(path);
	remove_tree(dir);
}

/* "Billion laughs": refused before any expansion is built. */
static void
test_alias_bomb(void **state)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	cf_error *e;

	(void)state;
	cf_strbuf_addstr(&sb, "a: &a [x, x, x, x, x, x, x, x, x]\n");
	for (char c = 'b'; c <= 'i'; c++) {
		cf_strbuf_addf(&sb, "%c: &%c [", c, c);
		for (int i = 0; i < 9; i++)
			cf_strbuf_addf(&sb, "%s*%c", i ? ", " : "", c - 1);
		cf_strbuf_addstr(&sb, "]\n");
	}
	e = load_fails(sb.buf);
	assert_string_equal(e->code, "yaml-alias-limit");
	assert_int_equal(cf_error_exit_code(e), 2);
	assert_true(e->line > 0);
	cf_error_free(e);
	cf_strbuf_release(&sb);
}

/* A FIFO or device as a configuration file is refused without blocking. */
static void
test_config_not_regular(void **state)
{
	char dir[] = "/tmp/cf-test-config-XXXXXX";
	char *fifo;
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fifo = cf_asprintf("%s/env.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(cf_config_load(fifo, &cfg, &err), -1);
	assert_string_equal(err->code, "not-regular-file");
	cf_error_free(err);
	assert_int_equal(cf_config_load("/dev/zero", &cfg, &err), -1);
	assert_string_equal(err->code, "not-regular-file");
	assert_int_equal(cf_error_exit_code(err), 2);
	cf_error_free(err);
	free(fifo);
	remove_tree(dir);
}

/*
 * An environment file, or db/environments, that is a link out of the
 * project is refused before it is read; a link inside is fine.
 */
static void
test_env_symlinks(void **state)
{
	char proj[] = "/tmp/cf-test-config-XXXXXX";
	char out[] = "/tmp/cf-test-config-XXXXXX";
	char *envdir;
	char *link;
	char *secret;
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(proj));
	assert_non_null(mkdtemp(out));
	envdir = cf_asprintf("%s/db", proj);
	assert_int_equal(mkdir(envdir, 0700), 0);
	free(envdir);
	envdir = cf_asprintf("%s/db/environments", proj);
	assert_int_equal(mkdir(envdir, 0700), 0);
	secret = write_file(out, "secret.yaml", "TOPSECRET_KEY: value\n");
	free(write_file(proj, "shared.yaml", "database_url: postgres:///x\n"));
	link = cf_asprintf("%s/prod.yaml", envdir);
	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(cf_config_load_env(proj, "prod", &cfg, &err), -1);
	assert_string_equal(err->code, "symlink-outside-project");
	assert_int_equal(cf_error_exit_code(err), 2);
	assert_int_equal(err->line, 0);
	assert_hidden(err, "TOPSECRET");
	cf_error_free(err);

	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("../../shared.yaml", link), 0);
	assert_int_equal(cf_config_load_env(proj, "prod", &cfg, NULL), 0);
	assert_string_equal(cfg->database_url, "postgres:///x");
	cf_config_free(cfg);

	/* db/environments itself leading out */
	remove_tree(envdir);
	assert_int_equal(symlink(out, envdir), 0);
	assert_int_equal(cf_config_load_env(proj, "secret", &cfg, &err), -1);
	assert_string_equal(err->code, "symlink-outside-project");
	cf_error_free(err);

	free(envdir);
	free(link);
	free(secret);
	remove_tree(proj);
	remove_tree(out);
}

/* ------------------------------------------------------------------------
 * Environments
 * ------------------------------------------------------------------------ */

static void
test_load_env(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(cf_config_load_env(FIX "project", "local", &cfg, &err),
			 0);
	assert_string_equal(cfg->name, "local");
	assert_string_equal(cfg->path,
			    FIX "project/db/environments/local.yaml");
	assert_string_equal(cfg->database_url,
			    "postgresql://localhost/app_local");
	cf_config_free(cfg);

	assert_int_equal(
		cf_config_load_env(FIX "project", "staging", &cfg, &err), 0);
	assert_string_equal(cfg->name, "Staging");
	cf_config_free(cfg);
}

static void
test_bad_env_names(void **state)
{
	static const char *const bad[] = {
		"",   "../etc", "a/b", ".hidden",     "-x",
		"_x", "a..b",	"a b", "n\xc3\xa4me", "local/../../x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cf_config *cfg = NULL;
		cf_error *err = NULL;
		char *expected = cf_asprintf("invalid environment name '%s'",
					     bad[i]);

		assert_int_equal(
			cf_config_load_env(FIX "project", bad[i], &cfg, &err),
			-1);
		assert_null(cfg);
		assert_int_equal(err->kind, CF_ERR_USAGE);
		assert_string_equal(err->message, expected);
		assert_non_null(err->hint);
		cf_error_free(err);
		free(expected);
	}
}

static void
test_missing_env(void **state)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;
	char tmpl[] = "/tmp/cf_test_project_XXXXXX";
	char *dir;

	(void)state;
	/* valid names that do not exist; hint lists what does */
	assert_int_equal(
		cf_config_load_env(FIX "project", "prod-eu.1", &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_string_equal(err->message, "environment 'prod-eu.1' not found");
	assert_contains(err->detail,
			FIX "project/db/environments/prod-eu.1.yaml");
	assert_string_equal(err->hint, "available environments: local, "
				       "staging");
	cf_error_free(err);

	assert_int_equal(
		cf_config_load_env(FIX "project", "local.yaml", &cfg, &err),
		-1);
	assert_contains(err->hint, "--env local");
	cf_error_free(err);

	/* no environments at all: suggest confiture init */
	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	assert_int_equal(cf_config_load_env(dir, "local", &cfg, &err), -1);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_contains(err->hint, "confiture init");
	cf_error_free(err);
	remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_new_default),
		cmocka_unit_test(test_database_block),
		cmocka_unit_test(test_url_and_block),
		cmocka_unit_test(test_alias),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_env_unset),
		cmocka_unit_test(test_env_bad_reference),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_lint_rules),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_tracking_table_names),
		cmocka_unit_test(test_set_database_url),
		cmocka_unit_test(test_expanded_values_hidden),
		cmocka_unit_test(test_block_password_hidden),
		cmocka_unit_test(test_warning_excerpts),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_config_not_regular),
		cmocka_unit_test(test_env_symlinks),
		cmocka_unit_test(test_load_env),
		cmocka_unit_test(test_bad_env_names),
		cmocka_unit_test(test_missing_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
