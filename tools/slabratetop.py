"""Kernel SLAB/SLUB memory cache allocation rate top.

examples:
    slabratetop            # kmem_cache_alloc() top, 1 second refresh
    slabratetop -C         # don't clear the screen
    slabratetop 5          # 5 second summaries
    slabratetop 5 10       # 5 second summaries, 10 times only

probes: the kmem:kmem_cache_alloc tracepoint (tp_btf, else the classic one),
which names the cache since Linux 6.1; kprobe on kmem_cache_alloc (as bcc)
where the kernel has kprobes and the tracepoint does not name it.  BYTES are
the cache's object size per allocation.
"""
from __future__ import annotations

import corebpf
from corebpf import features

from . import _cli, _jsonl

PROG = "slabratetop"
KPROBE_FUNCS = ("kmem_cache_alloc_noprof", "kmem_cache_alloc")     # 6.10+ renamed it


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", default=20, type=_cli.positive_int,
                   help="maximum rows to print, default 20")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


HEADER = "%-32s %6s %10s" % ("CACHE", "ALLOCS", "BYTES")


def top(items, maxrows: int) -> list:
    return sorted(items, key=lambda kv: kv[1].size, reverse=True)[:maxrows]


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: the kmem caches allocated from most in it "
                        "(by bytes, -r)", [_jsonl.LOADAVG], rows=[
    F("cache", "string", "the kmem cache's name", get=lambda kv: kv[0].name),
    F("allocs", "integer", "allocations", get=lambda kv: kv[1].count),
    F("bytes", "integer", "bytes allocated", "bytes", get=lambda kv: kv[1].size),
])


def render(items, maxrows: int, loadavg: str) -> str:
    rows = top(items, maxrows)
    return "".join([loadavg, "\n", HEADER, "\n"] +
                   ["%-32s %6d %10d\n" % (k.name, v.count, v.size) for k, v in rows])


def choose_programs(obj):
    """Before load: kprobes only where the tracepoint does not name the cache."""
    if not features.tracepoint_field("kmem", "kmem_cache_alloc", "name"):
        for p in obj.programs.values():     # before 6.1: no cache in the tracepoint
            p.autoload = p.variant == "kprobe"


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            _cli.attach_kprobe_any(obj.programs["alloc__kprobe"], KPROBE_FUNCS)
        else:
            obj.attach()
        counts = obj.maps["counts"].raw_text(a.json)
        _cli.top_loop(a.interval, a.count, a.noclear,
                      "Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval,
                      lambda: render(counts.pop_items(), a.maxrows, _cli.loadavg_line()),
                      json=a.json and (lambda: JSON.record(top(counts.pop_items(), a.maxrows),
                                                           loadavg=_cli.loadavg())))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
