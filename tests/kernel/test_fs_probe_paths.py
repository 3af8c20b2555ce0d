"""The file system tools' function-probe paths (--probe fentry / kprobe: each
file system's own read_iter, write_iter, open, fsync, getattr functions; vfs_read
and vfs_write for fileslower), forced and seen firing on real file systems.
This project's CI host has neither kind: the kernel matrix (Debian 6.1 and
6.12 under qemu) runs these."""
from __future__ import annotations

import pytest

from tests import fstools
from tests.fsimages import loop_fs, nfs_mount
from tests.workloads import file_ops
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

KINDS = ["fentry", "kprobe"]


@pytest.fixture(scope="module")
def xfs():
    with loop_fs("xfs") as m:
        yield m


@pytest.mark.parametrize("kind", KINDS)
def test_xfsslower(kind, xfs):
    fstools.require_probe_kind(kind)
    t, w, name, _ = fstools.run_slower("xfsslower", xfs, ("--probe", kind, "0"))
    fstools.check_bcc_rows(t, w, name)


@pytest.mark.parametrize("kind", KINDS)
def test_fsdist_xfs(kind, xfs):
    fstools.require_probe_kind(kind)
    got, t = fstools.run_dist("fsdist", xfs, ("--probe", kind, "-t", "xfs"), quoted=True)
    assert got == fstools.OPS, t.text


@pytest.mark.parametrize("kind", KINDS)
def test_btrfsdist(kind):
    fstools.require_probe_kind(kind)
    with loop_fs("btrfs") as mnt:
        got, t = fstools.run_dist("btrfsdist", mnt, ("--probe", kind))
    assert got == fstools.OPS, t.text


@pytest.mark.parametrize("kind", KINDS)
def test_f2fsslower(kind):
    fstools.require_probe_kind(kind)
    with loop_fs("f2fs") as mnt:
        t, w, name, _ = fstools.run_slower("f2fsslower", mnt, ("--probe", kind, "0"))
    fstools.check_bcc_rows(t, w, name)


@pytest.mark.parametrize("kind", KINDS)
def test_nfsslower_and_nfsdist(kind):
    fstools.require_probe_kind(kind)
    with nfs_mount() as mnt:
        t, w, name, _ = fstools.run_slower("nfsslower", mnt, ("--probe", kind, "0"), big_mib=4)
        got, d = fstools.run_dist("nfsdist", mnt, ("--probe", kind))
    r = fstools.check_bcc_rows(t, w, name, "RWOG", big_mib=4)
    assert [x for x in r if x[3] == "G"], t.text
    assert got.pop("getattr", 0) >= 1 and got == {"open": 2, "write": 4, "read": 4}, d.text


@pytest.mark.parametrize("kind", KINDS)
def test_fileslower(kind):
    fstools.require_probe_kind(kind)
    name = fstools.marker("fslowpp")
    with file_ops(name) as w:
        t = Tool("fileslower", "--probe", kind, "-p", w.pid, "0", timeout=fstools.START)
        w.go().wait()
        t.wait_for(lambda l: l.split()[-1:] == [name] and l.split()[3:5] == ["R", "4096"])
        assert t.stop() == 0
    assert t.lines[0] == "Current kernel does not have __vfs_read, try vfs_read instead"
    r = fstools.rows(t.lines, name)
    assert [int(x[4]) for x in r if x[3] == "W"] == [65536] * 4, t.text
