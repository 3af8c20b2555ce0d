"""sofdsnoop on the real kernel: one process passes two file descriptors over
a Unix socket pair and receives them."""
from __future__ import annotations

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.workloads import Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_PASS = r"""
import os, socket, sys
a, b = socket.socketpair()
f1 = os.open("/etc/hostname", os.O_RDONLY)
f2 = os.open("/dev/null", os.O_RDONLY)
print("ready", flush=True)
sys.stdin.readline()
socket.send_fds(a, [b"x"], [f1, f2])
msg, fds, flags, addr = socket.recv_fds(b, 10, 4)
print(a.fileno(), b.fileno(), f1, f2, *fds, flush=True)
sys.stdin.readline()
"""


def test_send_and_receive():
    child = Child(_PASS)
    try:
        t = Tool("sofdsnoop", "-p", child.pid)
        assert t.lines[0] == ("ACTION TID    COMM             SOCKET                    FD    NAME")
        child.go()
        sa, sb, f1, f2, r1, r2 = map(int, child.proc.stdout.readline().split())
        t.wait_for(lambda l: l.startswith("RECV") and l.split()[4] == str(r2))
        assert t.stop() == 0
    finally:
        child.kill()
    rows = [l.split() for l in t.lines[1:]]
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("SEND", str(child.pid), str(f1)), ("SEND", str(child.pid), str(f2)),
        ("RECV", str(child.pid), str(r1)), ("RECV", str(child.pid), str(r2))], t.text
    assert rows[0][3].startswith("%d:socket:[" % sa) and rows[2][3].startswith("%d:socket:[" % sb)
    assert rows[0][5] == "/etc/hostname" and rows[1][5] == "/dev/null"      # sender's paths
    assert len(rows[2]) == 5                                                 # none for RECV


def test_timestamps_and_name_filter():
    child = Child(_PASS)
    try:
        t = Tool("sofdsnoop", "-T", "-n", "python", "-p", child.pid)
        assert t.lines[0].startswith("TIME(s)       ACTION")
        child.go()
        child.proc.stdout.readline()
        t.wait_for(lambda l: "RECV" in l and len([x for x in t.lines if "RECV" in x]) == 2)
        t.stop()
    finally:
        child.kill()
    rows = [l.split() for l in t.lines[1:]]
    assert len(rows) == 4 and float(rows[0][0]) == 0.0 and float(rows[3][0]) >= 0, t.text


@pytest.mark.parametrize("args,msg", [(["-p", "0"], "no such process"),
                                      (["-d", "-3"], "must be positive")])
def test_bad_input(args, msg):
    rc, out, err = run_tool("sofdsnoop", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    child = Child(_PASS)
    try:
        t = Tool("sofdsnoop", "--json", "-p", child.pid, ready="stderr")
        child.go()
        sa, sb, f1, f2, r1, r2 = map(int, child.proc.stdout.readline().split())
        assert t.wait_for(json_match(lambda d: d["action"] == "RECV" and d["fd"] == r2)), \
            (t.text, t.stderr)
        assert t.stop() == 0
    finally:
        child.kill()
    objs = json_objects(t, "sofdsnoop")
    assert [(d["action"], d["pid"], d["tid"], d["fd"]) for d in objs] == [
        ("SEND", child.pid, child.pid, f1), ("SEND", child.pid, child.pid, f2),
        ("RECV", child.pid, child.pid, r1), ("RECV", child.pid, child.pid, r2)]
    assert [d["sock_fd"] for d in objs] == [sa, sa, sb, sb]
    assert objs[0]["sock_path"].startswith("socket:[")
    assert [d["fd_path"] for d in objs] == ["/etc/hostname", "/dev/null", None, None]
