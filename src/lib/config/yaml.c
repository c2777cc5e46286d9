/*
 * yaml.c — reading an environment file (db/environments/<env>.yaml, the
 * Python tool's v0.9.4 format) with libfyaml into a cf_config: parsing,
 * ${VAR} expansion, type checks and unknown-key warnings.  The model it
 * fills (defaults, setters, environment lookup) is environment.c.
 *
 * Recognised keys (anything else draws an "unknown-key" warning):
 *
 *   name: <string>                  default: the file name without .yaml
 *   database_url: <url or conninfo> postgresql://, postgres://, or key=value
 *   database: {host, port, database, user, password}
 *                                   used to build a URL when database_url
 *                                   is absent (database_url wins, with a
 *                                   warning, when both are present)
 *   include_dirs: [<string>, ...]
 *   exclude_dirs: [<string>, ...]   accepted and ignored
 *   migration:
 *     tracking_table: <[schema.]table>   default tb_confiture
 *     locking: {enabled: <bool>, timeout_ms: <int>}
 *     out_of_order: <bool>               default false (up --out-of-order)
 *     repair: <bool>                     default false (up --repair)
 *     lock_timeout_ms: <int>             statements' lock_timeout in up and
 *                                        down (--lock-timeout); 0 = none
 *     lock_retries: <int>                tries after a lock timeout
 *                                        (--lock-retries)
 *   preflight: {lock_timeout_ms: <int>, statement_timeout_ms: <int>,
 *               check_down_strict: <bool>}
 *   postgres_version: <int>         the target's PostgreSQL major, for
 *                                   syntax checks without a connection
 *   lint: {rules: {<rule id>: off|warning|error}}
 *                                   re-grades `migrate lint` rules; an
 *                                   unknown rule id is an error
 *
 * A key whose value is null (written as "key:", "~" or "null") counts as
 * absent.  Every scalar value gets ${VAR} expansion before it is converted;
 * see expand_env().
 *
 * The file may come from a pull request: only a regular file of at most
 * CF_CONFIG_MAX_BYTES is read (a FIFO is refused without blocking),
 * aliases may add at most CF_YAML_ALIAS_BUDGET values, and no message or
 * excerpt shows a password or a value that came from ${VAR}.  Errors and
 * warnings carry their excerpt, so the CLI never reads the file again.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfyaml.h>

#include "config/config.h"

/* Environment files are a few lines; a larger one is not one. */
#define CF_CONFIG_MAX_BYTES (1024 * 1024)

/* ------------------------------------------------------------------------
 * ${VAR} expansion
 * ------------------------------------------------------------------------ */

/*
 * Expands s[0..len) from the environment and returns a new string (caller
 * frees), or NULL with *e set (an error without location).  When secret is
 * set (the value may hold a password) messages do not quote the value.
 *
 *   ${VAR}          the value of VAR; an error when VAR is unset (set but
 *                   empty expands to "")
 *   ${VAR:-text}    the value of VAR, or text when VAR is unset or empty
 *                   (text is not expanded further and may not hold '}')
 *   $${             a literal "${"
 *
 * Any other '$' is kept as written — a lone '$', "$$", "$VAR" — so that
 * passwords such as "pa$$word" need no escaping.  VAR is
 * [A-Za-z_][A-Za-z0-9_]*.
 */
static char *
expand_env(const char *s, size_t len, bool secret, cf_error **e)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	size_t i = 0;

	while (i < len) {
		size_t start, j, k;
		char *name;
		const char *value;
		bool has_default = false;

		if (s[i] != '$') {
			cf_strbuf_addch(&sb, s[i++]);
			continue;
		}
		if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
			cf_strbuf_addstr(&sb, "${");
			i += 3;
			continue;
		}
		if (i + 1 >= len || s[i + 1] != '{') {
			cf_strbuf_addch(&sb, s[i++]);
			continue;
		}
		start = i + 2;
		j = start;
		while (j < len && s[j] != '}')
			j++;
		if (j >= len) {
			*e = cf_error_new(CF_ERR_CONFIG,
					  "unterminated '${' in configuration "
					  "value");
			cf_error_set_hint(*e,
					  "close the reference with '}', or "
					  "write '$${' for a literal '${'");
			goto fail;
		}
		k = start;
		if (k < j && (isalpha((unsigned char)s[k]) || s[k] == '_'))
			while (k < j &&
			       (isalnum((unsigned char)s[k]) || s[k] == '_'))
				k++;
		if (k == start || (k < j && !(j - k >= 2 && s[k] == ':' &&
					      s[k + 1] == '-'))) {
			if (secret)
				*e = cf_error_new(CF_ERR_CONFIG,
						  "invalid variable reference");
			else
				*e = cf_error_new(
					CF_ERR_CONFIG,
					"invalid variable reference '%.*s'",
					(int)(j + 1 - i), s + i);
			cf_error_set_hint(*e,
					  "write ${NAME} or ${NAME:-default}, "
					  "where NAME is letters, digits "
					  "and '_'");
			goto fail;
		}
		has_default = (k < j);
		name = cf_strndup(s + start, k - start);
		value = getenv(name);
		if (value && (*value || !has_default)) {
			cf_strbuf_addstr(&sb, value);
		} else if (has_default) {
			cf_strbuf_add(&sb, s + k + 2, j - (k + 2));
		} else {
			*e = cf_error_new(
				CF_ERR_CONFIG,
				"environment variable '%s' is not set", name);
			cf_error_set_hint(*e,
					  "set %s, or give a default with "
					  "${%s:-value}",
					  name, name);
			cf_error_set_code(*e, "unset-variable");
			free(name);
			goto fail;
		}
		free(name);
		i = j + 1;
	}
	return cf_strbuf_detach(&sb);

fail:
	cf_strbuf_release(&sb);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Reading the YAML tree
 * ------------------------------------------------------------------------ */

/* Byte ranges of the file that hold secrets (password values). */
typedef struct span_list {
	size_t (*at)[2]; /* [start, end) offsets */
	size_t n;
	size_t alloc;
} span_list;

/* State of one cf_config_load() call. */
typedef struct loader {
	const char *path;
	span_list secrets; /* never shown, see secret_at() */
	cf_config *cfg;
	cf_error *err;		 /* the first error; loading stops there */
	cf_db_block db;		 /* the database: block's values */
	struct fy_node *db_key;	 /* "database" key, NULL without a block */
	struct fy_node *url_key; /* "database_url" key, or NULL */
} loader;

/*
 * 1-based line and column of a node: a scalar's own position, else that
 * of its first key or item.  0, 0 when unknown (empty collections).
 */
static void
node_where(struct fy_node *node, int *line, int *column)
{
	*line = 0;
	*column = 0;
	while (node) {
		if (fy_node_is_scalar(node)) {
			struct fy_token *t = fy_node_get_scalar_token(node);
			const struct fy_mark *m = t ? fy_token_start_mark(t) :
						      NULL;

			if (m) {
				enum fy_node_style style = fy_node_get_style(
					node);

				*line = m->line + 1;
				*column = m->column + 1;
				/* the mark is past the opening quote */
				if ((style == FYNS_SINGLE_QUOTED ||
				     style == FYNS_DOUBLE_QUOTED) &&
				    *column > 1)
					(*column)--;
			}
			return;
		} else if (fy_node_is_mapping(node)) {
			void *iter = NULL;
			struct fy_node_pair *pair = fy_node_mapping_iterate(
				node, &iter);

			node = pair ? fy_node_pair_key(pair) : NULL;
		} else {
			void *iter = NULL;

			node = fy_node_sequence_iterate(node, &iter);
		}
	}
}

/*
 * Records e as the load's error, located at val when it is a scalar with a
 * position and at key otherwise.  Returns -1 for "return fail_at(...)".
 */
static int
fail_at(loader *ld, struct fy_node *key, struct fy_node *val, cf_error *e)
{
	int line = 0;
	int column = 0;

	if (val && fy_node_is_scalar(val))
		node_where(val, &line, &column);
	if (line == 0 && key)
		node_where(key, &line, &column);
	cf_error_set_where(e, ld->path, line, column);
	ld->err = e;
	return -1;
}

/* Appends a configuration warning located at node to the config. */
static void
add_warning(loader *ld, struct fy_node *node, cf_error *w)
{
	int line;
	int column;

	node_where(node, &line, &column);
	w->kind = CF_ERR_CONFIG;
	cf_error_set_where(w, ld->path, line, column);
	cf_error_list_add(&ld->cfg->warnings, w);
}

/* "a mapping", "a sequence" or "a scalar": what a node is, for messages. */
static const char *
node_kind(struct fy_node *node)
{
	if (fy_node_is_mapping(node))
		return "a mapping";
	if (fy_node_is_sequence(node))
		return "a sequence";
	return "a scalar";
}

/*
 * True when a value counts as absent: no node, or a plain (unquoted)
 * scalar that YAML reads as null ("", "~", "null", "Null", "NULL").
 */
static bool
is_absent(struct fy_node *val)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL"};
	const char *s;
	size_t len;

	if (!val || fy_node_is_null(val))
		return true;
	if (!fy_node_is_scalar(val) || fy_node_get_style(val) != FYNS_PLAIN)
		return false;
	s = fy_node_get_scalar(val, &len);
	if (!s || len == 0)
		return true;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strlen(nulls[i]) == len && memcmp(s, nulls[i], len) == 0)
			return true;
	return false;
}

/*
 * The text of scalar val after ${VAR} expansion, in *out (caller frees), or
 * NULL when val is absent.  what names the expected type for the message
 * when val is a collection ("a string", "an integer", ...).
 */
static int
scalar_text(loader *ld, const char *keypath, struct fy_node *key,
	    struct fy_node *val, const char *what, char **out)
{
	const char *s;
	size_t len;
	cf_error *e = NULL;

	*out = NULL;
	if (is_absent(val))
		return 0;
	if (!fy_node_is_scalar(val)) {
		e = cf_error_new(CF_ERR_CONFIG, "'%s' must be %s", keypath,
				 what);
		cf_error_set_detail(e, "found %s", node_kind(val));
		cf_error_set_code(e, "wrong-type");
		return fail_at(ld, key, val, e);
	}
	s = fy_node_get_scalar(val, &len);
	if (!s)
		s = "", len = 0;
	if (memchr(s, '\0', len)) {
		e = cf_error_new(CF_ERR_CONFIG, "'%s' contains a NUL character",
				 keypath);
		return fail_at(ld, key, val, e);
	}
	*out = expand_env(s, len,
			  strcmp(keypath, "database_url") == 0 ||
				  strcmp(keypath, "database.password") == 0,
			  &e);
	if (!*out) {
		cf_error_set_detail(e, "in the value of '%s'", keypath);
		return fail_at(ld, key, val, e);
	}
	return 0;
}

/*
 * The text of scalar val as written in the file when it holds a ${VAR}
 * reference, else NULL.  Messages show it instead of the expanded value:
 * a value from the environment may be a secret, whatever its key.
 * Caller frees.
 */
static char *
written_if_expanded(struct fy_node *val)
{
	size_t len;
	const char *s = fy_node_get_scalar(val, &len);

	return s && memmem(s, len, "${", 2) ? cf_strndup(s, len) : NULL;
}

/*
 * True when scalar val lies in a secret span: a password, or a copy of
 * one made by an alias (the copy keeps the original's position).
 */
static bool
secret_at(const loader *ld, struct fy_node *val)
{
	struct fy_token *t = val && fy_node_is_scalar(val) ?
				     fy_node_get_scalar_token(val) :
				     NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

	for (size_t i = 0; m && i < ld->secrets.n; i++)
		if (m->input_pos >= ld->secrets.at[i][0] &&
		    m->input_pos < ld->secrets.at[i][1])
			return true;
	return false;
}

/*
 * What messages show for val instead of its value, or NULL when they may
 * show the value: "***" for a secret, the written text for ${VAR}.
 * Caller frees.
 */
static char *
shown_instead(const loader *ld, struct fy_node *val)
{
	return secret_at(ld, val) ? cf_strdup("***") : written_if_expanded(val);
}

/* Sets e's detail to "found '<value>'", or to where value came from. */
static void
set_found_detail(const loader *ld, cf_error *e, struct fy_node *val,
		 const char *value)
{
	char *written = written_if_expanded(val);

	if (secret_at(ld, val))
		cf_error_set_detail(e, "found a value that is not shown (it "
				       "may be a password)");
	else if (written)
		cf_error_set_detail(e,
				    "found the value of '%s' (not shown: it "
				    "comes from the environment)",
				    written);
	else
		cf_error_set_detail(e, "found '%s'", value);
	free(written);
}

/* Stores a string value in *field (replacing it) unless val is absent. */
static int
get_string(loader *ld, const char *keypath, struct fy_node *key,
	   struct fy_node *val, char **field)
{
	char *s;

	if (scalar_text(ld, keypath, key, val, "a string", &s) < 0)
		return -1;
	if (s) {
		free(*field);
		*field = s;
	}
	return 0;
}

/*
 * Stores a non-negative decimal integer (at most max; quotes allowed, as
 * pydantic allows "5000") in *field unless val is absent.
 */
static int
get_int(loader *ld, const char *keypath, struct fy_node *key,
	struct fy_node *val, int min, int max, int *field)
{
	char *s;
	char *end;
	long v;
	cf_error *e;

	if (scalar_text(ld, keypath, key, val, "an integer", &s) < 0)
		return -1;
	if (!s)
		return 0;
	errno = 0;
	v = (s[0] == '-' || isdigit((unsigned char)s[0])) ?
		    strtol(s, &end, 10) :
		    0;
	if (!(s[0] == '-' || isdigit((unsigned char)s[0])) || *end != '\0' ||
	    errno == ERANGE || v < min || v > max) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "'%s' must be an integer between %d and %d",
				 keypath, min, max);
		set_found_detail(ld, e, val, s);
		cf_error_set_code(e, "wrong-type");
		free(s);
		return fail_at(ld, key, val, e);
	}
	free(s);
	*field = (int)v;
	return 0;
}

/*
 * Stores a boolean in *field unless val is absent.  Accepts what PyYAML
 * and pydantic accept: true/false, yes/no, on/off, 1/0, in any case.
 */
static int
get_bool(loader *ld, const char *keypath, struct fy_node *key,
	 struct fy_node *val, bool *field)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	char *s;
	cf_error *e;

	if (scalar_text(ld, keypath, key, val, "true or false", &s) < 0)
		return -1;
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*field = true;
			free(s);
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*field = false;
			free(s);
			return 0;
		}
	}
	e = cf_error_new(CF_ERR_CONFIG, "'%s' must be true or false", keypath);
	set_found_detail(ld, e, val, s);
	cf_error_set_code(e, "wrong-type");
	free(s);
	return fail_at(ld, key, val, e);
}

/*
 * Replaces *field with the strings of sequence val unless val is absent.
 * Items must be non-null scalars.
 */
static int
get_string_list(loader *ld, const char *keypath, struct fy_node *key,
		struct fy_node *val, char ***field)
{
	char **v;
	size_t n = 0;
	void *iter = NULL;
	struct fy_node *item;
	cf_error *e;

	if (is_absent(val))
		return 0;
	if (!fy_node_is_sequence(val)) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "'%s' must be a list of strings", keypath);
		cf_error_set_detail(e, "found %s", node_kind(val));
		cf_error_set_hint(e,
				  "write one '- dir' item per line below "
				  "'%s:'",
				  keypath);
		cf_error_set_code(e, "wrong-type");
		return fail_at(ld, key, val, e);
	}
	v = cf_calloc((size_t)fy_node_sequence_item_count(val) + 1,
		      sizeof(char *));
	while ((item = fy_node_sequence_iterate(val, &iter))) {
		char *path = cf_asprintf("%s[%zu]", keypath, n);
		char *s = NULL;
		int rc;

		/* The Python tool also takes {path: dir, recursive: ...} */
		if (fy_node_is_mapping(item) &&
		    fy_node_mapping_lookup_by_string(item, "path", FY_NT))
			item = fy_node_mapping_lookup_by_string(item, "path",
								FY_NT);
		rc = scalar_text(ld, path, item, item, "a string", &s);

		if (rc == 0 && !s) {
			e = cf_error_new(CF_ERR_CONFIG, "'%s' must be a string",
					 path);
			cf_error_set_detail(e, "found an empty item");
			cf_error_set_code(e, "wrong-type");
			rc = fail_at(ld, key, item, e);
		}
		free(path);
		if (rc < 0) {
			cf_strv_free(v);
			return -1;
		}
		v[n++] = s;
	}
	cf_strv_free(*field);
	*field = v;
	return 0;
}

/*
 * Checks that val is a mapping.  Returns 1 when it is, 0 when it is absent
 * (the block keeps its defaults) and -1 on a type error.
 */
static int
expect_mapping(loader *ld, const char *keypath, struct fy_node *key,
	       struct fy_node *val)
{
	cf_error *e;

	if (is_absent(val))
		return 0;
	if (fy_node_is_mapping(val))
		return 1;
	e = cf_error_new(CF_ERR_CONFIG, "'%s' must be a mapping", keypath);
	cf_error_set_detail(e, "found %s", node_kind(val));
	cf_error_set_hint(e, "indent its keys below '%s:'", keypath);
	cf_error_set_code(e, "wrong-type");
	return fail_at(ld, key, val, e);
}

/*
 * The name of a mapping key (borrowed from the document; length-limited
 * copy in buf).  Keys must be scalars.
 */
static int
key_name(loader *ld, struct fy_node *key, char *buf, size_t size)
{
	const char *s;
	size_t len;
	cf_error *e;

	if (!key || !fy_node_is_scalar(key)) {
		e = cf_error_new(CF_ERR_CONFIG, "configuration keys must be "
						"plain strings");
		if (key)
			cf_error_set_detail(e, "found %s as a key",
					    node_kind(key));
		return fail_at(ld, key, NULL, e);
	}
	s = fy_node_get_scalar(key, &len);
	if (!s)
		s = "", len = 0;
	if (len >= size)
		len = size - 1; /* long keys are unknown keys anyway */
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/*
 * Keys of the Python tool (v0.9.4) that configure features this tool does
 * not have (schema builds, seeds, tunnels, view helpers...): accepted
 * silently so that a shared environment file draws no warnings.
 */
static bool
python_only_key(const char *prefix, const char *name)
{
	static const char *const top[] = {
		"superuser_dirs", "superuser_post_dirs", "build",
		"seed",		  "ssh_tunnel",		 NULL};
	static const char *const migration[] = {
		"strict_mode",		"view_helpers",
		"migration_generators", "snapshot_history",
		"snapshots_dir",	"live_snapshot",
		"rebuild_threshold",	NULL};
	const char *const *list = strcmp(prefix, "") == 0 ? top :
				  strcmp(prefix, "migration.") == 0 ?
							    migration :
							    NULL;

	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* Warns about an unknown key, listing the known ones at that level. */
static void
warn_unknown_key(loader *ld, const char *prefix, const char *name,
		 struct fy_node *key, const char *known)
{
	cf_error *w;

	if (python_only_key(prefix, name))
		return;
	w = cf_warning_new("unknown configuration key '%s%s'", prefix, name);

	cf_error_set_code(w, "unknown-key");
	cf_error_set_detail(w, "the key is ignored");
	if (*prefix)
		cf_error_set_hint(w, "known keys in '%.*s' are: %s",
				  (int)strlen(prefix) - 1, prefix, known);
	else
		cf_error_set_hint(w, "known top-level keys are: %s", known);
	add_warning(ld, key, w);
}

/* migration.locking: {enabled, timeout_ms} */
static int
parse_locking(loader *ld, struct fy_node *map)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		int rc = 0;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "enabled") == 0)
			rc = get_bool(ld, "migration.locking.enabled", key, val,
				      &ld->cfg->locking_enabled);
		else if (strcmp(name, "timeout_ms") == 0)
			rc = get_int(ld, "migration.locking.timeout_ms", key,
				     val, 0, INT_MAX,
				     &ld->cfg->lock_timeout_ms);
		else
			warn_unknown_key(ld, "migration.locking.", name, key,
					 "enabled, timeout_ms");
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* migration: {tracking_table, locking, out_of_order, repair,
 * lock_timeout_ms, lock_retries} */
static int
parse_migration(loader *ld, struct fy_node *map)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "tracking_table") == 0) {
			char *table = NULL;
			char *shown;
			cf_error *e = NULL;
			int rc;

			if (scalar_text(ld, "migration.tracking_table", key,
					val, "a string", &table) < 0)
				return -1;
			if (!table)
				continue;
			shown = shown_instead(ld, val);
			rc = cf_config_set_tracking_table_as(
				ld->cfg, table, shown ? shown : table, &e);
			free(shown);
			free(table);
			if (rc < 0)
				return fail_at(ld, key, val, e);
		} else if (strcmp(name, "locking") == 0) {
			int rc = expect_mapping(ld, "migration.locking", key,
						val);

			if (rc < 0 || (rc > 0 && parse_locking(ld, val) < 0))
				return -1;
		} else if (strcmp(name, "out_of_order") == 0) {
			if (get_bool(ld, "migration.out_of_order", key, val,
				     &ld->cfg->out_of_order) < 0)
				return -1;
		} else if (strcmp(name, "repair") == 0) {
			if (get_bool(ld, "migration.repair", key, val,
				     &ld->cfg->repair) < 0)
				return -1;
		} else if (strcmp(name, "lock_timeout_ms") == 0) {
			if (get_int(ld, "migration.lock_timeout_ms", key, val,
				    0, INT_MAX,
				    &ld->cfg->migration_lock_timeout_ms) < 0)
				return -1;
		} else if (strcmp(name, "lock_retries") == 0) {
			if (get_int(ld, "migration.lock_retries", key, val, 0,
				    CF_MAX_LOCK_RETRIES,
				    &ld->cfg->migration_lock_retries) < 0)
				return -1;
		} else {
			warn_unknown_key(
				ld, "migration.", name, key,
				"tracking_table, locking, out_of_order, repair, lock_timeout_ms, lock_retries");
		}
	}
	return 0;
}

/* preflight: {lock_timeout_ms, statement_timeout_ms, check_down_strict} */
static int
parse_preflight(loader *ld, struct fy_node *map)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		int rc = 0;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "lock_timeout_ms") == 0)
			rc = get_int(ld, "preflight.lock_timeout_ms", key, val,
				     0, INT_MAX,
				     &ld->cfg->preflight_lock_timeout_ms);
		else if (strcmp(name, "statement_timeout_ms") == 0)
			rc = get_int(ld, "preflight.statement_timeout_ms", key,
				     val, 0, INT_MAX,
				     &ld->cfg->preflight_statement_timeout_ms);
		else if (strcmp(name, "check_down_strict") == 0)
			rc = get_bool(ld, "preflight.check_down_strict", key,
				      val,
				      &ld->cfg->preflight_check_down_strict);
		else
			warn_unknown_key(
				ld, "preflight.", name, key,
				"lock_timeout_ms, statement_timeout_ms, check_down_strict");
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* lint.rules: {<rule id>: off|warning|error} */
static int
parse_lint_rules(loader *ld, struct fy_node *map)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];
	size_t alloc = ld->cfg->n_lint_grades;

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		const cf_lint_rule *rules;
		const char *id = NULL;
		cf_lint_severity sev;
		char *grade = NULL;
		cf_error *e;
		size_t n;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		rules = cf_lint_rules(&n);
		for (size_t i = 0; i < n && !id; i++)
			if (strcmp(rules[i].id, name) == 0)
				id = rules[i].id;
		if (!id) {
			cf_strbuf ids;

			cf_strbuf_init(&ids);
			for (size_t i = 0; i < n; i++)
				cf_strbuf_addf(&ids, "%s%s", i ? ", " : "",
					       rules[i].id);
			e = cf_error_new(
				CF_ERR_CONFIG,
				"unknown lint rule '%s' in 'lint.rules'", name);
			cf_error_set_hint(e, "rule ids are: %s",
					  cf_strbuf_str(&ids));
			cf_error_set_code(e, "unknown-lint-rule");
			cf_strbuf_release(&ids);
			return fail_at(ld, key, NULL, e);
		}
		if (scalar_text(ld, "lint.rules", key, val, "a string",
				&grade) < 0)
			return -1;
		if (grade && strcmp(grade, "off") == 0)
			sev = CF_LINT_OFF;
		else if (grade && strcmp(grade, "warning") == 0)
			sev = CF_LINT_WARNING;
		else if (grade && strcmp(grade, "error") == 0)
			sev = CF_LINT_ERROR;
		else {
			e = cf_error_new(CF_ERR_CONFIG,
					 "'lint.rules.%s' must be off, warning "
					 "or error",
					 id);
			if (grade)
				set_found_detail(ld, e, val, grade);
			cf_error_set_code(e, "wrong-type");
			free(grade);
			return fail_at(ld, key, val, e);
		}
		free(grade);
		CF_GROW(ld->cfg->lint_grades, alloc,
			ld->cfg->n_lint_grades + 1);
		ld->cfg->lint_grades[ld->cfg->n_lint_grades].rule = cf_strdup(
			id);
		ld->cfg->lint_grades[ld->cfg->n_lint_grades++].severity = sev;
	}
	return 0;
}

/* lint: {rules} */
static int
parse_lint(loader *ld, struct fy_node *map)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		int rc = 0;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "rules") == 0) {
			rc = expect_mapping(ld, "lint.rules", key, val);
			if (rc > 0)
				rc = parse_lint_rules(ld, val);
		} else {
			warn_unknown_key(ld, "lint.", name, key, "rules");
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* database: {host, port, database, user, password} into db */
static int
parse_database(loader *ld, struct fy_node *map, cf_db_block *db)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		int rc = 0;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "host") == 0)
			rc = get_string(ld, "database.host", key, val,
					&db->host);
		else if (strcmp(name, "port") == 0)
			rc = get_int(ld, "database.port", key, val, 1, 65535,
				     &db->port);
		else if (strcmp(name, "database") == 0)
			rc = get_string(ld, "database.database", key, val,
					&db->database);
		else if (strcmp(name, "user") == 0)
			rc = get_string(ld, "database.user", key, val,
					&db->user);
		else if (strcmp(name, "password") == 0)
			rc = get_string(ld, "database.password", key, val,
					&db->password);
		else
			warn_unknown_key(
				ld, "database.", name, key,
				"host, port, database, user, password");
		if (rc < 0)
			return -1;
	}
	return 0;
}

#define TOP_LEVEL_KEYS                                               \
	"name, database_url, database, include_dirs, exclude_dirs, " \
	"migration, preflight, postgres_version, lint"

/* The top-level mapping. */
static int
parse_root(loader *ld, struct fy_node *root)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	char name[128];

	while ((pair = fy_node_mapping_iterate(root, &iter))) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *val = fy_node_pair_value(pair);
		int rc = 0;

		if (key_name(ld, key, name, sizeof(name)) < 0)
			return -1;
		if (strcmp(name, "name") == 0) {
			rc = get_string(ld, "name", key, val, &ld->cfg->name);
		} else if (strcmp(name, "database_url") == 0) {
			char *url = NULL;
			char *shown;
			cf_error *e = NULL;

			if (scalar_text(ld, "database_url", key, val,
					"a string", &url) < 0)
				return -1;
			if (!url)
				continue;
			shown = shown_instead(ld, val);
			rc = cf_config_set_database_url_as(ld->cfg, url, shown,
							   &e);
			free(shown);
			free(url);
			if (rc < 0)
				return fail_at(ld, key, val, e);
			ld->url_key = key;
		} else if (strcmp(name, "database") == 0) {
			rc = expect_mapping(ld, "database", key, val);
			if (rc > 0) {
				ld->db_key = key;
				rc = parse_database(ld, val, &ld->db);
			}
		} else if (strcmp(name, "include_dirs") == 0) {
			rc = get_string_list(ld, "include_dirs", key, val,
					     &ld->cfg->include_dirs);
		} else if (strcmp(name, "exclude_dirs") == 0) {
			char **ignored = NULL;

			rc = get_string_list(ld, "exclude_dirs", key, val,
					     &ignored);
			cf_strv_free(ignored);
		} else if (strcmp(name, "migration") == 0) {
			rc = expect_mapping(ld, "migration", key, val);
			if (rc > 0)
				rc = parse_migration(ld, val);
		} else if (strcmp(name, "preflight") == 0) {
			rc = expect_mapping(ld, "preflight", key, val);
			if (rc > 0)
				rc = parse_preflight(ld, val);
		} else if (strcmp(name, "lint") == 0) {
			rc = expect_mapping(ld, "lint", key, val);
			if (rc > 0)
				rc = parse_lint(ld, val);
		} else if (strcmp(name, "postgres_version") == 0) {
			rc = get_int(ld, "postgres_version", key, val, 9, 99,
				     &ld->cfg->postgres_version);
		} else {
			warn_unknown_key(ld, "", name, key, TOP_LEVEL_KEYS);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * libfyaml diagnostics
 * ------------------------------------------------------------------------ */

/*
 * libfyaml reports errors through a diag object that writes to stderr by
 * default.  We give it an output callback instead and keep the first
 * "<input>:<line>:<col>: error: <message>" line it produces; the source
 * excerpt lines that follow are dropped (they may show a password).
 */
typedef struct diag_capture {
	char *message; /* parser message without position, or NULL */
	int line;      /* 1-based; 0 when the message had no position */
	int column;
} diag_capture;

/* Parses the digits ending just before *endp; moves *endp back past them. */
static int
digits_before(const char *start, const char **endp)
{
	const char *p = *endp;
	int v = 0;
	int mul = 1;

	if (p == start || !isdigit((unsigned char)p[-1]))
		return -1;
	while (p > start && isdigit((unsigned char)p[-1]) && mul <= 100000000) {
		p--;
		v += (*p - '0') * mul;
		mul *= 10;
	}
	*endp = p;
	return v;
}

/* fy_diag_output_fn: keeps the first error line, see diag_capture. */
static void
diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	diag_capture *cap = user;
	static const char marker[] = ": error: ";
	const char *hit;
	const char *msg;
	const char *nl;
	const char *p;
	int line;
	int column;

	if (cap->message && cap->line > 0)
		return;
	hit = memmem(buf, len, marker, sizeof(marker) - 1);
	if (!hit) {
		/* positionless text ("... failed"): keep only as a fallback */
		if (!cap->message && len > 0 && buf[0] != '\n') {
			nl = memchr(buf, '\n', len);
			cap->message = cf_strndup(buf, nl ? (size_t)(nl - buf) :
							    len);
		}
		return;
	}
	msg = hit + sizeof(marker) - 1;
	nl = memchr(msg, '\n', len - (size_t)(msg - buf));
	p = hit;
	column = digits_before(buf, &p);
	if (column >= 0 && p > buf && p[-1] == ':') {
		p--;
		line = digits_before(buf, &p);
	} else {
		line = -1;
	}
	free(cap->message);
	cap->message = cf_strndup(msg, nl ? (size_t)(nl - msg) :
					    len - (size_t)(msg - buf));
	cap->line = line > 0 && column > 0 ? line : 0;
	cap->column = line > 0 && column > 0 ? column : 0;
}

/* True when text holds nothing but white space and comments. */
static bool
yaml_is_blank(const char *text)
{
	const char *p = text;

	while (*p) {
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
		} else if (isspace((unsigned char)*p)) {
			p++;
		} else {
			return false;
		}
	}
	return true;
}

/* The file name of path without directory and .yaml/.yml. Caller frees. */
static char *
file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".yaml") == 0)
		len -= 5;
	else if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
		len -= 4;
	return cf_strndup(base, len);
}

/* A parsed file: the document lives as long as its parser. */
typedef struct yaml_input {
	struct fy_parser *parser;
	struct fy_document *doc;
} yaml_input;

/* Frees what parse_yaml() produced.  Fine on a zeroed struct. */
static void
yaml_input_release(yaml_input *in)
{
	if (in->doc)
		fy_parse_document_destroy(in->parser, in->doc);
	if (in->parser)
		fy_parser_destroy(in->parser);
	in->doc = NULL;
	in->parser = NULL;
}

/*
 * Aliases may add at most this many nodes to the document: environment
 * files need few, and a "billion laughs" file must fail before libfyaml
 * builds its expansion (500 bytes took 2.9 GB).
 */
#define CF_YAML_ALIAS_BUDGET 10000

/*
 * Keys in one mapping, keys in the file, anchors in the file, at most:
 * libfyaml compares each key of a mapping with every other one (twice:
 * the duplicate check, then the resolution), and each alias is looked up
 * among the anchors, so a hostile file of 200 kB of keys took 70 s.  An
 * environment file has a few dozen keys.
 */
#define CF_YAML_MAX_MAPPING_KEYS 500
#define CF_YAML_MAX_KEYS 10000
#define CF_YAML_MAX_ANCHORS 1000

/*
 * A collection open in the event walk: its size so far, its anchor, and
 * whether it is a mapping whose next node is a key, or the value of a
 * secret key (then so is everything inside).
 */
typedef struct open_node {
	size_t size;
	size_t keys; /* a mapping's keys so far */
	char *anchor;
	bool mapping;
	bool at_key;
	bool secret_value; /* the next value belongs to a secret key */
	bool secret;
} open_node;

/* An anchor seen in the event walk and the size of its node. */
typedef struct anchor_size {
	char *name;
	size_t size;
} anchor_size;

/* The name of an anchor or alias token (caller frees), or NULL. */
static char *
token_name(struct fy_token *t)
{
	size_t len;
	const char *s = t ? fy_token_get_text(t, &len) : NULL;

	return s ? cf_strndup(s, len) : NULL;
}

/*
 * True when a key w[0..len) may hold a secret: "password" and anything
 * spelt close to it ("pasword:" draws an unknown-key warning whose excerpt
 * must not show the value), "secret", "token".
 */
static bool
is_secret_key(const char *w, size_t len)
{
	static const char *const parts[] = {"pass", "pasw",   "pssw",
					    "pwd",  "secret", "token"};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strlen(parts[i]);

		for (size_t j = 0; j + n <= len; j++)
			if (strncasecmp(w + j, parts[i], n) == 0)
				return true;
	}
	return false;
}

/* Records the text of token t as secret. */
static void
add_secret(span_list *secrets, struct fy_token *t)
{
	const struct fy_mark *start = t ? fy_token_start_mark(t) : NULL;
	const struct fy_mark *end = t ? fy_token_end_mark(t) : NULL;

	if (!start || !end)
		return;
	CF_GROW(secrets->at, secrets->alloc, secrets->n + 1);
	secrets->at[secrets->n][0] = start->input_pos;
	secrets->at[secrets->n][1] = end->input_pos;
	secrets->n++;
}

/* The error for an alias at t that goes over CF_YAML_ALIAS_BUDGET. */
static cf_error *
alias_budget_error(const char *path, struct fy_token *t)
{
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	cf_error *e = cf_error_new(CF_ERR_CONFIG,
				   "YAML aliases expand to too many values");

	cf_error_set_where(e, path, m ? m->line + 1 : 0, m ? m->column + 1 : 0);
	cf_error_set_detail(e,
			    "aliases (*name) may add at most %d values to a "
			    "configuration file",
			    CF_YAML_ALIAS_BUDGET);
	cf_error_set_hint(e, "write the values out instead of repeating them "
			     "through anchors (&) and aliases (*)");
	cf_error_set_code(e, "yaml-alias-limit");
	return e;
}

/* The error for what goes over a limit of the YAML's shape
 * (CF_YAML_MAX_*), located at m: what, at most how many. */
static cf_error *
shape_error(const char *path, const struct fy_mark *m, const char *what,
	    size_t most)
{
	cf_error *e = cf_error_new(CF_ERR_CONFIG, "too many %s", what);

	cf_error_set_where(e, path, m ? m->line + 1 : 0, m ? m->column + 1 : 0);
	cf_error_set_detail(e, "a configuration file may have at most %zu %s",
			    most, what);
	cf_error_set_hint(e, "an environment file needs a few dozen keys and "
			     "anchors: remove the ones confiture does not "
			     "read");
	cf_error_set_code(e, "yaml-too-large");
	return e;
}

/* The anchor token of a node's start event, or NULL. */
static struct fy_token *
event_anchor(const struct fy_event *ev)
{
	switch (ev->type) {
	case FYET_SCALAR:
		return ev->scalar.anchor;
	case FYET_MAPPING_START:
		return ev->mapping_start.anchor;
	case FYET_SEQUENCE_START:
		return ev->sequence_start.anchor;
	default:
		return NULL;
	}
}

/*
 * Destroys a parser, unless it stopped on an error: libfyaml 0.7.12 may
 * free its indentation stack twice then (a 34-byte file of nested "?"
 * keys crashed it, found by fuzz_config).  That parser's memory is left
 * to the process: a configuration error ends the command (a long-running
 * caller loses memory in proportion to each invalid file, a few kB for a
 * small one).
 */
static void
parser_destroy(struct fy_parser *parser, struct fy_diag *diag)
{
	if (parser && !fy_diag_got_error(diag))
		fy_parser_destroy(parser);
}

/*
 * Walks the event stream of text before any document is built:
 *   - counts the values each alias would copy (an anchored node's size is
 *     known when it ends, before any alias to it) and fails when they go
 *     over CF_YAML_ALIAS_BUDGET;
 *   - records in *secrets where the values of secret keys (password...)
 *     are, so that no excerpt or message shows them, even when the file
 *     has a syntax error further down.
 * Syntax errors are left to the document parse, which meets them again.
 */
static int
scan_events(const char *path, const char *text, size_t len,
	    struct fy_diag *diag, span_list *secrets, cf_error **err)
{
	struct fy_parse_cfg pcfg;
	struct fy_parser *parser;
	struct fy_event *ev;
	open_node *stack = NULL;
	size_t depth = 0, stack_alloc = 0;
	anchor_size *anchors = NULL;
	size_t n_anchors = 0, anchors_alloc = 0;
	size_t added = 0, keys = 0;
	cf_error *e = NULL;

	memset(&pcfg, 0, sizeof(pcfg));
	pcfg.flags = FYPCF_QUIET;
	pcfg.diag = diag;
	parser = fy_parser_create(&pcfg);
	if (!parser || fy_parser_set_string(parser, text, len) != 0)
		abort(); /* out of memory */
	while (!e && (ev = fy_parser_parse(parser))) {
		open_node *parent = depth > 0 ? &stack[depth - 1] : NULL;
		bool is_key = parent && parent->mapping && parent->at_key;
		bool secret = parent && (parent->secret ||
					 (!is_key && parent->secret_value));
		struct fy_token *anchor = NULL;
		char *name = NULL;
		size_t size = 0;
		bool done = true;
		bool node = ev->type == FYET_MAPPING_START ||
			    ev->type == FYET_SEQUENCE_START ||
			    ev->type == FYET_SCALAR || ev->type == FYET_ALIAS;

		if (node && is_key && ++parent->keys > CF_YAML_MAX_MAPPING_KEYS)
			e = shape_error(path, fy_event_start_mark(ev),
					"keys in one mapping",
					CF_YAML_MAX_MAPPING_KEYS);
		else if (node && is_key && ++keys > CF_YAML_MAX_KEYS)
			e = shape_error(path, fy_event_start_mark(ev), "keys",
					CF_YAML_MAX_KEYS);
		else if (n_anchors >= CF_YAML_MAX_ANCHORS && event_anchor(ev))
			e = shape_error(path,
					fy_token_start_mark(event_anchor(ev)),
					"anchors", CF_YAML_MAX_ANCHORS);
		if (e) {
			fy_parser_event_free(parser, ev);
			break;
		}
		switch (ev->type) {
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
			CF_GROW(stack, stack_alloc, depth + 1);
			memset(&stack[depth], 0, sizeof(stack[depth]));
			stack[depth].mapping = ev->type == FYET_MAPPING_START;
			stack[depth].at_key = true;
			stack[depth].secret = secret;
			stack[depth].anchor = token_name(
				ev->type == FYET_MAPPING_START ?
					ev->mapping_start.anchor :
					ev->sequence_start.anchor);
			depth++;
			done = false;
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			if (depth == 0) {
				done = false;
				break;
			}
			depth--;
			size = 1 + stack[depth].size;
			name = stack[depth].anchor;
			parent = depth > 0 ? &stack[depth - 1] : NULL;
			break;
		case FYET_SCALAR: {
			size_t klen;
			const char *k;

			size = 1;
			anchor = ev->scalar.anchor;
			if (secret)
				add_secret(secrets, ev->scalar.value);
			k = fy_token_get_text(ev->scalar.value, &klen);
			if (is_key)
				parent->secret_value = k &&
						       is_secret_key(k, klen);
			break;
		}
		case FYET_ALIAS: {
			char *target = token_name(ev->alias.anchor);

			size = 1;
			for (size_t i = n_anchors; target && i > 0; i--)
				if (strcmp(anchors[i - 1].name, target) == 0) {
					size = anchors[i - 1].size;
					break;
				}
			free(target);
			added += size;
			if (added > CF_YAML_ALIAS_BUDGET)
				e = alias_budget_error(path, ev->alias.anchor);
			break;
		}
		default:
			done = false;
			break;
		}
		if (done) {
			if (!name)
				name = token_name(anchor);
			if (name) {
				CF_GROW(anchors, anchors_alloc, n_anchors + 1);
				anchors[n_anchors].name = name;
				anchors[n_anchors++].size = size;
			}
			if (parent) {
				parent->size += size;
				if (parent->mapping)
					parent->at_key = !parent->at_key;
			}
		}
		fy_parser_event_free(parser, ev);
	}
	parser_destroy(parser, diag);
	for (size_t i = 0; i < depth; i++)
		free(stack[i].anchor);
	free(stack);
	for (size_t i = 0; i < n_anchors; i++)
		free(anchors[i].name);
	free(anchors);
	return e ? cf_fail(err, e) : 0;
}

/*
 * Parses text (which must outlive *in) as a single YAML document with
 * libfyaml, quietly, aliases resolved.  On failure returns -1 with *err
 * located at the parser's line:col: syntax errors, an empty file, or a
 * second document ("---"), which the Python tool's yaml.safe_load()
 * rejects too.
 */
static int
parse_yaml(const char *path, const char *text, size_t len, yaml_input *in,
	   span_list *secrets, cf_error **err)
{
	diag_capture cap = {NULL, 0, 0};
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct fy_diag *diag;
	struct fy_document *extra = NULL;
	bool failed;
	cf_error *e;

	in->parser = NULL;
	in->doc = NULL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_output;
	dcfg.user = &cap;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	dcfg.show_source = false;
	dcfg.show_position = false;
	dcfg.show_type = false;
	dcfg.show_module = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		abort(); /* out of memory */

	memset(&pcfg, 0, sizeof(pcfg));
	pcfg.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT;
	pcfg.diag = diag;
	if (scan_events(path, text, len, diag, secrets, err) < 0) {
		fy_diag_unref(diag);
		free(cap.message);
		return -1;
	}
	in->parser = fy_parser_create(&pcfg);
	if (!in->parser || fy_parser_set_string(in->parser, text, len) != 0)
		abort(); /* out of memory */
	in->doc = fy_parse_load_document(in->parser);
	if (in->doc && !fy_diag_got_error(diag))
		extra = fy_parse_load_document(in->parser);
	failed = fy_diag_got_error(diag) || !in->doc || extra;
	if (fy_diag_got_error(diag)) {
		/* stopped on an error: not destroyed (parser_destroy()) */
		in->doc = NULL;
		in->parser = NULL;
	}
	fy_diag_unref(diag);
	if (!failed) {
		free(cap.message);
		return 0;
	}

	if (extra) {
		int line;
		int column;

		node_where(fy_document_root(extra), &line, &column);
		e = cf_error_new(CF_ERR_CONFIG, "more than one YAML document");
		cf_error_set_where(e, path, line, column);
		cf_error_set_hint(e, "remove the '---' line and keep one "
				     "document per file");
		fy_parse_document_destroy(in->parser, extra);
	} else if (!cap.message && yaml_is_blank(text)) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "configuration file '%s' is "
				 "empty",
				 path);
		cf_error_set_hint(e, "add at least a database_url: line");
		cf_error_set_where(e, path, 0, 0);
	} else {
		e = cf_error_new(CF_ERR_CONFIG, "invalid YAML: %s",
				 cap.message ? cap.message : "cannot parse");
		cf_error_set_where(e, path, cap.line, cap.column);
		if (cap.message && strcmp(cap.message, "duplicate key") == 0)
			cf_error_set_hint(e, "a key may appear only once in a "
					     "mapping");
		else
			cf_error_set_hint(e,
					  "check the indentation and "
					  "quoting around line %d",
					  cap.line > 0 ? cap.line : 1);
	}
	cf_error_set_code(e, "yaml-syntax");
	free(cap.message);
	yaml_input_release(in);
	return cf_fail(err, e);
}

/*
 * Reads path; a missing file, one that is not a regular file (a FIFO is
 * refused without blocking) or larger than CF_CONFIG_MAX_BYTES, invalid
 * UTF-8 or a NUL byte is a configuration error.
 */
static int
read_config_file(const char *path, char **text, size_t *len, cf_error **err)
{
	size_t bad;
	const char *nul;

	if (access(path, F_OK) != 0 && errno == ENOENT) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "configuration file '%s' does not "
					   "exist",
					   path);

		cf_error_set_code(e, "config-not-found");
		return cf_fail(err, e);
	}
	if (cf_read_file_ex(path, 0, CF_CONFIG_MAX_BYTES, text, len, err) < 0)
		return -1;
	if (!cf_utf8_valid(*text, *len, &bad)) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "configuration file '%s' is not "
					   "valid UTF-8",
					   path);
		int line;
		int column;

		cf_text_line_col(*text, bad, &line, &column);
		cf_error_set_where(e, path, line, column);
		cf_error_set_detail(e,
				    "invalid byte sequence at byte offset "
				    "%zu",
				    bad);
		cf_error_set_hint(e, "save the file as UTF-8");
		free(*text);
		*text = NULL;
		return cf_fail(err, e);
	}
	/* YAML has no NUL character, and libfyaml crashes on some */
	nul = memchr(*text, '\0', *len);
	if (nul) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "configuration file '%s' contains a "
					   "NUL byte",
					   path);
		int line;
		int column;

		cf_text_line_col(*text, (size_t)(nul - *text), &line, &column);
		cf_error_set_where(e, path, line, column);
		cf_error_set_detail(e, "NUL byte at byte offset %zu",
				    (size_t)(nul - *text));
		cf_error_set_hint(e, "save the file as UTF-8 text");
		free(*text);
		*text = NULL;
		return cf_fail(err, e);
	}
	return 0;
}

/* The CLI's line redaction for what the event walk could not mark. */
static char *
redact_line(const char *line)
{
	const char *p = line + strspn(line, " \t-{[,");
	const char *value = line;
	size_t keylen = strcspn(p, ":");
	char *red;
	char *out;

	/* "key:" then white space or the end; the key may be quoted */
	if (p[keylen] == ':' &&
	    (p[keylen + 1] == '\0' || p[keylen + 1] == ' ' ||
	     p[keylen + 1] == '\t')) {
		value = p + keylen + 1;
		if (is_secret_key(p, keylen))
			return cf_asprintf("%.*s ***", (int)(value - line),
					   line);
	}
	if (!strstr(value, "://") && !strchr(value, '@') &&
	    !strcasestr(value, "password"))
		return cf_strdup(line);
	/* whole, so that quotes or spaces in a password cannot split it */
	red = cf_redact_url(value);
	out = cf_asprintf("%.*s%s", (int)(value - line), line, red);
	free(red);
	return out;
}

/*
 * Where the excerpts of one file come from.  A file may draw thousands of
 * warnings, many on one line (a flow mapping): the file's line starts are
 * found once, the secret spans sorted and merged once, and a line is
 * hidden once for all the excerpts it gives, so that the excerpts cost
 * what the file is long, whatever it holds.
 */
typedef struct excerpt_source {
	const char *path, *text;
	size_t len;
	size_t *starts; /* of each line */
	size_t n_lines;
	size_t (*spans)[2]; /* the secrets: sorted, disjoint */
	size_t n_spans;
	int line;      /* the line in hidden; 0: none yet */
	char *hidden;  /* that line, secrets hidden (NULL: no such line) */
	size_t *chars; /* byte offset of each character of hidden */
	size_t n_chars;
} excerpt_source;

static int
span_cmp(const void *a, const void *b)
{
	const size_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void
excerpt_source_init(excerpt_source *src, const char *path, const char *text,
		    size_t len, const span_list *secrets)
{
	size_t n = 0;

	memset(src, 0, sizeof(*src));
	src->path = path;
	src->text = text;
	src->len = len;
	src->spans = cf_calloc(secrets->n + 1, sizeof(*src->spans));
	if (secrets->n) /* at is NULL when there is none */
		memcpy(src->spans, secrets->at,
		       secrets->n * sizeof(*src->spans));
	qsort(src->spans, secrets->n, sizeof(*src->spans), span_cmp);
	for (size_t i = 0; i < secrets->n; i++)
		if (n && src->spans[i][0] <= src->spans[n - 1][1]) {
			if (src->spans[i][1] > src->spans[n - 1][1])
				src->spans[n - 1][1] = src->spans[i][1];
		} else {
			src->spans[n][0] = src->spans[i][0];
			src->spans[n][1] = src->spans[i][1];
			n++;
		}
	src->n_spans = n;
}

static void
excerpt_source_release(excerpt_source *src)
{
	free(src->starts);
	free(src->spans);
	free(src->hidden);
	free(src->chars);
}

/*
 * Hides line `line` (1-based) into src->hidden (NULL when the file has no
 * such line): every secret span on it becomes "***", then redact_line()
 * hides URL passwords and values of secret-looking keys it can still see.
 */
static void
hide_line(excerpt_source *src, int line)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	size_t start, end, lo = 0, hi = src->n_spans, alloc = 0;

	free(src->hidden);
	free(src->chars);
	src->hidden = NULL;
	src->chars = NULL;
	src->n_chars = 0;
	src->line = line;
	if (!src->starts) {
		size_t alloc_starts = 0;

		CF_GROW(src->starts, alloc_starts, 1);
		src->starts[src->n_lines++] = 0;
		for (const char *p = src->text;
		     (p = memchr(p, '\n', src->len - (size_t)(p - src->text)));
		     p++) {
			CF_GROW(src->starts, alloc_starts, src->n_lines + 1);
			src->starts[src->n_lines++] = (size_t)(p - src->text) +
						      1;
		}
	}
	if ((size_t)line > src->n_lines)
		return;
	start = src->starts[line - 1];
	end = start;
	while (end < src->len && src->text[end] != '\n' &&
	       src->text[end] != '\r')
		end++;
	/* the first span that ends after the line starts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (src->spans[mid][1] <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = start; i < end;) {
		if (lo < src->n_spans && i >= src->spans[lo][0]) {
			cf_strbuf_addstr(&sb, "***");
			i = src->spans[lo++][1];
			continue;
		}
		/* up to the next span, or the line's end */
		size_t stop = lo < src->n_spans && src->spans[lo][0] < end ?
				      src->spans[lo][0] :
				      end;

		cf_strbuf_add(&sb, src->text + i, stop - i);
		i = stop;
	}
	src->hidden = redact_line(cf_strbuf_str(&sb));
	cf_strbuf_release(&sb);
	for (size_t i = 0; src->hidden[i]; i++)
		if (((unsigned char)src->hidden[i] & 0xC0) != 0x80) {
			CF_GROW(src->chars, alloc, src->n_chars + 1);
			src->chars[src->n_chars++] = i;
		}
}

/* Gives e (about src's file) its excerpt, when it has a line: the hidden
 * line, cut around e's column when long (cf_text_excerpt()). */
static void
set_excerpt(cf_error *e, excerpt_source *src)
{
	size_t len, off;
	int column;

	if (!e || e->line <= 0 || !e->file || strcmp(e->file, src->path) != 0)
		return;
	if (e->line != src->line)
		hide_line(src, e->line);
	free(e->excerpt);
	e->excerpt = NULL;
	if (!src->hidden) { /* never let the CLI read the file again */
		e->excerpt = cf_strdup("");
		return;
	}
	len = strlen(src->hidden);
	column = e->column > 0 ? e->column : 1;
	off = (size_t)column - 1 < src->n_chars ? src->chars[column - 1] : len;
	e->excerpt = cf_text_excerpt(src->hidden, len, off, column,
				     &e->excerpt_column);
}

static int load_text(loader *ld, const char *text, size_t len, cf_config **out,
		     cf_error **err);

/*
 * See confiture.h.  Nothing is returned on error: the partial
 * configuration is freed.  database_url stays NULL when the file has
 * neither database_url nor database: (the caller may supply one).  Every
 * error and warning with a line carries its excerpt, secrets hidden.
 */
int
cf_config_load(const char *path, cf_config **out, cf_error **err)
{
	char *text = NULL;
	size_t len;
	loader ld = {
		path, {NULL, 0, 0}, NULL, NULL, {NULL, NULL, NULL, NULL, 5432},
		NULL, NULL};
	excerpt_source src;
	cf_error *e = NULL;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return cf_fail(err,
			       cf_error_new(CF_ERR_USAGE, "no configuration "
							  "file given"));
	if (read_config_file(path, &text, &len, err) < 0)
		return -1;
	rc = load_text(&ld, text, len, out, &e);
	excerpt_source_init(&src, path, text, len, &ld.secrets);
	if (rc < 0) {
		set_excerpt(e, &src);
		cf_fail(err, e);
	} else {
		for (size_t i = 0; i < (*out)->warnings.n; i++)
			set_excerpt((*out)->warnings.items[i], &src);
	}
	excerpt_source_release(&src);
	free(ld.secrets.at);
	free(text);
	return rc;
}

/* cf_config_load() once the file is read: parses text into *out. */
static int
load_text(loader *ld, const char *text, size_t len, cf_config **out,
	  cf_error **err)
{
	const char *path = ld->path;
	yaml_input in;
	struct fy_node *root;
	int rc = -1;

	if (parse_yaml(path, text, len, &in, &ld->secrets, err) < 0)
		return -1;

	root = fy_document_root(in.doc);
	if (is_absent(root)) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "configuration file '%s' is empty",
					   path);

		cf_error_set_hint(e, "add at least a database_url: line");
		cf_error_set_where(e, path, 0, 0);
		cf_error_set_code(e, "yaml-syntax");
		cf_fail(err, e);
		goto done;
	}
	if (!fy_node_is_mapping(root)) {
		cf_error *e = cf_error_new(CF_ERR_CONFIG,
					   "the top level of '%s' must be a "
					   "mapping",
					   path);
		int line;
		int column;

		node_where(root, &line, &column);
		cf_error_set_detail(e, "found %s", node_kind(root));
		cf_error_set_hint(e,
				  "write 'key: value' lines, e.g. "
				  "database_url: postgresql://localhost/mydb");
		cf_error_set_where(e, path, line > 0 ? line : 1,
				   column > 0 ? column : 1);
		cf_error_set_code(e, "wrong-type");
		cf_fail(err, e);
		goto done;
	}

	ld->cfg = cf_config_new_default();
	ld->cfg->path = cf_strdup(path);
	if (parse_root(ld, root) < 0) {
		cf_fail(err, ld->err);
		goto done;
	}
	if (!ld->cfg->name)
		ld->cfg->name = file_stem(path);
	if (ld->db_key && ld->url_key) {
		cf_error *w = cf_warning_new("both 'database_url' and "
					     "'database' are set; using "
					     "'database_url'");

		cf_error_set_hint(w, "remove one of them");
		cf_error_set_code(w, "database-url-and-block");
		add_warning(ld, ld->db_key, w);
	} else if (ld->db_key) {
		free(ld->cfg->database_url);
		ld->cfg->database_url = cf_db_block_url(&ld->db);
	}
	*out = ld->cfg;
	ld->cfg = NULL;
	rc = 0;

done:
	cf_config_free(ld->cfg);
	free(ld->db.host);
	free(ld->db.database);
	free(ld->db.user);
	free(ld->db.password);
	yaml_input_release(&in);
	return rc;
}
