"""Summarize btrfs operation latency (reads, writes, opens, fsyncs) as one
histogram per operation.

examples:
    btrfsdist            # show operation latency as a histogram
    btrfsdist -p 181     # trace PID 181 only
    btrfsdist 1 10       # print 1 second summaries, 10 times
    btrfsdist -m 5       # 5s summaries, milliseconds

probes: reads, writes, opens and fsyncs are measured at the system call (read,
write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open, openat,
openat2, creat, fsync, fdatasync) for regular files whose superblock says
btrfs, which includes the syscall's own overhead (path lookup for opens),
misses failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio). With --probe fentry or --probe kprobe, on
kernels that have them: btrfs's own btrfs_file_read_iter,
btrfs_file_write_iter, btrfs_file_open and btrfs_sync_file functions (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "btrfsdist"
JSON = _fs.DIST_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_dist(PROG, __doc__, "btrfs", argv=argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
