// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/urandomread.py: reads of /dev/urandom, in bits.
 *
 * bcc uses the random:urandom_read tracepoint, which Linux 5.18 removed.
 * Two variants, the library loads the first this kernel can serve:
 *  - __old: that tracepoint, where it still exists (its layout is declared
 *    here: it is not in a current vmlinux.h);
 *  - __sys: read(2) on any kernel, through the syscall tracepoints: the
 *    entry checks that the fd is /dev/urandom (character device 1:9, read
 *    through task->files with CO-RE), the exit reports what was read. */
#include "corebpf.bpf.h"

struct event {
	__u32 pid;
	__u32 got_bits;
	__u64 ts;
	char comm[TASK_COMM_LEN];
};

EVENTS_RINGBUF(events, 1 << 16, struct event);

#define URANDOM_RDEV ((1u << 20) | 9)	/* the kernel's MKDEV(1, 9) */
/* vmlinux.h carries types, not macros */
#define S_IFMT  00170000
#define S_IFCHR 0020000

static __always_inline void emit(__u32 bits)
{
	struct event *e = RINGBUF_RESERVE(events, sizeof(*e));

	if (!e)
		return;
	e->pid = current_tgid();
	e->got_bits = bits;
	e->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/* --- the old tracepoint -------------------------------------------------- */
struct urandom_read_args {
	__u64 common;
	int got_bits;
	int pool_left;
	int input_left;
};

SEC("tracepoint/random/urandom_read")
int urandom__old(struct urandom_read_args *args)
{
	emit(args->got_bits);
	return 0;
}

/* --- read(2) of /dev/urandom --------------------------------------------- */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* thread id */
	__type(value, __u8);
} reading SEC(".maps");

static __always_inline bool is_urandom(unsigned int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	return BPF_CORE_READ(f, f_inode, i_rdev) == URANDOM_RDEV &&
	       (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) == S_IFCHR;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter__sys(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = current_tid();
	__u8 one = 1;

	if (is_urandom(ctx->args[0]))
		bpf_map_update_elem(&reading, &tid, &one, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit__sys(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = current_tid();

	if (!bpf_map_lookup_elem(&reading, &tid))
		return 0;
	bpf_map_delete_elem(&reading, &tid);
	if (ctx->ret > 0)
		emit(ctx->ret * 8);
	return 0;
}
