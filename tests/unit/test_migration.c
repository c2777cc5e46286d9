/*
 * test_migration.c — unit tests for migration discovery and ordering
 * (migration.c) and for project scaffolding and migration generation
 * (scaffold.c).
 *
 * Discovery cases live in fixtures/migration/<case>/; cases that need odd
 * file names or generated content are built in a mkdtemp() directory.
 * The cf_migration_set_parse() tests also exercise script.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pg_query.h>

#include "base/base.h"

#define FIXTURES "fixtures/migration/"

/* ---- helpers ---------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a directory tree made by a test. */
static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; caller frees and rm_tree()s it. */
static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/cf-test-migration-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return cf_strdup(tmpl);
}

/* Writes content to dir/file; returns 0 or errno. */
static int
put_file(const char *dir, const char *file, const char *content)
{
	char *path = cf_asprintf("%s/%s", dir, file);
	FILE *f = fopen(path, "wb");
	int saved = errno;

	free(path);
	if (!f)
		return saved;
	fputs(content, f);
	fclose(f);
	return 0;
}

static char *
slurp(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	cf_error *err = NULL;

	if (cf_read_file(path, &data, &len, &err) != 0) {
		fail_msg("cannot read %s: %s", path, err->message);
	}
	return data;
}

static cf_migration_set *
discover_ok(const char *dir)
{
	cf_migration_set *set = NULL;
	cf_error *err = NULL;

	if (cf_migration_set_discover(dir, &set, &err) != 0)
		fail_msg("discover %s: %s", dir, err->message);
	assert_non_null(set);
	return set;
}

/* Number of problems in the set with this code. */
static size_t
count_code(const cf_migration_set *set, const char *code)
{
	size_t n = 0;

	for (size_t i = 0; i < set->problems.n; i++)
		if (set->problems.items[i]->code &&
		    strcmp(set->problems.items[i]->code, code) == 0)
			n++;
	return n;
}

/* The first problem with this code; fails the test if there is none. */
static const cf_error *
problem(const cf_migration_set *set, const char *code)
{
	for (size_t i = 0; i < set->problems.n; i++)
		if (set->problems.items[i]->code &&
		    strcmp(set->problems.items[i]->code, code) == 0)
			return set->problems.items[i];
	fail_msg("no problem with code '%s'", code);
	return NULL;
}

/* Checks the set's versions, in order, against a NULL-terminated list. */
static void
assert_versions(const cf_migration_set *set, const char *const *expected)
{
	size_t n = 0;

	while (expected[n])
		n++;
	assert_int_equal(set->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(set->items[i].version, expected[i]);
}

/* ---- cf_version_compare ----------------------------------------------- */

static void
test_version_compare(void **state)
{
	static const struct {
		const char *a, *b;
		bool numeric;
		int expected;
	} cases[] = {
		{"9", "10", true, -1},
		{"9", "10", false, 1},
		{"10", "9", true, 1},
		{"001", "2", true, -1},
		{"001", "2", false, -1},
		{"010", "9", true, 1},
		{"010", "9", false, -1},
		{"001", "1", true, 0},
		{"001", "1", false, -1},
		{"0", "000", true, 0},
		{"0", "1", true, -1},
		{"20240101120000", "20240101120001", true, -1},
		{"99999999999999999999", "100000000000000000000", true, -1},
		{"100000000000000000000", "99999999999999999999", true, 1},
		{"123456789012345678901234567890",
		 "0123456789012345678901234567890", true, 0},
		{"v1", "v10", false, -1},
		{"v10", "v2", false, -1},
		{"v2", "v10", true, 1}, /* not all digits: bytewise */
		{"a", "a", false, 0},
		{"A", "a", false, -1},
		{"2", "", true, 1}, /* empty is not a number */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = cf_version_compare(cases[i].a, cases[i].b,
					     cases[i].numeric);

		if (got != cases[i].expected)
			fail_msg("compare('%s', '%s', %d) = %d, want %d",
				 cases[i].a, cases[i].b, cases[i].numeric, got,
				 cases[i].expected);
	}
}

/* ---- discovery -------------------------------------------------------- */

static void
test_discover_ok(void **state)
{
	static const char *const versions[] = {"1", "2", "10", NULL};
	cf_migration_set *set = discover_ok(FIXTURES "ok");

	(void)state;
	assert_int_equal(set->problems.n, 0);
	assert_string_equal(set->dir, FIXTURES "ok");
	assert_versions(set, versions);
	assert_string_equal(set->items[0].name, "create_users");
	assert_string_equal(set->items[0].up_path,
			    FIXTURES "ok/1_create_users.up.sql");
	assert_string_equal(set->items[0].down_path,
			    FIXTURES "ok/1_create_users.down.sql");
	assert_null(set->items[0].py_path);
	assert_string_equal(set->items[1].name, "add_email");
	assert_null(set->items[1].down_path);
	assert_string_equal(set->items[2].name, "index_email");
	assert_non_null(set->items[2].down_path);
	for (size_t i = 0; i < set->n; i++) {
		assert_string_equal(set->items[i].checksum, "");
		assert_null(set->items[i].up);
	}
	assert_int_equal(cf_migration_set_find(set, "1"), 0);
	assert_int_equal(cf_migration_set_find(set, "10"), 2);
	assert_int_equal(cf_migration_set_find(set, "010"), -1);
	assert_int_equal(cf_migration_set_find(set, "3"), -1);
	cf_migration_set_free(set);
}

static void
test_discover_trailing_slash(void **state)
{
	cf_migration_set *set = discover_ok(FIXTURES "ok/");

	(void)state;
	assert_int_equal(set->n, 3);
	assert_string_equal(set->items[0].up_path,
			    FIXTURES "ok/1_create_users.up.sql");
	cf_migration_set_free(set);
}

static void
test_discover_bytewise(void **state)
{
	static const char *const versions[] = {"20240101", "v1", "v10", "v2",
					       NULL};
	cf_migration_set *set = discover_ok(FIXTURES "bytewise");

	(void)state;
	assert_int_equal(set->problems.n, 0);
	assert_versions(set, versions);
	cf_migration_set_free(set);
}

static void
test_discover_duplicate(void **state)
{
	static const char *const versions[] = {"001", "003", NULL};
	cf_migration_set *set = discover_ok(FIXTURES "duplicate");
	const cf_error *e;

	(void)state;
	assert_versions(set, versions);
	/* the first file by name is kept, the other reported */
	assert_string_equal(set->items[1].name, "a");
	assert_null(set->items[1].down_path);
	assert_int_equal(set->problems.n, 1); /* no orphan-down for 003_b */
	e = problem(set, "duplicate-version");
	assert_int_equal(e->severity, CF_SEV_ERROR);
	assert_int_equal(e->kind, CF_ERR_FILE);
	assert_string_equal(e->message, "duplicate migration version '003'");
	assert_string_equal(e->detail, "'003_a.up.sql' and '003_b.up.sql' "
				       "share the version");
	assert_string_equal(e->hint, "rename one of them");
	assert_string_equal(e->file, FIXTURES "duplicate/003_b.up.sql");
	assert_int_equal(cf_migration_set_parse(set, true), -1);
	cf_migration_set_free(set);
}

static void
test_discover_duplicate_numeric(void **state)
{
	static const char *const versions[] = {"001", "2", NULL};
	cf_migration_set *set = discover_ok(FIXTURES "duplicate-numeric");
	const cf_error *e;

	(void)state;
	assert_versions(set, versions);
	assert_int_equal(count_code(set, "duplicate-version"), 1);
	e = problem(set, "duplicate-version");
	assert_non_null(strstr(e->detail, "'001_a.up.sql'"));
	assert_non_null(strstr(e->detail, "'1_b.up.sql'"));
	cf_migration_set_free(set);
}

static void
test_discover_python(void **state)
{
	static const char *const versions[] = {"001", "003", NULL};
	cf_migration_set *set = discover_ok(FIXTURES "py");
	const cf_error *e;

	(void)state;
	assert_versions(set, versions);
	assert_string_equal(set->items[1].name, "add_x");
	assert_null(set->items[1].up_path);
	assert_string_equal(set->items[1].py_path, FIXTURES "py/003_add_x.py");
	assert_int_equal(set->problems.n, 1); /* __init__.py ignored */
	e = problem(set, "python-migration");
	assert_int_equal(e->severity, CF_SEV_ERROR);
	assert_string_equal(e->message,
			    "Python migration '003_add_x.py' is not supported");
	assert_string_equal(e->hint,
			    "rewrite it as 003_add_x.up.sql (and .down.sql), "
			    "or run it with the Python confiture");
	cf_migration_set_free(set);
}

static void
test_discover_orphan_down(void **state)
{
	cf_migration_set *set = discover_ok(FIXTURES "orphan-down");
	const cf_error *e;

	(void)state;
	assert_int_equal(set->n, 1);
	assert_non_null(set->items[0].down_path);
	assert_int_equal(set->problems.n, 1);
	e = problem(set, "orphan-down");
	assert_int_equal(e->severity, CF_SEV_ERROR);
	assert_non_null(strstr(e->message, "'002_b.down.sql'"));
	assert_string_equal(e->file, FIXTURES "orphan-down/002_b.down.sql");
	assert_non_null(strstr(e->hint, "002_b.up.sql"));
	cf_migration_set_free(set);
}

static void
test_discover_bad_names(void **state)
{
	static const char *const versions[] = {"003", NULL};
	static const char *const files[] = {
		"001_x.sql",
		"002_.up.sql",
		"_x.up.sql",
		"noversion.up.sql",
	};
	cf_migration_set *set = discover_ok(FIXTURES "bad-name");
	const cf_error *e;

	(void)state;
	assert_versions(set, versions);
	assert_int_equal(set->problems.n, 4);
	assert_int_equal(count_code(set, "bad-file-name"), 4);
	/* problems come out in file-name order */
	for (size_t i = 0; i < 4; i++) {
		char *path = cf_asprintf(FIXTURES "bad-name/%s", files[i]);

		assert_string_equal(set->problems.items[i]->file, path);
		assert_non_null(
			strstr(set->problems.items[i]->message, files[i]));
		assert_non_null(set->problems.items[i]->hint);
		free(path);
	}
	e = set->problems.items[0];
	assert_string_equal(e->message,
			    "migration file '001_x.sql' must end in .up.sql");
	assert_string_equal(e->hint, "rename it to 001_x.up.sql");
	cf_migration_set_free(set);
}

static void
test_discover_missing_dir(void **state)
{
	cf_migration_set *set = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(
		cf_migration_set_discover(FIXTURES "no-such-dir", &set, &err),
		-1);
	assert_null(set);
	assert_non_null(err);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_string_equal(err->message, "migrations directory '" FIXTURES
					  "no-such-dir' does not exist");
	assert_string_equal(err->hint,
			    "run 'confiture init' or pass --migrations-dir");
	cf_error_free(err);

	/* a file is not a directory */
	assert_int_equal(
		cf_migration_set_discover(FIXTURES "ok/README.md", &set, &err),
		-1);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	cf_error_free(err);
}

static void
test_discover_empty_and_odd(void **state)
{
	char *dir = make_tmpdir();
	char *sub;
	cf_migration_set *set;

	(void)state;
	set = discover_ok(dir);
	assert_int_equal(set->n, 0);
	assert_int_equal(set->problems.n, 0);
	assert_int_equal(cf_migration_set_parse(set, true), 0);
	cf_migration_set_free(set);

	/* a directory named like a migration is not one */
	sub = cf_asprintf("%s/004_dir.up.sql", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	assert_int_equal(put_file(dir, "notes.txt", "x"), 0);
	set = discover_ok(dir);
	assert_int_equal(set->n, 0);
	assert_int_equal(set->problems.n, 0);
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
}

/* Discovery in dir for project root; returns the error (caller frees). */
static cf_error *
discover_fails(const char *dir, const char *root)
{
	cf_migration_set *set = NULL;
	cf_error *err = NULL;

	assert_int_equal(cf_migration_set_discover_in(dir, root, &set, &err),
			 -1);
	assert_null(set);
	assert_non_null(err);
	return err;
}

/*
 * A symbolic link leading out of the project is refused before anything
 * reads it (exit 2, nothing of the target shown); one inside is followed.
 */
static void
test_discover_symlinks(void **state)
{
	char *proj = make_tmpdir();
	char *outside = make_tmpdir();
	char *mig = cf_asprintf("%s/db/migrations", proj);
	char *link = cf_asprintf("%s/001_x.up.sql", mig);
	char *target = cf_asprintf("%s/secret.sql", outside);
	char *dbdir = cf_asprintf("%s/db", proj);
	cf_migration_set *set;
	cf_error *err;

	(void)state;
	assert_int_equal(mkdir(dbdir, 0700), 0);
	assert_int_equal(mkdir(mig, 0700), 0);
	assert_int_equal(put_file(outside, "secret.sql", "TOPSECRET;\n"), 0);
	assert_int_equal(put_file(proj, "shared.sql", "SELECT 1;\n"), 0);
	assert_int_equal(symlink(target, link), 0);
	err = discover_fails(mig, proj);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_int_equal(cf_error_exit_code(err), 2);
	assert_string_equal(err->code, "symlink-outside-project");
	assert_string_equal(err->file, link);
	assert_int_equal(err->line, 0);
	assert_null(strstr(err->message, "TOPSECRET"));
	assert_null(strstr(err->detail, "TOPSECRET"));
	cf_error_free(err);
	/* without a project the directory itself is the limit */
	err = discover_fails(mig, NULL);
	assert_string_equal(err->code, "symlink-outside-project");
	cf_error_free(err);

	/* a link inside the project is followed */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("../../shared.sql", link), 0);
	assert_int_equal(cf_migration_set_discover_in(mig, proj, &set, NULL),
			 0);
	assert_int_equal(set->n, 1);
	assert_int_equal(cf_migration_set_parse(set, false), 0);
	cf_migration_set_free(set);

	/* a migrations directory that is a link out of the project */
	rm_tree(mig);
	assert_int_equal(symlink(outside, mig), 0);
	err = discover_fails(mig, proj);
	assert_string_equal(err->code, "symlink-outside-project");
	cf_error_free(err);

	rm_tree(proj);
	rm_tree(outside);
	free(proj);
	free(outside);
	free(mig);
	free(link);
	free(target);
	free(dbdir);
}

/*
 * A FIFO named like a migration is refused at discovery, without blocking;
 * a name with a control character is a bad name, never a migration.
 */
static void
test_discover_fifo_and_control(void **state)
{
	char *dir = make_tmpdir();
	char *fifo = cf_asprintf("%s/001_pipe.up.sql", dir);
	cf_migration_set *set;
	cf_error *err;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	err = discover_fails(dir, NULL);
	assert_string_equal(err->code, "not-regular-file");
	assert_int_equal(cf_error_exit_code(err), 2);
	assert_string_equal(err->detail, "it is a named pipe (FIFO)");
	cf_error_free(err);
	assert_int_equal(unlink(fifo), 0);

	assert_int_equal(put_file(dir, "002_\033[2Jx.up.sql", "SELECT 1;"), 0);
	set = discover_ok(dir);
	assert_int_equal(set->n, 0);
	assert_string_equal(problem(set, "bad-file-name")->detail,
			    "the name contains a control character");
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
	free(fifo);
}

static void
test_discover_long_versions(void **state)
{
	char *dir = make_tmpdir();
	char version[300], *file;
	cf_migration_set *set;

	(void)state;
	/* numbers beyond 64 bits still order numerically */
	assert_int_equal(put_file(dir, "99999999999999999999_a.up.sql", ""), 0);
	assert_int_equal(put_file(dir, "100000000000000000000_b.up.sql", ""),
			 0);
	/* the longest version a 255-byte file name can hold is accepted */
	memset(version, '7', 246);
	version[246] = '\0';
	file = cf_asprintf("%s_c.up.sql", version);
	assert_int_equal(strlen(file), 255);
	assert_int_equal(put_file(dir, file, ""), 0);
	free(file);

	set = discover_ok(dir);
	assert_int_equal(set->problems.n, 0);
	assert_int_equal(set->n, 3);
	assert_string_equal(set->items[0].version, "99999999999999999999");
	assert_string_equal(set->items[1].version, "100000000000000000000");
	assert_string_equal(set->items[2].version, version);
	cf_migration_set_free(set);

	rm_tree(dir);
	free(dir);
}

/*
 * A version over 255 bytes cannot fit in a 255-byte file name: either the
 * file system refuses the name, or discovery must report the version.
 * (cmocka 1.1.5 prints skips as "not ok" in TAP, so this does not skip.)
 */
static void
test_discover_version_too_long(void **state)
{
	char *dir = make_tmpdir();
	char version[300], *file;
	cf_migration_set *set;
	int rc;

	(void)state;
	memset(version, '8', 256);
	version[256] = '\0';
	file = cf_asprintf("%s_d.up.sql", version);
	rc = put_file(dir, file, "");
	free(file);
	if (rc == 0) {
		set = discover_ok(dir);
		assert_int_equal(count_code(set, "version-too-long"), 1);
		assert_int_equal(set->n, 0);
		cf_migration_set_free(set);
	}
	rm_tree(dir);
	free(dir);
	if (rc != 0)
		assert_int_equal(rc, ENAMETOOLONG);
}

/* ---- parsing (needs script.c) ----------------------------------------- */

static void
test_parse_ok(void **state)
{
	static const char *const sums[] = {
		"3456c330330e5584db1ea42d855fe843569a61c7c200bd34b52f8f9c03b28f0d",
		"315473a27c3413dbff149b4a3c0b90484b02dceb4ce8ba601f55ebeb0a39f6c4",
		"6ecf2476cd91d057b4509965fc216db3f1326b43213ac9c7fa713e5cddeef4ba",
	};
	cf_migration_set *set = discover_ok(FIXTURES "ok");

	(void)state;
	assert_int_equal(cf_migration_set_parse(set, false), 0);
	for (size_t i = 0; i < set->n; i++) {
		assert_string_equal(set->items[i].checksum, sums[i]);
		assert_non_null(set->items[i].up);
		assert_int_equal(set->items[i].up->n_stmts, 1);
		assert_null(set->items[i].down);
	}
	/* a second call adds the downs and keeps the ups */
	assert_int_equal(cf_migration_set_parse(set, true), 0);
	assert_non_null(set->items[0].down);
	assert_null(set->items[1].down);
	assert_non_null(set->items[2].down);
	assert_string_equal(set->items[0].checksum, sums[0]);
	assert_int_equal(set->problems.n, 0);
	cf_migration_set_free(set);
}

static void
test_parse_bad_file(void **state)
{
	char *dir = make_tmpdir();
	cf_migration_set *set;

	(void)state;
	assert_int_equal(put_file(dir, "001_ok.up.sql", "SELECT 1;\n"), 0);
	assert_int_equal(
		put_file(dir, "002_bad.up.sql", "SELECT '\xC3\x28';\n"), 0);
	set = discover_ok(dir);
	assert_int_equal(set->problems.n, 0);
	assert_int_equal(cf_migration_set_parse(set, true), -1);
	assert_true(cf_error_list_count(&set->problems, CF_SEV_ERROR) >= 1);
	/* the checksum does not depend on the content being valid */
	assert_int_equal(strlen(set->items[1].checksum), 64);
	assert_int_equal(strlen(set->items[0].checksum), 64);
	assert_non_null(set->items[0].up);
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
}

static void
test_parse_unreadable(void **state)
{
	char *dir = make_tmpdir();
	char *path;
	cf_migration_set *set;
	const cf_error *e;

	(void)state;
	assert_int_equal(put_file(dir, "001_ok.up.sql", "SELECT 1;\n"), 0);
	set = discover_ok(dir);
	path = cf_asprintf("%s/001_ok.up.sql", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cf_migration_set_parse(set, false), -1);
	e = problem(set, "unreadable-file");
	assert_string_equal(e->file, path);
	assert_string_equal(set->items[0].checksum, "");
	free(path);
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
}

/* ---- scaffolding ------------------------------------------------------ */

static size_t
list_len(char **list)
{
	size_t n = 0;

	while (list[n])
		n++;
	return n;
}

static void
free_list(char **list)
{
	for (size_t i = 0; list[i]; i++)
		free(list[i]);
	free(list);
}

static bool
list_has(char **list, const char *path)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], path) == 0)
			return true;
	return false;
}

static void
test_scaffold(void **state)
{
	static const char *const expected[] = {
		"",
		"/db",
		"/db/migrations",
		"/db/environments",
		"/db/schema",
		"/db/seeds",
		"/db/environments/local.yaml",
		"/db/migrations/.gitkeep",
	};
	char *tmp = make_tmpdir();
	char *proj = cf_asprintf("%s/My-Project.2", tmp);
	char **created = NULL;
	cf_error *err = NULL;
	char *path, *yaml;
	cf_migration_set *set;

	(void)state;
	assert_int_equal(cf_scaffold_project(proj, &created, &err), 0);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		path = cf_asprintf("%s%s", proj, expected[i]);
		if (!list_has(created, path))
			fail_msg("'%s' not in created list", path);
		free(path);
	}
	assert_int_equal(list_len(created), 10);
	free_list(created);

	path = cf_asprintf("%s/db/environments/local.yaml", proj);
	yaml = slurp(path);
	free(path);
	assert_non_null(strstr(yaml, "\nname: local\n"));
	assert_non_null(strstr(yaml, "\ndatabase_url: postgresql://localhost/"
				     "my_project_2_local\n"));
	assert_non_null(strstr(yaml, "\nmigration:\n  "));
	assert_non_null(strstr(yaml, "\n  tracking_table: tb_confiture\n"));
	assert_non_null(strstr(yaml, "\n    timeout_ms: 30000\n"));
	free(yaml);

	/* the new migrations directory discovers as an empty set */
	path = cf_asprintf("%s/db/migrations", proj);
	set = discover_ok(path);
	assert_int_equal(set->n, 0);
	assert_int_equal(set->problems.n, 0);
	cf_migration_set_free(set);
	free(path);

	/* idempotent: a second run creates nothing */
	created = NULL;
	assert_int_equal(cf_scaffold_project(proj, &created, &err), 0);
	assert_non_null(created);
	assert_null(created[0]);
	free_list(created);

	/* NULL created is allowed */
	assert_int_equal(cf_scaffold_project(proj, NULL, &err), 0);
	free(proj);
	rm_tree(tmp);
	free(tmp);
}

static void
test_scaffold_keeps_files(void **state)
{
	char *tmp = make_tmpdir();
	char *path, *yaml;
	char **created = NULL;
	cf_error *err = NULL;

	(void)state;
	path = cf_asprintf("%s/db", tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	path = cf_asprintf("%s/db/environments", tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	assert_int_equal(
		put_file(tmp, "db/environments/local.yaml", "name: mine\n"), 0);

	assert_int_equal(cf_scaffold_project(tmp, &created, &err), 0);
	path = cf_asprintf("%s/db/environments/local.yaml", tmp);
	assert_false(list_has(created, path));
	yaml = slurp(path);
	assert_string_equal(yaml, "name: mine\n");
	free(yaml);
	free(path);
	path = cf_asprintf("%s/db/migrations", tmp);
	assert_true(list_has(created, path));
	free(path);
	assert_int_equal(list_len(created), 6);
	free_list(created);
	rm_tree(tmp);
	free(tmp);
}

static void
test_scaffold_blocked(void **state)
{
	char *tmp = make_tmpdir();
	char **created = NULL;
	cf_error *err = NULL;
	char *path;

	(void)state;
	/* a plain file where db/ should be */
	assert_int_equal(put_file(tmp, "db", "x"), 0);
	assert_int_equal(cf_scaffold_project(tmp, &created, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->kind, CF_ERR_IO);
	path = cf_asprintf("'%s/db' exists and is not a directory", tmp);
	assert_string_equal(err->message, path);
	free(path);
	assert_non_null(err->hint);
	assert_non_null(created);
	assert_null(created[0]);
	free_list(created);
	cf_error_free(err);
	rm_tree(tmp);
	free(tmp);
}

/* ---- generating migrations -------------------------------------------- */

static void
test_generate(void **state)
{
	char *dir = make_tmpdir();
	char *up = NULL, *down = NULL, *text, *pattern;
	cf_error *err = NULL;
	cf_migration_set *set;
	regex_t re;

	(void)state;
	assert_int_equal(
		cf_generate_migration(dir, "add_users_2", &up, &down, &err), 0);
	assert_null(err);
	pattern = cf_asprintf("^%s/[0-9]{14}_add_users_2\\.up\\.sql$", dir);
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, up, 0, NULL, 0), 0);
	regfree(&re);
	free(pattern);
	pattern = cf_asprintf("^%s/[0-9]{14}_add_users_2\\.down\\.sql$", dir);
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, down, 0, NULL, 0), 0);
	regfree(&re);
	free(pattern);

	text = slurp(up);
	assert_int_equal(regcomp(&re,
				 "^-- Migration: add_users_2\n"
				 "-- Created: [0-9]{4}-[0-9]{2}-[0-9]{2}T"
				 "[0-9]{2}:[0-9]{2}:[0-9]{2}[-+][0-9]{4}\n\n$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	free(text);
	text = slurp(down);
	assert_non_null(strstr(text, "-- Migration: add_users_2"));
	free(text);

	/* the pair discovers as one migration with a down file */
	set = discover_ok(dir);
	assert_int_equal(set->n, 1);
	assert_int_equal(set->problems.n, 0);
	assert_string_equal(set->items[0].name, "add_users_2");
	assert_string_equal(set->items[0].up_path, up);
	assert_string_equal(set->items[0].down_path, down);
	assert_int_equal(strlen(set->items[0].version), 14);
	cf_migration_set_free(set);
	free(up);
	free(down);
	rm_tree(dir);
	free(dir);
}

static void
test_generate_bad_names(void **state)
{
	static const char *const names[] = {
		"",	"Add_users", "add-users", "add users", "caf\xC3\xA9",
		"../x", "x.sql",
	};
	char *dir = make_tmpdir();
	char *up = NULL, *down = NULL, *longname;
	cf_error *err = NULL;
	cf_migration_set *set;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (cf_generate_migration(dir, names[i], &up, &down, &err) !=
		    -1)
			fail_msg("name '%s' was accepted", names[i]);
		assert_int_equal(err->kind, CF_ERR_USAGE);
		assert_non_null(err->hint);
		cf_error_free(err);
		err = NULL;
	}
	longname = cf_malloc(300);
	memset(longname, 'a', 299);
	longname[299] = '\0';
	assert_int_equal(cf_generate_migration(dir, longname, &up, &down, &err),
			 -1);
	assert_int_equal(err->kind, CF_ERR_USAGE);
	cf_error_free(err);
	err = NULL;
	free(longname);
	assert_null(up);
	assert_null(down);

	set = discover_ok(dir);
	assert_int_equal(set->n, 0);
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
}

static void
test_generate_missing_dir(void **state)
{
	char *up = NULL, *down = NULL;
	cf_error *err = NULL;

	(void)state;
	assert_int_equal(cf_generate_migration(FIXTURES "no-such-dir", "x", &up,
					       &down, &err),
			 -1);
	assert_int_equal(err->kind, CF_ERR_CONFIG);
	assert_non_null(strstr(err->message, "does not exist"));
	assert_non_null(err->hint);
	cf_error_free(err);
}

static void
test_generate_clash(void **state)
{
	char *dir = make_tmpdir();
	char *up = NULL, *down = NULL, *file;
	cf_error *err = NULL;
	time_t now = time(NULL);
	cf_migration_set *set;

	(void)state;
	/* occupy this second and the next few, whatever the clock does */
	for (int i = 0; i < 5; i++) {
		time_t t = now + i;
		struct tm tm;
		char ts[32];

		localtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
		file = cf_asprintf("%s_other.up.sql", ts);
		assert_int_equal(put_file(dir, file, "SELECT 1;\n"), 0);
		free(file);
	}
	assert_int_equal(cf_generate_migration(dir, "mine", &up, &down, &err),
			 -1);
	assert_int_equal(err->kind, CF_ERR_USAGE);
	assert_non_null(strstr(err->message, "already exists"));
	assert_non_null(strstr(err->detail, "_other.up.sql"));
	cf_error_free(err);
	set = discover_ok(dir);
	assert_int_equal(set->n, 5);
	for (size_t i = 0; i < set->n; i++)
		assert_string_equal(set->items[i].name, "other");
	cf_migration_set_free(set);
	rm_tree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_compare),
		cmocka_unit_test(test_discover_ok),
		cmocka_unit_test(test_discover_trailing_slash),
		cmocka_unit_test(test_discover_bytewise),
		cmocka_unit_test(test_discover_duplicate),
		cmocka_unit_test(test_discover_duplicate_numeric),
		cmocka_unit_test(test_discover_python),
		cmocka_unit_test(test_discover_orphan_down),
		cmocka_unit_test(test_discover_bad_names),
		cmocka_unit_test(test_discover_missing_dir),
		cmocka_unit_test(test_discover_empty_and_odd),
		cmocka_unit_test(test_discover_symlinks),
		cmocka_unit_test(test_discover_fifo_and_control),
		cmocka_unit_test(test_discover_long_versions),
		cmocka_unit_test(test_discover_version_too_long),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad_file),
		cmocka_unit_test(test_parse_unreadable),
		cmocka_unit_test(test_scaffold),
		cmocka_unit_test(test_scaffold_keeps_files),
		cmocka_unit_test(test_scaffold_blocked),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_generate_bad_names),
		cmocka_unit_test(test_generate_missing_dir),
		cmocka_unit_test(test_generate_clash),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	pg_query_exit(); /* release libpg_query's caches for valgrind */
	return failed;
}
