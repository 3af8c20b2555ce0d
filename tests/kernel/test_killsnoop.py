"""killsnoop on the real kernel: it sees the kill() calls this test makes."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def width():
    with open("/proc/sys/kernel/pid_max") as f:
        return len(f.read().strip()) + 1


def my_comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def fields(line):
    return line.split()


def test_signal_sent_by_this_process():
    w = width()
    t = Tool("killsnoop")
    assert t.lines[0] == "%-9s %-*s %-16s %-4s %-*s %s" % ("TIME", w, "PID", "COMM", "SIG", w,
                                                           "TPID", "RESULT")
    child = subprocess.Popen(["sleep", "30"])
    os.kill(child.pid, signal.SIGTERM)
    child.wait()
    line = t.wait_for(lambda l: fields(l)[1:2] == [str(os.getpid())] and
                      fields(l)[4:5] == [str(child.pid)])
    assert t.stop() == 0
    assert line is not None, t.text
    assert line[10:] == "%-*d %-16s %-4d %-*d %d" % (w, os.getpid(), my_comm(), 15, w,
                                                      child.pid, 0)


def test_failed_kill_only_with_x():
    dead = unused_pid()
    child = subprocess.Popen(["sleep", "30"])
    t = Tool("killsnoop", "-x")
    with pytest.raises(ProcessLookupError):
        os.kill(dead, signal.SIGTERM)
    os.kill(child.pid, 0)                # succeeds: not shown
    line = t.wait_for(lambda l: fields(l)[4:5] == [str(dead)])
    child.kill()
    child.wait()
    t.stop()
    assert line is not None, t.text
    assert fields(line)[1:] == [str(os.getpid()), my_comm(), "15", str(dead), "-3"]
    assert not any(fields(l)[4:5] == [str(child.pid)] for l in t.lines)


def test_sender_target_and_signal_filters():
    a = subprocess.Popen(["sleep", "30"])
    b = subprocess.Popen(["sleep", "30"])
    t = Tool("killsnoop", "-p", os.getpid(), "-T", a.pid, "-s", "10,15")
    os.kill(a.pid, 0)                                        # signal not listed
    os.kill(b.pid, 0)                                        # other target
    subprocess.run(["sh", "-c", f"kill -0 {a.pid}"])          # other sender
    os.kill(a.pid, signal.SIGTERM)                           # the one to show
    line = t.wait_for(lambda l: fields(l)[3:5] == ["15", str(a.pid)])
    b.kill()
    for p in (a, b):
        p.wait()
    time.sleep(0.2)
    t.stop()
    assert line is not None, t.text
    rows = t.lines[1:]
    assert rows == [line], t.text


@pytest.mark.parametrize("args,msg", [
    (["-s", "x"], "invalid signal"),
    (["-s", "9,65"], "invalid signal"),
    (["-p", "999999"], "no such process"),
    (["-T", "-4"], "out of range"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("killsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
