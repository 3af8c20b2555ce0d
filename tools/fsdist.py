"""Summarize file system operations latency (libbpf-tools' fsdist: one
tool, the file system chosen with -t).

examples:
    fsdist -t ext4             # show ext4 operations latency as a histogram
    fsdist -t nfs -p 1216      # trace nfs operations with PID 1216 only
    fsdist -t xfs 1 10         # trace xfs operations, 1s summaries, 10 times
    fsdist -t btrfs -m 5       # trace btrfs operation, 5s summaries, in ms

probes: reads, writes, opens and fsyncs are measured at the system call for
regular files whose superblock names the file system (ext4: fsyncs from its
exact ext4_sync_file tracepoints; nfs: getattrs from its nfs_getattr
tracepoints); see ext4dist, xfsdist and the others for what that sees.  With
--probe fentry or --probe kprobe, on kernels that have them: the file
system's own read_iter, write_iter, open, fsync and getattr functions (as
libbpf-tools).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "fsdist"
JSON = _fs.DIST_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_libbpf_dist(PROG, __doc__, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
