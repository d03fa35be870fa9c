// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
	ef = elf_file__open(t->exe_path);
	if (!ef)
		return -errno;
	err = proc_maps__load_bias((int)t->pid, st.st_dev, st.st_ino, ef, &t->bias);
	elf_file__free(ef);
	return err;
}

int target__open_pid(uint32_t pid, struct target **out)
{
	char buf[PATH_MAX], err[512] = "";
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
	t->pidfd = -1;
	read_comm(pid, t->comm, sizeof(t->comm));
	snprintf(t->exe_path, sizeof(t->exe_path), "/proc/%u/exe", pid);
	n = readlink(t->exe_path, buf, sizeof(buf) - 1);
	if (n < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			pr_warn("pid %u (%s) has no executable: a kernel thread or a process that just exited\n",
				pid, t->comm);
		else
			pr_warn("cannot read %s: %s (tracing another user's process needs root)\n",
				t->exe_path, strerror(-rc));
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
	rc = load_bias(t);
	if (rc) {
		pr_warn("pid %u (%s): cannot find where %s is mapped: %s\n", pid, t->comm, buf,
			strerror(-rc));
		goto fail;
	}
	t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (t->pidfd < 0) {
		rc = -errno;
		pr_warn("pid %u: cannot watch the process: %s\n", pid, strerror(-rc));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	target__free(t);
	return rc;
}

void target__free(struct target *t)
{
	if (!t)
		return;
	if (t->pidfd >= 0)
		close(t->pidfd);
	tokio_bin__free(t->bin);
	free(t->exe_path_resolved);
	free(t);
}

int target__read_u64(const struct target *t, uint64_t vaddr, uint64_t *out)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/mem", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, out, sizeof(*out), (off_t)(vaddr + t->bias));
	close(fd);
	if (n != sizeof(*out))
		return n < 0 ? -errno : -EIO;
	return 0;
}
