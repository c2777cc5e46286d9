/*
 * confiture.h — public API of libconfiture, a PostgreSQL schema-migration
 * library compatible with the Python tool of the same name (v0.9.4 layout,
 * configuration and tb_confiture tracking table).
 *
 * Conventions
 *   - Functions that can fail return 0 on success and -1 on failure.  On
 *     failure they store a newly allocated cf_error in *err (when err is not
 *     NULL); the caller owns it and releases it with cf_error_free().
 *   - Every object returned through an out-parameter is owned by the caller
 *     and has exactly one matching free function, named on the function.
 *   - The library never prints and never calls exit().  On out-of-memory it
 *     calls abort(): there is no sane partial result to return.
 *   - Strings are UTF-8.  Anything that may contain a password (URLs,
 *     conninfo strings) is redacted before it reaches an error message.
 */
#ifndef CONFITURE_H
#define CONFITURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_VERSION "0.1.0"

/* Exit codes shared by the CLI and documented in the README and man page. */
#define CF_EXIT_OK 0
#define CF_EXIT_FAILURE 1 /* migration failure, pending (status), check error */
#define CF_EXIT_USAGE 2	  /* usage, configuration or connection error */

/* ------------------------------------------------------------------------
 * Errors and diagnostics (error.c)
 * ------------------------------------------------------------------------ */

typedef enum cf_error_kind {
	CF_ERR_INTERNAL = 0,
	CF_ERR_USAGE,	 /* bad arguments */
	CF_ERR_CONFIG,	 /* configuration file or environment */
	CF_ERR_IO,	 /* file system */
	CF_ERR_CONNECT,	 /* cannot reach or authenticate to the server */
	CF_ERR_TRACKING, /* tracking table missing privileges / wrong shape */
	CF_ERR_LOCK,	 /* advisory lock not obtained in time */
	CF_ERR_FILE, /* a migration file is invalid (syntax, encoding, ...) */
	CF_ERR_CHECKSUM, /* an applied migration was edited afterwards */
	CF_ERR_SQL,	 /* the server rejected a migration statement */
} cf_error_kind;

typedef enum cf_severity {
	CF_SEV_ERROR = 0,
	CF_SEV_WARNING,
	CF_SEV_NOTICE,
} cf_severity;

/*
 * One diagnostic: an error or a warning, in PostgreSQL's three parts
 * (primary message, detail, hint) plus where it happened.  All strings are
 * owned by the struct; any of them but message may be NULL.
 */
typedef struct cf_error {
	cf_error_kind kind;
	cf_severity severity;
	char *message;	     /* primary: what went wrong, one line */
	char *detail;	     /* the facts */
	char *hint;	     /* what to do */
	char *context;	     /* server CONTEXT line(s), if any */
	char sqlstate[6];    /* "" when not from the server */
	char *file;	     /* file the error is about, or NULL */
	int line;	     /* 1-based; 0 when unknown */
	int column;	     /* 1-based, in characters; 0 when unknown */
	char *statement;     /* the SQL statement involved, or NULL */
	int statement_index; /* 1-based index in its file; 0 when n/a */
	char *code;    /* short stable identifier, e.g. "duplicate-version" */
	char *excerpt; /* the source line at line, secrets hidden, or NULL;
			* shown instead of reading the file again; a long
			* line is cut around column (cf_text_excerpt()) */
	int excerpt_column; /* the line's column of the excerpt's first
			     * character after a leading cut mark; 0 or 1:
			     * the excerpt starts the line */
} cf_error;

/* Frees an error and everything it owns.  NULL is fine. */
void cf_error_free(cf_error *err);

/* Exit code (CF_EXIT_*) that an error of this kind maps to. */
int cf_error_exit_code(const cf_error *err);

/* A growable list of diagnostics; the list owns its errors. */
typedef struct cf_error_list {
	cf_error **items;
	size_t n;
	size_t alloc;
} cf_error_list;

#define CF_ERROR_LIST_INIT \
	{                  \
		NULL, 0, 0 \
	}
void cf_error_list_init(cf_error_list *list);
/* Takes ownership of err. */
void cf_error_list_add(cf_error_list *list, cf_error *err);
/* Frees every error and the array; the list is left empty and reusable. */
void cf_error_list_release(cf_error_list *list);
size_t cf_error_list_count(const cf_error_list *list, cf_severity sev);

/* ------------------------------------------------------------------------
 * URLs and secrets (url.c)
 * ------------------------------------------------------------------------ */

/*
 * Returns a copy of a connection URL or conninfo string with any password
 * replaced by "***".  Handles postgresql:// and postgres:// URLs (user:pw@),
 * "password=" query parameters and key=value conninfo strings.  Caller frees.
 */
char *cf_redact_url(const char *url_or_conninfo);

/* ------------------------------------------------------------------------
 * Configuration (config.c)
 * ------------------------------------------------------------------------ */

#define CF_DEFAULT_TRACKING_TABLE "tb_confiture"
#define CF_DEFAULT_LOCK_TIMEOUT_MS 30000
#define CF_DEFAULT_PREFLIGHT_LOCK_TIMEOUT_MS 5000
/*
 * migrate up/down: lock_timeout of a transactional migration's statements
 * (while one waits for an ACCESS EXCLUSIVE lock every later query on the
 * table queues behind it, so the wait must be short; 2 s is also what
 * `migrate lint` recommends), and how often one that gave up is retried.
 */
#define CF_DEFAULT_MIGRATION_LOCK_TIMEOUT_MS 2000
#define CF_DEFAULT_MIGRATION_LOCK_RETRIES 3
#define CF_MAX_LOCK_RETRIES 100
#define CF_DEFAULT_PREFLIGHT_STATEMENT_TIMEOUT_MS 300000

typedef enum cf_lint_severity {
	CF_LINT_OFF = 0,
	CF_LINT_WARNING,
	CF_LINT_ERROR,
} cf_lint_severity;

/* lint.rules in an environment file: one rule re-graded (or off). */
typedef struct cf_lint_grade {
	char *rule; /* a rule id of cf_lint_rules() */
	cf_lint_severity severity;
} cf_lint_grade;

/*
 * An environment's configuration, read from db/environments/<name>.yaml.
 * Fields are read-only for callers; free with cf_config_free().
 */
typedef struct cf_config {
	char *path;	    /* file it was read from; NULL when built in code */
	char *name;	    /* "name:" key, or the env name */
	char *database_url; /* libpq URL or conninfo; may hold a password */
	char **include_dirs;  /* NULL-terminated */
	char *tracking_table; /* as written, e.g. "tb_confiture" or "ops.tb_x" */
	char *tracking_schema; /* parsed schema part, or NULL */
	char *tracking_name;   /* parsed table part */
	int lock_timeout_ms;   /* migration.locking.timeout_ms: how long to
				* wait for the advisory migration lock */
	bool locking_enabled;  /* migration.locking.enabled (default true) */
	bool out_of_order;     /* migration.out_of_order: up may apply a version
			    * older than the newest applied (default false) */
	bool repair; /* migration.repair: up --repair by default (false) */
	int migration_lock_timeout_ms;	    /* migration.lock_timeout_ms: the
					* statements' lock_timeout; 0 = none */
	int migration_lock_retries;	    /* migration.lock_retries */
	int preflight_lock_timeout_ms;	    /* preflight.lock_timeout_ms */
	int preflight_statement_timeout_ms; /* preflight.statement_timeout_ms */
	int postgres_version; /* target's PostgreSQL major; 0 = unknown */
	bool preflight_check_down_strict; /* preflight.check_down_strict:
					   * --check-down verdicts fail */
	cf_lint_grade *lint_grades;	  /* lint.rules, in file order */
	size_t n_lint_grades;
	cf_error_list warnings; /* unknown keys etc., with file:line */
} cf_config;

/*
 * Reads and validates a configuration file.  ${VAR} references are
 * expanded from the environment; an unset variable is an error naming it.
 * YAML errors carry file:line:col.  On success *out is the caller's; free it
 * with cf_config_free().
 */
int cf_config_load(const char *path, cf_config **out, cf_error **err);

/*
 * Resolves an environment name to <project_dir>/db/environments/<name>.yaml
 * and loads it.  The name must be a plain name (no '/', no leading '.').
 */
int cf_config_load_env(const char *project_dir, const char *env_name,
		       cf_config **out, cf_error **err);

/* A configuration with defaults only (no file), for URL-only use. */
cf_config *cf_config_new_default(void);

/*
 * Replaces the database URL (for --database-url / CONFITURE_DATABASE_URL).
 * Validates the scheme when it looks like a URL.
 */
int cf_config_set_database_url(cf_config *cfg, const char *url, cf_error **err);

/* Parses "name" or "schema.name" (identifiers, optionally double-quoted). */
int cf_config_set_tracking_table(cf_config *cfg, const char *table,
				 cf_error **err);

void cf_config_free(cf_config *cfg);

/* ------------------------------------------------------------------------
 * SQL scripts: splitting and classification (script.c)
 * ------------------------------------------------------------------------ */

typedef struct cf_statement {
	size_t offset; /* byte offset in the script text of the first token
			 * (leading whitespace and comments skipped) */
	size_t length; /* bytes up to and including the last token, and the
			 * terminating ';' if any */
	int line;      /* 1-based line of the first token */
	int column;    /* 1-based column (characters) of the first token */
	bool transaction_control;      /* BEGIN, COMMIT, SAVEPOINT, ... */
	const char *non_transactional; /* e.g. "CREATE INDEX CONCURRENTLY",
					* or NULL; static storage */
	bool syntax_error; /* the parser rejected it; the server judges */
	struct cf_stmt_model *model; /* what it does (library-internal); NULL
				      * until cf_script_build_models() for
				      * statements that do not decide how the
				      * file runs */
} cf_statement;

/*
 * A parsed migration script.  text is the file content (NUL-terminated,
 * validated UTF-8 without NUL bytes).  When the whole file was wrapped in
 * BEGIN ... COMMIT the wrapper statements are dropped from stmts and
 * wrapper_stripped is set.
 */
typedef struct cf_script {
	char *path;
	char *text;
	size_t text_len;
	cf_statement *stmts;
	size_t n_stmts;
	bool wrapper_stripped;
	bool no_transaction_marker; /* "-- confiture:no-transaction" */
	bool transactional; /* false when the marker or any statement needs
			     * autocommit */
} cf_script;

/*
 * Parses a script.  Problems (syntax errors, meta-commands, transaction
 * control, non-transactional statements, the stripped wrapper) are appended
 * to problems with file:line:col; the function returns -1 when any of them
 * is an error.  *out is set whenever the text could be read as UTF-8 (even
 * when it has errors) and must be freed with cf_script_free().
 */
int cf_script_parse(const char *path, const char *text, size_t len,
		    cf_script **out, cf_error_list *problems);

/*
 * Like cf_script_parse(), for a target server of PostgreSQL major
 * target_major (0 when unknown).  A statement the parser rejects is an error
 * only when the target's grammar is the parser's or older; for a newer or
 * unknown target it is a warning ("syntax-left-to-server") and the statement
 * is kept, to be judged by the server.
 */
int cf_script_parse_target(const char *path, const char *text, size_t len,
			   int target_major, cf_script **out,
			   cf_error_list *problems);

/* The PostgreSQL major and version whose grammar the parser speaks
 * (libpg_query's); the string is static. */
int cf_parser_major(void);
const char *cf_parser_version(void);

/* libpq's version as PQlibVersion() gives it (e.g. 150020); 0 when
 * libpq.so.5 cannot be loaded (the library loads it on first use). */
int cf_libpq_version(void);

/* Reads and parses a file; same contract as cf_script_parse(). */
int cf_script_load(const char *path, cf_script **out, cf_error_list *problems);

void cf_script_free(cf_script *script);

/*
 * Reads the statement model of every statement that has none yet (each
 * statement's text is parsed alone, once).  Parsing a file models only the
 * statements that decide how it runs; analysis calls this.
 */
void cf_script_build_models(cf_script *script);

/* The parse-node name of statement i ("CreateStmt"; "" when the parser
 * rejects it); builds its model when needed.  Static storage. */
const char *cf_script_node(cf_script *script, size_t i);

/*
 * Converts a PostgreSQL error position (1-based, in characters, relative to
 * statement stmt) into a 1-based line and column of the script.
 */
void cf_script_position(const cf_script *script, const cf_statement *stmt,
			int char_pos, int *line, int *column);

/*
 * An excerpt for a position: the line of text[0..len) holding byte offset
 * off (column: that offset's 1-based column, in characters).  A line of at
 * most 400 characters is returned whole; a longer one is cut to 160
 * characters around off (at least 60 before it), each cut end marked by
 * an ellipsis (U+2026).  *first_column (may be NULL) is the line's column
 * of the excerpt's first character after that mark (1 when the excerpt
 * starts the line), so that a caret can be placed under column.  Reads at
 * most 400 characters either side of off: a long line costs no more per
 * position.  Caller frees.
 */
char *cf_text_excerpt(const char *text, size_t len, size_t off, int column,
		      int *first_column);

/* ------------------------------------------------------------------------
 * Migration files (migration.c)
 * ------------------------------------------------------------------------ */

typedef struct cf_migration {
	char *version;	   /* text before the first '_' */
	char *name;	   /* text between the first '_' and ".up.sql" */
	char *up_path;	   /* NULL for a .py migration */
	char *down_path;   /* NULL when there is no .down.sql */
	char *py_path;	   /* set for unsupported Python migrations */
	char checksum[65]; /* SHA-256 hex of the .up.sql bytes; "" if unread */
	cf_script *up;	   /* parsed by cf_migration_set_parse(); else NULL */
	cf_script *down;
} cf_migration;

/* A version claimed by more than one file. */
typedef struct cf_duplicate_version {
	char *version;
	char **files; /* NULL-terminated file names, sorted */
} cf_duplicate_version;

typedef struct cf_migration_set {
	char *dir;
	cf_migration *items; /* ordered by version */
	size_t n;
	bool numeric; /* every version is all digits: numeric order */
	cf_duplicate_version *duplicates; /* the files behind each duplicate */
	size_t n_duplicates;
	cf_error_list problems; /* discovery and parse diagnostics */
} cf_migration_set;

/*
 * Lists dir for migration files and orders them by version (numerically
 * when every version is all digits, bytewise otherwise).  Duplicate versions,
 * over-long versions, .py migrations and stray names are recorded in
 * set->problems; the call fails (-1, *err set) when the directory cannot
 * be read, and as cf_migration_set_discover_in() with project_dir NULL.
 * Free *out with cf_migration_set_free().
 */
int cf_migration_set_discover(const char *dir, cf_migration_set **out,
			      cf_error **err);

/*
 * cf_migration_set_discover() for a project: dir must lie inside
 * project_dir, and so must every file a symbolic link in dir leads to
 * (with project_dir NULL: inside dir).  A link leading out and a migration
 * that is not a regular file (FIFO, device, socket) fail the call with a
 * CF_ERR_CONFIG error naming the file; such a file is never read.
 */
int cf_migration_set_discover_in(const char *dir, const char *project_dir,
				 cf_migration_set **out, cf_error **err);

/*
 * Reads, checksums and parses every .up.sql (and .down.sql when with_down)
 * file.  Problems go to set->problems.  Returns -1 when any error-severity
 * problem exists in the set (including discovery ones).
 */
int cf_migration_set_parse(cf_migration_set *set, bool with_down);

/*
 * Reads and checksums every .up.sql without parsing it (status, baseline,
 * and the applied files of up and down).  Returns -1 when any
 * error-severity problem exists in the set.
 */
int cf_migration_set_checksum(cf_migration_set *set);

/* Reads and checksums one migration's .up.sql when not done yet (problems
 * go to set->problems). */
void cf_migration_checksum(cf_migration_set *set, cf_migration *m);

/*
 * Parses the up and/or down file of one migration (each at most once) for
 * a target of PostgreSQL major target_major (see cf_script_parse_target()).
 * Problems go to set->problems.
 */
void cf_migration_parse(cf_migration_set *set, cf_migration *m, bool up,
			bool down, int target_major);

/*
 * cf_migration_parse() of each of ms[0..n) (migrations of set), the files
 * read and parsed on several threads (cf_parallel_threads(): the
 * CONFITURE_JOBS environment variable, else the CPUs available).  The
 * problems reach set->problems in the order of ms, as one thread would
 * give them.
 */
void cf_migration_parse_each(cf_migration_set *set, cf_migration *const *ms,
			     size_t n, bool up, bool down, int target_major);

/* Index of a version in the set, or -1. */
long cf_migration_set_find(const cf_migration_set *set, const char *version);

/* Compares two versions with the set's ordering rule. */
int cf_version_compare(const char *a, const char *b, bool numeric);

void cf_migration_set_free(cf_migration_set *set);

/* SHA-256 of a buffer as 64 lowercase hex digits plus NUL (checksum.c). */
void cf_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * The advisory-lock key the Python tool uses for a database: the first four
 * bytes of SHA-256(dbname) as a big-endian integer, & 0x7FFFFFFF (lock.c).
 */
#define CF_LOCK_CLASS_ID 1751936052
int32_t cf_lock_key(const char *dbname);

/* ------------------------------------------------------------------------
 * Sessions: the high-level API used by the CLI (session.c)
 * ------------------------------------------------------------------------ */

typedef struct cf_session cf_session;

typedef struct cf_session_options {
	const char *project_dir;    /* default "." */
	const char *env_name;	    /* --env; mutually exclusive with config */
	const char *config_path;    /* -c/--config */
	const char *database_url;   /* --database-url; overrides the file */
	const char *migrations_dir; /* default <project_dir>/db/migrations */
	int postgres_version; /* --postgres-version: the target's major when
			       * not connected; 0 = the environment's */
} cf_session_options;

/*
 * Loads configuration (env file, config path, or URL/CONFITURE_DATABASE_URL
 * alone) and discovers migration files.  Does not connect.  Free with
 * cf_session_free().
 */
int cf_session_open(const cf_session_options *opts, cf_session **out,
		    cf_error **err);

/* Borrowed views; valid until cf_session_free(). */
const cf_config *cf_session_config(const cf_session *s);
cf_migration_set *cf_session_migrations(cf_session *s);
/* The database URL with any password redacted (borrowed). */
const char *cf_session_redacted_url(const cf_session *s);

void cf_session_free(cf_session *s);

typedef enum cf_migration_state {
	CF_STATE_PENDING = 0,
	CF_STATE_APPLIED,
	CF_STATE_APPLIED_MISSING_FILE, /* row in tracking table, no file */
	CF_STATE_UNKNOWN, /* no database configured: only the files are known */
} cf_migration_state;

typedef struct cf_status_entry {
	char *version;
	char *name;
	cf_migration_state state;
	char *applied_at;      /* ISO 8601, or NULL */
	int execution_time_ms; /* -1 when unknown */
	char *checksum_db;     /* recorded checksum, or NULL */
	char *checksum_file;   /* current file checksum, or NULL */
	bool checksum_mismatch;
	bool out_of_order; /* pending, yet older than the newest applied */
} cf_status_entry;

typedef struct cf_status {
	cf_status_entry *entries; /* ordered by version */
	size_t n;
	size_t applied;
	size_t pending;
	size_t out_of_order; /* pending entries marked out_of_order */
	bool tracking_table_exists;
	bool database_known; /* false: no database configured, every entry
			      * is CF_STATE_UNKNOWN */
} cf_status;

/* Reads the tracking table and joins it with the files; pending versions
 * older than the newest applied one are marked out_of_order.  With no
 * database configured it connects to nothing and lists the files as
 * CF_STATE_UNKNOWN (database_known false).  Free with cf_status_free(). */
int cf_session_status(cf_session *s, cf_status **out, cf_error **err);
void cf_status_free(cf_status *st);

typedef enum cf_outcome_kind {
	CF_OUTCOME_OK = 0,
	CF_OUTCOME_FAILED,
	CF_OUTCOME_SKIPPED,
} cf_outcome_kind;

/*
 * Another session, from pg_stat_activity: who holds the migration lock, or
 * whom a migration's statement waited for.  Strings are owned by the struct
 * (in a lock_wait callback, valid only during the call); any may be NULL
 * (query is "<insufficient privilege>" for another role's session unless
 * we may read all statistics).
 */
typedef struct cf_lock_holder {
	long pid;		/* 0 for a prepared transaction */
	char *application_name; /* "" when the holder set none */
	char *client;		/* client address, or "local socket" */
	char *backend_start;	/* connected since (server time) */
	char *state;		/* active, idle, idle in transaction, ... */
	char *query_start;	/* current or last statement started at */
	char *query;		/* current or last statement */
} cf_lock_holder;

/* One line about a session: "pid N (application_name 'a', client,
 * connected since T), state since T: query"; caller frees. */
char *cf_lock_holder_text(const cf_lock_holder *h);

/*
 * One try of a migration that gave up waiting for a lock (SQLSTATE 55P03:
 * lock_timeout, or NOWAIT), and the sessions it waited for, as sampled
 * while it waited (pg_blocking_pids()).  Query texts are one line of at
 * most 200 characters; one that mentions a password is hidden whole.
 */
typedef struct cf_lock_wait {
	int attempt;		  /* 1 for the first try */
	const char *file;	  /* the migration file (borrowed from it) */
	int statement_index;	  /* 1-based in its file; 0 when unknown */
	int line;		  /* the statement's line in its file */
	double elapsed_ms;	  /* how long the try ran */
	char *lock;		  /* "AccessExclusiveLock on relation public.t",
				* or NULL when not seen */
	cf_lock_holder *blockers; /* owned, n_blockers of them */
	size_t n_blockers;
	char *unseen_reason; /* why no blocker is known (n_blockers 0) */
	int retry_in_ms;     /* backoff before the next try; -1: none */
} cf_lock_wait;

/* What happened to one migration in a run. */
typedef struct cf_outcome {
	const cf_migration *migration; /* borrowed from the session's set */
	cf_outcome_kind kind;
	double elapsed_ms;
	cf_error *error;	  /* owned; set when FAILED */
	char *skipped_reason;	  /* owned; set when SKIPPED */
	bool autocommit;	  /* ran outside a transaction */
	cf_lock_wait *lock_waits; /* owned: each try that gave up waiting
				   * for a lock (up and down) */
	size_t n_lock_waits;
} cf_outcome;

/* Progress callbacks; any may be NULL.  Called synchronously. */
typedef struct cf_progress {
	void *arg;
	void (*migration_start)(void *arg, const cf_migration *m, bool down);
	void (*migration_done)(void *arg, const cf_outcome *o, bool down);
	void (*warning)(void *arg, const cf_error *w);
	/* preflight: the replay of total migrations starts */
	void (*replay_begin)(void *arg, size_t total);
	/*
	 * Waiting for the migration lock: called when the first try fails
	 * and then about every two seconds until the lock is taken or the
	 * timeout passes, with who holds it now (NULL when it was released
	 * between the try and the look-up).  waited_ms counts from the
	 * first try.
	 */
	void (*lock_wait)(void *arg, const cf_lock_holder *holder,
			  double waited_ms);
	/*
	 * Clone mode: CREATE DATABASE ... TEMPLATE of database source starts
	 * (clone_begin), then ends (clone_end: ok false when it failed, after
	 * elapsed_ms).  Each clone_begin is followed by one clone_end.
	 */
	void (*clone_begin)(void *arg, const char *source);
	void (*clone_end)(void *arg, const char *source, bool ok,
			  double elapsed_ms);
	/*
	 * up/down: a try of migration m gave up waiting for a lock; w (valid
	 * during the call) says who it waited for and whether it is retried
	 * (w->retry_in_ms >= 0) after that backoff.
	 */
	void (*statement_lock_wait)(void *arg, const cf_migration *m,
				    const cf_lock_wait *w);
} cf_progress;

typedef enum cf_checksum_policy {
	CF_CHECKSUM_FAIL = 0,
	CF_CHECKSUM_WARN,
	CF_CHECKSUM_IGNORE,
} cf_checksum_policy;

typedef struct cf_run_options {
	const char *target; /* up: last version to apply; NULL = all */
	int steps;	    /* down: how many to roll back (default 1) */
	bool dry_run;	    /* up/down: validate and list, do not execute */
	cf_checksum_policy on_checksum_mismatch;
	const char *through; /* baseline: last version to record */
	bool out_of_order;   /* up: apply pending versions older than the
			      * newest applied (also migration.out_of_order) */
	/*
	 * up: repair what an interrupted non-transactional migration left
	 * (--repair, or migration.repair in the environment file): drop an
	 * INVALID index a pending CREATE INDEX CONCURRENTLY creates, and keep
	 * (as IF NOT EXISTS would) a valid one that is not recorded.  Without
	 * it such traces fail the migration before it runs.
	 */
	bool repair;
	/*
	 * up/down: lock_timeout (ms) of each transactional migration's
	 * statements (a migration's own SET lock_timeout wins); 0 = none;
	 * < 0: migration.lock_timeout_ms or CF_DEFAULT_MIGRATION_LOCK_TIMEOUT_MS.
	 * Non-transactional migrations run without it.
	 */
	int lock_timeout_ms;
	/*
	 * up/down: how often a transactional migration that gave up waiting
	 * for a lock (rolled back whole) is tried again, with exponential
	 * backoff; < 0: migration.lock_retries or
	 * CF_DEFAULT_MIGRATION_LOCK_RETRIES.  Non-transactional ones never.
	 */
	int lock_retries;
} cf_run_options;

typedef struct cf_run_result {
	cf_outcome *outcomes;
	size_t n;
	size_t succeeded;
	size_t failed;
	bool dry_run;
	cf_error_list warnings;
} cf_run_result;

void cf_run_result_free(cf_run_result *r);

/*
 * Applies pending migrations in version order, each in its own transaction
 * committed together with its tracking row (autocommit for
 * non-transactional ones).  Stops at the first failure, which is reported as
 * an outcome (return value 0, result->failed == 1); its error has kind
 * CF_ERR_CONNECT when the connection was lost (session terminated, server
 * shut down), code "interrupted-migration" when an unfinished earlier run
 * left an index in the way (see opts->repair).  -1 with *err is for errors
 * before any migration ran (config, connection, lock, invalid files,
 * checksum mismatch, a pending version older than the newest applied one
 * without opts->out_of_order or migration.out_of_order: "out-of-order").
 * Waiting for the migration lock never holds a snapshot; progress->lock_wait
 * hears who holds it.  A transactional migration that gives up waiting for
 * a lock is rolled back and tried again (opts->lock_timeout_ms,
 * opts->lock_retries); each try that gave up goes to
 * progress->statement_lock_wait and the outcome's lock_waits, and the last
 * one's error has code "lock-timeout".  Free *out with cf_run_result_free().
 */
int cf_session_up(cf_session *s, const cf_run_options *opts,
		  const cf_progress *progress, cf_run_result **out,
		  cf_error **err);

/* Rolls back the last opts->steps applied migrations with their .down.sql,
 * with the lock waits of cf_session_up(). */
int cf_session_down(cf_session *s, const cf_run_options *opts,
		    const cf_progress *progress, cf_run_result **out,
		    cf_error **err);

/* Records migrations up to opts->through as applied without running them. */
int cf_session_baseline(cf_session *s, const cf_run_options *opts,
			const cf_progress *progress, cf_run_result **out,
			cf_error **err);

/* ------------------------------------------------------------------------
 * Schema snapshots and diffs (schema/snapshot.c, schema/diff.c) and drift
 * (replay/drift.c)
 * ------------------------------------------------------------------------ */

/* Kinds of schema objects, in the order a snapshot lists them. */
typedef enum cf_object_kind {
	CF_SCHEMA_OBJ_EXTENSION = 0,
	CF_SCHEMA_OBJ_SCHEMA,
	CF_SCHEMA_OBJ_TYPE, /* enum, composite, range */
	CF_SCHEMA_OBJ_DOMAIN,
	CF_SCHEMA_OBJ_SEQUENCE,
	CF_SCHEMA_OBJ_TABLE, /* ordinary, partitioned and foreign tables */
	CF_SCHEMA_OBJ_COLUMN,
	CF_SCHEMA_OBJ_CONSTRAINT, /* of a table or a domain */
	CF_SCHEMA_OBJ_INDEX,	  /* not those that back a constraint */
	CF_SCHEMA_OBJ_VIEW,
	CF_SCHEMA_OBJ_MATVIEW,
	CF_SCHEMA_OBJ_FUNCTION, /* functions and aggregates */
	CF_SCHEMA_OBJ_PROCEDURE,
	CF_SCHEMA_OBJ_TRIGGER,
	CF_SCHEMA_OBJ_POLICY,
	CF_SCHEMA_OBJ_KIND_COUNT
} cf_object_kind;

/* "column", "materialized view", ... (static storage). */
const char *cf_object_kind_name(cf_object_kind kind);

/* One attribute of an object, e.g. {"type", "numeric(12,2)"}. */
typedef struct cf_schema_attr {
	const char *name; /* static storage */
	char *value;	  /* never NULL: unset attributes are left out */
} cf_schema_attr;

/*
 * One object.  name is its identity, qualified and unquoted:
 * "public.orders" (table), "public.orders.total" (column, constraint,
 * trigger, policy), "public.f(integer, text)" (function).  parent is the
 * name of the table, view or type it belongs to, or NULL.
 */
typedef struct cf_schema_object {
	cf_object_kind kind;
	char *name;
	char *parent;
	cf_schema_attr *attrs; /* in a fixed order per kind */
	size_t n_attrs;
} cf_schema_object;

/* A database's schema as read from its catalogs at one instant. */
typedef struct cf_schema {
	cf_schema_object *objects; /* sorted by kind, then name */
	size_t n;
	int server_version_num;
	bool owners; /* the snapshot recorded owners */
	bool grants; /* ... and privileges */
} cf_schema;

typedef struct cf_snapshot_options {
	bool owners; /* record each object's owner (off by default) */
	bool grants; /* record privileges (ACLs) (off by default) */
	/* Relations to leave out with everything on them, as SQL names
	 * ("tb_confiture", "ops.tracking"); NULL-terminated, or NULL. */
	const char *const *exclude;
} cf_snapshot_options;

/*
 * Reads the schema of the database url reaches, in one read-only
 * REPEATABLE READ transaction: user schemas (not pg_catalog,
 * information_schema, pg_toast, temporary schemas), without the objects
 * that belong to extensions.  Never writes.  opts may be NULL (defaults).
 * Free *out with cf_schema_free().
 */
int cf_schema_snapshot(const char *url, const cf_snapshot_options *opts,
		       cf_schema **out, cf_error **err);
void cf_schema_free(cf_schema *schema);

typedef enum cf_change_kind {
	CF_CHANGE_ADDED = 0, /* only in the second snapshot */
	CF_CHANGE_REMOVED,   /* only in the first */
	CF_CHANGE_CHANGED,   /* in both; one attribute differs */
} cf_change_kind;

/* One difference.  For CHANGED, one entry per attribute that differs. */
typedef struct cf_schema_change {
	cf_change_kind kind;
	cf_object_kind object_kind;
	char *object;	 /* the object's name */
	char *parent;	 /* its parent's name, or NULL */
	char *attribute; /* CHANGED: the attribute; else NULL */
	char *old_value; /* CHANGED: in the first snapshot, NULL when unset */
	char *new_value; /* CHANGED: in the second, NULL when unset */
} cf_schema_change;

typedef struct cf_schema_diff {
	cf_schema_change *items; /* sorted by object kind, then name */
	size_t n;
	size_t added, removed, changed; /* counts of items by kind */
} cf_schema_diff;

/*
 * Compares two snapshots.  An added or removed object whose parent is
 * added or removed too is not listed (a new table is one item, not one per
 * column).  Attributes only one snapshot recorded (owners, grants) are not
 * compared.  Free the result with cf_schema_diff_free().
 */
cf_schema_diff *cf_schema_diff_compute(const cf_schema *from,
				       const cf_schema *to);
void cf_schema_diff_free(cf_schema_diff *diff);

/*
 * One line describing a change, e.g.
 * "column public.orders.total: type numeric(12,2) → numeric(14,2)",
 * "index public.idx_x: added".  Long values are shortened and put on one
 * line.  Caller frees.
 */
char *cf_schema_change_text(const cf_schema_change *change);

/* What `migrate drift` replays on and compares. */
typedef struct cf_drift_options {
	const char *against_url; /* database to check; NULL: the session's */
	const char *dump_path;	 /* or: production's schema from this dump
				  * (pg_dump --schema-only, any format); the
				  * applied migrations then come from the
				  * session's database, else all files */
	const char *server_url;	 /* replay on a scratch database of this
				  * server (needs CREATEDB); NULL: on the
				  * embedded server */
	const char *cache_dir;	 /* embedded server: NULL = default */
	const char *project_dir; /* include_dirs are relative to it;
				  * NULL = "." */
	bool keep_server;	 /* leave the embedded server running */
	bool owners;		 /* compare owners too */
	bool grants;		 /* compare privileges too */
} cf_drift_options;

typedef enum cf_drift_status {
	CF_DRIFT_EXTRA = 0, /* production has it, no migration made it */
	CF_DRIFT_MISSING,   /* a migration made it, production lacks it */
	CF_DRIFT_CHANGED,   /* both have it, an attribute differs */
} cf_drift_status;

typedef struct cf_drift_item {
	cf_drift_status status;
	cf_schema_change change; /* old = history, new = production */
	char *migration; /* version that last touched the object, or NULL */
	char *migration_name;
} cf_drift_item;

typedef struct cf_drift_result {
	cf_drift_item *items;
	size_t n;
	size_t extra, missing, changed;
	size_t replayed;      /* migrations replayed from empty */
	size_t schema_files;  /* include_dirs files applied first */
	char *production_url; /* redacted */
	char *replay_where;   /* "embedded server 15" or the redacted URL */
	double replay_ms, snapshot_ms;
	cf_error_list notes; /* applied migrations without a file, ... */
} cf_drift_result;

/*
 * Replays the migrations production has applied (its tracking table, read
 * only) from an empty scratch database, through the same engine as
 * `migrate up`, after the environment's include_dirs schema files; takes
 * a snapshot of the result and of production (read only) and lists the
 * differences, each with the migration that last touched the object.  The
 * scratch database is dropped.  Returns 0 with a result (no drift when
 * result->n is 0); -1 with *err for configuration and connection errors
 * and when a migration fails to replay.  Free with cf_drift_result_free().
 */
int cf_session_drift(cf_session *s, const cf_drift_options *opts,
		     const cf_progress *progress, cf_drift_result **out,
		     cf_error **err);
void cf_drift_result_free(cf_drift_result *r);

/* ------------------------------------------------------------------------
 * Preflight: replay pending migrations on a disposable database
 * (preflight.c, cluster.c, analysis.c)
 * ------------------------------------------------------------------------ */

typedef enum cf_preflight_mode {
	CF_PREFLIGHT_AUTO = 0,	/* clone when possible, else savepoint */
	CF_PREFLIGHT_CLONE,	/* CREATE DATABASE ... TEMPLATE, then drop */
	CF_PREFLIGHT_SAVEPOINT, /* one transaction, always rolled back */
} cf_preflight_mode;

typedef struct cf_preflight_options {
	const char *since; /* keep versions >= since; NULL = all */
	cf_preflight_mode mode;
	bool allow_non_transactional; /* savepoint mode: run them anyway */
	int lock_timeout_ms;	      /* < 0: environment file or default */
	int statement_timeout_ms;     /* < 0: environment file or default */
	bool check_down;  /* clone mode: run each passing migration's down,
			  * compare the schema, run the up again */
	bool no_lint;	  /* leave migrate lint's rules out of the static
			  * checks (they cost most of a static run) */
	bool trace_locks; /* trace each statement's locks, rewrites and scans
			   * (off by default: docs/risk.md has the cost) */
	const char *sizes_url; /* production, to read sizes from (read only);
				* NULL: the session's database (--env) */
} cf_preflight_options;

typedef enum cf_cause {
	CF_CAUSE_NONE = 0,    /* passed or skipped */
	CF_CAUSE_ROOT,	      /* failed on its own */
	CF_CAUSE_CONSEQUENCE, /* failed because an earlier one failed */
} cf_cause;

/* --check-down: what rolling a migration back did (replay/rollback_check.c) */
typedef enum cf_down_status {
	CF_DOWN_NOT_CHECKED = 0, /* not asked, or the up did not pass */
	CF_DOWN_REVERSIBLE,	 /* down restored the schema; up re-ran */
	CF_DOWN_FAILS,		 /* the .down.sql failed (error) */
	CF_DOWN_INCOMPLETE,	 /* ran, but the schema differs (diff) */
	CF_DOWN_MISSING,	 /* no .down.sql */
	CF_DOWN_NOT_REAPPLIABLE, /* up failed after the down (error) */
} cf_down_status;

typedef struct cf_down_check {
	cf_down_status status;
	cf_schema_diff *diff; /* schema before the up → after the down;
			       * NULL when the down did not run */
	cf_error *error;      /* FAILS, NOT_REAPPLIABLE, or why the check
			       * could not run; else NULL */
} cf_down_check;

/* "reversible", "down fails", ... (static storage). */
const char *cf_down_status_name(cf_down_status status);

/* ---- deploy risk (replay/risk*.c, docs/risk.md) ---- */

/* The Python tool's change_set tiers, least to most risky. */
typedef enum cf_tier {
	CF_TIER_NONE = 0, /* not assessed */
	CF_TIER_ADDITIVE,
	CF_TIER_REVERSIBLE,
	CF_TIER_LOCK_RISKY,
	CF_TIER_DESTRUCTIVE,
	CF_TIER_IRREVERSIBLE,
} cf_tier;

/* "additive", ... ("" for NONE); static storage. */
const char *cf_tier_name(cf_tier tier);

/* What a lock mode keeps other sessions from doing (its conflict row). */
typedef enum cf_blocks {
	CF_BLOCKS_NOTHING = 0, /* only DDL, VACUUM and the like */
	CF_BLOCKS_WRITES,      /* INSERT, UPDATE, DELETE (reads go on) */
	CF_BLOCKS_ALL,	       /* reads and writes */
} cf_blocks;

/* "nothing", "writes", "reads and writes"; static storage. */
const char *cf_blocks_name(cf_blocks b);

/* One relation that existed before the replay and that a statement
 * locked, rewrote or scanned. */
typedef struct cf_risk_lock {
	char *relation; /* schema.name as before the replay */
	char *schema;	/* its parts, unquoted */
	char *name;
	bool is_index;
	const char *mode; /* "ACCESS EXCLUSIVE", ...; static */
	bool acquired;	  /* taken by this statement (else held since an
			   * earlier statement of its transaction) */
	bool observed;	  /* read from pg_locks; false: a static fact of
			   * a statement that ran outside a transaction */
	int rewrite;	  /* relfilenode changed: 1, 0, -1 unknown */
	int scan;	  /* scanned (validation, index build, DML): 1/0/-1 */
	double rows;	  /* production's reltuples; -1 unknown */
	long long pages;  /* production's relpages; -1 unknown */
	long long bytes;  /* production's pg_total_relation_size; -1 */
} cf_risk_lock;

/* One statement of a replayed migration, as traced. */
typedef struct cf_risk_statement {
	size_t index;	    /* 1-based, in the up file */
	int line;	    /* 1-based line of its first token */
	double duration_ms; /* on the replay database */
	bool autocommit;    /* ran outside a transaction */
	cf_risk_lock *locks;
	size_t n_locks;
	char *kind;   /* change kind ("add_column", "create_index", ...) */
	char *object; /* what it changes, schema.name[.column]; may be NULL */
	cf_tier tier;
	cf_blocks blocks;   /* what its strongest lock blocks */
	char *reason;	    /* one line: lock, work, size, what is blocked */
	double est_lock_ms; /* estimated on production; -1 unknown */
} cf_risk_statement;

/* The change_set: one entry per change, in the Python tool's shape. */
typedef struct cf_risk_change {
	char *kind;
	char *object;
	const char *migration; /* version, borrowed from the set */
	cf_tier tier;
	char *detail;
} cf_risk_change;

/* One pending migration in a preflight: static facts and, when replayed,
 * the outcome and its diagnosis. */
/*
 * An object that depends on another, as the server's catalogs record it
 * (pg_depend): what PostgreSQL refuses to drop or retype without CASCADE,
 * or drops along with it.  Names are PostgreSQL's own
 * (pg_identify_object), always schema-qualified.
 */
typedef struct cf_dependent {
	char *kind;  /* "view", "materialized view", "function", "trigger",
		     * "policy", "rule", "constraint", "index", "default",
		     * "generated column", "sequence", ... */
	char *name;  /* "public.v", "trg on public.t", "public.f(integer)" */
	char *via;   /* NULL for a direct dependent, else the view it depends
		     * on the object through */
	bool stored; /* holds what was computed from the object: an index,
		      * CHECK, generated column, materialized view or
		      * partition key (replacing a function leaves it stale) */
} cf_dependent;

/* The dependents of one object a statement changes or drops, read on the
 * replay database just before the statement ran. */
typedef struct cf_statement_dependents {
	int statement_index; /* 1-based, in the migration's up file */
	int line;	     /* of the statement */
	char *object_kind;   /* "view", "table column", "function", ... */
	char *object;	     /* "public.v", "public.t.c", "public.f(integer)" */
	cf_dependent *items;
	size_t n;
} cf_statement_dependents;

/* Frees what one entry owns (not the struct itself). */
void cf_statement_dependents_release(cf_statement_dependents *d);

typedef struct cf_preflight_migration {
	const cf_migration *migration; /* borrowed from the session's set */
	bool has_down;
	bool transactional;
	char **non_transactional; /* NULL-terminated descriptions */
	bool replayed;		  /* part of the against run */
	cf_outcome outcome;	  /* valid when replayed */
	cf_cause cause;
	long caused_by;	   /* index in migrations[] or -1 */
	bool cause_likely; /* consequence linked by a bare name or by use,
			    * not by the qualified object the error names */
	bool uses_missing; /* failed and uses a relation that did not exist
			    * before it and that no earlier pending migration
			    * would have provided: a root whatever came before */
	bool artifact;	   /* failure only exists in one-transaction replay */
	char *artifact_reason;
	cf_down_check down; /* with opts->check_down, in clone mode */
	/* replayed statements that replace (CREATE OR REPLACE VIEW/FUNCTION),
	 * drop or retype an object others depend on, in order */
	cf_statement_dependents *dependents;
	size_t n_dependents;
	/* traced statements that ran (see cf_preflight_result.traced) */
	cf_risk_statement *statements;
	size_t n_statements;
	cf_tier tier;	    /* highest of its statements */
	double est_lock_ms; /* locks are held to commit: the sum of its
			     * statements' estimates; -1 unknown */
} cf_preflight_migration;

typedef struct cf_preflight_result {
	/* static */
	cf_preflight_migration *migrations; /* the pending set, in order */
	size_t n;
	cf_error_list problems; /* static errors and warnings */
	cf_duplicate_version *duplicates;
	size_t n_duplicates;
	char **checksum_mismatches; /* versions; NULL-terminated */
	bool checksum_verified;
	bool static_ok; /* no static errors */
	size_t static_warnings;
	/* against */
	bool against_run;
	char *against_url;	/* redacted */
	cf_preflight_mode mode; /* the mode used (never AUTO) */
	char *fallback_reason;	/* why AUTO chose savepoint, or NULL */
	bool db_consumed;
	size_t total, passed, failed, skipped;
	size_t root_causes, consequences, artifacts;
	bool all_passed;
	char *closing; /* e.g. "clone dropped" */
	bool interrupted;
	cf_error_list notes; /* cleanup notes (restored roles, ...) */
	/* clone mode: changes the preflight left on the server (the clone
	 * itself when it could not be dropped, undo failures, files), each a
	 * warning in notes; the CLI exits 1 when there are any */
	size_t leftovers;
	/* deploy risk (docs/risk.md) */
	bool traced;	  /* locks, rewrites and scans were traced */
	double trace_ms;  /* time the tracing itself took in the replay */
	char *trace_note; /* why not, or where it is not exact; or NULL */
	char *sizes_from; /* redacted URL sizes were read from; NULL when
			   * unknown (no --env) */
	char *sizes_note; /* why sizes are unknown, or NULL */
	double rewrite_mb_s, scan_mb_s; /* calibration; 0 when not run */
	char *calibration;		/* how it was calibrated, or NULL */
	cf_risk_change *changes;	/* change_set, in replay order */
	size_t n_changes;
} cf_preflight_result;

/*
 * Runs the static checks on the pending migrations and, when against_url is
 * not NULL, replays them on a disposable copy (clone mode) or inside a
 * transaction that is rolled back (savepoint mode), continuing past
 * failures.  The pending set is what the session's database has not
 * applied when the session has one (read only), narrowed by opts->since.
 * Returns 0 with a result whenever the checks ran (failures are in the
 * result); -1 with *err for usage, configuration and connection errors.
 * Free *out with cf_preflight_result_free().
 */
int cf_session_preflight(cf_session *s, const char *against_url,
			 const cf_preflight_options *opts,
			 const cf_progress *progress, cf_preflight_result **out,
			 cf_error **err);

void cf_preflight_result_free(cf_preflight_result *r);

/*
 * Adds to the hint of each failed migration of r the drift items its
 * error mentions (by name, in the message, detail or statement): "production
 * has index public.idx_x that no migration created".  d comes from
 * cf_session_drift() on the environment's database.  Returns how many
 * failures got an explanation (drift_explain.c).
 */
size_t cf_preflight_explain_drift(cf_preflight_result *r,
				  const cf_drift_result *d);

/*
 * Asks a running preflight (or up/down) to stop: cancels the statement in
 * flight and makes the run clean up and return.  Async-signal-safe; meant
 * for SIGINT/SIGTERM handlers.
 */
void cf_cancel(void);

/*
 * Sets the application_name of every connection the library opens from now
 * on (default "confiture"), so operators can tell them apart in
 * pg_stat_activity, e.g. "confiture migrate up".  A connection string's own
 * application_name, or PGAPPNAME, wins.  Process-wide; call it before
 * connecting, not concurrently with a running session.  name is copied
 * (truncated to 63 bytes); NULL restores the default.
 */
void cf_set_application_name(const char *name);

/* ------------------------------------------------------------------------
 * Provisioning a disposable database: embedded server (server.c), schema
 * dumps (dump.c) and the template cache (cache.c)
 * ------------------------------------------------------------------------ */

/*
 * An embedded throwaway PostgreSQL cluster that confiture starts itself:
 * initdb in the cache directory, Unix socket only, fsync off,
 * max_locks_per_transaction raised.  Runs as the invoking user; as root as
 * the "postgres" system user.
 */
typedef struct cf_server cf_server;

typedef struct cf_server_options {
	const char *cache_dir; /* NULL: $XDG_CACHE_HOME/confiture or
				 * ~/.cache/confiture */
	int major_version;     /* wanted server major (e.g. 15); 0 = newest
				 * installed */
	const char *bindir;    /* force a bin directory; NULL = search PATH,
				 * pg_config --bindir, /usr/lib/postgresql */
} cf_server_options;

/*
 * Starts the embedded cluster for opts->major_version (creating it on first
 * use) or attaches to it when it is already running (kept warm by an
 * earlier --keep-server).  Free with cf_server_release(), which stops it
 * unless keep is true.
 */
int cf_server_start(const cf_server_options *opts, cf_server **out,
		    cf_error **err);
/* libpq URL for database dbname on the server (borrowed until release;
 * each call overwrites the previous one). */
const char *cf_server_url(cf_server *srv, const char *dbname);
int cf_server_major(const cf_server *srv);
/* Directory of the server binaries in use (pg_dump, psql, pg_restore). */
const char *cf_server_bindir(const cf_server *srv);
void cf_server_release(cf_server *srv, bool keep);
/* Stops a kept-warm embedded cluster, if one is running; *stopped tells. */
int cf_server_stop_running(const cf_server_options *opts, bool *stopped,
			   cf_error **err);

/* One embedded cluster of a cache directory, running or not. */
typedef struct cf_server_info {
	int major;
	bool running;
	long pid;  /* postmaster pid, 0 when not running */
	char *dir; /* <root>/<major>: everything of this cluster */
	char *data_dir;
	char *socket_dir; /* NULL when not running */
	int port;	  /* 0 when not running */
	char *version;	  /* server_version when running, else PG_VERSION */
	char *url;	  /* database postgres; NULL when not running */
} cf_server_info;

/* Lists the embedded clusters; free with cf_server_info_free(). */
int cf_server_list(const cf_server_options *opts, cf_server_info **out,
		   size_t *n, cf_error **err);
void cf_server_info_free(cf_server_info *info, size_t n);

/* How far a dump load is (cf_provision_options.load_progress). */
typedef struct cf_load_progress {
	long long bytes_read;  /* of the dump's SQL (pg_restore's output for
				* custom and directory formats) */
	long long bytes_total; /* that SQL's size; 0 when unknown */
	long statements;       /* sent to the server so far */
	double elapsed_ms;     /* since this load started */
	bool done;	       /* the last call of this load */
} cf_load_progress;

/* Where disposable databases come from. */
typedef struct cf_provision_options {
	const char *dump_path;	/* --from-dump: plain SQL, custom or directory
				 * format */
	const char *server_url; /* --server: existing server; NULL = embedded */
	bool keep_server;	/* --keep-server */
	bool no_cache;		/* --no-cache: load into a one-off database */
	bool keep_owners;	/* load OWNER/GRANT too (default: like
				 * pg_restore --no-owner --no-privileges) */
	const char *cache_dir;	/* NULL: default cache directory */
	/*
	 * Dump load progress (NULL: none), called synchronously while a dump
	 * loads into a new template (never on a cache hit): at most about
	 * every 100 ms, and once more with done set when the load ends (also
	 * on failure).  A load retried statement by statement starts again
	 * from zero.
	 */
	void (*load_progress)(void *arg, const struct cf_load_progress *lp);
	void *progress_arg;
} cf_provision_options;

/* The loaded schema, ready to be cloned by a clone-mode preflight. */
typedef struct cf_provisioned {
	char *against_url; /* template database URL (may hold a password
				 * of --server) */
	char *template_name;
	bool cache_hit;
	double load_ms; /* time to load the dump (0 on a hit) */
	double server_start_ms;
	cf_error_list notes; /* what was skipped while loading (roles...) */
	/* private */
	cf_server *server;
	bool drop_template; /* --no-cache: drop it on release */
	bool keep_server;
} cf_provisioned;

/*
 * Makes a database holding the dump's schema: starts the embedded server
 * (or uses opts->server_url), then reuses the cached template for this dump
 * content and server version, or loads the dump into a new template.
 * Dump load errors are CF_ERR_CONFIG with the dump's file:line.  Release
 * with cf_provisioned_release().
 */
int cf_provision(const cf_provision_options *opts, cf_provisioned **out,
		 cf_error **err);
void cf_provisioned_release(cf_provisioned *p);

/* Runs pg_dump --schema-only against url (read only) into a new file in
 * the cache directory; *dump_path is the caller's to free (and unlink). */
int cf_dump_schema(const char *url, const char *bindir, const char *cache_dir,
		   char **dump_path, cf_error **err);

/* One cached template. */
typedef struct cf_cache_entry {
	char *template_name;
	char *dump_hash;
	int server_major;
	char *created_at;
	char *last_used_at;
	long long size_bytes;
} cf_cache_entry;

/* Lists cached templates; free with cf_cache_entries_free(). */
int cf_cache_list(const char *cache_dir, cf_cache_entry **entries, size_t *n,
		  cf_error **err);
void cf_cache_entries_free(cf_cache_entry *entries, size_t n);
/* Drops every cached template and stops and removes embedded clusters. */
int cf_cache_clear(const char *cache_dir, size_t *removed, cf_error **err);
/* The cache directory in use (caller frees). */
char *cf_cache_dir(const char *override);

/* ------------------------------------------------------------------------
 * Project scaffolding (scaffold.c)
 * ------------------------------------------------------------------------ */

/*
 * Creates db/migrations, db/environments/local.yaml and db/schema under
 * project_dir, never overwriting a file.  Paths created are appended to
 * created (NULL-terminated, caller frees each and the array) when not NULL.
 */
int cf_scaffold_project(const char *project_dir, char ***created,
			cf_error **err);

/*
 * Writes <dir>/<YYYYMMDDHHMMSS>_<name>.up.sql and .down.sql.  name must be
 * [a-z0-9_]+.  *up_path and *down_path are the caller's to free.
 */
int cf_generate_migration(const char *dir, const char *name, char **up_path,
			  char **down_path, cf_error **err);

/* ------------------------------------------------------------------------
 * Lint: deploy-safety rules on the statement model (lint/lint.c)
 * ------------------------------------------------------------------------ */

/* One rule of the table; static storage. */
typedef struct cf_lint_rule {
	const char *id;		   /* "index-without-concurrently" */
	cf_lint_severity severity; /* default severity */
	const char *summary;	   /* one line, for --list-rules */
	const char *docs; /* "docs/lint.md#index-without-concurrently" */
} cf_lint_rule;

/* The rule table (static); *n is set to its length. */
const cf_lint_rule *cf_lint_rules(size_t *n);

/*
 * What a database said about one statement just before it ran (preflight's
 * replay), for the rules that need it (replace-with-dependents).  Borrowed.
 */
typedef struct cf_lint_fact {
	const char *file; /* the statement's file, as given to the lint */
	int line;	  /* and its first line */
	/* the dependents of the object it replaces; NULL when the object did
	 * not exist yet */
	const cf_statement_dependents *replaced;
	/* CREATE OR REPLACE FUNCTION: the new source differs from the
	 * replaced one's (or is a SQL-standard body) */
	bool body_changed;
	/* CREATE OR REPLACE FUNCTION under a new argument list: the one
	 * function of that name it leaves in place, with its dependents */
	const cf_statement_dependents *overloaded;
} cf_lint_fact;

typedef struct cf_lint_options {
	int pg_major; /* target's PostgreSQL major; 0: the parser's (assumed) */
	const char *const *select;   /* NULL-terminated rule ids; NULL: all */
	const char *const *ignore;   /* NULL-terminated rule ids; NULL: none */
	const cf_lint_grade *grades; /* re-gradings (lint.rules); may be NULL */
	size_t n_grades;
	/* with facts_known, rules that need a database read facts (one per
	 * statement that replaced something; may be none) instead of
	 * inferring from the files' history */
	bool facts_known;
	const cf_lint_fact *facts;
	size_t n_facts;
	/* files read before the linted ones, for what they define and refer
	 * to only (the applied migrations before the pending ones): no
	 * finding, no count; NULL-terminated, may be NULL */
	const char *const *context;
	/* called with each statement lint parsed (node: its PgQuery__Node *,
	 * only read during the call), so that another analysis reads the
	 * same parse instead of its own; may be NULL */
	void (*on_tree)(void *arg, cf_script *script, size_t i,
			const void *node);
	void *on_tree_arg;
} cf_lint_options;

typedef struct cf_lint_finding {
	const char *rule; /* static (the table's id) */
	cf_lint_severity severity;
	char *file;
	int line, column; /* 1-based */
	char *message;
	char *excerpt;	    /* the source line at line (no newline), a long one
			* cut around column (cf_text_excerpt()) */
	int excerpt_column; /* as cf_error's */
	const char *suggestion; /* one line; static */
	const char *docs;	/* static */
} cf_lint_finding;

/* A statement (or file) the parser could not read: never linted. */
typedef struct cf_lint_unread {
	char *file;
	int line, column; /* 0 when the whole file could not be read */
	char *reason;
} cf_lint_unread;

typedef struct cf_lint_result {
	cf_lint_finding *findings; /* by file, then position */
	size_t n_findings;
	cf_lint_unread *not_linted;
	size_t n_not_linted;
	int pg_major;	 /* the major the rules used */
	bool pg_assumed; /* no target given: the parser's major */
	size_t errors, warnings;
	size_t files, statements;
} cf_lint_result;

/*
 * Lints files (read and parsed here) for opts->pg_major.  A file that
 * cannot be read fails the call (*err, CF_ERR_IO); an unknown rule id in
 * select or ignore fails it with CF_ERR_USAGE.  Statements the parser
 * rejects and files that are not valid UTF-8 are listed in not_linted.
 * *out is the caller's; free with cf_lint_result_free().
 */
int cf_lint_files(const char *const *paths, size_t n,
		  const cf_lint_options *opts, cf_lint_result **out,
		  cf_error **err);

/*
 * cf_lint_files() on scripts already read and parsed (cf_script_parse*(),
 * a migration set's), so that nothing is read or split twice.  Each
 * statement a rule reads is parsed once, and the statement model comes
 * from the same tree: with keep_models the models lint builds stay in the
 * scripts (for a replay's failure analysis), else they are freed file by
 * file.  *out as for cf_lint_files().
 */
int cf_lint_scripts(cf_script *const *scripts, size_t n, bool keep_models,
		    const cf_lint_options *opts, cf_lint_result **out,
		    cf_error **err);

/* cf_lint_files() on one text in memory, named path in findings. */
int cf_lint_text(const char *path, const char *text, size_t len,
		 const cf_lint_options *opts, cf_lint_result **out,
		 cf_error **err);

void cf_lint_result_free(cf_lint_result *r);

/*
 * The PostgreSQL major the session targets: the connected server's (after
 * cf_session_status() for example), else --postgres-version, else the
 * environment's postgres_version; 0 when unknown (session.c).
 */
int cf_session_target_major(const cf_session *s);

#ifdef __cplusplus
}
#endif

#endif /* CONFITURE_H */
