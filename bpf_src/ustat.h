/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __USTAT_H
#define __USTAT_H

/* ustat's columns; a probe's attach cookie is its category */
enum ustat_category {
	CAT_METHOD = 0,
	CAT_GC = 1,
	CAT_OBJNEW = 2,
	CAT_CLOAD = 3,
	CAT_EXCP = 4,
	CAT_THREAD = 5,
	CAT_COUNT = 6,
};

struct ustat_counts {
	__u64 events[CAT_COUNT];
};

#endif
