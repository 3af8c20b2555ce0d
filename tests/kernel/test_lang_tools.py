"""ucalls, uflow, ugc, uobjnew and uthreads against real runtimes started
here: Debian's /usr/bin/python3.X (its USDT probes), ruby (libruby's, where
Debian builds them: 12's ruby3.1 yes, 13's ruby3.3 no), the C test target
(pthread_create, malloc).

Probe choices, from what fires on these builds: Python 3.11 fires
function__return for every Python function but function__entry only for
frames entered from C, so calls are counted and flows checked on returns;
gc__start/gc__done fire on every collection.  Ruby 3.1 fires cmethod__entry
and object__create but not method__entry for Ruby-defined methods."""
from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest

from tests import distro, usdt_prog
from tests.helpers import Tool, json_objects, run_json, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()

PYTHON = distro.PYTHON


def _ruby(code: str):
    why = distro.ruby_usdt_missing()
    if why:
        pytest.skip(f"Ruby's USDT probes: {why}")
    return subprocess.Popen([distro.RUBY, "-e", code])


def _python(code: str):
    p = subprocess.Popen([PYTHON, "-c", code])
    time.sleep(0.3)
    return p


def _max_rows(lines, header: str) -> int:
    """The most rows any report (header line to blank line) had."""
    most, n = 0, None
    for line in lines:
        if line.startswith(header):
            n = 0
        elif n is not None and line and not line.startswith("Detaching"):
            n += 1
            most = max(most, n)
        else:
            n = None
    return most


@pytest.fixture
def py_calls():
    """A Python process calling a function of a unique name (ucalls' and
    uflow's python:function__entry/return probes must be in this Python)."""
    name = "corebpf_fn_" + uuid.uuid4().hex[:6]
    p = _python(f"import time\ndef {name}(x): return x\nwhile 1:\n"
                f" list(map(lambda x: {name}(x), range(100))); time.sleep(0.1)")
    yield p, name
    p.kill()
    p.wait()


def _need_function_probes():
    why = distro.python_function_probes_missing()
    if why:
        pytest.skip(why)


def test_ucalls_python_counts_and_syscalls(py_calls):
    _need_function_probes()
    p, name = py_calls
    t = Tool("ucalls", "-l", "python", p.pid, "-S")
    assert t.lines[0] == f"Tracing calls in process {p.pid} (language: python)... Ctrl-C to quit."
    assert t.wait_for(lambda l: l == "Attached kernel tracepoints for syscall tracing.", 5)
    time.sleep(1.5)
    assert t.stop() == 0
    assert "%-50s %8s" % ("METHOD", "# CALLS") in t.lines
    rows = {l[:50].rstrip(): int(l[50:]) for l in t.lines if re.match(r"^\S.{49} +\d+$", l)}
    assert rows.get(f"<string>.{name}", 0) >= 100, t.text
    assert rows.get("<string>.<lambda>", 0) >= 100
    assert rows.get("clock_nanosleep", 0) >= 1 or rows.get("select", 0) >= 1
    assert t.lines[-1] == "Detaching kernel probes, please wait..."


def test_ucalls_interval_top_and_latency_header(py_calls):
    _need_function_probes()
    p, name = py_calls
    t = Tool("ucalls", p.pid, "1", "-T", "1", "-L", "-m")    # language detected
    assert "(language: python)" in t.lines[0]
    assert t.wait_for(lambda l: l.startswith("METHOD"), 10)
    assert t.wait_for(lambda l: len([x for x in t.lines if x.startswith("METHOD")]) >= 2, 10) is not None
    assert t.stop() == 0
    assert "%-50s %8s %8s" % ("METHOD", "# CALLS", "TIME (ms)") in t.lines
    assert _max_rows(t.lines, "METHOD") <= 1, t.text      # -T 1


def test_ucalls_errors(py_calls):
    p, _ = py_calls
    rc, out, err = run_tool("ucalls", "-l", "none", p.pid)
    assert rc == 2 and out == "" and err == (
        f"ucalls: error: nothing to trace in process {p.pid} (no language detected or "
        "-l none): use -l LANGUAGE or -S\n")
    rc, out, err = run_tool("ucalls", "-l", "java", p.pid)
    assert rc == 1 and err.strip() == (
        f"ucalls: error: process {p.pid} has no USDT probe method__entry (runtime built without "
        f"--with-dtrace/--enable-dtrace? tplist -p {p.pid} lists its probes)")
    rc, out, err = run_tool("ucalls", "4194005")
    assert rc == 2 and err.strip() == "ucalls: error: argument pid: no such process: 4194005"


def test_uflow_python_returns_with_method_filter(py_calls):
    _need_function_probes()
    p, name = py_calls
    t = Tool("uflow", "-l", "python", "-M", name[:12], p.pid)
    assert t.lines[0] == f"Tracing method calls in python process {p.pid}... Ctrl-C to quit."
    assert t.wait_for(lambda l: l == "%-3s %-6s %-6s %-8s %s" % ("CPU", "PID", "TID", "TIME(us)",
                                                                 "METHOD"))
    line = t.wait_for(lambda l: l.rstrip().endswith(f"<- <string>.{name}"))
    assert t.stop() == 0
    assert line is not None, t.text
    f = line.split()
    assert f[1] == f[2] == str(p.pid) and float(f[3]) >= 0
    assert not any("<lambda>" in l for l in t.lines)       # filtered out in the kernel


def test_uflow_ruby_method_entries_and_returns():
    p = _ruby("loop { [3, 1, 2].sort; sleep 0.05 }")
    try:
        time.sleep(0.8)
        t = Tool("uflow", "-l", "ruby", "-M", "sort", p.pid)
        entry = t.wait_for(lambda l: "-> Array.sort" in l)
        ret = t.wait_for(lambda l: "<- Array.sort" in l)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert entry and ret, t.text
    # a return sits at the depth of its call
    assert entry.split(None, 4)[4].index("->") == ret.split(None, 4)[4].index("<-")


def test_uflow_no_language():
    p = usdt_prog.start("threads")
    try:
        rc, out, err = run_tool("uflow", p.pid)
    finally:
        p.kill()
        p.wait()
    assert rc == 2 and out == ""
    assert err == (f"uflow: error: no language detected in process {p.pid}; "
                   "use -l to name the language to trace\n")


def test_ugc_python_collections():
    p = _python("import gc, time\nwhile 1:\n x = [[] for i in range(100)]\n"
                " for a in x: a.append(a)\n del x; gc.collect(); time.sleep(0.1)")
    try:
        t = Tool("ugc", "-l", "python", p.pid, "-F", "gen 2")
        assert t.lines[0] == f"Tracing garbage collections in python process {p.pid}... Ctrl-C to quit."
        assert t.wait_for(lambda l: l.split() == ["START", "TIME", "(us)", "DESCRIPTION"]), t.text
        line = t.wait_for(lambda l: l.endswith("gen 2 GC collected 100 objects"))
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert line, t.text
    start, dur = line.split()[:2]
    assert float(start) >= 0 and float(dur) > 0
    assert all("gen 2 " in l for l in t.lines[2:])


def test_ugc_minimum_filters_everything():
    p = _python("import gc, time\nwhile 1:\n gc.collect(); time.sleep(0.05)")
    try:
        t = Tool("ugc", p.pid, "-M", "10000", "-m")
        assert t.wait_for(lambda l: "TIME (ms)" in l) is not None, t.text
        time.sleep(1)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert len(t.lines) == 2, t.text


def test_uobjnew_c_malloc_sizes():
    p = usdt_prog.start("malloc", 4242)
    try:
        t = Tool("uobjnew", "-l", "c", p.pid)
        assert t.lines[0] == f"Tracing allocations in process {p.pid} (language: c)... Ctrl-C to quit."
        time.sleep(1)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert "%-30s %8s %12s" % ("NAME/TYPE", "# ALLOCS", "# BYTES") in t.lines
    row = next(l for l in t.lines if l.startswith("block size 4242 "))
    n, total = map(int, row[30:].split())
    assert n >= 10 and total == 4242 * n


def test_uobjnew_ruby_types_top_count():
    p = _ruby("class CorebpfThing; end\nloop { 50.times { CorebpfThing.new; 'x' * 10 }; sleep 0.05 }")
    try:
        time.sleep(0.8)
        t = Tool("uobjnew", "-l", "ruby", p.pid, "1", "-C", "2")
        assert t.wait_for(lambda l: l.startswith("CorebpfThing "), 10), t.text
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert _max_rows(t.lines, "NAME/TYPE") <= 2, t.text
    row = next(l for l in t.lines if l.startswith("CorebpfThing "))
    assert int(row[30:].split()[0]) >= 50 and int(row[30:].split()[1]) == 0


def test_uthreads_pthread_start_routine():
    p = usdt_prog.start("threads")
    try:
        t = Tool("uthreads", p.pid)
        assert t.lines[0] == f"Tracing thread events in process {p.pid} (language: none)... Ctrl-C to quit."
        assert t.wait_for(lambda l: l.split() == ["TIME", "ID", "TYPE", "DESCRIPTION"])
        line = t.wait_for(lambda l: "corebpf_worker [usdt_target]" in l)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert line, t.text
    f = line.split()
    assert f[2] == "pthread" and int(f[1]) > p.pid


def test_uthreads_python_threads():
    p = _python("import threading, time\nwhile 1:\n"
                " t = threading.Thread(target=time.sleep, args=(0.01,)); t.start(); t.join();"
                " time.sleep(0.1)")
    try:
        t = Tool("uthreads", "-l", "none", p.pid)
        line = t.wait_for(lambda l: " pthread " in l)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert line and line.rstrip().endswith(f"[{distro.PYTHON_NAME}]"), t.text


def test_uthreads_bad_pid():
    rc, out, err = run_tool("uthreads", "4194006")
    assert rc == 2 and err.strip() == "uthreads: error: argument pid: no such process: 4194006"


def test_ucalls_ruby_cmethods_detected_language():
    p = _ruby("loop { [3, 1, 2].sort; sleep 0.05 }")
    try:
        time.sleep(0.8)
        t = Tool("ucalls", p.pid)
        assert t.lines[0] == f"Tracing calls in process {p.pid} (language: ruby)... Ctrl-C to quit."
        time.sleep(1)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    row = next((l for l in t.lines if l.startswith("Array.sort ")), None)
    assert row and int(row.split()[-1]) >= 5, t.text


def test_json_ucalls_python(py_calls):
    _need_function_probes()
    p, name = py_calls
    t = Tool("ucalls", "--json", "-l", "python", "-S", p.pid, ready="stderr")
    time.sleep(1.5)
    assert t.stop() == 0
    (o,) = json_objects(t, "ucalls")                # one summary at exit
    rows = {r["method"]: r for r in o["rows"]}
    assert rows[f"<string>.{name}"]["kind"] == "method", o
    assert rows[f"<string>.{name}"]["calls"] >= 100 and "total_ns" not in rows[f"<string>.{name}"]
    sleeps = [r for m, r in rows.items() if m in ("clock_nanosleep", "select")]
    assert sleeps and sleeps[0]["kind"] == "syscall" and sleeps[0]["calls"] >= 1, o


def test_json_uflow_python(py_calls):
    _need_function_probes()
    p, name = py_calls
    d, _ = run_json("uflow", ["-l", "python", "-M", name[:12], p.pid], lambda: None,
                    lambda d: d["method"] == name)
    assert (d["pid"], d["tid"], d["entry"], d["class_name"]) == (p.pid, p.pid, False, "<string>")
    assert d["depth"] >= 0            # returns whose entry did not fire (3.11) are at 0


def test_json_ugc_python():
    p = _python("import gc, time\nwhile 1:\n x = [[] for i in range(100)]\n"
                " for a in x: a.append(a)\n del x; gc.collect(); time.sleep(0.1)")
    try:
        d, objs = run_json("ugc", ["-l", "python", p.pid, "-F", "gen 2"], lambda: None,
                           lambda d: d["description"] == "gen 2 GC collected 100 objects")
    finally:
        p.kill()
        p.wait()
    assert d["elapsed_ns"] > 0 and all("gen 2 " in o["description"] for o in objs)


def test_json_uobjnew_c():
    p = usdt_prog.start("malloc", 4242)
    try:
        t = Tool("uobjnew", "--json", "-l", "c", p.pid, ready="stderr")
        time.sleep(1)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    (o,) = json_objects(t, "uobjnew")
    row = next(r for r in o["rows"] if r.get("size") == 4242)
    assert "type" not in row and row["allocs"] >= 10 and row["total_bytes"] == 4242 * row["allocs"]


def test_json_uthreads_pthread():
    p = usdt_prog.start("threads")
    try:
        d, _ = run_json("uthreads", [p.pid], lambda: None, lambda d: d["type"] == "pthread")
    finally:
        p.kill()
        p.wait()
    assert d["tid"] > p.pid and d["routine"] == "corebpf_worker [usdt_target]"
    assert int(d["routine_addr"], 16) > 0 and "name" not in d and "runtime_id" not in d
