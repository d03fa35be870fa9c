// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capstone/capstone.h>

#include "x86_site.h"

#define X86_PAGE_SIZE	4096
/* How far into the entry block to look; real prologues are a few pushes. */
#define MAX_WALK	64
#define ALL_ARGS	0x3fu

/*
 * Nops, the one place to change when a measurement says otherwise.
 * Linux 6.18 emulates an instruction equal to the kernel's x86_nops[len]
 * (memcmp) and "prefixes + 0x90"; it optimises a 5-byte NOPL (0f 1f /0,
 * any displacement: 0f 1f 44 00 08 was measured optimised too) that does
 * not cross a page, see nopl5_optimizable().  Measured by bench/probe_cost
 * on Linux 6.18: these exact encodings are emulated (the 0x66 forms too);
 * any other nop is single-stepped (e.g. 0f 1f 40 08, or the 9-byte
 * 66 0f 1f 84 ...), and LLVM's "cs nopw" padding is refused outright.
 */
static const struct nop_rule {
	uint8_t len;
	uint8_t bytes[10];
	enum site_class cls;
} nop_rules[] = {
	{ 1, { 0x90 }, SITE_EMULATED },
	{ 2, { 0x66, 0x90 }, SITE_EMULATED },
	{ 3, { 0x0f, 0x1f, 0x00 }, SITE_EMULATED },
	{ 4, { 0x0f, 0x1f, 0x40, 0x00 }, SITE_EMULATED },
	/* reached only when the nop5 crosses a page and cannot be optimised */
	{ 5, { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, SITE_EMULATED },
	{ 6, { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 }, SITE_EMULATED },
	{ 7, { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 }, SITE_EMULATED },
	{ 8, { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 }, SITE_EMULATED },
};

const char *site_class_name(enum site_class cls)
{
	switch (cls) {
	case SITE_OPTIMIZED:
		return "optimized";
	case SITE_EMULATED:
		return "emulated";
	case SITE_SINGLE_STEP:
		return "single-step";
	case SITE_REFUSED:
		return "refused";
	}
	return "unknown";
}

/* The parts of an encoding the kernel's decisions depend on. */
struct enc {
	uint8_t nprefix;	/* legacy prefixes */
	uint8_t has_66;
	uint8_t rex;		/* 0 when absent */
	const uint8_t *op;	/* first opcode byte */
	size_t oplen;		/* bytes left from op */
};

static int is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0xf0: case 0xf2: case 0xf3:
	case 0x2e: case 0x36: case 0x3e: case 0x26: case 0x64: case 0x65:
	case 0x66: case 0x67:
		return 1;
	}
	return 0;
}

static void split_encoding(const uint8_t *b, size_t len, struct enc *e)
{
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	while (i < len && is_legacy_prefix(b[i])) {
		if (b[i] == 0x66)
			e->has_66 = 1;
		e->nprefix++;
		i++;
	}
	if (i < len && (b[i] & 0xf0) == 0x40)
		e->rex = b[i++];
	e->op = b + i;
	e->oplen = len - i;
}

static int nopl5_optimizable(const uint8_t *b, size_t len, uint64_t vaddr)
{
	/* the kernel cannot yet write the 5-byte call atomically across pages */
	if (X86_PAGE_SIZE - (vaddr & (X86_PAGE_SIZE - 1)) < 5)
		return 0;
	return len == 5 && b[0] == 0x0f && b[1] == 0x1f && ((b[2] >> 3) & 7) == 0;
}

static enum site_class classify_bytes(const uint8_t *b, size_t len, uint64_t vaddr)
{
	struct enc e;
	size_t i;
	uint8_t op;

	/*
	 * The kernel will not probe an instruction with a LOCK or an ES/CS/SS/DS
	 * segment prefix at all (ENOTSUPP): measured by bench/probe_cost, which
	 * includes LLVM's "cs nopw" loop padding.
	 */
	for (i = 0; i < len && is_legacy_prefix(b[i]); i++) {
		if (b[i] == 0xf0 || b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e)
			return SITE_REFUSED;
	}
	if (nopl5_optimizable(b, len, vaddr))
		return SITE_OPTIMIZED;
	for (i = 0; i < sizeof(nop_rules) / sizeof(nop_rules[0]); i++) {
		if (nop_rules[i].len == len && !memcmp(nop_rules[i].bytes, b, len))
			return nop_rules[i].cls;
	}
	split_encoding(b, len, &e);
	if (!e.oplen)
		return SITE_SINGLE_STEP;
	op = e.op[0];
	/* push %reg: one byte, or two with REX.B (41) for r8..r15, nothing else */
	if (op >= 0x50 && op <= 0x57 && !e.nprefix && (!e.rex || e.rex == 0x41))
		return SITE_EMULATED;
	/* branches: the kernel refuses any with a 0x66 (16-bit) prefix */
	if (e.has_66)
		return SITE_SINGLE_STEP;
	if (op == 0xe8 || op == 0xe9 || op == 0xeb || (op >= 0x70 && op <= 0x7f))
		return SITE_EMULATED;
	if (op == 0x0f && e.oplen >= 2 && e.op[1] >= 0x80 && e.op[1] <= 0x8f)
		return SITE_EMULATED;
	return SITE_SINGLE_STEP;
}

static int dis_open(csh *h, int detail)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	if (detail)
		cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return 0;
}

/*
 * Decode the one instruction at code: calls fn with it and returns fn's
 * result, or -EINVAL when the bytes are no instruction.
 */
static int with_insn(const uint8_t *code, size_t len, uint64_t vaddr,
		     int (*fn)(const cs_insn *insn, void *ctx), void *ctx)
{
	cs_insn *insn = NULL;
	int ret;
	csh h;

	ret = dis_open(&h, 0);
	if (ret)
		return ret;
	if (cs_disasm(h, code, len, vaddr, 1, &insn) == 1)
		ret = fn(insn, ctx);
	else
		ret = -EINVAL;
	if (insn)
		cs_free(insn, 1);
	cs_close(&h);
	return ret;
}

struct classify_ctx {
	const uint8_t *code;
	enum site_class *cls;
};

static int classify_one(const cs_insn *insn, void *ctx)
{
	struct classify_ctx *c = ctx;

	*c->cls = classify_bytes(c->code, insn->size, insn->address);
	return insn->size;
}

int x86_site__classify(const uint8_t *code, size_t len, uint64_t vaddr,
		       enum site_class *cls)
{
	struct classify_ctx c = { .code = code, .cls = cls };

	return with_insn(code, len, vaddr, classify_one, &c);
}

struct format_ctx {
	char *buf;
	size_t len;
};

static int format_one(const cs_insn *insn, void *ctx)
{
	struct format_ctx *f = ctx;

	if (insn->op_str[0])
		snprintf(f->buf, f->len, "%s %s", insn->mnemonic, insn->op_str);
	else
		snprintf(f->buf, f->len, "%s", insn->mnemonic);
	return insn->size;
}

int x86_site__format(const uint8_t *code, size_t len, uint64_t vaddr, char *buf,
		     size_t buflen)
{
	struct format_ctx f = { .buf = buf, .len = buflen };

	return with_insn(code, len, vaddr, format_one, &f);
}

static uint32_t arg_bit(unsigned int reg)
{
	switch (reg) {
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return X86_ARG_RDI;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return X86_ARG_RSI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL:
	case X86_REG_DH:
		return X86_ARG_RDX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL:
	case X86_REG_CH:
		return X86_ARG_RCX;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B:
		return X86_ARG_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B:
		return X86_ARG_R9;
	}
	return 0;
}

/* Argument registers insn writes, explicitly or implicitly (rep movs, cpuid...). */
static uint32_t args_written(csh h, const cs_insn *insn)
{
	uint8_t nr = 0, nw = 0, i;
	cs_regs rd, wr;
	uint32_t mask = 0;

	if (cs_regs_access(h, insn, rd, &nr, wr, &nw) != CS_ERR_OK)
		return ALL_ARGS;
	for (i = 0; i < nw; i++)
		mask |= arg_bit(wr[i]);
	return mask;
}

static int in_group(const cs_insn *insn, uint8_t grp)
{
	uint8_t i;

	for (i = 0; i < insn->detail->groups_count; i++) {
		if (insn->detail->groups[i] == grp)
			return 1;
	}
	return 0;
}

static int is_direct_branch(const cs_insn *insn, uint64_t *target)
{
	const cs_x86 *x = &insn->detail->x86;

	if (!in_group(insn, CS_GRP_JUMP) && !in_group(insn, CS_GRP_CALL))
		return 0;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return 0;
	*target = (uint64_t)x->operands[0].imm;
	return 1;
}

/*
 * An indirect jmp through a register or an indexed memory operand is how
 * LLVM dispatches a jump table: its targets are unknown here.  Through a
 * plain memory operand (GOT slot, vtable slot) it is a tail call.
 */
static int is_jump_table(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id != X86_INS_JMP && insn->id != X86_INS_LJMP)
		return 0;
	if (x->op_count != 1)
		return 0;
	if (x->operands[0].type == X86_OP_REG)
		return 1;
	return x->operands[0].type == X86_OP_MEM && x->operands[0].mem.index != X86_REG_INVALID;
}

static int ends_block(const cs_insn *insn)
{
	switch (insn->id) {
	case X86_INS_HLT: case X86_INS_UD2: case X86_INS_INT3: case X86_INS_SYSCALL:
		return 1;
	}
	return in_group(insn, CS_GRP_JUMP) || in_group(insn, CS_GRP_CALL) ||
	       in_group(insn, CS_GRP_RET) || in_group(insn, CS_GRP_INT) ||
	       in_group(insn, CS_GRP_IRET);
}

int x86_site__find(const uint8_t *code, size_t size, uint64_t func_vaddr,
		   uint32_t arg_regs, struct x86_site *site)
{
	uint64_t first_target = UINT64_MAX, t;
	enum site_class cls;
	cs_insn *insns = NULL;
	uint32_t written = 0;
	size_t n = 0, k;
	int len, err;
	csh h;

	memset(site, 0, sizeof(*site));
	len = x86_site__classify(code, size, func_vaddr, &cls);
	if (len < 0)
		return len;
	site->cls = cls;
	site->len = len;
	if (cls != SITE_SINGLE_STEP && cls != SITE_REFUSED)
		return 0;

	err = dis_open(&h, 1);
	if (err)
		return err;
	n = cs_disasm(h, code, size, func_vaddr, 0, &insns);
	for (k = 0; k < n; k++) {
		if (is_jump_table(&insns[k])) {
			site->why = "the function has a jump table";
			goto cleanup;
		}
		if (is_direct_branch(&insns[k], &t) && t > func_vaddr &&
		    t < func_vaddr + size && t < first_target)
			first_target = t;
	}

	site->why = "no cheaper instruction in the entry block";
	for (k = 0; k < n && k < MAX_WALK; k++) {
		const cs_insn *insn = &insns[k];

		if (k > 0) {
			if (insn->address >= first_target) {
				site->why = "a branch targets the entry block (loop head)";
				break;
			}
			cls = classify_bytes(code + (insn->address - func_vaddr), insn->size,
					     insn->address);
			if (cls == SITE_OPTIMIZED || cls == SITE_EMULATED) {
				site->off = insn->address - func_vaddr;
				site->cls = cls;
				site->len = insn->size;
				site->why = NULL;
				break;
			}
		}
		if (ends_block(insn)) {
			site->why = "no cheaper instruction before the first branch";
			break;
		}
		written |= args_written(h, insn);
		if (written & arg_regs) {
			site->why = "an argument register is written before a cheaper instruction";
			break;
		}
	}

cleanup:
	if (insns)
		cs_free(insns, n);
	cs_close(&h);
	return 0;
}

size_t x86_site__direct_targets(const uint8_t *code, size_t size, uint64_t vaddr,
				uint64_t *targets, size_t max)
{
	cs_insn *insns = NULL;
	size_t n, k, cnt = 0;
	uint64_t t;
	csh h;

	if (dis_open(&h, 1))
		return 0;
	n = cs_disasm(h, code, size, vaddr, 0, &insns);
	for (k = 0; k < n; k++) {
		if (!is_direct_branch(&insns[k], &t))
			continue;
		if (cnt < max)
			targets[cnt] = t;
		cnt++;
	}
	if (insns)
		cs_free(insns, n);
	cs_close(&h);
	return cnt;
}
