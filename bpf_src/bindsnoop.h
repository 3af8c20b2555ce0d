/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BINDSNOOP_H
#define __BINDSNOOP_H

/* bcc's OPTS bits, in the order of its "FTNRr" column */
#define OPT_FREEBIND 0x01
#define OPT_TRANSPARENT 0x02
#define OPT_BIND_ADDRESS_NO_PORT 0x04
#define OPT_REUSEADDR 0x08
#define OPT_REUSEPORT 0x10

/* One bind() on an IPv4/IPv6 socket. */
struct bind_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts_us;
	__u32 pid;
	__u32 uid;
	__s32 ret;
	__u32 bound_dev_if;
	__u16 family;
	__u16 port;
	__u16 protocol;
	__u8 opts;
	__u8 pad;
	__u8 addr[16];
	char comm[16];
};

/* --count: binds per (family, address, port). */
struct bind_key {
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

#endif
