// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The library's stack API as a user writes it (docs/API.md, "User stacks
 * without frame pointers"): the shipped ustack.bpf.h, a uprobe, a dump per
 * hit through a ring buffer; Python unwinds it with corebpf.unwind_user_stack.
 * tests/kernel/test_ustack_api.py builds it with `corebpf compile` (the
 * package's header set only) and attaches it in tests/progs/unwindprog. */
#include "corebpf.bpf.h"
#include "ustack.bpf.h"

struct dump_event {
	__u32 pid;
	__u32 pad;
	struct ustack_dump ustack;      /* last member: sent as long as filled */
};

EVENTS_RINGBUF(dumps, 1 << 22, struct dump_event);
USTACK_SCRATCH(scratch, struct dump_event);

SEC("uprobe")
int on_call(struct pt_regs *ctx)
{
	struct dump_event *e = ustack_scratch(&scratch);
	__u32 n;

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	n = ustack_capture(&e->ustack);
	RINGBUF_OUTPUT(dumps, e, offsetof(struct dump_event, ustack.data) + n);
	return 0;
}

