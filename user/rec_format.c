// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The recording format's framing and record <-> message conversions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "rec_format.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t rec_frame__crc(const void *payload, size_t len)
{
	return (uint32_t)crc32(crc32(0, Z_NULL, 0), payload, (uInt)len);
}

int rec_frame__encode(const Asyncscope__Frame *f, uint8_t **buf, size_t *len)
{
	size_t plen = asyncscope__frame__get_packed_size(f);
	uint8_t *b;

	if (plen > REC_FRAME_MAX)
		return -E2BIG;
	b = malloc(REC_FRAME_HDR_LEN + plen);
	if (!b)
		return -ENOMEM;
	asyncscope__frame__pack(f, b + REC_FRAME_HDR_LEN);
	put_le32(b, (uint32_t)plen);
	put_le32(b + 4, rec_frame__crc(b + REC_FRAME_HDR_LEN, plen));
	*buf = b;
	*len = REC_FRAME_HDR_LEN + plen;
	return 0;
}

int rec_frame__parse_hdr(const uint8_t hdr[REC_FRAME_HDR_LEN], uint32_t *len, uint32_t *crc)
{
	*len = get_le32(hdr);
	*crc = get_le32(hdr + 4);
	return *len > REC_FRAME_MAX ? -E2BIG : 0;
}

int rec_event__from_record(const void *data, size_t size, Asyncscope__Event *ev)
{
	const union as_record *r = data;
	struct as_event_hdr h;
	int min;

	if (!data || size < sizeof(h))
		return -EINVAL;
	memcpy(&h, data, sizeof(h));
	min = as_event_min_size(h.type);
	if (min < 0 || size < (size_t)min || h.size != size)
		return -EINVAL;
	ev->type = h.type;
	ev->pid = h.pid;
	ev->tid = h.tid;
	ev->cpu = h.cpu;
	ev->ts_ns = h.ts_ns;
	switch (h.type) {
	case AS_EV_POLL:
		ev->task_id = r->poll.task_id;
		ev->start_ns = r->poll.start_ns;
		ev->type_idx = r->poll.type_idx;
		ev->flags = r->poll.flags;
		ev->waker_clones = r->poll.waker_clones;
		ev->waker_drops = r->poll.waker_drops;
		break;
	case AS_EV_WAKER:
		ev->task_id = r->waker.task_id;
		ev->other_task_id = r->waker.cur_task_id;
		ev->op = r->waker.op;
		ev->type_idx = r->waker.type_idx;
		break;
	case AS_EV_SPAWN:
		if (r->spawn.file_len > AS_LOC_FILE_MAX)
			return -EINVAL;
		ev->task_id = r->spawn.task_id;
		ev->other_task_id = r->spawn.parent_task_id;
		ev->op = r->spawn.kind;
		ev->type_idx = r->spawn.type_idx;
		ev->line = r->spawn.line;
		ev->col = r->spawn.col;
		ev->file.len = r->spawn.file_len;
		ev->file.data = (uint8_t *)r->spawn.file;
		break;
	case AS_EV_SOCK:
		ev->task_id = r->sock.task_id;
		ev->op = r->sock.op;
		ev->sk = r->sock.sk;
		ev->ino = r->sock.ino;
		ev->ret = r->sock.ret;
		ev->fd = r->sock.fd;
		ev->family = r->sock.family;
		ev->proto = r->sock.proto;
		ev->sock_type = r->sock.type;
		ev->lport = r->sock.lport;
		ev->rport = r->sock.rport;
		ev->laddr.len = sizeof(r->sock.laddr);
		ev->laddr.data = (uint8_t *)r->sock.laddr;
		ev->raddr.len = sizeof(r->sock.raddr);
		ev->raddr.data = (uint8_t *)r->sock.raddr;
		break;
	case AS_EV_SOCK_OP:
		ev->task_id = r->sock_op.task_id;
		ev->op = r->sock_op.op;
		ev->ino = r->sock_op.ino;
		ev->ret = r->sock_op.ret;
		ev->fd = r->sock_op.fd;
		break;
	case AS_EV_RUNTIME:
		ev->op = r->rt.phase;
		ev->ret = r->rt.value;
		break;
	default:	/* AS_EV_COMPLETE, AS_EV_SHUTDOWN, AS_EV_SCHEDULE */
		ev->task_id = r->task.task_id;
		ev->flags = r->task.flags;
		ev->type_idx = r->task.type_idx;
		break;
	}
	return 0;
}

int rec_event__to_record(const Asyncscope__Event *ev, union as_record *out, size_t *size)
{
	int min = ev->type <= 0xffff ? as_event_min_size(ev->type) : -1;

	if (min < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->h.type = (__u16)ev->type;
	out->h.size = (__u16)min;
	out->h.pid = ev->pid;
	out->h.tid = ev->tid;
	out->h.cpu = ev->cpu;
	out->h.ts_ns = ev->ts_ns;
	switch (ev->type) {
	case AS_EV_POLL:
		out->poll.task_id = ev->task_id;
		out->poll.start_ns = ev->start_ns;
		out->poll.type_idx = ev->type_idx;
		out->poll.flags = ev->flags;
		out->poll.waker_clones = ev->waker_clones;
		out->poll.waker_drops = ev->waker_drops;
		break;
	case AS_EV_WAKER:
		out->waker.task_id = ev->task_id;
		out->waker.cur_task_id = ev->other_task_id;
		out->waker.op = ev->op;
		out->waker.type_idx = ev->type_idx;
		break;
	case AS_EV_SPAWN:
		if (ev->file.len > AS_LOC_FILE_MAX || (ev->file.len && !ev->file.data))
			return -EINVAL;
		out->spawn.task_id = ev->task_id;
		out->spawn.parent_task_id = ev->other_task_id;
		out->spawn.kind = ev->op;
		out->spawn.type_idx = ev->type_idx;
		out->spawn.line = ev->line;
		out->spawn.col = ev->col;
		out->spawn.file_len = (__u32)ev->file.len;
		if (ev->file.len)
			memcpy(out->spawn.file, ev->file.data, ev->file.len);
		break;
	case AS_EV_SOCK:
		if (ev->op > 0xffff || ev->family > 0xffff || ev->proto > 0xffff ||
		    ev->sock_type > 0xffff || ev->lport > 0xffff || ev->rport > 0xffff ||
		    (ev->laddr.len && ev->laddr.len != sizeof(out->sock.laddr)) ||
		    (ev->raddr.len && ev->raddr.len != sizeof(out->sock.raddr)))
			return -EINVAL;
		out->sock.task_id = ev->task_id;
		out->sock.op = (__u16)ev->op;
		out->sock.sk = ev->sk;
		out->sock.ino = ev->ino;
		out->sock.ret = ev->ret;
		out->sock.fd = ev->fd;
		out->sock.family = (__u16)ev->family;
		out->sock.proto = (__u16)ev->proto;
		out->sock.type = (__u16)ev->sock_type;
		out->sock.lport = (__u16)ev->lport;
		out->sock.rport = (__u16)ev->rport;
		if (ev->laddr.len)
			memcpy(out->sock.laddr, ev->laddr.data, sizeof(out->sock.laddr));
		if (ev->raddr.len)
			memcpy(out->sock.raddr, ev->raddr.data, sizeof(out->sock.raddr));
		break;
	case AS_EV_SOCK_OP:
		if (ev->op > 0xffff || ev->ret < INT32_MIN || ev->ret > INT32_MAX)
			return -EINVAL;
		out->sock_op.task_id = ev->task_id;
		out->sock_op.op = (__u16)ev->op;
		out->sock_op.ino = ev->ino;
		out->sock_op.ret = (__s32)ev->ret;
		out->sock_op.fd = ev->fd;
		break;
	case AS_EV_RUNTIME:
		if (ev->ret < INT32_MIN || ev->ret > INT32_MAX)
			return -EINVAL;
		out->rt.phase = ev->op;
		out->rt.value = (__s32)ev->ret;
		break;
	default:
		out->task.task_id = ev->task_id;
		out->task.flags = ev->flags;
		out->task.type_idx = ev->type_idx;
		break;
	}
	*size = (size_t)min;
	return 0;
}

/* enum as_counter <-> KernelCounters field, one table for both directions. */
#define CNT(idx, field) { idx, offsetof(Asyncscope__KernelCounters, field) }
static const struct {
	int idx;
	size_t off;
} counter_fields[] = {
	CNT(AS_CNT_POLL, polls),
	CNT(AS_CNT_WAKE_BY_VAL, wake_by_val),
	CNT(AS_CNT_WAKE_BY_REF, wake_by_ref),
	CNT(AS_CNT_WAKER_CLONE, waker_clone),
	CNT(AS_CNT_WAKER_DROP, waker_drop),
	CNT(AS_CNT_WAKER_FOLDED, waker_folded),
	CNT(AS_CNT_SPAWN, spawn),
	CNT(AS_CNT_SPAWN_BLOCKING, spawn_blocking),
	CNT(AS_CNT_COMPLETE, complete),
	CNT(AS_CNT_SHUTDOWN, shutdown),
	CNT(AS_CNT_SCHEDULE, schedule),
	CNT(AS_CNT_EMITTED, emitted),
	CNT(AS_CNT_DROPPED, dropped),
	CNT(AS_CNT_UNKNOWN_VTABLE, unknown_vtable),
	CNT(AS_CNT_READ_FAULT, read_fault),
	CNT(AS_CNT_POLL_ORPHAN_RET, poll_orphan_ret),
	CNT(AS_CNT_POLL_STALE, poll_stale),
	CNT(AS_CNT_POLL_TOO_DEEP, poll_too_deep),
};
#undef CNT
_Static_assert(sizeof(counter_fields) / sizeof(counter_fields[0]) == AS_CNT__MAX,
	       "every kernel counter has a KernelCounters field");

void rec_counters__to_proto(const uint64_t *c, Asyncscope__KernelCounters *k, uint64_t *drops)
{
	for (size_t i = 0; i < sizeof(counter_fields) / sizeof(counter_fields[0]); i++)
		memcpy((char *)k + counter_fields[i].off, &c[counter_fields[i].idx], sizeof(uint64_t));
	for (int t = 0; t < AS_EV__MAX; t++)
		drops[t] = c[AS_CNT_DROP_BASE + t];
	k->n_dropped_by_type = AS_EV__MAX;
	k->dropped_by_type = drops;
}

void rec_counters__from_proto(const Asyncscope__KernelCounters *k, uint64_t *c)
{
	memset(c, 0, AS_CNT_NR * sizeof(*c));
	for (size_t i = 0; i < sizeof(counter_fields) / sizeof(counter_fields[0]); i++)
		memcpy(&c[counter_fields[i].idx], (const char *)k + counter_fields[i].off, sizeof(uint64_t));
	for (size_t t = 0; t < k->n_dropped_by_type && t < AS_EV__MAX; t++)
		c[AS_CNT_DROP_BASE + t] = k->dropped_by_type[t];
}
