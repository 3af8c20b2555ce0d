/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CACHESTAT_H
#define __CACHESTAT_H

/* kprobe variant: calls of bcc's four functions.
 * tracepoint variant: pages looked up by reads, pages those reads added
 * (misses), mark_buffer_dirty calls. */
enum cs_counter {
	CS_ACCESSED,       /* mark_page_accessed calls | pages read() looked up */
	CS_ADDED,          /* add_to_page_cache calls | pages reads added (misses) */
	CS_BUF_DIRTY,      /* mark_buffer_dirty calls (both) */
	CS_DIRTIED,        /* account_page_dirtied calls (kprobe variant) */
	CS_MAX,
};

struct cs_counts {
	__u64 n[CS_MAX];
};

#endif
