"""Trace ext4 reads, writes, opens and fsyncs slower than a threshold.

examples:
    ext4slower             # trace operations slower than 10 ms (default)
    ext4slower 1           # trace operations slower than 1 ms
    ext4slower -j 1        # ... 1 ms, parsable output (csv)
    ext4slower 0           # trace all operations (warning: verbose)
    ext4slower -p 185      # trace PID 185 only

probes: by default, fsyncs come from the ext4_sync_file tracepoints (exact);
reads, writes and opens are measured at the system call (read, write, pread64,
pwrite64, readv, writev, preadv*, pwritev*, open, openat, openat2, creat) for
regular files on ext4, which includes the syscall's own overhead (path lookup
for opens), misses failed opens and does not see I/O outside these syscalls
(mmap, sendfile/splice, io_uring, aio).  With --probe kprobe, on kernels with
kprobes: ext4's own read_iter, write_iter, open and fsync functions, as bcc.
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "ext4slower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)
TOOL = _fs.Slower("ext4")


def run(argv=None):
    return _fs.run_slower(PROG, __doc__, TOOL, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
