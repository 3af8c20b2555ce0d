"""fsslower (libbpf-tools' formats, -t TYPE) on the real kernel: xfs and btrfs
file systems made for the test and ext4 (/var/tmp)."""
from __future__ import annotations

import pytest

from tests import fstools
from tests.fsimages import loop_fs
from tests.helpers import Tool, run_tool
from tests.workloads import file_ops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "TIME     COMM             PID     T BYTES   OFF_KB   LAT(ms) FILENAME"


def test_xfs_rows_in_libbpf_tools_columns():
    with loop_fs("xfs") as mnt:
        t, w, name, _ = fstools.run_slower("fsslower", mnt, ("-t", "xfs", "-m", "0"))
    assert t.lines[:2] == ["Tracing xfs operations... Hit Ctrl-C to end.", HEADER], t.text
    r = fstools.rows(t.lines, name)
    assert all(x[1] == fstools.COMM and x[2] == str(w.pid) for x in r), t.text
    kinds = [x[3] for x in r]
    assert kinds.count("O") == 2 and kinds.count("F") == 1 and set(kinds) == set("RWOF")
    assert [x[4] for x in r if x[3] == "F"] == ["LL_MAX"]          # fsync(2): the whole file
    assert [(int(x[4]), int(x[5])) for x in r if x[3] == "W"] == fstools.WRITES, t.text


def test_btrfs_csv_for_a_duration():
    with loop_fs("btrfs") as mnt:
        name = fstools.marker("fsc")
        with file_ops(name, directory=mnt) as w:
            t = Tool("fsslower", "-t", "btrfs", "-c", "-m", "0", "-d", "3")
            w.go().wait()
            assert t.wait(timeout=30) == 0, t.stderr       # -d 3: it ends by itself
    assert t.lines[0] == "ENDTIME_ns,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
    r = fstools.rows(t.lines, name, ",")
    assert [(x[3], int(x[4]), int(x[5])) for x in r if x[3] == "W"] == \
        [("W", 65536, off * 1024) for _, off in fstools.WRITES], t.text
    assert [x[4] for x in r if x[3] == "F"] == ["LL_MAX"], t.text
    assert all(int(x[0]) > 0 and x[2] == str(w.pid) for x in r), t.text


def test_ext4_with_a_threshold_and_pid():
    name = fstools.marker("fs4")
    with file_ops(name, big_mib=32) as w:
        t = Tool("fsslower", "-t", "ext4", "-p", w.pid, "-m", "1")
        assert t.lines[0] == "Tracing ext4 operations slower than 1 ms... Hit Ctrl-C to end."
        w.go().wait()
        t.wait_for(lambda l: l.split()[-1:] == [name] and l.split()[3] == "F")
        t.stop()
    r = fstools.rows(t.lines, name)
    assert [x for x in r if x[3] == "F"] and all(float(x[6]) >= 1.0 for x in r), t.text
    assert all(x[2] == str(w.pid) for x in t.lines[2:] and [l.split() for l in t.lines[2:]])


@pytest.mark.parametrize("args,msg", [
    ([], "filesystem must be specified using -t option."),
    (["-t", "nosuchfs"], "invalid filesystem"),
    (["-t", "xfs", "-m", "-1"], "out of range"),
    (["-t", "xfs", "-p", "0"], "no such process"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("fsslower", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json_ext4():
    from tests.workloads import SCRATCH_DIR
    objs, w, name = fstools.run_json("fsslower", SCRATCH_DIR, ("-t", "ext4", "-m", "0"),
                                     ext4=True)
    fstools.check_json_slower(objs, w, name)
