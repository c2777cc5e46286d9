/*
 * sysutil.c — small wrappers over the operating system shared by the
 * embedded server, the dump loader and the template cache: directories,
 * file tests, and monotonic time.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

/* dir and rel joined with exactly one '/'; caller frees. */
char *
cf_path_join(const char *dir, const char *rel)
{
	size_t n = strlen(dir), r = strlen(rel);
	bool slash = n > 0 && dir[n - 1] == '/';
	char *p = cf_malloc(n + !slash + r + 1);

	/* no printf: a history's every file name goes through here */
	memcpy(p, dir, n);
	if (!slash)
		p[n++] = '/';
	memcpy(p + n, rel, r + 1);
	return p;
}

/* Creates every missing directory of path (mkdir -p) with mode. */
int
cf_mkdir_p(const char *path, int mode, cf_error **err)
{
	char *p = cf_strdup(path);
	struct stat st;

	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			cf_error *e = cf_error_new(
				CF_ERR_IO, "cannot create directory '%s'", p);

			cf_error_set_detail(e, "%s", strerror(errno));
			free(p);
			return cf_fail(err, e);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cf_error *e = cf_error_new(CF_ERR_IO, "'%s' is not a directory",
					   p);

		free(p);
		return cf_fail(err, e);
	}
	free(p);
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path, never following symlinks; a missing path is fine. */
int
cf_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool
cf_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool
cf_is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

double
cf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps ms milliseconds (a signal may cut it short; callers loop). */
void
cf_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}
