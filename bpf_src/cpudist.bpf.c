// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cpudist: on-CPU time per scheduling slice (or off-CPU time) as histograms.
 * Variants: tp_btf and raw_tp on sched_switch; kprobe on finish_task_switch
 * (bcc's probe; attached by name from Python: compilers rename it
 * finish_task_switch.isra.0), where `prev` is the argument and the task
 * switched in is current. */
#include "corebpf.bpf.h"
#include "sched.bpf.h"
#include "cgroupid.bpf.h"
#include "cpudist.h"

const volatile bool targ_offcpu = false;
const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_ms = false;
const volatile bool targ_idle = false;          /* count the idle task (pid 0) too */
const volatile __u32 targ_tgid = 0;
const volatile bool targ_metrics = false;   /* the exporter's mode: exact ns sums */

/* The idle task is pid 0 on every CPU: it is told apart by CPU. */
struct entry_key {
	__u32 pid;
	__u32 cpu;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct entry_key);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);     /* pid or tid with -P/-L, cgroup id (--containers), else 0 */
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ext_val);
} ext SEC(".maps");

static struct hist zero_hist;

static __always_inline bool wanted(__u32 tgid, __u32 pid)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	return pid || targ_idle;
}

static __always_inline void mark(__u32 tgid, __u32 pid, __u32 cpu, __u64 ts)
{
	struct entry_key k = { .pid = pid, .cpu = pid ? (__u32)-1 : cpu };

	if (wanted(tgid, pid))
		bpf_map_update_elem(&start, &k, &ts, BPF_ANY);
}

/* task: the task accounted (NULL: current, the kprobe's next) */
static __always_inline void account(__u32 tgid, __u32 pid, struct task_struct *task,
				    __u32 cpu, __u64 ts)
{
	struct entry_key k = { .pid = pid, .cpu = pid ? (__u32)-1 : cpu };
	__u32 zero = 0;
	__u64 key = 0;
	struct ext_val *ev;
	struct hist *h;
	__u64 *tsp, delta, ns;

	if (!wanted(tgid, pid))
		return;
	tsp = bpf_map_lookup_elem(&start, &k);
	if (!tsp)
		return;
	if (ts < *tsp) {        /* clock skew between CPUs: drop */
		bpf_map_delete_elem(&start, &k);
		return;
	}
	delta = ns = ts - *tsp;
	bpf_map_delete_elem(&start, &k);
	delta = targ_ms ? delta / 1000000 : delta / 1000;
	if (targ_per_process)
		key = tgid;
	else if (targ_per_thread)
		key = pid;
	else if (targ_containers)
		key = task ? task_cgroup_id_of(task) : task_cgroup_id();
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (h) {
		HIST_INC(h, hist_slot(delta));
		if (targ_metrics)
			__sync_fetch_and_add(&h->sum_ns, ns);
	}
	ev = bpf_map_lookup_elem(&ext, &zero);
	if (ev) {
		__sync_fetch_and_add(&ev->total, delta);
		__sync_fetch_and_add(&ev->count, 1);
	}
}

static __always_inline int on_switch(struct task_struct *prev, __u32 prev_tgid, __u32 prev_pid,
				     struct task_struct *next, __u32 next_tgid, __u32 next_pid)
{
	__u64 ts = bpf_ktime_get_ns();
	__u32 cpu = bpf_get_smp_processor_id();

	if (targ_offcpu) {
		mark(prev_tgid, prev_pid, cpu, ts);
		account(next_tgid, next_pid, next, cpu, ts);
	} else {
		account(prev_tgid, prev_pid, prev, cpu, ts);
		mark(next_tgid, next_pid, cpu, ts);
	}
	return 0;
}

#define TASK_IDS(t) t, BPF_CORE_READ(t, tgid), BPF_CORE_READ(t, pid)

SEC("tp_btf/sched_switch")
int BPF_PROG(switch__btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(TASK_IDS(prev), TASK_IDS(next));
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch__raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(TASK_IDS(prev), TASK_IDS(next));
}

SEC("kprobe")
int BPF_KPROBE(switch__kprobe, struct task_struct *prev)
{
	__u64 id = bpf_get_current_pid_tgid();

	return on_switch(TASK_IDS(prev), NULL, id >> 32, (__u32)id);
}
