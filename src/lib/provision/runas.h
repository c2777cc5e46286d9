/*
 * runas.h — who the embedded server's processes run as and how they are
 * started: as root, the "postgres" system user; always with a minimal
 * environment of their own.  Not installed.
 */
#ifndef CF_PROVISION_RUNAS_H
#define CF_PROVISION_RUNAS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/base.h"

/* Who the server processes run as. */
struct cf_runas {
	bool switch_user; /* we are root: become "postgres" in children */
	uid_t uid;
	gid_t gid;
};

/* Running as ourselves, e.g. for --version: no user switch. */
extern const struct cf_runas cf_runas_self;

/* Root runs the server as "postgres"; everyone else as themselves. */
int cf_runas_resolve(struct cf_runas *ru, cf_error **err);

/*
 * The whole environment of the server's processes (NULL-terminated NAME=
 * VALUE strings): see runas.c.  Free with cf_child_env_free().
 */
char **cf_child_env(const struct cf_runas *ru);
void cf_child_env_free(char **env);

/*
 * In a forked child: becomes ru in directory cwd, stdin /dev/null,
 * stdout/stderr to out_fd (or /dev/null), every other fd closed.  Exits
 * 126 on failure.
 */
void cf_child_setup(const struct cf_runas *ru, const char *cwd, int out_fd);

/*
 * In a forked child: cf_child_setup(), then stdout/stderr to log_path
 * (opened as ru, never through a link, O_TRUNC or O_APPEND in log_flags),
 * then execs argv with env.  Never returns.
 */
void cf_child_exec_logged(const struct cf_runas *ru, const char *cwd,
			  const char *log_path, int log_flags,
			  const char *const *argv, char **env)
	__attribute__((noreturn));

/*
 * Runs argv[0] (absolute path) as ru in its own process group with
 * cf_child_env() and waits; output to log_path (opened by the child, never
 * through a link) or into *capture.  The wait status, or -1.
 */
int cf_run_wait(const struct cf_runas *ru, const char *cwd,
		const char *const *argv, const char *log_path,
		cf_strbuf *capture);

/* cf_remove_tree() as ru, in a child; the wait status (0: done). */
int cf_remove_tree_as(const struct cf_runas *ru, const char *cwd,
		      const char *path);

/* cf_remove_tree() of a directory of the embedded server, as the user the
 * server runs as (never as root through a directory it could swap). */
int cf_remove_server_tree(const char *path);

/* "exit status 1", "killed by signal 9"; caller frees. */
char *cf_status_text(int status);

#endif /* CF_PROVISION_RUNAS_H */
