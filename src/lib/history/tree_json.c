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
 * "- 5"), and an array bound, -1 for "[]" or ARRAY unless some '[' of the
 * statement's tokens (not in a literal, a quoted name or a comment) is
 * followed by an integer of zeros.  Any other empty Integer (SET STATISTICS
 * -1, an aggregate's arguments...) is refused.  Whatever the decoder does
 * not know (a key no field has, a type it does not read, a malformed
 * document, too deep a nesting) makes it return NULL, and the caller
 * unpacks the protobuf output instead: an unexpected JSON shape costs time,
 * never a different tree.
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

/* Longest name kept; longer ones are never matched. */
#define NAME_MAX_LEN 47
#define NAME_WORDS ((NAME_MAX_LEN + 8) / 8)

/*
 * A name as the tables compare it: its bytes zero-padded to whole 64-bit
 * words (little-endian), so that a key is compared and hashed a word at a
 * time, as the reader finds its end.
 */
typedef struct name_key {
	size_t len;
	uint32_t hash;
	uint64_t w[NAME_WORDS]; /* only when len <= NAME_MAX_LEN */
} name_key;

/*
 * A name of a field (owner a message descriptor, item its field
 * descriptor) or of an enum value (owner the enum descriptor, item the
 * ProtobufCEnumValue).
 */
typedef struct field_entry {
	const void *owner;
	const void *item;
	name_key key;
} field_entry;

/*
 * Entries are stored densely, in insertion order; the open-addressing
 * index holds, per slot, the top 16 bits of the entry's hash and its
 * position + 1 (0: empty).  A dense table of 4-byte slots keeps the
 * lookups of a run in a few hundred kilobytes: with 80-byte entries in the
 * slots themselves the three tables took 2 MB, most of it empty, whose
 * first touches were a quarter of a static preflight's page faults.
 */
typedef struct field_table {
	field_entry *entries;
	size_t n, room; /* room <= 0xFFFF: positions fit a slot */
	uint32_t *slots;
	size_t mask;
} field_table;

/*
 * norm: each field by its normalised name, which decides; spelled: by the
 * spellings JSON keys usually have (the .proto name, its camelCase, a Node
 * member's type name), a faster first try that can only agree with norm;
 * enums: each value of an enum by its name.
 */
static struct {
	field_table norm, spelled, enums;
	bool ok; /* false: names collide or are too long, never decode */
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

/* 8 bytes at p as a little-endian number, on any host. */
static inline uint64_t
load_le64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

#define ONES 0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* The high bit of each byte of w that equals byte b (exact up to the
 * first such byte, which is all that is used). */
static inline uint64_t
bytes_equal(uint64_t w, unsigned char b)
{
	uint64_t x = w ^ (ONES * b);

	return (x - ONES) & ~x & HIGHS;
}

static inline uint64_t
hash_word(uint64_t h, uint64_t w)
{
	return (h ^ w) * 0x9E3779B97F4A7C15u;
}

static inline uint32_t
hash_end(uint64_t h)
{
	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* The key of name[0..len), len <= NAME_MAX_LEN. */
static void
make_key(const char *name, size_t len, name_key *k)
{
	char pad[NAME_WORDS * 8] = {0};
	uint64_t h = 0;

	memcpy(pad, name, len);
	k->len = len;
	for (size_t i = 0; i < NAME_WORDS; i++) {
		k->w[i] = load_le64(pad + 8 * i);
		if (8 * i < len)
			h = hash_word(h, k->w[i]);
	}
	k->hash = hash_end(h);
}

/* A name's hash combined with its owner's. */
static inline uint32_t
slot_hash(const void *owner, uint32_t h)
{
	h ^= (uint32_t)((uintptr_t)owner >> 4);
	return h ^ (h >> 16);
}

/* The item of owner named k (len <= NAME_MAX_LEN), or NULL. */
static inline const void *
table_find(const field_table *t, const void *owner, const name_key *k)
{
	uint32_t h = slot_hash(owner, k->hash);

	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t slot = t->slots[i];
		const field_entry *e;
		size_t w = 0;

		if (!slot)
			return NULL;
		if (slot >> 16 != h >> 16)
			continue;
		e = &t->entries[(slot & 0xFFFF) - 1];
		if (e->key.hash != h || e->owner != owner ||
		    e->key.len != k->len)
			continue;
		while (8 * w < k->len && e->key.w[w] == k->w[w])
			w++;
		if (8 * w >= k->len)
			return e->item;
	}
}

/* The field of desc a JSON key names; k->len may exceed NAME_MAX_LEN. */
static const ProtobufCFieldDescriptor *
lookup(const ProtobufCMessageDescriptor *desc, const char *key,
       const name_key *k)
{
	char name[NAME_MAX_LEN + 1];
	const ProtobufCFieldDescriptor *f;
	name_key nk;
	size_t n;

	if (k->len <= NAME_MAX_LEN &&
	    (f = table_find(&fields.spelled, desc, k)) != NULL)
		return f;
	n = normalise(key, k->len, name);
	if (n > NAME_MAX_LEN)
		return NULL;
	make_key(name, n, &nk);
	return table_find(&fields.norm, desc, &nk);
}

/* Adds name[0..n) -> item to t unless t has that name for owner already. */
static void
table_put(field_table *t, const void *owner, const void *item, const char *name,
	  size_t n)
{
	field_entry e = {owner, item, {0}};

	if (n > NAME_MAX_LEN)
		return;
	make_key(name, n, &e.key);
	if (table_find(t, owner, &e.key))
		return;
	if (t->n == t->room) {
		fields.ok = false; /* more names than counted: never decode */
		return;
	}
	e.key.hash = slot_hash(owner, e.key.hash);
	t->entries[t->n++] = e;
	for (size_t i = e.key.hash & t->mask;; i = (i + 1) & t->mask)
		if (!t->slots[i]) {
			t->slots[i] = (e.key.hash >> 16 << 16) | (uint32_t)t->n;
			return;
		}
}

static void
insert(const ProtobufCMessageDescriptor *desc,
       const ProtobufCFieldDescriptor *f)
{
	char name[NAME_MAX_LEN + 1], camel[NAME_MAX_LEN + 1];
	size_t len = strlen(f->name), n = normalise(f->name, len, name), c = 0;

	name_key k;

	if (n <= NAME_MAX_LEN)
		make_key(name, n, &k);
	if (n > NAME_MAX_LEN || table_find(&fields.norm, desc, &k)) {
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
		const ProtobufCMessageDescriptor *m = f->descriptor;
		const char *type = strrchr(m->name, '.');

		/* "AConst" and, as the JSON writes it, "A_Const" */
		table_put(&fields.spelled, desc, f, m->short_name,
			  strlen(m->short_name));
		type = type ? type + 1 : m->name;
		table_put(&fields.spelled, desc, f, type, strlen(type));
	}
	if (f->type == PROTOBUF_C_TYPE_ENUM) {
		const ProtobufCEnumDescriptor *ed = f->descriptor;

		for (unsigned i = 0; i < ed->n_values; i++) {
			size_t vl = strlen(ed->values[i].name);

			if (vl > NAME_MAX_LEN)
				fields.ok = false; /* could not be read */
			table_put(&fields.enums, ed, &ed->values[i],
				  ed->values[i].name, vl);
		}
	}
}

static void
table_init(field_table *t, size_t entries)
{
	size_t cap = 1;

	while (cap < entries * 2)
		cap <<= 1;
	/* calloc's pages are touched only as far as entries are stored */
	t->room = entries < 0xFFFF ? entries : 0xFFFF;
	t->entries = cf_calloc(t->room, sizeof(field_entry));
	t->n = 0;
	t->slots = cf_calloc(cap, sizeof(uint32_t));
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
	size_t n = 0, alloc = 0, total = 0, values = 0;

	collect(&pg_query__parse_result__descriptor, &seen, &n, &alloc);
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < seen[i]->n_fields; k++) {
			const ProtobufCFieldDescriptor *f = &seen[i]->fields[k];

			total++;
			if (f->type == PROTOBUF_C_TYPE_ENUM)
				values += ((const ProtobufCEnumDescriptor *)
						   f->descriptor)
						  ->n_values;
		}
	table_init(&fields.norm, total);
	table_init(&fields.spelled, total * 3);
	table_init(&fields.enums, values);
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

/* Deeper than the parser's own stack check lets most trees through; a
 * chain of left-associative operators (1 - 1 - ... - 1) is not checked by
 * it, and is declined here (see cf_json_deeper_than()). */
#define MAX_DEPTH 1000

typedef struct reader {
	const char *p, *end;
	ProtobufCAllocator *alloc;
	const char *sql; /* the parsed text: locations are byte offsets */
	size_t sql_len;
	int depth;
	int in_bounds;		 /* inside TypeName.arrayBounds */
	bool zero_bound;	 /* the text may write a bound of 0 */
	size_t unresolved;	 /* empty Integers not read back */
	const void *last_empty;	 /* the last empty Integer */
	cf_json_locations *locs; /* NULL: locations not recorded */
} reader;

/* The JSON ends with a NUL, which no c is: no bounds check needed. */
static inline bool
eat(reader *r, char c)
{
	if (*r->p == c) {
		r->p++;
		return true;
	}
	return false;
}

/* The 8 bytes at q, zeros past end (where the JSON's NUL is). */
static inline uint64_t
word_at(const char *q, const char *end)
{
	char tail[8] = {0};

	if (end - q >= 8)
		return load_le64(q);
	memcpy(tail, q, (size_t)(end - q));
	return load_le64(tail);
}

/* The bytes of w that end a string's plain run: '"', '\\', NUL. */
static inline uint64_t
string_stops(uint64_t w)
{
	return bytes_equal(w, '"') | bytes_equal(w, '\\') |
	       bytes_equal(w, '\0');
}

/*
 * A key or enum name: the raw bytes between quotes (no escapes) at *s, and
 * their name_key, found a word at a time.
 */
static inline bool
raw_string(reader *r, const char **s, name_key *k)
{
	const char *q;
	uint64_t h = 0;
	size_t i = 0;

	if (!eat(r, '"'))
		return false;
	for (q = r->p;; q += 8, i++) {
		uint64_t w = word_at(q, r->end), stop = string_stops(w);

		if (stop) {
			size_t b = (size_t)__builtin_ctzll(stop) / 8;

			if (q[b] != '"')
				return false;
			/* the last word, zero-padded: words past it are
			 * never compared */
			if (b && i < NAME_WORDS) {
				w &= ~(uint64_t)0 >> (64 - 8 * b);
				k->w[i] = w;
				h = hash_word(h, w);
			}
			q += b;
			break;
		}
		if (i < NAME_WORDS) {
			k->w[i] = w;
			h = hash_word(h, w);
		}
	}
	*s = r->p;
	k->len = (size_t)(q - r->p);
	k->hash = hash_end(h);
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
	/* most strings have no escape: found a word at a time, copied whole */
	for (q = s;; q += 8) {
		uint64_t stop = string_stops(word_at(q, r->end));

		if (stop) {
			q += __builtin_ctzll(stop) / 8;
			break;
		}
	}
	if (*q == '"') {
		d = *out = r->alloc->alloc(r->alloc->allocator_data,
					   (size_t)(q - s) + 1);
		memcpy(d, s, (size_t)(q - s));
		d[q - s] = '\0';
		r->p = q + 1;
		return true;
	}
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

/* true for the fields that hold a byte offset in the parsed text */
static inline bool
is_location(const ProtobufCFieldDescriptor *f)
{
	return (f->name[0] == 'l' && strcmp(f->name, "location") == 0) ||
	       (f->name[0] == 's' && strcmp(f->name, "stmt_location") == 0);
}

static void
note_location(cf_json_locations *l, int32_t *at)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->at = cf_reallocarray(l->at, l->cap, sizeof(*l->at));
	}
	l->at[l->n++] = at;
}

/* Marks where the next top-level statement's locations start. */
static void
note_statement(cf_json_locations *l, size_t k)
{
	if (k + 2 > l->cap_starts) {
		l->cap_starts = k + 2 > 2 * l->cap_starts ? k + 2 + 16 :
							    2 * l->cap_starts;
		l->starts = cf_reallocarray(l->starts, l->cap_starts,
					    sizeof(*l->starts));
	}
	l->starts[k] = l->n;
	l->starts[k + 1] = l->n;
}

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

			if (r->locs && r->depth == 1)
				note_statement(r->locs, n);
			if (!message_value(r, f->descriptor, &m))
				return false;
			if (r->locs && r->depth == 1)
				r->locs->starts[n + 1] = r->locs->n;
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
		name_key k;
		const ProtobufCEnumValue *ev;

		/* every value's name is in the table */
		if (!raw_string(r, &s, &k) || k.len > NAME_MAX_LEN)
			return false;
		ev = table_find(&fields.enums, f->descriptor, &k);
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
		if (r->locs && is_location(f))
			note_location(r->locs, at);
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
			name_key k;
			const ProtobufCFieldDescriptor *f;

			if (!raw_string(r, &key, &k) || !eat(r, ':'))
				return false;
			f = lookup(desc, key, &k);
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
cf_tree_from_json(const char *json, const char *sql, bool zero_bound,
		  ProtobufCAllocator *alloc)
{
	return cf_tree_from_json_at(json, sql, zero_bound, alloc, NULL);
}

PgQuery__ParseResult *
cf_tree_from_json_at(const char *json, const char *sql, bool zero_bound,
		     ProtobufCAllocator *alloc, cf_json_locations *locs)
{
	reader r = {.p = json,
		    .end = json + strlen(json),
		    .alloc = alloc,
		    .sql = sql,
		    .sql_len = strlen(sql),
		    .zero_bound = zero_bound,
		    .locs = locs};
	PgQuery__ParseResult *pr;

	pthread_once(&fields_once, build_fields);
	if (!fields.ok)
		return NULL;
	pr = new_message(&r, &pg_query__parse_result__descriptor);
	if (!object(&r, &pg_query__parse_result__descriptor, pr) ||
	    r.p != r.end || r.unresolved)
		return NULL;
	return pr;
}

void
cf_json_locations_release(cf_json_locations *l)
{
	free(l->at);
	free(l->starts);
	memset(l, 0, sizeof(*l));
}

bool
cf_json_deeper_than(const char *json, int max)
{
	int depth = 0;
	bool in_string = false;

	for (const char *p = json; p && *p; p++) {
		if (in_string) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == '{' || *p == '[') {
			if (++depth > max)
				return true;
		} else if (*p == '}' || *p == ']') {
			depth--;
		}
	}
	return false;
}
