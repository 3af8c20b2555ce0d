"""syncsnoop on the real kernel: a process with a unique name calls sync,
fsync and fdatasync; its lines carry those CALL names."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_sync_fsync_fdatasync(tmp_path, probe):
    """Default: raw_syscalls (tp_btf) sys_enter and a switch on the syscall
    number; raw_tp the same; tracepoint: one tracepoint per syscall."""
    comm = "cbsync" + uuid.uuid4().hex[:6]
    exe = tmp_path / comm
    os.symlink(sys.executable, exe)         # the process's comm is the link's name
    t = Tool("syncsnoop", env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["TIME(s)", "COMM", "CALL"]
    code = ("import os; os.sync(); f = open(%r, 'w'); os.fsync(f.fileno()); "
            "os.fdatasync(f.fileno())" % str(tmp_path / "data"))
    subprocess.run([str(exe), "-c", code], check=True)
    t.wait_for(lambda l: l.split()[1:] == [comm, "fdatasync"])
    assert t.stop() == 0
    calls = [l.split()[2] for l in t.lines[1:] if l.split()[1:2] == [comm]]
    assert calls == ["sync", "fsync", "fdatasync"], t.text
    ts = [float(l.split()[0]) for l in t.lines[1:] if l.split()[1:2] == [comm]]
    assert ts == sorted(ts) and ts[0] > 0


def test_msync(tmp_path):
    comm = "cbmsync" + uuid.uuid4().hex[:6]
    exe = tmp_path / comm
    os.symlink(sys.executable, exe)
    t = Tool("syncsnoop")
    code = ("import mmap; f = open(%r, 'w+b'); f.write(b'x' * 4096); f.flush(); "
            "m = mmap.mmap(f.fileno(), 4096); m[0:1] = b'y'; m.flush()" % str(tmp_path / "m"))
    subprocess.run([str(exe), "-c", code], check=True)
    line = t.wait_for(lambda l: l.split()[1:] == [comm, "msync"])
    t.stop()
    assert line is not None, t.text


def test_bad_input_one_line():
    rc, out, err = run_tool("syncsnoop", "extra")
    assert rc != 0 and "unrecognized arguments" in err and len(err.strip().splitlines()) == 1
