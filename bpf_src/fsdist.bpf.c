// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* fsdist (and xfsdist, btrfsdist, nfsdist, zfsdist): latency histograms of
 * one file system's operations (probes in fsfuncs.bpf.h). */
#include "corebpf.bpf.h"
/* fsdist.bpf.h's sink uses an operation's kind and start time only */
#define FSOPS_TIMES_ONLY
#include "fsfuncs.bpf.h"
#include "fsdist.bpf.h"
