"""sigsnoop on the real kernel: signals this test sends, as generated and as
kill()/tgkill() calls."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "%-8s %-7s %-16s %-12s %-7s %-16s %-6s" % ("TIME", "PID", "COMM", "SIG", "TPID",
                                                    "TCOMM", "RESULT")

# A process with a SIGUSR1 handler, named so its comm is unmistakable.
TARGET = """
import signal, sys
with open("/proc/self/comm", "w") as f:
    f.write("sigsnoop-target")
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
print("ready", flush=True)
while not got:
    signal.pause()
print("got", got[0], flush=True)
"""


def my_comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


def target():
    p = subprocess.Popen([sys.executable, "-c", TARGET], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def test_generated_signal_to_a_handler_with_names():
    p = target()
    t = Tool("sigsnoop", "-n", "-p", os.getpid())
    assert t.lines[0] == HEADER
    os.kill(p.pid, signal.SIGUSR1)
    assert p.stdout.readline() == "got 10\n"
    p.wait()
    line = t.wait_for(lambda l: l.split()[4:5] == [str(p.pid)])
    t.stop()
    assert line is not None, t.text
    assert line[9:] == "%-7d %-16s %-12s %-7d %-16s %-6d" % (
        os.getpid(), my_comm(), "SIGUSR1", p.pid, "sigsnoop-target", 0)


def test_signal_filter_numbers():
    p = target()
    t = Tool("sigsnoop", "-s", "10", "-p", os.getpid())
    subprocess.run(["true"])              # its SIGCHLD comes from the child, not us
    os.kill(p.pid, signal.SIGUSR1)
    p.communicate()
    line = t.wait_for(lambda l: l.split()[4:5] == [str(p.pid)])
    t.stop()
    assert line is not None and line.split()[3] == "10", t.text
    assert all(l.split()[3] == "10" for l in t.lines[1:]), t.text


def tgkill(tgid, tid, sig):
    """The tgkill() syscall itself (glibc's pthread_kill(self, 0) may make
    no syscall at all)."""
    nr = {"x86_64": 234, "aarch64": 131}[os.uname().machine]
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(nr, tgid, tid, sig) == 0, os.strerror(ctypes.get_errno())


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_kill_mode_kill_and_tgkill_with_results():
    p = target()
    dead = unused_pid()
    t = Tool("sigsnoop", "-k", "-p", os.getpid())
    row = lambda k: (lambda l: l.split()[3:5] == [str(k[0]), str(k[1])])
    rows = {}
    # kill(), no signal generated: the target's comm is looked up when the
    # line is printed, so the target lives until then (reaped before, the
    # tool rightly says N/A: seen on a loaded machine)
    os.kill(p.pid, 0)
    rows[(0, p.pid)] = t.wait_for(row((0, p.pid)))
    os.kill(p.pid, signal.SIGUSR1)                          # kill(): target comm from the signal
    with pytest.raises(ProcessLookupError):
        os.kill(dead, signal.SIGUSR2)                       # fails: ESRCH
    me = threading.get_native_id()
    tgkill(os.getpid(), me, 0)                              # tgkill() to this thread
    p.communicate()
    for key in ((10, p.pid), (12, dead), (0, me)):
        rows[key] = t.wait_for(row(key))
    t.stop()
    assert all(rows.values()), t.text
    mine = (os.getpid(), my_comm())
    assert rows[(10, p.pid)][9:] == "%-7d %-16s %-12d %-7d %-16s %-6d" % (
        *mine, 10, p.pid, "sigsnoop-target", 0)
    assert rows[(0, p.pid)].split()[5:] == ["sigsnoop-target", "0"]
    assert rows[(12, dead)].split()[5:] == ["N/A", "-3"]
    assert rows[(0, me)].split()[5:] == [my_comm(), "0"]


def test_failed_only_in_kill_mode():
    dead = unused_pid()
    t = Tool("sigsnoop", "-k", "-x", "-p", os.getpid())
    os.kill(os.getpid(), 0)
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)
    line = t.wait_for(lambda l: l.split()[4:5] == [str(dead)])
    t.stop()
    assert line is not None and line.split()[-1] == "-3", t.text
    assert len(t.lines) == 2, t.text


@pytest.mark.parametrize("args,msg", [
    (["-s", "1,x"], "invalid signal"),
    (["-s", "99"], "invalid signal"),
    (["-p", "0"], "no such process"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("sigsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
