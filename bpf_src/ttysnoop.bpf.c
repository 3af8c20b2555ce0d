// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ttysnoop: what is written to one tty or pty, in chunks of targ_datasize
 * bytes (at most targ_datacount of them per write).
 * Variant "tp": the write and writev syscall tracepoints, for fds whose
 * file is the device (its inode and device numbers).  Variants "fentry" and
 * "kprobe" (bcc's): tty_write(kiocb, iov_iter), or before 5.11 tty_write(file,
 * buf, count, ppos), so writes by other means (io_uring, splice) are seen too.
 * Each has a twin "*_noloop" for kernels without bpf_loop (5.17). */
#include "corebpf.bpf.h"
#include "vfs.bpf.h"
#include "ttysnoop.h"

const volatile __u64 targ_ino = 0;
const volatile __u32 targ_dev = 0;
const volatile __u32 targ_datasize = 256;
const volatile __u32 targ_datacount = 16;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tty_data);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct tty_data);

static __always_inline bool is_tty(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);

	return inode && BPF_CORE_READ(inode, i_ino) == targ_ino && inode_dev(inode) == targ_dev;
}

#define IOV_SEGMENTS 8
#define OLD_KERNEL_CHUNKS 4     /* chunks per write without bpf_loop (before 5.17) */

/* Where a write's data stands: the current user buffer and what is left of
 * it, and the iovec array it continues in (NULL for write(2)). */
struct cursor {
	const char *buf;
	__u64 count;
	const struct iovec *iov;
	__u64 vlen;
	__u32 seg;
};

/* One step: send the next chunk, or move to the next segment; 1 stops. */
static int step(__u32 i, struct cursor *c)
{
	struct tty_data *d;
	__u32 zero = 0, n;
	struct iovec v;

	if (!c->count) {
		if (!c->iov || ++c->seg >= c->vlen || c->seg >= IOV_SEGMENTS ||
		    bpf_probe_read_user(&v, sizeof(v), &c->iov[c->seg]))
			return 1;
		c->buf = v.iov_base;
		c->count = v.iov_len;
		return 0;
	}
	d = bpf_map_lookup_elem(&scratch, &zero);
	if (!d)
		return 1;
	n = c->count < targ_datasize ? c->count : targ_datasize;
	if (n > TTY_MAX_DATASIZE)
		n = TTY_MAX_DATASIZE;
	if (bpf_probe_read_user(d->buf, n, c->buf))
		return 1;
	d->count = n;
	RINGBUF_OUTPUT(events, d, offsetof(struct tty_data, buf) + n);
	c->count -= n;
	c->buf += n;
	return 0;
}

/* Send the `count` bytes at user address `buf`, or (iov != NULL) those of
 * the first IOV_SEGMENTS segments of an iovec array, in up to
 * targ_datacount chunks (steps to the next segment count too).  `loop`
 * (a constant): with bpf_loop (5.17); the programs without it (variants
 * *_noloop) must not even name the callback: before 5.13 the kernel refuses
 * the instruction that loads a function's address (no dead code pass runs
 * before that check). */
static __always_inline int send(const char *buf, __u64 count, const struct iovec *iov,
				__u64 vlen, bool loop)
{
	struct cursor c = { .buf = buf, .count = count, .iov = iov, .vlen = vlen };
	struct iovec v;
	int i;

	if (iov) {
		if (!vlen || bpf_probe_read_user(&v, sizeof(v), iov))
			return 0;
		c.buf = v.iov_base;
		c.count = v.iov_len;
	}
	if (loop) {
		bpf_loop(targ_datacount, step, &c, 0);
		return 0;
	}
	for (i = 0; i < OLD_KERNEL_CHUNKS && i < targ_datacount; i++)
		if (step(i, &c))
			break;
	return 0;
}

/* -- tp variants ---------------------------------------------------------------------- */

#define WRITE_TP(variant, loop)                                                        \
SEC("tracepoint/syscalls/sys_enter_write")                                             \
int write__##variant(struct trace_event_raw_sys_enter *ctx)                            \
{                                                                                      \
	if (is_tty(fd_file(ctx->args[0])))                                             \
		send((const char *)ctx->args[1], ctx->args[2], NULL, 0, loop);         \
	return 0;                                                                      \
}                                                                                      \
SEC("tracepoint/syscalls/sys_enter_writev")                                            \
int writev__##variant(struct trace_event_raw_sys_enter *ctx)                           \
{                                                                                      \
	if (is_tty(fd_file(ctx->args[0])))                                             \
		send(NULL, 0, (const struct iovec *)ctx->args[1], ctx->args[2], loop); \
	return 0;                                                                      \
}
WRITE_TP(tp, true)
WRITE_TP(tp_noloop, false)

/* -- function variants: tty_write(struct kiocb *, struct iov_iter *) (5.11+), or
 * (targ_file_args, set from the kernel's BTF) tty_write(struct file *, const char
 * __user *, size_t, loff_t *) before ------------------------------------------------ */

const volatile bool targ_file_args = false;

struct iov_iter___pre64 {               /* before 6.4 the iovec array was `iov` */
	const struct iovec *iov;
} __attribute__((preserve_access_index));

struct iov_iter___pre514 {              /* before 5.14: the type | the direction (bit 0) */
	unsigned int type;
} __attribute__((preserve_access_index));

static __always_inline int tty_write(struct kiocb *iocb, struct iov_iter *from, bool loop)
{
	__u32 type;

	if (!is_tty(BPF_CORE_READ(iocb, ki_filp)))
		return 0;
	if (bpf_core_field_exists(from->iter_type))
		type = BPF_CORE_READ(from, iter_type);
	else
		type = BPF_CORE_READ((struct iov_iter___pre514 *)from, type) & ~1u;
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_UBUF))
		return send(BPF_CORE_READ(from, ubuf), BPF_CORE_READ(from, count), NULL, 0, loop);
	if (type != bpf_core_enum_value(enum iter_type, ITER_IOVEC))
		return 0;
	if (bpf_core_field_exists(from->__iov))
		return send(NULL, 0, BPF_CORE_READ(from, __iov), BPF_CORE_READ(from, nr_segs),
			    loop);
	return send(NULL, 0, BPF_CORE_READ((struct iov_iter___pre64 *)from, iov),
		    BPF_CORE_READ(from, nr_segs), loop);
}

/* the old prototype: the arguments are read only on that branch (fentry
 * refuses reading a third argument of the two-argument function; the
 * verifier skips the branch a read-only global rules out) */
static __always_inline int tty_write_file(struct file *file, const char *buf, __u64 count,
					  bool loop)
{
	return is_tty(file) ? send(buf, count, NULL, 0, loop) : 0;
}

#define WRITE_FUNCS(variant, loop)                                                     \
SEC("fentry/tty_write")                                                                \
int write__fentry##variant(unsigned long long *ctx)                                    \
{                                                                                      \
	if (targ_file_args)                                                            \
		return tty_write_file((struct file *)ctx[0], (const char *)ctx[1],     \
				      ctx[2], loop);                                   \
	return tty_write((struct kiocb *)ctx[0], (struct iov_iter *)ctx[1], loop);     \
}                                                                                      \
SEC("kprobe/tty_write")                                                                \
int write__kprobe##variant(struct pt_regs *ctx)                                        \
{                                                                                      \
	if (targ_file_args)                                                            \
		return tty_write_file((struct file *)PT_REGS_PARM1(ctx),               \
				      (const char *)PT_REGS_PARM2(ctx),                \
				      PT_REGS_PARM3(ctx), loop);                       \
	return tty_write((struct kiocb *)PT_REGS_PARM1(ctx),                           \
			 (struct iov_iter *)PT_REGS_PARM2(ctx), loop);                 \
}
WRITE_FUNCS(, true)
WRITE_FUNCS(_noloop, false)
