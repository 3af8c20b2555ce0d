/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __UCALLS_H
#define __UCALLS_H

struct call_info {
	__u64 num_calls;
	__u64 total_ns;
};

#endif
