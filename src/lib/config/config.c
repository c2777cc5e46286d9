/*
 * config.c — environment configuration: reading db/environments/<env>.yaml
 * (the Python tool's v0.9.4 format) with libfyaml, validating it, and the
 * setters used for command-line overrides.
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
 *   preflight: {lock_timeout_ms: <int>, statement_timeout_ms: <int>,
 *               check_down_strict: <bool>}
 *
 * A key whose value is null (written as "key:", "~" or "null") counts as
 * absent.  Every scalar value gets ${VAR} expansion before it is converted;
 * see expand_env().
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfyaml.h>

#include "base/base.h"

/* PostgreSQL's NAMEDATALEN - 1 */
#define MAX_IDENT_BYTES 63

/* ------------------------------------------------------------------------
 * Identifiers (tracking table)
 * ------------------------------------------------------------------------ */

/*
 * Parses one identifier at *pp: either bare ([A-Za-z_][A-Za-z0-9_$]*,
 * folded to lower case as PostgreSQL does) or double-quoted ("" for a
 * quote, kept as written).  On success advances *pp and returns the name
 * (caller frees); on failure returns NULL with *why set to a static reason.
 */
static char *
parse_ident(const char **pp, const char **why)
{
	const char *p = *pp;
	cf_strbuf sb = CF_STRBUF_INIT;

	if (*p == '"') {
		p++;
		for (;;) {
			if (*p == '\0') {
				*why = "unterminated quoted identifier";
				goto fail;
			}
			if (*p == '"') {
				if (p[1] != '"')
					break;
				p++;
			}
			cf_strbuf_addch(&sb, *p++);
		}
		p++; /* closing quote */
		if (sb.len == 0) {
			*why = "zero-length quoted identifier";
			goto fail;
		}
	} else {
		if (!(isalpha((unsigned char)*p) && (unsigned char)*p < 0x80) &&
		    *p != '_') {
			*why = *p ? "an identifier must start with a letter or "
				    "'_'" :
				    "missing identifier";
			goto fail;
		}
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '_' || *p == '$')
			cf_strbuf_addch(&sb,
					(char)tolower((unsigned char)*p++));
	}
	if (sb.len > MAX_IDENT_BYTES) {
		*why = "an identifier may not be longer than 63 bytes";
		goto fail;
	}
	*pp = p;
	return cf_strbuf_detach(&sb);

fail:
	cf_strbuf_release(&sb);
	return NULL;
}

/*
 * Splits "name" or "schema.name" into its parts.  Returns 0 and the parts
 * (caller frees; *schema may be NULL) or -1 and a static reason.
 */
static int
parse_table_name(const char *table, char **schema, char **name,
		 const char **why)
{
	const char *p = table;
	char *first;
	char *second;

	first = parse_ident(&p, why);
	if (!first)
		return -1;
	if (*p == '\0') {
		*schema = NULL;
		*name = first;
		return 0;
	}
	if (*p != '.') {
		*why = "only letters, digits, '_' and '$' may follow the first "
		       "character of an unquoted identifier";
		free(first);
		return -1;
	}
	p++;
	second = parse_ident(&p, why);
	if (!second) {
		free(first);
		return -1;
	}
	if (*p != '\0') {
		*why = *p == '.' ? "at most one '.' (schema.table) is allowed" :
				   "only letters, digits, '_' and '$' may "
				   "follow the first character of an unquoted "
				   "identifier";
		free(first);
		free(second);
		return -1;
	}
	*schema = first;
	*name = second;
	return 0;
}

/* ------------------------------------------------------------------------
 * Public setters
 * ------------------------------------------------------------------------ */

/*
 * See confiture.h.  tracking_schema and tracking_name receive the names as
 * PostgreSQL sees them (bare identifiers folded to lower case, quoted ones
 * without their quotes), ready for cf_quote_ident().  On error cfg is left
 * unchanged.
 */
int
cf_config_set_tracking_table(cf_config *cfg, const char *table, cf_error **err)
{
	char *schema = NULL;
	char *name = NULL;
	const char *why = NULL;
	cf_error *e;

	if (!table || !*table) {
		e = cf_error_new(CF_ERR_CONFIG, "tracking table name is empty");
		cf_error_set_hint(e,
				  "use a name like '%s' or "
				  "'schema.%s'",
				  CF_DEFAULT_TRACKING_TABLE,
				  CF_DEFAULT_TRACKING_TABLE);
		cf_error_set_code(e, "invalid-tracking-table");
		return cf_fail(err, e);
	}
	if (parse_table_name(table, &schema, &name, &why) < 0) {
		e = cf_error_new(CF_ERR_CONFIG,
				 "invalid tracking table name '%s'", table);
		cf_error_set_detail(e, "%s", why);
		cf_error_set_hint(e,
				  "use a name like '%s' or 'schema.%s'; "
				  "double-quote any other identifier",
				  CF_DEFAULT_TRACKING_TABLE,
				  CF_DEFAULT_TRACKING_TABLE);
		cf_error_set_code(e, "invalid-tracking-table");
		return cf_fail(err, e);
	}
	free(cfg->tracking_table);
	free(cfg->tracking_schema);
	free(cfg->tracking_name);
	cfg->tracking_table = cf_strdup(table);
	cfg->tracking_schema = schema;
	cfg->tracking_name = name;
	return 0;
}

/* True when url starts with a scheme libpq accepts as a URI. */
static bool
has_pg_scheme(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 ||
	       strncmp(url, "postgres://", 11) == 0;
}

/*
 * See confiture.h.  Accepted: postgresql:// and postgres:// URLs, and
 * key=value conninfo strings (anything else containing '=' is left for
 * libpq to judge).  Messages show the value redacted.  On error cfg is
 * left unchanged.
 */
int
cf_config_set_database_url(cf_config *cfg, const char *url, cf_error **err)
{
	cf_error *e;

	if (!url || !*url) {
		e = cf_error_new(CF_ERR_CONFIG, "database URL is empty");
		cf_error_set_hint(e, "use a URL like "
				     "postgresql://user@localhost:5432/mydb");
		cf_error_set_code(e, "invalid-database-url");
		return cf_fail(err, e);
	}
	if (!has_pg_scheme(url) && !strchr(url, '=')) {
		char *shown = cf_redact_url(url);

		e = cf_error_new(CF_ERR_CONFIG, "invalid database URL '%s'",
				 shown);
		free(shown);
		cf_error_set_detail(e, "a database URL must start with "
				       "postgresql:// or postgres://, or be a "
				       "key=value connection string");
		cf_error_set_hint(e, "use a URL like "
				     "postgresql://user@localhost:5432/mydb");
		cf_error_set_code(e, "invalid-database-url");
		return cf_fail(err, e);
	}
	free(cfg->database_url);
	cfg->database_url = cf_strdup(url);
	return 0;
}

/*
 * See confiture.h.  The caller owns the result (cf_config_free()).  The
 * database URL is NULL and include_dirs an empty (NULL-terminated) array.
 */
cf_config *
cf_config_new_default(void)
{
	cf_config *cfg = cf_new(cf_config);

	cfg->include_dirs = cf_calloc(1, sizeof(char *));
	cfg->tracking_table = cf_strdup(CF_DEFAULT_TRACKING_TABLE);
	cfg->tracking_name = cf_strdup(CF_DEFAULT_TRACKING_TABLE);
	cfg->lock_timeout_ms = CF_DEFAULT_LOCK_TIMEOUT_MS;
	cfg->locking_enabled = true;
	cfg->preflight_lock_timeout_ms = CF_DEFAULT_PREFLIGHT_LOCK_TIMEOUT_MS;
	cfg->preflight_statement_timeout_ms =
		CF_DEFAULT_PREFLIGHT_STATEMENT_TIMEOUT_MS;
	cf_error_list_init(&cfg->warnings);
	return cfg;
}

/* Frees a NULL-terminated string array and its strings. */
static void
free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Frees cfg and everything it owns, warnings included.  NULL is fine. */
void
cf_config_free(cf_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->name);
	free(cfg->database_url);
	free_strv(cfg->include_dirs);
	free(cfg->tracking_table);
	free(cfg->tracking_schema);
	free(cfg->tracking_name);
	cf_error_list_release(&cfg->warnings);
	free(cfg);
}

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

/* State of one cf_config_load() call. */
typedef struct loader {
	const char *path;
	cf_config *cfg;
	cf_error *err; /* the first error; loading stops there */
} loader;

/* The database: block, kept apart until we know database_url is absent. */
typedef struct db_block {
	struct fy_node *key; /* NULL when there is no block */
	char *host;
	char *database;
	char *user;
	char *password;
	int port;
} db_block;

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
		cf_error_set_detail(e, "found '%s'", s);
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
	cf_error_set_detail(e, "found '%s'", s);
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
			free_strv(v);
			return -1;
		}
		v[n++] = s;
	}
	free_strv(*field);
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

/* migration: {tracking_table, locking} */
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
			cf_error *e = NULL;
			int rc;

			if (scalar_text(ld, "migration.tracking_table", key,
					val, "a string", &table) < 0)
				return -1;
			if (!table)
				continue;
			rc = cf_config_set_tracking_table(ld->cfg, table, &e);
			free(table);
			if (rc < 0)
				return fail_at(ld, key, val, e);
		} else if (strcmp(name, "locking") == 0) {
			int rc = expect_mapping(ld, "migration.locking", key,
						val);

			if (rc < 0 || (rc > 0 && parse_locking(ld, val) < 0))
				return -1;
		} else {
			warn_unknown_key(ld, "migration.", name, key,
					 "tracking_table, locking");
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

/* database: {host, port, database, user, password} into db */
static int
parse_database(loader *ld, struct fy_node *map, db_block *db)
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

/* Appends s percent-encoded (all but RFC 3986 unreserved characters). */
static void
add_percent_encoded(cf_strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) && *p < 0x80)
			cf_strbuf_addch(sb, (char)*p);
		else if (*p == '-' || *p == '.' || *p == '_' || *p == '~')
			cf_strbuf_addch(sb, (char)*p);
		else
			cf_strbuf_addf(sb, "%%%c%c", hex[*p >> 4],
				       hex[*p & 0xF]);
	}
}

/*
 * Builds postgresql://user[:password]@host:port/database from the block,
 * with the Python tool's defaults (localhost, 5432, postgres, postgres, no
 * password).  User, password, database and a socket-directory host are
 * percent-encoded; an IPv6 address is bracketed.  Caller frees.
 */
static char *
database_block_url(const db_block *db)
{
	cf_strbuf sb = CF_STRBUF_INIT;
	const char *host = db->host && *db->host ? db->host : "localhost";
	const char *user = db->user ? db->user : "postgres";
	const char *dbname = db->database ? db->database : "postgres";

	cf_strbuf_addstr(&sb, "postgresql://");
	if (*user) {
		add_percent_encoded(&sb, user);
		if (db->password && *db->password) {
			cf_strbuf_addch(&sb, ':');
			add_percent_encoded(&sb, db->password);
		}
		cf_strbuf_addch(&sb, '@');
	}
	if (host[0] == '[')
		cf_strbuf_addstr(&sb, host);
	else if (strchr(host, ':'))
		cf_strbuf_addf(&sb, "[%s]", host);
	else
		add_percent_encoded(&sb, host);
	cf_strbuf_addf(&sb, ":%d/", db->port);
	add_percent_encoded(&sb, dbname);
	return cf_strbuf_detach(&sb);
}

#define TOP_LEVEL_KEYS                                               \
	"name, database_url, database, include_dirs, exclude_dirs, " \
	"migration, preflight"

/* The top-level mapping. */
static int
parse_root(loader *ld, struct fy_node *root, db_block *db,
	   struct fy_node **url_key)
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
			cf_error *e = NULL;

			if (scalar_text(ld, "database_url", key, val,
					"a string", &url) < 0)
				return -1;
			if (!url)
				continue;
			rc = cf_config_set_database_url(ld->cfg, url, &e);
			free(url);
			if (rc < 0)
				return fail_at(ld, key, val, e);
			*url_key = key;
		} else if (strcmp(name, "database") == 0) {
			rc = expect_mapping(ld, "database", key, val);
			if (rc > 0) {
				db->key = key;
				rc = parse_database(ld, val, db);
			}
		} else if (strcmp(name, "include_dirs") == 0) {
			rc = get_string_list(ld, "include_dirs", key, val,
					     &ld->cfg->include_dirs);
		} else if (strcmp(name, "exclude_dirs") == 0) {
			char **ignored = NULL;

			rc = get_string_list(ld, "exclude_dirs", key, val,
					     &ignored);
			free_strv(ignored);
		} else if (strcmp(name, "migration") == 0) {
			rc = expect_mapping(ld, "migration", key, val);
			if (rc > 0)
				rc = parse_migration(ld, val);
		} else if (strcmp(name, "preflight") == 0) {
			rc = expect_mapping(ld, "preflight", key, val);
			if (rc > 0)
				rc = parse_preflight(ld, val);
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
 * Parses text (which must outlive *in) as a single YAML document with
 * libfyaml, quietly, aliases resolved.  On failure returns -1 with *err
 * located at the parser's line:col: syntax errors, an empty file, or a
 * second document ("---"), which the Python tool's yaml.safe_load()
 * rejects too.
 */
static int
parse_yaml(const char *path, const char *text, size_t len, yaml_input *in,
	   cf_error **err)
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
	in->parser = fy_parser_create(&pcfg);
	if (!in->parser || fy_parser_set_string(in->parser, text, len) != 0)
		abort(); /* out of memory */
	in->doc = fy_parse_load_document(in->parser);
	if (in->doc && !fy_diag_got_error(diag))
		extra = fy_parse_load_document(in->parser);
	failed = fy_diag_got_error(diag) || !in->doc || extra;
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
 * Reads path; a missing file, invalid UTF-8 or a NUL byte is a
 * configuration error.
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
	if (cf_read_file(path, text, len, err) < 0)
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

/*
 * See confiture.h.  Nothing is returned on error: the partial
 * configuration is freed.  database_url stays NULL when the file has
 * neither database_url nor database: (the caller may supply one).
 */
int
cf_config_load(const char *path, cf_config **out, cf_error **err)
{
	char *text = NULL;
	size_t len;
	yaml_input in;
	struct fy_node *root;
	struct fy_node *url_key = NULL;
	db_block db = {NULL, NULL, NULL, NULL, NULL, 5432};
	loader ld = {path, NULL, NULL};
	int rc = -1;

	*out = NULL;
	if (!path || !*path)
		return cf_fail(err,
			       cf_error_new(CF_ERR_USAGE, "no configuration "
							  "file given"));
	if (read_config_file(path, &text, &len, err) < 0)
		return -1;
	if (parse_yaml(path, text, len, &in, err) < 0) {
		free(text);
		return -1;
	}

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

	ld.cfg = cf_config_new_default();
	ld.cfg->path = cf_strdup(path);
	if (parse_root(&ld, root, &db, &url_key) < 0) {
		cf_fail(err, ld.err);
		goto done;
	}
	if (!ld.cfg->name)
		ld.cfg->name = file_stem(path);
	if (db.key && url_key) {
		cf_error *w = cf_warning_new("both 'database_url' and "
					     "'database' are set; using "
					     "'database_url'");

		cf_error_set_hint(w, "remove one of them");
		cf_error_set_code(w, "database-url-and-block");
		add_warning(&ld, db.key, w);
	} else if (db.key) {
		free(ld.cfg->database_url);
		ld.cfg->database_url = database_block_url(&db);
	}
	*out = ld.cfg;
	ld.cfg = NULL;
	rc = 0;

done:
	cf_config_free(ld.cfg);
	free(db.host);
	free(db.database);
	free(db.user);
	free(db.password);
	yaml_input_release(&in);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------------
 * Environments
 * ------------------------------------------------------------------------ */

/* [A-Za-z0-9][A-Za-z0-9_.-]*, without "..". */
static bool
valid_env_name(const char *name)
{
	if (!isalnum((unsigned char)name[0]) || (unsigned char)name[0] >= 0x80)
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(c < 0x80 &&
		      (isalnum(c) || c == '_' || c == '.' || c == '-')))
			return false;
	}
	return strstr(name, "..") == NULL;
}

/* qsort comparator for an array of strings */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The environments present in dir (stems of its *.yaml files), sorted and
 * joined with ", ", or NULL when there are none.  Caller frees.
 */
static char *
list_environments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	size_t alloc = 0;
	cf_strbuf sb = CF_STRBUF_INIT;

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		CF_GROW(names, alloc, n + 1);
		names[n++] = cf_strndup(de->d_name, len - 5);
	}
	closedir(d);
	if (n == 0) {
		free(names);
		return NULL;
	}
	qsort(names, n, sizeof(char *), compare_strings);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			cf_strbuf_addstr(&sb, ", ");
		cf_strbuf_addstr(&sb, names[i]);
		free(names[i]);
	}
	free(names);
	return cf_strbuf_detach(&sb);
}

/*
 * See confiture.h.  project_dir NULL means ".".  A missing file is a
 * CF_ERR_CONFIG error whose hint lists the environments that do exist.
 */
int
cf_config_load_env(const char *project_dir, const char *env_name,
		   cf_config **out, cf_error **err)
{
	char *dir;
	char *path;
	cf_error *e;
	int rc;

	*out = NULL;
	if (!env_name || !valid_env_name(env_name)) {
		e = cf_error_new(CF_ERR_USAGE, "invalid environment name '%s'",
				 env_name ? env_name : "");
		cf_error_set_detail(e, "an environment name starts with a "
				       "letter or digit and contains only "
				       "letters, digits, '_', '.' and '-' "
				       "(no '/' or '..')");
		cf_error_set_hint(e, "give the name of a file in "
				     "db/environments without .yaml, e.g. "
				     "--env local");
		cf_error_set_code(e, "invalid-env-name");
		return cf_fail(err, e);
	}
	/* "db/environments", not "./db/environments", in messages */
	if (!project_dir || !*project_dir || strcmp(project_dir, ".") == 0)
		dir = cf_strdup("db/environments");
	else
		dir = cf_asprintf("%s/db/environments", project_dir);
	path = cf_asprintf("%s/%s.yaml", dir, env_name);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		char *envs = list_environments(dir);
		size_t len = strlen(env_name);

		e = cf_error_new(CF_ERR_CONFIG, "environment '%s' not found",
				 env_name);
		cf_error_set_detail(e, "file '%s' does not exist", path);
		if (envs && len > 5 && strcmp(env_name + len - 5, ".yaml") == 0)
			cf_error_set_hint(e,
					  "leave out the .yaml suffix: "
					  "--env %.*s (available "
					  "environments: %s)",
					  (int)(len - 5), env_name, envs);
		else if (envs)
			cf_error_set_hint(e, "available environments: %s",
					  envs);
		else
			cf_error_set_hint(e,
					  "no environments exist in '%s'; "
					  "run 'confiture init' to create "
					  "one",
					  dir);
		cf_error_set_code(e, "env-not-found");
		free(envs);
		free(dir);
		free(path);
		return cf_fail(err, e);
	}
	rc = cf_config_load(path, out, err);
	free(dir);
	free(path);
	return rc;
}
