/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* bcc's --cgroupmap / --mntnsmap: trace only tasks whose cgroup v2 id (or
 * mount namespace inode number) is a key of a hash map someone pinned in
 * bpffs.  Python replaces these placeholder maps with the pinned ones before
 * load (Map.reuse_pinned) and switches the filter on; keys are u64, values
 * are ignored (bcc creates them as u64 -> u32 hash maps). */
#ifndef __COREBPF_CONTAINERS_BPF_H
#define __COREBPF_CONTAINERS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_set SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} mntns_set SEC(".maps");

const volatile bool filter_cgroup = false;
const volatile bool filter_mntns = false;

/* True when the current task passes --cgroupmap and --mntnsmap. */
static __always_inline bool container_ok(void)
{
	if (filter_cgroup) {
		__u64 id = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&cgroup_set, &id))
			return false;
	}
	if (filter_mntns) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		__u64 ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

		if (!bpf_map_lookup_elem(&mntns_set, &ns))
			return false;
	}
	return true;
}

#endif /* __COREBPF_CONTAINERS_BPF_H */
