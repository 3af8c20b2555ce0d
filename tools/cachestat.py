"""Count page cache hits and misses, printed every interval.

With the page cache tracepoints (Linux 6.10+) it measures the read path of
the page cache, in pages: each read()'s page lookup
(filemap:mm_filemap_get_pages, clamped to the file's size) counts the pages
looked up, and the pages that read had to add to the cache
(filemap:mm_filemap_add_to_page_cache, readahead included) are its MISSES;
HITS = pages looked up - MISSES.  Page cache use through mmap, and writes,
are not in HITS/MISSES.  DIRTIES counts mark_buffer_dirty calls
(block:block_dirty_buffer).

Older kernels with kprobes (or --probe kprobe) get bcc's measure instead,
in calls: HITS = mark_page_accessed - mark_buffer_dirty - MISSES, MISSES =
add_to_page_cache_lru - account_page_dirtied, DIRTIES = mark_buffer_dirty
(or their folio_* successors).  BUFFERS_MB and CACHED_MB come from
/proc/meminfo either way.

examples:
    cachestat           # a line every second, until Ctrl-C
    cachestat 5 10      # 5 second intervals, 10 lines
    cachestat -T        # include a time column
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _jsonl, _pagecache

PROG = "cachestat"
CS_ACCESSED, CS_ADDED, CS_BUF_DIRTY, CS_DIRTIED = range(4)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include a time column")
    p.add_argument("interval", nargs="?", default=1, type=_cli.positive_int,
                   help="output interval, in seconds (default 1)")
    p.add_argument("count", nargs="?", default=-1, type=_cli.positive_int,
                   help="number of outputs (default: until Ctrl-C)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def header(timestamp: bool) -> str:
    return ("%-8s " % "TIME" if timestamp else "") + "%8s %8s %8s %8s %12s %10s" % (
        "HITS", "MISSES", "DIRTIES", "HITRATIO", "BUFFERS_MB", "CACHED_MB")


def hits_misses(n, kprobe: bool):
    """(hits, misses, dirties, ratio) from the counters, with bcc's clamping."""
    if kprobe:
        total = n[CS_ACCESSED] - n[CS_BUF_DIRTY]
        misses = n[CS_ADDED] - n[CS_DIRTIED]
    else:
        total, misses = n[CS_ACCESSED], n[CS_ADDED]
    misses = max(misses, 0)
    total = max(total, 0)
    hits = total - misses
    if hits < 0:                # readahead added more than was asked for
        misses, hits = total, 0
    ratio = hits / total if total > 0 else 0.0
    return hits, misses, n[CS_BUF_DIRTY], ratio


def meminfo() -> dict:
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = int(v.split()[0])
    return out


def format_row(n, kprobe: bool, timestamp: bool, mem: dict, now: str = None) -> str:
    hits, misses, dirties, ratio = hits_misses(n, kprobe)
    row = "%-8s " % (now or time.strftime("%H:%M:%S")) if timestamp else ""
    return row + "%8d %8d %8d %7.2f%% %12.0f %10.0f" % (
        hits, misses, dirties, 100 * ratio, mem.get("Buffers", 0) / 1024,
        mem.get("Cached", 0) / 1024)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: page cache hits and misses in it", [
    F("hits", "integer", "page cache hits"),
    F("misses", "integer", "page cache misses"),
    F("dirties", "integer", "pages dirtied"),
    F("hit_ratio", "number", "hits / accesses, 0 to 1 (0 without accesses)"),
    F("buffers_bytes", "integer", "Buffers in /proc/meminfo", "bytes"),
    F("cached_bytes", "integer", "Cached in /proc/meminfo", "bytes"),
])


def json_values(n, kprobe: bool, mem: dict) -> dict:
    hits, misses, dirties, ratio = hits_misses(n, kprobe)
    return {"hits": hits, "misses": misses, "dirties": dirties, "hit_ratio": ratio,
            "buffers_bytes": mem.get("Buffers", 0) * 1024,
            "cached_bytes": mem.get("Cached", 0) * 1024}


def choose_programs(obj):
    """Before load: the programs this kernel serves (the dirtied counter is
    not part of cachestat's measure of the tracepoint variant)."""
    _pagecache.configure(obj, dirtied_tp=False)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        kprobe = obj.variant == "kprobe"
        _pagecache.attach(obj, PROG)
        counts = obj.maps["counts"]
        exiting = _cli.interrupted(lambda: _jsonl.status(a, header(a.timestamp)))
        done = 0
        while True:
            if not exiting and a.count > 0 and done >= a.count:
                return 0            # bcc stops after `count` lines without "Detaching..."
            exiting = exiting or _cli.wait_stop(a.interval)
            per_cpu = counts[0]
            counts.clear()
            n = [sum(c.n[i] for c in per_cpu) for i in range(4)]
            if a.json:
                JSON.write(**json_values(n, kprobe, meminfo()))
            else:
                print(format_row(n, kprobe, a.timestamp, meminfo()), flush=True)
            done += 1
            if exiting:
                break
        _jsonl.status(a, "Detaching...")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
