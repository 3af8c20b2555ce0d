/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Fallback for <linux/errno.h> (libbpf's usdt.bpf.h includes it) on machines
 * without the kernel's uapi headers (linux-libc-dev): the compile searches
 * this directory after the system's (-idirafter). */
#include <asm/errno.h>
