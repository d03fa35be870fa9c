// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "elf_file.h"
#include "log.h"
#include "proc_maps.h"
#include "target.h"

static void read_comm(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static int load_bias(struct target *t)
{
	struct elf_file *ef;
	struct stat st;
	int err;

	if (stat(t->exe_path, &st))
		return -errno;
	t->exe_dev = st.st_dev;
	t->exe_ino = st.st_ino;
	ef = elf_file__open(t->exe_path);
	if (!ef)
		return -errno;
	err = proc_maps__load_bias((int)t->pid, st.st_dev, st.st_ino, ef, &t->bias);
	elf_file__free(ef);
	return err;
}

/* The process behind the pidfd has exited (and its PID may be anybody's now). */
static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

int target__open_pid(uint32_t pid, struct target **out)
{
	char buf[PATH_MAX], err[512] = "", *shown;
	struct target *t;
	ssize_t n;
	int rc;

	*out = NULL;
	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		pr_warn("no such process: pid %u (list candidates with 'pgrep -a NAME')\n", pid);
		return -ESRCH;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->exefd = -1;
	t->memfd = -1;
	/*
	 * The pidfd first: while it has not exited, the PID is this process's,
	 * so what is read below through /proc/PID cannot be another process's
	 * that reused the number.
	 */
	t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (t->pidfd < 0) {
		rc = -errno;
		if (rc == -ESRCH)
			pr_warn("no such process: pid %u (list candidates with 'pgrep -a NAME')\n", pid);
		else
			pr_warn("pid %u: cannot watch the process: %s\n", pid, strerror(-rc));
		goto fail;
	}
	read_comm(pid, t->comm, sizeof(t->comm));
	snprintf(t->proc_exe, sizeof(t->proc_exe), "/proc/%u/exe", pid);
	/*
	 * The executable, opened once: the analysis, the load bias and every
	 * probe go through this fd (/proc/self/fd/N), so they are about one
	 * file even if the process execs meanwhile (probes at this binary's
	 * offsets must never land in another one).
	 */
	t->exefd = open(t->proc_exe, O_RDONLY | O_CLOEXEC);
	if (t->exefd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			pr_warn("pid %u (%s) has no executable: a kernel thread or a process that just exited\n",
				pid, t->comm);
		else
			pr_warn("cannot read %s: %s (tracing another user's process needs root)\n",
				t->proc_exe, strerror(-rc));
		goto fail;
	}
	snprintf(t->exe_path, sizeof(t->exe_path), "/proc/self/fd/%d", t->exefd);
	n = readlink(t->exe_path, buf, sizeof(buf) - 1);
	if (n < 0) {
		rc = -errno;
		pr_warn("cannot read %s: %s\n", t->proc_exe, strerror(-rc));
		goto fail;
	}
	buf[n] = '\0';
	t->exe_path_resolved = strdup(buf);
	t->bin = tokio_bin__open(t->exe_path, err, sizeof(err));
	if (!t->bin) {
		rc = -errno;
		pr_warn("pid %u (%s, %s): %s\n", pid, t->comm, buf, err[0] ? err : strerror(-rc));
		goto fail;
	}
	/* shown by inspect: the process's link rather than our fd */
	shown = strdup(t->proc_exe);
	if (shown) {
		free(t->bin->path);
		t->bin->path = shown;
	}
	rc = load_bias(t);
	if (rc) {
		pr_warn("pid %u (%s): cannot find where %s is mapped: %s\n", pid, t->comm, buf,
			strerror(-rc));
		goto fail;
	}
	/*
	 * Pinned to this address space: reads fail once the process exits or
	 * execs.  Opening it takes ptrace access (Yama may refuse it to a
	 * non-root tracer): without it, an exec is told by the executable's inode.
	 */
	snprintf(buf, sizeof(buf), "/proc/%u/mem", pid);
	t->memfd = open(buf, O_RDONLY | O_CLOEXEC);
	t->memfd_err = t->memfd < 0 ? -errno : 0;
	if (t->memfd < 0)
		pr_info("cannot open %s: %s: an exec of the same binary will not be noticed\n", buf,
			strerror(-t->memfd_err));
	if (pidfd_exited(t->pidfd) || target__execed(t, NULL, 0)) {
		pr_warn("pid %u exited or exec'd another program while being analysed\n", pid);
		rc = -ESRCH;
		goto fail;
	}
	*out = t;
	return 0;
fail:
	target__free(t);
	return rc;
}

bool target__execed(const struct target *t, char *exe, size_t size)
{
	char buf[PATH_MAX];
	struct stat st;
	uint8_t b;
	ssize_t n;

	if (t->memfd >= 0) {
		/* the first probe site: mapped for as long as the analysed program runs */
		if (!t->bin->nr_sites ||
		    pread(t->memfd, &b, 1, (off_t)(t->bin->sites[0].vaddr + t->bias)) == 1)
			return false;
	} else if (stat(t->proc_exe, &st) || (st.st_dev == t->exe_dev && st.st_ino == t->exe_ino)) {
		return false;
	}
	/*
	 * The address space (or the executable) is gone: an exit under way
	 * (its /proc/PID/exe goes first), or an exec (a new one).  Checked
	 * after the link is read, the pidfd tells that it was this process's.
	 */
	n = readlink(t->proc_exe, buf, sizeof(buf) - 1);
	if (n < 0 || pidfd_exited(t->pidfd))
		return false;
	buf[n] = '\0';
	if (exe && size)
		snprintf(exe, size, "%s", buf);
	return true;
}

void target__free(struct target *t)
{
	if (!t)
		return;
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->memfd >= 0)
		close(t->memfd);
	if (t->exefd >= 0)
		close(t->exefd);
	tokio_bin__free(t->bin);
	free(t->exe_path_resolved);
	free(t);
}

int target__read_u64(const struct target *t, uint64_t vaddr, uint64_t *out)
{
	ssize_t n;

	if (t->memfd < 0)
		return t->memfd_err;
	n = pread(t->memfd, out, sizeof(*out), (off_t)(vaddr + t->bias));
	if (n != sizeof(*out))
		return n < 0 ? -errno : -EIO;
	return 0;
}
