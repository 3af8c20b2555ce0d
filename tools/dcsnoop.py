"""Trace directory entry cache (dcache) lookups.

By default the lookups that fail (d_lookup() finds nothing: a miss); with -a
every fast path lookup too (lookup_fast(), one per path component).  Only
kernel functions carry this (fentry, else kprobes); on a kernel without
either it says so and exits.

examples:
    dcsnoop           # trace failed dcache lookups
    dcsnoop -a        # trace all dcache lookups
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl
from .dcstat import LOOKUP_FAST

PROG = "dcsnoop"
HEADER = "%-11s %-7s %-16s %1s %s" % ("TIME(s)", "PID", "COMM", "T", "FILE")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-a", "--all", action="store_true",
                   help="trace all lookups (default is fails only)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per failed dentry cache lookup (every lookup with -a)", [
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("type", "string", "M (miss) or R (reference, -a)", get=lambda e: "MR"[e.type & 1]),
    F("file", "string", "the name looked up (one path component)",
      get=lambda e: e.filename),
    _containers.FIELD,
])


def format_event(e, since: float) -> str:
    return "%-11.6f %-7d %-16s %1s %s" % (since, e.pid, e.comm, "MR"[e.type & 1], e.filename)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if not a.all:
            obj.programs["fast__kprobe"].autoload = False
            obj.programs["fast__fentry"].autoload = False
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            if a.all:
                _cli.attach_kprobe_any(obj.programs["fast__kprobe"], LOOKUP_FAST)
            obj.attach("dlookup_enter__kprobe", "dlookup_exit__kprobe")
        else:
            obj.attach()
        start = time.time()
        head, text = _containers.column(a, HEADER,
                                        lambda e: format_event(e, time.time() - start))
        _cli.trace_events(obj, head, text, json=JSON.line if a.json else None)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
