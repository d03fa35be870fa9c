// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "elf_file.h"
#include "log.h"

#ifndef SHT_RELR
#define SHT_RELR 19
#endif

struct elf_file {
	char *path;
	int fd;
	Elf *elf;
	const uint8_t *raw;	/* the whole file, mapped by libelf */
	size_t rawsz;
	dev_t dev;
	ino_t ino;
	int pie;
	int has_symtab;
	char build_id[41];
	struct elf_sym *syms;
	size_t nr_syms;
	struct elf_seg *segs;
	size_t nr_segs;
	struct elf_rel *rels;		/* by offset */
	size_t nr_rels;
	struct elf_rel *rels_by_addend;
};


static int sym_cmp(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int rel_cmp_offset(const void *a, const void *b)
{
	const struct elf_rel *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

static int rel_cmp_addend(const void *a, const void *b)
{
	const struct elf_rel *x = a, *y = b;

	if (x->addend != y->addend)
		return x->addend < y->addend ? -1 : 1;
	return rel_cmp_offset(a, b);
}

static int read_syms(struct elf_file *ef, Elf_Scn *scn, const GElf_Shdr *sh,
		     int dynamic, size_t *cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	int err;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		struct elf_sym *s;
		const char *name;
		GElf_Sym sym;
		int type;

		if (!gelf_getsym(data, i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(ef->elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		err = array__grow((void **)&ef->syms, cap, ef->nr_syms + 1, sizeof(*ef->syms));
		if (err)
			return err;
		s = &ef->syms[ef->nr_syms++];
		s->name = name;
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->bind = GELF_ST_BIND(sym.st_info);
		s->dynamic = dynamic;
	}
	return 0;
}

static int add_rel(struct elf_file *ef, size_t *cap, uint64_t offset, uint64_t addend)
{
	int err;

	err = array__grow((void **)&ef->rels, cap, ef->nr_rels + 1, sizeof(*ef->rels));
	if (err)
		return err;
	ef->rels[ef->nr_rels].offset = offset;
	ef->rels[ef->nr_rels].addend = addend;
	ef->nr_rels++;
	return 0;
}

static int read_rela(struct elf_file *ef, Elf_Scn *scn, const GElf_Shdr *sh, size_t *cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	int err;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Rela r;

		if (!gelf_getrela(data, i, &r))
			continue;
		if (GELF_R_TYPE(r.r_info) != R_X86_64_RELATIVE)
			continue;
		err = add_rel(ef, cap, r.r_offset, r.r_addend);
		if (err)
			return err;
	}
	return 0;
}

/* Segments are read before sections, so the in-place addend is readable. */
static int add_relr(struct elf_file *ef, size_t *cap, uint64_t offset)
{
	uint64_t addend = 0;

	elf_file__read(ef, offset, &addend, sizeof(addend));
	return add_rel(ef, cap, offset, addend);
}

/*
 * RELR (-z pack-relative-relocs) keeps only the places to relocate: an even
 * word is an address, an odd word a bitmap of the 63 words that follow the
 * last address.  The addend is the word already stored at the place.
 */
static int read_relr(struct elf_file *ef, const GElf_Shdr *sh, size_t *cap)
{
	const uint8_t *p;
	uint64_t where = 0;
	size_t i, n;
	int err;

	if (sh->sh_offset + sh->sh_size > ef->rawsz)
		return 0;
	p = ef->raw + sh->sh_offset;
	n = sh->sh_size / 8;
	for (i = 0; i < n; i++) {
		uint64_t e;
		int bit;

		memcpy(&e, p + i * 8, 8);
		if (!(e & 1)) {
			err = add_relr(ef, cap, e);
			if (err)
				return err;
			where = e + 8;
			continue;
		}
		for (bit = 1; bit < 64; bit++) {
			if (!(e & (1ULL << bit)))
				continue;
			err = add_relr(ef, cap, where + (bit - 1) * 8);
			if (err)
				return err;
		}
		where += 63 * 8;
	}
	return 0;
}

static void read_build_id(struct elf_file *ef, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data)
		return;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
		size_t i;

		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((const char *)data->d_buf + name_off, "GNU", 4))
			continue;
		for (i = 0; i < nh.n_descsz && i < 20; i++)
			snprintf(ef->build_id + 2 * i, 3, "%02x", desc[i]);
		return;
	}
}

static int read_segments(struct elf_file *ef)
{
	size_t i, n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOEXEC;
	ef->segs = calloc(n ? n : 1, sizeof(*ef->segs));
	if (!ef->segs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct elf_seg *s;
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		s = &ef->segs[ef->nr_segs++];
		s->vaddr = ph.p_vaddr;
		s->off = ph.p_offset;
		s->filesz = ph.p_filesz;
		s->memsz = ph.p_memsz;
		s->flags = ph.p_flags;
	}
	return 0;
}

static int read_sections(struct elf_file *ef)
{
	size_t sym_cap = 0, rel_cap = 0;
	Elf_Scn *scn = NULL;
	int err;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		switch (sh.sh_type) {
		case SHT_SYMTAB:
			ef->has_symtab = 1;
			err = read_syms(ef, scn, &sh, 0, &sym_cap);
			break;
		case SHT_DYNSYM:
			err = read_syms(ef, scn, &sh, 1, &sym_cap);
			break;
		case SHT_RELA:
			err = (sh.sh_flags & SHF_ALLOC) ? read_rela(ef, scn, &sh, &rel_cap) : 0;
			break;
		case SHT_RELR:
			err = read_relr(ef, &sh, &rel_cap);
			break;
		case SHT_NOTE:
			if (!ef->build_id[0])
				read_build_id(ef, scn);
			err = 0;
			break;
		default:
			err = 0;
		}
		if (err)
			return err;
	}
	return 0;
}

/* Sort, and drop the .dynsym duplicates of .symtab entries. */
static int index_tables(struct elf_file *ef)
{
	size_t i, j;

	if (ef->nr_syms)
		qsort(ef->syms, ef->nr_syms, sizeof(*ef->syms), sym_cmp);
	for (i = 0, j = 0; i < ef->nr_syms; i++) {
		if (j && ef->syms[j - 1].value == ef->syms[i].value &&
		    !strcmp(ef->syms[j - 1].name, ef->syms[i].name)) {
			ef->syms[j - 1].dynamic &= ef->syms[i].dynamic;
			continue;
		}
		ef->syms[j++] = ef->syms[i];
	}
	ef->nr_syms = j;

	if (!ef->nr_rels)
		return 0;
	qsort(ef->rels, ef->nr_rels, sizeof(*ef->rels), rel_cmp_offset);
	ef->rels_by_addend = malloc(ef->nr_rels * sizeof(*ef->rels));
	if (!ef->rels_by_addend)
		return -ENOMEM;
	memcpy(ef->rels_by_addend, ef->rels, ef->nr_rels * sizeof(*ef->rels));
	qsort(ef->rels_by_addend, ef->nr_rels, sizeof(*ef->rels), rel_cmp_addend);
	return 0;
}

struct elf_file *elf_file__open(const char *path)
{
	struct elf_file *ef;
	GElf_Ehdr eh;
	struct stat st;
	int err;

	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return NULL;
	ef->fd = -1;
	ef->path = strdup(path);
	if (!ef->path) {
		err = -ENOMEM;
		goto cleanup;
	}
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	if (fstat(ef->fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	ef->dev = st.st_dev;
	ef->ino = st.st_ino;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		err = -EINVAL;
		goto cleanup;
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		err = -ENOEXEC;
		goto cleanup;
	}
	ef->pie = eh.e_type == ET_DYN;
	ef->raw = (const uint8_t *)elf_rawfile(ef->elf, &ef->rawsz);
	if (!ef->raw) {
		err = -ENOEXEC;
		goto cleanup;
	}
	err = read_segments(ef);
	if (err)
		goto cleanup;
	err = read_sections(ef);
	if (err)
		goto cleanup;
	err = index_tables(ef);
	if (err)
		goto cleanup;
	return ef;

cleanup:
	pr_debug("elf: cannot open '%s': %s\n", path, strerror(-err));
	elf_file__free(ef);
	errno = -err;
	return NULL;
}

void elf_file__free(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef->syms);
	free(ef->segs);
	free(ef->rels);
	free(ef->rels_by_addend);
	free(ef->path);
	free(ef);
}

const char *elf_file__path(const struct elf_file *ef)
{
	return ef->path;
}

void elf_file__stat(const struct elf_file *ef, dev_t *dev, ino_t *ino)
{
	*dev = ef->dev;
	*ino = ef->ino;
}

int elf_file__is_pie(const struct elf_file *ef)
{
	return ef->pie;
}

int elf_file__has_symtab(const struct elf_file *ef)
{
	return ef->has_symtab;
}

const char *elf_file__build_id(const struct elf_file *ef)
{
	return ef->build_id;
}

const struct elf_sym *elf_file__syms(const struct elf_file *ef, size_t *cnt)
{
	*cnt = ef->nr_syms;
	return ef->syms;
}

/* Index of the first symbol with value >= addr. */
static size_t sym_lower_bound(const struct elf_file *ef, uint64_t addr)
{
	size_t lo = 0, hi = ef->nr_syms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ef->syms[mid].value < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct elf_sym *elf_file__syms_at(const struct elf_file *ef, uint64_t addr,
					size_t *cnt)
{
	size_t i = sym_lower_bound(ef, addr), j = i;

	while (j < ef->nr_syms && ef->syms[j].value == addr)
		j++;
	*cnt = j - i;
	return j > i ? &ef->syms[i] : NULL;
}

const struct elf_sym *elf_file__sym_by_addr(const struct elf_file *ef, uint64_t addr)
{
	size_t i = sym_lower_bound(ef, addr + 1);
	uint64_t start;

	if (!i)
		return NULL;
	start = ef->syms[i - 1].value;
	/* among aliases at the same start, any one whose size covers addr */
	while (i > 0 && ef->syms[i - 1].value == start) {
		const struct elf_sym *s = &ef->syms[i - 1];

		if (addr == s->value || addr - s->value < s->size)
			return s;
		i--;
	}
	return NULL;
}

const struct elf_seg *elf_file__segs(const struct elf_file *ef, size_t *cnt)
{
	*cnt = ef->nr_segs;
	return ef->segs;
}

static const struct elf_seg *seg_of(const struct elf_file *ef, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < ef->nr_segs; i++) {
		const struct elf_seg *s = &ef->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->memsz)
			return s;
	}
	return NULL;
}

int elf_file__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	const struct elf_seg *s = seg_of(ef, vaddr);

	if (!s || vaddr - s->vaddr >= s->filesz)
		return -ENOENT;
	*off = vaddr - s->vaddr + s->off;
	return 0;
}

const void *elf_file__ptr(const struct elf_file *ef, uint64_t vaddr, size_t len)
{
	const struct elf_seg *s = seg_of(ef, vaddr);
	uint64_t rel;

	if (!s)
		return NULL;
	rel = vaddr - s->vaddr;
	if (len > s->filesz || rel > s->filesz - len)
		return NULL;
	/* p_offset is the file's word: off + rel + len may wrap past 2^64 */
	if (s->off > ef->rawsz || rel + len > ef->rawsz - s->off)
		return NULL;
	return ef->raw + s->off + rel;
}

int elf_file__read(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	const void *p = elf_file__ptr(ef, vaddr, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

const struct elf_rel *elf_file__relatives(const struct elf_file *ef, size_t *cnt)
{
	*cnt = ef->nr_rels;
	return ef->rels;
}

const struct elf_rel *elf_file__relative_at(const struct elf_file *ef, uint64_t offset)
{
	struct elf_rel key = { .offset = offset };

	if (!ef->nr_rels)
		return NULL;
	return bsearch(&key, ef->rels, ef->nr_rels, sizeof(key), rel_cmp_offset);
}

size_t elf_file__relatives_to(const struct elf_file *ef, uint64_t addend,
			      uint64_t *offsets, size_t max)
{
	size_t lo = 0, hi = ef->nr_rels, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ef->rels_by_addend[mid].addend < addend)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ef->nr_rels && ef->rels_by_addend[lo].addend == addend; lo++, n++) {
		if (n < max)
			offsets[n] = ef->rels_by_addend[lo].offset;
	}
	return n;
}

int elf_file__for_each_data(const struct elf_file *ef,
			    int (*fn)(const char *name, uint64_t addr, const void *data,
				      size_t size, void *ctx),
			    void *ctx)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int ret;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *name;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (sh.sh_offset > ef->rawsz || sh.sh_size > ef->rawsz - sh.sh_offset)
			continue;
		name = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		ret = fn(name ? name : "", sh.sh_addr, ef->raw + sh.sh_offset, sh.sh_size, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_file__for_each_object(const struct elf_file *ef,
			      int (*fn)(const char *name, uint64_t vaddr, uint64_t size, void *ctx),
			      void *ctx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 1; i < n; i++) {
			const char *name;
			GElf_Sym sym;
			int err;

			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_OBJECT ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			name = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			err = fn(name, sym.st_value, sym.st_size, ctx);
			if (err)
				return err > 0 ? 0 : err;
		}
	}
	return 0;
}
