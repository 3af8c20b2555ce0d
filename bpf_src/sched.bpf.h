/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Scheduler helpers shared by runqlat, runqslower, cpudist and runqlen. */
#ifndef __SCHED_BPF_H
#define __SCHED_BPF_H

#define TASK_RUNNING 0

/* task_struct.state became __state in 5.14. */
struct task_struct___old {
	long state;
};

static __always_inline long task_state(struct task_struct *t)
{
	struct task_struct___old *old = (void *)t;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ(old, state);
}

/* cfs_rq.nr_running (what bcc reads) was renamed nr_queued in 6.13: the
 * number of entities queued on this cfs_rq, the running one included. */
struct cfs_rq___old {
	unsigned int nr_running;
};

static __always_inline __u32 cfs_rq_queued(struct cfs_rq *rq)
{
	struct cfs_rq___old *old = (void *)rq;

	if (bpf_core_field_exists(rq->nr_queued))
		return BPF_CORE_READ(rq, nr_queued);
	return BPF_CORE_READ(old, nr_running);
}

/* Before 6.13 the hierarchical count of a cfs_rq was h_nr_running. */
struct cfs_rq___h_old {
	unsigned int h_nr_running;
};

/* CFS tasks runnable on the CPU of cfs_rq `cfs` (the running one included),
 * in every task group: the root cfs_rq's hierarchical count.  A task's own
 * cfs_rq (what bcc reads) is its group's (an autogroup, a cgroup) and
 * misses what other groups have queued on the CPU. */
static __always_inline __u32 cpu_cfs_runnable(struct cfs_rq *cfs)
{
	struct cfs_rq *root = cfs;
	struct rq *rq;

	if (bpf_core_field_exists(cfs->rq)) {   /* CONFIG_FAIR_GROUP_SCHED */
		rq = BPF_CORE_READ(cfs, rq);
		if (rq)
			root = &rq->cfs;
	}
	if (bpf_core_field_exists(root->h_nr_runnable))
		return BPF_CORE_READ(root, h_nr_runnable);
	return BPF_CORE_READ((struct cfs_rq___h_old *)root, h_nr_running);
}

/* The PID namespace a task's children get: its inode number (runqlat --pidnss). */
static __always_inline __u32 task_pidns(struct task_struct *t)
{
	return BPF_CORE_READ(t, nsproxy, pid_ns_for_children, ns.inum);
}

#endif /* __SCHED_BPF_H */
