/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control socket of a running recorder: `asyncscope dump` connects to
 * RUN_DIR/record-<recorder pid>.sock and asks for the flight recorder's
 * window to be written out now.
 *
 * RUN_DIR is /run/asyncscope, or $ASYNCSCOPE_RUN_DIR when set (tests); it
 * is created 0700 if missing, and refused when it is a symbolic link, not
 * a directory or not owned by us; an existing one is tightened to 0700.
 * The socket is 0600, and a client is served only when SO_PEERCRED says it
 * is root or the recorder's own uid.
 *
 * The protocol: one request line, one reply line, then the server closes.
 *   dump\n    ->  ok <path of the file written>\n  |  error <message>\n
 * Anything else gets "error unknown request ...".
 */
#ifndef ASYNCSCOPE_CONTROL_H
#define ASYNCSCOPE_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define CONTROL_RUN_DIR			"/run/asyncscope"
#define CONTROL_RUN_DIR_ENV		"ASYNCSCOPE_RUN_DIR"
#define CONTROL_REQUEST_TIMEOUT_MS	200	/* a client's request line must arrive within this */
#define CONTROL_REPLY_TIMEOUT_MS	120000	/* how long a client waits for a dump to be written */

/*
 * Write the dump; put the path of the file written in path_out (size
 * bytes, zeroed before the call).  0 or -errno; on failure path_out may
 * hold a one-line message for the client instead (else strerror is sent).
 */
typedef int (*control_dump_fn)(void *ctx, char *path_out, size_t size);

struct control;

/* $ASYNCSCOPE_RUN_DIR if set and not empty, else CONTROL_RUN_DIR. */
const char *control__run_dir(void);

/*
 * Listen on RUN_DIR/record-<getpid()>.sock (control__listen: RUN_DIR from
 * control__run_dir()).  Removes the sockets of recorders no longer alive.
 * 0, or -errno with a message printed: -ELOOP (symbolic link), -ENOTDIR,
 * -EPERM (not ours), -EEXIST (our socket path is not a socket),
 * -ENAMETOOLONG, or what the syscalls say.
 */
int control__listen(struct control **out);
int control__listen_at(const char *dir, struct control **out);

int control__fd(const struct control *c);		/* for poll(): readable when a client waits */
const char *control__path(const struct control *c);

/*
 * Serve one waiting client, if any (non-blocking accept): check its
 * credentials, read its request line (CONTROL_REQUEST_TIMEOUT_MS at most),
 * call fn for "dump", reply, close.  0 when a client was served (whatever
 * the reply), -EAGAIN when none was waiting, other -errno on a local failure.
 */
int control__handle(struct control *c, control_dump_fn fn, void *ctx);

/* Close the socket and remove its file (if it is still ours); NULL-safe. */
void control__free(struct control *c);

/* dir/record-<pid>.sock into buf; 0 or -ENAMETOOLONG. */
int control__socket_path(const char *dir, pid_t pid, char *buf, size_t size);

/*
 * The pids of the recorders with a socket in dir whose process is alive,
 * ascending, in a malloc'ed *pids (NULL when none).  A missing dir: none.
 * 0 or -errno.
 */
int control__find(const char *dir, pid_t **pids, size_t *n);

/*
 * Ask the recorder behind sock_path for a dump: 0 with the path written in
 * path_out, or -errno with a one-line message in err: -EREMOTEIO (the
 * recorder replied an error: its message), -ECONNREFUSED / -ENOENT (no
 * recorder behind it: stale), -ELOOP / -ENOTSOCK / -EPERM (the socket file
 * is a symbolic link, not a socket, or owned by neither root nor us),
 * -ETIMEDOUT, -EPROTO (a malformed reply), -ENAMETOOLONG.
 */
int control__request_dump(const char *sock_path, char *path_out, size_t size, char *err,
			  size_t errsz);

#endif
