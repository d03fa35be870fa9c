// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "elf_file.h"
#include "log.h"
#include "proc_maps.h"

static int parse_line(char *line, struct proc_map *m)
{
	unsigned int maj, min;
	unsigned long ino;
	size_t len;
	int pos = 0;
	char *p;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %lu %n", &m->start,
		   &m->end, m->perms, &m->offset, &maj, &min, &ino, &pos) < 7 || !pos)
		return -EINVAL;
	m->dev = makedev(maj, min);
	m->ino = ino;
	p = line + pos;
	len = strlen(p);
	while (len && (p[len - 1] == '\n' || p[len - 1] == ' '))
		p[--len] = '\0';
	m->path = strdup(p);
	return m->path ? 0 : -ENOMEM;
}

int proc_maps__parse(const char *path, struct proc_map **maps, size_t *cnt)
{
	struct proc_map *arr = NULL, *tmp;
	size_t n = 0, cap = 0, linecap = 0;
	char *line = NULL;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &linecap, f) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				err = -ENOMEM;
				goto cleanup;
			}
			arr = tmp;
		}
		err = parse_line(line, &arr[n]);
		if (err) {
			pr_debug("maps: malformed line in '%s': %s", path, line);
			goto cleanup;
		}
		n++;
	}
	*maps = arr;
	*cnt = n;
	arr = NULL;
	n = 0;

cleanup:
	proc_maps__free(arr, n);
	free(line);
	fclose(f);
	return err;
}

void proc_maps__free(struct proc_map *maps, size_t cnt)
{
	size_t i;

	if (!maps)
		return;
	for (i = 0; i < cnt; i++)
		free(maps[i].path);
	free(maps);
}

/*
 * How well segment s explains mapping m; 0 when it cannot.  The text
 * mapping (executable, of the PF_X segment) decides: a process may also
 * have its own file mapped as plain data (Rust's backtrace code mmaps
 * /proc/self/exe), at another address.  Then prefer the segment whose own
 * first page is where the mapping starts, since rust-lld packs segments so
 * that two share a file page; then the one whose exec bit agrees.
 */
static int seg_score(const struct elf_seg *s, const struct proc_map *m, uint64_t page)
{
	uint64_t first = s->off & ~(page - 1);
	int exec = m->perms[2] == 'x', score;

	if (m->offset < first || m->offset >= s->off + (s->filesz ? s->filesz : 1))
		return 0;
	score = 1;
	if ((s->flags & PF_X) && exec)
		score += 4;
	if (first == m->offset)
		score += 2;
	if (!!(s->flags & PF_X) == exec)
		score += 1;
	return score;
}

int proc_maps__load_bias_file(const char *maps_path, dev_t dev, ino_t ino,
			      const struct elf_file *ef, uint64_t *bias)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	const struct elf_seg *segs;
	struct proc_map *maps = NULL;
	size_t nmaps = 0, nsegs, i, j;
	int err, best = 0;

	segs = elf_file__segs(ef, &nsegs);
	err = proc_maps__parse(maps_path, &maps, &nmaps);
	if (err)
		return err;
	for (i = 0; i < nmaps; i++) {
		const struct proc_map *m = &maps[i];

		if (m->dev != dev || m->ino != ino)
			continue;
		for (j = 0; j < nsegs; j++) {
			int score = seg_score(&segs[j], m, page);

			if (score <= best)
				continue;
			best = score;
			*bias = m->start - m->offset - (segs[j].vaddr - segs[j].off);
		}
	}
	proc_maps__free(maps, nmaps);
	return best ? 0 : -ENOENT;
}

int proc_maps__load_bias(int pid, dev_t dev, ino_t ino, const struct elf_file *ef,
			 uint64_t *bias)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return proc_maps__load_bias_file(path, dev, ino, ef, bias);
}
