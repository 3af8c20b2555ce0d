"""The syscalls bpf_src/fsops.bpf.h follows, for its raw_syscalls variant
(sc_action values: enum fsop_action << 8 | enum fsop)."""
from __future__ import annotations

_READ, _WRITE = 0, 1
_RW, _PRW, _OPEN, _RWV, _PRWV = 1, 2, 3, 4, 5

SYSCALLS = {
    "read": _RW << 8 | _READ, "readv": _RWV << 8 | _READ,
    "pread64": _PRW << 8 | _READ, "preadv": _PRWV << 8 | _READ, "preadv2": _PRWV << 8 | _READ,
    "write": _RW << 8 | _WRITE, "writev": _RWV << 8 | _WRITE,
    "pwrite64": _PRW << 8 | _WRITE, "pwritev": _PRWV << 8 | _WRITE,
    "pwritev2": _PRWV << 8 | _WRITE,
    **{n: _OPEN << 8 for n in ("open", "openat", "openat2", "creat")},
}
# fsync(2) and fdatasync(2): the objects of fsfuncs.bpf.h (ext4's has its
# exact ext4_sync_file tracepoints instead).
_FSYNC_OP, _FSYNC = 3, 6
FSYNC_SYSCALLS = {n: _FSYNC << 8 | _FSYNC_OP for n in ("fsync", "fdatasync")}

# vfs.bpf.h VFS_RW_SYSCALLS_RAW (filetop, dirtop): 1 << 1 (bytes in argument
# 2) or 2 << 1 (an iovec array), | 1 for reads.
VFS_RW_SYSCALLS = {**{n: 2 | 1 for n in ("read", "pread64")},
                   **{n: 2 for n in ("write", "pwrite64")},
                   **{n: 4 | 1 for n in ("readv", "preadv", "preadv2")},
                   **{n: 4 for n in ("writev", "pwritev", "pwritev2")}}
