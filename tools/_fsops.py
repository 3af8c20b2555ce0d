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
