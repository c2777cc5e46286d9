/*
 * fuzz_config.c — libFuzzer harness for cf_config_load(): arbitrary bytes
 * as a YAML environment file.  The bytes go to a temporary file (the API
 * takes a path).  A few environment variables are set so that ${VAR}
 * references in the seeds resolve: FUZZ_A, FUZZ_EMPTY, FUZZ_LONG,
 * FUZZ_DOLLAR (a value that itself looks like a reference) and FUZZ_PW.
 *
 * Property: FUZZ_PW's value (also inside FUZZ_A) never appears in the
 * message, detail or hint of the error or of any warning when only
 * "database_url:" and "password:" lines refer to it (see
 * secret_only_in_secret_keys()).
 *
 * Not part of the meson build; fuzz/README.md has the build command.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confiture.h"

#define FUZZ_PW "Zq7pw_s3cret"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

/* Sets the variables the seeds refer to and picks the temporary file. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char longval[5000];

	memset(longval, 'L', sizeof(longval) - 1);
	setenv("FUZZ_A", "postgresql://u:" FUZZ_PW "@localhost/db", 1);
	setenv("FUZZ_EMPTY", "", 1);
	setenv("FUZZ_LONG", longval, 1);
	setenv("FUZZ_DOLLAR", "${FUZZ_A}", 1);
	setenv("FUZZ_PW", FUZZ_PW, 1);
	snprintf(path, sizeof(path), "/tmp/fuzz_config.%ld.yaml",
		 (long)getpid());
	return 0;
}

/* Fails when a diagnostic string shows the password. */
static void
check_no_secret(const char *s)
{
	if (s && strstr(s, FUZZ_PW)) {
		fprintf(stderr, "secret leaked into a diagnostic: %s\n", s);
		abort();
	}
}

static void
check_error(const cf_error *e)
{
	if (!e)
		return;
	assert(e->message != NULL);
	check_no_secret(e->message);
	check_no_secret(e->detail);
	check_no_secret(e->hint);
}

/*
 * True when the password cannot be shown legitimately: the input does not
 * spell it out, FUZZ_PW is only used on "password:" lines and FUZZ_A (a
 * whole URL) only on those and "database_url:" lines.  (A password in, say,
 * "port:" may well be echoed by the error about the port, and one pasted
 * into a malformed URL cannot be told from a host name.)
 */
static bool
secret_only_in_secret_keys(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *end = p + size;

	if (memmem(data, size, "Zq7", 3))
		return false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);

		bool bare = memmem(p, n, "FUZZ_PW", 7) != NULL;
		bool url = memmem(p, n, "FUZZ_A", 6) ||
			   memmem(p, n, "FUZZ_DOLLAR", 11);

		if (bare || url) {
			bool is_url_line, is_pw_line;

			while (p < eol && (*p == ' ' || *p == '-'))
				p++;
			n = (size_t)(eol - p);
			is_url_line = n >= 13 &&
				      memcmp(p, "database_url:", 13) == 0;
			is_pw_line = n >= 9 && memcmp(p, "password:", 9) == 0;
			/* a bare password in a URL is only known by its place */
			if (bare && !is_pw_line)
				return false;
			if (url && !is_url_line && !is_pw_line)
				return false;
		}
		p = eol + 1;
	}
	return true;
}

/* One input: write it, load it, check the diagnostics, free everything. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cf_config *cfg = NULL;
	cf_error *err = NULL;
	FILE *f = fopen(path, "wb");
	bool spelled;
	int rc;

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	spelled = !secret_only_in_secret_keys(data, size);
	rc = cf_config_load(path, &cfg, &err);
	if (rc == 0) {
		assert(cfg != NULL && err == NULL);
		assert(cfg->tracking_name != NULL);
		if (!spelled)
			for (size_t i = 0; i < cfg->warnings.n; i++)
				check_error(cfg->warnings.items[i]);
	} else {
		assert(err != NULL);
		if (!spelled)
			check_error(err);
	}
	cf_config_free(cfg);
	cf_error_free(err);
	unlink(path);
	return 0;
}
