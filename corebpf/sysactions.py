"""Syscall tables of the raw_syscalls variants (bpf_src/sysnr.bpf.h).

An object with a raw_syscalls (or tp_btf sys_enter/sys_exit) variant keeps a
map `sc_action` from the running machine's syscall numbers to what its
programs do with that call; the codes below are the ones the BPF headers
switch on.  The tables live in the library because both the tools and the
exporter's collectors (which load the same objects) fill that map.
"""
from __future__ import annotations

# bpf_src/fsops.bpf.h: enum fsop_action << 8 | enum fsop
_READ, _WRITE = 0, 1
_RW, _PRW, _OPEN, _RWV, _PRWV = 1, 2, 3, 4, 5
FSOPS = {
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
FSOPS_FSYNC = {n: _FSYNC << 8 | _FSYNC_OP for n in ("fsync", "fdatasync")}

# bpf_src/vfs.bpf.h VFS_RW_SYSCALLS_RAW (filetop, dirtop): 1 << 1 (bytes in
# argument 2) or 2 << 1 (an iovec array), | 1 for reads.
VFS_RW = {**{n: 2 | 1 for n in ("read", "pread64")},
          **{n: 2 for n in ("write", "pwrite64")},
          **{n: 4 | 1 for n in ("readv", "preadv", "preadv2")},
          **{n: 4 for n in ("writev", "pwritev", "pwritev2")}}

# bpf_src/vfsstat.h: enum vfs_action << 8 | enum vfs_stat (vfsstat's
# columns), the same syscalls as its per-syscall tracepoint variant.
_R, _W, _F, _O, _C, _U, _M, _D = range(8)
_ENTRY, _MSYNC, _OPEN_AT, _NS, _MKNOD, _MKNODAT, _UNLINKAT = range(1, 8)
VFSSTAT = {
    **{n: _ENTRY << 8 | _R for n in ("read", "readv", "pread64", "preadv", "preadv2")},
    **{n: _ENTRY << 8 | _W for n in ("write", "writev", "pwrite64", "pwritev", "pwritev2")},
    "fsync": _ENTRY << 8 | _F, "fdatasync": _ENTRY << 8 | _F, "msync": _MSYNC << 8,
    **{n: _OPEN_AT << 8 for n in ("open", "openat", "openat2", "creat")},
    "mknod": _MKNOD << 8, "mknodat": _MKNODAT << 8, "unlink": _NS << 8 | _U,
    "unlinkat": _UNLINKAT << 8, "mkdir": _NS << 8 | _M, "mkdirat": _NS << 8 | _M,
    "rmdir": _NS << 8 | _D,
}


def fill(obj, actions: dict, map_name: str = "sc_action") -> bool:
    """After load, when the object's raw_syscalls variant was chosen: store
    actions {syscall name: code} under the running machine's syscall
    numbers (corebpf.syscalls); names this architecture lacks (open, creat
    on arm64) are left out.  Return whether the map was filled (False: a
    per-syscall tracepoint variant runs and needs no table)."""
    if obj.variant not in ("btf", "raw"):
        return False
    from corebpf import syscalls
    m = obj.maps[map_name]
    for name, code in actions.items():
        nr = syscalls.number(name)
        if nr is not None:
            m[nr] = code
    return True
