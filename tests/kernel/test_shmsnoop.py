"""shmsnoop on the real kernel: one process creates, attaches, detaches and
removes a System V shared memory segment."""
from __future__ import annotations

import os
import re

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.workloads import Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_SHM = r"""
import ctypes, os, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
print("ready", flush=True)
sys.stdin.readline()
def work():
    shmid = libc.shmget(int(sys.argv[1]), 4096, 0o1600)
    addr = libc.shmat(shmid, None, 0o10000)             # SHM_RDONLY
    libc.shmdt(ctypes.c_void_p(addr))
    libc.shmctl(shmid, 0, None)                         # IPC_RMID
    libc.shmctl(shmid, 2, None)                         # IPC_STAT of the removed id: fails
t = threading.Thread(target=work)
t.start()
t.join()
"""


# "": the default (raw_syscalls' sys_enter/sys_exit, tp_btf); raw_tp; the
# per-syscall tracepoints (the fallback)
@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_every_call_with_its_arguments(probe):
    key = 0x7C0000 + os.getpid() % 0xFFFF + {"": 0, "raw_tp": 1, "tracepoint": 2}[probe]
    child = Child(_SHM, key)
    try:
        t = Tool("shmsnoop", "-T", "-p", child.pid, env={"COREBPF_PROBE": probe})
        assert t.lines[0] == "TIME(s)       PID    COMM                SYS              RET ARGs"
        child.go().wait()
        t.wait_for(lambda l: "IPC_STAT" in l)
        assert t.stop() == 0
    finally:
        child.kill()
    rows = t.lines[1:]
    assert [l.split()[3] for l in rows] == ["SHMGET", "SHMAT", "SHMDT", "SHMCTL", "SHMCTL"], t.text
    assert all(l.split()[1] == str(child.pid) for l in rows)
    get, at, dt, rm, stat = rows
    shmid = int(get.split()[4], 16)
    assert get.endswith("key: 0x%x, size: 4096, shmflg: 0x380 (IPC_CREAT|0600)" % key), get
    addr = int(at.split()[4], 16)
    assert at.endswith("shmid: 0x%x, shmaddr: 0x0, shmflg: 0x1000 (SHM_RDONLY)" % shmid), at
    assert dt.split()[4] == "0" and dt.endswith("shmaddr: 0x%x" % addr), dt
    assert rm.endswith("cmd: 0 (IPC_RMID), buf: 0x0") and rm.split()[4] == "0", rm
    assert stat.split()[4] == "ffffffffffffffea" and "cmd: 2 (IPC_STAT)" in stat      # -EINVAL
    assert re.fullmatch(r"0\.0+", get.split()[0]) and float(stat.split()[0]) >= 0


def test_tid_filter_and_name():
    child = Child(_SHM, 0x7D0000 + os.getpid() % 0xFFFF)
    try:
        # the calls come from a thread: -t of the main thread sees none of them
        t = Tool("shmsnoop", "-t", child.pid)
        assert t.lines[0].startswith("TID ")
        n = Tool("shmsnoop", "-n", "no-such-comm-xyz")
        child.go().wait()
        t.stop()
        n.stop()
    finally:
        child.kill()
    assert len(t.lines) == 1 and len(n.lines) == 1, (t.text, n.text)


@pytest.mark.parametrize("args,msg", [
    (["-p", "0"], "no such process"),
    (["-t", "x"], "invalid TID"),
    (["-d", "0"], "must be positive"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("shmsnoop", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    key = 0x7E0000 + os.getpid() % 0xFFFF
    child = Child(_SHM, key)
    try:
        t = Tool("shmsnoop", "--json", "-p", child.pid, ready="stderr")
        child.go().wait()
        assert t.wait_for(json_match(lambda d: d["cmd"] == 2)) is not None, (t.text, t.stderr)
        assert t.stop() == 0
    finally:
        child.kill()
    get, at, dt, rm, stat = json_objects(t, "shmsnoop")
    assert [d["sys"] for d in (get, at, dt, rm, stat)] == [
        "SHMGET", "SHMAT", "SHMDT", "SHMCTL", "SHMCTL"]
    assert all(d["pid"] == child.pid and d["tid"] != child.pid for d in (get, at, dt, rm, stat))
    assert (get["key"], get["size"], get["shmflg"]) == (key, 4096, 0o1600)
    assert (at["shmid"], at["shmflg"], at["shmaddr"]) == (get["ret"], 0o10000, "0x0")
    assert dt["shmaddr"] == hex(at["ret"]) and dt["ret"] == 0
    assert (rm["cmd"], rm["ret"], rm["buf"]) == (0, 0, "0x0")
    assert stat["ret"] == -22                                           # -EINVAL
