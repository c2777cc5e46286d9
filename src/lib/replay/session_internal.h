/*
 * session_internal.h — the cf_session struct, shared by session.c and the
 * preflight code that drives the same session.  Not installed.
 */
#ifndef CF_SESSION_INTERNAL_H
#define CF_SESSION_INTERNAL_H

#include "db/db.h"

struct cf_session {
	cf_config *cfg;
	cf_migration_set *set;
	char *redacted_url;
	char *conn_options; /* startup "options", e.g. timeouts; or NULL */
	PGconn *conn;
	bool locked;
	int postgres_version; /* --postgres-version, or 0 */
};

/* session.c */
int cf_session_connect(cf_session *s, cf_error **err);
void cf_session_disconnect(cf_session *s);
bool cf_session_numeric(const cf_session *s);
/* What a command does with the files it acts on (cf_session_check_files). */
typedef enum cf_file_use {
	CF_FILES_RUN_UP,   /* runs the up files */
	CF_FILES_RUN_DOWN, /* runs the down files */
	CF_FILES_RECORD,   /* records the up files' checksums (baseline) */
} cf_file_use;

int cf_session_check_files(cf_session *s, const bool *acted, cf_file_use use,
			   cf_error **err);
void cf_session_report_other_files(cf_session *s, const cf_progress *progress,
				   cf_error_list *to);
int cf_session_verify_checksums(cf_session *s, const cf_applied_list *applied,
				cf_checksum_policy policy,
				cf_error_list *found);
/* Whether a pending version is older than an applied one (a merged
 * branch's migration, "out of order"). */
bool cf_session_out_of_order(cf_session *s, const cf_applied_list *applied,
			     const char *version);

#endif /* CF_SESSION_INTERNAL_H */
