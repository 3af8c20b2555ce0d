"""nfsslower on the real kernel: a directory exported by the kernel's NFS
server and mounted over 127.0.0.1 (nfs-kernel-server's daemons, started for
the test); one process works on it, then on ext4: the tool reports the NFS
reads, writes, opens, GETATTRs and COMMITs, and nothing of ext4.  (This
project's CI host has no NFS: these run in the 6.12 guest of the kernel
matrix.)"""
from __future__ import annotations

import pytest

from tests import fstools
from corebpf import features
from tests.fsimages import nfs_mount
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PROG = "nfsslower"
BIG = 4         # MiB written before the fsync: several WRITEs, then a COMMIT


@pytest.fixture(scope="module")
def mnt():
    with nfs_mount() as m:
        yield m


def test_every_operation_and_nothing_from_ext4(mnt):
    t, w, name, _ = fstools.run_slower(PROG, mnt, big_mib=BIG)
    assert t.lines[:2] == ["Tracing NFS operations... Ctrl-C to quit", fstools.bcc_header()]
    r = fstools.check_bcc_rows(t, w, name, "RWOG", big_mib=BIG)
    assert [x for x in r if x[3] == "G"], t.text                      # the stat()
    commits = [x for x in fstools.rows(t.lines, name) if x[3] == "C"]
    assert commits and all(int(x[4]) > 0 for x in commits), t.text    # bytes committed


def test_threshold_and_csv(mnt):
    t, w, name, _ = fstools.run_slower(PROG, mnt, ("-j", "1"), big_mib=BIG,
                                       done=lambda l: l.split(",")[3:4] == ["C"])
    assert t.lines[0] == "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
    r = fstools.rows(t.lines, name, ",")
    assert [x for x in r if x[3] == "C"] and all(int(x[6]) > 1000 for x in r), t.text


def test_threshold_header(mnt):
    t, w, name, _ = fstools.run_slower(PROG, mnt, ("5",), big_mib=BIG,
                                       done=lambda l: l.split()[3:4] == ["C"])
    assert t.lines[0] == "Tracing NFS operations that are slower than 5 ms... Ctrl-C to quit"


def test_without_nfs_one_line():
    if features.filesystem("nfs") or features.filesystem("nfs4"):
        pytest.skip("the kernel has NFS loaded: cannot show the refusal")
    rc, out, err = run_tool(PROG)
    assert rc == 1 and err == ("nfsslower: error: this kernel has no nfs file system (nfs/nfs4 "
                               "not in /proc/filesystems: load its module or mount one first)\n")


def test_json(mnt):
    objs, w, name = fstools.run_json(PROG, mnt, ("0",))
    fstools.check_json_slower(objs, w, name, "RWOG")
    assert [o for o in objs if o.get("file") == name and o["op"] == "getattr"]
