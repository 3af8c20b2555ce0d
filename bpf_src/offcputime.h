/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OFFCPUTIME_H
#define __OFFCPUTIME_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Off-CPU time (us) is summed per thread, stack pair and name in `counts`. */
struct key_t {
	__u32 pid;                      /* thread id */
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char name[TASK_COMM_LEN];
};

/* A switch-in whose recorded switch-out lies in the future (bcc's check). */
struct warn_event {
	__u32 pid;
	__u32 tgid;
	__u64 t_start;
	__u64 t_end;
};

/* --unwind dwarf: the user stack is dumped as the thread blocks (the
 * tracepoints run in its context) and the time it was away follows in an
 * offcpu_end record with the same (pid, ts) when it comes back; where the
 * stacks are taken on the way back (kprobe), delta_us is set at once. */
struct ustack_event {
	__u32 pid;                      /* thread id */
	__u32 tgid;
	__s32 kernel_stack_id;
	__u32 pad;
	__u64 ts;                       /* when it left the CPU */
	__u64 delta_us;                 /* 0: an offcpu_end record follows */
	char name[TASK_COMM_LEN];
	struct ustack_dump ustack;      /* last: the record is cut to the bytes copied */
};

struct offcpu_end {
	__u32 pid;
	__u32 tgid;
	__u64 ts;
	__u64 delta_us;                 /* 0: outside -m/-M, drop the dump */
};

#endif /* __OFFCPUTIME_H */
