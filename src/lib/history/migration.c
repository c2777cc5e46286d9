/*
 * migration.c — finding, ordering and reading migration files.
 *
 * The layout is the Python tool's (v0.9.4): db/migrations holds
 * {version}_{name}.up.sql with an optional {version}_{name}.down.sql.  The
 * version is the text before the first '_' and is stored as written in the
 * tracking table (varchar(255)).
 *
 * Discovery never stops at the first bad file: every problem (duplicate
 * versions, .py migrations, orphan .down.sql files, stray names) goes to
 * set->problems so a user sees them all at once, and callers refuse to run
 * while any of them is an error.
 *
 * Ordering: when every version in the set is made of ASCII digits they
 * compare as numbers of any length ("9" < "10"), and numerically equal
 * versions such as "001" and "1" are duplicates, since which one runs first
 * would be ambiguous.  Otherwise versions compare bytewise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "history/model.h"

#define MAX_VERSION_LEN 255 /* tb_confiture.version is varchar(255) */
#define MAX_NAME_LEN 255    /* tb_confiture.name is varchar(255) */

#define UP_SUFFIX ".up.sql"
#define DOWN_SUFFIX ".down.sql"
#define SQL_SUFFIX ".sql"
#define PY_SUFFIX ".py"

typedef enum file_kind {
	FILE_IGNORED = 0,
	FILE_UP,
	FILE_DOWN,
	FILE_PY,
	FILE_BAD_SQL,
} file_kind;

/* One directory entry classified by its name; stem excludes the suffix. */
typedef struct found_file {
	char *file; /* name within the directory */
	char *path; /* dir joined with file */
	char *stem;
	file_kind kind;
	bool regular; /* readdir said a regular file: no lstat() needed */
} found_file;

static int
found_file_cmp(const void *a, const void *b)
{
	return strcmp(((const found_file *)a)->file,
		      ((const found_file *)b)->file);
}

/* true when s is non-empty and made only of ASCII digits */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/*
 * Compares two versions.  With numeric set, two all-digit strings compare
 * as unbounded integers (leading zeros ignored, then length, then digits);
 * anything else compares bytewise.  Returns <0, 0 or >0.
 */
/* The length of s when it is all digits (at least one), else 0. */
static inline size_t
digits_len(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return s[n] == '\0' ? n : 0;
}

int
cf_version_compare(const char *a, const char *b, bool numeric)
{
	size_t la, lb;
	int c;

	if (numeric && (la = digits_len(a)) > 0 && (lb = digits_len(b)) > 0) {
		while (*a == '0' && la > 1)
			a++, la--;
		while (*b == '0' && lb > 1)
			b++, lb--;
		if (la != lb)
			return la < lb ? -1 : 1;
		c = memcmp(a, b, la);
	} else {
		c = strcmp(a, b);
	}
	return (c > 0) - (c < 0);
}

/* Classifies a directory entry by its name; sets *stem for migrations. */
static file_kind
classify(const char *file, char **stem)
{
	size_t n = strlen(file);

	*stem = NULL;
	if (file[0] == '.' || strcmp(file, "__init__.py") == 0)
		return FILE_IGNORED;
	if (ends_with(file, UP_SUFFIX)) {
		*stem = cf_strndup(file, n - strlen(UP_SUFFIX));
		return FILE_UP;
	}
	if (ends_with(file, DOWN_SUFFIX)) {
		*stem = cf_strndup(file, n - strlen(DOWN_SUFFIX));
		return FILE_DOWN;
	}
	if (ends_with(file, SQL_SUFFIX)) {
		*stem = cf_strndup(file, n - strlen(SQL_SUFFIX));
		return FILE_BAD_SQL;
	}
	if (ends_with(file, PY_SUFFIX)) {
		*stem = cf_strndup(file, n - strlen(PY_SUFFIX));
		return FILE_PY;
	}
	return FILE_IGNORED;
}

/* Records an error-severity problem about one file; returns it for hints. */
static cf_error *
add_problem(cf_migration_set *set, const char *path, const char *code,
	    const char *message)
{
	cf_error *e = cf_error_new(CF_ERR_FILE, "%s", message);

	cf_error_set_code(e, code);
	if (path)
		cf_error_set_where(e, path, 0, 0);
	cf_error_list_add(&set->problems, e);
	return e;
}

/*
 * Splits a stem into version and name, checking both.  On a bad name it
 * records a problem and returns false; on success the caller owns *version
 * and *name.
 */
static bool
split_stem(cf_migration_set *set, const found_file *f, const char *suffix,
	   char **version, char **name)
{
	const char *us = strchr(f->stem, '_');
	size_t vlen = us ? (size_t)(us - f->stem) : 0;
	size_t nlen = us ? strlen(us + 1) : 0;
	cf_error *e;
	char *msg;

	if (!us || vlen == 0 || nlen == 0) {
		msg = cf_asprintf("invalid migration file name '%s'", f->file);
		e = add_problem(set, f->path, "bad-file-name", msg);
		free(msg);
		if (!us)
			cf_error_set_detail(e, "the name has no '_' between "
					       "the version and the name");
		else if (vlen == 0)
			cf_error_set_detail(e, "the version (the text before "
					       "the first '_') is empty");
		else
			cf_error_set_detail(e, "the name after the version "
					       "is empty");
		cf_error_set_hint(e,
				  "name migration files "
				  "{version}_{name}%s, e.g. "
				  "001_create_users%s",
				  suffix, suffix);
		return false;
	}
	if (vlen > MAX_VERSION_LEN) {
		msg = cf_asprintf("migration version in '%s' is too long",
				  f->file);
		e = add_problem(set, f->path, "version-too-long", msg);
		free(msg);
		cf_error_set_detail(e,
				    "the version has %zu bytes; the "
				    "tracking table stores at most %d",
				    vlen, MAX_VERSION_LEN);
		cf_error_set_hint(e, "use a shorter version, such as a "
				     "number or a YYYYMMDDHHMMSS timestamp");
		return false;
	}
	if (nlen > MAX_NAME_LEN) {
		msg = cf_asprintf("migration name in '%s' is too long",
				  f->file);
		e = add_problem(set, f->path, "bad-file-name", msg);
		free(msg);
		cf_error_set_detail(e,
				    "the name has %zu bytes; the "
				    "tracking table stores at most %d",
				    nlen, MAX_NAME_LEN);
		cf_error_set_hint(e, "rename the file with a shorter name");
		return false;
	}
	*version = cf_strndup(f->stem, vlen);
	*name = cf_strdup(us + 1);
	return true;
}

/*
 * Reads the names in dir into *files (sorted bytewise, so discovery and its
 * problems come out in the same order on every file system).  Fails only
 * when the directory itself cannot be read.
 */
static int
read_dir(const char *dir, found_file **files, size_t *nfiles, cf_error **err)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	found_file *list = NULL;
	size_t n = 0, alloc = 0;
	cf_error *e;

	if (stat(dir, &st) != 0) {
		if (errno == ENOENT) {
			e = cf_error_new(CF_ERR_CONFIG,
					 "migrations directory "
					 "'%s' does not exist",
					 dir);
			cf_error_set_hint(e, "run 'confiture init' or pass "
					     "--migrations-dir");
		} else {
			e = cf_error_new(CF_ERR_IO, "cannot access '%s': %s",
					 dir, strerror(errno));
		}
		return cf_fail(err, e);
	}
	if (!S_ISDIR(st.st_mode)) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "migrations directory '%s' is "
				 "not a directory",
				 dir);
		cf_error_set_hint(e, "pass the directory that holds the "
				     ".up.sql files with --migrations-dir");
		return cf_fail(err, e);
	}
	d = opendir(dir);
	if (!d) {
		e = cf_error_new(CF_ERR_IO, "cannot open '%s': %s", dir,
				 strerror(errno));
		return cf_fail(err, e);
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		CF_GROW(list, alloc, n + 1);
		memset(&list[n], 0, sizeof(list[n]));
		list[n].file = cf_strdup(de->d_name);
		list[n].regular = de->d_type == DT_REG;
		n++;
		errno = 0;
	}
	if (errno != 0) {
		e = cf_error_new(CF_ERR_IO, "cannot read '%s': %s", dir,
				 strerror(errno));
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(list[i].file);
		free(list);
		return cf_fail(err, e);
	}
	closedir(d);
	/* by name; readdir's order is arbitrary and histories reach 10,000s
	 * of files (an insertion sort was most of a 10,000-migration run) */
	if (n > 1)
		qsort(list, n, sizeof(*list), found_file_cmp);
	*files = list;
	*nfiles = n;
	return 0;
}

static void
migration_release(cf_migration *m)
{
	free(m->version);
	free(m->name);
	free(m->up_path);
	free(m->down_path);
	free(m->py_path);
	cf_script_free(m->up);
	cf_script_free(m->down);
	memset(m, 0, sizeof(*m));
}

/* Path a migration was discovered from, for messages. */
static const char *
migration_path(const cf_migration *m)
{
	return m->up_path ? m->up_path : m->py_path;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
compare_bytewise(const void *a, const void *b)
{
	const cf_migration *x = a, *y = b;
	int c = cf_version_compare(x->version, y->version, false);

	return c ? c : strcmp(migration_path(x), migration_path(y));
}

/* true when every version in the set is all digits (numeric ordering) */
static bool
set_is_numeric(const cf_migration *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!all_digits(items[i].version))
			return false;
	return true;
}

/* An all-digit version without its leading zeros, for sort_numeric(). */
typedef struct numeric_key {
	const char *digits;
	size_t len;
	const cf_migration *m;
} numeric_key;

/*
 * cf_version_compare(), numeric, then the path, on keys made once rather
 * than on each comparison
 */
static int
compare_keys(const void *a, const void *b)
{
	const numeric_key *x = a, *y = b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->digits, y->digits, x->len);
	if (c == 0)
		c = strcmp(migration_path(x->m), migration_path(y->m));
	return (c > 0) - (c < 0);
}

/* Orders the items of an all-digit set as compare_keys() says; listed by
 * name, they are often in that order already, and then nothing moves. */
static void
sort_numeric(cf_migration_set *set)
{
	numeric_key *keys;
	cf_migration *sorted;
	bool in_order = true;

	if (set->n < 2)
		return;
	keys = cf_calloc(set->n, sizeof(*keys));
	for (size_t i = 0; i < set->n; i++) {
		const char *v = set->items[i].version;

		while (*v == '0' && v[1] != '\0')
			v++;
		keys[i] = (numeric_key){v, strlen(v), &set->items[i]};
		if (i > 0 && compare_keys(&keys[i - 1], &keys[i]) > 0)
			in_order = false;
	}
	if (!in_order) {
		qsort(keys, set->n, sizeof(*keys), compare_keys);
		sorted = cf_calloc(set->n, sizeof(*sorted));
		for (size_t i = 0; i < set->n; i++)
			sorted[i] = *keys[i].m;
		memcpy(set->items, sorted, set->n * sizeof(*sorted));
		free(sorted);
	}
	free(keys);
}

/* Adds m's file to the duplicate entry of first's version. */
static void
record_duplicate(cf_migration_set *set, const cf_migration *first,
		 const cf_migration *m)
{
	cf_duplicate_version *d = NULL;
	size_t nf = 0;

	if (set->n_duplicates > 0 &&
	    strcmp(set->duplicates[set->n_duplicates - 1].version,
		   first->version) == 0)
		d = &set->duplicates[set->n_duplicates - 1];
	if (!d) {
		set->duplicates = cf_reallocarray(set->duplicates,
						  set->n_duplicates + 1,
						  sizeof(*set->duplicates));
		d = &set->duplicates[set->n_duplicates++];
		d->version = cf_strdup(first->version);
		d->files = cf_calloc(2, sizeof(char *));
		d->files[0] = cf_strdup(base_name(migration_path(first)));
	}
	while (d->files[nf])
		nf++;
	d->files = cf_reallocarray(d->files, nf + 2, sizeof(char *));
	d->files[nf] = cf_strdup(base_name(migration_path(m)));
	d->files[nf + 1] = NULL;
}

/*
 * Sorts the set and drops every migration whose version equals the one
 * kept before it, recording a "duplicate-version" problem naming both.
 * Ties sort by file name, so the first file by name is the one kept.
 */
static void
order_and_dedupe(cf_migration_set *set)
{
	bool numeric = set_is_numeric(set->items, set->n);
	size_t kept = 0;

	set->numeric = numeric;
	if (numeric)
		sort_numeric(set);
	else if (set->n > 1)
		qsort(set->items, set->n, sizeof(cf_migration),
		      compare_bytewise);
	for (size_t i = 0; i < set->n; i++) {
		cf_migration *m = &set->items[i];

		if (kept > 0 && cf_version_compare(set->items[kept - 1].version,
						   m->version, numeric) == 0) {
			cf_migration *first = &set->items[kept - 1];
			char *msg = cf_asprintf("duplicate migration version "
						"'%s'",
						m->version);
			cf_error *e = add_problem(set, migration_path(m),
						  "duplicate-version", msg);

			free(msg);
			if (strcmp(first->version, m->version) == 0)
				cf_error_set_detail(
					e, "'%s' and '%s' share the version",
					base_name(migration_path(first)),
					base_name(migration_path(m)));
			else
				cf_error_set_detail(
					e,
					"'%s' and '%s' have numerically "
					"equal versions",
					base_name(migration_path(first)),
					base_name(migration_path(m)));
			cf_error_set_hint(e, "rename one of them");
			record_duplicate(set, first, m);
			migration_release(m);
			continue;
		}
		if (kept != i)
			set->items[kept] = *m;
		kept++;
	}
	set->n = kept;
}

/* Finds the migration discovered from stem, or NULL. */
static cf_migration *
find_by_stem(cf_migration_set *set, const char *stem, size_t *hint)
{
	const char *us = strchr(stem, '_');
	size_t vlen = us ? (size_t)(us - stem) : 0;
	char *version;
	long i;

	if (!us)
		return NULL;
	/* down files come in name order, which is usually version order:
	 * the migration after the last one found first */
	if (*hint < set->n &&
	    strncmp(set->items[*hint].version, stem, vlen) == 0 &&
	    set->items[*hint].version[vlen] == '\0') {
		i = (long)*hint;
	} else {
		/* items are sorted by version: a binary search, not a scan,
		 * so that attaching every .down.sql stays O(n log n) */
		version = cf_strndup(stem, vlen);
		i = cf_migration_set_find(set, version);
		free(version);
	}
	if (i >= 0 && strcmp(us + 1, set->items[i].name) == 0) {
		*hint = (size_t)i + 1;
		return &set->items[i];
	}
	return NULL;
}

/* Adds a migration for an .up.sql or .py file. */
static void
add_migration(cf_migration_set *set, size_t *alloc, found_file *f)
{
	const char *suffix = f->kind == FILE_PY ? PY_SUFFIX : UP_SUFFIX;
	cf_migration *m;
	char *version, *name;

	if (!split_stem(set, f, suffix, &version, &name))
		return;
	CF_GROW(set->items, *alloc, set->n + 1);
	m = &set->items[set->n++];
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->name = name;
	if (f->kind == FILE_PY) {
		char *msg = cf_asprintf("Python migration '%s' is not "
					"supported",
					f->file);
		cf_error *e = add_problem(set, f->path, "python-migration",
					  msg);

		free(msg);
		cf_error_set_detail(e, "this confiture runs SQL migration "
				       "files only");
		cf_error_set_hint(e,
				  "rewrite it as %s.up.sql (and "
				  ".down.sql), or run it with the Python "
				  "confiture",
				  f->stem);
		m->py_path = f->path;
	} else {
		m->up_path = f->path;
	}
	f->path = NULL; /* the migration's now */
}

/* Whether files (sorted by name) hold stem+suffix as an up or .py file
 * (a binary search: many orphan down files stay O(n log n)). */
static bool
has_up_file(const found_file *files, size_t nfiles, const char *stem,
	    const char *suffix)
{
	char *name = cf_asprintf("%s%s", stem, suffix);
	found_file key = {.file = name};
	const found_file *hit = bsearch(&key, files, nfiles, sizeof(*files),
					found_file_cmp);

	free(name);
	return hit && (hit->kind == FILE_UP || hit->kind == FILE_PY);
}

/*
 * Attaches a .down.sql file to its migration or reports it as an orphan.
 * A down file whose up file was itself rejected (bad name, duplicate) is
 * left alone: the up file's problem already covers it.
 */
static void
attach_down(cf_migration_set *set, const found_file *files, size_t nfiles,
	    found_file *f, size_t *hint)
{
	cf_migration *m = find_by_stem(set, f->stem, hint);
	cf_error *e;
	char *msg;

	if (m) {
		m->down_path = f->path;
		f->path = NULL; /* the migration's now */
		return;
	}
	if (has_up_file(files, nfiles, f->stem, UP_SUFFIX) ||
	    has_up_file(files, nfiles, f->stem, PY_SUFFIX))
		return;
	msg = cf_asprintf("down migration '%s' has no matching up migration",
			  f->file);
	e = add_problem(set, f->path, "orphan-down", msg);
	free(msg);
	cf_error_set_detail(e, "no file named '%s%s' was found", f->stem,
			    UP_SUFFIX);
	cf_error_set_hint(e, "add %s%s or remove the down file", f->stem,
			  UP_SUFFIX);
}

/* Reports a .sql file that is neither .up.sql nor .down.sql. */
static void
report_bad_sql(cf_migration_set *set, found_file *f)
{
	char *msg = cf_asprintf("migration file '%s' must end in .up.sql",
				f->file);
	cf_error *e = add_problem(set, f->path, "bad-file-name", msg);

	free(msg);
	cf_error_set_detail(e, "migration files are named "
			       "{version}_{name}.up.sql, with an optional "
			       "{version}_{name}.down.sql");
	cf_error_set_hint(e, "rename it to %s.up.sql", f->stem);
}

/* True when s holds a C0 control character or DEL. */
static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A refusal of f (exit 2: the project is not what it should be). */
static cf_error *refusal(const found_file *f, const char *code, const char *fmt,
			 ...) CF_PRINTF(3, 4);

static cf_error *
refusal(const found_file *f, const char *code, const char *fmt, ...)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	va_list ap;
	cf_error *e;

	va_start(ap, fmt);
	cf_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	e = cf_error_new(CF_ERR_CONFIG, "%s", sb.buf);
	cf_strbuf_release(&sb);
	cf_error_set_where(e, f->path, 0, 0);
	cf_error_set_code(e, code);
	return e;
}

/*
 * Checks one entry before anything reads it.  A symbolic link must lead
 * inside root (a realpath), so that a link to /etc/shadow is never read,
 * parsed or shown; a migration must be a regular file, since a FIFO would
 * block its reader and a device never ends.  Returns 1 to use the file,
 * 0 to skip it (a directory, or a problem was recorded), and -1 with
 * *refused set when the project must be refused.
 */
static int
check_entry(cf_migration_set *set, const found_file *f, const char *root,
	    cf_error **refused)
{
	struct stat st;
	char *msg;
	/* a regular file needs no look: the reader refuses anything else
	 * again, on the descriptor it reads */
	int rc = f->regular ? 0 : lstat(f->path, &st);

	if (f->regular)
		st.st_mode = S_IFREG;
	else if (rc == 0 && S_ISLNK(st.st_mode)) {
		char *real = realpath(f->path, NULL);

		if (real && !cf_path_inside(real, root)) {
			*refused = refusal(f, "symlink-outside-project",
					   "migration file '%s' is a symbolic "
					   "link leading outside the project",
					   f->path);
			cf_error_set_detail(*refused,
					    "it resolves to '%s', outside "
					    "'%s'; files outside the "
					    "project are never read through "
					    "a link",
					    real, root);
			cf_error_set_hint(*refused,
					  "replace the link with the file "
					  "itself, or point it inside the "
					  "project");
			free(real);
			return -1;
		}
		free(real);
		rc = stat(f->path, &st); /* what the link leads to */
	}
	if (rc != 0) {
		msg = cf_asprintf("cannot access '%s': %s", f->path,
				  strerror(errno));
		add_problem(set, f->path, "unreadable-file", msg);
		free(msg);
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode)) {
		*refused = refusal(f, "not-regular-file",
				   "migration file '%s' is not a regular "
				   "file",
				   f->path);
		cf_error_set_detail(*refused, "it is %s",
				    S_ISFIFO(st.st_mode) ?
					    "a named pipe (FIFO)" :
				    S_ISSOCK(st.st_mode) ? "a socket" :
							   "a device");
		cf_error_set_hint(*refused, "replace it with a regular file");
		return -1;
	}
	if (has_control(f->file)) {
		cf_error *e;

		msg = cf_asprintf("invalid migration file name '%s'", f->file);
		e = add_problem(set, f->path, "bad-file-name", msg);
		free(msg);
		cf_error_set_detail(e, "the name contains a control character");
		cf_error_set_hint(e, "rename the file with printable "
				     "characters only");
		return 0;
	}
	return 1;
}

/*
 * The realpath of root, and when strict, the check that dir lies inside
 * it.  Returns the path (caller frees) or NULL with *err set.
 */
static char *
resolve_root(const char *dir, const char *root, bool strict, cf_error **err)
{
	char *real = realpath(root, NULL);
	char *real_dir;
	cf_error *e;

	if (!real) {
		e = cf_error_new(CF_ERR_IO, "cannot resolve '%s': %s", root,
				 strerror(errno));
		cf_fail(err, e);
		return NULL;
	}
	if (!strict)
		return real;
	real_dir = realpath(dir, NULL);
	if (real_dir && cf_path_inside(real_dir, real)) {
		free(real_dir);
		return real;
	}
	e = cf_error_new(CF_ERR_CONFIG,
			 "migrations directory '%s' leads outside the "
			 "project",
			 dir);
	if (real_dir)
		cf_error_set_detail(e, "it resolves to '%s', outside '%s'",
				    real_dir, real);
	cf_error_set_hint(e, "make db/migrations a directory of the project, "
			     "or name the directory with --migrations-dir");
	cf_error_set_code(e, "symlink-outside-project");
	free(real_dir);
	free(real);
	cf_fail(err, e);
	return NULL;
}

/* See confiture.h: files must stay inside dir. */
int
cf_migration_set_discover(const char *dir, cf_migration_set **out,
			  cf_error **err)
{
	return cf_migration_set_discover_in(dir, NULL, out, err);
}

/*
 * Lists dir and builds the ordered set.  An unreadable directory, a link
 * leading out of the project and a file that is not a regular file fail;
 * everything else wrong with individual files is in set->problems.
 */
int
cf_migration_set_discover_in(const char *dir, const char *project_dir,
			     cf_migration_set **out, cf_error **err)
{
	found_file *files = NULL;
	size_t nfiles = 0, alloc = 0;
	cf_migration_set *set;
	cf_error *refused = NULL;
	size_t n_refused = 0;
	char *root;

	*out = NULL;
	if (read_dir(dir, &files, &nfiles, err) != 0)
		return -1;
	root = resolve_root(dir, project_dir ? project_dir : dir,
			    project_dir != NULL, err);
	if (!root) {
		for (size_t i = 0; i < nfiles; i++)
			free(files[i].file);
		free(files);
		return -1;
	}

	set = cf_new(cf_migration_set);
	set->dir = cf_strdup(dir);
	cf_error_list_init(&set->problems);

	for (size_t i = 0; i < nfiles; i++) {
		found_file *f = &files[i];
		cf_error *e = NULL;
		int rc;

		f->kind = classify(f->file, &f->stem);
		if (f->kind == FILE_IGNORED)
			continue;
		f->path = cf_path_join(dir, f->file);
		rc = check_entry(set, f, root, &e);
		if (rc < 0) {
			/* report the first, count the others */
			if (!refused)
				refused = e;
			else
				cf_error_free(e);
			n_refused++;
		}
		if (rc <= 0) {
			f->kind = FILE_IGNORED;
			continue;
		}
		if (f->kind == FILE_UP || f->kind == FILE_PY)
			add_migration(set, &alloc, f);
		else if (f->kind == FILE_BAD_SQL)
			report_bad_sql(set, f);
	}
	order_and_dedupe(set);
	for (size_t i = 0, hint = 0; i < nfiles; i++)
		if (files[i].kind == FILE_DOWN)
			attach_down(set, files, nfiles, &files[i], &hint);

	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].file);
		free(files[i].path);
		free(files[i].stem);
	}
	free(files);
	free(root);
	if (refused) {
		if (n_refused > 1) {
			char *hint = cf_strdup(refused->hint);

			cf_error_set_hint(refused, "%s (%zu files are refused)",
					  hint, n_refused);
			free(hint);
		}
		cf_migration_set_free(set);
		return cf_fail(err, refused);
	}
	*out = set;
	return 0;
}

/* The migrations directory, open while its files are read (fd -1: not). */
typedef struct set_dir {
	int fd;
	const char *path;
	size_t len; /* without a trailing '/' */
} set_dir;

static void
set_dir_open(set_dir *d, const char *path)
{
	d->fd = -1;
	d->path = path;
	if (!path)
		return;
	d->len = strlen(path);
	while (d->len > 1 && path[d->len - 1] == '/')
		d->len--;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* A file's name within d when path is d's path joined with it (as
 * cf_path_join() made it), else NULL. */
static const char *
in_dir(const set_dir *d, const char *path)
{
	const char *name;

	if (d->fd < 0 || strncmp(path, d->path, d->len) != 0)
		return NULL;
	name = path + d->len;
	while (*name == '/')
		name++;
	if (name == path + d->len || !*name || strchr(name, '/'))
		return NULL;
	return name;
}

/*
 * Reads one file, stores its checksum when sum is not NULL, and parses it
 * into *script when script is not NULL (grammar as for
 * cf_script_parse_target()).  Read failures become problems.
 */
static void
load_script(cf_error_list *problems, const char *path, char *sum,
	    cf_script **script, int target_major, cf_script_trees **trees,
	    const set_dir *dir)
{
	char *data = NULL;
	size_t len = 0;
	cf_error *e = NULL;
	const char *name = dir ? in_dir(dir, path) : NULL;

	if (cf_read_file_at(name ? dir->fd : AT_FDCWD, name ? name : path, path,
			    0, 0, &data, &len, &e) != 0) {
		cf_error_set_where(e, path, 0, 0);
		cf_error_set_code(e, "unreadable-file");
		cf_error_list_add(problems, e);
		return;
	}
	if (sum)
		cf_sha256_hex(data, len, sum);
	if (script && trees)
		(void)cf_script_parse_trees(path, data, len, target_major,
					    script, problems, trees);
	else if (script)
		(void)cf_script_parse_target(path, data, len, target_major,
					     script, problems);
	free(data);
}

/* Reads and checksums one migration's .up.sql if not done yet. */
void
cf_migration_checksum(cf_migration_set *set, cf_migration *m)
{
	if (m->up_path && m->checksum[0] == '\0')
		load_script(&set->problems, m->up_path, m->checksum, NULL, 0,
			    NULL, NULL);
}

/*
 * What several files read at once share: each item has its own problem
 * list, appended to the set's in migration order, so the problems read
 * the same whatever thread read which file.
 */
typedef struct load_each {
	cf_migration_set *set;
	cf_migration *const *ms; /* NULL: set->items */
	cf_error_list *problems;
	bool checksum_only, up, down;
	int target_major;
	const cf_parse_hooks *hooks; /* NULL: none */
	set_dir dir;
	cf_script_trees **trees; /* per item, with hooks */
	void **prepared;	 /* per item: what hooks->prepare gave */
} load_each;

static cf_migration *
load_item(const load_each *le, size_t i)
{
	return le->ms ? le->ms[i] : &le->set->items[i];
}

/* cf_parallel_ordered() prepare: touches only migration i */
static void
load_prepare(void *arg, size_t i)
{
	load_each *le = arg;
	cf_migration *m = load_item(le, i);
	cf_error_list *problems = &le->problems[i];

	if (le->checksum_only) {
		if (m->up_path && m->checksum[0] == '\0')
			load_script(problems, m->up_path, m->checksum, NULL, 0,
				    NULL, &le->dir);
		return;
	}
	if (le->up && m->up_path && !m->up)
		load_script(problems, m->up_path, m->checksum, &m->up,
			    le->target_major, le->hooks ? &le->trees[i] : NULL,
			    &le->dir);
	if (le->down && m->down_path && !m->down)
		load_script(problems, m->down_path, NULL, &m->down,
			    le->target_major, NULL, &le->dir);
	if (le->hooks && le->up && m->up)
		le->prepared[i] = le->hooks->prepare(le->hooks->arg, m,
						     le->trees[i]);
}

static void
load_consume(void *arg, size_t i)
{
	load_each *le = arg;
	cf_error_list *problems = &le->problems[i];

	for (size_t k = 0; k < problems->n; k++)
		cf_error_list_add(&le->set->problems, problems->items[k]);
	free(problems->items);
	if (le->hooks && le->prepared[i])
		le->hooks->consume(le->hooks->arg, load_item(le, i),
				   le->prepared[i]);
}

/* On the thread that prepared migration i: what the hooks made, and the
 * trees they read. */
static void
load_release(void *arg, size_t i)
{
	load_each *le = arg;

	if (le->prepared[i])
		le->hooks->release(le->hooks->arg, load_item(le, i),
				   le->prepared[i]);
	cf_script_trees_free(le->trees[i]);
}

/* Runs le over n migrations, on several threads when there are many. */
static void
load_all(load_each *le, size_t n)
{
	size_t slots = n ? n : 1;

	/* one file is as quickly opened by its path */
	set_dir_open(&le->dir, n > 1 ? le->set->dir : NULL);
	le->problems = cf_calloc(slots, sizeof(cf_error_list));
	if (le->hooks) {
		le->trees = cf_calloc(slots, sizeof(*le->trees));
		le->prepared = cf_calloc(slots, sizeof(*le->prepared));
		cf_parallel_ordered(n, le->hooks->window, cf_parallel_threads(),
				    load_prepare, load_consume, load_release,
				    le);
		free(le->trees);
		free(le->prepared);
	} else {
		cf_parallel_ordered(n, 0, cf_parallel_threads(), load_prepare,
				    load_consume, NULL, le);
	}
	free(le->problems);
	if (le->dir.fd >= 0)
		close(le->dir.fd);
}

/* Reads and checksums every .up.sql not read yet, parsing nothing. */
int
cf_migration_set_checksum(cf_migration_set *set)
{
	load_each le = {.set = set, .checksum_only = true};

	load_all(&le, set->n);
	return cf_error_list_count(&set->problems, CF_SEV_ERROR) > 0 ? -1 : 0;
}

/* Parses the up and/or down file of one migration, each at most once. */
void
cf_migration_parse(cf_migration_set *set, cf_migration *m, bool up, bool down,
		   int target_major)
{
	cf_migration_parse_each(set, &m, 1, up, down, target_major);
}

/* See confiture.h. */
void
cf_migration_parse_each(cf_migration_set *set, cf_migration *const *ms,
			size_t n, bool up, bool down, int target_major)
{
	cf_migration_parse_each_hooked(set, ms, n, up, down, target_major,
				       NULL);
}

/* See history/model.h. */
void
cf_migration_parse_each_hooked(cf_migration_set *set, cf_migration *const *ms,
			       size_t n, bool up, bool down, int target_major,
			       const cf_parse_hooks *hooks)
{
	load_each le = {.set = set,
			.ms = ms,
			.up = up,
			.down = down,
			.target_major = target_major,
			.hooks = hooks};

	load_all(&le, n);
}

/*
 * Reads, checksums and parses every migration that is not yet read.  A
 * second call (e.g. first without, then with downs) only reads what the
 * first one skipped; files that failed to read or decode are read again and
 * report their problems again, so callers normally call it once.
 */
int
cf_migration_set_parse(cf_migration_set *set, bool with_down)
{
	load_each le = {.set = set,
			.up = true,
			.down = with_down,
			.target_major = cf_parser_major()};

	load_all(&le, set->n);
	return cf_error_list_count(&set->problems, CF_SEV_ERROR) > 0 ? -1 : 0;
}

/*
 * Index of the migration whose version is exactly version (as written in
 * the file name, which is what the tracking table stores), or -1.
 */
long
cf_migration_set_find(const cf_migration_set *set, const char *version)
{
	size_t lo = 0, hi = set->n;

	/* items are ordered by cf_version_compare(), whose equal versions
	 * ("1" and "001") are deduplicated: search that order, then ask for
	 * the exact text */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cf_version_compare(set->items[mid].version, version,
					   set->numeric);

		if (c == 0)
			return strcmp(set->items[mid].version, version) == 0 ?
				       (long)mid :
				       -1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Frees the set, its migrations, their parsed scripts and problems. */
void
cf_migration_set_free(cf_migration_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		migration_release(&set->items[i]);
	free(set->items);
	free(set->dir);
	for (size_t i = 0; i < set->n_duplicates; i++) {
		for (size_t f = 0; set->duplicates[i].files[f]; f++)
			free(set->duplicates[i].files[f]);
		free(set->duplicates[i].files);
		free(set->duplicates[i].version);
	}
	free(set->duplicates);
	cf_error_list_release(&set->problems);
	free(set);
}
