// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /proc/PID/maps, untrusted (what a process maps is up to it): the parser,
 * then the load-bias search over the mappings of the first line's file,
 * against this fuzzer's own ELF file for segments.  The bytes go to a
 * memfd read by path, as the product reads /proc/PID/maps.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_file.h"
#include "fuzz.h"
#include "proc_maps.h"

static int mfd = -1;
static char mpath[64];
static struct elf_file *self;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	mfd = memfd_create("fuzz_procmaps", MFD_CLOEXEC);
	self = elf_file__open("/proc/self/exe");
	if (mfd < 0 || !self)
		abort();
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_map *maps = NULL;
	size_t n = 0;
	uint64_t bias;

	if (ftruncate(mfd, 0) || pwrite(mfd, data, size, 0) != (ssize_t)size)
		abort();
	if (proc_maps__parse(mpath, &maps, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(maps[i].path);
		FUZZ_CHECK(strlen(maps[i].perms) <= 4);
	}
	if (n)
		proc_maps__load_bias_file(mpath, maps[0].dev, maps[0].ino, self, &bias);
	proc_maps__free(maps, n);
	return 0;
}
