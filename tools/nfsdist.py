"""Summarize NFS operation latency (reads, writes, opens, getattrs) as one
histogram per operation.

examples:
    nfsdist            # show operation latency as a histogram
    nfsdist -p 181     # trace PID 181 only
    nfsdist 1 10       # print 1 second summaries, 10 times
    nfsdist -m 5       # 5s summaries, milliseconds

probes: GETATTRs come from the nfs:nfs_getattr_enter/exit tracepoints (around
nfs_getattr, exact).  Reads, writes and opens are measured at the system call
(read, write, pread64, pwrite64, readv, writev, preadv*, pwritev*, open,
openat, openat2, creat) for regular files on NFS, which includes the syscall's
own overhead (path lookup for opens), misses failed opens and does not see I/O
outside these syscalls (mmap, sendfile/splice, io_uring, aio).  With --probe
fentry or --probe kprobe, on kernels that have them: nfs_file_read,
nfs_file_write, nfs_file_open, nfs4_file_open and nfs_getattr (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "nfsdist"
JSON = _fs.DIST_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_dist(PROG, __doc__, "nfs", (_fs.READ, _fs.WRITE, _fs.OPEN, _fs.GETATTR),
                        argv=argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
