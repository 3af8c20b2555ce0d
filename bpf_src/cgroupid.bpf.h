/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --containers: the cgroup a task runs in, as one u64 user space maps to
 * a container (corebpf.core.cgroups).
 *
 * The v2 (unified) cgroup id when the task is not in the v2 root; else the
 * kernfs id of its cgroup in the v1 hierarchy of the pids controller (or
 * memory, where pids is not built in), which container runtimes always set
 * up: on a hybrid host (v1 controllers + an empty v2 mounted at
 * /sys/fs/cgroup/unified) every task may sit in the v2 root.  The v1 case
 * carries CGROUP_ID_V1 (bit 63; kernfs ids never reach it): user space
 * then walks that controller's cgroupfs, else the v2 one (a kernfs id is
 * the directory's inode number on cgroupfs).  CO-RE: the controller's
 * index comes from the kernel's enum cgroup_subsys_id, never a version. */
#ifndef __COREBPF_CGROUPID_BPF_H
#define __COREBPF_CGROUPID_BPF_H

#define CGROUP_ID_V1 (1ULL << 63)

/* task_cgroup_id() of any task (the one a scheduler event switches in, a
 * signal's target): its v2 cgroup's kernfs id (what bpf_get_current_cgroup_id
 * returns for current), or the v1 fallback above. */
static __always_inline __u64 task_cgroup_id_of(struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct cgroup *dfl = BPF_CORE_READ(cset, dfl_cgrp);
	struct cgroup *cg;
	int ss;

	if (!dfl)
		return 0;
	if (BPF_CORE_READ(dfl, level) > 0)
		return BPF_CORE_READ(dfl, kn, id);
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, pids_cgrp_id))
		ss = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
	else if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		ss = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	else
		return BPF_CORE_READ(dfl, kn, id);
	if (ss < 0 || ss >= 16)
		return BPF_CORE_READ(dfl, kn, id);
	cg = BPF_CORE_READ(cset, subsys[ss], cgroup);
	/* A controller not mounted on v1 belongs to v2: its cgroup is the
	 * (root) dfl_cgrp itself. */
	if (!cg || cg == dfl)
		return BPF_CORE_READ(dfl, kn, id);
	return BPF_CORE_READ(cg, kn, id) | CGROUP_ID_V1;
}

static __always_inline __u64 task_cgroup_id(void)
{
	return task_cgroup_id_of((struct task_struct *)bpf_get_current_task());
}

/* The id of cgroup `cg` in task_cgroup_id()'s terms: its kernfs id, with
 * CGROUP_ID_V1 when it belongs to a v1 hierarchy (the v2 root's
 * hierarchy_id is 0). */
static __always_inline __u64 cgroup_kn_id(struct cgroup *cg)
{
	__u64 id = BPF_CORE_READ(cg, kn, id);

	if (BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		id |= CGROUP_ID_V1;
	return id;
}

/* The cgroup a block request is charged to: its first bio's blkcg (the
 * submitter's io cgroup on v2, blkio on v1, whoever issues the request:
 * a task, kblockd, the completion), or 0 without CONFIG_BLK_CGROUP.
 * Valid up to block_rq_complete (which fires before the bios end). */
static __always_inline __u64 rq_cgroup_id(struct request *rq)
{
	struct cgroup *cg;

	if (!bpf_core_field_exists(struct bio, bi_blkg))
		return 0;
	cg = BPF_CORE_READ(rq, bio, bi_blkg, blkcg, css.cgroup);
	return cg ? cgroup_kn_id(cg) : 0;
}

/* The cgroup of a socket: its creator's v2 cgroup (sk_cgrp_data), for
 * events in softirq or timer context, where current is not the socket's
 * task; 0 on kernels whose sock_cgroup_data has no cgroup pointer (before
 * 5.15 it was packed in `val`).  A v2 id: on a hybrid host a task at the v2
 * root (the host's) has the root's. */
static __always_inline __u64 sk_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg;

	if (!bpf_core_field_exists(struct sock_cgroup_data, cgroup))
		return 0;
	cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

/* Set by tools' --containers: events carry task_cgroup_id(), else 0. */
const volatile bool targ_containers = false;

static __always_inline __u64 event_cgroup_id(void)
{
	return targ_containers ? task_cgroup_id() : 0;
}

/* The same for a socket's events (sk_cgroup_id) */
static __always_inline __u64 event_sk_cgroup_id(const struct sock *sk)
{
	return targ_containers ? sk_cgroup_id(sk) : 0;
}

/* The same for a task that is not current (sched events' `next`, a signal's
 * target, an exiting task's parent...). */
static __always_inline __u64 event_task_cgroup_id(struct task_struct *task)
{
	return targ_containers ? task_cgroup_id_of(task) : 0;
}

/* The exporter's container label on counters: counts per (cgroup, index),
 * entries allocated as used.  CGROUP_COUNTS(name) defines the map;
 * cgroup_count(&name, id, idx) adds one. */
struct cgroup_count_key {
	__u64 cgroup;
	__u32 idx;
	__u32 pad;
};

#define CGROUP_COUNTS(name)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_HASH);			\
		__uint(max_entries, 16384);				\
		__uint(map_flags, BPF_F_NO_PREALLOC);			\
		__type(key, struct cgroup_count_key);			\
		__type(value, __u64);					\
	} name SEC(".maps")

static __always_inline void cgroup_count(void *map, __u64 cgroup, __u32 idx)
{
	struct cgroup_count_key key = { .cgroup = cgroup, .idx = idx };
	static const __u64 zero;
	__u64 *n = map_lookup_or_init(map, &key, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

#endif /* __COREBPF_CGROUPID_BPF_H */
