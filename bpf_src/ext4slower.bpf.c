// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ext4slower: ext4 reads, writes, opens and fsyncs slower than a threshold,
 * one record each (probes in ext4ops.bpf.h). */
#include "corebpf.bpf.h"
#include "ext4ops.bpf.h"
#include "fsslower.bpf.h"
