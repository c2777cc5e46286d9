/*
 * fuzz_dump.c — libFuzzer harness for the dump lexer (sqllex.c): bytes as
 * a plain-SQL dump, fed line by line as dump_load.c feeds it.
 *
 * The lexer decides what reaches the server; no client program ever sees
 * the dump (dump_load.c runs no psql).  Besides the sanitizers this
 * checks, with a reference scanner written independently of the lexer,
 * that no statement it yields holds a backslash outside a literal or a
 * comment (a psql meta-command), that no program is ever started (exec*,
 * popen and system abort here), that COPY data lines come only between
 * a COPY ... FROM stdin statement and its "\." line, that \restrict keys
 * are pg_dump's shape, and that errors carry a code and a position.
 *
 * Not part of the meson build; fuzz/README.md has the build command.
 */
#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision/sqllex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the reference scanner: whole statement text at once ---- */

static bool
ref_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' ||
	       ((unsigned char)c & 0x80);
}

static bool
ref_ident_cont(char c)
{
	return ref_ident_start(c) || isdigit((unsigned char)c) || c == '$';
}

/*
 * Skips a quoted string starting at the quote s[i]: kind 'q' ('' doubles),
 * 'e' (and backslash escapes), 'b' (a quote always ends it), with the
 * server's continuation (white space holding a newline, then a quote).
 * Returns the index after it, or n when it does not end.
 */
static size_t
ref_string(const char *s, size_t n, size_t i, char kind)
{
	i++;
	for (;;) {
		size_t j;
		bool nl = false;

		while (i < n) {
			if (kind == 'e' && s[i] == '\\') {
				i += 2;
				continue;
			}
			if (s[i] == '\'' && kind != 'b' && i + 1 < n &&
			    s[i + 1] == '\'') {
				i += 2;
				continue;
			}
			if (s[i] == '\'')
				break;
			i++;
		}
		if (i >= n)
			return n;
		/* s[i] is the closing quote: a continuation may follow */
		j = i + 1;
		while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f'))
			j++;
		if (j < n && (s[j] == '\n' || s[j] == '\r')) {
			nl = true;
			for (;;) {
				if (j < n && (s[j] == ' ' || s[j] == '\t' ||
					      s[j] == '\n' || s[j] == '\r' ||
					      s[j] == '\f' || s[j] == '\v')) {
					j++;
				} else if (j + 1 < n && s[j] == '-' &&
					   s[j + 1] == '-') {
					while (j < n && s[j] != '\n' &&
					       s[j] != '\r')
						j++;
				} else {
					break;
				}
			}
		}
		if (nl && j < n && s[j] == '\'') {
			i = j + 1;
			continue;
		}
		return i + 1;
	}
}

/* Whether s has a backslash outside literals, identifiers and comments. */
static bool
ref_bare_backslash(const char *s, size_t n, bool std_strings)
{
	size_t i = 0;

	while (i < n) {
		char c = s[i];

		if (c == '\\')
			return true;
		if (c == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			int depth = 1;

			i += 2;
			while (i < n && depth > 0) {
				if (s[i] == '/' && i + 1 < n &&
				    s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < n &&
					   s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			}
		} else if (ref_ident_start(c)) {
			size_t st = i;
			char p = (char)tolower((unsigned char)c);

			while (i < n && ref_ident_cont(s[i]))
				i++;
			if (i - st == 1 && i < n && s[i] == '\'' &&
			    strchr("ebxn", p))
				i = ref_string(
					s, n, i,
					p == 'e' ? 'e' :
					p == 'n' ? (std_strings ? 'q' : 'e') :
						   'b');
			else if (i - st == 1 && p == 'u' && i + 2 <= n &&
				 s[i] == '&' && i + 1 < n &&
				 (s[i + 1] == '\'' || s[i + 1] == '"')) {
				i++;
				if (s[i] == '\'') {
					i = ref_string(s, n, i, 'q');
				} else {
					for (i++; i < n; i++)
						if (s[i] == '"') {
							if (i + 1 < n &&
							    s[i + 1] == '"')
								i++;
							else
								break;
						}
					i++;
				}
			}
		} else if (isdigit((unsigned char)c) ||
			   (c == '.' && i + 1 < n &&
			    isdigit((unsigned char)s[i + 1]))) {
			i++;
			while (i < n && (ref_ident_cont(s[i]) || s[i] == '.') &&
			       s[i] != '$')
				i++;
		} else if (c == '\'') {
			i = ref_string(s, n, i, std_strings ? 'q' : 'e');
		} else if (c == '"') {
			for (i++; i < n; i++)
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"')
						i++;
					else
						break;
				}
			i++;
		} else if (c == '$' && i + 1 < n &&
			   isdigit((unsigned char)s[i + 1])) {
			i++;
			while (i < n && ref_ident_cont(s[i]) && s[i] != '$')
				i++;
		} else if (c == '$') {
			size_t j = i + 1;

			if (j < n && ref_ident_start(s[j]))
				while (j < n && (ref_ident_start(s[j]) ||
						 isdigit((unsigned char)s[j])))
					j++;
			if (j < n && s[j] == '$') {
				size_t tag = j - i + 1;
				const char *end = NULL;

				for (size_t k = j + 1; k + tag <= n; k++)
					if (memcmp(s + k, s + i, tag) == 0) {
						end = s + k;
						break;
					}
				i = end ? (size_t)(end - s) + tag : n;
			} else {
				i++;
			}
		} else {
			i++;
		}
	}
	return false;
}

/* ---- nothing may start a program ---- */

/*
 * These override libc's in this binary: the lexer must never hand
 * anything to a client program, so any attempt aborts the run.
 */
int execv(const char *path, char *const argv[]);
int execve(const char *path, char *const argv[], char *const envp[]);
int execvp(const char *file, char *const argv[]);
FILE *popen(const char *command, const char *type);
int system(const char *command);

int
execv(const char *path, char *const argv[])
{
	(void)path;
	(void)argv;
	abort();
}

int
execve(const char *path, char *const argv[], char *const envp[])
{
	(void)path;
	(void)argv;
	(void)envp;
	abort();
}

int
execvp(const char *file, char *const argv[])
{
	(void)file;
	(void)argv;
	abort();
}

FILE *
popen(const char *command, const char *type)
{
	(void)command;
	(void)type;
	abort();
}

int
system(const char *command)
{
	(void)command;
	abort();
}

/* ---- the harness ---- */

static void
check_item(cf_sqllex_kind k, const cf_sqllex_item *it, bool std_strings,
	   bool *in_copy)
{
	switch (k) {
	case CF_SQLLEX_STATEMENT:
		assert(!*in_copy);
		assert(it->text && it->len > 0 && strlen(it->text) == it->len);
		assert(!isspace((unsigned char)it->text[0]));
		assert(it->line >= 1 && it->column >= 1);
		/* the invariant: nothing for psql in what reaches the
		 * server */
		assert(!ref_bare_backslash(it->text, it->len, std_strings));
		*in_copy = it->copy_in;
		break;
	case CF_SQLLEX_COPY_DATA:
		assert(*in_copy);
		break;
	case CF_SQLLEX_COPY_END:
		assert(*in_copy);
		*in_copy = false;
		break;
	case CF_SQLLEX_RESTRICT:
	case CF_SQLLEX_UNRESTRICT:
		assert(!*in_copy && it->len > 0);
		for (size_t i = 0; i < it->len; i++)
			assert(isalnum((unsigned char)it->text[i]));
		break;
	default:
		assert(0);
	}
}

static void
check_error(const cf_error *e)
{
	assert(e && e->message && e->code && e->hint);
	assert(strncmp(e->code, "dump-", 5) == 0);
	assert(e->file && strcmp(e->file, "fuzz.sql") == 0);
	assert(e->line >= 1 && e->column >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	cf_sqllex *lx = cf_sqllex_new("fuzz.sql");
	cf_sqllex_item it;
	cf_sqllex_kind k = CF_SQLLEX_MORE;
	cf_error *err = NULL;
	bool in_copy = false, failed = false;
	size_t off = 0;

	while (off < size && !failed) {
		const char *nl = memchr(text + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (text + off)) + 1 : size - off;

		cf_sqllex_feed(lx, text + off, n);
		for (;;) {
			bool std = cf_sqllex_std_strings(lx);

			k = cf_sqllex_next(lx, &it, &err);
			if (k == CF_SQLLEX_MORE)
				break;
			if (k == CF_SQLLEX_ERROR) {
				check_error(err);
				failed = true;
				break;
			}
			check_item(k, &it, std, &in_copy);
		}
		off += n;
	}
	while (!failed) {
		bool std = cf_sqllex_std_strings(lx);

		k = cf_sqllex_finish(lx, &it, &err);
		if (k == CF_SQLLEX_END)
			break;
		if (k == CF_SQLLEX_ERROR) {
			check_error(err);
			failed = true;
			break;
		}
		check_item(k, &it, std, &in_copy);
	}
	/* a clean end leaves no COPY open */
	assert(failed || !in_copy);
	cf_error_free(err);
	cf_sqllex_free(lx);
	return 0;
}
