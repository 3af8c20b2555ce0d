/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SSLSNIFF_H
#define __SSLSNIFF_H

#define MAX_BUF_SIZE 65536		/* --max-buffer-size's ceiling */

enum ssl_rw { SSL_READ = 0, SSL_WRITE = 1, SSL_HANDSHAKE = 2 };

/* right-sized in the ring buffer: buf holds the bytes captured */
struct ssl_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 timestamp_ns;
	__u64 delta_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 len;		/* bytes the call returned */
	__s32 buf_filled;
	__s32 rw;
	char comm[16];
	__u8 buf[MAX_BUF_SIZE];
};

#endif
