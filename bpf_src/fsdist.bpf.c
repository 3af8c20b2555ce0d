// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* fsdist (and xfsdist, btrfsdist, nfsdist, zfsdist): latency histograms of
 * one file system's operations (probes in fsfuncs.bpf.h). */
#include "corebpf.bpf.h"
#include "fsfuncs.bpf.h"
#include "fsdist.bpf.h"
