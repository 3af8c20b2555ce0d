/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Page cache accesses, additions and dirtying, for cachestat and cachetop.
 *
 * kprobe variant (bcc's): count calls of mark_page_accessed (or
 * folio_mark_accessed), add_to_page_cache_lru (or filemap_add_folio),
 * mark_buffer_dirty and account_page_dirtied (or folio_account_dirtied,
 * else the writeback_dirty_folio tracepoint inside it).  Python attaches
 * the SEC("kprobe") programs to whichever name this kernel has
 * (tools/_pagecache.py).
 *
 * tracepoint variant: the read path of the page cache, in pages.
 * filemap:mm_filemap_get_pages reports the page range each read() looks
 * up (clamped here to the file's size; the repeated lookups of one large
 * read are counted once); the pages the same task added to the same
 * file's cache just before (filemap:mm_filemap_add_to_page_cache, from
 * readahead inside that lookup) are its misses -- unless the task dirtied
 * a page of that file since (writeback_dirty_folio: the pages were a
 * write's, written__tp).  block:block_dirty_buffer
 * fires in mark_buffer_dirty, writeback:writeback_dirty_folio where a page
 * is dirtied.
 *
 * Each event ends in the including file's add(). */
#ifndef __PAGECACHE_BPF_H
#define __PAGECACHE_BPF_H

#include "cachestat.h"

#define CS_PAGE_SHIFT 12       /* x86_64, and arm64 with 4K pages */

/* The including file's counter: `n` more of `which` (enum cs_counter) for
 * the current task. */
static __always_inline void add(__u32 which, __u64 n);

/* -- kprobe variant ---------------------------------------------------------- */

SEC("kprobe")
int access__kprobe(void *ctx) { add(CS_ACCESSED, 1); return 0; }

SEC("kprobe")
int added__kprobe(void *ctx) { add(CS_ADDED, 1); return 0; }

SEC("kprobe/mark_buffer_dirty")
int bufdirty__kprobe(void *ctx) { add(CS_BUF_DIRTY, 1); return 0; }

SEC("kprobe")
int dirtied__kprobe(void *ctx) { add(CS_DIRTIED, 1); return 0; }

/* folio_account_dirtied is static and may be inlined: its tracepoint */
SEC("tracepoint/writeback/writeback_dirty_folio")
int dirtied_folio_tp__kprobe(void *ctx) { add(CS_DIRTIED, 1); return 0; }

SEC("tracepoint/writeback/writeback_dirty_page")
int dirtied_page_tp__kprobe(void *ctx) { add(CS_DIRTIED, 1); return 0; }

/* -- tracepoint variant ------------------------------------------------------ */

/* Per task: the file it last read or filled, the page range of its last
 * lookup, and pages it added to that file's cache since. */
struct read_state {
	__u64 ino;
	__u64 lo;
	__u64 hi;
	__u64 pending;
	__u32 dev;
	__u32 ranged;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct read_state);
} reads SEC(".maps");

SEC("tracepoint/filemap/mm_filemap_add_to_page_cache")
int added__tp(struct trace_event_raw_mm_filemap_op_page_cache *ctx)
{
	/* all context reads first: a derived ctx pointer is refused */
	__u64 ino = ctx->i_ino, pages = 1ULL << (ctx->order & 31);
	__u32 dev = ctx->s_dev, tid = current_tid();
	struct read_state *st, fresh = {};

	st = bpf_map_lookup_elem(&reads, &tid);
	if (st && st->ino == ino && st->dev == dev) {
		st->pending += pages;
		return 0;
	}
	fresh.ino = ino;
	fresh.dev = dev;
	fresh.pending = pages;
	bpf_map_update_elem(&reads, &tid, &fresh, BPF_ANY);
	return 0;
}

SEC("tp_btf/mm_filemap_get_pages")
int BPF_PROG(lookup__tp, struct address_space *mapping, unsigned long index,
	     unsigned long last)
{
	struct inode *host = BPF_CORE_READ(mapping, host);
	__u64 ino = BPF_CORE_READ(host, i_ino), size = BPF_CORE_READ(host, i_size), eof, new;
	__u32 dev = BPF_CORE_READ(host, i_sb, s_dev), tid = current_tid();
	struct read_state *st, fresh = {};

	if (!size)
		return 0;
	eof = (size - 1) >> CS_PAGE_SHIFT;
	if (last > eof)
		last = eof;
	if (index > last)
		return 0;
	st = bpf_map_lookup_elem(&reads, &tid);
	if (st && st->ino == ino && st->dev == dev) {
		add(CS_ADDED, st->pending);
		st->pending = 0;
		if (st->ranged && index > st->lo && index <= st->hi) {
			/* the next batch of the same read: only pages beyond */
			new = last > st->hi ? last - st->hi : 0;
			if (last > st->hi)
				st->hi = last;
		} else {
			new = last - index + 1;
			st->hi = last;
		}
		st->lo = index;
		st->ranged = 1;
		add(CS_ACCESSED, new);
		return 0;
	}
	fresh.ino = ino;
	fresh.dev = dev;
	fresh.lo = index;
	fresh.hi = last;
	fresh.ranged = 1;
	bpf_map_update_elem(&reads, &tid, &fresh, BPF_ANY);
	add(CS_ACCESSED, last - index + 1);
	return 0;
}

/* A page dirtied by a task in the file it last filled: the pages it added
 * to that file since its last lookup were a write's (write_begin adds them,
 * write_end dirties them), not misses of a later read -- a read's readahead
 * pages are counted at its own lookup, before it returns.  (Without this a
 * file written and read back counts as all misses.) */
SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(written__tp, struct folio *folio, struct address_space *mapping)
{
	struct read_state *st;
	struct inode *host;
	__u32 tid = current_tid();

	if (!mapping)           /* the verifier knows this argument may be NULL */
		return 0;
	st = bpf_map_lookup_elem(&reads, &tid);
	host = BPF_CORE_READ(mapping, host);
	if (st && st->ino == BPF_CORE_READ(host, i_ino) &&
	    st->dev == BPF_CORE_READ(host, i_sb, s_dev))
		st->pending = 0;
	return 0;
}

SEC("tracepoint/block/block_dirty_buffer")
int bufdirty__tp(void *ctx) { add(CS_BUF_DIRTY, 1); return 0; }

SEC("tracepoint/writeback/writeback_dirty_folio")
int dirtied__tp(void *ctx) { add(CS_DIRTIED, 1); return 0; }

#endif /* __PAGECACHE_BPF_H */
