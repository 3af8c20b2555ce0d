/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TTYSNOOP_H
#define __TTYSNOOP_H

#define TTY_MAX_DATASIZE 8192   /* -s at most */
#define TTY_MAX_DATACOUNT 256   /* -c at most */

struct tty_data {
	__u32 count;            /* bytes of buf used */
	char buf[TTY_MAX_DATASIZE];
};

#endif
