// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dcsnoop: failed dcache lookups (d_lookup() returning nothing) and, with
 * targ_all, every fast lookup (lookup_fast(), the component being looked
 * up).  Only kernel functions carry this: fentry/fexit, or kprobes (Python
 * attaches the kprobe on lookup_fast to this kernel's name of it). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "dcsnoop.h"

#define LOOKUP_MISS 0
#define LOOKUP_REFERENCE 1

struct name_buf {
	char name[MAX_FILE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct name_buf);
} looking SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct dc_event);

static __always_inline void submit(const char *name, __u32 type, bool kernel_name)
{
	struct dc_event *e = RINGBUF_RESERVE(events, sizeof(*e));

	if (!e)
		return;
	e->cgroup = event_cgroup_id();
	e->pid = current_tgid();
	e->type = type;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (kernel_name)
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), name);
	else
		__builtin_memcpy(e->filename, name, sizeof(e->filename));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int fast(struct nameidata *nd)
{
	submit((const char *)BPF_CORE_READ(nd, last.name), LOOKUP_REFERENCE, true);
	return 0;
}

static __always_inline int lookup_enter(const struct qstr *name)
{
	struct name_buf buf = {};
	__u32 tid = current_tid();

	bpf_probe_read_kernel_str(buf.name, sizeof(buf.name), BPF_CORE_READ(name, name));
	bpf_map_update_elem(&looking, &tid, &buf, BPF_ANY);
	return 0;
}

static __always_inline int lookup_return(void *found)
{
	__u32 tid = current_tid();
	struct name_buf *buf = bpf_map_lookup_elem(&looking, &tid);

	if (!buf)
		return 0;
	if (!found)
		submit(buf->name, LOOKUP_MISS, false);
	bpf_map_delete_elem(&looking, &tid);
	return 0;
}

SEC("fentry/lookup_fast")
int BPF_PROG(fast__fentry, struct nameidata *nd)
{
	return fast(nd);
}

SEC("fentry/d_lookup")
int BPF_PROG(dlookup_enter__fentry, const struct dentry *parent, const struct qstr *name)
{
	return lookup_enter(name);
}

SEC("fexit/d_lookup")
int BPF_PROG(dlookup_exit__fentry, const struct dentry *parent, const struct qstr *name,
	     struct dentry *ret)
{
	return lookup_return(ret);
}

SEC("kprobe")
int BPF_KPROBE(fast__kprobe, struct nameidata *nd)
{
	return fast(nd);
}

SEC("kprobe/d_lookup")
int BPF_KPROBE(dlookup_enter__kprobe, const struct dentry *parent, const struct qstr *name)
{
	return lookup_enter(name);
}

SEC("kretprobe/d_lookup")
int BPF_KRETPROBE(dlookup_exit__kprobe, void *ret)
{
	return lookup_return(ret);
}
