"""Trace file system operations slower than a threshold (libbpf-tools'
fsslower: one tool, the file system chosen with -t).

examples:
    fsslower -t ext4             # trace ext4 operations slower than 10 ms
    fsslower -t nfs -p 1216      # trace nfs operations with PID 1216 only
    fsslower -t xfs -c -d 1      # trace xfs operations for 1s with csv output

probes: reads, writes, opens and fsyncs are measured at the system call for
regular files whose superblock names the file system (ext4: fsyncs from its
exact ext4_sync_file tracepoints); see ext4slower, xfsslower and the others
for what that sees.  With --probe fentry or --probe kprobe, on kernels that
have them: the file system's own read_iter, write_iter, open and fsync
functions (as libbpf-tools).
"""
from __future__ import annotations

from . import _cli, _fs

PROG = "fsslower"
JSON = _fs.SLOWER_JSON          # --json (tools/_jsonl.py)


def run(argv=None):
    return _fs.run_libbpf_slower(PROG, __doc__, argv)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
