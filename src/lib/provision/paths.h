/*
 * paths.h — where confiture keeps its files (the cache directory) and how
 * it checks and opens them: the embedded server, the dump loader and the
 * template cache all use these, none of them knowing about the others.
 * Not installed.
 */
#ifndef CF_PROVISION_PATHS_H
#define CF_PROVISION_PATHS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/base.h"

/*
 * Checks that directory path (made when create and missing, mode 0700) is
 * safe to keep our files in: it is ours and not writable by group or
 * others, and none of the directories above it could be swapped by
 * another user (each belongs to us or root and is not writable by others
 * unless sticky; a symbolic link on the way belongs to us or root).
 * CF_ERR_CONFIG when not; a missing path without create is not an error
 * (returns 1, else 0).
 */
int cf_dir_check(const char *path, bool create, cf_error **err);

/*
 * The cache directory (cf_cache_dir(override)), checked and created by
 * cf_dir_check(); NULL with *err when unsafe.  Caller frees.
 */
char *cf_cache_dir_checked(const char *override, cf_error **err);

/*
 * The subdirectory name of the (checked) cache directory override, made
 * mode 0700 when missing; it must be a directory of ours, never a link.
 * NULL with *err; caller frees.
 */
char *cf_cache_subdir(const char *override, const char *name, cf_error **err);

/* name inside dir: a real directory of ours, mode 0700 (made if missing). */
int cf_private_subdir(const char *path, cf_error **err);

/*
 * Creates a new file (O_EXCL, never through a link) of mode 0600 and
 * returns its descriptor (close-on-exec), or -1 with *err.
 */
int cf_create_private(const char *path, cf_error **err);

/*
 * Reads at most max bytes from the end of a file that must be a regular
 * file owned by uid with one link, opened without following a link and
 * without blocking: a file an attacker put in its place is never read.
 * NUL-terminated; *len excludes the NUL.  -1 (errno set) when refused or
 * unreadable; *data is the caller's.
 */
int cf_read_owned(const char *path, uid_t uid, size_t max, char **data,
		  size_t *len);

#endif /* CF_PROVISION_PATHS_H */
