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

#include "base/base.h"

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
 * Marks in hide[] the "password=" and "sslpassword=" values of rest, the
 * part of a URL after its scheme.  Keys are looked for after every '?' and
 * '&', not only in the query proper, so that parameters are found even
 * where a '?' or '@' makes the layout ambiguous.  A value runs to the next
 * '&', as in libpq ("password=a?b@c" is "a?b@c").
 */
static void
mark_url_params(const char *rest, size_t len, bool *hide)
{
	for (size_t i = 0; i < len; i++) {
		size_t k;

		if (i > 0 && rest[i - 1] != '?' && rest[i - 1] != '&')
			continue;
		k = i;
		while (k < len && rest[k] != '=' && rest[k] != '?' &&
		       rest[k] != '&')
			k++;
		if (k >= len || rest[k] != '=' ||
		    !is_secret_url_key(rest + i, k - i))
			continue;
		for (k++; k < len && rest[k] != '&'; k++)
			hide[k] = true;
	}
}

/*
 * Marks in hide[] the secrets of a URL whose "scheme://" is url[0..prefix)
 * (prefix may be 0 for a mistyped URL).  The user information ends at the
 * LAST '@' after the scheme, so a password holding a raw '@' is hidden
 * completely; the password is everything between the first ':' of the
 * user information and that '@'.  An '@' in the path or query makes
 * everything before it look like user information, hidden too when it
 * holds a ':'.  And every secret parameter is hidden, wherever it sits
 * (see mark_url_params()).
 */
static void
mark_url(const char *url, size_t prefix, bool *hide)
{
	const char *rest = url + prefix;
	const char *at = strrchr(rest, '@');

	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));

		for (const char *q = colon ? colon + 1 : at; q < at; q++)
			hide[q - url] = true;
	}
	mark_url_params(rest, strlen(rest), hide + prefix);
}

/*
 * Scans a conninfo value starting at p (libpq rules: single-quoted with
 * backslash escapes, or bare up to white space, where a backslash also
 * escapes the next byte).  Returns the end of the value; when unescaped is
 * not NULL the value without quotes and escapes is appended to it, and
 * *map is set to a new array: (*map)[i] is the offset from p of the escape
 * or byte that gave its i-th byte, and (*map)[n] that of the end of the
 * value's n bytes.  An unterminated quote runs to the end of the string.
 */
static const char *
scan_conninfo_value(const char *p, cf_strbuf *unescaped, size_t **map)
{
	const char *start = p;
	bool quoted = (*p == '\'');
	size_t n = 0;

	if (map)
		*map = cf_malloc((strlen(p) + 1) * sizeof(size_t));
	if (quoted)
		p++;
	while (*p) {
		const char *from = p;

		if ((quoted && *p == '\'') ||
		    (!quoted && isspace((unsigned char)*p)))
			break;
		if (*p == '\\' && p[1])
			p++;
		if (unescaped)
			cf_strbuf_addch(unescaped, *p);
		if (map)
			(*map)[n++] = (size_t)(from - start);
		p++;
	}
	if (map)
		(*map)[n] = (size_t)(p - start);
	return quoted && *p == '\'' ? p + 1 : p;
}

static void mark(const char *s, bool *hide, int depth);

/*
 * Marks in hide[] the secrets of a key=value conninfo string: the values
 * of secret keywords, quotes included.  A dbname value that is itself a
 * URL or a conninfo string (libpq expands those) is searched recursively,
 * and so is any value or stray word holding an '@' (a URL pasted in).
 * A secret keyword without '=' hides the next word, in case the '=' was
 * simply forgotten.  On text that is not conninfo at all only such
 * "password word" pairs are hidden.
 */
static void
mark_conninfo(const char *s, bool *hide, int depth)
{
	const char *p = s;

	while (*p) {
		const char *key;
		const char *start;
		size_t keylen;
		bool secret;

		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		keylen = (size_t)(p - key);
		secret = is_secret_key(key, keylen);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=' && !(secret && *p)) {
			/* a stray word may be a URL: "x postgresql://u:pw@h" */
			if (memchr(key, '@', keylen) && keylen < strlen(s) &&
			    depth < 8) {
				char *w = cf_strndup(key, keylen);

				mark(w, hide + (key - s), depth + 1);
				free(w);
			}
			continue;
		}
		if (*p == '=') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
		}
		start = p;
		if (secret) {
			p = scan_conninfo_value(p, NULL, NULL);
			memset(hide + (start - s), true, (size_t)(p - start));
		} else if (depth < 8) {
			cf_strbuf value = CF_STRBUF_INIT;
			size_t *map;
			const char *v;
			size_t vlen;

			p = scan_conninfo_value(p, &value, &map);
			v = cf_strbuf_str(&value);
			vlen = strlen(v);
			/* libpq expands a dbname; any value may hold a URL */
			if ((keylen == 6 &&
			     strncasecmp(key, "dbname", 6) == 0) ||
			    strchr(v, '@')) {
				bool *inner = cf_calloc(vlen + 1, sizeof(bool));

				mark(v, inner, depth + 1);
				for (size_t i = 0; i < vlen; i++)
					if (inner[i])
						memset(hide + (start - s) +
							       map[i],
						       true,
						       map[i + 1] - map[i]);
				free(inner);
			}
			free(map);
			cf_strbuf_release(&value);
		} else {
			p = scan_conninfo_value(p, NULL, NULL);
		}
	}
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
 * Marks in hide[] (one flag per byte of s) what to hide in s, whatever its
 * form.  After optional white space it may be a URL, a conninfo string,
 * or something else.  Something else holding an '@' (a mistyped URL such
 * as "postgresql:/u:pw@h" or a bare "u:pw@h") is read as if it were all
 * user information and host.  Every string is read as conninfo too: libpq
 * reads anything but its own two URL schemes as conninfo, accepting any
 * keyword spelling ("host-name=h password=pw@x"); on plain text that
 * hides only "password" values.  The union of both readings is hidden.
 */
static void
mark(const char *s, bool *hide, int depth)
{
	const char *p = s;
	size_t prefix;

	while (isspace((unsigned char)*p))
		p++;
	prefix = url_prefix_len(p);
	if (prefix > 0 || (!looks_like_conninfo(p) && strchr(p, '@')))
		mark_url(p, prefix, hide + (p - s));
	mark_conninfo(s, hide, depth);
}

/*
 * See confiture.h.  Each run of hidden bytes becomes one "***"; the rest
 * is copied.  The result is a new string the caller frees; NULL in, NULL
 * out.
 */
char *
cf_redact_url(const char *url_or_conninfo)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	size_t len;
	bool *hide;

	if (!url_or_conninfo)
		return NULL;
	len = strlen(url_or_conninfo);
	hide = cf_calloc(len + 1, sizeof(bool));
	mark(url_or_conninfo, hide, 0);
	for (size_t i = 0; i < len; i++) {
		if (!hide[i])
			cf_strbuf_addch(&sb, url_or_conninfo[i]);
		else if (i == 0 || !hide[i - 1])
			cf_strbuf_addstr(&sb, REDACTED);
	}
	free(hide);
	return cf_strbuf_detach(&sb);
}

/* Replaces every occurrence of s (not empty) in *msg by "***". */
static void
hide_all(char **msg, const char *s)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	size_t n = strlen(s);
	const char *p = *msg;
	const char *q;

	if (n == 0 || !strstr(p, s))
		return;
	while ((q = strstr(p, s)) != NULL) {
		cf_strbuf_add(&sb, p, (size_t)(q - p));
		cf_strbuf_addstr(&sb, REDACTED);
		p = q + n;
	}
	cf_strbuf_addstr(&sb, p);
	free(*msg);
	*msg = cf_strbuf_detach(&sb);
}

/*
 * See base/base.h.  libpq quotes the whole string, or the token it choked
 * on (a password among them: "invalid percent-encoded token"), and a
 * server quotes a database name that may be a whole URL (truncated).  So:
 * whole copies of conninfo become its redacted form; every hidden run of
 * conninfo, as written and percent-decoded, becomes "***"; and so does
 * every double-quoted fragment of msg that lies inside a hidden run.
 */
char *
cf_redact_message(const char *msg, const char *conninfo)
{
	char *out;
	char *red;
	size_t len;
	bool *hide;
	cf_strbuf frag = CF_STRBUF_INIT;
	char **runs = NULL;
	size_t nruns = 0;
	size_t runs_alloc = 0;

	if (!msg)
		return NULL;
	out = cf_strdup(msg);
	if (!conninfo || !*conninfo)
		return out;
	red = cf_redact_url(conninfo);
	if (strcmp(red, conninfo) == 0) {
		free(red);
		return out;
	}
	if (strstr(msg, conninfo)) {
		cf_strbuf sb = CF_STRBUF_INIT;
		const char *p = msg;
		const char *q;

		while ((q = strstr(p, conninfo)) != NULL) {
			cf_strbuf_add(&sb, p, (size_t)(q - p));
			cf_strbuf_addstr(&sb, red);
			p = q + strlen(conninfo);
		}
		cf_strbuf_addstr(&sb, p);
		free(out);
		out = cf_strbuf_detach(&sb);
	}
	free(red);

	len = strlen(conninfo);
	hide = cf_calloc(len + 1, sizeof(bool));
	mark(conninfo, hide, 0);
	for (size_t i = 0; i < len; i++) {
		size_t j = i;

		if (!hide[i] || (i > 0 && hide[i - 1]))
			continue;
		while (j < len && hide[j])
			j++;
		CF_GROW(runs, runs_alloc, nruns + 2);
		runs[nruns++] = cf_strndup(conninfo + i, j - i);
		/* its percent-decoded form */
		cf_strbuf_reset(&frag);
		for (size_t k = i; k < j; k++) {
			if (conninfo[k] == '%' && k + 2 < j &&
			    hex_value(conninfo[k + 1]) >= 0 &&
			    hex_value(conninfo[k + 2]) >= 0) {
				cf_strbuf_addch(
					&frag,
					(char)(hex_value(conninfo[k + 1]) * 16 +
					       hex_value(conninfo[k + 2])));
				k += 2;
			} else {
				cf_strbuf_addch(&frag, conninfo[k]);
			}
		}
		runs[nruns++] = cf_strbuf_detach(&frag);
	}
	free(hide);

	/* quoted fragments inside a run: libpq's token may be shorter */
	{
		cf_strbuf sb = CF_STRBUF_INIT;
		const char *p = out;

		while (*p) {
			const char *open = strchr(p, '"');
			const char *close = open ? strchr(open + 1, '"') : NULL;
			bool secret = false;

			if (!close) {
				cf_strbuf_addstr(&sb, p);
				break;
			}
			cf_strbuf_add(&sb, p, (size_t)(open - p) + 1);
			if (close > open + 1) {
				char *f = cf_strndup(
					open + 1, (size_t)(close - open - 1));

				for (size_t r = 0; r < nruns && !secret; r++)
					secret = strstr(runs[r], f) != NULL;
				free(f);
			}
			if (secret)
				cf_strbuf_addstr(&sb, REDACTED);
			else
				cf_strbuf_add(&sb, open + 1,
					      (size_t)(close - open - 1));
			cf_strbuf_addch(&sb, '"');
			p = close + 1;
		}
		free(out);
		out = cf_strbuf_detach(&sb);
	}
	for (size_t r = 0; r < nruns; r++) {
		hide_all(&out, runs[r]);
		free(runs[r]);
	}
	free(runs);
	cf_strbuf_release(&frag);
	return out;
}
