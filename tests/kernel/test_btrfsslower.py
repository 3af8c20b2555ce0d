"""btrfsslower on the real kernel: a btrfs file system made for the test (loop
device); one process works on it, then on ext4: the tool reports the
first, with bcc's columns, and nothing of the second."""
from __future__ import annotations

import pytest

from tests import fstools
from tests.fsimages import loop_fs
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PROG = "btrfsslower"


@pytest.fixture(scope="module")
def mnt():
    with loop_fs("btrfs") as m:
        yield m


def test_every_operation_and_nothing_from_ext4(mnt):
    t, w, name, _ = fstools.run_slower(PROG, mnt)
    assert t.lines[:2] == ["Tracing btrfs operations", fstools.bcc_header(7)], t.text
    fstools.check_bcc_rows(t, w, name, "RWOS")


def test_threshold_reports_slow_fsync(mnt):
    """32 MiB of dirty data cannot reach the disk in under a millisecond."""
    t, w, name, _ = fstools.run_slower(PROG, mnt, ("1",), big_mib=32,
                                       done=lambda l: l.split()[3:4] == ["S"]
                                       and "cbpf_fs_" in l)
    assert t.lines[0] == "Tracing btrfs operations slower than 1 ms"
    r = fstools.rows(t.lines, name)
    assert [x for x in r if x[3] == "S"], t.text
    assert all(float(x[6]) >= 1.0 for x in r), t.text      # > 1000 us


def test_csv(mnt):
    t, w, name, _ = fstools.run_slower(PROG, mnt, ("-j", "0"),
                                       done=lambda l: l.split(",")[3:5] == ["R", "4096"])
    assert t.lines[0] == "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
    r = fstools.rows(t.lines, name, ",")
    assert [(x[3], int(x[4]), int(x[5])) for x in r if x[3] == "W"] == \
        [("W", 65536, off * 1024) for _, off in fstools.WRITES], t.text
    assert all(x[2] == str(w.pid) and int(x[0]) > 0 and int(x[6]) >= 0 for x in r), t.text


@pytest.mark.parametrize("args,msg", [
    (["-1"], "out of range"),
    (["abc"], "invalid integer"),
    (["-p", "0"], "no such process"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool(PROG, *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_duration_ends_the_trace(mnt):
    rc, out, err = run_tool(PROG, "-d", "1", "0", timeout=60)
    assert rc == 0 and out.splitlines()[0] == "Tracing btrfs operations", (out, err)
