// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* execsnoop: one record per exec(), built at syscall entry (filename and
 * argv read from user memory while they still exist) and emitted at exit
 * with the return value and the post-exec comm.  execveat with an empty
 * path (AT_EMPTY_PATH, fexecve) shows argv[0] in the file name's place. */
#include "corebpf.bpf.h"
#include "containers.bpf.h"
#include "cgroupid.bpf.h"
#include "execsnoop.h"

const volatile bool targ_fails = false;    /* also emit failed execs */
const volatile __u32 targ_uid = INVALID_UID;
const volatile __s32 targ_ppid = 0;
const volatile __u32 max_args = 20;        /* strings kept, filename included */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __s32);
	__type(value, struct exec_event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct exec_event);

static __always_inline int exec_enter(const char *filename, const char *const *argv)
{
	struct task_struct *task;
	struct exec_event *e;
	__u32 zero = 0, uid, i;
	__s32 tgid = current_tgid();
	long n;

	uid = current_uid();
	if (targ_uid != INVALID_UID && uid != targ_uid)
		return 0;
	if (!container_ok())
		return 0;
	task = current_task();
	if (targ_ppid && BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
		return 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = uid;
	e->retval = 0;
	e->args_count = 0;
	e->args_size = 0;
	e->truncated = 0;
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);

	n = bpf_probe_read_user_str(e->args, ARGSIZE, filename);
	if (n <= 1) {
		/* "" (execveat AT_EMPTY_PATH: fexecve) or not readable without a
		 * fault (glibc's fexecve passes a "" of libc's rodata): argv[0]
		 * names the program; an empty string at worst, so that the
		 * strings after it keep their places. */
		const char *arg0 = NULL;

		bpf_probe_read_user(&arg0, sizeof(arg0), &argv[0]);
		n = arg0 ? bpf_probe_read_user_str(e->args, ARGSIZE, arg0) : 0;
		if (n <= 0) {
			e->args[0] = 0;
			n = 1;
		}
	}
	e->args_size = n;
	e->args_count = 1;

	for (i = 1; i < TOTAL_MAX_ARGS; i++) {
		const char *argp = NULL;
		__u32 off;

		if (i >= max_args) {
			e->truncated = 1;
			break;
		}
		bpf_probe_read_user(&argp, sizeof(argp), &argv[i]);
		if (!argp)
			break;
		off = e->args_size;
		if (off > ARGS_BUF - ARGSIZE) {
			e->truncated = 1;
			break;
		}
		n = bpf_probe_read_user_str(&e->args[off], ARGSIZE, argp);
		if (n <= 0)
			break;
		e->args_size += n;
		e->args_count++;
	}
	bpf_map_update_elem(&execs, &tgid, e, BPF_ANY);
	return 0;
}

static __always_inline int exec_exit(long ret)
{
	struct task_struct *task;
	struct exec_event *e;
	__s32 tgid = current_tgid();
	__u32 size;

	e = bpf_map_lookup_elem(&execs, &tgid);
	if (!e)
		return 0;
	if (ret != 0 && !targ_fails)
		goto out;
	e->retval = ret;
	e->cgroup = event_cgroup_id();
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	/* After a successful exec from a thread, the parent is the same. */
	task = current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	size = offsetof(struct exec_event, args) + e->args_size;
	if (size <= sizeof(*e))
		RINGBUF_OUTPUT(events, e, size);
out:
	bpf_map_delete_elem(&execs, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execveat_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

/* Variants btf and raw: execve/execveat through raw_syscalls' sys_enter/
 * sys_exit and a switch on the number (two links instead of four classic
 * tracepoints, ~40 ms each to detach).  sc_action[nr]: 1 execve, 2
 * execveat, filled by tools/execsnoop.py. */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	if (a == 1)
		return exec_enter((const char *)sc_arg(regs, 0),
				  (const char *const *)sc_arg(regs, 1));
	return exec_enter((const char *)sc_arg(regs, 1), (const char *const *)sc_arg(regs, 2));
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return exec_exit(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)
