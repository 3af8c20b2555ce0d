"""The raw_syscalls variants (bpf_src/sysnr.bpf.h) find their syscalls by
name in corebpf.syscalls for the running machine: every name a tool lists
must be a name of those tables (a misspelt or tracepoint-only name, such as
newstat for stat, would silently never be traced)."""
from __future__ import annotations

import types

import pytest

from corebpf import sysactions, syscalls
from tools import (bindsnoop, execsnoop, filetop, mountsnoop, opensnoop, solisten,
                   statsnoop, syncsnoop, tcpaccept, vfsstat)

# syscalls arm64 (asm-generic) does not have
LEGACY = {"open", "creat", "mknod", "unlink", "mkdir", "rmdir", "stat", "lstat"}
# syscalls of other architectures (arm 32-bit, powerpc), harmless where absent
OTHER = {"sync_file_range2"}


@pytest.mark.parametrize("mod", [vfsstat, opensnoop, filetop, statsnoop, syncsnoop, execsnoop,
                                 mountsnoop, solisten, bindsnoop, tcpaccept]
                         + [types.SimpleNamespace(__name__=f"sysactions.{t}", SYSCALLS=getattr(sysactions, t))
                            for t in ("FSOPS", "FSOPS_FSYNC", "VFS_RW", "VFSSTAT")],
                         ids=lambda m: m.__name__)
def test_every_name_is_a_syscall_of_the_tables(mod):
    for name in set(mod.SYSCALLS) - OTHER:
        assert syscalls.number(name, "x86_64") is not None, name
        assert syscalls.number(name, "aarch64") is not None or name in LEGACY, name
    assert all(0 < code < 1 << 16 for code in mod.SYSCALLS.values())
