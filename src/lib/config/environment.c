/*
 * environment.c — the configuration model: defaults, the setters used for
 * command-line overrides (database URL, tracking table) and the URL built
 * from a database: block.  Reading the file is yaml.c; finding it by
 * environment name is lookup.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

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
	return cf_config_set_tracking_table_as(cfg, table, table, err);
}

/* See config/config.h. */
int
cf_config_set_tracking_table_as(cf_config *cfg, const char *table,
				const char *shown, cf_error **err)
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
				 "invalid tracking table name '%s'", shown);
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

/* True when url starts with "scheme://" (RFC 3986 scheme characters). */
static bool
has_url_scheme(const char *url)
{
	const char *p = url;

	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	       *p == '.')
		p++;
	return strncmp(p, "://", 3) == 0;
}

/*
 * A URL of another scheme shown in an error: whatever stands before its
 * last '@' (user, password, token) is left out, the rest redacted as
 * usual.  Caller frees.
 */
static char *
without_userinfo(const char *url)
{
	const char *auth = strstr(url, "://");
	const char *at = NULL;
	char *cut, *shown;

	if (!auth)
		return cf_redact_url(url);
	auth += 3;
	/* up to the query, not the path: a password may hold a raw '/' */
	for (const char *p = auth; *p && !strchr("?#", *p); p++)
		if (*p == '@')
			at = p;
	if (!at)
		return cf_redact_url(url);
	cut = cf_asprintf("%.*s%s", (int)(auth - url), url, at + 1);
	shown = cf_redact_url(cut);
	free(cut);
	return shown;
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
	return cf_config_set_database_url_as(cfg, url, NULL, err);
}

/* See config/config.h. */
int
cf_config_set_database_url_as(cf_config *cfg, const char *url,
			      const char *shown, cf_error **err)
{
	cf_error *e;

	if (!url || !*url) {
		e = cf_error_new(CF_ERR_CONFIG, "database URL is empty");
		cf_error_set_hint(e, "use a URL like "
				     "postgresql://user@localhost:5432/mydb");
		cf_error_set_code(e, "invalid-database-url");
		return cf_fail(err, e);
	}
	if (!has_pg_scheme(url) && (has_url_scheme(url) || !strchr(url, '='))) {
		char *red = shown ? cf_strdup(shown) : without_userinfo(url);

		e = cf_error_new(CF_ERR_CONFIG, "invalid database URL '%s'",
				 red);
		free(red);
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
	cfg->migration_lock_timeout_ms = CF_DEFAULT_MIGRATION_LOCK_TIMEOUT_MS;
	cfg->migration_lock_retries = CF_DEFAULT_MIGRATION_LOCK_RETRIES;
	cfg->preflight_lock_timeout_ms = CF_DEFAULT_PREFLIGHT_LOCK_TIMEOUT_MS;
	cfg->preflight_statement_timeout_ms =
		CF_DEFAULT_PREFLIGHT_STATEMENT_TIMEOUT_MS;
	cf_error_list_init(&cfg->warnings);
	return cfg;
}

/* See config/config.h. */
void
cf_strv_free(char **v)
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
	cf_strv_free(cfg->include_dirs);
	free(cfg->tracking_table);
	free(cfg->tracking_schema);
	free(cfg->tracking_name);
	for (size_t i = 0; i < cfg->n_lint_grades; i++)
		free(cfg->lint_grades[i].rule);
	free(cfg->lint_grades);
	cf_error_list_release(&cfg->warnings);
	free(cfg);
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
char *
cf_db_block_url(const cf_db_block *db)
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
