/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/PID/maps: where a process mapped an ELF file, and so the load bias
 * that turns the file's link-time addresses into run-time ones:
 * runtime_addr = vaddr + bias.
 */
#ifndef ASYNCSCOPE_PROC_MAPS_H
#define ASYNCSCOPE_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elf_file;

struct proc_map {
	uint64_t start;
	uint64_t end;
	uint64_t offset;	/* file offset of start */
	dev_t dev;
	ino_t ino;
	char perms[5];		/* "r-xp" */
	char *path;		/* "" for anonymous mappings */
};

/*
 * Parse a maps file (/proc/PID/maps or a copy of one).  0 with *maps (free
 * with proc_maps__free) and *cnt, or -errno (-EINVAL for a malformed line).
 */
int proc_maps__parse(const char *path, struct proc_map **maps, size_t *cnt);
void proc_maps__free(struct proc_map *maps, size_t cnt);

/*
 * Load bias of ef in a process: the file is found by device and inode
 * (a copy or a rebuilt binary is a different file), then
 *   bias = map_start - map_offset - (p_vaddr - p_offset)
 * of the PT_LOAD that mapping holds.  0, -ENOENT when the process has not
 * mapped the file, or the -errno of reading the maps.
 */
int proc_maps__load_bias_file(const char *maps_path, dev_t dev, ino_t ino,
			      const struct elf_file *ef, uint64_t *bias);
/* Same, for /proc/<pid>/maps. */
int proc_maps__load_bias(int pid, dev_t dev, ino_t ino, const struct elf_file *ef,
			 uint64_t *bias);

#endif
