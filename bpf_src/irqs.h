/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __IRQS_H
#define __IRQS_H

#define IRQ_NAME_LEN 32

struct hist {
	__u64 slots[65];
};

#endif
