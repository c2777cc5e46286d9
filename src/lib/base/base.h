/*
 * base/base.h — what every library file builds on: allocation, strbuf,
 * errors, text and OS helpers.  Not installed.
 *
 * Prototypes are grouped under the file that defines them.
 */
#ifndef CF_BASE_H
#define CF_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "confiture.h"

#define CF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CF_STRINGIFY_(x) #x
#define CF_STRINGIFY(x) CF_STRINGIFY_(x)

/* alloc.c: allocation that never returns NULL (abort() on out-of-memory) */
void *cf_malloc(size_t size);
void *cf_calloc(size_t n, size_t size);
void *cf_realloc(void *p, size_t size);
/* n * size with overflow check */
void *cf_reallocarray(void *p, size_t n, size_t size);
char *cf_strdup(const char *s); /* NULL in, NULL out */
char *cf_strndup(const char *s, size_t n);
char *cf_asprintf(const char *fmt, ...) CF_PRINTF(1, 2);
#define cf_new(type) ((type *)cf_calloc(1, sizeof(type)))
/* Grows *arr (of *alloc elements of elem size) to hold at least need. */
void cf_grow(void **arr, size_t *alloc, size_t need, size_t elem);
#define CF_GROW(arr, alloc, need) \
	cf_grow((void **)&(arr), &(alloc), (need), sizeof(*(arr)))

/* strbuf.c: a growable NUL-terminated buffer (git's strbuf, in small) */
typedef struct cf_strbuf {
	char *buf;
	size_t len;
	size_t alloc;
} cf_strbuf;
#define CF_STRBUF_INIT     \
	{                  \
		NULL, 0, 0 \
	}
void cf_strbuf_init(cf_strbuf *sb);
void cf_strbuf_release(cf_strbuf *sb);
void cf_strbuf_reset(cf_strbuf *sb);
void cf_strbuf_add(cf_strbuf *sb, const void *data, size_t len);
void cf_strbuf_addstr(cf_strbuf *sb, const char *s);
void cf_strbuf_addch(cf_strbuf *sb, char c);
void cf_strbuf_addf(cf_strbuf *sb, const char *fmt, ...) CF_PRINTF(2, 3);
void cf_strbuf_vaddf(cf_strbuf *sb, const char *fmt, va_list ap);
/* Returns the buffer (never NULL) and leaves sb empty; caller frees. */
char *cf_strbuf_detach(cf_strbuf *sb);
/* Returns the contents, "" when nothing was added; valid until next change. */
const char *cf_strbuf_str(const cf_strbuf *sb);

/* error.c: building errors.  The printf-style constructors and setters
 * format into a new string; the _str setters copy text as it is (no
 * printf: for text already made); the _take ones store the caller's
 * malloc()ed string, which the error then owns and frees. */
cf_error *cf_error_new(cf_error_kind kind, const char *fmt, ...)
	CF_PRINTF(2, 3);
cf_error *cf_warning_new(const char *fmt, ...) CF_PRINTF(1, 2);
/* A warning (CF_ERR_FILE) whose message is message, taken (NULL: ""). */
cf_error *cf_warning_take(char *message);
void cf_error_set_detail(cf_error *e, const char *fmt, ...) CF_PRINTF(2, 3);
void cf_error_set_hint(cf_error *e, const char *fmt, ...) CF_PRINTF(2, 3);
/* A copy of text (NULL clears the field). */
void cf_error_set_detail_str(cf_error *e, const char *text);
void cf_error_set_hint_str(cf_error *e, const char *text);
void cf_error_set_where(cf_error *e, const char *file, int line, int column);
/* cf_error_set_where() taking file (malloc()ed, or NULL) instead of a copy. */
void cf_error_take_where(cf_error *e, char *file, int line, int column);
void cf_error_set_code(cf_error *e, const char *code);
/* A deep copy; caller frees. */
cf_error *cf_error_copy(const cf_error *e);
/* Stores e in *err if err is non-NULL, else frees it; returns -1. */
int cf_fail(cf_error **err, cf_error *e);

/* text.c: UTF-8 and positions */
/* true when s[0..len) is valid UTF-8; else *bad_offset is the first bad byte */
bool cf_utf8_valid(const char *s, size_t len, size_t *bad_offset);
/* 1-based line and column (in characters) of byte offset off in text; reads
 * text[0..off) only (no NUL needed) */
void cf_text_line_col(const char *text, size_t off, int *line, int *column);
/* byte offset of the n-th character (0-based) from s, clamped to len */
size_t cf_utf8_char_offset(const char *s, size_t len, size_t nchars);
/* A hash of NUL-terminated s (FNV-1a), for in-memory hash tables. */
size_t cf_hash_str(const char *s);
/*
 * Reads a whole regular file into *data (caller frees; NUL-terminated,
 * *len excludes the terminator).  Anything else (FIFO, device, directory,
 * socket) is refused without blocking; a read error is an error, never a
 * short file.  Errors are CF_ERR_IO; code "not-regular-file" or
 * "file-too-large" for a refused file.
 */
int cf_read_file(const char *path, char **data, size_t *len, cf_error **err);
/* cf_read_file_ex() flags */
#define CF_READ_NOFOLLOW 0x1 /* refuse a symbolic link (O_NOFOLLOW) */
/*
 * cf_read_file_ex() of name opened relative to the directory dirfd (or
 * AT_FDCWD), path naming the file in messages: a history's files are
 * opened by their name in its directory, without the kernel walking the
 * directory's path once per file.
 */
int cf_read_file_at(int dirfd, const char *name, const char *path,
		    unsigned flags, size_t max, char **data, size_t *len,
		    cf_error **err);
/* cf_read_file() with flags, and at most max bytes (0: no limit). */
int cf_read_file_ex(const char *path, unsigned flags, size_t max, char **data,
		    size_t *len, cf_error **err);
/*
 * True when real (an absolute path without symlinks, from realpath()) is
 * root or lies below it; root must be a realpath() too.
 */
bool cf_path_inside(const char *real, const char *root);
/* Double-quotes an SQL identifier (always quoted). Caller frees. */
char *cf_quote_ident(const char *ident);
/* Single-quotes an SQL literal. Caller frees. */
char *cf_quote_literal(const char *s);
/*
 * A copy of msg, a message about conninfo (libpq's, a server's, a child
 * program's), with what cf_redact_url() would hide in conninfo hidden in
 * msg too (url.c).  Caller frees; NULL msg gives NULL.
 */
char *cf_redact_message(const char *msg, const char *conninfo);

/* parallel.c: ordered work on several threads */
/*
 * Threads for independent per-file work: CONFITURE_JOBS when it is a
 * positive count, else the CPUs this process may run on; at most 4.
 */
int cf_parallel_threads(void);
/*
 * Calls prepare(arg, i) for every i in [0, n) on up to `threads` threads
 * (the calling one included), consume(arg, i) on the calling thread in
 * increasing i, each after its prepare() returned, and then release(arg,
 * i) on the thread that prepared i (what a thread allocated, it frees:
 * glibc's free() of another thread's memory contends for its arena).
 * consume and release may be NULL.  At most `window` items (0: any
 * number) are prepared ahead of the next one consumed, which bounds what
 * is held in memory.  prepare() and release() may touch only item i's
 * data and thread-safe state; consume() calls never overlap each other.
 * threads <= 1 runs everything on the calling thread, item by item.  All
 * calls are over when it returns.
 */
void cf_parallel_ordered(size_t n, size_t window, int threads,
			 void (*prepare)(void *arg, size_t i),
			 void (*consume)(void *arg, size_t i),
			 void (*release)(void *arg, size_t i), void *arg);

/* sysutil.c: paths, directories, file tests, time */
char *cf_path_join(const char *dir, const char *rel);
/* mkdir -p with mode; fails when path exists but is not a directory */
int cf_mkdir_p(const char *path, int mode, cf_error **err);
/* rm -rf, not following symlinks; 0 when done or path is missing */
int cf_remove_tree(const char *path);
bool cf_is_dir(const char *path);
/* a regular file we may execute */
bool cf_is_executable(const char *path);
/* Monotonic milliseconds. */
double cf_now_ms(void);
void cf_sleep_ms(long ms);

#endif /* CF_BASE_H */
