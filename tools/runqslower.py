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

from . import _cli

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
    return p.parse_args(argv)


def header(a) -> str:
    if a.previous:
        return "%-8s %-16s %-6s %14s %-16s %-6s" % ("TIME", "COMM", "TID", "LAT(us)",
                                                    "PREV COMM", "PREV TID")
    return "%-8s %-16s %-6s %14s" % ("TIME", "COMM", "TID", "LAT(us)")


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
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        out = _cli.Output()
        rb = obj.ring_buffer("events", lambda e: out(format_event(e, a)))
        print("Tracing run queue latency higher than %d us" % a.min_us)
        print(header(a), flush=True)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
