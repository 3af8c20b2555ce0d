"""Trace scheduler run queue waits longer than a threshold: one line per
task that waited, with how long it was runnable before it got a CPU.

examples:
    runqslower         # trace run queue latency higher than 10000 us (default)
    runqslower 1000    # trace run queue latency higher than 1000 us
    runqslower -p 123  # trace pid 123 only
    runqslower -t 123  # trace tid 123 only
    runqslower -P      # also show the previous task's name and TID
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl

PROG = "runqslower"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("min_us", nargs="?", default=10000, type=_cli.unsigned(64),
                   help="minimum run queue latency to trace, in us (default 10000; 0: all)")
    p.add_argument("-P", "--previous", action="store_true",
                   help="also show the previous task's name and TID")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    g.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    if a.previous:
        return "%-8s %-16s %-6s %14s %-16s %-6s" % ("TIME", "COMM", "TID", "LAT(us)",
                                                    "PREV COMM", "PREV TID")
    return "%-8s %-16s %-6s %14s" % ("TIME", "COMM", "TID", "LAT(us)")


F = _jsonl.Field
JSON = _jsonl.Events("one object per wait on a run queue longer than the threshold", [
    F("comm", "string", "the waiting thread's command name", get=lambda e: e.task),
    F("tid", "integer", "the waiting thread's ID", get=lambda e: e.pid),
    F("latency_us", "integer", "time runnable before it ran", "us", get=lambda e: e.delta_us),
    F("prev_comm", "string", "command name of the thread switched out for it",
      get=lambda e: e.prev_task),
    F("prev_tid", "integer", "ID of the thread switched out for it", get=lambda e: e.prev_pid),
    _containers.FIELD,
])


def format_event(e, a) -> str:
    line = "%-8s %-16s %-6s %14s" % (time.strftime("%H:%M:%S"), e.task, e.pid, e.delta_us)
    if a.previous:
        line += " %-16s %-6s" % (e.prev_task, e.prev_pid)
    return line


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_min_us = a.min_us
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.tid:
            obj.rodata.targ_tid = a.tid
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        first = "Tracing run queue latency higher than %d us\n%s" % (a.min_us, header(a))
        head, text = _containers.column(a, first, lambda e: format_event(e, a))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
