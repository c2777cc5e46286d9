/*
 * lock.c — the advisory-lock key shared with the Python tool.
 *
 * Both tools take pg_advisory_lock(CF_LOCK_CLASS_ID, key) with key derived
 * from the database name, so a C run and a Python run against the same
 * database exclude each other.
 */
#include <string.h>

#include "base/base.h"

/*
 * Returns the first four bytes of SHA-256(dbname) read as a big-endian
 * integer with the sign bit cleared, so the key is the same non-negative
 * int4 the Python tool computes.  dbname must not be NULL.
 */
int32_t
cf_lock_key(const char *dbname)
{
	char hex[65];
	uint32_t key = 0;

	cf_sha256_hex(dbname, strlen(dbname), hex);
	for (int i = 0; i < 8; i++) {
		char c = hex[i];
		uint32_t v = (c >= 'a') ? (uint32_t)(c - 'a' + 10) :
					  (uint32_t)(c - '0');

		key = (key << 4) | v;
	}
	return (int32_t)(key & 0x7FFFFFFFu);
}
