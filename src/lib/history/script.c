/*
 * script.c — reads a migration script, splits it into statements with
 * libpg_query and classifies them: transaction control (BEGIN, COMMIT, ...),
 * statements that cannot run inside a transaction (CREATE INDEX
 * CONCURRENTLY, VACUUM, ...), psql meta-commands, syntax errors.
 *
 * The file is parsed once, into libpg_query's protobuf tree, and each
 * statement is read into the statement model (history/model.h) for later
 * analysis.  Statement boundaries come from the parser; a small lexer
 * (comments, quotes, dollar quotes) refines them so that a statement starts
 * at its first token and ends at its ';'.  When the parser rejects the file
 * (a syntax error, or syntax of a newer PostgreSQL than the parser's), the
 * scanner splits it and each statement is parsed alone: the statements the
 * parser rejects are kept, to be judged by the server, with a model read
 * from their tokens.
 *
 * The "-- confiture:no-transaction" marker is a line comment alone on its
 * line (only blanks before the "--"), anywhere in the file but outside
 * string literals and dollar-quoted bodies, whose text after "--" is exactly
 * "confiture:no-transaction" once surrounding blanks are trimmed.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "base/base.h"
#include "history/model.h"
#include "history/tree_json.h"

#define NO_TX_MARKER "confiture:no-transaction"

/* ------------------------------------------------------------------------
 * A small SQL lexer: just enough to skip comments and find token ends
 * ------------------------------------------------------------------------ */

/*
 * Character classes: SQL whitespace (the scanner's space class), what may
 * start an identifier or keyword (letters, '_', bytes >= 0x80) and what
 * may continue one (those, digits and '$').  A table: the lexer looks at
 * every byte of every file.
 */
enum {
	CH_SPACE = 1,
	CH_START = 2,
	CH_CONT = 4
};
#define S CH_SPACE
#define L (CH_START | CH_CONT)
#define D CH_CONT
/* clang-format off */
static const unsigned char char_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S, S, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	S, 0, 0, 0, D, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
	D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x40 */
	L, L, L, L, L, L, L, L, L, L, L, 0, 0, 0, 0, L, /* 0x50 */
	0, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x60 */
	L, L, L, L, L, L, L, L, L, L, L, 0, 0, 0, 0, 0, /* 0x70 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x80 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x90 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xA0 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xB0 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xC0 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xD0 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xE0 */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0xF0 */
};
/* clang-format on */
#undef S
#undef L
#undef D

static inline bool
is_space(char c)
{
	return char_class[(unsigned char)c] & CH_SPACE;
}

static inline bool
is_ident_start(char c)
{
	return char_class[(unsigned char)c] & CH_START;
}

static inline bool
is_ident_cont(char c)
{
	return char_class[(unsigned char)c] & CH_CONT;
}

/*
 * Checks whether the line comment starting at s[start] ("--") is the
 * no-transaction marker: alone on its line and with exactly the marker text.
 */
static bool
is_marker_comment(const char *s, size_t start, size_t end)
{
	size_t b = start + 2, e = end;

	for (size_t i = start; i > 0 && s[i - 1] != '\n'; i--)
		if (!is_space(s[i - 1]))
			return false;
	while (b < e && is_space(s[b]))
		b++;
	while (e > b && is_space(s[e - 1]))
		e--;
	return e - b == strlen(NO_TX_MARKER) &&
	       memcmp(s + b, NO_TX_MARKER, e - b) == 0;
}

/*
 * Returns the position of the first byte at or after i that is neither
 * whitespace nor part of a comment (len when there is none).  Block comments
 * nest, as in PostgreSQL.  When marker is not NULL it is set to true if a
 * no-transaction marker comment is skipped.
 */
static size_t
skip_space_slow(const char *s, size_t len, size_t i, bool *marker)
{
	while (i < len) {
		if (is_space(s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			/* to the end of the line: '\n' or '\r' */
			size_t start = i;
			const char *nl = memchr(s + i, '\n', len - i), *cr;

			cr = memchr(s + i, '\r',
				    (nl ? (size_t)(nl - s) : len) - i);
			i = cr ? (size_t)(cr - s) : nl ? (size_t)(nl - s) : len;
			if (marker && is_marker_comment(s, start, i))
				*marker = true;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 1;

			i += 2;
			while (i < len && depth > 0) {
				if (s[i] == '/' && i + 1 < len &&
				    s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < len &&
					   s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

static inline size_t
skip_space(const char *s, size_t len, size_t i, bool *marker)
{
	/* most tokens follow a single blank: no call for them */
	while (i < len && s[i] == ' ')
		i++;
	if (i < len && (is_space(s[i]) || s[i] == '-' || s[i] == '/'))
		return skip_space_slow(s, len, i, marker);
	return i;
}

/* End of a quoted string or identifier opened at s[i] by quote q. */
static size_t
skip_quoted(const char *s, size_t len, size_t i, char q, bool backslash)
{
	const char *p;

	i++;
	/* without escapes: from quote to quote (a doubled one continues) */
	if (!backslash) {
		while ((p = memchr(s + i, q, len - i)) != NULL) {
			i = (size_t)(p - s);
			if (i + 1 < len && s[i + 1] == q)
				i += 2;
			else
				return i + 1;
		}
		return len;
	}
	while (i < len) {
		if (s[i] == '\\' && i + 1 < len) {
			i += 2;
		} else if (s[i] == q) {
			if (i + 1 < len && s[i + 1] == q)
				i += 2;
			else
				return i + 1;
		} else {
			i++;
		}
	}
	return len;
}

/*
 * Length of a dollar-quote delimiter ("$$" or "$tag$") at s[i], or 0 when
 * s[i] does not start one.
 */
static size_t
dollar_tag_len(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && s[j] == '$')
		return 2;
	if (j >= len || !is_ident_start(s[j]))
		return 0;
	while (j < len && is_ident_cont(s[j]) && s[j] != '$')
		j++;
	if (j < len && s[j] == '$')
		return j + 1 - i;
	return 0;
}

/*
 * Returns the end (exclusive) of the token starting at s[i], which must not
 * be whitespace or a comment.  Unterminated quotes run to the end.
 */
static size_t
token_end(const char *s, size_t len, size_t i)
{
	char c = s[i];
	size_t j, tag;

	if (c == '\'')
		return skip_quoted(s, len, i, '\'', false);
	if (c == '"')
		return skip_quoted(s, len, i, '"', false);
	if (c == '$') {
		if (i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
			j = i + 1;
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
			return j;
		}
		tag = dollar_tag_len(s, len, i);
		if (tag == 0)
			return i + 1;
		for (j = i + tag; j + tag <= len; j++)
			if (s[j] == '$' && memcmp(s + j, s + i, tag) == 0)
				return j + tag;
		return len;
	}
	if (is_ident_start(c)) {
		j = i + 1;
		while (j < len && is_ident_cont(s[j]))
			j++;
		/* E'...' strings take backslash escapes */
		if (j == i + 1 && (c == 'E' || c == 'e') && j < len &&
		    s[j] == '\'')
			return skip_quoted(s, len, j, '\'', true);
		return j;
	}
	if (c >= '0' && c <= '9') {
		j = i + 1;
		while (j < len && (is_ident_cont(s[j]) || s[j] == '.') &&
		       s[j] != '$')
			j++;
		return j;
	}
	return i + 1;
}

/*
 * Moves *pos to the next token and stores its bounds; false at the end.
 * marker as for skip_space().
 */
static bool
next_token(const char *s, size_t len, size_t *pos, size_t *start, size_t *end,
	   bool *marker)
{
	size_t i = skip_space(s, len, *pos, marker);

	if (i >= len) {
		*pos = len;
		return false;
	}
	*start = i;
	*end = token_end(s, len, i);
	*pos = *end;
	return true;
}

/* ------------------------------------------------------------------------
 * Building the script
 * ------------------------------------------------------------------------ */

/* true when text starts with a UTF-8 byte-order mark. */
static bool
has_bom(const char *text, size_t len)
{
	return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0;
}

/*
 * A position already converted to line and column, so that converting
 * increasing offsets (one per statement) costs linear time in all.
 */
typedef struct line_cursor {
	size_t off;
	int line;
	int column;
} line_cursor;

#define LINE_CURSOR_INIT \
	{                \
		0, 1, 1  \
	}

/*
 * Line and column of byte offset off in the script, counted onwards from
 * cur when off is not before it (cur may be NULL); cur is moved to off.  A
 * leading byte-order mark does not count as a column, as in editors.
 */
static void
script_line_col(const cf_script *script, line_cursor *cur, size_t off,
		int *line, int *column)
{
	line_cursor start = LINE_CURSOR_INIT;
	int dl, dc;

	if (cur && off >= cur->off)
		start = *cur;
	cf_text_line_col(script->text + start.off, off - start.off, &dl, &dc);
	*line = start.line + dl - 1;
	*column = dl == 1 ? start.column + dc - 1 : dc;
	if (cur) {
		cur->off = off;
		cur->line = *line;
		cur->column = *column;
	}
	if (*line == 1 && off >= 3 && has_bom(script->text, script->text_len))
		(*column)--;
}

/* A copy of a statement's text; caller frees. */
static char *
stmt_text(const cf_script *script, const cf_statement *st)
{
	return cf_strndup(script->text + st->offset, st->length);
}

/* Adds a problem located at a statement; takes ownership of e. */
static void
add_stmt_problem(cf_error_list *problems, const cf_script *script,
		 const cf_statement *st, int index, cf_error *e)
{
	if (!problems) {
		cf_error_free(e);
		return;
	}
	cf_error_set_where(e, script->path, st->line, st->column);
	e->statement = stmt_text(script, st);
	e->statement_index = index;
	cf_error_list_add(problems, e);
}

/* Appends e to problems, or frees it when there is no list. */
static void
add_problem(cf_error_list *problems, cf_error *e)
{
	if (problems)
		cf_error_list_add(problems, e);
	else
		cf_error_free(e);
}

/*
 * Checks that the bytes are UTF-8 without NUL and reports the first bad
 * byte.  Returns false (problem recorded) when they are not.
 */
static bool
check_encoding(const char *path, const char *text, size_t len,
	       cf_error_list *problems)
{
	const char *nul = memchr(text, '\0', len);
	size_t bad = SIZE_MAX, nul_off = nul ? (size_t)(nul - text) : SIZE_MAX;
	const unsigned char *u = (const unsigned char *)text;
	bool utf16 = len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) ||
				  (u[0] == 0xFE && u[1] == 0xFF));
	cf_error *e;
	int line, col;

	if (cf_utf8_valid(text, len, &bad))
		bad = SIZE_MAX;
	if (bad == SIZE_MAX && nul_off == SIZE_MAX)
		return true;

	if (bad < nul_off) {
		e = cf_error_new(CF_ERR_FILE, "invalid UTF-8 in '%s'", path);
		cf_error_set_code(e, "invalid-utf8");
		cf_error_set_detail(e,
				    "byte 0x%02X at offset %zu is not valid "
				    "UTF-8%s",
				    u[bad], bad,
				    utf16 ? "; the file looks like UTF-16" :
					    "");
		cf_error_set_hint(e, "save the file as UTF-8");
	} else {
		bad = nul_off;
		e = cf_error_new(CF_ERR_FILE, "NUL byte in '%s'", path);
		cf_error_set_code(e, "nul-byte");
		cf_error_set_detail(e, "offset %zu holds a zero byte%s", bad,
				    utf16 ? "; the file looks like UTF-16" :
					    "");
		cf_error_set_hint(e, "save the file as UTF-8 text; SQL cannot "
				     "contain NUL bytes");
	}
	cf_text_line_col(text, bad, &line, &col);
	cf_error_set_where(e, path, line, col);
	add_problem(problems, e);
	return false;
}

/* Hint for a psql meta-command, by its name (without the backslash). */
static const char *
meta_hint(const char *name)
{
	if (strcmp(name, "i") == 0 || strcmp(name, "ir") == 0 ||
	    strcmp(name, "include") == 0 ||
	    strcmp(name, "include_relative") == 0)
		return "confiture sends each statement to the server; inline "
		       "the file or use a separate migration";
	if (strcmp(name, "set") == 0 || strcmp(name, "unset") == 0)
		return "confiture sends each statement to the server and does "
		       "not expand psql variables; write the values inline";
	if (strcmp(name, "c") == 0 || strcmp(name, "connect") == 0)
		return "a migration runs on the database of its environment; "
		       "put changes to another database in that database's "
		       "migrations";
	return "confiture sends each statement to the server and does not "
	       "run psql; remove the meta-command";
}

/*
 * Turns the parser's statement span [loc, loc + len) into a cf_statement:
 * starts at the first token, ends at the ';' that follows (or at the last
 * token).  Returns false for a span without tokens.
 */
static bool
make_statement(const cf_script *script, const char *src, size_t loc,
	       size_t span, line_cursor *cur, cf_statement *st)
{
	size_t n = script->text_len;
	size_t span_end = loc + span, pos, ts, te, last_end, after;

	if (span == 0 || span_end > n)
		span_end = n;
	st->offset = skip_space(src, span_end, loc, NULL);
	if (st->offset >= span_end)
		return false;
	/* the parser's span ends at the ';' of all but the last statement:
	 * only a statement without one is walked token by token */
	after = skip_space(src, n, span_end, NULL);
	if (after < n && src[after] == ';') {
		last_end = after + 1;
	} else {
		pos = st->offset;
		last_end = st->offset;
		while (next_token(src, span_end, &pos, &ts, &te, NULL))
			last_end = te;
	}
	st->length = last_end - st->offset;
	script_line_col(script, cur, st->offset, &st->line, &st->column);
	return true;
}

/*
 * How to treat a statement the parser rejects.  The parser speaks one
 * PostgreSQL major's grammar; for a target with the same (or an older)
 * grammar its verdict is an error, for a newer or unknown target only a
 * warning: the server judges.
 */
static bool
parser_is_judge(int target_major)
{
	return target_major > 0 && target_major <= cf_parser_major();
}

/*
 * Reports a statement the parser rejected: a psql meta-command when the
 * error points at a backslash (an error on any server), else the parser's
 * syntax error, an error or a warning by parser_is_judge().  off is the
 * error's byte offset in src (same offsets as script->text); the statement
 * is [st_start, st_end) and index its 1-based number, 0 when unknown.
 * Returns true when an error was recorded.
 */
static bool
report_parse_error(cf_script *script, const char *src, const char *message,
		   size_t off, size_t st_start, size_t st_end, int index,
		   int target_major, cf_error_list *problems)
{
	int line, col;
	cf_error *e;
	/* an unterminated quote or comment is lexical: wrong in every
	 * version */
	bool judge = parser_is_judge(target_major) ||
		     strncmp(message, "unterminated", 12) == 0;

	script_line_col(script, NULL, off, &line, &col);
	if (off < script->text_len && src[off] == '\\') {
		size_t b = off + 1, k = b;
		char *name;

		while (k < script->text_len && !is_space(src[k]) &&
		       (src[k] != '\\' || k == b))
			k++;
		name = cf_strndup(src + b, k - b);
		e = cf_error_new(CF_ERR_FILE,
				 "psql meta-command '\\%s' is not supported",
				 name);
		cf_error_set_code(e, "psql-meta-command");
		cf_error_set_detail(e, "meta-commands are run by psql itself; "
				       "the PostgreSQL server does not know "
				       "them");
		cf_error_set_hint(e, "%s", meta_hint(name));
		free(name);
		cf_error_set_where(e, script->path, line, col);
		add_problem(problems, e);
		return true;
	}

	if (judge) {
		e = cf_error_new(CF_ERR_FILE, "%s", message);
		cf_error_set_code(e, "syntax-error");
	} else {
		e = cf_warning_new(
			"not valid PostgreSQL %d syntax; left to the "
			"server",
			cf_parser_major());
		cf_error_set_code(e, "syntax-left-to-server");
		if (target_major > 0)
			cf_error_set_detail(
				e,
				"the parser (PostgreSQL %d grammar) "
				"says: %s; the target runs "
				"PostgreSQL %d, whose server decides",
				cf_parser_major(), message, target_major);
		else
			cf_error_set_detail(
				e,
				"the parser (PostgreSQL %d grammar) "
				"says: %s; the target's version is "
				"unknown",
				cf_parser_major(), message);
	}
	cf_error_set_where(e, script->path, line, col);
	if (index > 0) {
		e->statement = cf_strndup(script->text + st_start,
					  st_end - st_start);
		e->statement_index = index;
	}
	if (off < script->text_len && src[off] == ':' &&
	    off + 1 < script->text_len &&
	    (is_ident_start(src[off + 1]) || src[off + 1] == '\'' ||
	     src[off + 1] == '"'))
		cf_error_set_hint(e, "psql variables such as ':name' are not "
				     "expanded by confiture; write the values "
				     "inline");
	else if (strncmp(message, "unterminated", 12) == 0)
		cf_error_set_hint(e, "the construct that starts here is never "
				     "closed");
	else if (judge && strstr(message, "at end of input"))
		cf_error_set_hint(e, "the file ends in the middle of a "
				     "statement; look for a missing ')', quote "
				     "or END");
	else if (!judge && target_major <= 0)
		cf_error_set_hint(e, "set postgres_version in the environment "
				     "file or pass --postgres-version to check "
				     "it against the target's grammar");
	add_problem(problems, e);
	return judge;
}

/* Adds a statement slot; returns it zeroed. */
static cf_statement *
new_statement(cf_script *script, size_t *alloc)
{
	cf_statement *st;

	CF_GROW(script->stmts, *alloc, script->n_stmts + 1);
	st = &script->stmts[script->n_stmts];
	memset(st, 0, sizeof(*st));
	return st;
}

/* Fills a statement's node name and model from a parse node. */
static void
set_model(cf_statement *st, const PgQuery__Node *node)
{
	st->model = cf_stmt_model_from_node(node);
	st->transaction_control = st->model->transaction_control;
	st->non_transactional = st->model->non_transactional;
}

/*
 * Where an unpacked parse tree lives: protobuf-c allocates every node of
 * it here, and the whole is released at once.  Unpacking node by node
 * with malloc and freeing it with free_unpacked() cost as much as the
 * parse itself.
 */
typedef struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
} arena_block;

typedef struct tree_arena {
	arena_block *head;
} tree_arena;

#define ARENA_BLOCK 16384

static void *
arena_alloc(void *data, size_t n)
{
	tree_arena *a = data;
	size_t align = sizeof(max_align_t);
	void *p;

	n = (n + align - 1) / align * align;
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		arena_block *b = cf_malloc(sizeof(*b) + cap);

		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	p = (char *)a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

static void
arena_free(void *data, void *p)
{
	(void)data; /* released with the arena */
	(void)p;
}

static void
arena_release(tree_arena *a)
{
	while (a->head) {
		arena_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

/* Forward: parses one statement's text. */
static PgQuery__ParseResult *parse_text(const char *text, size_t len,
					char **msg, size_t *pos,
					tree_arena *arena);

/*
 * Reads a statement's model from its own parse tree (the text alone is
 * parsed); a statement the parser rejects gets one from its tokens.
 */
static void
build_model(const cf_script *script, cf_statement *st)
{
	char *copy = cf_strndup(script->text + st->offset, st->length);
	char *msg;
	size_t pos;
	tree_arena arena = {0};
	PgQuery__ParseResult *pr = parse_text(copy, st->length, &msg, &pos,
					      &arena);

	if (pr && pr->n_stmts >= 1)
		set_model(st, pr->stmts[0]->stmt);
	else
		st->model = cf_stmt_model_from_tokens(copy, st->length);
	arena_release(&arena);
	free(msg);
	free(copy);
}

void
cf_script_build_models(cf_script *script)
{
	for (size_t i = 0; script && i < script->n_stmts; i++)
		if (!script->stmts[i].model)
			build_model(script, &script->stmts[i]);
}

const char *
cf_script_node(cf_script *script, size_t i)
{
	if (i >= script->n_stmts)
		return "";
	if (!script->stmts[i].model)
		build_model(script, &script->stmts[i]);
	return script->stmts[i].model->kind;
}

struct cf_stmt_tree {
	PgQuery__ParseResult *pr;
	tree_arena arena; /* empty when the tree is a cf_script_trees' */
	PgQuery__ParseResult one; /* then pr: one statement of it */
	PgQuery__RawStmt *one_raw;
};

struct cf_script_trees {
	tree_arena arena;
	PgQuery__ParseResult *pr; /* the whole text's */
	size_t n;
	size_t *offset;		/* script offsets of the statements read, */
	PgQuery__RawStmt **raw; /* in increasing order, and their trees */
};

void
cf_script_trees_free(cf_script_trees *t)
{
	if (!t)
		return;
	arena_release(&t->arena);
	free(t->offset);
	free(t->raw);
	free(t);
}

/* The statement at script offset off in t, or NULL. */
static PgQuery__RawStmt *
trees_find(const cf_script_trees *t, size_t off)
{
	size_t lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->offset[mid] == off)
			return t->raw[mid];
		if (t->offset[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

cf_stmt_tree *
cf_script_stmt_tree(cf_script *script, const cf_script_trees *trees, size_t i,
		    char **text, char **msg)
{
	cf_statement *st = &script->stmts[i];
	cf_stmt_tree *t = cf_new(cf_stmt_tree);
	PgQuery__RawStmt *raw = trees_find(trees, st->offset);
	size_t pos;

	*text = stmt_text(script, st);
	*msg = NULL;
	if (raw) {
		/* the whole text's tree, its locations already relative to
		 * the statement: the same tree as the statement alone gives */
		pg_query__parse_result__init(&t->one);
		t->one.version = trees->pr->version;
		t->one_raw = raw;
		t->one.n_stmts = 1;
		t->one.stmts = &t->one_raw;
		t->pr = &t->one;
	} else {
		t->pr = parse_text(*text, st->length, msg, &pos, &t->arena);
	}
	if (!st->model) {
		if (t->pr && t->pr->n_stmts >= 1)
			set_model(st, t->pr->stmts[0]->stmt);
		else
			st->model = cf_stmt_model_from_tokens(*text,
							      st->length);
	}
	if (!t->pr) {
		cf_stmt_tree_free(t);
		return NULL;
	}
	return t;
}

const void *
cf_stmt_tree_result(const cf_stmt_tree *t)
{
	return t ? t->pr : NULL;
}

void
cf_stmt_tree_free(cf_stmt_tree *t)
{
	if (!t)
		return;
	arena_release(&t->arena);
	free(t);
}

size_t
cf_statement_words(const cf_script *script, size_t i, char words[][32],
		   size_t max)
{
	const cf_statement *st = &script->stmts[i];
	const char *s = script->text;
	size_t end = st->offset + st->length, pos = st->offset, ts, te, n = 0;

	while (n < max && next_token(s, end, &pos, &ts, &te, NULL)) {
		size_t len = te - ts;

		if (!is_ident_start(s[ts]) || len >= 32)
			len = 0; /* a quoted name, a symbol: no word */
		for (size_t k = 0; k < len; k++)
			words[n][k] = (s[ts + k] >= 'A' && s[ts + k] <= 'Z') ?
					      (char)(s[ts + k] - 'A' + 'a') :
					      s[ts + k];
		words[n++][len] = '\0';
	}
	return n;
}

bool
cf_sql_zero_bound(const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;
	size_t pos = 0, ts, te;
	bool open = false, maybe = false; /* open: the token before was '[' */

	/* a quick look first: most statements have no '[' followed, after
	 * blanks, by anything but ']' or a digit 1-9 */
	while (!maybe && (p = memchr(p, '[', (size_t)(end - p))) != NULL) {
		for (p++; p < end && is_space(*p); p++)
			;
		maybe = p < end && *p != ']' && !(*p >= '1' && *p <= '9');
	}
	while (maybe && next_token(sql, len, &pos, &ts, &te, NULL)) {
		if (open && sql[ts] >= '0' && sql[ts] <= '9') {
			size_t k = ts;

			while (k < te && sql[k] == '0')
				k++;
			if (k == te || !(sql[k] >= '1' && sql[k] <= '9'))
				return true;
		}
		open = te == ts + 1 && sql[ts] == '[';
	}
	return false;
}

/*
 * Appends the statements of an unpacked parse result whose locations are
 * relative to src + base.  *cur converts positions in increasing order.
 */
static void
load_tree(cf_script *script, const char *src, size_t base,
	  const PgQuery__ParseResult *pr, size_t *alloc, line_cursor *cur)
{
	for (size_t i = 0; i < pr->n_stmts; i++) {
		const PgQuery__RawStmt *raw = pr->stmts[i];
		cf_statement *st = new_statement(script, alloc);

		if (raw->stmt_location < 0 || raw->stmt_len < 0 ||
		    !make_statement(script, src,
				    base + (size_t)raw->stmt_location,
				    (size_t)raw->stmt_len, cur, st))
			continue;
		set_model(st, raw->stmt);
		script->n_stmts++;
	}
}

bool
cf_sql_parsable(const char *sql, size_t len, size_t *at)
{
	size_t pos = 0, ts, te, operators = 0;

	if (!cf_sql_scannable(sql, len, at))
		return false;
	while (next_token(sql, len, &pos, &ts, &te, NULL))
		if (cf_sql_op_char(sql[ts]) &&
		    ++operators > CF_SQL_MAX_OPERATORS) {
			if (at)
				*at = 0;
			return false;
		}
	return true;
}

/* The problem of a statement whose text is not given to the parser
 * (cf_sql_parsable(): a run of operator characters when run, else too
 * many operators): a warning at off; the server judges it. */
static void
report_unparsed(cf_script *script, size_t off, bool run, int index,
		cf_error_list *problems)
{
	int line, col;
	cf_error *e;

	if (run) {
		e = cf_warning_new("not parsed: more than %d operator "
				   "characters in a row; left to the server",
				   CF_SQL_MAX_OP_RUN);
		cf_error_set_detail(e,
				    "PostgreSQL's scanner reads such a run "
				    "again for each operator or comment it "
				    "holds: time that grows with the square "
				    "of its length; the statement is neither "
				    "linted nor analysed");
		cf_error_set_hint(e,
				  "break the run with spaces, or shorten it");
	} else {
		e = cf_warning_new(
			"not parsed: more than %d operators; left to "
			"the server",
			CF_SQL_MAX_OPERATORS);
		cf_error_set_detail(e,
				    "a chain of operators makes a parse "
				    "tree as deep as it is long, deeper than "
				    "libpg_query can write out; the statement "
				    "is neither linted nor analysed");
		cf_error_set_hint(e, "split the expression, or build it in "
				     "steps");
	}
	script_line_col(script, NULL, off, &line, &col);
	cf_error_set_code(e, "parse-skipped");
	cf_error_set_where(e, script->path, line, col);
	e->statement_index = index;
	add_problem(problems, e);
}

/*
 * Parses text[0..len) (a copy, NUL-terminated) with the parser.  On success
 * returns the unpacked tree, allocated in arena (the caller releases the
 * arena, also after a failure); on a syntax error NULL with *msg (caller
 * frees) and *pos, the error's byte offset in the text.
 */
static PgQuery__ParseResult *
parse_text(const char *text, size_t len, char **msg, size_t *pos,
	   tree_arena *arena)
{
	ProtobufCAllocator alloc = {arena_alloc, arena_free, arena};
	PgQueryParseResult j;
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *pr = NULL;

	*msg = NULL;
	*pos = len;
	/* one scan of the text; a second only when refused, to say why */
	if (!cf_sql_parsable(text, len, pos)) {
		*msg = !cf_sql_scannable(text, len, NULL) ?
			       cf_asprintf("more than %d operator characters "
					   "in a row (its scanner would take "
					   "time that grows with the square of "
					   "their number)",
					   CF_SQL_MAX_OP_RUN) :
			       cf_asprintf("more than %d operators (a tree "
					   "too deep to analyse)",
					   CF_SQL_MAX_OPERATORS);
		return NULL;
	}
	j = pg_query_parse(text);
	if (j.error) {
		*msg = cf_strdup(j.error->message);
		if (j.error->cursorpos > 0)
			*pos = cf_utf8_char_offset(
				text, len, (size_t)j.error->cursorpos - 1);
		pg_query_free_parse_result(j);
		return NULL;
	}
	/* JSON read straight into the tree costs a quarter of protobuf's
	 * pack and unpack; protobuf only when the reader declines */
	pr = cf_tree_from_json(j.parse_tree, text, cf_sql_zero_bound(text, len),
			       &alloc);
	if (!pr && cf_json_deeper_than(j.parse_tree, CF_TREE_MAX_JSON_DEPTH)) {
		/* no recursive reader takes it (protobuf-c's unpack) */
		*msg = cf_strdup("nested too deep to analyse");
		pg_query_free_parse_result(j);
		return NULL;
	}
	pg_query_free_parse_result(j);
	if (pr)
		return pr;
	r = pg_query_parse_protobuf(text);
	if (r.error)
		*msg = cf_strdup(r.error->message);
	else
		pr = pg_query__parse_result__unpack(
			&alloc, r.parse_tree.len,
			(const uint8_t *)r.parse_tree.data);
	if (!pr && !*msg)
		*msg = cf_strdup("cannot read the parse tree");
	pg_query_free_protobuf_parse_result(r);
	return pr;
}

/* true when the token s[ts..te) is the keyword kw (ASCII, any case). */
static bool
token_is(const char *s, size_t ts, size_t te, const char *kw)
{
	return te - ts == strlen(kw) && strncasecmp(s + ts, kw, te - ts) == 0;
}

/*
 * Splits src at the semicolons that end statements, as psql does: not in
 * parentheses, quotes, comments or dollar quotes, nor inside the BEGIN ...
 * END body of a CREATE FUNCTION or PROCEDURE (where CASE ... END nests).
 * Stores the statement ends (after the ';', or the end of the text) in
 * *ends; returns their number.  Grammar-free: it never fails.
 */
static size_t
lexer_split(const char *src, size_t len, size_t **ends)
{
	size_t pos = 0, ts, te, n = 0, alloc = 0;
	int parens = 0, blocks = 0, words = 0;
	bool routine = false, create = false, tokens = false;

	*ends = NULL;
	while (next_token(src, len, &pos, &ts, &te, NULL)) {
		tokens = true;
		if (te == ts + 1 && src[ts] == ';' && parens == 0 &&
		    blocks == 0) {
			CF_GROW(*ends, alloc, n + 1);
			(*ends)[n++] = te;
			words = 0;
			routine = create = tokens = false;
			continue;
		}
		if (te == ts + 1 && src[ts] == '(')
			parens++;
		else if (te == ts + 1 && src[ts] == ')' && parens > 0)
			parens--;
		if (!is_ident_start(src[ts]))
			continue;
		if (words < 4) {
			if (words == 0)
				create = token_is(src, ts, te, "create");
			else if (create && (token_is(src, ts, te, "function") ||
					    token_is(src, ts, te, "procedure")))
				routine = true;
			words++;
		}
		if (routine && (token_is(src, ts, te, "begin") ||
				(blocks > 0 && token_is(src, ts, te, "case"))))
			blocks++;
		else if (blocks > 0 && token_is(src, ts, te, "end"))
			blocks--;
	}
	if (tokens) {
		CF_GROW(*ends, alloc, n + 1);
		(*ends)[n++] = len;
	}
	return n;
}

/*
 * The file as a whole does not parse: split it with the lexer, which knows
 * nothing of the grammar, and parse each statement alone.  Statements the
 * parser rejects stay in the script (the server judges them when they
 * run), with a model built from their tokens.  Returns true when an error
 * was recorded.
 */
static bool
split_and_parse(cf_script *script, const char *src, int target_major,
		cf_error_list *problems)
{
	size_t *ends = NULL, n_ends, start = 0, alloc = 0;
	line_cursor cur = LINE_CURSOR_INIT;
	bool failed = false;

	n_ends = lexer_split(src, script->text_len, &ends);
	for (size_t i = 0; i < n_ends; i++) {
		size_t loc = start;
		cf_statement *st = new_statement(script, &alloc);
		PgQuery__ParseResult *pr;
		tree_arena arena = {0};
		char *copy, *msg;
		size_t pos;

		start = ends[i];
		if (!make_statement(script, src, loc, ends[i] - loc, &cur, st))
			continue;
		copy = cf_strndup(src + st->offset, st->length);
		if (!cf_sql_parsable(copy, st->length, &pos)) {
			/* no parse, no scan: an empty model */
			st->syntax_error = true;
			st->model = cf_stmt_model_from_tokens(copy, st->length);
			script->n_stmts++;
			report_unparsed(
				script, st->offset + pos,
				!cf_sql_scannable(copy, st->length, NULL),
				(int)script->n_stmts, problems);
			free(copy);
			continue;
		}
		pr = parse_text(copy, st->length, &msg, &pos, &arena);
		if (pr && pr->n_stmts == 1) {
			set_model(st, pr->stmts[0]->stmt);
			script->n_stmts++;
		} else if (pr) {
			/* several statements to the parser (or none): take
			 * the parser's */
			load_tree(script, src, st->offset, pr, &alloc, &cur);
		} else {
			st->syntax_error = true;
			st->model = cf_stmt_model_from_tokens(copy, st->length);
			script->n_stmts++;
			if (report_parse_error(script, src, msg,
					       st->offset + pos, st->offset,
					       st->offset + st->length,
					       (int)script->n_stmts,
					       target_major, problems))
				failed = true;
		}
		arena_release(&arena);
		free(msg);
		free(copy);
	}
	free(ends);
	return failed;
}

/* true when statement i is a TransactionStmt of the given kind. */
static bool
tx_is(const cf_script *script, size_t i, PgQuery__TransactionStmtKind kind)
{
	const cf_stmt_model *m = script->stmts[i].model;

	return m && m->transaction_control && m->tx_kind == (int)kind;
}

/*
 * A transaction control statement's name for messages.  For BEGIN, COMMIT
 * and ROLLBACK the keyword is taken from the source so that END and ABORT
 * are named as written.  Caller frees.
 */
static char *
transaction_name(const cf_script *script, size_t i)
{
	const cf_statement *st = &script->stmts[i];
	const char *src = script->text + st->offset;
	const char *chain = st->model->tx_chain ? " AND CHAIN" : "";
	static const struct {
		PgQuery__TransactionStmtKind kind;
		const char *name;
	} fixed[] = {
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START,
		 "START TRANSACTION"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT,
		 "SAVEPOINT"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE,
		 "RELEASE SAVEPOINT"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO,
		 "ROLLBACK TO SAVEPOINT"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE,
		 "PREPARE TRANSACTION"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED,
		 "COMMIT PREPARED"},
		{PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED,
		 "ROLLBACK PREPARED"},
	};
	char word[16];
	size_t k = 0;

	for (size_t f = 0; f < sizeof(fixed) / sizeof(fixed[0]); f++)
		if (st->model->tx_kind == (int)fixed[f].kind)
			return cf_strdup(fixed[f].name);
	while (k < sizeof(word) - 1 && is_ident_start(src[k]) &&
	       (unsigned char)src[k] < 0x80) {
		word[k] = (char)toupper((unsigned char)src[k]);
		k++;
	}
	word[k] = '\0';
	return cf_asprintf("%s%s", k ? word : "transaction control", chain);
}

/*
 * Detects a whole-file BEGIN ... COMMIT wrapper: the first statement is
 * BEGIN or START TRANSACTION (any options), the last a COMMIT or END
 * without AND CHAIN, and no other transaction control in between.
 */
static bool
is_wrapped(const cf_script *script)
{
	size_t n = script->n_stmts;

	if (n < 2)
		return false;
	if (!tx_is(script, 0,
		   PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN) &&
	    !tx_is(script, 0,
		   PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START))
		return false;
	if (!tx_is(script, n - 1,
		   PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT) ||
	    script->stmts[n - 1].model->tx_chain)
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (script->stmts[i].transaction_control)
			return false;
	return true;
}

/* Frees what a statement owns. */
static void
statement_release(cf_statement *st)
{
	cf_stmt_model_free(st->model);
}

/*
 * Reports transaction control and non-transactional statements, strips the
 * wrapper.  Returns true when an error was found.
 */
static bool
classify(cf_script *script, cf_error_list *problems)
{
	bool failed = false, wrapped = is_wrapped(script);
	size_t n = script->n_stmts;

	for (size_t i = 0; i < n; i++) {
		cf_statement *st = &script->stmts[i];
		cf_error *e;
		char *name, *last;

		if (wrapped && (i == 0 || i == n - 1)) {
			if (i == 0) {
				name = transaction_name(script, 0);
				last = transaction_name(script, n - 1);
				e = cf_warning_new("BEGIN ... COMMIT wrapper "
						   "removed");
				cf_error_set_code(
					e, "transaction-wrapper-stripped");
				cf_error_set_detail(e, "confiture runs each "
						       "migration in its own "
						       "transaction");
				cf_error_set_hint(e,
						  "remove the '%s' and "
						  "'%s' statements from the "
						  "file",
						  name, last);
				free(name);
				free(last);
				add_stmt_problem(problems, script, st, 1, e);
			}
			continue;
		}
		if (st->transaction_control) {
			name = transaction_name(script, i);
			e = cf_error_new(CF_ERR_FILE,
					 "transaction control statement '%s' "
					 "is not allowed in a migration",
					 name);
			free(name);
			cf_error_set_code(e, "transaction-control");
			cf_error_set_hint(e,
					  "confiture runs each migration in "
					  "its own transaction; remove it (or "
					  "use -- " NO_TX_MARKER " for "
					  "statements that cannot run in a "
					  "transaction)");
			add_stmt_problem(problems, script, st, (int)i + 1, e);
			failed = true;
		} else if (st->non_transactional) {
			e = cf_warning_new("statement '%s' cannot run inside "
					   "a transaction; this migration will "
					   "run in autocommit",
					   st->non_transactional);
			cf_error_set_code(e, "non-transactional");
			/* the file asks for autocommit on purpose: a note,
			 * so that --strict passes on it */
			if (script->no_transaction_marker)
				e->severity = CF_SEV_NOTICE;
			cf_error_set_detail(
				e, "in autocommit each statement "
				   "is committed as it runs; a failure "
				   "leaves the statements before it "
				   "applied");
			if (n - (wrapped ? 2 : 0) > 1)
				cf_error_set_hint(e,
						  "put it in a migration of "
						  "its own so that a failure "
						  "cannot leave this migration "
						  "half applied");
			add_stmt_problem(problems, script, st, (int)i + 1, e);
		}
	}

	if (wrapped) {
		statement_release(&script->stmts[0]);
		statement_release(&script->stmts[n - 1]);
		memmove(&script->stmts[0], &script->stmts[1],
			(n - 2) * sizeof(cf_statement));
		script->n_stmts = n - 2;
		script->wrapper_stripped = true;
	}
	return failed;
}

int
cf_parser_major(void)
{
	return PG_VERSION_NUM / 10000;
}

const char *
cf_parser_version(void)
{
	return PG_VERSION;
}

/* A keyword and its length. */
typedef struct keyword {
	const char *word;
	size_t len;
} keyword;

#define KEYWORD(w)               \
	{                        \
		w, sizeof(w) - 1 \
	}

/* true when the token s[0..len) is one of kw[0..n) (ASCII, any case). */
static inline bool
keyword_in(const char *s, size_t len, const keyword *kw, size_t n)
{
	char first = (s[0] >= 'A' && s[0] <= 'Z') ? (char)(s[0] - 'A' + 'a') :
						    s[0];

	for (size_t i = 0; i < n; i++)
		if (kw[i].len == len && kw[i].word[0] == first &&
		    strncasecmp(s, kw[i].word, len) == 0)
			return true;
	return false;
}

/*
 * true when the token decides how a statement runs: a leading transaction
 * or maintenance keyword, or a keyword anywhere that a statement refused
 * in a transaction block needs (CONCURRENTLY, DATABASE, ...).  Only the
 * statements holding one are modelled while the file is read; the others
 * get their model when analysis asks (cf_script_build_models()).
 */
static inline bool
decisive_token(const char *s, size_t len, bool first)
{
	static const keyword leading[] = {
		KEYWORD("begin"),     KEYWORD("start"),	   KEYWORD("commit"),
		KEYWORD("end"),	      KEYWORD("rollback"), KEYWORD("abort"),
		KEYWORD("savepoint"), KEYWORD("release"),  KEYWORD("prepare"),
		KEYWORD("vacuum"),    KEYWORD("cluster"),  KEYWORD("reindex"),
		KEYWORD("discard"),
	};
	static const keyword anywhere[] = {
		KEYWORD("concurrently"), KEYWORD("database"),
		KEYWORD("tablespace"),	 KEYWORD("subscription"),
		KEYWORD("system"),
	};

	if (len < 3 || len > 12 || !is_ident_start(s[0]))
		return false;
	return (first && keyword_in(s, len, leading,
				    sizeof(leading) / sizeof(leading[0]))) ||
	       keyword_in(s, len, anywhere,
			  sizeof(anywhere) / sizeof(anywhere[0]));
}

/* A statement as the parser delimited it; raw its tree, when read. */
typedef struct stmt_span {
	int32_t location, len;
	const PgQuery__RawStmt *raw;
} stmt_span;

/*
 * The file parses: the parser gives the statement boundaries without a
 * tree; statements with a decisive token (see decisive_token()) are parsed
 * alone into their model, the rest wait for analysis.
 */
static void
load_split(cf_script *script, const char *src, const stmt_span *spans,
	   size_t n_spans, const size_t *decisive, size_t n_decisive)
{
	size_t alloc = 0, d = 0;
	line_cursor cur = LINE_CURSOR_INIT;

	/* as many slots as the split found: a history of 10,000 files of a
	 * few statements each would otherwise hold 8 apiece (peak RSS) */
	if (n_spans > 0) {
		alloc = script->n_stmts + n_spans;
		script->stmts = cf_reallocarray(script->stmts, alloc,
						sizeof(*script->stmts));
	}
	for (size_t i = 0; i < n_spans; i++) {
		cf_statement *st = new_statement(script, &alloc);
		size_t ts, te, pos;
		bool need;

		if (spans[i].location < 0 || spans[i].len < 0 ||
		    !make_statement(script, src, (size_t)spans[i].location,
				    (size_t)spans[i].len, &cur, st))
			continue;
		while (d < n_decisive && decisive[d] < st->offset)
			d++;
		pos = st->offset;
		need = d < n_decisive && decisive[d] < st->offset + st->length;
		if (!need && next_token(src, st->offset + st->length, &pos, &ts,
					&te, NULL))
			need = decisive_token(src + ts, te - ts, true);
		script->n_stmts++;
		if (need && spans[i].raw)
			set_model(st, spans[i].raw->stmt);
		else if (need)
			build_model(script, st);
	}
}

static int parse_script(const char *path, const char *text, size_t len,
			int target_major, cf_script **out,
			cf_error_list *problems, cf_script_trees **trees);

/*
 * Validates the encoding, parses the whole text once (statement by
 * statement when the whole does not parse) and classifies each statement.
 * *out is NULL only when the text is not UTF-8 or holds a NUL; otherwise it
 * is the caller's, even when -1 is returned.
 */
int
cf_script_parse_target(const char *path, const char *text, size_t len,
		       int target_major, cf_script **out,
		       cf_error_list *problems)
{
	return parse_script(path, text, len, target_major, out, problems, NULL);
}

int
cf_script_parse_trees(const char *path, const char *text, size_t len,
		      int target_major, cf_script **out,
		      cf_error_list *problems, cf_script_trees **trees)
{
	return parse_script(path, text, len, target_major, out, problems,
			    trees);
}

size_t cf_split_chunk = 64 * 1024;

/*
 * The parser's split of text[0..len) a chunk of about cf_split_chunk bytes
 * at a time, into *out (the caller frees): the split builds the raw tree of
 * all it splits (23 MB for a 1 MB file of INSERTs), so that a baseline
 * made of a 10 MB dump would hold a quarter of a GB at once.  The chunks
 * end at the lexer's statement ends (lexer_split()), where a statement
 * after a ';' starts for the parser too, so each chunk's locations, moved
 * by the chunk's start, are the whole text's.  False when a chunk does
 * not split (a statement the grammar rejects, or the lexer cut where the
 * grammar does not): the caller then splits the whole text at once.
 */
static bool
split_chunked(const char *src, size_t len, stmt_span **out, size_t *n_out)
{
	size_t *ends = NULL, n_ends = lexer_split(src, len, &ends);
	size_t start = 0, k = 0, n = 0, alloc = 0;
	stmt_span *spans = NULL;
	bool ok = true;

	while (ok && k < n_ends) {
		PgQuerySplitResult sr;
		size_t end;
		char *chunk;

		/* whole statements, as many as fit (one at least) */
		while (k + 1 < n_ends && ends[k + 1] - start <= cf_split_chunk)
			k++;
		end = ends[k++];
		chunk = cf_strndup(src + start, end - start);
		sr = pg_query_split_with_parser(chunk);
		ok = sr.error == NULL;
		for (int i = 0; ok && i < sr.n_stmts; i++) {
			int32_t loc = sr.stmts[i]->stmt_location;
			int32_t slen = sr.stmts[i]->stmt_len;

			CF_GROW(spans, alloc, n + 1);
			spans[n].location = (int32_t)start + loc;
			/* 0: to the end of the chunk, not of the text */
			spans[n].len = slen > 0 ? slen :
						  (int32_t)(end - start) - loc;
			spans[n].raw = NULL;
			n++;
		}
		pg_query_free_split_result(sr);
		free(chunk);
		start = end;
	}
	free(ends);
	if (!ok) {
		free(spans);
		spans = NULL;
		n = 0;
	}
	*out = spans;
	*n_out = n;
	return ok;
}

/* The split alone: boundaries from the parser, no tree. */
static bool
split_only(cf_script *script, const char *src, int target_major,
	   const size_t *decisive, size_t n_decisive, cf_error_list *problems)
{
	PgQuerySplitResult sr;
	stmt_span *spans = NULL;
	size_t n = 0;
	bool failed = false;

	if (script->text_len > cf_split_chunk && script->text_len < INT32_MAX &&
	    split_chunked(src, script->text_len, &spans, &n)) {
		load_split(script, src, spans, n, decisive, n_decisive);
		free(spans);
		return false;
	}
	sr = pg_query_split_with_parser(src);
	if (!sr.error) {
		spans = cf_calloc(sr.n_stmts > 0 ? (size_t)sr.n_stmts : 1,
				  sizeof(*spans));
		for (int i = 0; i < sr.n_stmts; i++) {
			spans[i].location = sr.stmts[i]->stmt_location;
			spans[i].len = sr.stmts[i]->stmt_len;
		}
		load_split(script, src, spans, (size_t)sr.n_stmts, decisive,
			   n_decisive);
		free(spans);
	} else {
		failed = split_and_parse(script, src, target_major, problems);
	}
	pg_query_free_split_result(sr);
	return failed;
}

/*
 * Larger texts (seed data, a dump as a migration) are split and parsed
 * statement by statement: the whole text's JSON and tree would take
 * several times the text's size at once, and they are mostly statements
 * no rule reads (a 1 MB file of INSERTs: 38 MB and 0.11 s whole, 23 MB and
 * 0.03 s split).  Real migrations are far smaller (one of the corpora's 619
 * files is over 16 kB).
 */
#define WHOLE_PARSE_MAX (64 * 1024)

/*
 * The whole text parsed into its tree at once (one grammar run where the
 * split and a parse per statement make two): the statements come from
 * the tree's statement locations, which are what the split reads, and
 * each statement's locations are made relative to its own text.  NULL
 * when the text does not parse (*rejected set: the split would fail the
 * same way) or the tree cannot be read: the caller splits as without
 * trees.
 */
static cf_script_trees *
parse_whole(cf_script *script, const char *src, const size_t *decisive,
	    size_t n_decisive, bool *rejected)
{
	PgQueryParseResult j = pg_query_parse(src);
	cf_script_trees *t;
	cf_json_locations locs = {0};
	stmt_span *spans;
	size_t n, first = script->n_stmts;
	ProtobufCAllocator alloc;

	*rejected = j.error != NULL;
	if (j.error) {
		pg_query_free_parse_result(j);
		return NULL;
	}
	t = cf_new(cf_script_trees);
	alloc = (ProtobufCAllocator){arena_alloc, arena_free, &t->arena};
	t->pr = cf_tree_from_json_at(j.parse_tree, src,
				     cf_sql_zero_bound(src, script->text_len),
				     &alloc, &locs);
	pg_query_free_parse_result(j);
	if (!t->pr) {
		cf_json_locations_release(&locs);
		cf_script_trees_free(t);
		return NULL;
	}
	n = t->pr->n_stmts;
	spans = cf_calloc(n ? n : 1, sizeof(*spans));
	for (size_t k = 0; k < n; k++) {
		spans[k].location = t->pr->stmts[k]->stmt_location;
		spans[k].len = t->pr->stmts[k]->stmt_len;
		spans[k].raw = t->pr->stmts[k];
	}
	load_split(script, src, spans, n, decisive, n_decisive);
	free(spans);
	/* statement k of the script came from the tree's statement whose
	 * span holds its first token */
	t->raw = cf_calloc(script->n_stmts - first + 1, sizeof(*t->raw));
	t->offset = cf_calloc(script->n_stmts - first + 1, sizeof(*t->offset));
	for (size_t i = first, k = 0; i < script->n_stmts; i++) {
		const cf_statement *st = &script->stmts[i];
		PgQuery__RawStmt *raw;

		while (k + 1 < n && t->pr->stmts[k + 1]->stmt_location >= 0 &&
		       (size_t)t->pr->stmts[k + 1]->stmt_location <= st->offset)
			k++;
		raw = t->pr->stmts[k];
		for (size_t l = locs.starts[k]; l < locs.starts[k + 1]; l++)
			if (*locs.at[l] >= 0)
				*locs.at[l] -= (int32_t)st->offset;
		/* as the statement's text alone parses: from 0, up to its ';'
		 * (0: to the end) */
		raw->stmt_location = 0;
		raw->stmt_len = script->text[st->offset + st->length - 1] ==
						';' ?
					(int32_t)st->length - 1 :
					0;
		t->raw[t->n] = raw;
		t->offset[t->n++] = st->offset;
	}
	cf_json_locations_release(&locs);
	return t;
}

static int
parse_script(const char *path, const char *text, size_t len, int target_major,
	     cf_script **out, cf_error_list *problems, cf_script_trees **trees)
{
	cf_script *script;
	char *copy = NULL;
	const char *src;
	size_t pos = 0, ts, te, alloc = 0, n_decisive = 0, *decisive = NULL;
	bool failed = false, rejected = false;

	*out = NULL;
	if (trees)
		*trees = NULL;
	if (!path)
		path = "<input>";
	if (!check_encoding(path, text, len, problems))
		return -1;

	script = cf_new(cf_script);
	script->path = cf_strdup(path);
	script->text = cf_strndup(text, len);
	script->text_len = len;
	script->transactional = true;
	*out = script;

	/* a leading UTF-8 byte-order mark is treated as whitespace */
	src = script->text;
	if (has_bom(text, len)) {
		copy = cf_strndup(text, len);
		memset(copy, ' ', 3);
		src = copy;
	}

	while (next_token(src, len, &pos, &ts, &te,
			  &script->no_transaction_marker))
		if (decisive_token(src + ts, te - ts, false)) {
			CF_GROW(decisive, alloc, n_decisive + 1);
			decisive[n_decisive++] = ts;
		}

	/* a run the scanner would read quadratically: the lexer splits,
	 * and only the statements without one are parsed */
	if (!cf_sql_scannable(src, len, NULL))
		rejected = true;
	else if (trees && len <= WHOLE_PARSE_MAX)
		*trees = parse_whole(script, src, decisive, n_decisive,
				     &rejected);
	if (rejected) /* the same grammar: the split would fail too */
		failed = split_and_parse(script, src, target_major, problems);
	else if (!trees || !*trees)
		failed = split_only(script, src, target_major, decisive,
				    n_decisive, problems);
	free(decisive);
	if (classify(script, problems))
		failed = true;
	free(copy);

	if (script->no_transaction_marker)
		script->transactional = false;
	for (size_t i = 0; i < script->n_stmts; i++)
		if (script->stmts[i].non_transactional)
			script->transactional = false;
	return failed ? -1 : 0;
}

/* cf_script_parse_target() with the parser's own grammar as the judge. */
int
cf_script_parse(const char *path, const char *text, size_t len, cf_script **out,
		cf_error_list *problems)
{
	return cf_script_parse_target(path, text, len, cf_parser_major(), out,
				      problems);
}

/* Reads path and parses it; an unreadable file is a "read-error". */
int
cf_script_load(const char *path, cf_script **out, cf_error_list *problems)
{
	char *data;
	size_t len;
	cf_error *e = NULL;
	int rc;

	*out = NULL;
	if (cf_read_file(path, &data, &len, &e) < 0) {
		cf_error_set_code(e, "read-error");
		add_problem(problems, e);
		return -1;
	}
	rc = cf_script_parse(path, data, len, out, problems);
	free(data);
	return rc;
}

/* Frees a script and everything it owns.  NULL is fine. */
void
cf_script_free(cf_script *script)
{
	if (!script)
		return;
	for (size_t i = 0; i < script->n_stmts; i++)
		statement_release(&script->stmts[i]);
	free(script->stmts);
	free(script->path);
	free(script->text);
	free(script);
}

/*
 * Maps a server error position (1-based characters within the statement
 * text as sent) to the script's line and column; <= 0 gives the statement's
 * own position.  Positions past the end are clamped to it.
 */
void
cf_script_position(const cf_script *script, const cf_statement *stmt,
		   int char_pos, int *line, int *column)
{
	size_t off;
	int dl, dc;

	if (char_pos <= 0) {
		*line = stmt->line;
		*column = stmt->column;
		return;
	}
	off = cf_utf8_char_offset(script->text + stmt->offset, stmt->length,
				  (size_t)char_pos - 1);
	/* counted from the statement's own position, not the file's start:
	 * a file with many findings stays linear */
	cf_text_line_col(script->text + stmt->offset, off, &dl, &dc);
	*line = stmt->line + dl - 1;
	*column = dl == 1 ? stmt->column + dc - 1 : dc;
}
