/*
 * model.h — the one statement model: what a statement is and which objects
 * it creates, alters, renames, drops or uses, read once from libpg_query's
 * protobuf parse tree (or from scanner tokens when the parser rejects the
 * statement).  Analysis and the script classifier share it.  Not installed.
 */
#ifndef CF_MODEL_H
#define CF_MODEL_H

#include "base/base.h"

/* What kind of object a name denotes (its name space). */
typedef enum cf_obj_kind {
	CF_OBJ_NAME = 0,   /* kind unknown (scanner tokens, odd messages) */
	CF_OBJ_SCHEMA,	   /* schema */
	CF_OBJ_RELATION,   /* table, view, sequence, materialized view */
	CF_OBJ_INDEX,	   /* index (a relation too) */
	CF_OBJ_COLUMN,	   /* parent = its table */
	CF_OBJ_CONSTRAINT, /* parent = its table */
	CF_OBJ_FUNCTION,   /* function, procedure, aggregate; args optional */
	CF_OBJ_TYPE,	   /* type, domain, enum, range, composite */
	CF_OBJ_ENUM_VALUE, /* parent = its enum type */
	CF_OBJ_OTHER,	   /* trigger, policy, role, extension, ... */
} cf_obj_kind;

/* What the statement does to the object. */
typedef enum cf_obj_action {
	CF_ACT_USE = 0, /* reads or depends on it */
	CF_ACT_PROVIDE, /* creates it, renames or moves something to it */
	CF_ACT_ALTER,	/* changes it in place (column type, default, ...) */
	CF_ACT_REMOVE,	/* drops it, renames or moves it away */
} cf_obj_action;

/* One qualified object identity; strings owned by the model. */
typedef struct cf_obj {
	cf_obj_kind kind;
	cf_obj_action action;
	char *schema; /* NULL when not qualified */
	char *parent; /* table of a column/constraint/index/trigger, enum
		       * type of a value; NULL when unknown */
	char *name;
	char *args;	 /* functions: "numeric, integer"; NULL: not given */
	bool enum_added; /* ALTER TYPE ... ADD VALUE */
	bool replace;	 /* CREATE OR REPLACE VIEW / FUNCTION */
	bool retyped;	 /* ALTER COLUMN ... TYPE */
} cf_obj;

/* A statement's model. */
typedef struct cf_stmt_model {
	const char *kind; /* parse-node name ("CreateStmt"); static */
	bool from_tokens; /* the parser rejected it: names from tokens */
	cf_obj *objs;
	size_t n, alloc;
	/* classification */
	bool transaction_control;
	int tx_kind; /* PgQuery__TransactionStmtKind, 0 when none */
	bool tx_chain;
	const char *non_transactional; /* static, or NULL */
} cf_stmt_model;

/* model.c */

/*
 * Builds the model of one parsed statement; node is a PgQuery__Node * (kept
 * as void * so that users of this header need no protobuf headers).  The
 * result is the caller's; free with cf_stmt_model_free().
 */
cf_stmt_model *cf_stmt_model_from_node(const void *node);

/*
 * Calls fn with the name of each function an expression's tree (a
 * PgQuery__Node *) calls, in the order, and with the names, that the
 * function uses of cf_stmt_model_from_node(node) would list (pg_catalog's
 * left out), without building the model: lint's history records what
 * every default, CHECK and generated column calls.
 */
void cf_node_function_uses(const void *node,
			   void (*fn)(void *arg, const char *name), void *arg);

/*
 * Whether PostgreSQL's scanner reads sql[0..len) in time linear in its
 * length: false when the text holds a run of more than CF_SQL_MAX_OP_RUN
 * operator characters (+-*\/<>=~!@#%^&|`?), which the scanner reads again
 * for each operator or comment start it holds (a run of 20,000 took 5 s,
 * one of 200,000 minutes).  *at (may be NULL) is then the run's offset.
 * No such text is given to libpg_query: its statements are left to the
 * server, which judges them when they run.
 */
#define CF_SQL_MAX_OP_RUN 1000
bool cf_sql_scannable(const char *sql, size_t len, size_t *at);
/* Whether c is one of PostgreSQL's operator characters. */
bool cf_sql_op_char(char c);

/*
 * cf_sql_scannable(), and whether the parser's tree of the statement
 * sql[0..len) stays shallow enough for libpg_query to write it out: false
 * when it holds more than CF_SQL_MAX_OPERATORS operators outside literals
 * and comments (a chain of left-associative ones, 1 - 1 - ... - 1, grows
 * a tree as deep as it is long, which libpg_query's writers recurse
 * through: 100,000 overflowed the stack).  *at as for cf_sql_scannable()
 * (the statement's start for too many operators).
 */
#define CF_SQL_MAX_OPERATORS 20000
bool cf_sql_parsable(const char *sql, size_t len, size_t *at);

/*
 * Builds a model from the scanner tokens of a statement the parser
 * rejected: CREATE <kind> <name> gives a provided object, every other
 * identifier a use of a name of unknown kind; an empty model for a text
 * the scanner would read quadratically (cf_sql_scannable()).  Caller frees.
 */
cf_stmt_model *cf_stmt_model_from_tokens(const char *sql, size_t len);

/* Frees what an object / a model owns (not the struct itself). */
void cf_obj_release(cf_obj *o);
void cf_stmt_model_release(cf_stmt_model *m);
void cf_stmt_model_free(cf_stmt_model *m);

/* Adds a copy of an object (strings may be NULL) to a model. */
void cf_stmt_model_add(cf_stmt_model *m, cf_obj_kind kind, cf_obj_action act,
		       const char *schema, const char *parent, const char *name,
		       const char *args);

/* script.c */

typedef struct cf_script_trees cf_script_trees;

/*
 * cf_script_parse_target() that also keeps the parse trees of the
 * statements when the whole text parses and is at most 64 kB (*trees,
 * NULL otherwise: statements are then parsed one by one when asked; free
 * with cf_script_trees_free() before the script): one run of the grammar
 * gives both the statements and their trees, where the split and a parse
 * per statement run it twice.  The script is the same as
 * cf_script_parse_target() gives.
 */
int cf_script_parse_trees(const char *path, const char *text, size_t len,
			  int target_major, cf_script **out,
			  cf_error_list *problems, cf_script_trees **trees);
void cf_script_trees_free(cf_script_trees *t);

/*
 * A text longer than this is split by the parser a chunk of about this
 * many bytes at a time (the split builds the tree of all it splits), with
 * the statements it gives for the whole text.  64 kB; the tests set it to
 * 1 (every statement a chunk) to prove the two splits the same.  Not to
 * be changed while another thread parses.
 */
extern size_t cf_split_chunk;

/* migration.c */

/*
 * Work joined to the reading of each migration (a static preflight lints
 * each pending file in the pass that reads and parses it).  prepare runs
 * on the thread that read migration m, right after its up file was parsed
 * (only when it was: m->up set), with that file's trees
 * (cf_script_parse_trees(); may be NULL), and may touch only m; consume
 * runs on the calling thread in migration order; release on the preparing
 * thread.  The trees are freed after release.  At most window migrations
 * are read ahead of the one consumed (cf_parallel_ordered()).
 */
typedef struct cf_parse_hooks {
	void *(*prepare)(void *arg, cf_migration *m,
			 const cf_script_trees *trees);
	void (*consume)(void *arg, cf_migration *m, void *prepared);
	void (*release)(void *arg, cf_migration *m, void *prepared);
	void *arg;
	size_t window;
} cf_parse_hooks;

/* cf_migration_parse_each() with hooks (NULL: none). */
void cf_migration_parse_each_hooked(cf_migration_set *set,
				    cf_migration *const *ms, size_t n, bool up,
				    bool down, int target_major,
				    const cf_parse_hooks *hooks);

/*
 * Parses statement i of script alone, once, for whoever needs its tree (the
 * lint rules), or takes it from trees (cf_script_parse_trees(); may be
 * NULL), which must outlive the result: returns the tree (free with cf_stmt_tree_free()), or NULL
 * when the parser rejects the statement, with *msg saying why (caller
 * frees; NULL on success).  *text is the statement's text the tree's
 * locations refer to (caller frees).  The statement's model is built from
 * the same tree when it has none.
 */
typedef struct cf_stmt_tree cf_stmt_tree;
cf_stmt_tree *cf_script_stmt_tree(cf_script *script,
				  const cf_script_trees *trees, size_t i,
				  char **text, char **msg);
/* The tree's PgQuery__ParseResult * (void * here: no protobuf headers);
 * borrowed from the tree. */
const void *cf_stmt_tree_result(const cf_stmt_tree *t);

/*
 * Walking a libpg_query protobuf tree (messages are ProtobufCMessage *;
 * void * here: no protobuf headers).  cf_pb_node_member() returns the
 * message a PgQuery__Node stands for (its one member set), or NULL when
 * msg is not a Node or none is set.  cf_pb_each_child() calls fn on each
 * message directly under msg, in field order (each element of a repeated
 * field; a oneof member only when set; a Node's member is not a child:
 * use cf_pb_node_member()), until fn returns true; returns whether it
 * did.  Everything is borrowed from the tree.
 */
const void *cf_pb_node_member(const void *msg);
/* A protobuf string field, NULL when empty (the tree has "" for unset). */
const char *cf_pb_str(const char *s);
/* The value of a String node (a PgQuery__Node *), NULL when node is not
 * one or the value is empty. */
const char *cf_pb_sval(const void *node);
bool cf_pb_each_child(const void *msg, bool (*fn)(const void *child, void *arg),
		      void *arg);
void cf_stmt_tree_free(cf_stmt_tree *t);

/*
 * The first max words of statement i, lowercased, into words (an empty
 * word for a token that is not a plain keyword or name: a quoted name, a
 * symbol, a long word); returns how many tokens were read.  No parse.
 */
size_t cf_statement_words(const cf_script *script, size_t i, char words[][32],
			  size_t max);

/*
 * Whether the statement text sql[0..len) may write an array bound of zero:
 * some '[' token followed (after blanks and comments) by an integer whose
 * digits are zeros ("[0]", "[ 00 ]"); a '[' in a literal, a quoted name or
 * a comment does not count.  The JSON tree reader needs it (tree_json.h).
 */
bool cf_sql_zero_bound(const char *sql, size_t len);

/* A function argument type as PostgreSQL prints it ("int4" -> "integer");
 * static or the argument itself. */
const char *cf_model_type_display(const char *name);

#endif /* CF_MODEL_H */
