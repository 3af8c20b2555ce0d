"""fsdist (libbpf-tools' formats, -t TYPE) on the real kernel: an xfs file
system made for the test, and ext4 (/var/tmp)."""
from __future__ import annotations

import re

import pytest

from tests import fstools
from tests.fsimages import loop_fs
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_xfs_interval_count_and_timestamp():
    with loop_fs("xfs") as mnt:
        got, t = fstools.run_dist("fsdist", mnt, ("-t", "xfs", "-T", "1", "2"), quoted=True)
    assert t.lines[0] == "Tracing xfs operation latency... Hit Ctrl-C to end."
    assert got == fstools.OPS, t.text
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l)) for l in t.lines) == 2, t.text
    assert "operation = 'write'" in t.lines, t.text
    # libbpf-tools' histogram header: one space less before "distribution" than bcc's
    assert any(re.fullmatch(r" {5}usecs {15}: count    distribution", l) for l in t.lines)


def test_ext4_milliseconds_on_ctrl_c():
    got, t = fstools.run_dist("fsdist", "/var/tmp", ("-t", "ext4", "-m"), quoted=True)
    # the ext4 "decoy" is ext4 too: both files count
    assert got == {op: 2 * n for op, n in fstools.OPS.items()}, t.text
    assert any(re.fullmatch(r" {5}msecs {15}: count    distribution", l) for l in t.lines)


@pytest.mark.parametrize("args,msg", [
    ([], "filesystem must be specified using -t option."),
    (["-t", "xfs", "0"], "must be positive"),
    (["-t", "zzz"], "invalid filesystem"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("fsdist", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json_ext4():
    objs, _, _ = fstools.run_json("fsdist", "/var/tmp", ("-t", "ext4"), ext4=True)
    assert fstools.json_dist_counts(objs) == fstools.OPS
