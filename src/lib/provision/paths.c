/*
 * paths.c — the cache directory rule (cf_cache_dir) and the checks that make
 * our files in it, and in the embedded server's directories, safe from other
 * local users: CI runs us as root, next to users who can write /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/paths.h"

char *
cf_cache_dir(const char *override)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (override && *override)
		return cf_strdup(override);
	if (xdg && xdg[0] == '/')
		return cf_asprintf("%s/confiture", xdg);
	if (!home || !*home) {
		const struct passwd *pw = getpwuid(getuid());

		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	return cf_asprintf("%s/.cache/confiture", home);
}

/*
 * What is wrong with one component p of a directory path (NULL: nothing;
 * caller frees).  last: p is the directory itself, which must be ours and
 * writable by nobody else; above it, others may not swap entries.
 */
static char *
component_problem(const char *p, const struct stat *st, bool last)
{
	uid_t me = geteuid();
	mode_t m = st->st_mode;

	if (S_ISLNK(m))
		return st->st_uid == me || st->st_uid == 0 ?
			       NULL :
			       cf_asprintf(
				       "'%s' is a symbolic link of another user (uid %ld)",
				       p, (long)st->st_uid);
	if (!S_ISDIR(m))
		return cf_asprintf("'%s' is not a directory", p);
	if (last ? st->st_uid != me : st->st_uid != me && st->st_uid != 0)
		return cf_asprintf("'%s' belongs to another user (uid %ld)", p,
				   (long)st->st_uid);
	if (last && (m & 022))
		return cf_asprintf(
			"'%s' is writable by group or others (mode %04o)", p,
			(unsigned)(m & 07777));
	/* a sticky directory (/tmp) lets nobody rename our entries */
	if (!last && !(m & S_ISVTX) &&
	    ((m & S_IWOTH) || ((m & S_IWGRP) && st->st_gid != getegid())))
		return cf_asprintf("'%s' is writable by others (mode %04o)", p,
				   (unsigned)(m & 07777));
	return NULL;
}

/* Walks the components of abs (absolute); see cf_dir_check(). */
static int
walk_dir(const char *abs, const char *shown, bool create, bool *saw_link,
	 cf_error **err)
{
	char *p = cf_strdup(abs);
	size_t n = strlen(p);
	int rc = 0;

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	for (char *s = p + 1;; s++) {
		char c = *s;
		struct stat st;
		char *why;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (lstat(p, &st) < 0 && errno == ENOENT) {
			if (!create) {
				rc = 1;
				break;
			}
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				cf_error *e = cf_error_new(
					CF_ERR_IO,
					"cannot create directory '%s'", p);

				cf_error_set_detail(e, "%s", strerror(errno));
				rc = cf_fail(err, e);
				break;
			}
		}
		if (lstat(p, &st) < 0) {
			cf_error *e = cf_error_new(CF_ERR_IO,
						   "cannot stat '%s'", p);

			cf_error_set_detail(e, "%s", strerror(errno));
			rc = cf_fail(err, e);
			break;
		}
		if (S_ISLNK(st.st_mode))
			*saw_link = true;
		why = component_problem(p, &st, c == '\0');
		if (why) {
			cf_error *e = cf_error_new(
				CF_ERR_CONFIG,
				"directory '%s' is not safe for confiture's files",
				shown);

			cf_error_set_detail(e, "%s", why);
			cf_error_set_hint(
				e,
				"use a directory of your own that only you can write "
				"(--cache-dir), or fix the owner and mode (chmod go-w)");
			cf_error_set_code(e, "unsafe-directory");
			free(why);
			rc = cf_fail(err, e);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int
cf_dir_check(const char *path, bool create, cf_error **err)
{
	char *abs, *real;
	bool saw_link = false;
	int rc;

	if (path[0] == '/') {
		abs = cf_strdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);

		if (!cwd) {
			cf_error *e = cf_error_new(CF_ERR_IO,
						   "cannot resolve '%s'", path);

			cf_error_set_detail(e, "%s", strerror(errno));
			return cf_fail(err, e);
		}
		abs = cf_path_join(cwd, path);
		free(cwd);
	}
	rc = walk_dir(abs, path, create, &saw_link, err);
	/* through a link: the directories it leads to count too */
	if (rc == 0 && saw_link && (real = realpath(abs, NULL)) != NULL) {
		rc = walk_dir(real, path, false, &saw_link, err);
		free(real);
	}
	free(abs);
	return rc;
}

char *
cf_cache_dir_checked(const char *override, cf_error **err)
{
	char *cache = cf_cache_dir(override);

	if (cf_dir_check(cache, true, err) != 0) {
		free(cache);
		return NULL;
	}
	return cache;
}

int
cf_private_subdir(const char *path, cf_error **err)
{
	struct stat st;
	cf_error *e;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		e = cf_error_new(CF_ERR_IO, "cannot create directory '%s'",
				 path);
		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid()) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "'%s' is not a directory of ours", path);
		cf_error_set_hint(e, "remove it; confiture makes it again");
		cf_error_set_code(e, "unsafe-directory");
		return cf_fail(err, e);
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0) {
		e = cf_error_new(CF_ERR_IO, "cannot chmod '%s'", path);
		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	return 0;
}

char *
cf_cache_subdir(const char *override, const char *name, cf_error **err)
{
	char *cache = cf_cache_dir_checked(override, err);
	char *dir;

	if (!cache)
		return NULL;
	dir = cf_path_join(cache, name);
	free(cache);
	if (cf_private_subdir(dir, err) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

int
cf_create_private(const char *path, cf_error **err)
{
	int fd = open(path,
		      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd < 0) {
		cf_error *e = cf_error_new(CF_ERR_IO, "cannot create '%s'",
					   path);

		cf_error_set_detail(e, "%s", strerror(errno));
		return cf_fail(err, e);
	}
	return fd;
}

int
cf_read_owned(const char *path, uid_t uid, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t n = 0;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != uid ||
	    st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if ((size_t)st.st_size > max &&
	    lseek(fd, st.st_size - (off_t)max, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	buf = cf_malloc(max + 1);
	while (n < max) {
		ssize_t r = read(fd, buf + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}
