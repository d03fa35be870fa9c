// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket, for real, in a temporary run dir: a dump round trip,
 * error replies, bad request lines, permissions, refused paths, stale
 * sockets, and `asyncscope dump` itself.  A client that blocks on its
 * reply runs in a forked child; raw clients connect in-process (a unix
 * connect completes on the listen backlog, before the accept).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "control.h"

#define NOBODY	65534

static char base[64];		/* the temporary directory */
static char run[96];		/* base/run: the run dir under test */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/asyncscope-ctl.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(run, sizeof(run), "%s/run", base);
	umask(022);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv(CONTROL_RUN_DIR_ENV);
	return 0;
}

struct dumper {
	int calls;
	int ret;		/* what fn returns */
	const char *write;	/* what fn puts in path_out */
};

static int dump_fn(void *ctx, char *path_out, size_t size)
{
	struct dumper *d = ctx;

	d->calls++;
	/* the buffer comes zeroed */
	for (size_t i = 0; i < size; i++)
		if (path_out[i])
			return -EFAULT;
	if (d->write)
		snprintf(path_out, size, "%s", d->write);
	return d->ret;
}

/* Wait for a client, serve it. */
static void serve_one(struct control *c, struct dumper *d)
{
	struct pollfd p = { .fd = control__fd(c), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(control__handle(c, dump_fn, d), 0);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send a request (len bytes) from a raw client, serve it, return the reply. */
static void raw_request(struct control *c, struct dumper *d, const char *req, size_t len,
			int shut, char *reply, size_t size)
{
	int fd = raw_connect(control__path(c));
	ssize_t n, got = 0;

	if (len)
		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	serve_one(c, d);
	while ((n = recv(fd, reply + got, size - 1 - got, 0)) > 0)
		got += n;
	reply[got] = '\0';
	close(fd);
}

/* What a forked client got: rc, then the path, then the message. */
struct result {
	int rc;
	char path[PATH_MAX];
	char err[512];
};

static pid_t fork_client(const char *sock, int pipefd[2])
{
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct result r = {};

		close(pipefd[0]);
		r.rc = control__request_dump(sock, r.path, sizeof(r.path), r.err, sizeof(r.err));
		_exit(write(pipefd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(pipefd[1]);
	return pid;
}

static void wait_client(pid_t pid, int fd, struct result *r)
{
	int status;

	assert_int_equal(read(fd, r, sizeof(*r)), sizeof(*r));
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_listen_perms(void **state)
{
	struct control *c = NULL;
	char want[PATH_MAX];
	struct stat st;

	(void)state;
	assert_int_equal(control__listen_at(run, &c), 0);
	assert_non_null(c);
	snprintf(want, sizeof(want), "%s/record-%d.sock", run, (int)getpid());
	assert_string_equal(control__path(c), want);
	assert_int_equal(lstat(run, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(lstat(want, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* nobody waiting */
	assert_int_equal(control__handle(c, dump_fn, NULL), -EAGAIN);
	control__free(c);
	assert_int_equal(lstat(want, &st), -1);
	assert_int_equal(errno, ENOENT);
	control__free(NULL);

	/* an existing dir of ours, too open, is tightened */
	assert_int_equal(chmod(run, 0755), 0);
	assert_int_equal(control__listen_at(run, &c), 0);
	assert_int_equal(lstat(run, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	control__free(c);
}

static void test_round_trip(void **state)
{
	struct dumper d = { .write = "/var/tmp/asyncscope-flight-20250101-120000.asyncscope" };
	struct control *c = NULL;
	char sock[PATH_MAX];
	struct result r;
	int fd[2];
	pid_t pid;

	(void)state;
	assert_int_equal(control__listen_at(run, &c), 0);
	pid = fork_client(control__path(c), fd);
	serve_one(c, &d);
	wait_client(pid, fd[0], &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.path, d.write);
	assert_string_equal(r.err, "");
	assert_int_equal(d.calls, 1);

	/* the socket serves again */
	d.write = "/var/tmp/second";
	pid = fork_client(control__path(c), fd);
	serve_one(c, &d);
	wait_client(pid, fd[0], &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.path, "/var/tmp/second");
	assert_int_equal(d.calls, 2);
	snprintf(sock, sizeof(sock), "%s", control__path(c));
	control__free(c);

	/* gone with its recorder */
	assert_int_equal(control__request_dump(sock, r.path, sizeof(r.path), r.err, sizeof(r.err)),
			 -ENOENT);
}

static void test_error_reply(void **state)
{
	struct dumper d = { .ret = -ENOSPC };
	struct control *c = NULL;
	struct result r;
	char reply[256];
	int fd[2];
	pid_t pid;

	(void)state;
	assert_int_equal(control__listen_at(run, &c), 0);
	pid = fork_client(control__path(c), fd);
	serve_one(c, &d);
	wait_client(pid, fd[0], &r);
	assert_int_equal(r.rc, -EREMOTEIO);
	assert_string_equal(r.err, "No space left on device");

	/* the dump's own message, kept to one line */
	d.write = "cannot create '/var/tmp/x': Read-only file system\nsecond line";
	d.ret = -EROFS;
	pid = fork_client(control__path(c), fd);
	serve_one(c, &d);
	wait_client(pid, fd[0], &r);
	assert_int_equal(r.rc, -EREMOTEIO);
	assert_string_equal(r.err, "cannot create '/var/tmp/x': Read-only file system?second line");

	/* success without a path is an error */
	d.write = NULL;
	d.ret = 0;
	raw_request(c, &d, "dump\n", 5, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error the dump named no file\n");
	assert_int_equal(d.calls, 3);
	control__free(c);
}

static void test_bad_request(void **state)
{
	struct dumper d = { .write = "/x" };
	struct control *c = NULL;
	char reply[256], big[100];
	uint64_t t0;

	(void)state;
	assert_int_equal(control__listen_at(run, &c), 0);
	raw_request(c, &d, "bogus\n", 6, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error unknown request 'bogus': expected 'dump'\n");
	raw_request(c, &d, "du\001mp\n", 6, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error unknown request 'du?mp': expected 'dump'\n");
	raw_request(c, &d, "dump extra\n", 11, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error unknown request 'dump extra': expected 'dump'\n");
	memset(big, 'a', sizeof(big));
	raw_request(c, &d, big, sizeof(big), 0, reply, sizeof(reply));
	assert_string_equal(reply, "error request line too long\n");
	/* "dump" then a NUL: not a dump request (found by fuzz_control) */
	raw_request(c, &d, "dump\0x\n", 7, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error a NUL byte in the request line\n");
	/* closed before the newline */
	raw_request(c, &d, "dump", 4, 1, reply, sizeof(reply));
	assert_string_equal(reply, "error no request line\n");
	/* silent: given up on after CONTROL_REQUEST_TIMEOUT_MS, not waited for */
	t0 = now_ns();
	raw_request(c, &d, NULL, 0, 0, reply, sizeof(reply));
	assert_string_equal(reply, "error timed out waiting for a request line\n");
	assert_true(now_ns() - t0 >= CONTROL_REQUEST_TIMEOUT_MS * 1000000ull);
	assert_true(now_ns() - t0 < 3 * CONTROL_REQUEST_TIMEOUT_MS * 1000000ull);
	assert_int_equal(d.calls, 0);
	/* and a good one still works */
	raw_request(c, &d, "dump\n", 5, 0, reply, sizeof(reply));
	assert_string_equal(reply, "ok /x\n");
	assert_int_equal(d.calls, 1);
	control__free(c);
}

static void test_refused_paths(void **state)
{
	char real[128], sock[PATH_MAX], file[128], path[64], err[256];
	struct control *c = NULL;
	struct stat st;
	int fd;

	(void)state;
	/* the run dir a symlink to a good dir */
	snprintf(real, sizeof(real), "%s/real", base);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, run), 0);
	assert_int_equal(control__listen_at(run, &c), -ELOOP);
	assert_null(c);
	assert_int_equal(lstat(run, &st), 0);
	assert_true(S_ISLNK(st.st_mode));	/* untouched */

	/* a file, not a dir */
	snprintf(file, sizeof(file), "%s/file", base);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(control__listen_at(file, &c), -ENOTDIR);

	/* the socket path a symlink, or a file that is not a socket */
	assert_int_equal(control__socket_path(real, getpid(), sock, sizeof(sock)), 0);
	assert_int_equal(symlink(file, sock), 0);
	assert_int_equal(control__listen_at(real, &c), -ELOOP);
	assert_int_equal(control__request_dump(sock, path, sizeof(path), err, sizeof(err)), -ELOOP);
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(unlink(sock), 0);
	assert_int_equal(rename(file, sock), 0);
	assert_int_equal(control__listen_at(real, &c), -EEXIST);
	assert_int_equal(control__request_dump(sock, path, sizeof(path), err, sizeof(err)), -ENOTSOCK);

	/* a socket path too long for sun_path: refused before anything is created */
	snprintf(sock, sizeof(sock), "%s/%0150d", base, 0);
	assert_int_equal(control__listen_at(sock, &c), -ENAMETOOLONG);
	assert_int_equal(lstat(sock, &st), -1);
	assert_int_equal(control__socket_path(sock, 1, path, sizeof(path)), -ENAMETOOLONG);
}

/* Root only: another user's dir is refused, another user's client is turned away. */
static void test_other_users(void **state)
{
	struct dumper d = { .write = "/x" };
	struct control *c = NULL;
	char reply[256] = "";
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(chown(run, NOBODY, NOBODY), 0);
	assert_int_equal(control__listen_at(run, &c), -EPERM);
	assert_int_equal(chown(run, 0, 0), 0);

	assert_int_equal(control__listen_at(run, &c), 0);
	/* open the door, so that only SO_PEERCRED stands in the way */
	assert_int_equal(chmod(base, 0755), 0);
	assert_int_equal(chmod(run, 0755), 0);
	assert_int_equal(chmod(control__path(c), 0666), 0);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256];
		int s;

		close(fd[0]);
		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(2);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sa.sun_path, control__path(c));
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(3);
		/* the server may have replied and closed already */
		send(s, "dump\n", 5, MSG_NOSIGNAL);
		n = recv(s, buf, sizeof(buf), MSG_WAITALL);
		_exit(n > 0 && write(fd[1], buf, n) == n ? 0 : 4);
	}
	close(fd[1]);
	serve_one(c, &d);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	n = read(fd[0], reply, sizeof(reply) - 1);
	assert_true(n > 0);
	close(fd[0]);
	assert_string_equal(reply, "error permission denied: only root may control the recorder\n");
	assert_int_equal(d.calls, 0);
	control__free(c);
}

/* A socket file left at path by nobody listening. */
static void dead_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_stale_and_find(void **state)
{
	char dead[PATH_MAX], live[PATH_MAX], odd[PATH_MAX], path[64], err[256];
	pid_t dpid = dead_pid(), ppid = getppid(), *pids = NULL;
	struct control *c = NULL;
	struct stat st;
	size_t n = 9;

	(void)state;
	/* no run dir yet: no recorders */
	assert_int_equal(control__find(run, &pids, &n), 0);
	assert_int_equal(n, 0);
	assert_null(pids);

	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(control__socket_path(run, dpid, dead, sizeof(dead)), 0);
	assert_int_equal(control__socket_path(run, ppid, live, sizeof(live)), 0);
	dead_socket(dead);
	dead_socket(live);	/* a live process, but no recorder */
	snprintf(odd, sizeof(odd), "%s/record-0%d.sock", run, (int)ppid);
	dead_socket(odd);	/* not a name we make */
	snprintf(odd, sizeof(odd), "%s/record-x.sock", run);
	dead_socket(odd);

	assert_int_equal(control__find(run, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], ppid);
	free(pids);
	assert_int_equal(control__request_dump(live, path, sizeof(path), err, sizeof(err)), -ECONNREFUSED);

	/* listening clears the dead recorder's socket, not the others */
	assert_int_equal(control__listen_at(run, &c), 0);
	assert_int_equal(lstat(dead, &st), -1);
	assert_int_equal(lstat(live, &st), 0);
	assert_int_equal(lstat(odd, &st), 0);
	assert_int_equal(control__find(run, &pids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], ppid < getpid() ? ppid : getpid());
	assert_int_equal(pids[1], ppid < getpid() ? getpid() : ppid);
	free(pids);

	/* a stale socket with our own pid is replaced */
	control__free(c);
	assert_int_equal(control__socket_path(run, getpid(), live, sizeof(live)), 0);
	dead_socket(live);
	assert_int_equal(control__listen_at(run, &c), 0);
	control__free(c);
}

/* Run `asyncscope dump ARGS` in a child; its stdout into out, exit code returned. */
static int run_dump(struct control *c, struct dumper *d, char *out, size_t size, int argc, ...)
{
	char *argv[8] = { "dump" };
	int fd[2], status;
	ssize_t n, got = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, argc);
	for (int i = 1; i < argc && i < 7; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	assert_int_equal(pipe(fd), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fd[0]);
		dup2(fd[1], STDOUT_FILENO);
		_exit(cmd_dump(argc, argv));
	}
	close(fd[1]);
	if (c)
		serve_one(c, d);
	while ((n = read(fd[0], out + got, size - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_cmd_dump(void **state)
{
	struct dumper d = { .write = "/var/tmp/flight-1.asyncscope" };
	struct control *c = NULL;
	char out[512], pid[16];

	(void)state;
	assert_int_equal(setenv(CONTROL_RUN_DIR_ENV, run, 1), 0);
	assert_string_equal(control__run_dir(), run);
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 2, "extra"), EXIT_USAGE);
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 3, "-p", "abc"), EXIT_USAGE);
	if (geteuid() != 0) {
		assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 1), EXIT_PRIVILEGE);
		return;
	}
	/* no run dir, then an empty one */
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 1), EXIT_TARGET);
	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 1), EXIT_TARGET);
	assert_string_equal(out, "");

	assert_int_equal(control__listen_at(run, &c), 0);
	assert_int_equal(run_dump(c, &d, out, sizeof(out), 1), EXIT_OK);
	assert_string_equal(out, "/var/tmp/flight-1.asyncscope\n");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(run_dump(c, &d, out, sizeof(out), 3, "-p", pid), EXIT_OK);
	assert_string_equal(out, "/var/tmp/flight-1.asyncscope\n");
	/* another pid: nobody to ask */
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 3, "--pid", "1"), EXIT_TARGET);
	/* the recorder's error */
	d.ret = -ENOSPC;
	d.write = NULL;
	assert_int_equal(run_dump(c, &d, out, sizeof(out), 1), EXIT_IO);
	assert_string_equal(out, "");
	assert_int_equal(d.calls, 3);
	control__free(c);
	assert_int_equal(run_dump(NULL, NULL, out, sizeof(out), 1), EXIT_TARGET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_perms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_dump, setup, teardown),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
