"""Trace ext4 reads, writes, opens and fsyncs slower than a threshold.

examples:
    ext4slower             # trace operations slower than 10 ms (default)
    ext4slower 1           # trace operations slower than 1 ms
    ext4slower -j 1        # ... 1 ms, parsable output (csv)
    ext4slower 0           # trace all operations (warning: verbose)
    ext4slower -p 185      # trace PID 185 only

probes: by default, fsyncs come from the ext4_sync_file tracepoints (exact);
reads, writes and opens are measured at the system call (read, write, pread64,
pwrite64, readv, writev, preadv*, pwritev*, open, openat, openat2, creat) for
regular files on ext4, which includes the syscall's own overhead (path lookup
for opens), misses failed opens and does not see I/O outside these syscalls
(mmap, sendfile/splice, io_uring, aio).  With --probe kprobe, on kernels with
kprobes: ext4's own read_iter, write_iter, open and fsync functions, as bcc.
"""
from __future__ import annotations

import os
import time

import corebpf

from . import _cli

PROG = "ext4slower"
OPS = "RWOS"                # read, write, open, fsync (FSOP_* in fsops.bpf.h)
NAME_MAX_SHOWN = 32


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-j", "--csv", action="store_true",
                   help="just print fields: comma-separated values")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("min_ms", nargs="?", default=10, type=_cli.unsigned(64, scale=1000),
                   help="minimum I/O duration to trace, in ms (default 10; 0: all)")
    return p.parse_args(argv)


def header(a) -> list:
    if a.csv:
        return ["ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"]
    first = ("Tracing ext4 operations" if a.min_ms == 0 else
             "Tracing ext4 operations slower than %d ms" % a.min_ms)
    return [first, "%-8s %-14s %-6s %1s %-7s %-8s %7s %s" % (
        "TIME", "COMM", "PID", "T", "BYTES", "OFF_KB", "LAT(ms)", "FILENAME")]


def format_event(e, csv: bool) -> str:
    op = OPS[e.op] if e.op < len(OPS) else "?"
    name = e.file[:NAME_MAX_SHOWN]
    if csv:
        return "%d,%s,%d,%s,%d,%d,%d,%s" % (e.ts_us, e.task, e.pid, op, e.size, e.offset,
                                             e.delta_us, name)
    return "%-8s %-14.14s %-6s %1s %-7s %-8d %7.2f %s" % (
        time.strftime("%H:%M:%S"), e.task, e.pid, op, e.size, e.offset // 1024,
        e.delta_us / 1000, name)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_min_us = a.min_ms * 1000
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_self_tgid = os.getpid()
        _cli.drop_missing_syscalls(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        out = _cli.Output()
        rb = obj.ring_buffer("events", lambda e: out(format_event(e, a.csv)))
        print("\n".join(header(a)), flush=True)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
