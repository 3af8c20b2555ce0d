"""Summarize ZFS operation latency (reads, writes, opens, fsyncs) as one
histogram per operation.

examples:
    zfsdist            # show operation latency as a histogram
    zfsdist -p 181     # trace PID 181 only
    zfsdist 1 10       # print 1 second summaries, 10 times
    zfsdist -m 5       # 5s summaries, milliseconds

probes: reads, writes, opens and fsyncs are measured at the system call (read,
write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open, openat,
openat2, creat, fsync, fdatasync) for regular files whose superblock says ZFS,
which includes the syscall's own overhead (path lookup for opens), misses
failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio). With --probe fentry or --probe kprobe, on
kernels that have them: ZFS's own zpl_iter_read, zpl_iter_write, zpl_open and
zpl_fsync functions (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "zfsdist"
JSON = _fs.DIST_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_dist(PROG, __doc__, "zfs", argv=argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
