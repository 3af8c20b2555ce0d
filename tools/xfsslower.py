"""Trace common XFS file operations slower than a threshold.

examples:
    xfsslower             # trace operations slower than 10 ms (default)
    xfsslower 1           # trace operations slower than 1 ms
    xfsslower -j 1        # ... 1 ms, parsable output (csv)
    xfsslower 0           # trace all operations (warning: verbose)
    xfsslower -p 185      # trace PID 185 only

probes: reads, writes, opens and fsyncs are measured at the system call (read,
write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open, openat,
openat2, creat, fsync, fdatasync) for regular files whose superblock says XFS,
which includes the syscall's own overhead (path lookup for opens), misses
failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio). With --probe fentry or --probe kprobe, on
kernels that have them: XFS's own xfs_file_read_iter, xfs_file_write_iter,
xfs_file_open and xfs_file_fsync functions (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "xfsslower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)
TOOL = _fs.Slower("xfs")


def run(argv=None):
    return _fs.run_slower(PROG, __doc__, TOOL, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
