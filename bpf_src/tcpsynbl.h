/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPSYNBL_H
#define __TCPSYNBL_H

struct hist {
	__u64 slots[65];
};

#endif /* __TCPSYNBL_H */
