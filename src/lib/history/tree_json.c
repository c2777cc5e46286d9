/*
 * tree_json.c — reads libpg_query's JSON parse tree (pg_query_parse) into
 * the protobuf-c structs that unpacking pg_query_parse_protobuf's output
 * gives, field by field as the protobuf descriptors say.
 *
 * Why: libpg_query packs its protobuf output by walking every one of the
 * ~250 members of each Node's oneof, twice (sizes, then bytes), and the
 * unpack walks it again: 0.73 G of the 1.33 G instructions of a static
 * preflight with lint.  Writing the same tree as JSON and reading it here
 * costs about a quarter of that.
 *
 * JSON keys are PostgreSQL's field names ("targetList"), the descriptors
 * hold the .proto names ("target_list"): both are compared lowercased and
 * without underscores.  A Node is written {"CreateStmt": {...}}: its key is
 * the node's type, which names the Node member of that type the same way.
 *
 * The JSON writer drops negative Integer values ({"Integer": {}} for -1),
 * which protobuf keeps.  An empty Integer is read back only where the text
 * says which it is: a constant's (A_Const) text at its location ("0", "-1",
 * "- 5"), and an array bound, -1 for "[]" or ARRAY unless some '[' in the
 * statement may open a bound of zero.  Any other empty Integer (SET STATISTICS -1,
 * an aggregate's arguments...) is refused.  Whatever the decoder does not know (a key no field has, a type
 * it does not read, a malformed document, too deep a nesting) makes it
 * return NULL, and the caller unpacks the protobuf output instead: an
 * unexpected JSON shape costs time, never a different tree.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query/pg_query.pb-c.h>

#include "base/base.h"
#include "history/tree_json.h"

/* ------------------------------------------------------------------------
 * Field lookup: (message descriptor, normalised name) -> field, built once
 * ------------------------------------------------------------------------ */

/* Longest normalised field name kept; longer ones are never matched. */
#define NAME_MAX_LEN 47

typedef struct field_entry {
	const ProtobufCMessageDescriptor *desc;
	const ProtobufCFieldDescriptor *field;
	uint32_t hash;
	uint8_t len;
	char name[NAME_MAX_LEN + 1]; /* lowercased, no underscores */
} field_entry;

typedef struct field_table {
	field_entry *slots;
	size_t mask;
} field_table;

/*
 * norm: each field by its normalised name, which decides; spelled: by the
 * spellings JSON keys usually have (the .proto name, its camelCase, a Node
 * member's type name), a faster first try that can only agree with norm.
 */
static struct {
	field_table norm, spelled;
	bool ok; /* false: names collide, never decode */
	const ProtobufCFieldDescriptor *array_bounds; /* TypeName's */
} fields;

static pthread_once_t fields_once = PTHREAD_ONCE_INIT;

static inline char
fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/*
 * Lowercases s[0..len) without its underscores into out (NAME_MAX_LEN + 1
 * bytes); returns the length, or NAME_MAX_LEN + 1 when too long.
 */
static size_t
normalise(const char *s, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] != '_') {
			if (n == NAME_MAX_LEN)
				return NAME_MAX_LEN + 1;
			out[n++] = fold(s[i]);
		}
	return n;
}

static uint32_t
name_hash(const ProtobufCMessageDescriptor *desc, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)desc >> 4);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

static const ProtobufCFieldDescriptor *
table_find(const field_table *t, const ProtobufCMessageDescriptor *desc,
	   const char *name, size_t n)
{
	uint32_t h = name_hash(desc, name, n);

	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const field_entry *e = &t->slots[i];

		if (!e->desc)
			return NULL;
		if (e->hash == h && e->desc == desc && e->len == n &&
		    memcmp(e->name, name, n) == 0)
			return e->field;
	}
}

static const ProtobufCFieldDescriptor *
lookup(const ProtobufCMessageDescriptor *desc, const char *key, size_t len)
{
	char name[NAME_MAX_LEN + 1];
	const ProtobufCFieldDescriptor *f;
	size_t n;

	if (len <= NAME_MAX_LEN &&
	    (f = table_find(&fields.spelled, desc, key, len)) != NULL)
		return f;
	n = normalise(key, len, name);
	return n > NAME_MAX_LEN ? NULL :
				  table_find(&fields.norm, desc, name, n);
}

/* Adds name[0..n) -> f to t unless t has that name for desc already. */
static void
table_put(field_table *t, const ProtobufCMessageDescriptor *desc,
	  const ProtobufCFieldDescriptor *f, const char *name, size_t n)
{
	field_entry e = {desc, f, name_hash(desc, name, n), (uint8_t)n, {0}};

	if (n > NAME_MAX_LEN || table_find(t, desc, name, n))
		return;
	memcpy(e.name, name, n);
	for (size_t i = e.hash & t->mask;; i = (i + 1) & t->mask)
		if (!t->slots[i].desc) {
			t->slots[i] = e;
			return;
		}
}

static void
insert(const ProtobufCMessageDescriptor *desc,
       const ProtobufCFieldDescriptor *f)
{
	char name[NAME_MAX_LEN + 1], camel[NAME_MAX_LEN + 1];
	size_t len = strlen(f->name), n = normalise(f->name, len, name), c = 0;

	if (n > NAME_MAX_LEN || table_find(&fields.norm, desc, name, n)) {
		fields.ok = false; /* too long, or two fields read as one */
		return;
	}
	table_put(&fields.norm, desc, f, name, n);
	table_put(&fields.spelled, desc, f, f->name, len);
	for (size_t i = 0; i < len && c < sizeof(camel); i++)
		if (f->name[i] != '_')
			camel[c++] = (i > 0 && f->name[i - 1] == '_' &&
				      f->name[i] >= 'a' && f->name[i] <= 'z') ?
					     (char)(f->name[i] - 'a' + 'A') :
					     f->name[i];
	table_put(&fields.spelled, desc, f, camel, c);
	if (desc == &pg_query__node__descriptor &&
	    f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const char *type =
			((const ProtobufCMessageDescriptor *)f->descriptor)
				->short_name;

		table_put(&fields.spelled, desc, f, type, strlen(type));
	}
}

static void
table_init(field_table *t, size_t entries)
{
	size_t cap = 1;

	while (cap < entries * 2)
		cap <<= 1;
	t->slots = cf_calloc(cap, sizeof(field_entry));
	t->mask = cap - 1;
}

/* Every message type reachable from ParseResult, each once. */
static void
collect(const ProtobufCMessageDescriptor *d,
	const ProtobufCMessageDescriptor ***seen, size_t *n, size_t *alloc)
{
	for (size_t i = 0; i < *n; i++)
		if ((*seen)[i] == d)
			return;
	CF_GROW(*seen, *alloc, *n + 1);
	(*seen)[(*n)++] = d;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			collect(d->fields[i].descriptor, seen, n, alloc);
}

static void
build_fields(void)
{
	const ProtobufCMessageDescriptor **seen = NULL;
	size_t n = 0, alloc = 0, total = 0;

	collect(&pg_query__parse_result__descriptor, &seen, &n, &alloc);
	for (size_t i = 0; i < n; i++)
		total += seen[i]->n_fields;
	table_init(&fields.norm, total);
	table_init(&fields.spelled, total * 3);
	fields.ok = true;
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < seen[i]->n_fields; k++)
			insert(seen[i], &seen[i]->fields[k]);
	free(seen);
	fields.array_bounds = protobuf_c_message_descriptor_get_field_by_name(
		&pg_query__type_name__descriptor, "array_bounds");
	if (!fields.array_bounds)
		fields.ok = false;
}

/* ------------------------------------------------------------------------
 * The decoder
 * ------------------------------------------------------------------------ */

/* Deeper than any tree the parser's own stack check lets through. */
#define MAX_DEPTH 1000

typedef struct reader {
	const char *p, *end;
	ProtobufCAllocator *alloc;
	const char *sql; /* the parsed text: locations are byte offsets */
	size_t sql_len;
	int depth;
	int in_bounds;		/* inside TypeName.arrayBounds */
	bool zero_bound;	/* the text may write a bound of 0 */
	size_t unresolved;	/* empty Integers not read back */
	const void *last_empty; /* the last empty Integer */
} reader;

static bool
eat(reader *r, char c)
{
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return true;
	}
	return false;
}

/* A key or enum name: the raw bytes between quotes, no escapes. */
static bool
raw_string(reader *r, const char **s, size_t *len)
{
	const char *q;

	if (!eat(r, '"'))
		return false;
	q = memchr(r->p, '"', (size_t)(r->end - r->p));
	if (!q || memchr(r->p, '\\', (size_t)(q - r->p)))
		return false;
	*s = r->p;
	*len = (size_t)(q - r->p);
	r->p = q + 1;
	return true;
}

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = fold(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* A string value, unescaped into the arena. */
static bool
string_value(reader *r, char **out)
{
	const char *s = r->p, *q;
	char *d;

	if (!eat(r, '"'))
		return false;
	s = r->p;
	/* the end: the first quote not escaped */
	for (q = s; q < r->end && *q != '"'; q++)
		if (*q == '\\' && ++q == r->end)
			return false;
	if (q == r->end)
		return false;
	d = *out = r->alloc->alloc(r->alloc->allocator_data,
				   (size_t)(q - s) + 1);
	while (s < q) {
		unsigned cp;

		if (*s != '\\') {
			*d++ = *s++;
			continue;
		}
		s++;
		switch (*s++) {
		case '"':
			*d++ = '"';
			break;
		case '\\':
			*d++ = '\\';
			break;
		case '/':
			*d++ = '/';
			break;
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			if (q - s < 4)
				return false;
			cp = 0;
			for (int k = 0; k < 4; k++) {
				int v = hex(*s++);

				if (v < 0)
					return false;
				cp = cp << 4 | (unsigned)v;
			}
			/* the writer escapes control characters only */
			if (cp == 0 || cp >= 0x80)
				return false;
			*d++ = (char)cp;
			break;
		default:
			return false;
		}
	}
	*d = '\0';
	r->p = q + 1;
	return true;
}

static bool
int_value(reader *r, int64_t *v, bool *neg)
{
	uint64_t u = 0;
	const char *start;

	*neg = eat(r, '-');
	start = r->p;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		if (u > (UINT64_MAX - 9) / 10)
			return false;
		u = u * 10 + (uint64_t)(*r->p++ - '0');
	}
	if (r->p == start || u > (uint64_t)INT64_MAX)
		return false;
	*v = *neg ? -(int64_t)u : (int64_t)u;
	return true;
}

static bool object(reader *r, const ProtobufCMessageDescriptor *desc,
		   void *msg);

static void *
new_message(reader *r, const ProtobufCMessageDescriptor *desc)
{
	/* message_init() writes every member: no memset */
	void *m = r->alloc->alloc(r->alloc->allocator_data,
				  desc->sizeof_message);

	desc->message_init(m);
	return m;
}

/* A message value: the object, a new message of the field's type. */
static bool
message_value(reader *r, const ProtobufCMessageDescriptor *desc, void **out)
{
	void *m = new_message(r, desc);

	if (!object(r, desc, m))
		return false;
	*out = m;
	return true;
}

/* An array of messages: protobuf-c's n_ count and pointer array. */
static bool
repeated_value(reader *r, const ProtobufCFieldDescriptor *f, char *msg)
{
	void **items = NULL;
	size_t n = 0, cap = 0;

	if (!eat(r, '['))
		return false;
	if (!eat(r, ']')) {
		do {
			void *m;

			if (!message_value(r, f->descriptor, &m))
				return false;
			if (n == cap) {
				void **grown;

				cap = cap ? cap * 2 : 4;
				grown = r->alloc->alloc(
					r->alloc->allocator_data,
					cap * sizeof(void *));
				if (n)
					memcpy(grown, items,
					       n * sizeof(void *));
				items = grown;
			}
			items[n++] = m;
		} while (eat(r, ','));
		if (!eat(r, ']'))
			return false;
	}
	*(size_t *)(msg + f->quantifier_offset) = n;
	*(void ***)(msg + f->offset) = items;
	return true;
}

/* Repeated messages; the array bounds of a type are marked as such. */
static bool
repeated_field(reader *r, const ProtobufCFieldDescriptor *f, char *msg)
{
	bool ok;

	if (f != fields.array_bounds)
		return repeated_value(r, f, msg);
	r->in_bounds++;
	ok = repeated_value(r, f, msg);
	r->in_bounds--;
	return ok;
}

static bool
is_sql_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/*
 * The value of an integer constant the JSON left empty (0 or negative),
 * from its text: "0", or '-', blanks, digits.  False when the text is
 * anything else.
 */
static bool
constant_from_text(const reader *r, int32_t loc, int32_t *out)
{
	const char *p, *end = r->sql + r->sql_len;
	int64_t v = 0;
	bool neg;

	if (loc < 0 || (size_t)loc >= r->sql_len)
		return false;
	p = r->sql + loc;
	neg = *p == '-';
	if (neg)
		for (p++; p < end && is_sql_space(*p); p++)
			;
	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > (int64_t)INT32_MAX + 1)
			return false;
	}
	if (p < end && (*p == '.' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
			(*p >= 'A' && *p <= 'Z') || (unsigned char)*p >= 0x80))
		return false;
	if (!neg && v != 0)
		return false; /* the JSON would have had it */
	*out = (int32_t)-v;
	return true;
}

/*
 * Whether the text may write an array bound of zero: some '[' followed,
 * after blanks, by anything but ']' or a digit 1-9: "[0]", "[ 00 ]", but
 * also a comment before the 0, or a '[' in a literal, which only cost a
 * decline.
 */
static bool
has_zero_bound(const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;

	while ((p = memchr(p, '[', (size_t)(end - p))) != NULL) {
		const char *q = ++p;

		while (q < end && is_sql_space(*q))
			q++;
		if (q < end && *q != ']' && !(*q >= '1' && *q <= '9'))
			return true;
	}
	return false;
}

static bool
field_value(reader *r, const ProtobufCFieldDescriptor *f, char *msg)
{
	void *at = msg + f->offset;
	int64_t v;
	bool neg;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return f->type == PROTOBUF_C_TYPE_MESSAGE &&
		       repeated_field(r, f, msg);
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		if (!message_value(r, f->descriptor, at))
			return false;
		break;
	case PROTOBUF_C_TYPE_STRING:
		if (!string_value(r, at))
			return false;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const char *s;
		size_t len;
		char name[128];
		const ProtobufCEnumValue *ev;

		if (!raw_string(r, &s, &len) || len >= sizeof(name))
			return false;
		memcpy(name, s, len);
		name[len] = '\0';
		ev = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
								  name);
		if (!ev)
			return false;
		*(int *)at = ev->value;
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (r->end - r->p >= 4 && !memcmp(r->p, "true", 4)) {
			r->p += 4;
			*(protobuf_c_boolean *)at = 1;
		} else if (r->end - r->p >= 5 && !memcmp(r->p, "false", 5)) {
			r->p += 5;
			*(protobuf_c_boolean *)at = 0;
		} else
			return false;
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!int_value(r, &v, &neg) || v < INT32_MIN || v > INT32_MAX)
			return false;
		*(int32_t *)at = (int32_t)v;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!int_value(r, &v, &neg) || neg || v > UINT32_MAX)
			return false;
		*(uint32_t *)at = (uint32_t)v;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!int_value(r, &v, &neg))
			return false;
		*(int64_t *)at = v;
		break;
	default: /* floats, bytes, unsigned 64-bit: not in a raw parse tree */
		return false;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)(msg + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		 f->type != PROTOBUF_C_TYPE_MESSAGE &&
		 f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)(msg + f->quantifier_offset) = 1;
	return true;
}

/* {"key": value, ...} into msg, a message of type desc. */
static bool
object(reader *r, const ProtobufCMessageDescriptor *desc, void *msg)
{
	if (++r->depth > MAX_DEPTH || !eat(r, '{'))
		return false;
	if (!eat(r, '}')) {
		do {
			const char *key;
			size_t len;
			const ProtobufCFieldDescriptor *f;

			if (!raw_string(r, &key, &len) || !eat(r, ':'))
				return false;
			f = lookup(desc, key, len);
			if (!f || !field_value(r, f, msg))
				return false;
		} while (eat(r, ','));
		if (!eat(r, '}'))
			return false;
	}
	/* {"Integer": {}}: 0, or a negative value the writer dropped */
	if (desc == &pg_query__integer__descriptor &&
	    ((PgQuery__Integer *)msg)->ival == 0) {
		if (r->in_bounds && !r->zero_bound) {
			((PgQuery__Integer *)msg)->ival = -1;
		} else {
			r->unresolved++;
			r->last_empty = msg;
		}
	}
	if (desc == &pg_query__a__const__descriptor) {
		PgQuery__AConst *c = msg;

		if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL &&
		    c->ival == r->last_empty &&
		    constant_from_text(r, c->location, &c->ival->ival)) {
			r->unresolved--;
			r->last_empty = NULL;
		}
	}
	r->depth--;
	return true;
}

PgQuery__ParseResult *
cf_tree_from_json(const char *json, const char *sql, ProtobufCAllocator *alloc)
{
	reader r = {.p = json,
		    .end = json + strlen(json),
		    .alloc = alloc,
		    .sql = sql,
		    .sql_len = strlen(sql)};
	PgQuery__ParseResult *pr;

	pthread_once(&fields_once, build_fields);
	if (!fields.ok)
		return NULL;
	r.zero_bound = has_zero_bound(sql, r.sql_len);
	pr = new_message(&r, &pg_query__parse_result__descriptor);
	if (!object(&r, &pg_query__parse_result__descriptor, pr) ||
	    r.p != r.end || r.unresolved)
		return NULL;
	return pr;
}
