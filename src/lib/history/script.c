/*
 * script.c — reads a migration script, splits it into statements with
 * libpg_query and classifies them: transaction control (BEGIN, COMMIT, ...),
 * statements that cannot run inside a transaction (CREATE INDEX
 * CONCURRENTLY, VACUUM, ...), psql meta-commands, syntax errors.
 *
 * The file is parsed once; the JSON parse tree is kept in the script for
 * later analysis.  Statement boundaries come from the parser; a small lexer
 * (comments, quotes, dollar quotes) refines them so that a statement starts
 * at its first token and ends at its ';'.
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

#include <jansson.h>
#include <pg_query.h>

#include "base/base.h"

#define NO_TX_MARKER "confiture:no-transaction"

/* ------------------------------------------------------------------------
 * A small SQL lexer: just enough to skip comments and find token ends
 * ------------------------------------------------------------------------ */

/* SQL whitespace (the scanner's space class). */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* May start an identifier or keyword; bytes >= 0x80 count as letters. */
static bool
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

/* May continue an identifier (digits and '$' too). */
static bool
is_ident_cont(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
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
skip_space(const char *s, size_t len, size_t i, bool *marker)
{
	while (i < len) {
		if (is_space(s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			size_t start = i;

			while (i < len && s[i] != '\n' && s[i] != '\r')
				i++;
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

/* End of a quoted string or identifier opened at s[i] by quote q. */
static size_t
skip_quoted(const char *s, size_t len, size_t i, char q, bool backslash)
{
	i++;
	while (i < len) {
		if (backslash && s[i] == '\\' && i + 1 < len) {
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
 * Parse-tree helpers (jansson)
 * ------------------------------------------------------------------------ */

/* A boolean field; absent means false (libpg_query omits defaults). */
static bool
jbool(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

/* A string field, "" when absent; borrowed from the JSON tree. */
static const char *
jstr(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : "";
}

/* The single key of a node wrapper such as {"IndexStmt": {...}}. */
static const char *
node_tag(json_t *wrapper, json_t **body)
{
	void *it = json_is_object(wrapper) ? json_object_iter(wrapper) : NULL;

	if (!it) {
		*body = NULL;
		return "";
	}
	*body = json_object_iter_value(it);
	return json_object_iter_key(it);
}

/* The DefElem named name in a list of {"DefElem": {...}}, or NULL. */
static json_t *
find_defelem(json_t *list, const char *name)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *de = json_object_get(json_array_get(list, i),
					     "DefElem");

		if (de && strcmp(jstr(de, "defname"), name) == 0)
			return de;
	}
	return NULL;
}

/*
 * Value of a boolean option as the server reads it (defGetBoolean): no
 * argument means true; 0, false and off mean false.  Anything else is taken
 * as true (the server rejects real garbage itself).
 */
static bool
defelem_bool(json_t *de)
{
	json_t *body;
	const char *tag = node_tag(json_object_get(de, "arg"), &body);
	const char *sval = NULL;

	if (!body)
		return true;
	if (strcmp(tag, "Integer") == 0)
		return json_integer_value(json_object_get(body, "ival")) != 0;
	if (strcmp(tag, "Boolean") == 0)
		return jbool(body, "boolval");
	if (strcmp(tag, "String") == 0) {
		sval = jstr(body, "sval");
	} else if (strcmp(tag, "TypeName") == 0) {
		json_t *names = json_object_get(body, "names");
		json_t *last = json_array_get(names,
					      json_array_size(names) - 1);

		sval = jstr(json_object_get(last, "String"), "sval");
	}
	if (sval &&
	    (strcasecmp(sval, "false") == 0 || strcasecmp(sval, "off") == 0))
		return false;
	return true;
}

/* true when a boolean option is present in list and true. */
static bool
option_true(json_t *list, const char *name)
{
	json_t *de = find_defelem(list, name);

	return de && defelem_bool(de);
}

/* true when a boolean option is absent from list or true. */
static bool
option_default_true(json_t *list, const char *name)
{
	json_t *de = find_defelem(list, name);

	return !de || defelem_bool(de);
}

/*
 * Describes why a statement cannot run inside a transaction block
 * (PostgreSQL's PreventInTransactionBlock callers), or NULL.  The string is
 * static.
 */
static const char *
non_transactional_kind(const char *tag, json_t *n)
{
	if (strcmp(tag, "IndexStmt") == 0) {
		if (jbool(n, "concurrent"))
			return "CREATE INDEX CONCURRENTLY";
		return NULL;
	}
	if (strcmp(tag, "DropStmt") == 0) {
		if (jbool(n, "concurrent"))
			return "DROP INDEX CONCURRENTLY";
		return NULL;
	}
	if (strcmp(tag, "ReindexStmt") == 0) {
		const char *kind = jstr(n, "kind");

		if (option_true(json_object_get(n, "params"), "concurrently"))
			return "REINDEX CONCURRENTLY";
		if (strcmp(kind, "REINDEX_OBJECT_SCHEMA") == 0)
			return "REINDEX SCHEMA";
		if (strcmp(kind, "REINDEX_OBJECT_SYSTEM") == 0)
			return "REINDEX SYSTEM";
		if (strcmp(kind, "REINDEX_OBJECT_DATABASE") == 0)
			return "REINDEX DATABASE";
		return NULL;
	}
	if (strcmp(tag, "VacuumStmt") == 0) {
		/* ANALYZE alone may run in a transaction */
		if (jbool(n, "is_vacuumcmd"))
			return "VACUUM";
		return NULL;
	}
	if (strcmp(tag, "ClusterStmt") == 0) {
		/* CLUSTER without a table reclusters the whole database */
		if (!json_object_get(n, "relation"))
			return "CLUSTER";
		return NULL;
	}
	if (strcmp(tag, "CreatedbStmt") == 0)
		return "CREATE DATABASE";
	if (strcmp(tag, "DropdbStmt") == 0)
		return "DROP DATABASE";
	if (strcmp(tag, "AlterDatabaseStmt") == 0) {
		json_t *opts = json_object_get(n, "options");

		if (find_defelem(opts, "tablespace"))
			return "ALTER DATABASE SET TABLESPACE";
		return NULL;
	}
	if (strcmp(tag, "AlterSystemStmt") == 0)
		return "ALTER SYSTEM";
	if (strcmp(tag, "CreateTableSpaceStmt") == 0)
		return "CREATE TABLESPACE";
	if (strcmp(tag, "DropTableSpaceStmt") == 0)
		return "DROP TABLESPACE";
	if (strcmp(tag, "DiscardStmt") == 0) {
		if (strcmp(jstr(n, "target"), "DISCARD_ALL") == 0)
			return "DISCARD ALL";
		return NULL;
	}
	if (strcmp(tag, "AlterTableStmt") == 0) {
		json_t *cmds = json_object_get(n, "cmds");

		for (size_t i = 0; i < json_array_size(cmds); i++) {
			json_t *c = json_object_get(json_array_get(cmds, i),
						    "AlterTableCmd");
			json_t *def = json_object_get(c, "def");
			json_t *pc = json_object_get(def, "PartitionCmd");
			const char *subtype = jstr(c, "subtype");

			if (strcmp(subtype, "AT_DetachPartition") == 0 &&
			    jbool(pc, "concurrent"))
				return "ALTER TABLE DETACH PARTITION "
				       "CONCURRENTLY";
		}
		return NULL;
	}
	if (strcmp(tag, "CreateSubscriptionStmt") == 0) {
		json_t *opts = json_object_get(n, "options");

		/* connect = false implies create_slot = false */
		if (option_default_true(opts, "connect") &&
		    option_default_true(opts, "create_slot"))
			return "CREATE SUBSCRIPTION";
		return NULL;
	}
	if (strcmp(tag, "DropSubscriptionStmt") == 0)
		return "DROP SUBSCRIPTION";
	return NULL;
}

/*
 * A transaction control statement's name for messages.  For BEGIN, COMMIT
 * and ROLLBACK the keyword is taken from the source so that END and ABORT
 * are named as written.  Caller frees.
 */
static char *
transaction_name(json_t *n, const char *src)
{
	const char *kind = jstr(n, "kind");
	const char *chain = jbool(n, "chain") ? " AND CHAIN" : "";
	static const struct {
		const char *kind;
		const char *name;
	} fixed[] = {
		{"TRANS_STMT_START", "START TRANSACTION"},
		{"TRANS_STMT_SAVEPOINT", "SAVEPOINT"},
		{"TRANS_STMT_RELEASE", "RELEASE SAVEPOINT"},
		{"TRANS_STMT_ROLLBACK_TO", "ROLLBACK TO SAVEPOINT"},
		{"TRANS_STMT_PREPARE", "PREPARE TRANSACTION"},
		{"TRANS_STMT_COMMIT_PREPARED", "COMMIT PREPARED"},
		{"TRANS_STMT_ROLLBACK_PREPARED", "ROLLBACK PREPARED"},
	};
	char word[16];
	size_t k = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(kind, fixed[i].kind) == 0)
			return cf_strdup(fixed[i].name);
	while (k < sizeof(word) - 1 && is_ident_start(src[k]) &&
	       (unsigned char)src[k] < 0x80) {
		word[k] = (char)toupper((unsigned char)src[k]);
		k++;
	}
	word[k] = '\0';
	return cf_asprintf("%s%s", k ? word : "transaction control", chain);
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

/* Extra per-statement facts needed only while parsing. */
typedef struct stmt_info {
	char *kind; /* TransactionStmt kind, or NULL */
	bool chain;
	char *tx_name;
} stmt_info;

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
 * Finds the statement around byte offset off with the lexer (used after a
 * syntax error, when the parser gave no statements).  Sets *start, *end and
 * the 1-based statement index; false when off is in no statement.
 */
static bool
find_statement_at(const char *s, size_t len, size_t off, size_t *start,
		  size_t *end, int *index)
{
	size_t pos = 0, ts, te, cur = SIZE_MAX, last_end = 0;
	int n = 0;

	while (next_token(s, len, &pos, &ts, &te, NULL)) {
		if (cur == SIZE_MAX)
			cur = ts;
		if (s[ts] == ';' && te == ts + 1) {
			if (off <= ts) {
				if (cur == ts)
					return false;
				*start = cur;
				*end = te;
				*index = n + 1;
				return true;
			}
			if (cur != ts)
				n++;
			cur = SIZE_MAX;
		}
		last_end = te;
	}
	if (cur == SIZE_MAX)
		return false;
	*start = cur;
	*end = last_end;
	*index = n + 1;
	return true;
}

/*
 * Reports a parse failure: a psql meta-command when the error points at a
 * backslash, else the parser's syntax error.  src is the text that was
 * parsed (same byte offsets as script->text).
 */
static void
report_parse_error(cf_script *script, const char *src, PgQueryError *perr,
		   cf_error_list *problems)
{
	size_t off = script->text_len, st_start, st_end;
	int line, col, index = 0;
	cf_error *e;

	if (perr->cursorpos > 0)
		off = cf_utf8_char_offset(src, script->text_len,
					  (size_t)perr->cursorpos - 1);
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
		return;
	}

	e = cf_error_new(CF_ERR_FILE, "%s", perr->message);
	cf_error_set_code(e, "syntax-error");
	cf_error_set_where(e, script->path, line, col);
	if (find_statement_at(src, script->text_len, off, &st_start, &st_end,
			      &index)) {
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
	else if (strncmp(perr->message, "unterminated", 12) == 0)
		cf_error_set_hint(e, "the construct that starts here is never "
				     "closed");
	else if (strstr(perr->message, "at end of input"))
		cf_error_set_hint(e, "the file ends in the middle of a "
				     "statement; look for a missing ')', quote "
				     "or END");
	add_problem(problems, e);
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
	pos = st->offset;
	last_end = st->offset;
	while (next_token(src, span_end, &pos, &ts, &te, NULL))
		last_end = te;
	after = skip_space(src, n, span_end, NULL);
	if (after < n && src[after] == ';')
		last_end = after + 1;
	st->length = last_end - st->offset;
	script_line_col(script, cur, st->offset, &st->line, &st->column);
	return true;
}

/*
 * Reads the parse tree: fills script->stmts and per-statement facts.
 * Returns false when the JSON cannot be read (should not happen).
 */
static bool
load_statements(cf_script *script, const char *src, stmt_info **infos)
{
	json_error_t jerr;
	json_t *root = json_loads(script->parse_tree, 0, &jerr);
	json_t *list;
	line_cursor cur = LINE_CURSOR_INIT;

	*infos = NULL;
	if (!root)
		return false;
	list = json_object_get(root, "stmts");
	script->stmts = cf_calloc(json_array_size(list) + 1,
				  sizeof(cf_statement));
	*infos = cf_calloc(json_array_size(list) + 1, sizeof(stmt_info));
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		cf_statement *st = &script->stmts[script->n_stmts];
		stmt_info *info = &(*infos)[script->n_stmts];
		json_int_t loc, span;
		json_t *body;
		const char *tag;

		loc = json_integer_value(
			json_object_get(item, "stmt_location"));
		span = json_integer_value(json_object_get(item, "stmt_len"));
		if (loc < 0 || span < 0 ||
		    !make_statement(script, src, (size_t)loc, (size_t)span,
				    &cur, st))
			continue;
		tag = node_tag(json_object_get(item, "stmt"), &body);
		st->node = cf_strdup(tag);
		if (strcmp(tag, "TransactionStmt") == 0) {
			st->transaction_control = true;
			info->kind = cf_strdup(jstr(body, "kind"));
			info->chain = jbool(body, "chain");
			info->tx_name = transaction_name(body,
							 src + st->offset);
		} else {
			st->non_transactional = non_transactional_kind(tag,
								       body);
		}
		script->n_stmts++;
	}
	json_decref(root);
	return true;
}

/* true when the statement is a TransactionStmt of the given kind. */
static bool
info_is(const stmt_info *info, const char *kind)
{
	return info->kind && strcmp(info->kind, kind) == 0;
}

/*
 * Detects a whole-file BEGIN ... COMMIT wrapper: the first statement is
 * BEGIN or START TRANSACTION (any options), the last a COMMIT or END
 * without AND CHAIN, and no other transaction control in between.
 */
static bool
is_wrapped(const cf_script *script, const stmt_info *infos)
{
	size_t n = script->n_stmts;

	if (n < 2)
		return false;
	if (!info_is(&infos[0], "TRANS_STMT_BEGIN") &&
	    !info_is(&infos[0], "TRANS_STMT_START"))
		return false;
	if (!info_is(&infos[n - 1], "TRANS_STMT_COMMIT") || infos[n - 1].chain)
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (script->stmts[i].transaction_control)
			return false;
	return true;
}

/*
 * Reports transaction control and non-transactional statements, strips the
 * wrapper.  Returns true when an error was found.
 */
static bool
classify(cf_script *script, stmt_info *infos, cf_error_list *problems)
{
	bool failed = false, wrapped = is_wrapped(script, infos);
	size_t n = script->n_stmts;

	for (size_t i = 0; i < n; i++) {
		cf_statement *st = &script->stmts[i];
		cf_error *e;

		if (wrapped && (i == 0 || i == n - 1)) {
			if (i == 0) {
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
						  infos[0].tx_name,
						  infos[n - 1].tx_name);
				add_stmt_problem(problems, script, st, 1, e);
			}
			continue;
		}
		if (st->transaction_control) {
			e = cf_error_new(CF_ERR_FILE,
					 "transaction control statement '%s' "
					 "is not allowed in a migration",
					 infos[i].tx_name);
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
		free(script->stmts[0].node);
		free(script->stmts[n - 1].node);
		memmove(&script->stmts[0], &script->stmts[1],
			(n - 2) * sizeof(cf_statement));
		script->n_stmts = n - 2;
		script->wrapper_stripped = true;
	}
	return failed;
}

/*
 * Validates the encoding, parses the whole text once and classifies each
 * statement.  *out is NULL only when the text is not UTF-8 or holds a NUL;
 * otherwise it is the caller's, even when -1 is returned.
 */
int
cf_script_parse(const char *path, const char *text, size_t len, cf_script **out,
		cf_error_list *problems)
{
	cf_script *script;
	char *copy = NULL;
	const char *src;
	stmt_info *infos = NULL;
	PgQueryParseResult r;
	size_t pos = 0, ts, te, n_loaded = 0;
	bool failed = false;

	*out = NULL;
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
		;

	r = pg_query_parse(src);
	if (r.error) {
		report_parse_error(script, src, r.error, problems);
		failed = true;
	} else {
		script->parse_tree = cf_strdup(r.parse_tree);
		if (!load_statements(script, src, &infos)) {
			cf_error *e = cf_error_new(CF_ERR_INTERNAL,
						   "cannot read the parse tree "
						   "of '%s'",
						   path);

			add_problem(problems, e);
			failed = true;
		} else {
			n_loaded = script->n_stmts;
			failed = classify(script, infos, problems);
		}
	}
	pg_query_free_parse_result(r);

	for (size_t i = 0; i < n_loaded; i++) {
		free(infos[i].kind);
		free(infos[i].tx_name);
	}
	free(infos);
	free(copy);

	if (script->no_transaction_marker)
		script->transactional = false;
	for (size_t i = 0; i < script->n_stmts; i++)
		if (script->stmts[i].non_transactional)
			script->transactional = false;
	return failed ? -1 : 0;
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
		free(script->stmts[i].node);
	free(script->stmts);
	free(script->path);
	free(script->text);
	free(script->parse_tree);
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

	if (char_pos <= 0) {
		*line = stmt->line;
		*column = stmt->column;
		return;
	}
	off = stmt->offset + cf_utf8_char_offset(script->text + stmt->offset,
						 stmt->length,
						 (size_t)char_pos - 1);
	script_line_col(script, NULL, off, line, column);
}
