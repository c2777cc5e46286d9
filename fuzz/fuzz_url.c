/*
 * fuzz_url.c — libFuzzer harness for cf_redact_url(): arbitrary strings.
 *
 * Property: no password that the input carries survives in the output.
 * The passwords are found by an oracle independent of url.c, written
 * after libpq's own parsers (fe-connect.c): the user information of a
 * postgresql:// or postgres:// URL (up to the first '@' before any '/'),
 * "password" and "sslpassword" URL query parameters (keys and values
 * percent-decoded), key=value conninfo pairs (quoted or bare, backslash
 * escapes), and a dbname value that is itself a URL or conninfo string.
 * libpq's PQconninfoParse() is asked too, as a cross-check.  Each
 * password is checked both as written and decoded.
 *
 * A candidate is only checked when it cannot appear in the output
 * legitimately: at least 4 bytes, no '*' (the mask), and occurring in the
 * input exactly once, where it is the password (or not at all, for a
 * decoded or unescaped form).
 *
 * Not part of the meson build; fuzz/README.md has the build command.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "confiture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Candidate passwords found in one input. */
typedef struct secrets {
	char *items[64];
	bool derived[64]; /* decoded or unescaped: not as written */
	int n;
} secrets;

static void scan(secrets *s, const char *str, int depth);

static void
add_secret(secrets *s, const char *p, size_t len, bool derived)
{
	if (s->n < 64) {
		s->derived[s->n] = derived;
		s->items[s->n++] = strndup(p, len);
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes p[0..len) into a new string (bad escapes kept). */
static char *
decode(const char *p, size_t len)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
		    hexval(p[i + 2]) >= 0) {
			out[n++] = (char)(hexval(p[i + 1]) * 16 +
					  hexval(p[i + 2]));
			i += 2;
		} else {
			out[n++] = p[i];
		}
	}
	out[n] = '\0';
	return out;
}

/* Adds p[0..len) and its percent-decoded form. */
static void
add_both(secrets *s, const char *p, size_t len, int depth)
{
	char *d = decode(p, len);

	add_secret(s, p, len, depth > 0);
	add_secret(s, d, strlen(d), depth > 0 || strlen(d) != len);
	free(d);
}

static bool
is_secret_key(const char *k)
{
	return strcasecmp(k, "password") == 0 ||
	       strcasecmp(k, "sslpassword") == 0;
}

/* A URL as libpq reads it (conninfo_uri_parse_options). */
static void
scan_url(secrets *s, const char *u, size_t prefix, int depth)
{
	const char *start = u + prefix;
	const char *p = start;
	const char *q;

	while (*p && *p != '@' && *p != '/')
		p++;
	if (*p == '@') {
		const char *colon = memchr(start, ':', (size_t)(p - start));

		if (colon)
			add_both(s, colon + 1, (size_t)(p - colon - 1), depth);
	}
	/* any '?' may start parameters; be generous and try each */
	for (q = strchr(u, '?'); q; q = strchr(q + 1, '?')) {
		const char *r = q + 1;

		while (*r) {
			size_t plen = strcspn(r, "&");
			const char *eq = memchr(r, '=', plen);

			if (eq) {
				char *k = decode(r, (size_t)(eq - r));

				if (is_secret_key(k))
					add_both(s, eq + 1,
						 plen - (size_t)(eq - r) - 1,
						 depth);
				if (strcasecmp(k, "dbname") == 0 && depth < 3) {
					char *v = decode(
						eq + 1,
						plen - (size_t)(eq - r) - 1);

					scan(s, v, depth + 1);
					free(v);
				}
				free(k);
			}
			r += plen;
			if (*r)
				r++;
		}
	}
}

/* key=value pairs as libpq reads them (conninfo_parse). */
static void
scan_conninfo(secrets *s, const char *c, int depth)
{
	const char *p = c;

	while (*p) {
		const char *k;
		const char *raw;
		char *key;
		char *val;
		size_t n = 0;

		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		key = strndup(k, (size_t)(p - k));
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			free(key);
			return; /* libpq gives up here */
		}
		p++;
		while (isspace((unsigned char)*p))
			p++;
		val = malloc(strlen(p) + 1);
		raw = p;
		if (*p == '\'') {
			raw = ++p;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				val[n++] = *p++;
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && p[1])
					p++;
				val[n++] = *p++;
			}
		}
		val[n] = '\0';
		if (is_secret_key(key))
			add_secret(s, val, n,
				   depth > 0 || strncmp(raw, val, n) != 0);
		if (strcasecmp(key, "dbname") == 0 && depth < 3)
			scan(s, val, depth + 1);
		free(key);
		free(val);
	}
}

static void
scan(secrets *s, const char *str, int depth)
{
	const char *p = str;

	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "postgresql://", 13) == 0)
		scan_url(s, p, 13, depth);
	else if (strncmp(p, "postgres://", 11) == 0)
		scan_url(s, p, 11, depth);
	else
		scan_conninfo(s, str, depth);
}

/* Cross-check with libpq itself. */
static void
scan_libpq(secrets *s, const char *str)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(str, &errmsg);

	PQfreemem(errmsg);
	if (!opts)
		return;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && is_secret_key(o->keyword))
			add_secret(s, o->val, strlen(o->val), true);
		if (o->val && strcmp(o->keyword, "dbname") == 0)
			scan(s, o->val, 1);
	}
	PQconninfoFree(opts);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* One input: redact it and look for any of its passwords in the result. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	secrets s = {.n = 0};
	char *in;
	char *out;

	if (size > 4096 || memchr(data, '\0', size))
		return 0;
	in = strndup((const char *)data, size);
	out = cf_redact_url(in);
	if (!out)
		abort();
	scan(&s, in, 0);
	scan_libpq(&s, in);
	for (int i = 0; i < s.n; i++) {
		const char *pw = s.items[i];

		if (strlen(pw) >= 4 && !strchr(pw, '*') &&
		    count(in, pw) <= (s.derived[i] ? 0 : 1) &&
		    strstr(out, pw)) {
			fprintf(stderr,
				"password leaked\n  input:  [%s]\n  "
				"output: [%s]\n  secret: [%s]\n",
				in, out, pw);
			abort();
		}
	}
	for (int i = 0; i < s.n; i++)
		free(s.items[i]);
	free(out);
	free(in);
	return 0;
}
