/*
 * url.c — keeping secrets out of messages: password redaction for libpq
 * connection URLs and key=value conninfo strings.
 *
 * Anything that may show a connection string to a human (error messages,
 * status output, logs) goes through cf_redact_url() first.  When the input
 * is ambiguous the rules here prefer hiding too much over showing a byte of
 * a password.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REDACTED "***"

/*
 * True for libpq keywords whose value is a secret.  Compared without regard
 * to case: libpq itself is case-sensitive, but a misspelt "Password=" is
 * still somebody's password.
 */
static bool
is_secret_key(const char *key, size_t len)
{
	static const char *const secret_keys[] = {"password", "sslpassword"};

	for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]);
	     i++) {
		if (strlen(secret_keys[i]) == len &&
		    strncasecmp(key, secret_keys[i], len) == 0)
			return true;
	}
	return false;
}

/* Value of one hex digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Whether a URL query keyword, after percent-decoding (libpq decodes
 * keywords too, so "pass%77ord" is "password"), names a secret.
 */
static bool
is_secret_url_key(const char *key, size_t len)
{
	char buf[32];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = key[i];

		if (c == '%' && i + 2 < len && hex_value(key[i + 1]) >= 0 &&
		    hex_value(key[i + 2]) >= 0) {
			c = (char)(hex_value(key[i + 1]) * 16 +
				   hex_value(key[i + 2]));
			i += 2;
		}
		if (n >= sizeof(buf))
			return false; /* longer than any secret keyword */
		buf[n++] = c;
	}
	return is_secret_key(buf, n);
}

/*
 * Length of a "scheme://" prefix at the start of s (RFC 3986 scheme
 * characters), or 0 when s is not a URL.
 */
static size_t
url_prefix_len(const char *s)
{
	size_t i = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
	       s[i] == '.')
		i++;
	if (strncmp(s + i, "://", 3) != 0)
		return 0;
	return i + 3;
}

/*
 * Redacts "password=" and "sslpassword=" values in the part of a URL after
 * its user information, appending the result to sb.  The text is split at
 * every '?' and '&', not only in the query proper: when the user
 * information swallowed a '?' (see redact_url()) the parameters that
 * follow must still be found.  Host and path segments hold no secret key
 * and are copied.
 */
static void
redact_url_params(cf_strbuf *sb, const char *s)
{
	const char *p = s;

	while (*p) {
		size_t plen = strcspn(p, "?&");
		const char *eq = memchr(p, '=', plen);

		if (eq && is_secret_url_key(p, (size_t)(eq - p))) {
			cf_strbuf_add(sb, p, (size_t)(eq - p) + 1);
			cf_strbuf_addstr(sb, REDACTED);
		} else {
			cf_strbuf_add(sb, p, plen);
		}
		p += plen;
		if (*p)
			cf_strbuf_addch(sb, *p++);
	}
}

/*
 * Redacts a URL whose "scheme://" is url[0..prefix) (prefix may be 0 for
 * a mistyped URL).  The user information ends at the LAST '@' after the
 * scheme, so a password holding a raw '@' is hidden completely; the price is
 * that an '@' in the path or query of a URL makes everything before it look
 * like user information, which is hidden too when it holds a ':'.  The
 * password is everything between the first ':' of the user information and
 * that '@'.
 */
static char *
redact_url(const char *url, size_t prefix)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	const char *rest = url + prefix;
	const char *at = strrchr(rest, '@');
	const char *host = rest;

	cf_strbuf_add(&sb, url, prefix);
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));

		if (colon) {
			cf_strbuf_add(&sb, rest, (size_t)(colon - rest) + 1);
			cf_strbuf_addstr(&sb, REDACTED);
		} else {
			cf_strbuf_add(&sb, rest, (size_t)(at - rest));
		}
		cf_strbuf_addch(&sb, '@');
		host = at + 1;
	}
	redact_url_params(&sb, host);
	return cf_strbuf_detach(&sb);
}

/*
 * Scans a conninfo value starting at p (libpq rules: single-quoted with
 * backslash escapes, or bare up to white space, where a backslash also
 * escapes the next byte).  Returns the end of the value; when unescaped is
 * not NULL the value without quotes and escapes is appended to it.  An
 * unterminated quote runs to the end of the string.
 */
static const char *
scan_conninfo_value(const char *p, cf_strbuf *unescaped)
{
	bool quoted = (*p == '\'');

	if (quoted)
		p++;
	while (*p) {
		if (quoted && *p == '\'')
			return p + 1;
		if (!quoted && isspace((unsigned char)*p))
			break;
		if (*p == '\\' && p[1])
			p++;
		if (unescaped)
			cf_strbuf_addch(unescaped, *p);
		p++;
	}
	return p;
}

static char *redact(const char *s);

/*
 * Redacts a key=value conninfo string, keeping its layout.  Secret values
 * become "***" (quotes included).  A dbname value that is itself a URL or
 * a conninfo string (libpq expands those) is redacted recursively and
 * re-quoted.  A secret keyword without '=' hides the next word, in case
 * the '=' was simply forgotten.
 */
static char *
redact_conninfo(const char *s)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	const char *p = s;

	while (*p) {
		const char *key;
		size_t keylen;
		bool secret;

		if (isspace((unsigned char)*p)) {
			cf_strbuf_addch(&sb, *p++);
			continue;
		}
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		keylen = (size_t)(p - key);
		secret = is_secret_key(key, keylen);
		cf_strbuf_add(&sb, key, keylen);
		while (isspace((unsigned char)*p))
			cf_strbuf_addch(&sb, *p++);
		if (*p != '=') {
			/* malformed: "password secret" hides "secret" */
			if (secret && *p) {
				cf_strbuf_addstr(&sb, REDACTED);
				p = scan_conninfo_value(p, NULL);
			}
			continue;
		}
		cf_strbuf_addch(&sb, *p++);
		while (isspace((unsigned char)*p))
			cf_strbuf_addch(&sb, *p++);
		if (secret) {
			cf_strbuf_addstr(&sb, REDACTED);
			p = scan_conninfo_value(p, NULL);
		} else if (keylen == 6 && strncasecmp(key, "dbname", 6) == 0) {
			cf_strbuf value = CF_STRBUF_INIT;
			const char *start = p;
			const char *v;

			p = scan_conninfo_value(p, &value);
			v = cf_strbuf_str(&value);
			if (url_prefix_len(v) > 0 || strchr(v, '=')) {
				char *inner = redact(v);

				/* re-quote the redacted inner string */
				cf_strbuf_addch(&sb, '\'');
				for (const char *q = inner; *q; q++) {
					if (*q == '\'' || *q == '\\')
						cf_strbuf_addch(&sb, '\\');
					cf_strbuf_addch(&sb, *q);
				}
				cf_strbuf_addch(&sb, '\'');
				free(inner);
			} else {
				cf_strbuf_add(&sb, start, (size_t)(p - start));
			}
			cf_strbuf_release(&value);
		} else {
			const char *start = p;

			p = scan_conninfo_value(p, NULL);
			cf_strbuf_add(&sb, start, (size_t)(p - start));
		}
	}
	return cf_strbuf_detach(&sb);
}

/*
 * True when s starts like a conninfo string: a keyword, then '=' — or a
 * secret keyword on its own ("password secret" forgot its '=').
 */
static bool
looks_like_conninfo(const char *s)
{
	const char *p = s;

	if (!isalpha((unsigned char)*p) && *p != '_')
		return false;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (is_secret_key(s, (size_t)(p - s)) &&
	    (*p == '\0' || isspace((unsigned char)*p)))
		return true;
	while (isspace((unsigned char)*p))
		p++;
	return *p == '=';
}

/*
 * Dispatches on the form of s (after optional white space): a URL, a
 * conninfo string, or something else.  Something else holding an '@'
 * (a mistyped URL such as "postgresql:/u:pw@h" or a bare "u:pw@h") is
 * redacted as if it were all user information and host; anything else is
 * copied.
 */
static char *
redact(const char *s)
{
	const char *p = s;
	size_t prefix;
	char *url;
	char *res;

	while (isspace((unsigned char)*p))
		p++;
	prefix = url_prefix_len(p);
	if (prefix == 0 && (*p == '\0' || looks_like_conninfo(p)))
		return redact_conninfo(s);
	if (prefix == 0 && !strchr(p, '@'))
		return cf_strdup(s);
	url = redact_url(p, prefix);
	res = cf_asprintf("%.*s%s", (int)(p - s), s, url);
	free(url);
	return res;
}

/*
 * See confiture.h.  The result is a new string the caller frees; NULL in,
 * NULL out.
 */
char *
cf_redact_url(const char *url_or_conninfo)
{
	if (!url_or_conninfo)
		return NULL;
	return redact(url_or_conninfo);
}
