/*
 * scaffold.c — creating a project layout ('confiture init') and new
 * migration files ('confiture migrate generate').
 *
 * Neither function ever overwrites a file: init skips what exists, and
 * generate creates its files with O_EXCL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

/* A NULL-terminated list of created paths, handed to the caller at the end. */
typedef struct path_list {
	char **items;
	size_t n;
	size_t alloc;
} path_list;

static void
path_list_add(path_list *l, char *path)
{
	CF_GROW(l->items, l->alloc, l->n + 2);
	l->items[l->n++] = path;
	l->items[l->n] = NULL;
}

/* Hands the list to *out (always a NULL-terminated array), or frees it. */
static void
path_list_finish(path_list *l, char ***out)
{
	if (out) {
		if (!l->items)
			l->items = cf_calloc(1, sizeof(char *));
		*out = l->items;
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
}

/*
 * Creates directory path unless it exists.  Returns 1 when created, 0 when
 * it was already there, -1 (with *err) otherwise.
 */
static int
ensure_dir(const char *path, cf_error **err)
{
	struct stat st;
	cf_error *e;

	if (mkdir(path, 0777) == 0)
		return 1;
	if (errno == EEXIST) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		e = cf_error_new(CF_ERR_IO,
				 "'%s' exists and is not a "
				 "directory",
				 path);
		cf_error_set_hint(e, "move the file out of the way and run "
				     "'confiture init' again");
		return cf_fail(err, e);
	}
	e = cf_error_new(CF_ERR_IO, "cannot create directory '%s': %s", path,
			 strerror(errno));
	return cf_fail(err, e);
}

/*
 * Writes content to a new file at path, failing if the file exists
 * (O_EXCL).  Returns 1 when written, 0 when the file already existed (and
 * skip_existing is set), -1 with *err otherwise.  A partly written file is
 * removed.
 */
static int
write_new_file(const char *path, const char *content, bool skip_existing,
	       cf_error **err)
{
	size_t len = strlen(content), off = 0;
	cf_error *e;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		if (errno == EEXIST && skip_existing)
			return 0;
		e = cf_error_new(CF_ERR_IO, "cannot create '%s': %s", path,
				 strerror(errno));
		return cf_fail(err, e);
	}
	while (off < len) {
		ssize_t w = write(fd, content + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return 1;

fail:
	e = cf_error_new(CF_ERR_IO, "cannot write '%s': %s", path,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return cf_fail(err, e);
}

/*
 * A database name for the example URL: the project directory's name,
 * lowercased, with anything outside [a-z0-9_] turned into '_'.  Caller
 * frees.
 */
static char *
project_db_name(const char *project_dir)
{
	char *real = realpath(project_dir, NULL);
	const char *base = real ? real : project_dir;
	const char *slash = strrchr(base, '/');
	cf_strbuf sb = CF_STRBUF_INIT;

	if (slash && slash[1] != '\0')
		base = slash + 1;
	for (const char *p = base; *p && *p != '/'; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '_';
		cf_strbuf_addch(&sb, c);
	}
	free(real);
	if (sb.len == 0 || strspn(sb.buf, "_") == sb.len) {
		cf_strbuf_release(&sb);
		cf_strbuf_addstr(&sb, "app");
	}
	return cf_strbuf_detach(&sb);
}

/* The commented example written to db/environments/local.yaml. */
static char *
local_yaml(const char *dbname)
{
	return cf_asprintf(
		"# Environment 'local' for confiture.\n"
		"#\n"
		"# Select it with 'confiture migrate up --env local'.  Values "
		"may use ${VAR}\n"
		"# to read environment variables, e.g. "
		"postgresql://app:${DB_PASSWORD}@host/db\n"
		"name: local\n"
		"database_url: postgresql://localhost/%s_local\n"
		"\n"
		"migration:\n"
		"  # Table that records applied migrations (shared with the "
		"Python tool).\n"
		"  tracking_table: %s\n"
		"  locking:\n"
		"    enabled: true\n"
		"    # How long to wait for another run's advisory lock.\n"
		"    timeout_ms: %d\n",
		dbname, CF_DEFAULT_TRACKING_TABLE, CF_DEFAULT_LOCK_TIMEOUT_MS);
}

/*
 * Creates the project layout under project_dir (itself created if
 * missing).  Existing directories and files are left alone.  When created
 * is not NULL it receives the paths created, as a NULL-terminated array,
 * on success and on failure alike (what was made before the failure).
 */
int
cf_scaffold_project(const char *project_dir, char ***created, cf_error **err)
{
	static const char *const dirs[] = {
		"db",	     "db/migrations", "db/environments",
		"db/schema", "db/seeds",
	};
	static const char *const keep[] = {
		"db/migrations/.gitkeep",
		"db/schema/.gitkeep",
		"db/seeds/.gitkeep",
	};
	path_list list = {NULL, 0, 0};
	char *path, *dbname, *yaml;
	int rc;

	rc = ensure_dir(project_dir, err);
	if (rc < 0)
		goto out;
	if (rc > 0)
		path_list_add(&list, cf_strdup(project_dir));

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path = cf_path_join(project_dir, dirs[i]);
		rc = ensure_dir(path, err);
		if (rc > 0)
			path_list_add(&list, path);
		else
			free(path);
		if (rc < 0)
			goto out;
	}

	dbname = project_db_name(project_dir);
	yaml = local_yaml(dbname);
	free(dbname);
	path = cf_path_join(project_dir, "db/environments/local.yaml");
	rc = write_new_file(path, yaml, true, err);
	free(yaml);
	if (rc > 0)
		path_list_add(&list, path);
	else
		free(path);
	if (rc < 0)
		goto out;

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		path = cf_path_join(project_dir, keep[i]);
		rc = write_new_file(path, "", true, err);
		if (rc > 0)
			path_list_add(&list, path);
		else
			free(path);
		if (rc < 0)
			goto out;
	}
	rc = 0;

out:
	path_list_finish(&list, created);
	return rc < 0 ? -1 : 0;
}

/*
 * true when name is non-empty and made of [a-z0-9_].  The NULL test also
 * tells GCC that name is non-NULL afterwards: without it, a build with
 * -fsanitize=undefined warns (-Wformat-overflow) about a NULL '%.40s'.
 */
static bool
valid_migration_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

/*
 * Looks in dir for a migration file whose version is version.  Returns 1
 * and a copy of its name in *clash when found, 0 when not, -1 when the
 * directory cannot be read.
 */
static int
find_version(const char *dir, const char *version, char **clash, cf_error **err)
{
	size_t vl = strlen(version);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot open '%s': %s",
					   dir, strerror(errno));

		return cf_fail(err, e);
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, version, vl) == 0 &&
		    de->d_name[vl] == '_') {
			*clash = cf_strdup(de->d_name);
			closedir(d);
			return 1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * Writes a new pair of migration files named after the current local time.
 * Both paths are the caller's to free on success; on failure nothing is
 * left behind and the out-parameters are untouched.
 */
int
cf_generate_migration(const char *dir, const char *name, char **up_path,
		      char **down_path, cf_error **err)
{
	char version[32], created[64];
	char *up = NULL, *down = NULL, *file, *content, *clash = NULL;
	struct stat st;
	struct tm tm;
	time_t now;
	cf_error *e;
	int rc;

	if (!valid_migration_name(name)) {
		e = cf_error_new(CF_ERR_USAGE, "invalid migration name '%s'",
				 name);
		cf_error_set_detail(e, "a migration name may only contain "
				       "lowercase letters, digits and '_'");
		cf_error_set_hint(e, "use a name like 'add_users_email'");
		return cf_fail(err, e);
	}
	/* "<14 digits>_<name>.down.sql" must fit in a file name */
	if (strlen(name) > NAME_MAX - 24) {
		e = cf_error_new(CF_ERR_USAGE,
				 "migration name '%.40s...' is "
				 "too long",
				 name);
		cf_error_set_detail(e,
				    "the name has %zu bytes; at most %d "
				    "fit in a file name",
				    strlen(name), NAME_MAX - 24);
		cf_error_set_hint(e, "use a shorter name");
		return cf_fail(err, e);
	}
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			e = cf_error_new(CF_ERR_CONFIG,
					 "migrations directory "
					 "'%s' does not exist",
					 dir);
		else
			e = cf_error_new(CF_ERR_IO, "cannot access '%s': %s",
					 dir, strerror(errno));
		cf_error_set_hint(e, "run 'confiture init' or pass "
				     "--migrations-dir");
		return cf_fail(err, e);
	}
	if (!S_ISDIR(st.st_mode)) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "migrations directory '%s' is "
				 "not a directory",
				 dir);
		cf_error_set_hint(e, "pass a directory with --migrations-dir");
		return cf_fail(err, e);
	}

	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(version, sizeof(version), "%Y%m%d%H%M%S", &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S%z", &tm);

	rc = find_version(dir, version, &clash, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		e = cf_error_new(CF_ERR_USAGE,
				 "a migration with version '%s' "
				 "already exists",
				 version);
		cf_error_set_detail(e, "'%s' uses that version", clash);
		cf_error_set_hint(e, "wait a second and run the command "
				     "again");
		free(clash);
		return cf_fail(err, e);
	}

	file = cf_asprintf("%s_%s.up.sql", version, name);
	up = cf_path_join(dir, file);
	free(file);
	file = cf_asprintf("%s_%s.down.sql", version, name);
	down = cf_path_join(dir, file);
	free(file);

	content = cf_asprintf("-- Migration: %s\n-- Created: %s\n\n", name,
			      created);
	rc = write_new_file(up, content, false, err);
	free(content);
	if (rc < 0)
		goto fail;
	content = cf_asprintf("-- Migration: %s (down)\n-- Created: %s\n\n",
			      name, created);
	rc = write_new_file(down, content, false, err);
	free(content);
	if (rc < 0) {
		unlink(up);
		goto fail;
	}
	*up_path = up;
	*down_path = down;
	return 0;

fail:
	free(up);
	free(down);
	return -1;
}
