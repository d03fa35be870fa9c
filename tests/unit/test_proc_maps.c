// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <elf.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "elf_file.h"
#include "proc_maps.h"

/* the Makefile passes $(OUTPUT)/fixtures */
#ifndef FIXTURE_DIR
#define FIXTURE_DIR	".output/fixtures"
#endif
#define FIX_LEGACY	FIXTURE_DIR "/tokio_legacy"
#define POLL_A "_ZN5tokio7runtime4task3raw4poll17h4e0a4074d5edc44fE.llvm.15880761565571571635"
#define PAGE		4096ULL
#define BIAS		0x555555554000ULL

static char tmp_path[64];
static pid_t child = -1;

/* Runs even when an assertion failed: a leaked sleeper would hold the test's pipes. */
static int reap_child(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	child = -1;
	return 0;
}

/* Has pid exec'd path yet?  Before that it is a fork of this test. */
static int runs(pid_t pid, const char *path)
{
	char link[64], exe[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0 || !realpath(path, want))
		return 0;
	exe[n] = '\0';
	return !strcmp(exe, want);
}

static const char *write_maps(const char *text)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/asyncscope-mapsXXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

static void test_parse(void **state)
{
	const char *p = write_maps(
		"55d0c0a00000-55d0c0a2c000 r--p 00000000 fe:01 10953368                   /tmp/probe\n"
		"7ffc1a2b3000-7ffc1a2d4000 rw-p 00000000 00:00 0                          [stack]\n"
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
		"7f0000001000-7f0000003000 r-xp 0002c000 103:02 42        /tmp/a b (deleted)\n");
	struct proc_map *m = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(proc_maps__parse(p, &m, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].start, 0x55d0c0a00000ULL);
	assert_int_equal(m[0].end, 0x55d0c0a2c000ULL);
	assert_int_equal(m[0].offset, 0);
	assert_int_equal(major(m[0].dev), 0xfe);
	assert_int_equal(minor(m[0].dev), 0x01);
	assert_int_equal(m[0].ino, 10953368);
	assert_string_equal(m[0].perms, "r--p");
	assert_string_equal(m[0].path, "/tmp/probe");
	assert_string_equal(m[1].path, "[stack]");
	assert_string_equal(m[2].path, "");
	assert_int_equal(m[3].offset, 0x2c000);
	assert_int_equal(major(m[3].dev), 0x103);
	assert_string_equal(m[3].path, "/tmp/a b (deleted)");
	proc_maps__free(m, n);
	unlink(p);

	p = write_maps("55d0c0a00000-55d0c0a2c000 r--p zzzz\n");
	assert_int_equal(proc_maps__parse(p, &m, &n), -EINVAL);
	unlink(p);
	assert_int_equal(proc_maps__parse("/nonexistent/maps", &m, &n), -ENOENT);
	proc_maps__free(NULL, 0);
}

/* Maps text for ef loaded at bias, the way the kernel maps each PT_LOAD. */
static void synth_maps(const struct elf_file *ef, dev_t dev, ino_t ino, uint64_t bias,
		       int only_exec, char *buf, size_t len)
{
	const struct elf_seg *segs;
	size_t n, i, o = 0;

	segs = elf_file__segs(ef, &n);
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct elf_seg *s = &segs[i];
		uint64_t start = (bias + s->vaddr) & ~(PAGE - 1);
		uint64_t end = (bias + s->vaddr + s->filesz + PAGE - 1) & ~(PAGE - 1);

		if (only_exec && !(s->flags & PF_X))
			continue;
		o += snprintf(buf + o, len - o, "%llx-%llx %c%c%cp %08llx %02x:%02x %lu %s\n",
			      (unsigned long long)start, (unsigned long long)end,
			      s->flags & PF_R ? 'r' : '-', s->flags & PF_W ? 'w' : '-',
			      s->flags & PF_X ? 'x' : '-',
			      (unsigned long long)(s->off & ~(PAGE - 1)), major(dev), minor(dev),
			      (unsigned long)ino, FIX_LEGACY);
	}
}

static void test_bias_synthetic(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	char text[2048];
	uint64_t bias = 0;
	struct stat st;
	const char *p;
	int n;

	(void)state;
	assert_non_null(ef);
	assert_int_equal(stat(FIX_LEGACY, &st), 0);

	synth_maps(ef, st.st_dev, st.st_ino, BIAS, 0, text, sizeof(text));
	p = write_maps(text);
	assert_int_equal(proc_maps__load_bias_file(p, st.st_dev, st.st_ino, ef, &bias), 0);
	assert_int_equal(bias, BIAS);
	/* another file (inode) is not this one */
	assert_int_equal(proc_maps__load_bias_file(p, st.st_dev, st.st_ino + 1, ef, &bias),
			 -ENOENT);
	unlink(p);

	/*
	 * Only the text mapping: with lld the first file page holds both the
	 * read-only and the text segment, and only the exec bit tells which.
	 */
	synth_maps(ef, st.st_dev, st.st_ino, BIAS, 1, text, sizeof(text));
	p = write_maps(text);
	bias = 0;
	assert_int_equal(proc_maps__load_bias_file(p, st.st_dev, st.st_ino, ef, &bias), 0);
	assert_int_equal(bias, BIAS);
	unlink(p);

	/* the process also maps its own file as data, lower down: still the load */
	n = snprintf(text, sizeof(text), "100000-104000 r--p 00000000 %02x:%02x %lu %s\n",
		     major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino, FIX_LEGACY);
	synth_maps(ef, st.st_dev, st.st_ino, BIAS, 0, text + n, sizeof(text) - n);
	p = write_maps(text);
	bias = 0;
	assert_int_equal(proc_maps__load_bias_file(p, st.st_dev, st.st_ino, ef, &bias), 0);
	assert_int_equal(bias, BIAS);
	unlink(p);
	elf_file__free(ef);
}

static void test_bias_self(void **state)
{
	struct elf_file *ef = elf_file__open("/proc/self/exe");
	const struct elf_sym *syms;
	uint64_t bias = 0;
	size_t n, i;
	dev_t dev;
	ino_t ino;
	int found = 0;

	(void)state;
	assert_non_null(ef);
	elf_file__stat(ef, &dev, &ino);
	assert_int_equal(proc_maps__load_bias(getpid(), dev, ino, ef, &bias), 0);
	syms = elf_file__syms(ef, &n);
	for (i = 0; i < n; i++) {
		if (!strcmp(syms[i].name, "test_bias_self")) {
			assert_int_equal(syms[i].value + bias, (uint64_t)(uintptr_t)test_bias_self);
			found = 1;
		}
	}
	assert_true(found);
	elf_file__free(ef);
}

/* A fixture running as a child: its raw::poll's first byte, read through the bias. */
static void test_bias_child(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	const struct elf_sym *syms;
	uint64_t bias = 0, poll = 0;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char mem[64];
	uint8_t b = 0;
	size_t n, i;
	dev_t dev;
	ino_t ino;
	pid_t pid;
	int err = -ENOENT, tries, fd;

	(void)state;
	assert_non_null(ef);
	syms = elf_file__syms(ef, &n);
	for (i = 0; i < n; i++) {
		if (!strcmp(syms[i].name, POLL_A))
			poll = syms[i].value;
	}
	assert_true(poll != 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		execl(FIX_LEGACY, FIX_LEGACY, "--sleep", (char *)NULL);
		_exit(127);
	}
	pid = child;
	elf_file__stat(ef, &dev, &ino);
	/*
	 * Until exec, the child is a fork of this test, which has the fixture
	 * mmapped as data (libelf): that must not be taken for the load.
	 */
	for (tries = 0; tries < 500 && err; tries++) {
		if (runs(pid, FIX_LEGACY))
			err = proc_maps__load_bias(pid, dev, ino, ef, &bias);
		if (err)
			nanosleep(&ts, NULL);
	}
	assert_int_equal(err, 0);
	assert_int_equal(bias % PAGE, 0);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	fd = open(mem, O_RDONLY);
	if (fd >= 0) {
		assert_int_equal(pread(fd, &b, 1, (off_t)(poll + bias)), 1);
		close(fd);
		assert_int_equal(b, 0xe9);	/* the fixture's raw::poll is jmp rel32 */
	}
	reap_child(NULL);
	elf_file__free(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bias_synthetic),
		cmocka_unit_test(test_bias_self),
		cmocka_unit_test_teardown(test_bias_child, reap_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
