/*
 * pgbin.h — finding the PostgreSQL server binaries (initdb, postgres) for
 * the embedded server.  Not installed.
 */
#ifndef CF_PROVISION_PGBIN_H
#define CF_PROVISION_PGBIN_H

#include "base/base.h"

/* A directory of server binaries and their version. */
struct cf_pgbin {
	char *dir;
	char *version; /* "15.20" */
	int major;
};

/*
 * Finds the server binaries for major (0 = newest): forced (--bindir), else
 * $CONFITURE_PG_BINDIR, else the usual places (see pgbin.c).  Fills *out
 * (release with cf_pgbin_release); the "not found" error lists what was
 * searched.
 */
int cf_pgbin_find(const char *forced, int major, struct cf_pgbin *out,
		  cf_error **err);
void cf_pgbin_release(struct cf_pgbin *b);

#endif /* CF_PROVISION_PGBIN_H */
