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

from . import _cli, _fs

PROG = "ext4dist"
JSON = _fs.DIST_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_dist(PROG, __doc__, "ext4", argv=argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
