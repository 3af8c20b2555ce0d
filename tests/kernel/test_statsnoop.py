"""statsnoop on the real kernel: it sees the stat() calls this test makes."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def marker(tmp_path):
    return str(tmp_path / ("corebpf_stat_" + uuid.uuid4().hex[:8]))


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_missing_and_existing_file(tmp_path, probe):
    """Default: raw_syscalls (tp_btf) and a switch on the syscall number (the
    path from the registers: argument 0 or 1 by syscall); raw_tp the same;
    tracepoint: one tracepoint per syscall."""
    path = marker(tmp_path)
    open(path, "w").close()
    t = Tool("statsnoop", "-s", "-p", os.getpid(), env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["PID", "COMM", "FD", "ERR", "SYSCALL", "PATH"]
    with pytest.raises(FileNotFoundError):
        os.stat(path + "-missing")
    os.stat(path)
    missing = t.wait_for(lambda l: l.endswith(path + "-missing"))
    found = t.wait_for(lambda l: l.endswith(" " + path))
    os.statvfs(path)                                    # statfs: the path is argument 0
    fs = t.wait_for(lambda l: l.endswith(" " + path) and " statfs " in l)
    assert t.stop() == 0
    assert fs is not None, t.text
    pid, comm, fd, err, sc, p = missing.split()
    assert int(pid) == os.getpid() and (fd, err) == ("-1", "2")
    assert sc in ("newfstatat", "statx", "newstat")
    assert found.split()[2:4] == ["0", "0"]


def test_failed_only_with_timestamps(tmp_path):
    path = marker(tmp_path)
    open(path, "w").close()
    t = Tool("statsnoop", "-x", "-t", "-p", os.getpid())
    assert t.lines[0].split()[:2] == ["TIME(s)", "PID"]
    os.stat(path)
    with pytest.raises(FileNotFoundError):
        os.lstat(path + "-gone")
    line = t.wait_for(lambda l: l.endswith(path + "-gone"))
    t.stop()
    fields = line.split()
    float(fields[0])
    assert fields[3:5] == ["-1", "2"]
    assert not any(l.endswith(" " + path) for l in t.lines)


def test_statfs_is_traced(tmp_path):
    t = Tool("statsnoop", "-s", "-p", os.getpid())
    os.statvfs(str(tmp_path))
    line = t.wait_for(lambda l: l.endswith(" " + str(tmp_path)) and " statfs " in l)
    t.stop()
    assert line is not None, t.text


@pytest.mark.parametrize("args,msg", [
    (["-p", "999999"], "no such process"),
    (["-p", "abc"], "invalid PID"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("statsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
