/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BASHREADLINE_H
#define __BASHREADLINE_H

#define LINE_LEN 80

struct line_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	char line[LINE_LEN];
};

#endif
