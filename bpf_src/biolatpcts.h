/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOLATPCTS_H
#define __BIOLATPCTS_H

/* bcc's three linear tiers of 100 slots for each of read, write, discard,
 * flush (400 per tier): 100 ms slots, then 1 ms slots for what fell in the
 * first 100 ms slot, then 10 us slots for what fell in the first 1 ms. */
#define TIER_SLOTS 400

struct lat_slots {
	__u64 ms100[TIER_SLOTS];
	__u64 ms1[TIER_SLOTS];
	__u64 us10[TIER_SLOTS];
};

#endif /* __BIOLATPCTS_H */
