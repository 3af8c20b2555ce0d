"""Trace common btrfs file operations slower than a threshold.

examples:
    btrfsslower             # trace operations slower than 10 ms (default)
    btrfsslower 1           # trace operations slower than 1 ms
    btrfsslower -j 1        # ... 1 ms, parsable output (csv)
    btrfsslower 0           # trace all operations (warning: verbose)
    btrfsslower -p 185      # trace PID 185 only
    btrfsslower -d 10       # trace for 10 seconds only

probes: reads, writes, opens and fsyncs are measured at the system call (read,
write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open, openat,
openat2, creat, fsync, fdatasync) for regular files whose superblock says
btrfs, which includes the syscall's own overhead (path lookup for opens),
misses failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio). With --probe fentry or --probe kprobe, on
kernels that have them: btrfs's own btrfs_file_read_iter,
btrfs_file_write_iter, btrfs_file_open and btrfs_sync_file
(generic_file_read_iter and generic_file_open where btrfs has none) functions
(as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "btrfsslower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)
TOOL = _fs.Slower("btrfs", pid_width=7, duration=True)


def run(argv=None):
    return _fs.run_slower(PROG, __doc__, TOOL, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
