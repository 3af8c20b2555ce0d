/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading a language runtime's USDT method probes (ucalls, uflow): which
 * probe arguments hold the class (or file) and method names, and, for the
 * JVM, their lengths (its strings are not NUL-terminated).  Python sets the
 * argument numbers (0-based, -1 = absent) per language before load. */
#ifndef __ULANG_BPF_H
#define __ULANG_BPF_H

#include <bpf/usdt.bpf.h>

#define NAME_LEN 80

const volatile int targ_class_arg = -1;
const volatile int targ_class_len_arg = -1;
const volatile int targ_method_arg = -1;
const volatile int targ_method_len_arg = -1;

struct method {
	char clazz[NAME_LEN];
	char method[NAME_LEN];
};

static __always_inline void read_name(struct pt_regs *ctx, int arg, int len_arg,
				      char *buf)
{
	long ptr = 0, len = NAME_LEN;

	if (arg < 0 || bpf_usdt_arg(ctx, arg, &ptr) || !ptr)
		return;
	if (len_arg >= 0) {
		if (bpf_usdt_arg(ctx, len_arg, &len))
			return;
		if (len <= 0)
			return;
		if (len > NAME_LEN - 1)
			len = NAME_LEN - 1;
		bpf_probe_read_user(buf, (__u32)len, (void *)ptr);
		return;
	}
	bpf_probe_read_user_str(buf, NAME_LEN, (void *)ptr);
}

static __always_inline void read_method(struct pt_regs *ctx, struct method *m)
{
	read_name(ctx, targ_class_arg, targ_class_len_arg, m->clazz);
	read_name(ctx, targ_method_arg, targ_method_len_arg, m->method);
}

#endif /* __ULANG_BPF_H */
