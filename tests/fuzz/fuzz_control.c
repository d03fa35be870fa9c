// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket's server side, untrusted (any local root or same-uid
 * process may connect): one client per input, over a real UNIX socket to a
 * real control__listen_at().
 *
 * Input: the bytes the client sends (then it shuts its side down).  When the
 * request is "dump", the dump callback answers with the bytes after the
 * first newline: a non-zero first byte there makes it fail, the rest is the
 * path (or message) it puts out, unfiltered.  Whatever comes in, the server
 * must answer exactly one line, "ok PATH" only for a dump that succeeded
 * and named a file, and never call the callback for anything but "dump".
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fuzz.h"

static struct control *ctl;

struct answer {
	const uint8_t *data;
	size_t size;
	bool called;
	bool failed;
};

static int on_dump(void *ctx, char *path_out, size_t size)
{
	struct answer *a = ctx;
	size_t n;

	a->called = true;
	if (!a->size)
		return 0;		/* names no file */
	a->failed = a->data[0] != 0;
	n = a->size - 1 < size - 1 ? a->size - 1 : size - 1;
	memcpy(path_out, a->data + 1, n);
	return a->failed ? -EIO : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/asyncscope-fuzz-control.XXXXXX";

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if (!mkdtemp(dir) || control__listen_at(dir, &ctl))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const uint8_t *nl = memchr(data, '\n', size);
	struct answer a = {};
	char reply[8192];
	size_t got = 0;
	bool is_dump;
	int fd, rc;
	ssize_t n;

	/* more than the server reads of a line and the socket buffers hold: not interesting */
	if (size > 4096)
		return 0;
	is_dump = nl && nl - data == 4 && !memcmp(data, "dump", 4);
	if (nl) {
		a.data = nl + 1;
		a.size = size - (size_t)(nl + 1 - data);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", control__path(ctl));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(!connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	if (size)
		FUZZ_CHECK(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
	shutdown(fd, SHUT_WR);

	rc = control__handle(ctl, on_dump, &a);
	FUZZ_CHECK(rc == 0);
	while ((n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';

	/* one line: "ok ..." or "error ...", its newline last and only */
	FUZZ_CHECK(got >= 4 && reply[got - 1] == '\n');
	FUZZ_CHECK(memchr(reply, '\n', got) == reply + got - 1);
	FUZZ_CHECK(!memchr(reply, '\0', got));
	FUZZ_CHECK(!strncmp(reply, "ok ", 3) || !strncmp(reply, "error ", 6));
	/* the callback runs for a dump request only; "ok" only for its success with a file */
	FUZZ_CHECK(a.called == is_dump);
	FUZZ_CHECK(!strncmp(reply, "ok ", 3) ==
		   (is_dump && !a.failed && a.size > 1 && a.data[1] != '\0'));
	return 0;
}
