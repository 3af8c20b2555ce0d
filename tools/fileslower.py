"""Trace slow synchronous file reads and writes.

examples:
    fileslower             # trace sync file I/O slower than 10 ms (default)
    fileslower 1           # trace sync file I/O slower than 1 ms
    fileslower -p 185      # trace PID 185 only

probes: by default the read and write system call families (read, write,
pread64, pwrite64, readv, writev, preadv*, pwritev*), timed from entry to
return for files of any file system (regular files only, unless -a), which
includes the syscall's own overhead and does not see I/O outside these
syscalls (mmap, sendfile/splice, io_uring, aio).  With --probe fentry or
--probe kprobe, on kernels that have them: vfs_read and vfs_write (as bcc).
"""
from __future__ import annotations

import os
import time

import corebpf
from corebpf import sysactions

from . import _cli, _containers, _fs, _jsonl

PROG = "fileslower"
NAME_LEN = 32           # bcc's DNAME_INLINE_LEN


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-a", "--all-files", action="store_true",
                   help="include non-regular file types (sockets, FIFOs, etc)")
    p.add_argument("min_ms", nargs="?", default=10, type=_cli.nonneg_int,
                   help="minimum I/O duration to trace, in ms (default 10)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


HEADER = "%-8s %-14s %-6s %1s %-7s %7s %s" % ("TIME(s)", "COMM", "TID", "D", "BYTES",
                                              "LAT(ms)", "FILENAME")


F = _jsonl.Field
JSON = _jsonl.Events("one object per synchronous read or write slower than the threshold", [
    F("comm", "string", "command name"),
    F("tid", "integer", "thread ID"),
    F("op", "string", "R (read) or W (write)", get=lambda e: "RW"[e.op]),
    F("bytes", "integer", "bytes asked for", "bytes", get=lambda e: e.count),
    F("latency_us", "integer", "time the call took", "us", get=lambda e: e.delta_us),
    F("file", "string", "the file's name (at most 32 bytes kept)", get=lambda e: e.name),
    F("name_len", "integer", "the whole name's length", "bytes"),
    _containers.FIELD,
])


def format_event(e, since: float) -> str:
    name = e.name[:NAME_LEN]
    if e.name_len > NAME_LEN:
        name = name[:-3] + "..."
    return "%-8.3f %-14.14s %-6s %1s %-7s %7.2f %s" % (
        since, e.comm, e.tid, "RW"[e.op], e.count, e.delta_us / 1000, name)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_min_us = a.min_ms * 1000
        obj.rodata.targ_all_files = a.all_files
        obj.rodata.targ_iov_bytes = True
        obj.rodata.targ_self_tgid = os.getpid()
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        for p in obj.programs.values():         # reads and writes only
            if p.kind == "tracepoint" and _fs.SYSCALL_OPS.get(p.hook.rsplit("_", 1)[0]) \
                    not in (_fs.READ, _fs.WRITE):
                p.autoload = False
        _cli.drop_missing_syscalls(obj)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, {n: c for n, c in sysactions.FSOPS.items()
                                        if _fs.SYSCALL_OPS[n] in (_fs.READ, _fs.WRITE)})
        obj.attach()
        if obj.variant in ("kprobe", "fentry"):     # what bcc says on 5.8+ kernels
            print("Current kernel does not have __vfs_read, try vfs_read instead")
            print("Current kernel does not have __vfs_write, try vfs_write instead")
        start = time.time()
        first = "Tracing sync read/writes slower than %d ms" % a.min_ms
        head, text = _containers.column(a, first + "\n" + HEADER,
                                        lambda e: format_event(e, time.time() - start))
        _cli.trace_events(obj, head, text, json=JSON.line if a.json else None)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
