"""uthreads -l java and ugc -l java against a real JVM (Debian's OpenJDK 17;
libjvm.so carries the hotspot USDT probes thread__start/stop, gc__begin/end
and mem__pool__gc__begin/end, no semaphores).  The programs are in
tests/progs/*.java, compiled with javac once per module."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests import usdt_prog
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()

PROGS = Path(__file__).resolve().parent.parent / "progs"


@pytest.fixture(scope="module")
def classes():
    javac = shutil.which("javac")
    assert javac, "javac (Debian default-jdk-headless) is needed for the Java tests"
    d = tempfile.mkdtemp(prefix="corebpf-java-", dir="/var/tmp")
    subprocess.run([javac, "-d", d, str(PROGS / "CorebpfThreads.java"),
                    str(PROGS / "CorebpfGc.java")], check=True, timeout=180)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _jvm(classes, main):
    p = subprocess.Popen(["java", "-Xmx64m", "-cp", classes, main], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    assert p.stdout.readline().strip() == b"ready"      # the JVM is up, libjvm mapped
    return p


def _threads(pid) -> str:
    """Each JVM thread's name, state and CPU ticks (why no thread was started)."""
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        out.append(f"{tid} {name} {rest[0]} utime={rest[11]} stime={rest[12]}")
    return "\n".join(out)


def test_uthreads_java_start_stop(classes):
    p = _jvm(classes, "CorebpfThreads")
    try:
        t = Tool("uthreads", p.pid, timeout=60)       # language detected from libjvm
        assert t.lines[0] == f"Tracing thread events in process {p.pid} (language: java)... Ctrl-C to quit."
        start = t.wait_for(lambda l: " start " in l and "corebpf-worker-" in l, 20)
        stop = t.wait_for(lambda l: " stop " in l and "corebpf-worker-" in l, 20)
        native = t.wait_for(lambda l: " pthread " in l, 20)
        jvm = "" if start else _threads(p.pid)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert start and stop and native, t.text + "\nJVM threads:\n" + jvm
    rid, typ, name = start.split()[1:4]
    assert rid.startswith("R=") and "/N=" in rid and typ == "start"
    assert native.rstrip().endswith("thread_native_entry(Thread*) [libjvm.so]")


def test_ugc_java_collections(classes):
    p = _jvm(classes, "CorebpfGc")
    try:
        t = Tool("ugc", "-l", "java", p.pid, "-m", timeout=60)
        assert t.lines[0] == f"Tracing garbage collections in java process {p.pid}... Ctrl-C to quit."
        plain = t.wait_for(lambda l: l.endswith("no additional info available"), 20)
        pool = t.wait_for(lambda l: " Eden Space used=" in l, 20)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert plain and pool, t.text
    assert float(pool.split()[1]) >= 0
