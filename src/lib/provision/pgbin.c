/*
 * pgbin.c — finding the PostgreSQL server binaries for the embedded server:
 * opts->bindir, else $CONFITURE_PG_BINDIR, else the first (for a given
 * major) or newest (major 0) of /usr/lib/postgresql/<N>/bin,
 * /usr/pgsql-<N>/bin, `pg_config --bindir` and the directory of initdb in
 * PATH.  A candidate must hold initdb and postgres, and `postgres
 * --version` tells its version.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provision/pgbin.h"
#include "provision/runas.h"

static bool
has_program(const char *dir, const char *name)
{
	char *p = cf_asprintf("%s/%s", dir, name);
	bool ok = cf_is_executable(p);

	free(p);
	return ok;
}

void
cf_pgbin_release(struct cf_pgbin *b)
{
	free(b->dir);
	free(b->version);
	memset(b, 0, sizeof(*b));
}

/* Finds name in $PATH; returns the real path of the file or NULL. */
static char *
path_lookup(const char *name)
{
	const char *path = getenv("PATH");
	char *found = NULL;

	if (!path)
		return NULL;
	while (*path && !found) {
		size_t n = strcspn(path, ":");
		char *cand = cf_asprintf("%.*s/%s", (int)n, n ? path : ".",
					 name);

		if (access(cand, X_OK) == 0)
			found = realpath(cand, NULL);
		free(cand);
		path += n;
		if (*path == ':')
			path++;
	}
	return found;
}

/*
 * Checks that dir holds initdb and postgres and asks postgres its version.
 * On failure *why says what is wrong (caller frees).
 */
static bool
probe_bindir(const char *dir, struct cf_pgbin *out, char **why)
{
	const char *argv[3];
	cf_strbuf sb = CF_STRBUF_INIT;
	char *postgres, *real, *v;
	int status;

	*why = NULL;
	if (!cf_is_dir(dir)) {
		*why = cf_strdup("no such directory");
		return false;
	}
	for (size_t i = 0; i < 2; i++) {
		const char *name = i == 0 ? "initdb" : "postgres";

		if (!has_program(dir, name)) {
			*why = cf_asprintf("no %s", name);
			return false;
		}
	}
	real = realpath(dir, NULL);
	if (!real)
		real = cf_strdup(dir);
	postgres = cf_asprintf("%s/postgres", real);
	argv[0] = postgres;
	argv[1] = "--version";
	argv[2] = NULL;
	/* --version is answered before postgres' root check: run as ourselves */
	status = cf_run_wait(&cf_runas_self, NULL, argv, NULL, &sb);
	free(postgres);
	v = strstr(cf_strbuf_str(&sb), "(PostgreSQL) ");
	if (status != 0 || !v) {
		*why = cf_strdup("'postgres --version' failed");
		cf_strbuf_release(&sb);
		free(real);
		return false;
	}
	v += strlen("(PostgreSQL) ");
	out->dir = real;
	out->version = cf_strndup(v, strcspn(v, " \n\t"));
	out->major = atoi(out->version);
	cf_strbuf_release(&sb);
	if (out->major < 10) {
		*why = cf_asprintf("PostgreSQL %s is older than 10",
				   out->version);
		cf_pgbin_release(out);
		return false;
	}
	return true;
}

/* Adds the numeric entries of /usr/lib/postgresql, newest first. */
static void
debian_candidates(char ***list, size_t *n, size_t *alloc)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *de;
	size_t first = *n;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    de->d_name[strspn(de->d_name, "0123456789")] != '\0')
			continue;
		CF_GROW(*list, *alloc, *n + 1);
		(*list)[(*n)++] = cf_asprintf("/usr/lib/postgresql/%s/bin",
					      de->d_name);
	}
	closedir(d);
	/* insertion sort on the major, descending */
	for (size_t i = first + 1; i < *n; i++) {
		char *x = (*list)[i];
		size_t j = i;

		while (j > first && atoi((*list)[j - 1] + 20) < atoi(x + 20)) {
			(*list)[j] = (*list)[j - 1];
			j--;
		}
		(*list)[j] = x;
	}
}

/* The bindir pg_config (from PATH) reports, or NULL. */
static char *
pg_config_bindir(void)
{
	char *pg_config = path_lookup("pg_config");
	cf_strbuf sb = CF_STRBUF_INIT;
	const char *argv[3];
	char *dir = NULL;

	if (!pg_config)
		return NULL;
	argv[0] = pg_config;
	argv[1] = "--bindir";
	argv[2] = NULL;
	if (cf_run_wait(&cf_runas_self, NULL, argv, NULL, &sb) == 0 &&
	    sb.len > 0)
		dir = cf_strndup(sb.buf, strcspn(sb.buf, "\r\n"));
	cf_strbuf_release(&sb);
	free(pg_config);
	return dir;
}

/* The directory of an executable found in PATH, or NULL. */
static char *
path_bindir(const char *name)
{
	char *file = path_lookup(name);
	char *slash;

	if (!file)
		return NULL;
	slash = strrchr(file, '/');
	if (slash)
		*slash = '\0';
	return file;
}

/* The "not found" error, with what was searched. */
static cf_error *
not_found_error(int major, const char *searched)
{
	cf_error *e;

	if (major > 0)
		e = cf_error_new(CF_ERR_CONFIG,
				 "PostgreSQL %d server binaries not found",
				 major);
	else
		e = cf_error_new(CF_ERR_CONFIG,
				 "PostgreSQL server binaries not found");
	cf_error_set_code(e, "server-binaries-not-found");
	cf_error_set_detail(e, "searched: %s", searched);
	if (major > 0)
		cf_error_set_hint(
			e,
			"install them: sudo apt-get install postgresql-%d (Debian/Ubuntu), "
			"or pass --server URL to use an existing server",
			major);
	else
		cf_error_set_hint(
			e,
			"install them: sudo apt-get install postgresql (Debian/Ubuntu), "
			"or pass --server URL to use an existing server");
	return e;
}

/* A place to look for binaries, and how to name it in the error. */
struct cand {
	char *dir; /* NULL: the lookup itself failed */
	char *label;
};

static void
add_cand(struct cand **list, size_t *n, size_t *alloc, char *dir, char *label)
{
	CF_GROW(*list, *alloc, *n + 1);
	(*list)[*n].dir = dir;
	(*list)[*n].label = label;
	(*n)++;
}

/* Has an earlier candidate the same real directory? */
static bool
cand_seen(const struct cand *c, size_t i)
{
	char *real = realpath(c[i].dir, NULL);
	bool dup = false;

	for (size_t j = 0; j < i && real && !dup; j++) {
		char *r2 = c[j].dir ? realpath(c[j].dir, NULL) : NULL;

		dup = r2 && strcmp(r2, real) == 0;
		free(r2);
	}
	free(real);
	return dup;
}

/*
 * Finds the server binaries for major (0 = newest): see the file header for
 * the order.  Fills *out (release with cf_pgbin_release).
 */
int
cf_pgbin_find(const char *forced, int major, struct cf_pgbin *out,
	      cf_error **err)
{
	cf_strbuf searched = CF_STRBUF_INIT;
	struct cand *c = NULL;
	size_t n = 0, alloc = 0;
	struct cf_pgbin best = {0};
	char *why = NULL;
	const char *source = "--bindir";
	cf_error *e;

	if (!forced || !*forced) {
		forced = getenv("CONFITURE_PG_BINDIR");
		source = "CONFITURE_PG_BINDIR";
	}
	if (forced && *forced) {
		if (!probe_bindir(forced, out, &why)) {
			cf_strbuf_addf(&searched, "'%s' (from %s): %s", forced,
				       source, why);
			e = not_found_error(major, cf_strbuf_str(&searched));
			free(why);
			cf_strbuf_release(&searched);
			return cf_fail(err, e);
		}
		if (major > 0 && out->major != major) {
			e = cf_error_new(
				CF_ERR_CONFIG,
				"the server binaries in '%s' are PostgreSQL %s, not %d",
				forced, out->version, major);
			cf_error_set_hint(
				e,
				"point %s at PostgreSQL %d binaries, or ask for major %d",
				source, major, out->major);
			cf_pgbin_release(out);
			return cf_fail(err, e);
		}
		return 0;
	}

	if (major > 0) {
		add_cand(&c, &n, &alloc,
			 cf_asprintf("/usr/lib/postgresql/%d/bin", major),
			 NULL);
		add_cand(&c, &n, &alloc,
			 cf_asprintf("/usr/pgsql-%d/bin", major), NULL);
	} else {
		char **deb = NULL;
		size_t nd = 0, ad = 0;

		debian_candidates(&deb, &nd, &ad);
		for (size_t i = 0; i < nd; i++)
			add_cand(&c, &n, &alloc, deb[i], NULL);
		free(deb);
		if (nd == 0)
			add_cand(&c, &n, &alloc, NULL,
				 cf_strdup(
					 "'/usr/lib/postgresql/*/bin' (none)"));
	}
	add_cand(&c, &n, &alloc, pg_config_bindir(),
		 cf_strdup("pg_config --bindir"));
	add_cand(&c, &n, &alloc, path_bindir("initdb"),
		 cf_strdup("initdb in PATH"));

	for (size_t i = 0; i < n; i++) {
		struct cf_pgbin b = {0};

		if (searched.len)
			cf_strbuf_addstr(&searched, ", ");
		if (!c[i].dir) {
			if (c[i].label && c[i].label[0] == '\'')
				cf_strbuf_addstr(&searched, c[i].label);
			else
				cf_strbuf_addf(&searched, "%s (not found)",
					       c[i].label);
			continue;
		}
		if (c[i].label)
			cf_strbuf_addf(&searched, "%s: ", c[i].label);
		cf_strbuf_addf(&searched, "'%s'", c[i].dir);
		if (cand_seen(c, i)) {
			cf_strbuf_addstr(&searched, " (same as above)");
			continue;
		}
		if (!probe_bindir(c[i].dir, &b, &why)) {
			cf_strbuf_addf(&searched, " (%s)", why);
			free(why);
			continue;
		}
		if (major > 0 && b.major != major) {
			cf_strbuf_addf(&searched, " (PostgreSQL %s)",
				       b.version);
			cf_pgbin_release(&b);
			continue;
		}
		if (!best.dir || b.major > best.major) {
			cf_pgbin_release(&best);
			best = b;
		} else {
			cf_pgbin_release(&b);
		}
		if (major > 0)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		free(c[i].dir);
		free(c[i].label);
	}
	free(c);
	if (!best.dir) {
		e = not_found_error(major, cf_strbuf_str(&searched));
		cf_strbuf_release(&searched);
		return cf_fail(err, e);
	}
	cf_strbuf_release(&searched);
	*out = best;
	return 0;
}
