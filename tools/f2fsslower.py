"""Trace common f2fs file operations slower than a threshold.

examples:
    f2fsslower             # trace operations slower than 10 ms (default)
    f2fsslower 1           # trace operations slower than 1 ms
    f2fsslower -s 1        # ... 1 ms, parsable output (csv)
    f2fsslower 0           # trace all operations (warning: verbose)
    f2fsslower -p 185      # trace PID 185 only

probes: reads, writes, opens and fsyncs are measured at the system call (read,
write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open, openat,
openat2, creat, fsync, fdatasync) for regular files whose superblock says
f2fs, which includes the syscall's own overhead (path lookup for opens),
misses failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio). With --probe fentry or --probe kprobe, on
kernels that have them: f2fs's own f2fs_file_read_iter, f2fs_file_write_iter,
f2fs_file_open and f2fs_sync_file functions (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "f2fsslower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)
TOOL = _fs.Slower("f2fs", csv_flag="-s")


def run(argv=None):
    return _fs.run_slower(PROG, __doc__, TOOL, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
