// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* fsslower (and xfsslower, btrfsslower, nfsslower, f2fsslower, zfsslower):
 * operations of one file system, chosen by its superblock magic, slower
 * than a threshold (probes in fsfuncs.bpf.h). */
#include "corebpf.bpf.h"
#include "fsfuncs.bpf.h"
#include "fsslower.bpf.h"
