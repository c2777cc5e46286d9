/*
 * runas.c — who the embedded server's processes run as, and starting them.
 *
 * As root, initdb and postgres refuse to run, so they run as the "postgres"
 * system user, or the one $CONFITURE_SERVER_USER names (fork, setgroups,
 * setgid, setuid, exec): a user of its own keeps SQL on the server away
 * from the files of the system's own PostgreSQL, which "postgres" owns.  Every process of
 * the server gets a minimal environment of its own (cf_child_env): SQL
 * running on the server can start programs (COPY ... PROGRAM), and they
 * must find nothing of the invoking user's there.
 *
 * Children run in their own process group with output captured to log
 * files, so a Ctrl-C at the terminal never interrupts initdb half way.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "provision/runas.h"

const struct cf_runas cf_runas_self = {false, 0, 0};

/* Whether an inherited TZ is a plain zone name, safe to pass on. */
static bool
tz_plain(const char *tz)
{
	size_t n = strlen(tz);

	return n > 0 && n < 64 &&
	       strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789/_+-:.,") == n;
}

/*
 * The whole environment of the server's processes (initdb, postgres and
 * what SQL starts through COPY ... PROGRAM): a fixed PATH, the C locale,
 * the run user's own HOME, TZ when plain, and LD_LIBRARY_PATH for binaries
 * built elsewhere.  Nothing else of ours (PGPASSWORD, tokens, cloud keys)
 * reaches it.  NULL-terminated; free with cf_child_env_free().
 */
char **
cf_child_env(const struct cf_runas *ru)
{
	const struct passwd *pw = getpwuid(ru->switch_user ? ru->uid :
							     geteuid());
	const char *tz = getenv("TZ"), *ld = getenv("LD_LIBRARY_PATH");
	char **env = cf_calloc(8, sizeof(char *));
	size_t n = 0;

	env[n++] = cf_strdup(
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[n++] = cf_strdup("LC_ALL=C");
	env[n++] = cf_asprintf("HOME=%s",
			       pw && pw->pw_dir ? pw->pw_dir : "/nonexistent");
	if (tz && tz_plain(tz))
		env[n++] = cf_asprintf("TZ=%s", tz);
	if (ld && *ld)
		env[n++] = cf_asprintf("LD_LIBRARY_PATH=%s", ld);
	env[n] = NULL;
	return env;
}

void
cf_child_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/*
 * Turns a child into the run user in directory cwd, stdin from /dev/null and
 * stdout/stderr to out_fd (or /dev/null), every other fd closed.  Never
 * returns on failure: exits 126.
 */
void
cf_child_setup(const struct cf_runas *ru, const char *cwd, int out_fd)
{
	int null_fd = open("/dev/null", O_RDWR);

	if (null_fd < 0)
		_exit(126);
	if (out_fd < 0)
		out_fd = null_fd;
	if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(126);
	/* fds of the caller (connections, our lock files) stay behind */
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	if (ru->switch_user) {
		if (setgroups(1, &ru->gid) < 0 || setgid(ru->gid) < 0 ||
		    setuid(ru->uid) < 0)
			_exit(126);
	}
	if (cwd && chdir(cwd) < 0)
		_exit(126);
}

void
cf_child_exec_logged(const struct cf_runas *ru, const char *cwd,
		     const char *log_path, int log_flags,
		     const char *const *argv, char **env)
{
	int out;

	/* open as the run user: never follow a link as root */
	cf_child_setup(ru, cwd, -1);
	out = open(log_path, O_WRONLY | O_CREAT | O_NOFOLLOW | log_flags, 0600);
	if (out < 0)
		_exit(126);
	dup2(out, 1);
	dup2(out, 2);
	close(out);
	execve(argv[0], (char *const *)argv, env);
	dprintf(2, "confiture: cannot execute '%s': %s\n", argv[0],
		strerror(errno));
	_exit(127);
}

/*
 * Runs argv[0] (absolute path) as the run user in its own process group and
 * waits for it.  Output goes to log_path (truncated and opened by the child,
 * as the run user) or, with capture, into *capture.  Returns the wait
 * status, or -1 when the process could not be created.
 */
int
cf_run_wait(const struct cf_runas *ru, const char *cwd, const char *const *argv,
	    const char *log_path, cf_strbuf *capture)
{
	int pfd[2] = {-1, -1};
	int status = 0;
	char **env;
	pid_t pid;

	if (capture && pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	env = cf_child_env(ru);
	pid = fork();
	if (pid < 0) {
		if (capture) {
			close(pfd[0]);
			close(pfd[1]);
		}
		cf_child_env_free(env);
		return -1;
	}
	if (pid == 0) {
		int out = pfd[1];

		setpgid(0, 0);
		if (log_path)
			cf_child_exec_logged(ru, cwd, log_path, O_TRUNC, argv,
					     env);
		cf_child_setup(ru, cwd, out);
		execve(argv[0], (char *const *)argv, env);
		dprintf(2, "confiture: cannot execute '%s': %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	cf_child_env_free(env);
	if (capture) {
		char buf[4096];
		ssize_t n;

		close(pfd[1]);
		while ((n = read(pfd[0], buf, sizeof(buf))) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			cf_strbuf_add(capture, buf, (size_t)n);
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/*
 * cf_remove_tree() as the run user, in a child: as root, never delete through
 * a directory the "postgres" user could swap for a link.  Returns the wait
 * status (0 on success).
 */
int
cf_remove_tree_as(const struct cf_runas *ru, const char *cwd, const char *path)
{
	int status = 0;
	pid_t pid;

	if (!ru->switch_user)
		return cf_remove_tree(path) < 0 ? -1 : 0;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		cf_child_setup(ru, cwd, -1);
		_exit(cf_remove_tree(path) < 0 ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/* "exit status 1", "killed by signal 9": for error details. */
char *
cf_status_text(int status)
{
	if (status < 0)
		return cf_asprintf("could not run it: %s", strerror(errno));
	if (WIFEXITED(status))
		return cf_asprintf("exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return cf_asprintf("killed by signal %d", WTERMSIG(status));
	return cf_asprintf("wait status %d", status);
}

/* ------------------------------------------------------------- run user */

/* Root runs the server as "postgres"; everyone else as themselves. */
int
cf_runas_resolve(struct cf_runas *ru, cf_error **err)
{
	const char *name = getenv("CONFITURE_SERVER_USER");
	const struct passwd *pw;

	ru->switch_user = geteuid() == 0;
	ru->uid = geteuid();
	ru->gid = getegid();
	if (!ru->switch_user)
		return 0;
	if (!name || !*name)
		name = "postgres";
	pw = getpwnam(name);
	if (!pw) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG,
			"running as root but there is no '%s' system user",
			name);
		cf_error_set_detail(
			e,
			"PostgreSQL refuses to run as root, so the embedded server runs as '%s'",
			name);
		cf_error_set_hint(
			e,
			"install the PostgreSQL server package (it creates the user 'postgres'), "
			"set CONFITURE_SERVER_USER to a user of its own, run confiture as "
			"a regular user, or pass --server URL to use an existing server");
		return cf_fail(err, e);
	}
	if (pw->pw_uid == 0) {
		cf_error *e = cf_error_new(
			CF_ERR_CONFIG, "the '%s' system user has uid 0", name);
		cf_error_set_hint(
			e,
			"set CONFITURE_SERVER_USER to another user, or run confiture as a regular user");
		return cf_fail(err, e);
	}
	ru->uid = pw->pw_uid;
	ru->gid = pw->pw_gid;
	return 0;
}

int
cf_remove_server_tree(const char *path)
{
	struct cf_runas ru;

	if (cf_runas_resolve(&ru, NULL) < 0)
		return -1;
	return cf_remove_tree_as(&ru, "/", path) == 0 ? 0 : -1;
}
