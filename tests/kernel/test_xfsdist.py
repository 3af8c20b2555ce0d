"""xfsdist on the real kernel: a XFS file system made for the test (loop
device); one process works on it, then on ext4: the histograms count the
first only."""
from __future__ import annotations

import re

import pytest

from tests import fstools
from tests.fsimages import loop_fs
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PROG = "xfsdist"


@pytest.fixture(scope="module")
def mnt():
    with loop_fs("xfs") as m:
        yield m


def test_interval_count_per_operation(mnt):
    got, t = fstools.run_dist(PROG, mnt, ("1", "2"))
    assert t.lines[0] == "Tracing XFS operation latency... Hit Ctrl-C to end."
    assert got == fstools.OPS, t.text
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d:", l)) for l in t.lines) == 2
    assert any(re.match(r"\s+usecs\s+: count     distribution", l) for l in t.lines)


def test_ctrl_c_summary_milliseconds_no_timestamp(mnt):
    got, t = fstools.run_dist(PROG, mnt, ("-m", "-T"))
    assert got == fstools.OPS, t.text
    assert any(re.match(r"\s+msecs\s+: count     distribution", l) for l in t.lines)
    assert not any(re.fullmatch(r"\d\d:\d\d:\d\d:", l) for l in t.lines)


@pytest.mark.parametrize("args,msg", [
    (["0"], "interval 0"),
    (["1", "0"], "must be positive"),
    (["-p", "x"], "invalid PID"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool(PROG, *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
