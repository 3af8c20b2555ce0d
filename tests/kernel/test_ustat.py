"""ustat and bcc's language names (pythonstat, rubycalls, javathreads, ...)
against runtimes started here: Debian's python3 (12's python3.11:
function__return, gc__start; 13's python3.13 has gc__start only: CPython
3.12 dropped the function probes), ruby (12's ruby3.1: cmethod__entry,
object__create, gc; 13's libruby-3.3 is built without USDT probes: skipped),
OpenJDK (thread__start, class__loaded without -XX:+ExtendedDTraceProbes)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests import usdt_prog
from tests import distro
from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PYTHON = distro.PYTHON          # Debian 12: python3.11, 13: python3.13
HEADER = "%-6s %-20s %-10s %-6s %-10s %-8s %-6s %-6s" % (
    "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s")
ROW = re.compile(r"^(\d+) +(.{20}) (\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) *$")


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()


def _start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    time.sleep(0.5)                 # the runtime has mapped its libraries
    return p


@pytest.fixture
def busy_python():
    p = _start([PYTHON, "-c", "import gc, time\ndef corebpf_f(x): return x\nwhile 1:\n"
                " list(map(corebpf_f, range(500))); gc.collect(); time.sleep(0.05)"])
    yield p
    p.kill()
    p.wait()


def rows(lines, pid):
    """[(method, gc, objnew, cload, excp, thread)] of pid's rows, in order."""
    out = []
    for line in lines:
        m = ROW.match(line)
        if m and int(m.group(1)) == pid:
            out.append(tuple(int(m.group(i)) for i in range(3, 9)))
    return out


def test_ustat_python_methods_and_gcs(busy_python):
    p = busy_python
    rc, out, err = run_tool("ustat", "-C", "-l", "python", "1", "3", timeout=60)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing... Output every 1 secs. Hit Ctrl-C to end"
    assert lines.count(HEADER) == 3 and lines[-1] == "Detaching..."
    assert re.match(r"^\d\d:\d\d:\d\d loadavg: ", lines[2]), lines
    r = rows(lines, p.pid)
    assert len(r) == 3, out
    # ~10 rounds a second of 500 calls and a collection (at least 3 gc__start)
    assert max(x[1] for x in r) >= 5, out
    if distro.python_function_probes_missing():
        assert all(x[0] == 0 for x in r), out       # no probe, no method counted
    else:
        assert max(x[0] for x in r) >= 1000, out
    cmd = next(l for l in lines if l.startswith(f"{p.pid} "))
    assert cmd[7:27] == f"{PYTHON} -c import gc"[:20]


def test_pythonstat_is_ustat_l_python(busy_python):
    rc, out, err = run_tool("pythonstat", "-C", "-S", "gc", "-r", "50", "1", "1", timeout=60)
    assert rc == 0, err
    assert rows(out.splitlines(), busy_python.pid), out
    # ruby and java processes are not looked for
    assert not re.search(r"^\d+ +(ruby|java)", out, re.M)


def test_rubystat_and_rubycalls():
    why = distro.ruby_usdt_missing()
    if why:
        pytest.skip(f"Ruby's USDT probes: {why}")
    p = _start([distro.RUBY, "-e", "loop { [3, 1, 2].sort; Object.new; 'x' * 3; sleep 0.05 }"])
    try:
        rc, out, err = run_tool("rubystat", "-C", "1", "2", timeout=60)
        assert rc == 0, err
        r = rows(out.splitlines(), p.pid)
        assert r and max(x[0] for x in r) >= 10 and max(x[2] for x in r) >= 10, out
        t = Tool("rubycalls", p.pid)
        assert t.lines[0] == f"Tracing calls in process {p.pid} (language: ruby)... Ctrl-C to quit."
        time.sleep(1)
        assert t.stop() == 0
        assert any(l.startswith("Array.sort") for l in t.lines), t.text
    finally:
        p.kill()
        p.wait()


def test_python_names_lead_to_their_tools(busy_python):
    pid = busy_python.pid
    if distro.python_function_probes_missing():
        # python3.13: the call tools say in one line which probe is missing
        for name in ("pythoncalls", "pythonflow"):
            rc, out, err = run_tool(name, pid)
            assert rc == 1 and "function__entry" in err and err.count("\n") == 1, err
    else:
        t = Tool("pythoncalls", pid)
        assert t.lines[0] == \
            f"Tracing calls in process {pid} (language: python)... Ctrl-C to quit."
        time.sleep(1)
        assert t.stop() == 0
        assert any(l.startswith("<string>.corebpf_f ") for l in t.lines), t.text
        t = Tool("pythonflow", pid)
        assert t.lines[0] == f"Tracing method calls in python process {pid}... Ctrl-C to quit."
        assert t.wait_for(lambda l: "corebpf_f" in l, 10), t.text
        assert t.stop() == 0
    t = Tool("pythongc", pid)
    assert t.lines[0] == f"Tracing garbage collections in python process {pid}... Ctrl-C to quit."
    assert t.wait_for(lambda l: re.search(r"gen \d+ GC collected", l) is not None, 10), t.text
    assert t.stop() == 0


def test_cobjnew_counts_malloc_sizes():
    p = usdt_prog.start("malloc", "4242")
    try:
        time.sleep(0.3)
        t = Tool("cobjnew", p.pid, "1")
        assert t.lines[0] == f"Tracing allocations in process {p.pid} (language: c)... Ctrl-C to quit."
        assert t.wait_for(lambda l: l.startswith("block size 4242 "), 10), t.text
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()


@pytest.fixture(scope="module")
def java_classes():
    javac = shutil.which("javac")
    assert javac, "javac (Debian openjdk-17-jdk-headless) is needed for the Java tests"
    d = tempfile.mkdtemp(prefix="corebpf-java-", dir="/var/tmp")
    src = Path(__file__).resolve().parent.parent / "progs" / "CorebpfThreads.java"
    subprocess.run([javac, "-d", d, str(src)], check=True, timeout=180)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_javastat_and_javathreads(java_classes):
    p = subprocess.Popen(["java", "-Xmx64m", "-cp", java_classes, "CorebpfThreads"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert p.stdout.readline().strip() == b"ready"
        rc, out, err = run_tool("javastat", "-C", "2", "2", timeout=90)
        assert rc == 0, err
        r = rows(out.splitlines(), p.pid)
        assert r and max(x[5] for x in r) >= 1, out          # THR/s: worker threads
        t = Tool("javathreads", p.pid, timeout=60)
        assert "(language: java)" in t.lines[0]
        assert t.wait_for(lambda l: " start " in l and "corebpf-worker-" in l, 20), t.text
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()


def test_names_without_a_runtime_say_what_is_missing(busy_python):
    # the python process has no Tcl probes: one line naming the missing probe
    rc, out, err = run_tool("tclcalls", busy_python.pid)
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("ucalls: error: ") and "proc__entry" in err


def test_json_ustat(busy_python):
    """One object per interval, counts of the interval (not per second)."""
    p = busy_python
    # -S gc: the busy process first, whatever other Python processes run (-r keeps 20)
    t = Tool("ustat", "--json", "-l", "python", "-S", "gc", "1", "2", ready="stderr", timeout=60)
    t.proc.wait(60)
    assert t.stop() == 0, t.stderr
    objs = json_objects(t, "ustat")
    assert len(objs) == 2 and t.stderr.rstrip().endswith("Detaching...")
    r = [row for o in objs for row in o["rows"] if row["pid"] == p.pid]
    assert len(r) == 2 and all(o["interval_s"] == 1 and o["loadavg"] for o in objs)
    assert r[0]["language"] == "python" and r[0]["cmdline"].startswith(f"{PYTHON} -c import gc")
    assert max(x["gc"] for x in r) >= 5, objs
    if not distro.python_function_probes_missing():
        assert max(x["method"] for x in r) >= 1000, objs
