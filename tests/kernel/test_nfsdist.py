"""nfsdist on the real kernel: a directory exported by the kernel's NFS server
and mounted over 127.0.0.1; one process works on it, then on ext4: the
histograms count the NFS reads, writes, opens and getattrs only.  (This
project's CI host has no NFS: these run in the 6.12 guest of the kernel
matrix.)"""
from __future__ import annotations

import pytest

from tests import fstools
from tests.fsimages import nfs_mount

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture(scope="module")
def mnt():
    with nfs_mount() as m:
        yield m


def test_interval_count_per_operation(mnt):
    got, t = fstools.run_dist("nfsdist", mnt, ("1", "2"))
    assert t.lines[0] == "Tracing NFS operation latency... Hit Ctrl-C to end."
    getattrs = got.pop("getattr", 0)
    assert getattrs >= 1 and got == {"open": 2, "write": 4, "read": 4}, t.text


def test_fsdist_nfs_on_ctrl_c(mnt):
    got, t = fstools.run_dist("fsdist", mnt, ("-t", "nfs"), quoted=True)
    assert got.pop("getattr", 0) >= 1 and got == fstools.OPS, t.text


def test_json(mnt):
    objs, _, _ = fstools.run_json("nfsdist", mnt)
    got = fstools.json_dist_counts(objs)
    assert got.pop("getattr", 0) >= 1 and got == {"open": 2, "write": 4, "read": 4}, objs
