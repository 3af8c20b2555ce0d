// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/hello_fields.py: a trace_pipe line on every clone(). */
#include "corebpf.bpf.h"

/* No target in the section: hello_fields.py attaches it by name. */
SEC("tracepoint")
int hello(void *ctx)
{
	bpf_printk("Hello, World!");
	return 0;
}
