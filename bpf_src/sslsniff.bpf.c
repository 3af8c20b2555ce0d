// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sslsniff: the plaintext of TLS reads and writes, from uprobes on the TLS
 * libraries' read/write calls: OpenSSL SSL_read/SSL_write and their _ex
 * forms (OpenSSL 1.1.1+; Python's ssl module uses those), GnuTLS
 * gnutls_record_recv/send, NSS (NSPR) PR_Read/PR_Write/PR_Recv/PR_Send.
 * The entry keeps the buffer pointer per thread; the return reads what the
 * call produced (read) or consumed (write). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "sslsniff.h"

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile __u32 targ_max_buf = 8192;	/* --max-buffer-size, <= MAX_BUF_SIZE */

struct start {
	__u64 ts;
	__u64 buf;
	__u64 size_ptr;		/* _ex forms: where the byte count is returned */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

/* SSL_do_handshake start times: kept apart, since SSL_read/SSL_write run
 * the handshake themselves when it has not happened yet */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} handshakes SEC(".maps");

/* one event under construction per CPU: a per-CPU array cannot hold 64 KiB
 * values (32 KiB at most), a plain one indexed by CPU can; Python sizes it
 * to the possible CPUs */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ssl_event);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct ssl_event);

static __always_inline bool wanted(__u64 id)
{
	if (targ_tgid && (id >> 32) != targ_tgid)
		return false;
	if (targ_uid != INVALID_UID && current_uid() != targ_uid)
		return false;
	return true;
}

static __always_inline int enter(void *buf, void *size_ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start s = {};

	if (!wanted(id))
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.buf = (__u64)buf;
	s.size_ptr = (__u64)size_ptr;
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int emit(__u64 id, __u64 ts, __u64 start_ts, __u32 len, int rw,
				__u64 buf)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 n = 0;		/* 64-bit: the bound checked is on the register passed */
	struct ssl_event *e = bpf_map_lookup_elem(&scratch, &cpu);

	if (!e)
		return 0;
	e->timestamp_ns = ts;
	e->delta_ns = ts - start_ts;
	e->pid = id >> 32;
	e->cgroup = event_cgroup_id();
	e->tid = (__u32)id;
	e->uid = current_uid();
	e->len = len;
	e->rw = rw;
	e->buf_filled = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (buf) {
		n = len < targ_max_buf ? len : targ_max_buf;
		if (n > MAX_BUF_SIZE)
			n = MAX_BUF_SIZE;
		if (n && bpf_probe_read_user(e->buf, n, (void *)buf) == 0)
			e->buf_filled = 1;
		else
			n = 0;
	}
	RINGBUF_OUTPUT(events, e, offsetof(struct ssl_event, buf) + n);
	return 0;
}

static __always_inline int exit_rw(long ret, int rw, bool ex)
{
	__u64 id = bpf_get_current_pid_tgid(), ts = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	struct start *s = bpf_map_lookup_elem(&starts, &tid);
	__u64 start_ts, buf, len = ret;

	if (!s)
		return 0;
	start_ts = s->ts;
	buf = s->buf;
	if (ex) {
		/* 1 on success, the byte count in *size_ptr */
		len = 0;
		if (ret == 1 && s->size_ptr)
			bpf_probe_read_user(&len, sizeof(len), (void *)s->size_ptr);
	}
	bpf_map_delete_elem(&starts, &tid);
	if ((long)len <= 0 || len > 0xffffffff)
		return 0;		/* no data */
	return emit(id, ts, start_ts, len, rw, buf);
}

/* SSL_read/SSL_write(ssl, buf, num), gnutls_record_recv/send(session, data,
 * size), PR_Read/PR_Write(fd, buf, amount), PR_Recv/PR_Send(fd, buf, ...) */
SEC("uprobe")
int BPF_KPROBE(rw_enter, void *ssl, void *buf)
{
	return enter(buf, NULL);
}

/* SSL_read_ex/SSL_write_ex(ssl, buf, num, size_t *readbytes/written) */
SEC("uprobe")
int BPF_KPROBE(rw_ex_enter, void *ssl, void *buf, size_t num, size_t *count)
{
	return enter(buf, count);
}

/* all return an int byte count or -1 (gnutls_record_recv/send an ssize_t,
 * but TLS records are at most 16 KiB: its low 32 bits say the same) */
SEC("uretprobe")
int BPF_KRETPROBE(read_exit, int ret)
{
	return exit_rw(ret, SSL_READ, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(write_exit, int ret)
{
	return exit_rw(ret, SSL_WRITE, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(read_ex_exit, int ret)
{
	return exit_rw(ret, SSL_READ, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(write_ex_exit, int ret)
{
	return exit_rw(ret, SSL_WRITE, true);
}

SEC("uprobe")
int BPF_KPROBE(handshake_enter, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	__u32 tid = (__u32)id;

	if (!wanted(id))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&handshakes, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(handshake_exit, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), ts = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	__u64 *s = bpf_map_lookup_elem(&handshakes, &tid), start_ts;

	if (!s)
		return 0;
	start_ts = *s;
	bpf_map_delete_elem(&handshakes, &tid);
	if (ret <= 0)
		return 0;		/* handshake failed (or wants more I/O) */
	return emit(id, ts, start_ts, 0, SSL_HANDSHAKE, 0);
}
