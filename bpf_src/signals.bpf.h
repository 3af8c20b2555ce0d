/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Signal-number filter shared by the signal tools: a 128-bit set in two
 * `const volatile` words (bit n = signal n), set from Python. */
#ifndef __SIGNALS_BPF_H
#define __SIGNALS_BPF_H

const volatile bool targ_sig_filter = false;
const volatile __u64 targ_sigs_lo = 0;     /* signals 0..63 */
const volatile __u64 targ_sigs_hi = 0;     /* signals 64..127 */

static __always_inline bool signal_wanted(int sig)
{
	if (!targ_sig_filter)
		return true;
	if (sig >= 0 && sig < 64)
		return targ_sigs_lo & (1ULL << sig);
	if (sig >= 64 && sig < 128)
		return targ_sigs_hi & (1ULL << (sig - 64));
	return false;
}

#endif
