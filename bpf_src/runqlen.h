/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __RUNQLEN_H
#define __RUNQLEN_H

#define RUNQLEN_SLOTS 64        /* linear: slot = tasks waiting (last: >= 63) */

struct hist {
	__u64 slots[RUNQLEN_SLOTS];
};

#endif
