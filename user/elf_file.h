/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A read-only view of one x86-64 ELF file: function symbols, PT_LOAD
 * segments (vaddr <-> file offset), bytes at a vaddr, R_X86_64_RELATIVE
 * relocations and the GNU build id.  Everything is read at open time; the
 * file stays mapped until elf_file__free(), and the strings handed out
 * (symbol names, section data) live as long as the object.
 */
#ifndef ASYNCSCOPE_ELF_FILE_H
#define ASYNCSCOPE_ELF_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elf_file;

struct elf_sym {
	const char *name;	/* mangled, as in the string table */
	uint64_t value;		/* st_value: the function's vaddr */
	uint64_t size;		/* st_size, 0 when unknown */
	uint8_t bind;		/* STB_* */
	uint8_t dynamic;	/* 1 if it came from .dynsym */
};

struct elf_seg {
	uint64_t vaddr;		/* p_vaddr */
	uint64_t off;		/* p_offset */
	uint64_t filesz;
	uint64_t memsz;
	uint32_t flags;		/* PF_R | PF_W | PF_X */
};

/* One R_X86_64_RELATIVE relocation: *(u64 *)(bias + offset) = bias + addend. */
struct elf_rel {
	uint64_t offset;
	uint64_t addend;
};

/*
 * Open path read-only.  NULL with errno set: ENOENT/EACCES/... from open(2),
 * ENOEXEC when it is not a 64-bit little-endian x86-64 ELF file.
 */
struct elf_file *elf_file__open(const char *path);
void elf_file__free(struct elf_file *ef);

const char *elf_file__path(const struct elf_file *ef);
/* Device and inode of the opened file, to find it in /proc/PID/maps. */
void elf_file__stat(const struct elf_file *ef, dev_t *dev, ino_t *ino);
int elf_file__is_pie(const struct elf_file *ef);		/* ET_DYN */
int elf_file__has_symtab(const struct elf_file *ef);	/* .symtab present */
/* Hex GNU build id, "" when the file has none. */
const char *elf_file__build_id(const struct elf_file *ef);

/*
 * Defined function symbols from .symtab and .dynsym, sorted by address
 * (then by name); a name present in both tables at the same address is
 * listed once.
 */
const struct elf_sym *elf_file__syms(const struct elf_file *ef, size_t *cnt);
/* All symbols starting exactly at addr (aliases): first one and count. */
const struct elf_sym *elf_file__syms_at(const struct elf_file *ef, uint64_t addr,
					size_t *cnt);
/* The function whose [value, value + size) contains addr, else NULL. */
const struct elf_sym *elf_file__sym_by_addr(const struct elf_file *ef, uint64_t addr);

/*
 * Data objects (STT_OBJECT) of .symtab.  fn returns 0 to go on, > 0 to stop
 * (the call returns 0), < 0 to stop with that error.
 */
int elf_file__for_each_object(const struct elf_file *ef,
			      int (*fn)(const char *name, uint64_t vaddr, uint64_t size, void *ctx),
			      void *ctx);
const struct elf_seg *elf_file__segs(const struct elf_file *ef, size_t *cnt);	/* PT_LOAD */
/* File offset of vaddr through the PT_LOAD holding it: 0 or -ENOENT. */
int elf_file__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off);
/* Copy len bytes at vaddr out of the file: 0, or -EFAULT if not all in the file. */
int elf_file__read(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);
/* Like elf_file__read but without copying; NULL if not all in the file. */
const void *elf_file__ptr(const struct elf_file *ef, uint64_t vaddr, size_t len);

/* R_X86_64_RELATIVE relocations (RELA and RELR), sorted by offset. */
const struct elf_rel *elf_file__relatives(const struct elf_file *ef, size_t *cnt);
/* The relocation at exactly offset, else NULL (binary search). */
const struct elf_rel *elf_file__relative_at(const struct elf_file *ef, uint64_t offset);
/*
 * Offsets of the relocations whose addend is addend (ascending): stores up
 * to max of them and returns how many there are in total.
 */
size_t elf_file__relatives_to(const struct elf_file *ef, uint64_t addend,
			      uint64_t *offsets, size_t max);

/*
 * Calls fn for each allocated, non-executable section with file contents
 * (.rodata, .data.rel.ro, ...) until fn returns non-zero, which is returned.
 */
int elf_file__for_each_data(const struct elf_file *ef,
			    int (*fn)(const char *name, uint64_t addr, const void *data,
				      size_t size, void *ctx),
			    void *ctx);

#endif
