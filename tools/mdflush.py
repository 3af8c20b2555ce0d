"""Trace md flush events: flush requests sent to md (software RAID) devices.

Only a kernel function carries this (md_flush_request, through fentry or
kprobes); on a kernel without either, or without md, it says so and exits.

examples:
    mdflush             # trace md flush requests until Ctrl-C
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl

PROG = "mdflush"
HEADER = "%-8s %-7s %-16s %s" % ("TIME", "PID", "COMM", "DEVICE")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per md flush request", [
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("disk", "string", "md device name"),
    _containers.FIELD,
])


def format_event(e, now: str = None) -> str:
    return "%-8s %-7d %-16s %s" % (now or time.strftime("%H:%M:%S"), e.pid, e.comm, e.disk)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        head, text = _containers.column(
            a, "Tracing md flush requests... Hit Ctrl-C to end.\n" + HEADER, format_event)
        _cli.trace_events(obj, head, text, json=JSON.line if a.json else None)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
