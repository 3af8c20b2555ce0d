// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ext4dist: latency histograms of ext4 reads, writes, opens and fsyncs,
 * one per operation (probes in ext4ops.bpf.h). */
#include "corebpf.bpf.h"
/* fsdist.bpf.h's sink uses an operation's kind and start time only */
#define FSOPS_TIMES_ONLY
#include "ext4ops.bpf.h"
#include "fsdist.bpf.h"
