// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* vfscount: calls of every kernel function named vfs_*, by address.  One
 * kprobe program that Python attaches to each function; the address comes
 * from bpf_get_func_ip() where the kernel has it (5.15).  There is no
 * tracepoint alternative: a kernel without kprobes cannot count kernel
 * functions.  The section names
 * vfs_read so the library knows the kind (and that the kernel has it);
 * Python attaches the program to every vfs_* function itself. */
#include "corebpf.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} counts SEC(".maps");

SEC("kprobe/vfs_read")
int count__kprobe(struct pt_regs *ctx)
{
	__u64 ip, one = 1, *n;

	/* bpf_get_func_ip() (5.15) gives the function's address; before it,
	 * the probed instruction pointer, which is inside the function (Python
	 * names the enclosing symbol either way) */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_func_ip))
		ip = bpf_get_func_ip(ctx);
	else
		ip = PT_REGS_IP(ctx);

	n = bpf_map_lookup_elem(&counts, &ip);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &ip, &one, BPF_NOEXIST);
	return 0;
}
