/*
 * sqllex.c — the lexer that is the only authority on where a statement of
 * a plain-SQL dump begins and ends.  dump_load.c sends exactly what it
 * yields to the server through libpq; no psql is involved, so a psql
 * meta-command can never run.  A backslash outside a literal, a comment
 * or COPY data is never SQL either, so it is refused wherever it stands.
 *
 * It follows the server's scanner (scan.l) for what hides a ';':
 * '...' (with backslash escapes when standard_conforming_strings is off,
 * as set by SET/RESET in the dump), E'...', B'...', X'...', U&'...',
 * quote continuation over a newline, "...", $tag$...$tag$, nested
 * block comments and line comments; and psql's rules for what the
 * server's scanner leaves to the client: ';' inside parentheses or inside
 * the BEGIN ... END of CREATE FUNCTION/PROCEDURE does not end a
 * statement, and COPY ... FROM stdin is followed by data lines up to
 * "\.".  pg_dump's "\restrict KEY" / "\unrestrict KEY" lines (15.14+)
 * are accepted only in that exact form, between statements, and must
 * pair up: a dump that ends inside a \restrict block is truncated.
 *
 * Input comes one line at a time, so a dump of any size streams through.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "provision/sqllex.h"

enum mode {
	M_NORMAL = 0,
	M_XQ,	    /* '...': '' doubles a quote */
	M_XE,	    /* E'...': backslash escapes too */
	M_XB,	    /* B'...', X'...': a quote always ends it */
	M_XD,	    /* "..." */
	M_DOLLAR,   /* $tag$...$tag$ */
	M_COMMENT,  /* slash-star comment, nested */
	M_QSTOP,    /* after a closing quote: a continuation may follow */
	M_COPY_EOL, /* rest of the line of COPY ... FROM stdin; */
	M_COPY,	    /* COPY data lines */
};

struct cf_sqllex {
	char *file;
	/* the line being read */
	const char *line;
	size_t len, pos;
	int lineno;
	bool line_started;
	size_t seg; /* start of the line's text not yet in stmt */

	enum mode mode;
	enum mode str_mode;	 /* M_QSTOP: the string mode to resume */
	bool qs_newline;	 /* M_QSTOP: a newline was seen */
	bool qs_comment;	 /* M_QSTOP: inside a -- comment */
	int lit_line, lit_col;	 /* where the open literal began */
	size_t lit_start;	 /* ... in the line, when lit_line is it */
	cf_sqllex_token pending; /* a closed string, until M_QSTOP ends */
	cf_strbuf tag;
	int depth;
	bool std_strings;

	/* the statement being read */
	cf_strbuf stmt;
	bool in_stmt;
	int stmt_line, stmt_col;
	int n_tokens;
	int parens, begin_depth, n_idents;
	char idents[4];
	char tok; /* token in progress: 0, 'w', 'n', 'o', '$' */
	size_t tok_start;
	cf_sqllex_item cur;

	char *restrict_key; /* inside a \restrict block */
	bool failed;
	bool finished_stmt;
};

cf_sqllex *
cf_sqllex_new(const char *file)
{
	cf_sqllex *lx = cf_new(cf_sqllex);

	lx->file = cf_strdup(file);
	lx->std_strings = true;
	return lx;
}

void
cf_sqllex_free(cf_sqllex *lx)
{
	if (!lx)
		return;
	cf_strbuf_release(&lx->tag);
	cf_strbuf_release(&lx->stmt);
	free(lx->restrict_key);
	free(lx->file);
	free(lx);
}

void
cf_sqllex_feed(cf_sqllex *lx, const char *line, size_t len)
{
	lx->line = line;
	lx->len = len;
	lx->pos = 0;
	lx->seg = 0;
	lx->line_started = false;
	lx->lineno++;
}

bool
cf_sqllex_std_strings(const cf_sqllex *lx)
{
	return lx->std_strings;
}

bool
cf_sqllex_is_word(const cf_sqllex_token *t, const char *w)
{
	return t->kind == 'w' && strcmp(t->text, w) == 0;
}

/* ---- character classes (scan.l's) ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static bool
ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' ||
	       ((unsigned char)c & 0x80);
}

static bool
ident_cont(char c)
{
	return ident_start(c) || isdigit((unsigned char)c) || c == '$';
}

static bool
op_char(char c)
{
	return c && strchr("~!@#^&|`?+-*/%<>=", c) != NULL;
}

/* 1-based column, in characters, of byte pos of the current line. */
static int
column_of(const cf_sqllex *lx, size_t pos)
{
	int col = 1;

	for (size_t i = 0; i < pos && i < lx->len; i++)
		if (((unsigned char)lx->line[i] & 0xC0) != 0x80)
			col++;
	return col;
}

/* ---- errors ---- */

static cf_sqllex_kind
fail_at(cf_sqllex *lx, cf_error **err, int line, int col, const char *code,
	cf_error *e)
{
	cf_error_set_where(e, lx->file, line, col);
	cf_error_set_code(e, code);
	lx->failed = true;
	lx->line = NULL;
	cf_fail(err, e);
	return CF_SQLLEX_ERROR;
}

/* The meta-command at pos, printable, for a message. */
static char *
command_name(const cf_sqllex *lx, size_t pos)
{
	cf_strbuf sb = CF_STRBUF_INIT;

	for (size_t i = pos; i < lx->len && i < pos + 16; i++) {
		unsigned char c = (unsigned char)lx->line[i];

		if (i > pos && (is_space((char)c) || c == '\\'))
			break;
		cf_strbuf_addch(&sb, c >= 0x21 && c < 0x7F ? (char)c : '?');
	}
	return cf_strbuf_detach(&sb);
}

static cf_sqllex_kind
fail_meta(cf_sqllex *lx, cf_error **err, size_t pos, const char *why)
{
	char *cmd = command_name(lx, pos);
	cf_error *e = cf_error_new(CF_ERR_CONFIG,
				   "dump '%s' contains psql meta-command '%s'",
				   lx->file, cmd);

	cf_error_set_detail(
		e, "%s",
		why ? why :
		      "confiture loads a dump through libpq and runs no psql meta-command; outside a literal or a comment a backslash is never SQL");
	cf_error_set_hint(
		e,
		"load only dumps made by pg_dump of one database (without --create), or remove the line");
	free(cmd);
	return fail_at(lx, err, lx->lineno, column_of(lx, pos),
		       "dump-meta-command", e);
}

/* ---- tokens ---- */

/* Keeps a top-level token for the statement's item. */
static void
record(cf_sqllex *lx, const cf_sqllex_token *t)
{
	cf_sqllex_item *it = &lx->cur;

	lx->n_tokens++;
	if (lx->parens > 0)
		return;
	if (it->n_first < (int)(sizeof(it->first) / sizeof(it->first[0])))
		it->first[it->n_first++] = *t;
	it->last[0] = it->last[1];
	it->last[1] = it->last[2];
	it->last[2] = *t;
	if (it->n_last < 3)
		it->n_last++;
	/* COPY ... FROM stdin: data lines follow (FROM outside parentheses) */
	if (it->n_first > 0 && cf_sqllex_is_word(&it->first[0], "copy") &&
	    cf_sqllex_is_word(t, "stdin") && it->n_last >= 2 &&
	    cf_sqllex_is_word(&it->last[1], "from"))
		it->copy_in = true;
}

/* A token of kind from line[start, end) (text kept when short). */
static cf_sqllex_token
make_token(const cf_sqllex *lx, char kind, size_t start, size_t end)
{
	cf_sqllex_token t;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	if (end > start && end - start < sizeof(t.text)) {
		for (size_t i = 0; i < end - start; i++) {
			char c = lx->line[start + i];

			t.text[i] = kind == 'w' ?
					    (char)tolower((unsigned char)c) :
					    c;
		}
	}
	return t;
}

/*
 * psql's rule for SQL-standard function bodies: in CREATE [OR REPLACE]
 * FUNCTION/PROCEDURE, BEGIN (and CASE inside it) opens a block that END
 * closes, and ';' inside a block does not end the statement.
 */
static void
block_words(cf_sqllex *lx, const char *w)
{
	static const char *const lead[] = {"create", "function", "procedure",
					   "or", "replace"};
	const char *id = lx->idents;

	if (lx->n_idents < 4) {
		for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++)
			if (strcmp(w, lead[i]) == 0)
				lx->idents[lx->n_idents] = w[0];
	}
	lx->n_idents++;
	if (lx->parens != 0 || id[0] != 'c' ||
	    !(id[1] == 'f' || id[1] == 'p' ||
	      (id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p'))))
		return;
	if (strcmp(w, "begin") == 0)
		lx->begin_depth++;
	else if (strcmp(w, "case") == 0 && lx->begin_depth >= 1)
		lx->begin_depth++;
	else if (strcmp(w, "end") == 0 && lx->begin_depth > 0)
		lx->begin_depth--;
}

/* Ends the token in progress at pos. */
static void
end_token(cf_sqllex *lx, size_t pos)
{
	cf_sqllex_token t;

	if (!lx->tok)
		return;
	t = make_token(lx, lx->tok == '$' ? 'n' : lx->tok, lx->tok_start, pos);
	if (lx->tok == 'w') {
		char w[16];
		size_t n = pos - lx->tok_start;

		if (n < sizeof(w)) {
			for (size_t i = 0; i < n; i++)
				w[i] = (char)tolower(
					(unsigned char)
						lx->line[lx->tok_start + i]);
			w[n] = '\0';
			block_words(lx, w);
		} else {
			lx->n_idents++;
		}
	}
	record(lx, &t);
	lx->tok = 0;
}

static void
start_statement(cf_sqllex *lx, size_t pos)
{
	if (lx->in_stmt)
		return;
	lx->in_stmt = true;
	lx->stmt_line = lx->lineno;
	lx->stmt_col = column_of(lx, pos);
	lx->seg = pos;
	cf_strbuf_reset(&lx->stmt);
	memset(&lx->cur, 0, sizeof(lx->cur));
	lx->n_tokens = 0;
	lx->parens = 0;
	lx->begin_depth = 0;
	lx->n_idents = 0;
	memset(lx->idents, 0, sizeof(lx->idents));
}

static void
begin_literal(cf_sqllex *lx, enum mode m, size_t start)
{
	lx->mode = m;
	lx->lit_line = lx->lineno;
	lx->lit_col = column_of(lx, start);
	lx->lit_start = start;
}

/* Text of the literal that ends at end (exclusive), or "" when it began
 * on an earlier line. */
static cf_sqllex_token
literal_token(const cf_sqllex *lx, char kind, size_t end)
{
	cf_sqllex_token t;

	if (lx->lit_line == lx->lineno)
		return make_token(lx, kind, lx->lit_start, end);
	memset(&t, 0, sizeof(t));
	t.kind = kind;
	return t;
}

/* Appends line[seg, end) to the statement; false when it grows too long. */
static bool
flush(cf_sqllex *lx, size_t end)
{
	if (end > lx->seg) {
		if (lx->stmt.len + (end - lx->seg) > CF_SQLLEX_MAX_TEXT)
			return false;
		cf_strbuf_add(&lx->stmt, lx->line + lx->seg, end - lx->seg);
	}
	lx->seg = end;
	return true;
}

static cf_sqllex_kind
fail_too_long(cf_sqllex *lx, cf_error **err)
{
	cf_error *e = cf_error_new(
		CF_ERR_CONFIG, "statement in dump '%s' is longer than %zu MiB",
		lx->file, CF_SQLLEX_MAX_TEXT >> 20);

	cf_error_set_hint(
		e, "a statement that long is not a schema: check the file");
	return fail_at(lx, err, lx->stmt_line, lx->stmt_col, "dump-too-long",
		       e);
}

/* ---- what a finished statement changes ---- */

/* The value of a SET: a word, number, or quoted text without quotes. */
static void
set_value(const cf_sqllex_token *t, char *out, size_t cap)
{
	const char *s = t->text, *q;
	size_t n;

	if ((t->kind == 's' || t->kind == 'q') &&
	    (q = strpbrk(s, "'\"")) != NULL) {
		s = q + 1;
		n = strlen(s);
		if (n > 0)
			n--;
	} else {
		n = strlen(s);
	}
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
}

/* The server's boolean spellings (parse_bool): 1 true, 0 false, -1. */
static int
parse_bool(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return -1;
	if (strncmp("true", v, n) == 0 || strncmp("yes", v, n) == 0 ||
	    (n >= 2 && strncmp("on", v, n) == 0) || strcmp(v, "1") == 0)
		return 1;
	if (strncmp("false", v, n) == 0 || strncmp("no", v, n) == 0 ||
	    (n >= 2 && strncmp("off", v, n) == 0) || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

bool
cf_sqllex_unsafe_encoding(const char *v)
{
	static const char *const names[] = {
		"sjis",	      "shiftjis",   "shiftjis2004", "mskanji",
		"win932",     "windows932", "big5",	    "win950",
		"windows950", "gbk",	    "win936",	    "windows936",
		"uhc",	      "win949",	    "windows949",   "gb18030",
		"johab"};
	char n[32];
	size_t k = 0;

	for (; *v && k + 1 < sizeof(n); v++)
		if (*v != '_' && *v != '-')
			n[k++] = (char)tolower((unsigned char)*v);
	n[k] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(n, names[i]) == 0)
			return true;
	return false;
}

/*
 * Follows SET/RESET standard_conforming_strings; refuses a client-only
 * encoding.  0, or -1 with *err.
 */
static int
statement_settings(cf_sqllex *lx, cf_error **err)
{
	const cf_sqllex_token *f = lx->cur.first;
	int n = lx->cur.n_first, i = 1;
	char v[32];

	if (n >= 2 && cf_sqllex_is_word(&f[0], "reset") &&
	    (cf_sqllex_is_word(&f[1], "standard_conforming_strings") ||
	     cf_sqllex_is_word(&f[1], "all"))) {
		lx->std_strings = true; /* our connection starts with on */
		return 0;
	}
	if (n < 3 || !cf_sqllex_is_word(&f[0], "set"))
		return 0;
	if (cf_sqllex_is_word(&f[1], "session") ||
	    cf_sqllex_is_word(&f[1], "local"))
		i = 2;
	if (cf_sqllex_is_word(&f[i], "names") && i + 1 < n) {
		set_value(&f[i + 1], v, sizeof(v));
	} else if (cf_sqllex_is_word(&f[i], "client_encoding") && i + 2 < n &&
		   (cf_sqllex_is_word(&f[i + 1], "to") ||
		    strcmp(f[i + 1].text, "=") == 0)) {
		set_value(&f[i + 2], v, sizeof(v));
	} else {
		if (cf_sqllex_is_word(&f[i], "standard_conforming_strings") &&
		    i + 2 < n &&
		    (cf_sqllex_is_word(&f[i + 1], "to") ||
		     strcmp(f[i + 1].text, "=") == 0)) {
			int b;

			set_value(&f[i + 2], v, sizeof(v));
			b = strcmp(v, "default") == 0 ? 1 : parse_bool(v);
			if (b >= 0)
				lx->std_strings = b == 1;
		}
		return 0;
	}
	if (cf_sqllex_unsafe_encoding(v)) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG,
			"dump '%s' switches to client encoding '%s', which confiture cannot read safely",
			lx->file, v);

		cf_error_set_detail(
			e,
			"in this encoding a backslash or a quote can be the second byte of a character");
		cf_error_set_hint(e,
				  "make the dump with pg_dump --encoding=UTF8");
		fail_at(lx, err, lx->stmt_line, lx->stmt_col, "dump-encoding",
			e);
		return -1;
	}
	return 0;
}

/* The statement read is complete: applies its settings, fills *it. */
static int
take_statement(cf_sqllex *lx, cf_sqllex_item *it, cf_error **err)
{
	lx->in_stmt = false;
	if (statement_settings(lx, err) < 0)
		return -1;
	*it = lx->cur;
	it->kind = CF_SQLLEX_STATEMENT;
	it->text = cf_strbuf_str(&lx->stmt);
	it->len = lx->stmt.len;
	it->line = lx->stmt_line;
	it->column = lx->stmt_col;
	return 0;
}

/* The statement ends with the ';' at end - 1: fills *it. */
static cf_sqllex_kind
end_statement(cf_sqllex *lx, size_t end, cf_sqllex_item *it, cf_error **err)
{
	if (!flush(lx, end))
		return fail_too_long(lx, err);
	if (take_statement(lx, it, err) < 0)
		return CF_SQLLEX_ERROR;
	if (it->copy_in)
		lx->mode = M_COPY_EOL;
	return CF_SQLLEX_STATEMENT;
}

/* ---- whole lines: COPY data and \restrict ---- */

static bool
line_is(const cf_sqllex *lx, const char *s)
{
	size_t n = strlen(s), len = lx->len;

	if (len > 0 && lx->line[len - 1] == '\n')
		len--;
	if (len > 0 && lx->line[len - 1] == '\r')
		len--;
	return len == n && memcmp(lx->line, s, n) == 0;
}

static cf_sqllex_kind
copy_line(cf_sqllex *lx, cf_sqllex_item *it, cf_error **err)
{
	memset(it, 0, sizeof(*it));
	it->line = lx->lineno;
	it->column = 1;
	it->text = lx->line;
	it->len = lx->len;
	if (line_is(lx, "\\.")) {
		lx->mode = M_NORMAL;
		it->kind = CF_SQLLEX_COPY_END;
	} else if (lx->len > CF_SQLLEX_MAX_TEXT) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG,
			"COPY data line in dump '%s' is longer than %zu MiB",
			lx->file, CF_SQLLEX_MAX_TEXT >> 20);

		cf_error_set_hint(e, "split the data, or load it another way");
		return fail_at(lx, err, lx->lineno, 1, "dump-too-long", e);
	} else {
		it->kind = CF_SQLLEX_COPY_DATA;
	}
	lx->line = NULL;
	return it->kind;
}

static cf_sqllex_kind
fail_restrict(cf_sqllex *lx, cf_error **err, const char *fmt)
{
	cf_error *e = cf_error_new(CF_ERR_CONFIG, fmt, lx->file);

	cf_error_set_detail(
		e,
		"pg_dump 15.14 and later wrap a dump in \\restrict KEY ... \\unrestrict KEY with the same key, once");
	cf_error_set_hint(
		e, "use the dump as pg_dump wrote it, complete and unedited");
	return fail_at(lx, err, lx->lineno, 1, "dump-restrict", e);
}

/* A line starting with '\' between statements. */
static cf_sqllex_kind
backslash_line(cf_sqllex *lx, cf_sqllex_item *it, cf_error **err)
{
	bool un = lx->len >= 12 && memcmp(lx->line, "\\unrestrict ", 12) == 0;
	size_t k = un ? 12 : 10, end = lx->len;

	if (!un && !(lx->len >= 10 && memcmp(lx->line, "\\restrict ", 10) == 0))
		return fail_meta(lx, err, 0, NULL);
	if (end > 0 && lx->line[end - 1] == '\n')
		end--;
	if (end > 0 && lx->line[end - 1] == '\r')
		end--;
	if (end == k)
		return fail_meta(
			lx, err, 0,
			"a \\restrict or \\unrestrict line needs the key pg_dump wrote");
	for (size_t i = k; i < end; i++)
		if (!isalnum((unsigned char)lx->line[i]))
			return fail_meta(
				lx, err, 0,
				"not in pg_dump's form: \\restrict or \\unrestrict, one space, a key of letters and digits");
	memset(it, 0, sizeof(*it));
	it->line = lx->lineno;
	it->column = 1;
	it->text = lx->line + k;
	it->len = end - k;
	if (!un) {
		if (lx->restrict_key)
			return fail_restrict(
				lx, err,
				"dump '%s' has a second \\restrict line before its \\unrestrict");
		lx->restrict_key = cf_strndup(lx->line + k, end - k);
		it->kind = CF_SQLLEX_RESTRICT;
	} else {
		if (!lx->restrict_key)
			return fail_restrict(
				lx, err,
				"dump '%s' has an \\unrestrict line without \\restrict");
		if (strlen(lx->restrict_key) != end - k ||
		    memcmp(lx->restrict_key, lx->line + k, end - k) != 0)
			return fail_restrict(
				lx, err,
				"the \\unrestrict key of dump '%s' does not match its \\restrict key");
		free(lx->restrict_key);
		lx->restrict_key = NULL;
		it->kind = CF_SQLLEX_UNRESTRICT;
	}
	lx->line = NULL;
	return it->kind;
}

/* ---- the scanner ---- */

/* Starts a dollar quote when a tag begins at pos; false otherwise. */
static bool
dollar_quote(cf_sqllex *lx, size_t pos)
{
	size_t j = pos + 1;

	if (j < lx->len && ident_start(lx->line[j]) && lx->line[j] != '$')
		while (j < lx->len && (ident_start(lx->line[j]) ||
				       isdigit((unsigned char)lx->line[j])))
			j++;
	if (j >= lx->len || lx->line[j] != '$')
		return false;
	cf_strbuf_reset(&lx->tag);
	cf_strbuf_add(&lx->tag, lx->line + pos, j - pos + 1);
	begin_literal(lx, M_DOLLAR, pos);
	lx->pos = j + 1;
	return true;
}

/* One step in a literal, comment or after a quote; false: re-scan pos in
 * M_NORMAL. */
static void
step_literal(cf_sqllex *lx)
{
	const char *s = lx->line;
	size_t i = lx->pos;
	char c = s[i], nx = i + 1 < lx->len ? s[i + 1] : '\0';

	switch (lx->mode) {
	case M_XE:
		if (c == '\\') {
			lx->pos += i + 1 < lx->len ? 2 : 1;
			return;
		}
		/* fall through */
	case M_XQ:
		if (c == '\'' && nx == '\'') {
			lx->pos += 2;
			return;
		}
		/* fall through */
	case M_XB:
		if (c == '\'') {
			lx->pending = literal_token(lx, 's', i + 1);
			lx->str_mode = lx->mode;
			lx->mode = M_QSTOP;
			lx->qs_newline = lx->qs_comment = false;
		}
		lx->pos++;
		return;
	case M_XD:
		if (c == '"' && nx == '"') {
			lx->pos += 2;
			return;
		}
		if (c == '"') {
			cf_sqllex_token t = literal_token(lx, 'q', i + 1);

			lx->mode = M_NORMAL;
			record(lx, &t);
		}
		lx->pos++;
		return;
	case M_DOLLAR:
		if (c == '$' && lx->len - i >= lx->tag.len &&
		    memcmp(s + i, lx->tag.buf, lx->tag.len) == 0) {
			cf_sqllex_token t = literal_token(lx, 's',
							  i + lx->tag.len);

			lx->mode = M_NORMAL;
			record(lx, &t);
			lx->pos += lx->tag.len;
			return;
		}
		lx->pos++;
		return;
	case M_COMMENT:
		if (c == '/' && nx == '*') {
			lx->depth++;
			lx->pos += 2;
		} else if (c == '*' && nx == '/') {
			lx->pos += 2;
			if (--lx->depth == 0)
				lx->mode = M_NORMAL;
		} else {
			lx->pos++;
		}
		return;
	case M_QSTOP:
		/* scan.l's quotecontinue: white space with a newline, then a
		 * quote, continues the same string */
		if (lx->qs_comment) {
			if (c == '\n' || c == '\r')
				lx->qs_comment = false;
			lx->pos++;
			return;
		}
		if (c == ' ' || c == '\t' || c == '\f' ||
		    (lx->qs_newline && is_space(c))) {
			lx->pos++;
			return;
		}
		if (c == '\n' || c == '\r') {
			lx->qs_newline = true;
			lx->pos++;
			return;
		}
		if (lx->qs_newline && c == '-' && nx == '-') {
			lx->qs_comment = true;
			lx->pos += 2;
			return;
		}
		if (lx->qs_newline && c == '\'') {
			lx->mode = lx->str_mode;
			lx->pos++;
			return;
		}
		lx->mode = M_NORMAL;
		record(lx, &lx->pending);
		return;
	default:
		lx->pos++;
		return;
	}
}

cf_sqllex_kind
cf_sqllex_next(cf_sqllex *lx, cf_sqllex_item *it, cf_error **err)
{
	if (lx->failed)
		return CF_SQLLEX_ERROR;
	if (!lx->line)
		return CF_SQLLEX_MORE;
	if (!lx->line_started) {
		const char *nul;

		lx->line_started = true;
		if (lx->mode == M_COPY)
			return copy_line(lx, it, err);
		/* a statement is a C string for libpq: a NUL would cut it
		 * short, in a comment or literal too (found by fuzz_dump) */
		if ((nul = memchr(lx->line, '\0', lx->len)) != NULL) {
			cf_error *e = cf_error_new(
				CF_ERR_CONFIG, "dump '%s' contains a NUL byte",
				lx->file);

			cf_error_set_hint(e, "a dump is text: check the file");
			return fail_at(lx, err, lx->lineno,
				       column_of(lx, (size_t)(nul - lx->line)),
				       "dump-nul", e);
		}
		if (lx->mode == M_NORMAL && !lx->in_stmt && lx->len > 0 &&
		    lx->line[0] == '\\')
			return backslash_line(lx, it, err);
	}
	while (lx->pos < lx->len) {
		size_t i = lx->pos;
		char c = lx->line[i],
		     nx = i + 1 < lx->len ? lx->line[i + 1] : '\0';

		if (lx->mode == M_COPY_EOL) {
			if (!is_space(c)) {
				cf_error *e = cf_error_new(
					CF_ERR_CONFIG,
					"text after COPY ... FROM stdin; on its line in dump '%s'",
					lx->file);

				cf_error_set_detail(
					e, "COPY data starts on the next line");
				cf_error_set_hint(
					e, "use the dump as pg_dump wrote it");
				return fail_at(lx, err, lx->lineno,
					       column_of(lx, i),
					       "dump-copy-trailing", e);
			}
			lx->pos++;
			continue;
		}
		if (lx->mode != M_NORMAL) {
			step_literal(lx);
			continue;
		}
		if (is_space(c)) {
			end_token(lx, i);
			lx->pos++;
			continue;
		}
		if (c == '-' && nx == '-') {
			/* a comment ends at \n or \r, as in scan.l */
			end_token(lx, i);
			while (lx->pos < lx->len && lx->line[lx->pos] != '\n' &&
			       lx->line[lx->pos] != '\r')
				lx->pos++;
			continue;
		}
		if (c == '/' && nx == '*') {
			end_token(lx, i);
			begin_literal(lx, M_COMMENT, i);
			lx->depth = 1;
			lx->pos += 2;
			continue;
		}
		if (c == '\\')
			return fail_meta(lx, err, i, NULL);
		start_statement(lx, i);
		if ((lx->tok == 'w' && ident_cont(c)) ||
		    (lx->tok == 'n' && (ident_cont(c) || c == '.') &&
		     c != '$') ||
		    (lx->tok == '$' && ident_cont(c) && c != '$') ||
		    (lx->tok == 'o' && op_char(c))) {
			lx->pos++;
			continue;
		}
		/* E'', B'', X'', N'', U&'' and U&"": a one-letter word right
		 * before the quote */
		if (lx->tok == 'w' && i - lx->tok_start == 1) {
			char p = (char)tolower(
				(unsigned char)lx->line[lx->tok_start]);
			size_t st = lx->tok_start;

			if (c == '\'' &&
			    (p == 'e' || p == 'b' || p == 'x' || p == 'n')) {
				lx->tok = 0;
				begin_literal(lx,
					      p == 'e' ? M_XE :
					      p == 'n' ? (lx->std_strings ?
								  M_XQ :
								  M_XE) :
							 M_XB,
					      st);
				lx->pos++;
				continue;
			}
			if (c == '&' && p == 'u' && (nx == '\'' || nx == '"')) {
				lx->tok = 0;
				begin_literal(lx, nx == '"' ? M_XD : M_XQ, st);
				lx->pos += 2;
				continue;
			}
		}
		end_token(lx, i);
		if (c == '\'') {
			begin_literal(lx, lx->std_strings ? M_XQ : M_XE, i);
			lx->pos++;
		} else if (c == '"') {
			begin_literal(lx, M_XD, i);
			lx->pos++;
		} else if (c == '$' && isdigit((unsigned char)nx)) {
			lx->tok = '$';
			lx->tok_start = i;
			lx->pos++;
		} else if (c == '$' && dollar_quote(lx, i)) {
			continue;
		} else if (c == ';' && lx->parens == 0 &&
			   lx->begin_depth == 0) {
			lx->pos++;
			if (lx->n_tokens == 0) {
				lx->in_stmt = false; /* a lone ';' */
				continue;
			}
			return end_statement(lx, i + 1, it, err);
		} else if (isdigit((unsigned char)c) ||
			   (c == '.' && isdigit((unsigned char)nx))) {
			lx->tok = 'n';
			lx->tok_start = i;
			lx->pos++;
		} else if (ident_start(c)) {
			lx->tok = 'w';
			lx->tok_start = i;
			lx->pos++;
		} else if (op_char(c)) {
			lx->tok = 'o';
			lx->tok_start = i;
			lx->pos++;
		} else {
			cf_sqllex_token t = make_token(lx, 'p', i, i + 1);

			if (c == ')' && lx->parens > 0)
				lx->parens--;
			record(lx, &t);
			if (c == '(')
				lx->parens++;
			lx->pos++;
		}
	}
	end_token(lx, lx->len);
	if (lx->in_stmt && !flush(lx, lx->len))
		return fail_too_long(lx, err);
	if (lx->mode == M_COPY_EOL)
		lx->mode = M_COPY;
	lx->line = NULL;
	return CF_SQLLEX_MORE;
}

cf_sqllex_kind
cf_sqllex_finish(cf_sqllex *lx, cf_sqllex_item *it, cf_error **err)
{
	const char *what = NULL;
	cf_error *e;

	if (lx->failed)
		return CF_SQLLEX_ERROR;
	if (lx->line)
		lx->line = NULL;
	switch (lx->mode) {
	case M_XQ:
	case M_XE:
	case M_XB:
		what = "quoted string";
		break;
	case M_XD:
		what = "quoted identifier";
		break;
	case M_DOLLAR:
		what = "dollar-quoted string";
		break;
	case M_COMMENT:
		what = "comment";
		break;
	case M_QSTOP:
		lx->mode = M_NORMAL;
		record(lx, &lx->pending);
		break;
	case M_COPY_EOL:
	case M_COPY:
		e = cf_error_new(
			CF_ERR_CONFIG,
			"COPY data in dump '%s' does not end with a \\. line",
			lx->file);
		cf_error_set_hint(
			e, "the dump is truncated: make it again with pg_dump");
		return fail_at(lx, err, lx->lineno, 1, "dump-copy-unterminated",
			       e);
	default:
		break;
	}
	if (what) {
		e = cf_error_new(CF_ERR_CONFIG, "unterminated %s in dump '%s'",
				 what, lx->file);
		cf_error_set_hint(e, "the dump is truncated or not SQL");
		return fail_at(lx, err, lx->lit_line, lx->lit_col,
			       "dump-unterminated", e);
	}
	if (lx->in_stmt && !lx->finished_stmt) {
		/* psql runs a last statement without ';' too */
		lx->finished_stmt = true;
		if (take_statement(lx, it, err) < 0)
			return CF_SQLLEX_ERROR;
		if (it->copy_in) {
			e = cf_error_new(
				CF_ERR_CONFIG,
				"COPY ... FROM stdin at the end of dump '%s' has no data",
				lx->file);
			cf_error_set_hint(
				e,
				"the dump is truncated: make it again with pg_dump");
			return fail_at(lx, err, it->line, it->column,
				       "dump-copy-unterminated", e);
		}
		return CF_SQLLEX_STATEMENT;
	}
	if (lx->restrict_key) {
		e = cf_error_new(
			CF_ERR_CONFIG,
			"dump '%s' ends without the \\unrestrict line that matches its \\restrict",
			lx->file);
		cf_error_set_detail(
			e,
			"pg_dump writes \\unrestrict at the very end: this dump is truncated");
		cf_error_set_hint(e, "make the dump again with pg_dump");
		return fail_at(lx, err, lx->lineno > 0 ? lx->lineno : 1, 1,
			       "dump-restrict", e);
	}
	return CF_SQLLEX_END;
}
