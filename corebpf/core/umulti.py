"""uprobe_multi links (Linux 6.6): uprobes made by a BPF link instead of a
perf event.  Closing a perf-event uprobe waits for an RCU grace period
under the kernel's global trace event lock (~0.1 s each, one at a time);
uprobe_multi links close in parallel.  A program must be loaded for them
(expected_attach_type ATTACH_UPROBE_MULTI) and then cannot be attached
through a perf event.  libbpf 1.1 has neither the link options nor an
attach function: the link is made with the bpf() syscall directly."""
from __future__ import annotations

import errno
import functools
import os
import struct

from ._libbpf import LibbpfUnavailable, ffi, lib, libc

ATTACH_UPROBE_MULTI = 48            # BPF_TRACE_UPROBE_MULTI
UPROBE_MULTI_RETURN = 1             # BPF_F_UPROBE_MULTI_RETURN
_BPF_LINK_CREATE = 28
_PROG_TYPE_KPROBE = 2
_NR_BPF = {"x86_64": 321, "aarch64": 280, "arm64": 280, "riscv64": 280, "s390x": 351,
           "ppc64le": 361, "ppc64": 361, "loongarch64": 280}


def link_create(prog_fd: int, path: str, offsets, ref_ctr_offsets, cookies,
                flags: int = 0, pid: int = 0) -> int:
    """bpf(BPF_LINK_CREATE) of a uprobe_multi link at file offsets of `path`
    (pid > 0: that process only); the link fd or -errno."""
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        return -errno.ENOSYS
    n = len(offsets)
    cpath = ffi.new("char[]", os.fsencode(path))
    offs = ffi.new("__u64[]", list(offsets))
    refs = ffi.new("__u64[]", list(ref_ctr_offsets))
    cks = ffi.new("__u64[]", list(cookies))
    addr = lambda p: int(ffi.cast("uintptr_t", p))          # noqa: E731
    attr = struct.pack("<IIIIQQQQIII4x", prog_fd, 0, ATTACH_UPROBE_MULTI, 0, addr(cpath),
                       addr(offs), addr(refs) if any(ref_ctr_offsets) else 0, addr(cks), n,
                       flags, pid)
    cattr = ffi.new("char[]", attr)
    fd = libc.syscall(ffi.cast("long", nr), ffi.cast("int", _BPF_LINK_CREATE),
                      ffi.cast("void *", cattr), ffi.cast("unsigned int", len(attr)))
    return int(fd) if fd >= 0 else -(ffi.errno or errno.EINVAL)


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Can this kernel attach uprobes through uprobe_multi links?

    Probed once, attaching nothing: a program loaded for uprobe_multi and a
    link request for a process that cannot exist fail with ESRCH exactly when
    the kernel knows the link type."""
    try:
        L = lib()
    except LibbpfUnavailable:
        return False
    insns = bytes([0xb7, 0, 0, 0, 0, 0, 0, 0,          # r0 = 0
                   0x95, 0, 0, 0, 0, 0, 0, 0])         # exit
    buf = ffi.new("char[]", insns)
    opts = ffi.new("struct bpf_prog_load_opts *")
    opts.sz = ffi.sizeof("struct bpf_prog_load_opts")
    opts.expected_attach_type = ATTACH_UPROBE_MULTI
    pfd = L.bpf_prog_load(_PROG_TYPE_KPROBE, b"uprobe_multi", b"Dual BSD/GPL", buf, 2, opts)
    if pfd < 0:
        return False
    try:
        fd = link_create(pfd, "/proc/self/exe", [0], [0], [0], 0, 0x3ffffff0)
        if fd >= 0:
            os.close(fd)
        return fd == -errno.ESRCH or fd >= 0
    finally:
        os.close(pfd)
