// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <math.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/*
	 * A digit first: strtoull skips leading blanks and takes a sign, so
	 * " -1" would be 2^64 - 1, and a check on s[0] alone misses it.
	 */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* -h's exit; weak: the argument fuzzer (tests/fuzz) returns to itself instead */
__attribute__((weak, noreturn)) void cli__exit(int code)
{
	exit(code);
}

int cli__common_opt(int c, const char *usage)
{
	switch (c) {
	case 'v':
		log_verbosity++;
		return 0;
	case 'h':
		fputs(usage, stdout);
		cli__exit(EXIT_OK);
	default:
		fputs(usage, stderr);
		return -EINVAL;
	}
}

int cli__pid(const char *arg, const char *expected, uint32_t *pid)
{
	uint64_t v;

	if (parse_u64(arg, 1, 0x7fffffff, &v)) {
		pr_warn("invalid PID '%s': expected %s\n", arg, expected);
		return -EINVAL;
	}
	*pid = (uint32_t)v;
	return 0;
}

int cli__operands(int argc, char **argv, const char *cmd, const char *missing, const char **path)
{
	if (path) {
		if (optind >= argc) {
			pr_warn("%s\n", missing);
			return -EINVAL;
		}
		*path = argv[optind++];
	}
	if (optind < argc) {
		pr_warn("unexpected argument '%s'; see 'asyncscope %s --help'\n", argv[optind], cmd);
		return -EINVAL;
	}
	return 0;
}

static int parse_scaled(const char *s, const char *const units[], const double scale[],
			int nunits, uint64_t *out)
{
	char *end;
	double v;

	/* a digit or a point first: no blanks, signs, "inf" or "nan" (as parse_u64) */
	if (!s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (int i = 0; i < nunits; i++) {
		if (strcmp(end, units[i]))
			continue;
		v *= scale[i];
		if (v >= 1.8e19)
			return -ERANGE;
		*out = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

int parse_duration_ns(const char *s, uint64_t *out)
{
	static const char *const u[] = { "", "s", "ms", "us", "ns", "m", "h" };
	static const double k[] = { 1e9, 1e9, 1e6, 1e3, 1, 60e9, 3600e9 };

	return parse_scaled(s, u, k, 7, out);
}

int parse_size(const char *s, uint64_t *out)
{
	static const char *const u[] = { "", "K", "KiB", "M", "MiB", "G", "GiB" };
	static const double k[] = { 1, 1024, 1024, 1 << 20, 1 << 20, 1 << 30, 1 << 30 };

	return parse_scaled(s, u, k, 7, out);
}

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

int check_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d)) {
		pr_warn("cannot read capabilities: %s\n", strerror(errno));
		return -EPERM;
	}
	if (has_cap(d, CAP_SYS_ADMIN) || (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))
		return 0;
	pr_warn("permission denied: tracing needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN); run with sudo\n");
	return -EPERM;
}

FILE *open_output(const char *path, int force)
{
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
	FILE *f;
	int fd;

	fd = open(path, flags, 0600);
	if (fd < 0) {
		struct stat st;

		/* O_EXCL fails a symbolic link with EEXIST: --force would not help */
		if (errno == EEXIST && !lstat(path, &st) && S_ISLNK(st.st_mode))
			errno = ELOOP;
		if (errno == EEXIST)
			pr_warn("output file '%s' exists: use --force to overwrite it\n", path);
		else if (errno == ELOOP)
			pr_warn("output file '%s' is a symbolic link: refusing to follow it\n", path);
		else
			pr_warn("cannot create output file '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		pr_warn("cannot open output file '%s': %s\n", path, strerror(errno));
		close(fd);
	}
	return f;
}

int target_exit_code(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return EXIT_PRIVILEGE;
	case EIO:
		return EXIT_IO;
	default:
		return EXIT_TARGET;
	}
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Exit code of a replay error: the file's fault, or the system's. */
int replay_exit_code(int err)
{
	switch (-err) {
	case EBADMSG:
	case ENODATA:
		return EXIT_DATA;
	case ENOMEM:
		return EXIT_FAILURE_;
	default:
		return EXIT_IO;
	}
}
