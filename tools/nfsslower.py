"""Trace READ, WRITE, OPEN, GETATTR and COMMIT NFS calls slower than a
threshold, supports NFSv{3,4}.

examples:
    nfsslower         # trace operations slower than 10ms
    nfsslower 1       # trace operations slower than 1ms
    nfsslower -j 1    # ... 1 ms, parsable output (csv)
    nfsslower 0       # trace all nfs operations
    nfsslower -p 121  # trace pid 121 only

probes: GETATTRs come from the nfs:nfs_getattr_enter/exit tracepoints (around
nfs_getattr, exact) and COMMITs from nfs_initiate_commit/nfs_commit_done (as
bcc; the task shown is the one completing the COMMIT).  Reads, writes and
opens are measured at the system call (read, write, pread64, pwrite64, readv,
writev, preadv*, pwritev*, open, openat, openat2, creat) for regular files on
NFS, which includes the syscall's own overhead (path lookup for opens), misses
failed opens and does not see I/O outside these syscalls (mmap,
sendfile/splice, io_uring, aio).  With --probe fentry or --probe kprobe, on
kernels that have them: nfs_file_read, nfs_file_write, nfs_file_open,
nfs4_file_open and nfs_getattr (as bcc).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "nfsslower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)
TOOL = _fs.Slower("nfs", ops=(_fs.READ, _fs.WRITE, _fs.OPEN, _fs.GETATTR, _fs.COMMIT),
                  header="Tracing NFS operations... Ctrl-C to quit",
                  header_min="Tracing NFS operations that are slower than {ms} ms... "
                             "Ctrl-C to quit")


def run(argv=None):
    return _fs.run_slower(PROG, __doc__, TOOL, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
