/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __WQLAT_H
#define __WQLAT_H

#define WQ_NAME_LEN 32          /* workqueue_struct.name: 24 before 6.9, then 32 */

struct wq_key {
	char name[WQ_NAME_LEN];     /* empty unless -W */
};

struct hist {
	__u64 slots[65];
};

#endif /* __WQLAT_H */
