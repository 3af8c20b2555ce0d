// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sofdsnoop: file descriptors passed over Unix sockets (SCM_RIGHTS).
 * sendmsg: the fds the caller sends, read from its control message at
 * syscall entry; recvmsg: the fds the kernel installed, read back from the
 * caller's control buffer when the syscall returns.  (bcc probes __scm_send
 * and scm_detach_fds, which also see sendmmsg/recvmmsg.)  A record carries
 * up to MAX_FD fds; more make more records, as bcc. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "sofdsnoop.h"

#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define MAX_CHUNKS 8            /* records per message: MAX_CHUNKS * MAX_FD fds */

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;      /* trumps targ_tgid (bcc's -t) */

struct recv_args {
	struct user_msghdr *msg;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct recv_args);
} receiving SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct fd_event);

static __always_inline bool wanted(__u64 id)
{
	return targ_tid ? (__u32)id == targ_tid : !targ_tgid || (id >> 32) == targ_tgid;
}

/* Send one record per MAX_FD fds of the first control message of `msg` if
 * it carries SCM_RIGHTS. */
static __always_inline int report(struct user_msghdr *umsg, __s32 sock_fd, __s32 action)
{
	struct user_msghdr msg;
	struct cmsghdr cmsg;
	struct fd_event *e;
	__s32 *data;
	long num;
	__u32 n, size;
	__u64 cgroup;
	int i;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg) || !msg.msg_control ||
	    msg.msg_controllen < sizeof(cmsg))
		return 0;
	if (bpf_probe_read_user(&cmsg, sizeof(cmsg), msg.msg_control) ||
	    cmsg.cmsg_level != SOL_SOCKET || cmsg.cmsg_type != SCM_RIGHTS)
		return 0;
	num = (long)(cmsg.cmsg_len - sizeof(cmsg)) / sizeof(__s32);
	data = msg.msg_control + sizeof(cmsg);
	cgroup = event_cgroup_id();     /* once, outside the loop */
	for (i = 0; i < MAX_CHUNKS && num > 0; i++) {
		e = RINGBUF_RESERVE(events, sizeof(*e));
		if (!e)
			return 0;
		e->id = bpf_get_current_pid_tgid();
		e->cgroup = cgroup;
		e->ts_us = bpf_ktime_get_ns() / 1000;
		e->action = action;
		e->sock_fd = sock_fd;
		n = num < MAX_FD ? num : MAX_FD;
		e->fd_cnt = n;
		__builtin_memset(e->fd, 0xff, sizeof(e->fd));
		/* bounds checked on the very register the helper gets: 6.1's
		 * verifier lost them on n ("R2 min value is negative") once the
		 * cgroup id's code sat beside it */
		size = n * sizeof(__s32);
		barrier_var(size);
		if (size > 0 && size <= sizeof(e->fd))
			bpf_probe_read_user(e->fd, size, data);
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
		num -= MAX_FD;
		data += MAX_FD;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!wanted(bpf_get_current_pid_tgid()))
		return 0;
	return report((void *)ctx->args[1], ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct recv_args r = { .msg = (void *)ctx->args[1], .fd = ctx->args[0] };
	__u32 tid = id;

	if (!wanted(id))
		return 0;
	bpf_map_update_elem(&receiving, &tid, &r, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int recvmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = current_tid();
	struct recv_args *r = bpf_map_lookup_elem(&receiving, &tid);
	struct recv_args args;

	if (!r)
		return 0;
	args = *r;
	bpf_map_delete_elem(&receiving, &tid);
	if (ctx->ret < 0)
		return 0;
	return report(args.msg, args.fd, 1);
}
