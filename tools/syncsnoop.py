"""Trace sync()-family syscalls: sync, fsync, fdatasync, msync, sync_file_range
and syncfs, one line per call as it is entered.

TIME(s) is the kernel's monotonic clock (as bcc prints it), not time since start.

examples:
    syncsnoop           # trace every sync-family syscall
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl

PROG = "syncsnoop"
# bcc's CALL names, indexed by enum sync_call (syncsnoop.h)
CALLS = ("N/A", "sync", "fsync", "fdatasync", "msync", "sync_file_range", "syncfs")
# The raw_syscalls variants' table: syscall -> CALLS index (enum sync_call).
SYSCALLS = {n: CALLS.index(n) for n in CALLS[1:]}
SYSCALLS["sync_file_range2"] = CALLS.index("sync_file_range")      # arm, powerpc


def header() -> str:
    return "%-18s %-16s %-16s" % ("TIME(s)", "COMM", "CALL")


F = _jsonl.Field
JSON = _jsonl.Events("one object per sync-family call", [
    F("ts_ns", "integer", "kernel time at entry (CLOCK_MONOTONIC)", "ns", get=lambda e: e.ts),
    F("comm", "string", "command name"),
    F("call", "string", "sync, fsync, fdatasync, msync, sync_file_range or syncfs",
      get=lambda e: CALLS[e.call] if e.call < len(CALLS) else CALLS[0]),
    _containers.FIELD,
])


def format_event(e) -> str:
    # bcc keeps microseconds: ts/1000 as an integer, printed in seconds
    secs = (e.ts // 1000) / 1e6
    call = CALLS[e.call] if e.call < len(CALLS) else CALLS[0]
    return "%-18.9f %-16s" % (secs, e.comm) + " %-16s" % call


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    _containers.add_args(p)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _cli.drop_missing_syscalls(obj)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        head, text = _containers.column(a, header(), format_event)
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
