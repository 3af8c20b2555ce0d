/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Fallback for <asm/errno.h>: Debian keeps the real one in a multiarch
 * directory that a -target bpf compile does not search.  Every architecture
 * corebpf targets uses the generic numbers. */
#ifndef __COREBPF_COMPAT_ASM_ERRNO_H
#define __COREBPF_COMPAT_ASM_ERRNO_H
#if __has_include(<asm-generic/errno.h>)
#include <asm-generic/errno.h>
#else
#define EPERM		1
#define ENOENT		2
#define ESRCH		3
#define EINTR		4
#define EIO		5
#define E2BIG		7
#define EBADF		9
#define EAGAIN		11
#define ENOMEM		12
#define EACCES		13
#define EFAULT		14
#define EBUSY		16
#define EEXIST		17
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28
#define ERANGE		34
#define ENOSYS		38
#define ENODATA		61
#define EOPNOTSUPP	95
#endif
#endif
