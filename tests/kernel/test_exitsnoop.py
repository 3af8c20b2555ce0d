"""exitsnoop on the real kernel: it sees the processes and threads this test
ends, with their exit status or the signal that killed them."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = ["PCOMM", "PID", "PPID", "TID", "AGE(s)", "EXIT_CODE"]


def by_pid(pid):
    return lambda l: len(l.split()) > 4 and l.split()[1] == str(pid)


def test_exit_status_and_fatal_signal():
    t = Tool("exitsnoop")
    assert t.lines[0].split() == HEADER
    code3 = subprocess.Popen(["sh", "-c", "exit 3"])
    code3.wait()
    sleeper = subprocess.Popen(["sleep", "30"])
    time.sleep(0.3)
    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()
    l3 = t.wait_for(by_pid(code3.pid))
    l9 = t.wait_for(by_pid(sleeper.pid))
    assert t.stop() == 0
    assert l3 is not None and l9 is not None, t.text
    comm, pid, ppid, tid, age = l3.split()[:5]
    assert (comm, int(ppid), int(tid)) == ("sh", os.getpid(), code3.pid)
    assert l3.endswith(" code 3") and float(age) >= 0
    assert l9.split()[0] == "sleep" and l9.endswith(" signal 9 (KILL)")
    assert float(l9.split()[4]) >= 0.2          # it lived ~0.3 s


THREADED = """
import threading
tids = []
t = threading.Thread(target=lambda: tids.append(threading.get_native_id()))
t.start(); t.join()
print(tids[0], flush=True)
"""


def test_per_thread_reports_thread_exits():
    per_thread = Tool("exitsnoop", "--per-thread")
    leaders = Tool("exitsnoop")
    p = subprocess.run([sys.executable, "-c", THREADED], capture_output=True, text=True,
                       check=True)
    tid = int(p.stdout)
    line = per_thread.wait_for(lambda l: len(l.split()) > 4 and l.split()[3] == str(tid))
    assert line is not None, per_thread.text
    pid = int(line.split()[1])
    assert pid != tid and line.endswith(" 0")
    assert per_thread.wait_for(lambda l: l.split()[1:4:2] == [str(pid), str(pid)]) is not None
    assert leaders.wait_for(by_pid(pid)) is not None
    per_thread.stop()
    leaders.stop()
    assert not any(len(l.split()) > 4 and l.split()[3] == str(tid) for l in leaders.lines)


def test_timestamp_label_and_failed_only():
    t = Tool("exitsnoop", "-x", "--utc", "--label=")
    assert t.lines[0].split() == ["TIME-UTC", "LABEL"] + HEADER
    ok = subprocess.Popen(["sh", "-c", "exit 0"])
    bad = subprocess.Popen(["sh", "-c", "exit 5"])
    ok.wait(), bad.wait()
    line = t.wait_for(lambda l: len(l.split()) > 5 and l.split()[3] == str(bad.pid))
    t.stop()
    assert line is not None, t.text
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3} exit  sh {15}%d " % bad.pid, line), line
    assert line.endswith(" code 5")
    assert not any(len(l.split()) > 5 and l.split()[3] == str(ok.pid) for l in t.lines)


def test_pid_filter_ends_after_the_process_exits():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    other = subprocess.Popen(["sh", "-c", "read x; exit 4"], stdin=subprocess.PIPE)
    t = Tool("exitsnoop", "-p", child.pid)
    other.communicate(b"\n")
    child.communicate(b"")
    assert t.wait(timeout=20) == 0           # ends by itself, as bcc's -p does
    rows = [l for l in t.lines[1:] if l.strip()]
    assert len(rows) == 1 and rows[0].split()[1] == str(child.pid), t.text


def test_json_lines():
    t = Tool("exitsnoop", "-j", ready=False)
    deadline = time.monotonic() + 20
    line = None
    while line is None and time.monotonic() < deadline:
        p = subprocess.Popen(["sh", "-c", "exit 6"])
        p.wait()
        line = t.wait_for(lambda l: f'"pid":{p.pid},' in l, timeout=1)
    t.stop()
    assert line is not None, t.text
    import json
    d = json.loads(line)
    assert (d["task"], d["pid"], d["tid"], d["ppid"], d["exit_code"], d["sig_info"]) == \
        ("sh", p.pid, p.pid, os.getpid(), 6, 0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", d["timestamp"])


def test_ctrl_c_prints_an_empty_line():
    p = subprocess.Popen([sys.executable, "-m", "corebpf", "exitsnoop", "-p", str(os.getpid())],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().split() == [x.encode() for x in HEADER]
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0 and out == b"\n", (out, err)


def test_classic_tracepoint_variant():
    t = Tool("exitsnoop", "--probe", "tracepoint", "--verbose")
    p = subprocess.Popen(["sh", "-c", "exit 9"])
    p.wait()
    line = t.wait_for(by_pid(p.pid))
    t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None and line.endswith(" code 9"), t.text


@pytest.mark.parametrize("args,msg", [
    (["-p", "999999"], "no such process"),
    (["--label"], "expected one argument"),
    (["extra"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("exitsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
