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

/* How many arguments tracepoint `tp` passes to raw_tp/tp_btf programs on the
 * running kernel, filled in by the library before load (a probe that really
 * attaches: corebpf.core.features.tracepoint_nargs).  Tracepoints change
 * their arguments over time; a branch on this constant costs nothing (the
 * verifier follows only the branch taken) and keeps programs from reading
 * arguments the kernel does not pass.  Declare with TP_NARGS_DECLARE(tp). */
#define TP_NARGS_DECLARE(tp) const volatile __u32 __corebpf_nargs__##tp = 0
#define TP_NARGS(tp) __corebpf_nargs__##tp

/* Argument `i` (a constant) of a raw_tp/tp_btf program's context, read at a
 * fixed offset: given `b ? ctx[1] : ctx[0]`, clang computes the address and
 * loads once, and the verifier refuses a context pointer moved by a
 * register. */
#define TP_ARG(ctx, i)                                                         \
	({                                                                     \
		__u64 __a;                                                     \
		asm volatile("%0 = *(u64 *)(%1 + %2)"                          \
			     : "=r"(__a) : "r"(ctx), "i"((i) * 8));            \
		__a;                                                           \
	})

#define HIST_SLOTS 65

/* `s`, at most `max`, bounded in the very register the caller goes on to
 * use.  Written in assembly because clang (14 at least) compiles a C clamp
 * of a 32-bit index as a compare on one zero-extended copy and an access
 * through another; verifiers before find_equal_scalars learnt to link the
 * two (Debian 12's 6.1, 5.10) refuse that ("R0 unbounded memory access"). */
#define BOUNDED(s, max)                                                        \
	({                                                                     \
		__u64 __b = (s);                                               \
		asm volatile("if %0 <= %1 goto +1\n\t%0 = %1"                  \
			     : "+r"(__b) : "i"(max));                          \
		__b;                                                           \
	})

/* Increment slot `slot` of histogram value `h` (a struct with __u64 slots[]). */
#define HIST_INC(h, slot)                                                      \
	__sync_fetch_and_add(&(h)->slots[BOUNDED(slot, HIST_SLOTS - 1)], 1)

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/* The running kernel has bpf_get_current_task_btf() (5.11): a constant the
 * CO-RE relocation fixes at load. */
#define HAVE_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

/* The current task, to be read with BPF_CORE_READ.  bpf_get_current_task_btf()
 * where HAVE_TASK_BTF: a typed pointer, whose fields may also be read by
 * direct loads (no helper call each: on hosts whose CPUs need return-thunk
 * mitigations, each call costs ~20 ns); otherwise the untyped
 * bpf_get_current_task(): the verifier never sees the call it cannot serve
 * (a branch on a constant the CO-RE relocation fixes at load). */
static __always_inline struct task_struct *current_task(void)
{
	if (HAVE_TASK_BTF)
		return bpf_get_current_task_btf();
	return (struct task_struct *)bpf_get_current_task();
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
