/*
 * checksum.c — SHA-256 digests of migration files.
 *
 * The checksum recorded in tb_confiture is the SHA-256 of the .up.sql file's
 * raw bytes, written as 64 lowercase hex digits; the Python tool computes the
 * same value, so a project can move between the two tools.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "base/base.h"

/*
 * Hashes len bytes at data into out (64 hex digits and a NUL).  A failure
 * inside libcrypto means a broken installation, not bad input, so like an
 * allocation failure it aborts.
 */
void
cf_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) ||
	    md_len != 32) {
		fputs("confiture: SHA-256 is not available from libcrypto\n",
		      stderr);
		abort();
	}
	for (unsigned int i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0F];
	}
	out[64] = '\0';
}
