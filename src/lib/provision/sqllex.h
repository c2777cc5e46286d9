/*
 * sqllex.h — the one lexer that splits a plain-SQL dump into what
 * dump_load.c sends to the server: statements, COPY data lines and
 * pg_dump's \restrict lines.  Pure (no I/O, no libpq).  Not installed.
 */
#ifndef CF_SQLLEX_H
#define CF_SQLLEX_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* Longest statement (or COPY data line) accepted: 256 MiB. */
#define CF_SQLLEX_MAX_TEXT ((size_t)256 * 1024 * 1024)

typedef struct cf_sqllex cf_sqllex;

typedef enum cf_sqllex_kind {
	CF_SQLLEX_MORE = 0,   /* the line is used up: feed the next one */
	CF_SQLLEX_STATEMENT,  /* one statement, up to and with its ';' */
	CF_SQLLEX_COPY_DATA,  /* one line of COPY ... FROM stdin data */
	CF_SQLLEX_COPY_END,   /* the "\." line that ends COPY data */
	CF_SQLLEX_RESTRICT,   /* pg_dump's "\restrict KEY" line */
	CF_SQLLEX_UNRESTRICT, /* pg_dump's matching "\unrestrict KEY" */
	CF_SQLLEX_ERROR,      /* *err says what and where; stop */
	CF_SQLLEX_END,	      /* cf_sqllex_finish(): nothing left */
} cf_sqllex_kind;

/* A top-level token of a statement, for recognising its kind. */
typedef struct cf_sqllex_token {
	char text[64]; /* words lowercased; "" when longer or multi-line */
	char kind;     /* 'w' word, 'q' quoted identifier, 's' string,
			* 'n' number, 'o' operator, 'p' punctuation */
} cf_sqllex_token;

/*
 * What cf_sqllex_next() found.  text is valid until the next call (a
 * statement is NUL-terminated; data lines have their newline).
 */
typedef struct cf_sqllex_item {
	cf_sqllex_kind kind;
	const char *text;
	size_t len;
	int line, column; /* 1-based; column in characters */
	bool copy_in;	  /* statement: COPY ... FROM stdin, data follows */
	/* statement: its first and last top-level (outside parentheses)
	 * tokens */
	cf_sqllex_token first[6];
	int n_first;
	cf_sqllex_token last[3]; /* last[2] is the final one */
	int n_last;
} cf_sqllex_item;

/*
 * A lexer for the SQL of file (named in errors).  Starts with
 * standard_conforming_strings on.  Free with cf_sqllex_free().
 */
cf_sqllex *cf_sqllex_new(const char *file);
void cf_sqllex_free(cf_sqllex *lx);

/*
 * Gives the lexer the next line of input: len bytes, ending with '\n'
 * except possibly the last line.  The bytes must stay valid until
 * cf_sqllex_next() returns CF_SQLLEX_MORE.
 */
void cf_sqllex_feed(cf_sqllex *lx, const char *line, size_t len);

/*
 * The next item of the line fed, CF_SQLLEX_MORE when it is used up, or
 * CF_SQLLEX_ERROR with *err (a CF_ERR_CONFIG error at file:line:col with
 * a code "dump-...").  After an error the lexer only returns errors.
 */
cf_sqllex_kind cf_sqllex_next(cf_sqllex *lx, cf_sqllex_item *it,
			      cf_error **err);

/*
 * At the end of input: the last statement when it lacks its ';', an
 * error when a literal, comment, COPY data or \restrict block is left
 * open, else CF_SQLLEX_END.
 */
cf_sqllex_kind cf_sqllex_finish(cf_sqllex *lx, cf_sqllex_item *it,
				cf_error **err);

/* standard_conforming_strings as the statements so far left it. */
bool cf_sqllex_std_strings(const cf_sqllex *lx);

/* Whether name (any case, '_' and '-' ignored) is a client-only encoding,
 * where a backslash or quote may be the second byte of a character. */
bool cf_sqllex_unsafe_encoding(const char *name);

/* Whether token t is the word w (lowercase). */
bool cf_sqllex_is_word(const cf_sqllex_token *t, const char *w);

#endif /* CF_SQLLEX_H */
