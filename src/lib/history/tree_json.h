/*
 * tree_json.h — libpg_query's JSON parse tree read into its protobuf-c
 * structs (tree_json.c).  Internal to history/; not installed.
 */
#ifndef CF_TREE_JSON_H
#define CF_TREE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <pg_query/pg_query.pb-c.h>

/*
 * Reads json, pg_query_parse()'s output for the NUL-terminated sql, into
 * the tree pg_query__parse_result__unpack() would give for the same
 * statement's protobuf output.  Every node is allocated with alloc, and
 * nothing else: the caller releases the tree by releasing what alloc
 * handed out (free_unpacked() would also do, with the same allocator).
 * zero_bound: whether sql may write an array bound of zero
 * (cf_sql_zero_bound(), history/model.h); when false an empty bound is
 * read as -1.  NULL when the JSON holds anything the reader does not map
 * exactly: the caller then parses to protobuf instead.
 */
PgQuery__ParseResult *cf_tree_from_json(const char *json, const char *sql,
					bool zero_bound,
					ProtobufCAllocator *alloc);

/*
 * Whether json nests objects and arrays more than max deep.  The parser
 * lets a chain of left-associative operators (1 - 1 - ... - 1) grow a tree
 * as deep as the text is long, which no recursive reader may take:
 * protobuf-c's unpack overflowed the stack at 20,000.
 */
bool cf_json_deeper_than(const char *json, int max);

/* The deepest tree (in JSON objects and arrays) any reader is given. */
#define CF_TREE_MAX_JSON_DEPTH 2000

/*
 * Where a tree's locations are (cf_tree_from_json_at()): at[] the address
 * of every location and stmt_location read, in reading order; those of
 * top-level statement k are at[starts[k] .. starts[k + 1]).  Zeroed by the
 * caller, released with cf_json_locations_release().
 */
typedef struct cf_json_locations {
	int32_t **at;
	size_t n, cap;
	size_t *starts, cap_starts;
} cf_json_locations;

/*
 * cf_tree_from_json() of a whole text that also lists where its locations
 * are (locs may be NULL), so that a caller can make each statement's
 * locations relative to the statement's own text.
 */
PgQuery__ParseResult *cf_tree_from_json_at(const char *json, const char *sql,
					   bool zero_bound,
					   ProtobufCAllocator *alloc,
					   cf_json_locations *locs);
void cf_json_locations_release(cf_json_locations *l);

#endif /* CF_TREE_JSON_H */
