/*
 * config/config.h — what yaml.c (reading an environment file) and
 * environment.c (the configuration model) share.  Not installed.
 */
#ifndef CF_CONFIG_CONFIG_H
#define CF_CONFIG_CONFIG_H

#include "base/base.h"

/* A database: block's values, kept apart until we know database_url is
 * absent; every string is owned (NULL when the key is absent). */
typedef struct cf_db_block {
	char *host;
	char *database;
	char *user;
	char *password;
	int port;
} cf_db_block;

/* environment.c */
/*
 * cf_config_set_tracking_table() and cf_config_set_database_url() whose
 * messages show shown instead of the value (the file's "${VAR}" text for
 * a value from the environment; NULL: the value, a URL redacted).
 */
int cf_config_set_tracking_table_as(cf_config *cfg, const char *table,
				    const char *shown, cf_error **err);
int cf_config_set_database_url_as(cf_config *cfg, const char *url,
				  const char *shown, cf_error **err);
/* Frees a NULL-terminated string array and its strings.  NULL is fine. */
void cf_strv_free(char **v);
/* postgresql://user[:password]@host:port/database from db.  Caller frees. */
char *cf_db_block_url(const cf_db_block *db);

#endif /* CF_CONFIG_CONFIG_H */
