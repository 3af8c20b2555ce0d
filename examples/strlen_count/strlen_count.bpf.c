// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/strlen_count.py: the strings passed to libc's
 * strlen(), counted in the kernel.  The uprobe is attached from Python
 * (Program.attach_uprobe("c:strlen")): strlen is a GNU indirect function,
 * and the library probes the implementation this machine's libc picks. */
#include "corebpf.bpf.h"

struct key_t {
	char c[80];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(count, const char *s)
{
	static const __u64 zero;
	struct key_t key = {};
	__u64 *val;

	if (!s)
		return 0;
	/* _str: the bytes after the NUL stay zero, so one string is one key */
	bpf_probe_read_user_str(&key.c, sizeof(key.c), s);
	val = map_lookup_or_init(&counts, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}
