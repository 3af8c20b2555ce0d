"""Summarize ext4 operation latency (reads, writes, opens, fsyncs) as one
histogram per operation.

examples:
    ext4dist            # show operation latency as a histogram
    ext4dist -p 181     # trace PID 181 only
    ext4dist 1 10       # print 1 second summaries, 10 times
    ext4dist -m 5       # 5s summaries, milliseconds

probes: by default, fsyncs come from the ext4_sync_file tracepoints (exact);
read, write and open are measured at the system call (read, write, pread64,
pwrite64, readv, writev, preadv*, pwritev*, open, openat, openat2, creat) for
regular files on ext4, which includes the syscall's own overhead (path lookup
for opens), misses failed opens and does not see I/O outside these syscalls
(mmap, sendfile/splice, io_uring, aio).  With --probe kprobe, on kernels with
kprobes: ext4's own read_iter, write_iter, open and fsync functions, as bcc.
"""
from __future__ import annotations

import os
import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _heatmap

PROG = "ext4dist"
OP_NAMES = ("read", "write", "open", "fsync")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--notimestamp", action="store_true",
                   help="don't include timestamp on interval output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="output in milliseconds")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("interval", nargs="?", type=_cli.nonneg_int,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="number of outputs")
    _heatmap.add_args(p)
    return p.parse_args(argv)


def op_name(op: int) -> str:
    return OP_NAMES[op] if op < len(OP_NAMES) else str(op)


def render(items, a) -> str:
    out = ["\n"]
    if a.interval and not a.notimestamp:
        out.append(time.strftime("%H:%M:%S:") + "\n")
    label = "msecs" if a.milliseconds else "usecs"
    out.append(histogram.format_sections([(k.op, list(v.slots)) for k, v in items],
                                         label, "operation", op_name))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    if a.interval == 0:
        raise _cli.UsageError("interval 0")
    _heatmap.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_ms = a.milliseconds
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_self_tgid = os.getpid()
        _cli.drop_missing_syscalls(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        hists = _heatmap.tap(a, obj.maps["hists"], PROG, lambda k, v: v.slots,
                             "msecs" if a.milliseconds else "usecs",
                             "ext4dist: ext4 operation latency")
        print("Tracing ext4 operation latency... Hit Ctrl-C to end.", flush=True)

        def emit():
            sys.stdout.write(render(hists.pop_items(), a))
            sys.stdout.flush()

        _cli.interval_loop(a.interval or _cli.FOREVER, a.count, emit, wait=hists.wait_stop)
        hists.write()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
