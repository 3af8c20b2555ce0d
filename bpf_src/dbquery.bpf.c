// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Database query latency for dbslower, dbstat and mysqld_qslower.
 * USDT query__start (arg 0: the query text) / query__done as MySQL and
 * PostgreSQL define them, or, for a MySQL binary without probes, a uprobe and
 * uretprobe on dispatch_command() (its 5.6 or 5.7+ argument layout).  Slow
 * queries become events, or (targ_hist) a latency histogram. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "cgroupid.bpf.h"
#include "dbquery.h"

#define COM_QUERY 3

const volatile __u64 targ_min_ns = 0;
const volatile bool targ_hist = false;
const volatile __u64 targ_hist_unit_ns = 1000000;	/* ms buckets by default */
const volatile bool targ_mysql56 = false;
/* USDT probes are attached to the database binary in every process (new
 * connections' backends included, their semaphores set by the kernel through
 * the reference counter offset); the queries counted are those of the PIDs
 * in db_pids and of their children (PostgreSQL's postmaster forks a backend
 * per connection). */
const volatile bool targ_filter_pids = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);                     /* tgid */
	__type(value, __u8);
} db_pids SEC(".maps");

struct start {
	__u64 ts;
	char query[QUERY_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct start);
} scratch SEC(".maps");

/* keyed by the cgroup id (--containers; else 0) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct hist);
} hists SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct query_event);

static __always_inline bool db_process(void)
{
	struct task_struct *task;
	__u32 tgid = current_tgid();

	if (!targ_filter_pids || bpf_map_lookup_elem(&db_pids, &tgid))
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	tgid = BPF_CORE_READ(task, real_parent, tgid);
	return bpf_map_lookup_elem(&db_pids, &tgid) != NULL;
}

static __always_inline int query_begin(const char *query)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct start *s = bpf_map_lookup_elem(&scratch, &zero);

	if (!s || !db_process())
		return 0;
	s->ts = bpf_ktime_get_ns();
	s->query[0] = 0;
	if (!targ_hist)
		bpf_probe_read_user_str(s->query, sizeof(s->query), query);
	bpf_map_update_elem(&starts, &id, s, BPF_ANY);
	return 0;
}

static __always_inline int query_end(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct start *s = bpf_map_lookup_elem(&starts, &id);
	struct query_event *e;
	__u64 delta;

	if (!s)
		return 0;
	delta = bpf_ktime_get_ns() - s->ts;
	if (delta < targ_min_ns)
		goto out;
	if (targ_hist) {
		static const struct hist zero;
		__u64 cgroup = event_cgroup_id();
		struct hist *h = map_lookup_or_init(&hists, &cgroup, &zero);

		if (h)
			HIST_INC(h, hist_slot(delta / targ_hist_unit_ns));
		goto out;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (e) {
		e->cgroup = event_cgroup_id();
		e->pid = id >> 32;
		e->tid = (__u32)id;
		e->start_ns = s->ts;
		e->delta_ns = delta;
		__builtin_memcpy(e->query, s->query, sizeof(e->query));
		bpf_ringbuf_submit(e, 0);
	}
out:
	bpf_map_delete_elem(&starts, &id);
	return 0;
}

SEC("usdt")
int query_start(struct pt_regs *ctx)
{
	long query = 0;

	bpf_usdt_arg(ctx, 0, &query);
	return query_begin((const char *)query);
}

SEC("usdt")
int query_done(struct pt_regs *ctx)
{
	return query_end();
}

/* MySQL 5.6: dispatch_command(enum_server_command, THD *, char *packet, uint);
 * 5.7+: dispatch_command(THD *, const COM_DATA *, enum_server_command), where
 * COM_DATA's com_query member starts with the query pointer. */
SEC("uprobe")
int BPF_KPROBE(dispatch_start, __u64 a1, __u64 a2, __u64 a3)
{
	const char *query = 0;

	if (targ_mysql56) {
		if ((__u32)a1 != COM_QUERY)
			return 0;
		query = (const char *)a3;
	} else {
		if ((__u32)a3 != COM_QUERY)
			return 0;
		bpf_probe_read_user(&query, sizeof(query), (void *)a2);
	}
	return query_begin(query);
}

SEC("uretprobe")
int BPF_KRETPROBE(dispatch_return)
{
	return query_end();
}
