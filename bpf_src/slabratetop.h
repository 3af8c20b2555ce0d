/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SLABRATETOP_H
#define __SLABRATETOP_H

#define CACHE_NAME_SIZE 32      /* bcc's */

struct cache_key {
	char name[CACHE_NAME_SIZE];
};

struct cache_val {
	__u64 count;
	__u64 size;
};

#endif
