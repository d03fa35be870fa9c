// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The recorder's control socket: a unix stream socket in a root-only
 * directory, one request line and one reply line per connection.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "array.h"
#include "cli.h"
#include "control.h"
#include "log.h"

#define REQUEST_MAX	64	/* bytes of a request line, newline included */
#define REPLY_MAX	4200	/* "ok " + PATH_MAX + newline, with room */

struct control {
	int fd;			/* the listening socket */
	int dirfd;		/* the run dir, checked */
	char name[32];		/* record-<pid>.sock, in dirfd */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;		/* the socket file we bound, to unlink only ours */
	ino_t ino;
};

const char *control__run_dir(void)
{
	const char *dir = getenv(CONTROL_RUN_DIR_ENV);

	return dir && *dir ? dir : CONTROL_RUN_DIR;
}

int control__socket_path(const char *dir, pid_t pid, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/record-%d.sock", dir, (int)pid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* "record-<pid>.sock" -> pid; 0 if name is anything else. */
static pid_t socket_pid(const char *name)
{
	static const char pre[] = "record-", suf[] = ".sock";
	size_t len = strlen(name), plen = sizeof(pre) - 1, slen = sizeof(suf) - 1;
	char num[16];
	uint64_t v;

	if (len <= plen + slen || len - plen - slen >= sizeof(num) || strncmp(name, pre, plen) ||
	    strcmp(name + len - slen, suf))
		return 0;
	memcpy(num, name + plen, len - plen - slen);
	num[len - plen - slen] = '\0';
	/* decimal only: parse_u64 would take 0x and leading zeros (octal) */
	if (num[0] < '1' || num[0] > '9' || strspn(num, "0123456789") != strlen(num) ||
	    parse_u64(num, 1, 0x7fffffff, &v))
		return 0;
	return (pid_t)v;
}

/*
 * Open a directory, not through a symbolic link: an fd, or -ELOOP for a
 * symlink (open says ENOTDIR when O_DIRECTORY meets one), -ENOTDIR, ...
 */
static int open_dir_nofollow(const char *dir)
{
	struct stat st;
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = -errno;
	if (err == -ENOTDIR && !lstat(dir, &st) && S_ISLNK(st.st_mode))
		err = -ELOOP;
	return err;
}

static int pid_alive(pid_t pid)
{
	return !kill(pid, 0) || errno != ESRCH;
}

/*
 * Every recorder socket in the directory open at dirfd: the live ones'
 * pids into *pids, or (pids NULL) the dead ones' socket files removed
 * when they are ours.
 */
static int scan(int dirfd, pid_t **pids, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	struct stat st;
	int fd, err = 0;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((errno = 0, de = readdir(d))) {
		pid_t pid = socket_pid(de->d_name);

		if (!pid || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISSOCK(st.st_mode))
			continue;
		if (!pids) {
			if (pid_alive(pid) || st.st_uid != geteuid())
				continue;
			if (!unlinkat(dirfd, de->d_name, 0))
				pr_debug("control: removed the socket of dead recorder %d\n", (int)pid);
			continue;
		}
		if (!pid_alive(pid))
			continue;
		err = array__grow((void **)pids, &cap, *n + 1, sizeof(**pids));
		if (err)
			break;
		(*pids)[(*n)++] = pid;
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	return err;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int control__find(const char *dir, pid_t **pids, size_t *n)
{
	int dirfd, err;

	*pids = NULL;
	*n = 0;
	dirfd = open_dir_nofollow(dir);
	if (dirfd < 0)
		return dirfd == -ENOENT ? 0 : dirfd;
	err = scan(dirfd, pids, n);
	close(dirfd);
	if (err) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return err;
	}
	if (*n)
		qsort(*pids, *n, sizeof(**pids), cmp_pid);
	return 0;
}

/* Create dir if missing; open it, refusing a symlink or another's; tighten it to 0700. */
static int open_run_dir(const char *dir)
{
	struct stat st;
	int fd, err;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_warn("control: cannot create the run dir '%s': %s\n", dir, strerror(-err));
		return err;
	}
	fd = open_dir_nofollow(dir);
	if (fd < 0) {
		err = fd;
		if (err == -ELOOP)
			pr_warn("control: the run dir '%s' is a symbolic link: refusing it\n", dir);
		else if (err == -ENOTDIR)
			pr_warn("control: the run dir '%s' is not a directory: refusing it\n", dir);
		else
			pr_warn("control: cannot open the run dir '%s': %s\n", dir, strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		pr_warn("control: cannot check the run dir '%s': %s\n", dir, strerror(-err));
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		pr_warn("control: the run dir '%s' belongs to uid %u, not to us (uid %u): refusing it\n",
			dir, (unsigned)st.st_uid, (unsigned)geteuid());
		err = -EPERM;
		goto fail;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700)) {
		err = -errno;
		pr_warn("control: cannot make the run dir '%s' private: %s\n", dir, strerror(-err));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int control__listen_at(const char *dir, struct control **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	struct stat st;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->dirfd = -1;
	snprintf(c->name, sizeof(c->name), "record-%d.sock", (int)getpid());
	err = control__socket_path(dir, getpid(), c->path, sizeof(c->path));
	if (err) {
		pr_warn("control: the run dir '%s' is too long a path for a socket\n", dir);
		goto cleanup;
	}
	c->dirfd = open_run_dir(dir);
	if (c->dirfd < 0) {
		err = c->dirfd;
		goto cleanup;
	}

	scan(c->dirfd, NULL, NULL);
	/* a socket with our pid is a dead process's: its pid is ours now */
	if (!fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (S_ISLNK(st.st_mode)) {
			pr_warn("control: '%s' is a symbolic link: refusing it\n", c->path);
			err = -ELOOP;
			goto cleanup;
		}
		if (st.st_uid != geteuid()) {
			pr_warn("control: '%s' belongs to uid %u, not to us: refusing it\n", c->path,
				(unsigned)st.st_uid);
			err = -EPERM;
			goto cleanup;
		}
		if (!S_ISSOCK(st.st_mode)) {
			pr_warn("control: '%s' exists and is not a socket: refusing to replace it\n", c->path);
			err = -EEXIST;
			goto cleanup;
		}
		if (unlinkat(c->dirfd, c->name, 0) && errno != ENOENT) {
			err = -errno;
			pr_warn("control: cannot remove the stale socket '%s': %s\n", c->path, strerror(-err));
			goto cleanup;
		}
	}

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		pr_warn("control: cannot create a socket: %s\n", strerror(-err));
		goto cleanup;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	/* the directory is 0700: nobody else can reach the socket before its chmod */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		pr_warn("control: cannot bind '%s': %s\n", c->path, strerror(-err));
		goto cleanup;
	}
	if (fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISSOCK(st.st_mode)) {
		err = -EIO;
		pr_warn("control: '%s' vanished after bind\n", c->path);
		goto cleanup;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (fchmodat(c->dirfd, c->name, 0600, 0) || listen(c->fd, 8)) {
		err = -errno;
		pr_warn("control: cannot listen on '%s': %s\n", c->path, strerror(-err));
		goto cleanup;
	}
	pr_debug("control: listening on '%s'\n", c->path);
	*out = c;
	return 0;
cleanup:
	control__free(c);
	return err;
}

int control__listen(struct control **out)
{
	return control__listen_at(control__run_dir(), out);
}

int control__fd(const struct control *c)
{
	return c->fd;
}

const char *control__path(const struct control *c)
{
	return c->path;
}

void control__free(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	/* only the socket we bound: a later recorder with our pid may own the name */
	if (c->dirfd >= 0 && c->ino && !fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW) &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlinkat(c->dirfd, c->name, 0);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c);
}

static void reply(int fd, const char *status, const char *text)
{
	char buf[REPLY_MAX];
	int n;

	n = snprintf(buf, sizeof(buf), "%s %s", status, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	/* one line whatever the text holds */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = '?';
	buf[n++] = '\n';
	/* a tiny reply fits the socket buffer; a client gone is its own problem */
	if (send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		pr_debug("control: cannot reply to a client: %s\n", strerror(errno));
}

/*
 * Bytes from fd into buf (NUL-terminated after them, *len of them) until a
 * newline, the end of the stream or the buffer is full, within timeout_ms:
 * 1 (a newline), 0 (the end), -EMSGSIZE (full), -ETIMEDOUT or -errno.
 */
static int read_line(int fd, char *buf, size_t size, unsigned int timeout_ms, size_t *len)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ull;
	size_t n = 0;

	*len = 0;
	buf[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t got;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now + 999999) / 1000000)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!p.revents)
			continue;
		got = recv(fd, buf + n, size - 1 - n, MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		n += got;
		buf[n] = '\0';
		*len = n;
		if (!got)
			return 0;
		if (memchr(buf, '\n', n))
			return 1;
		if (n == size - 1)
			return -EMSGSIZE;
	}
}

/* One request line into buf (newline stripped); 0 or -errno. */
static int read_request(int fd, char *buf, size_t size)
{
	size_t n;
	int rc = read_line(fd, buf, size, CONTROL_REQUEST_TIMEOUT_MS, &n);
	char *nl;

	if (rc < 0)
		return rc;
	if (!rc)
		return -EPROTO;		/* closed before a whole line */
	nl = memchr(buf, '\n', n);
	/* "dump\0anything" is not "dump": no NUL inside the line */
	if (memchr(buf, '\0', nl - buf))
		return -EBADMSG;
	*nl = '\0';
	return 0;
}

/* The request text, printable, for an error message. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

int control__handle(struct control *c, control_dump_fn fn, void *ctx)
{
	char req[REQUEST_MAX], path[REPLY_MAX - 16];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EINTR)
			return -EAGAIN;
		err = -errno;
		pr_debug("control: accept: %s\n", strerror(-err));
		return err;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		err = -errno;
		reply(fd, "error", "cannot tell who is asking");
		goto done;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		pr_info("control: refused a request from uid %u (pid %d)\n", (unsigned)cred.uid,
			(int)cred.pid);
		reply(fd, "error", "permission denied: only root may control the recorder");
		err = 0;
		goto done;
	}
	err = read_request(fd, req, sizeof(req));
	if (err) {
		reply(fd, "error", err == -ETIMEDOUT ? "timed out waiting for a request line"
			: err == -EMSGSIZE ? "request line too long"
			: err == -EBADMSG ? "a NUL byte in the request line" : "no request line");
		pr_debug("control: bad request from pid %d: %s\n", (int)cred.pid, strerror(-err));
		err = 0;
		goto done;
	}
	if (strcmp(req, "dump")) {
		char msg[128];

		sanitize(req);
		snprintf(msg, sizeof(msg), "unknown request '%s': expected 'dump'", req);
		reply(fd, "error", msg);
		err = 0;
		goto done;
	}
	memset(path, 0, sizeof(path));
	err = fn(ctx, path, sizeof(path));
	path[sizeof(path) - 1] = '\0';
	if (err) {
		reply(fd, "error", path[0] ? path : strerror(err < 0 ? -err : err));
		pr_info("control: dump for pid %d failed: %s\n", (int)cred.pid,
			path[0] ? path : strerror(err < 0 ? -err : err));
	} else if (!path[0]) {
		reply(fd, "error", "the dump named no file");
	} else {
		reply(fd, "ok", path);
	}
	err = 0;
done:
	close(fd);
	return err;
}

/* Read the reply line until the newline, EOF, a full buffer or the deadline; 0 or -errno. */
static int read_reply(int fd, char *buf, size_t size)
{
	size_t n;
	int rc = read_line(fd, buf, size, CONTROL_REPLY_TIMEOUT_MS, &n);

	return rc >= 0 || rc == -EMSGSIZE ? 0 : rc;
}

int control__request_dump(const char *sock_path, char *path_out, size_t size, char *err,
			  size_t errsz)
{
	static const char req[] = "dump\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	char buf[REPLY_MAX], *nl;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	int fd = -1, rc;
	char dummy[1];

	if (!err || !errsz) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errsz, "socket path '%s' is too long", sock_path);
		return -ENAMETOOLONG;
	}
	if (lstat(sock_path, &st)) {
		rc = -errno;
		snprintf(err, errsz, "cannot find '%s': %s", sock_path, strerror(-rc));
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errsz, "'%s' is a symbolic link: refusing it", sock_path);
		return -ELOOP;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errsz, "'%s' is not a socket", sock_path);
		return -ENOTSOCK;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errsz, "'%s' belongs to uid %u, neither root nor us: refusing it",
			 sock_path, (unsigned)st.st_uid);
		return -EPERM;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot create a socket: %s", strerror(-rc));
		return rc;
	}
	/* connect and send are bounded by the send timeout */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		if (rc == -ECONNREFUSED)
			snprintf(err, errsz, "no recorder listens on '%s' (stale socket)", sock_path);
		else
			snprintf(err, errsz, "cannot connect to '%s': %s", sock_path, strerror(-rc));
		goto cleanup;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		snprintf(err, errsz, "'%s' is served by uid %u, neither root nor us: refusing it",
			 sock_path, (unsigned)cred.uid);
		rc = -EPERM;
		goto cleanup;
	}
	errno = 0;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1 && errno != EPIPE) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errsz, "cannot send to '%s': %s", sock_path, strerror(-rc));
		goto cleanup;
	}
	/* on EPIPE too: a recorder that refused us replied before closing */
	rc = read_reply(fd, buf, sizeof(buf));
	if (rc) {
		if (rc == -ETIMEDOUT)
			snprintf(err, errsz, "no reply from the recorder within %d s",
				 CONTROL_REPLY_TIMEOUT_MS / 1000);
		else
			snprintf(err, errsz, "cannot read the recorder's reply: %s", strerror(-rc));
		goto cleanup;
	}
	nl = strchr(buf, '\n');
	if (!nl) {
		snprintf(err, errsz, "the recorder closed the connection without a whole reply");
		rc = -EPROTO;
		goto cleanup;
	}
	*nl = '\0';
	if (!strncmp(buf, "ok ", 3) && buf[3]) {
		if (strlen(buf + 3) >= size) {
			snprintf(err, errsz, "the dump's path is too long: %s", buf + 3);
			rc = -ENAMETOOLONG;
			goto cleanup;
		}
		strcpy(path_out, buf + 3);
		rc = 0;
	} else if (!strncmp(buf, "error ", 6)) {
		snprintf(err, errsz, "%s", buf + 6);
		rc = -EREMOTEIO;
	} else {
		sanitize(buf);
		snprintf(err, errsz, "malformed reply from the recorder: '%.80s'", buf);
		rc = -EPROTO;
	}
cleanup:
	close(fd);
	return rc;
}
