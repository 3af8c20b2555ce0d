"""execsnoop on the real kernel: it sees the processes this test starts."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def marker():
    return "corebpf-exec-" + uuid.uuid4().hex[:8]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_sees_spawned_process_with_args(probe):
    """Default: raw_syscalls (tp_btf) and a switch on the syscall number;
    raw_tp the same; tracepoint: one tracepoint per syscall."""
    m = marker()
    t = Tool("execsnoop", env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["COMM", "PID", "PPID", "RET", "ARGS"]
    p = subprocess.Popen(["/bin/echo", m, "a", "b"], stdout=subprocess.DEVNULL)
    p.wait()
    line = t.wait_for(lambda l: m in l)
    assert t.stop() == 0
    assert line is not None, t.text
    comm, pid, ppid, ret, *args = line.split()
    assert (comm, int(pid), int(ppid), ret) == ("echo", p.pid, os.getpid(), "0")
    assert args == ["/bin/echo", m, "a", "b"]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_fexecve_execveat_empty_path(probe):
    """os.execve(fd) is glibc's fexecve: execveat(fd, "", AT_EMPTY_PATH).
    The empty path (a "" of libc that may not be readable without a fault)
    shows as argv[0], the arguments after it in their places."""
    m = marker()
    t = Tool("execsnoop", env={"COREBPF_PROBE": probe})
    # argv[0] "true": where /bin/true is busybox, argv[0] names the applet
    code = ("import os; fd = os.open('/bin/true', os.O_RDONLY); "
            "os.execve(fd, ['true', '%s', 'x'], {})" % m)
    p = subprocess.run([sys.executable, "-c", code])
    # the exec's line (not python3's -c line); its COMM is the file's name
    # (busybox where /bin/true links to it)
    line = t.wait_for(lambda l: m in l and "python" not in l)
    assert t.stop() == 0
    assert p.returncode == 0
    assert line is not None, t.text
    assert line.split()[4:] == ["true", m, "x"]


def test_failed_exec_only_with_x():
    m = marker()
    t = Tool("execsnoop", "-x")
    with pytest.raises(OSError):
        subprocess.run(["/nonexistent/" + m])
    line = t.wait_for(lambda l: m in l)
    assert t.stop() == 0
    assert line is not None and line.split()[3] == "-2"

    t = Tool("execsnoop")
    with pytest.raises(OSError):
        subprocess.run(["/nonexistent/" + m])
    subprocess.run(["/bin/true", m])
    assert t.wait_for(lambda l: "/bin/true " + m in l) is not None
    t.stop()
    assert not any("/nonexistent/" + m in l for l in t.lines)


def test_max_args_marks_truncation():
    m = marker()
    t = Tool("execsnoop", "--max-args", "3")
    subprocess.run(["/bin/echo", m, "2", "3", "4", "5"], stdout=subprocess.DEVNULL)
    line = t.wait_for(lambda l: m in l)
    t.stop()
    assert line.split()[4:] == ["/bin/echo", m, "2", "..."]


def test_columns_quote_and_filters():
    m = marker()
    t = Tool("execsnoop", "-T", "-t", "-U", "-C", "-M", "-q", "-n", "^echo$", "-l", m)
    hdr = t.lines[0].split()
    assert hdr == ["TIME", "TIME(s)", "UID", "COMM", "PID", "PCOMM", "PPID", "CPU", "RET", "ARGS"]
    subprocess.run(["/bin/echo", m, 'say "hi"'], stdout=subprocess.DEVNULL)
    subprocess.run(["/bin/true", m])          # filtered out by -n
    line = t.wait_for(lambda l: m in l)
    t.stop()
    with open("/proc/self/comm") as f:
        me = f.read().strip()             # PCOMM: the parent is this test process
    assert re.match(r"\d\d:\d\d:\d\d \d+\.\d{3}\s+0\s+echo\s+\d+\s+" + re.escape(me), line), line
    assert line.endswith(f'"/bin/echo" "{m}" "say \\"hi\\""')
    assert not any("/bin/true" in l for l in t.lines)


def test_uid_and_ppid_filters():
    m = marker()
    everyone = Tool("execsnoop")
    filtered = Tool("execsnoop", "-u", "root", "-P", os.getpid())
    nobody = Tool("execsnoop", "-u", "65534")
    subprocess.run(["/bin/echo", m], stdout=subprocess.DEVNULL)
    # the grandchild's command line is built by sh, so only its exec shows it
    subprocess.run(["sh", "-c", f"/bin/echo $(printf %s-%s {m} grandchild); true"],
                   stdout=subprocess.DEVNULL)
    assert everyone.wait_for(lambda l: m + "-grandchild" in l) is not None
    assert filtered.wait_for(lambda l: "/bin/echo " + m in l) is not None
    for t in (everyone, filtered, nobody):
        t.stop()
    assert not any(m + "-grandchild" in l for l in filtered.lines)
    assert not any(m in l for l in nobody.lines)
