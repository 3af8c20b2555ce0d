// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/hello_world.py: "Hello, World!" on every clone(). */
#include "corebpf.bpf.h"

SEC("tracepoint/syscalls/sys_enter_clone")
int hello(void *ctx)
{
	bpf_printk("Hello, World!");
	return 0;
}
