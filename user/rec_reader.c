// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A recording, frame by frame, checked at every step. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "rec_reader.h"

struct rec_reader {
	FILE *f;
	uint64_t off;			/* of the next byte to read */
	int err;			/* sticky: 0, or the negative errno returned */
	int state;			/* what may come next, enum below */
	int64_t size;			/* of a regular file, else -1 (a pipe, memory) */
	char msg[256];

	uint8_t *buf;			/* payload of the current frame */
	size_t cap;
	Asyncscope__Frame *frame;	/* unpacked current frame */
	uint64_t frame_off;
	size_t next_event;		/* in frame->chunk */
	uint64_t next_seq;
	union as_record rec;

	struct rec_reader_stats stats;
};

enum { WANT_MAGIC = 0, WANT_HEADER, WANT_BODY, DONE };

static struct rec_reader *reader_new(FILE *f, size_t mem_len)
{
	struct rec_reader *r = calloc(1, sizeof(*r));
	struct stat st;

	if (!r) {
		fclose(f);
		return NULL;
	}
	r->f = f;
	if (mem_len)
		r->size = (int64_t)mem_len;
	else
		r->size = fileno(f) >= 0 && !fstat(fileno(f), &st) && S_ISREG(st.st_mode) ? st.st_size : -1;
	return r;
}

struct rec_reader *rec_reader__open(const char *path)
{
	FILE *f = fopen(path, "rbe");

	return f ? reader_new(f, 0) : NULL;
}

struct rec_reader *rec_reader__open_mem(const void *buf, size_t len)
{
	FILE *f;

	if (!len) {
		/* fmemopen refuses an empty buffer; an empty recording is an empty file */
		f = fopen("/dev/null", "rbe");
	} else {
		f = fmemopen((void *)buf, len, "rb");
	}
	return f ? reader_new(f, len) : NULL;
}

static void release_frame(struct rec_reader *r)
{
	if (r->frame)
		asyncscope__frame__free_unpacked(r->frame, NULL);
	r->frame = NULL;
}

void rec_reader__free(struct rec_reader *r)
{
	if (!r)
		return;
	release_frame(r);
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r);
}

const char *rec_reader__error(const struct rec_reader *r)
{
	return r->msg;
}

const struct rec_reader_stats *rec_reader__stats(const struct rec_reader *r)
{
	return &r->stats;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct rec_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->err = err;
	release_frame(r);
	return err;
}

/* Read up to len bytes: how many were there (< len only at the end), or -EIO. */
static long read_exact(struct rec_reader *r, void *dst, size_t len)
{
	size_t n = fread(dst, 1, len, r->f);

	if (n < len && ferror(r->f))
		return -EIO;
	r->off += n;
	return (long)n;
}

static int read_magic(struct rec_reader *r)
{
	char magic[REC_MAGIC_LEN];
	long n = read_exact(r, magic, sizeof(magic));

	if (n < 0)
		return fail(r, -EIO, "cannot read the recording: %s", strerror(errno));
	if (n < REC_MAGIC_LEN || memcmp(magic, REC_MAGIC, REC_MAGIC_LEN))
		return fail(r, -EBADMSG, "not an asyncscope recording (no '%.7s' magic at byte 0)", REC_MAGIC);
	r->state = WANT_HEADER;
	return 0;
}

/* The next frame, unpacked into r->frame: 1, 0 at a clean end of file, or -errno. */
static int read_frame(struct rec_reader *r)
{
	uint8_t hdr[REC_FRAME_HDR_LEN];
	uint32_t len, crc;
	long n;

	release_frame(r);
	r->frame_off = r->off;
	n = read_exact(r, hdr, sizeof(hdr));
	if (n < 0)
		return fail(r, -EIO, "cannot read the recording at byte %llu: %s",
			    (unsigned long long)r->frame_off, strerror(errno));
	if (n == 0)
		return 0;	/* a clean end, between frames */
	if (n < REC_FRAME_HDR_LEN)
		return fail(r, -ENODATA, "recording truncated at byte %llu: frame header cut short (%ld of %d bytes)",
			    (unsigned long long)r->frame_off, n, REC_FRAME_HDR_LEN);
	if (rec_frame__parse_hdr(hdr, &len, &crc))
		return fail(r, -EBADMSG, "corrupted frame at byte %llu: length %u is over the %u-byte limit",
			    (unsigned long long)r->frame_off, len, REC_FRAME_MAX);
	/* a damaged length is not worth up to REC_FRAME_MAX bytes of memory */
	if (r->size >= 0 && r->off + len > (uint64_t)r->size)
		return fail(r, -ENODATA, "recording truncated at byte %llu: the frame there is cut short (%ld of %u bytes)",
			    (unsigned long long)r->frame_off,
			    (long)((uint64_t)r->size > r->off ? (uint64_t)r->size - r->off : 0), len);
	if (len > r->cap) {
		uint8_t *b = realloc(r->buf, len);

		if (!b)
			return fail(r, -ENOMEM, "out of memory reading a %u-byte frame", len);
		r->buf = b;
		r->cap = len;
	}
	n = read_exact(r, r->buf, len);
	if (n < 0)
		return fail(r, -EIO, "cannot read the recording at byte %llu: %s",
			    (unsigned long long)r->frame_off, strerror(errno));
	if ((uint32_t)n < len)
		return fail(r, -ENODATA, "recording truncated at byte %llu: the frame there is cut short (%ld of %u bytes)",
			    (unsigned long long)r->frame_off, n, len);
	if (rec_frame__crc(r->buf, len) != crc)
		return fail(r, -EBADMSG, "corrupted frame at byte %llu: checksum mismatch",
			    (unsigned long long)r->frame_off);
	r->frame = asyncscope__frame__unpack(NULL, len, r->buf);
	if (!r->frame)
		return fail(r, -EBADMSG, "corrupted frame at byte %llu: not a valid frame message",
			    (unsigned long long)r->frame_off);
	r->stats.frames++;
	r->stats.bytes += REC_FRAME_HDR_LEN + len;
	return 1;
}

static int check_order(struct rec_reader *r)
{
	int c = r->frame->body_case;

	if (c == ASYNCSCOPE__FRAME__BODY__NOT_SET)
		return fail(r, -EBADMSG, "corrupted frame at byte %llu: empty frame",
			    (unsigned long long)r->frame_off);
	if (r->state == WANT_HEADER && c != ASYNCSCOPE__FRAME__BODY_HEADER)
		return fail(r, -EBADMSG, "damaged recording: the frame at byte %llu comes before the header",
			    (unsigned long long)r->frame_off);
	if (r->state == WANT_BODY && c == ASYNCSCOPE__FRAME__BODY_HEADER)
		return fail(r, -EBADMSG, "damaged recording: a second header at byte %llu",
			    (unsigned long long)r->frame_off);
	if (c == ASYNCSCOPE__FRAME__BODY_HEADER && r->frame->header->format_version != REC_FORMAT_VERSION)
		return fail(r, -EBADMSG, "recording format version %u is not supported (this asyncscope reads %u)",
			    r->frame->header->format_version, REC_FORMAT_VERSION);
	if (c == ASYNCSCOPE__FRAME__BODY_CHUNK) {
		const Asyncscope__Chunk *ch = r->frame->chunk;

		if (r->stats.chunks && ch->seq < r->next_seq)
			return fail(r, -EBADMSG, "damaged recording: chunk %llu at byte %llu repeats or goes back",
				    (unsigned long long)ch->seq, (unsigned long long)r->frame_off);
		/* a flight-recorder window starts wherever the window did */
		if (r->stats.chunks)
			r->stats.missing_chunks += ch->seq - r->next_seq;
		r->next_seq = ch->seq + 1;
		r->stats.chunks++;
		r->next_event = 0;
	}
	return 0;
}

/* The next event of the current chunk as a record: 1, or 0 when the chunk is done. */
static int next_event(struct rec_reader *r, struct rec_item *it)
{
	const Asyncscope__Chunk *ch = r->frame->chunk;

	while (r->next_event < ch->n_events) {
		const Asyncscope__Event *ev = ch->events[r->next_event++];
		size_t size;

		if (rec_event__to_record(ev, &r->rec, &size)) {
			r->stats.bad_events++;
			continue;
		}
		it->kind = REC_ITEM_EVENT;
		it->record = &r->rec;
		it->record_size = size;
		r->stats.events++;
		return 1;
	}
	return 0;
}

int rec_reader__next(struct rec_reader *r, struct rec_item *it)
{
	int err;

	memset(it, 0, sizeof(*it));
	if (r->err)
		return r->err;
	if (r->state == WANT_MAGIC && (err = read_magic(r)))
		return err;
	for (;;) {
		if (r->frame && r->frame->body_case == ASYNCSCOPE__FRAME__BODY_CHUNK) {
			it->offset = r->frame_off;
			if (next_event(r, it))
				return 1;
		}
		if (r->state == DONE) {
			err = read_frame(r);
			if (err < 0)
				return err;
			if (err > 0)
				return fail(r, -EBADMSG, "damaged recording: data after the trailer at byte %llu",
					    (unsigned long long)r->frame_off);
			return 0;
		}
		err = read_frame(r);
		if (err < 0)
			return err;
		if (err == 0)
			return fail(r, -ENODATA, r->state == WANT_HEADER ?
				    "recording is empty: no header (the recorder stopped before writing it)" :
				    "recording ends at byte %llu without a trailer: the recorder did not finish (killed, crashed or the disk filled)",
				    (unsigned long long)r->off);
		err = check_order(r);
		if (err)
			return err;
		it->offset = r->frame_off;
		switch (r->frame->body_case) {
		case ASYNCSCOPE__FRAME__BODY_HEADER:
			r->state = WANT_BODY;
			it->kind = REC_ITEM_HEADER;
			it->header = r->frame->header;
			return 1;
		case ASYNCSCOPE__FRAME__BODY_PROCESS:
			it->kind = REC_ITEM_PROCESS;
			it->process = r->frame->process;
			return 1;
		case ASYNCSCOPE__FRAME__BODY_THREAD:
			it->kind = REC_ITEM_THREAD;
			it->thread = r->frame->thread;
			return 1;
		case ASYNCSCOPE__FRAME__BODY_TRAILER:
			r->state = DONE;
			it->kind = REC_ITEM_TRAILER;
			it->trailer = r->frame->trailer;
			return 1;
		case ASYNCSCOPE__FRAME__BODY_CHUNK:
			continue;	/* its events come out one by one above */
		default:
			return fail(r, -EBADMSG, "corrupted frame at byte %llu: unknown frame kind %d",
				    (unsigned long long)r->frame_off, r->frame->body_case);
		}
	}
}
