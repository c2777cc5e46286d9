/*
 * lookup.c — finding db/environments/<env>.yaml by name (`--env NAME`):
 * checking the name, listing the environments that exist when it is not
 * there, refusing a file that leads outside the project, then reading it
 * with yaml.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* [A-Za-z0-9][A-Za-z0-9_.-]*, without "..". */
static bool
valid_env_name(const char *name)
{
	if (!isalnum((unsigned char)name[0]) || (unsigned char)name[0] >= 0x80)
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(c < 0x80 &&
		      (isalnum(c) || c == '_' || c == '.' || c == '-')))
			return false;
	}
	return strstr(name, "..") == NULL;
}

/* qsort comparator for an array of strings */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The environments present in dir (stems of its *.yaml files), sorted and
 * joined with ", ", or NULL when there are none.  Caller frees.
 */
static char *
list_environments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	size_t alloc = 0;
	cf_strbuf sb = CF_STRBUF_INIT;

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		CF_GROW(names, alloc, n + 1);
		names[n++] = cf_strndup(de->d_name, len - 5);
	}
	closedir(d);
	if (n == 0) {
		free(names);
		return NULL;
	}
	qsort(names, n, sizeof(char *), compare_strings);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			cf_strbuf_addstr(&sb, ", ");
		cf_strbuf_addstr(&sb, names[i]);
		free(names[i]);
	}
	free(names);
	return cf_strbuf_detach(&sb);
}

/*
 * Fails unless path resolves inside project_dir (NULL: "."): an
 * environment file that is a link to /etc/shadow, or a db/environments
 * that is a link out of the project, is refused before anything reads it,
 * so none of its lines can reach a warning or an excerpt.
 */
static int
check_inside_project(const char *project_dir, const char *path, cf_error **err)
{
	char *root = realpath(project_dir && *project_dir ? project_dir : ".",
			      NULL);
	char *real = realpath(path, NULL);
	cf_error *e;
	int rc = 0;

	if (!root || !real) {
		e = cf_error_new(CF_ERR_IO, "cannot resolve '%s': %s",
				 root ? path : project_dir, strerror(errno));
		rc = cf_fail(err, e);
	} else if (!cf_path_inside(real, root)) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "environment file '%s' is a symbolic link "
				 "leading outside the project",
				 path);
		cf_error_set_detail(e,
				    "it resolves to '%s', outside '%s'; "
				    "files outside the project are never "
				    "read through a link",
				    real, root);
		cf_error_set_hint(e, "replace the link with the file itself, "
				     "or pass the file with -c PATH");
		cf_error_set_where(e, path, 0, 0);
		cf_error_set_code(e, "symlink-outside-project");
		rc = cf_fail(err, e);
	}
	free(root);
	free(real);
	return rc;
}

/*
 * See confiture.h.  project_dir NULL means ".".  A missing file is a
 * CF_ERR_CONFIG error whose hint lists the environments that do exist.
 */
int
cf_config_load_env(const char *project_dir, const char *env_name,
		   cf_config **out, cf_error **err)
{
	char *dir;
	char *path;
	cf_error *e;
	int rc;

	*out = NULL;
	if (!env_name || !valid_env_name(env_name)) {
		e = cf_error_new(CF_ERR_USAGE, "invalid environment name '%s'",
				 env_name ? env_name : "");
		cf_error_set_detail(e, "an environment name starts with a "
				       "letter or digit and contains only "
				       "letters, digits, '_', '.' and '-' "
				       "(no '/' or '..')");
		cf_error_set_hint(e, "give the name of a file in "
				     "db/environments without .yaml, e.g. "
				     "--env local");
		cf_error_set_code(e, "invalid-env-name");
		return cf_fail(err, e);
	}
	/* "db/environments", not "./db/environments", in messages */
	if (!project_dir || !*project_dir || strcmp(project_dir, ".") == 0)
		dir = cf_strdup("db/environments");
	else
		dir = cf_asprintf("%s/db/environments", project_dir);
	path = cf_asprintf("%s/%s.yaml", dir, env_name);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		char *envs = list_environments(dir);
		size_t len = strlen(env_name);

		e = cf_error_new(CF_ERR_CONFIG, "environment '%s' not found",
				 env_name);
		cf_error_set_detail(e, "file '%s' does not exist", path);
		if (envs && len > 5 && strcmp(env_name + len - 5, ".yaml") == 0)
			cf_error_set_hint(e,
					  "leave out the .yaml suffix: "
					  "--env %.*s (available "
					  "environments: %s)",
					  (int)(len - 5), env_name, envs);
		else if (envs)
			cf_error_set_hint(e, "available environments: %s",
					  envs);
		else
			cf_error_set_hint(e,
					  "no environments exist in '%s'; "
					  "run 'confiture init' to create "
					  "one",
					  dir);
		cf_error_set_code(e, "env-not-found");
		free(envs);
		free(dir);
		free(path);
		return cf_fail(err, e);
	}
	if (check_inside_project(project_dir, path, err) < 0) {
		free(dir);
		free(path);
		return -1;
	}
	rc = cf_config_load(path, out, err);
	free(dir);
	free(path);
	return rc;
}
