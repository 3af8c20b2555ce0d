/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* User stack dumps for DWARF unwinding (`--unwind dwarf`), shared by every
 * stack tool: the user registers at the moment of the event and a copy of
 * the top of the user stack, unwound later in Python with the CFI of each
 * mapped file (corebpf.symbols.unwind), as perf's --call-graph dwarf does.
 * build.py ships this file as it is in the header set of `corebpf compile`
 * (corebpf/include) for people's own programs, whose Python side unwinds a
 * record with corebpf.unwind_user_stack(pid, e.ustack) (docs/API.md).
 *
 *   struct my_event { ...; struct ustack_dump ustack; };   (last member)
 *   USTACK_SCRATCH(scratch, struct my_event);
 *   e = ustack_scratch(&scratch);  fill e...;
 *   n = ustack_capture(&e->ustack);
 *   RINGBUF_OUTPUT(events, e, offsetof(struct my_event, ustack.data) + n);
 *
 * The register set is per architecture (USTACK_NREGS below, and the DWARF
 * register map in corebpf/symbols/unwind.py): x86_64 copies struct pt_regs,
 * arm64 struct user_pt_regs (x0-x30, sp, pc, pstate). */
#ifndef __COREBPF_USTACK_BPF_H
#define __COREBPF_USTACK_BPF_H

#if defined(__TARGET_ARCH_x86)
#define USTACK_NREGS 21         /* struct pt_regs: r15 ... ip cs flags sp ss */
#define USTACK_SP 19
#elif defined(__TARGET_ARCH_arm64)
#define USTACK_NREGS 34         /* struct user_pt_regs: regs[31], sp, pc, pstate */
#define USTACK_SP 31
#else
#error "ustack.bpf.h: no user register set for this architecture"
#endif

/* The most a dump can hold (--unwind-stack-size is capped to it); copies
 * go page by page, so the buffer has one page of slack for the verifier. */
#define USTACK_MAX 65536
#define USTACK_PAGE 4096

/* Bytes of user stack to copy, set by Python (default 16 KiB). */
const volatile __u32 targ_ustack_size = 16384;

struct ustack_dump {
	__u64 regs[USTACK_NREGS];       /* the user registers, the arch's layout */
	__u32 size;                     /* bytes of stack in data[], from regs' sp up */
	__u32 flags;                    /* USTACK_* below */
	__u8 data[USTACK_MAX + USTACK_PAGE];
};

#define USTACK_NONE 1           /* no user context (kernel thread, no helper) */

/* One record per CPU, large enough for a full dump: an ARRAY indexed by CPU
 * (per-CPU array values stop at 32 KiB); Python sets max_entries to the
 * number of possible CPUs before load. */
#define USTACK_SCRATCH(name, rec_type)                                         \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, rec_type);                                       \
	} name SEC(".maps")

static __always_inline void *ustack_scratch(void *map)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(map, &cpu);
}

/* Fill d with the current task's user registers and up to targ_ustack_size
 * bytes of its user stack; return the bytes copied (0: no user context).
 * Reads go one page at a time, so a stack ending less than the asked size
 * above sp is copied up to its end instead of failing as a whole. */
static __always_inline __u32 ustack_capture(struct ustack_dump *d)
{
	struct task_struct *task;
	struct pt_regs *regs;
	__u64 sp, addr;
	__u64 off = 0, n, limit = targ_ustack_size;
	int i;

	d->size = 0;
	d->flags = USTACK_NONE;
	/* bpf_task_pt_regs (5.15) wants a trusted task pointer: _btf (5.11). */
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return 0;
	task = bpf_get_current_task_btf();
	if (!BPF_CORE_READ(task, mm))
		return 0;                       /* kernel thread: no user stack */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs || bpf_probe_read_kernel(d->regs, sizeof(d->regs), regs))
		return 0;
	d->flags = 0;
	sp = d->regs[USTACK_SP];
	if (limit > USTACK_MAX)
		limit = USTACK_MAX;
	for (i = 0; i < USTACK_MAX / USTACK_PAGE + 1; i++) {
		if (off >= limit)
			break;
		addr = sp + off;
		n = USTACK_PAGE - (addr & (USTACK_PAGE - 1));
		if (n > limit - off)
			n = limit - off;
		/* keep clang from folding the checks the verifier needs */
		asm volatile("" : "+r"(n));
		if (n == 0 || n > USTACK_PAGE)
			break;
		off &= USTACK_MAX - 1;
		if (bpf_probe_read_user(&d->data[off], n, (void *)addr))
			break;
		off += n;
	}
	d->size = off;
	return off;
}

#endif /* __COREBPF_USTACK_BPF_H */
