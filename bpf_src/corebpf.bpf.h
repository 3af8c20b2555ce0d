/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared helpers for corebpf's BPF programs.
 *
 * Conventions the Python side relies on (corebpf/object.py, corebpf/events.py):
 *  - EVENTS_RINGBUF(name, bytes, type) declares a ring buffer map, exports the
 *    record type through BTF and declares a loss counter the library reads;
 *  - programs named HOOK__VARIANT are alternatives: the library keeps, for the
 *    whole object, the best variant the running kernel can serve;
 *  - config lives in `const volatile` globals (targ_*), set from Python by name.
 */
#ifndef __COREBPF_BPF_H
#define __COREBPF_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* clang only keeps BTF for types reachable from globals: a pointer-typed,
 * never-used global anchors a record type for the Python decoder. */
#define COREBPF_EXPORT_TYPE(tag, ...) \
	__VA_ARGS__ *__corebpf_type__##tag __attribute__((unused))

/* A ring buffer whose records have type `rec_type`, and a counter of
 * records the BPF side could not reserve (the library reports it). */
#define EVENTS_RINGBUF(name, bytes, rec_type)                                  \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                            \
		__uint(max_entries, bytes);                                    \
	} name SEC(".maps");                                                   \
	rec_type *__corebpf_event__##name __attribute__((unused));             \
	__u64 __corebpf_lost__##name = 0

/* A perf event array whose records have type `rec_type`. */
#define EVENTS_PERFBUF(name, rec_type)                                         \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                   \
		__uint(key_size, sizeof(__u32));                               \
		__uint(value_size, sizeof(__u32));                             \
	} name SEC(".maps");                                                   \
	rec_type *__corebpf_event__##name __attribute__((unused))

/* Reserve a fixed-size record, counting a failure. */
#define RINGBUF_RESERVE(name, size)                                            \
	({                                                                     \
		void *__r = bpf_ringbuf_reserve(&name, size, 0);               \
		if (!__r)                                                      \
			__sync_fetch_and_add(&__corebpf_lost__##name, 1);      \
		__r;                                                           \
	})

/* Copy a right-sized record (size must be verifier-bounded), counting a failure. */
#define RINGBUF_OUTPUT(name, data, size)                                       \
	({                                                                     \
		long __e = bpf_ringbuf_output(&name, data, size, 0);           \
		if (__e)                                                       \
			__sync_fetch_and_add(&__corebpf_lost__##name, 1);      \
		__e;                                                           \
	})

/* bcc's histogram slot: 0 and 1 -> 1, [2^(k-1), 2^k - 1] -> k.  Python's
 * histogram printer indexes rows by this slot, exactly as bcc's
 * print_log2_hist does, so output matches bcc byte for byte. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 hist_slot(__u64 v)
{
	__u32 hi = v >> 32;

	if (hi)
		return log2_u32(hi) + 32 + 1;
	return log2_u32((__u32)v) + 1;
}

#define HIST_SLOTS 65

/* Increment slot `slot` of histogram value `h` (a struct with __u64 slots[]). */
#define HIST_INC(h, slot)                                                      \
	do {                                                                   \
		__u32 __s = (slot);                                            \
		if (__s >= HIST_SLOTS)                                         \
			__s = HIST_SLOTS - 1;                                  \
		__sync_fetch_and_add(&(h)->slots[__s], 1);                     \
	} while (0)

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline __u32 current_uid(void)
{
	return (__u32)bpf_get_current_uid_gid();
}

/* Entries map_lookup_or_init() could not create (a full map): the
 * measurements they would have held are lost; the exporter reports it. */
static __u64 __corebpf_map_full;

/* Find-or-create a hash/array map entry. */
static __always_inline void *map_lookup_or_init(void *map, const void *key,
						const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);

	if (val)
		return val;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	val = bpf_map_lookup_elem(map, key);
	if (!val)
		__sync_fetch_and_add(&__corebpf_map_full, 1);
	return val;
}

#define INVALID_UID ((__u32)-1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif /* __COREBPF_BPF_H */
