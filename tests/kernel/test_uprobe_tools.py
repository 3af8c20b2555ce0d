"""uprobes and USDT through the library, gethostlatency, bashreadline and
tplist against real programs started here."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import pytest

import corebpf
from corebpf.core import umulti
from corebpf.user import uprobes, usdt
from corebpf.symbols.elf import ElfError
from tests import distro, usdt_prog
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()

PYTHON = distro.PYTHON
RESOLVER = ("import socket, sys\nsys.stdin.readline()\n"
            "socket.getaddrinfo('localhost', 80)\nsocket.gethostbyname('localhost')\n")


def _resolver():
    return subprocess.Popen([sys.executable, "-c", RESOLVER], stdin=subprocess.PIPE)


@pytest.mark.usefixtures("no_leaks")
def test_library_uprobe_by_name_pattern_and_pid_filter():
    """Attach by library name + symbol, by pattern, with a PID filter: only
    the chosen process is seen; closing the object leaves no uprobe behind."""
    a, b = _resolver(), _resolver()
    try:
        with corebpf.Object.open("gethostlatency") as obj:
            obj.load()
            links = uprobes.attach_pattern(obj.programs["lookup_entry"], "c",
                                           "gethostbyname*", pid=a.pid)
            assert {ln.target.rsplit(":", 1)[1] for ln in links} >= {"gethostbyname",
                                                                     "gethostbyname2"}
            uprobes.attach(obj.programs["lookup_entry"], "c", "getaddrinfo", pid=a.pid)
            for fn in ("getaddrinfo", "gethostbyname"):
                uprobes.attach(obj.programs["lookup_return"], "c", fn, pid=a.pid, retprobe=True)
            got = []
            rb = obj.ring_buffer("events", got.append)
            for p in (b, a):
                p.stdin.write(b"go\n")
                p.stdin.flush()
                p.wait(20)
            deadline = time.monotonic() + 10
            while len(got) < 2 and time.monotonic() < deadline:
                rb.poll(100)
            assert {e.pid for e in got} == {a.pid}
            assert [e.host for e in got] == ["localhost", "localhost"]
            assert all(e.delta_ns > 0 for e in got)
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


@pytest.mark.usefixtures("no_leaks")
def test_library_errors_are_one_line():
    with corebpf.Object.open("gethostlatency") as obj:
        obj.load()
        prog = obj.programs["lookup_entry"]
        with pytest.raises(ElfError, match=r"^no such binary: /no/such/bin$"):
            uprobes.attach(prog, "/no/such/bin", "main")
        with pytest.raises(ElfError, match=r"no function 'corebpf_missing' in its symbol tables$"):
            uprobes.attach(prog, "c", "corebpf_missing")
        with pytest.raises(ElfError, match=r"^no such process: 4194001$"):
            uprobes.attach(prog, "c", "getpid", pid=4194001)
        with pytest.raises(ElfError, match=r"no function matches 'corebpf_nomatch\*'$"):
            uprobes.attach_pattern(prog, "c", "corebpf_nomatch*")
    with corebpf.Object.open("dbquery") as obj:
        for name in ("dispatch_start", "dispatch_return"):
            obj.programs[name].autoload = False
        obj.load()
        prog = obj.programs["query_start"]
        with pytest.raises(ElfError, match=r"libc.so.6: no USDT probes \(no .note.stapsdt notes\)$"):
            usdt.attach(prog, "x", "query__start", path="c")
        with pytest.raises(ElfError, match=r"no USDT probe postgresql:corebpf_nope$"):
            usdt.attach(prog, "postgresql", "corebpf_nope", path=distro.POSTGRES)
        with pytest.raises(ElfError, match=r"^no such process: 4194001$"):
            usdt.attach(prog, "mysql", "query__start", pid=4194001)


@pytest.mark.usefixtures("no_leaks")
def test_library_usdt_all_processes_and_semaphore():
    """pid=-1: every process running the binary, the semaphore-guarded probe
    fires (the target only emits query__start while its semaphore is set).
    Where the kernel has no BPF cookies (before 5.15) the target (a PIE) can
    be attached in one given process only: one error saying so, then its PID."""
    target = usdt_prog.usdt_target()
    marker = "m" + uuid.uuid4().hex[:8]
    with corebpf.Object.open("dbquery") as obj:
        for name in ("dispatch_start", "dispatch_return"):
            obj.programs[name].autoload = False
        obj.load()
        p = None
        if usdt.needs_pid(usdt.find_probe("mysql", "query__start", path=target)):
            with pytest.raises(corebpf.MissingFeature, match=r"BPF cookies .*: give a PID$"):
                usdt.attach(obj.programs["query_start"], "mysql", "query__start", path=target)
            p = usdt_prog.start("mysql", marker, 1)
        pid = p.pid if p else -1
        link = usdt.attach(obj.programs["query_start"], "mysql", "query__start", path=target,
                           pid=pid)
        usdt.attach(obj.programs["query_done"], "mysql", "query__done", path=target, pid=pid)
        if umulti.available() and not os.environ.get("COREBPF_NO_UPROBE_MULTI"):
            # one uprobe_multi link for every location (detached in parallel at exit)
            with open(f"/proc/self/fdinfo/{link.fd}") as f:
                assert "link_type:\tuprobe_multi" in f.read()
        got = []
        rb = obj.ring_buffer("events", got.append)
        p = p or usdt_prog.start("mysql", marker, 1)
        try:
            deadline = time.monotonic() + 15
            while not any(marker in e.query for e in got) and time.monotonic() < deadline:
                rb.poll(100)
        finally:
            p.kill()
            p.wait()
        hit = next(e for e in got if marker in e.query)
        assert hit.pid == p.pid and hit.query == f"SELECT '{marker}', SLEEP(1)"


def test_gethostlatency_getaddrinfo_of_child():
    child = _resolver()
    try:
        t = Tool("gethostlatency", "-p", child.pid)
        assert t.lines[0].split() == ["TIME", "PID", "COMM", "LATms", "HOST"]
        child.stdin.write(b"go\n")
        child.stdin.flush()
        mine = lambda: [l for l in t.lines if l.split()[1:2] == [str(child.pid)]]
        t.wait_for(lambda l: len(mine()) >= 2)      # getaddrinfo, then gethostbyname
        assert t.stop() == 0
        line = mine()[0]
    finally:
        child.kill()
        child.wait()
    fields = line.split()
    assert fields[2] == os.path.basename(sys.executable)[:15] and fields[4] == "localhost"
    assert float(fields[3]) >= 0
    assert len(mine()) == 2


def test_gethostlatency_all_processes_getent():
    t = Tool("gethostlatency")
    p = subprocess.run(["getent", "ahosts", "localhost"], capture_output=True)
    assert p.returncode == 0
    line = t.wait_for(lambda l: " getent " in l and l.endswith(" localhost"))
    t.stop()
    assert line is not None, t.text


def test_gethostlatency_bad_pid():
    rc, out, err = run_tool("gethostlatency", "-p", "4194002")
    assert rc == 2 and out == ""
    assert err.strip() == "gethostlatency: error: argument -p/--pid: no such process: 4194002"


def test_bashreadline_sees_typed_command():
    from corebpf.symbols.elf import open_elf, resolve_binary
    assert open_elf(resolve_binary("/bin/bash")).symbol("readline") is not None
    marker = "corebpf-readline-" + uuid.uuid4().hex[:8]
    t = Tool("bashreadline")
    assert t.lines[0].split() == ["TIME", "PID", "COMMAND"]
    sh = subprocess.Popen(["script", "-qfc", "bash --norc --noprofile -i", "/dev/null"],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    sh.communicate(f"echo {marker}\nexit\n".encode(), timeout=30)
    line = t.wait_for(lambda l: l.endswith(f"echo {marker}"))
    t.stop()
    assert line is not None, t.text
    assert int(line.split()[1]) > 0


def test_gethostlatency_json():
    child = _resolver()
    try:
        t = Tool("gethostlatency", "--json", "-p", child.pid, ready="stderr")
        child.stdin.write(b"go\n")
        child.stdin.flush()
        seen = []
        t.wait_for(json_match(lambda d: seen.append(d) or len(seen) >= 2))
        assert t.stop() == 0
    finally:
        child.kill()
        child.wait()
    objs = json_objects(t, "gethostlatency")
    assert len(objs) == 2, (t.text, t.stderr)
    for d in objs:
        assert (d["pid"], d["comm"], d["host"]) == (
            child.pid, os.path.basename(sys.executable)[:15], "localhost")
        assert d["latency_ns"] > 0


def test_bashreadline_json():
    marker = "corebpf-readline-" + uuid.uuid4().hex[:8]
    t = Tool("bashreadline", "--json", ready="stderr")
    sh = subprocess.Popen(["script", "-qfc", "bash --norc --noprofile -i", "/dev/null"],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    sh.communicate(f"echo {marker}\nexit\n".encode(), timeout=30)
    line = t.wait_for(json_match(lambda d: marker in d["line"]))
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    d = next(o for o in json_objects(t, "bashreadline") if marker in o["line"])
    assert d["line"] == f"echo {marker}" and d["pid"] > 0


def test_bashreadline_bad_library():
    rc, out, err = run_tool("bashreadline", "-s", "/no/such/libreadline.so")
    assert rc == 1 and err.strip() == "bashreadline: error: no such binary: /no/such/libreadline.so"


def test_tplist_tracepoint_fields():
    rc, out, err = run_tool("tplist", "-v", "sched:sched_switch")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "sched:sched_switch"
    assert "    char prev_comm[16];" in lines and "    pid_t next_pid;" in lines
    assert not any("common_" in l for l in lines)
    rc, out, _ = run_tool("tplist", "sched:sched_*")
    assert rc == 0 and "sched:sched_switch" in out.split() and \
        all(l.startswith("sched:sched_") for l in out.splitlines())


def test_tplist_usdt_of_binary_and_process():
    rc, out, err = run_tool("tplist", "-l", PYTHON)
    assert rc == 0, err
    assert f"{PYTHON} python:gc__start" in out.splitlines()        # 3.11 and 3.13 have it
    rc, out, err = run_tool("tplist", "-vv", "-l", distro.POSTGRES, "postgresql:query__start")
    lines = out.splitlines()
    # the register holding the query pointer is the compiler's choice (bx in 15)
    assert lines[0].startswith("postgresql:query__start [sema 0x") and \
        lines[1].startswith(f"  location #1 {distro.POSTGRES} 0x") and \
        re.fullmatch(r"    argument #1 8 unsigned bytes @ [a-z0-9]+", lines[2]), out
    p = usdt_prog.start("threads")
    try:
        time.sleep(0.3)
        rc, out, err = run_tool("tplist", "-p", p.pid, "-v")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    assert out.splitlines()[:3] == ["mysql:query__done [sema 0x%x]" % next(
        q.semaphore for q in usdt.probes(usdt_prog.usdt_target()) if q.name == "query__done"),
        "  1 location(s)", "  1 argument(s)"]


def test_tplist_pid_without_usdt_prints_nothing():
    """bcc: a process without USDT probes has nothing to list, and that is no error."""
    p = subprocess.Popen(["/bin/sleep", "30"])     # static-probe-free (coreutils, libc)
    try:
        time.sleep(0.2)
        assert not usdt.process_probes(p.pid)
        rc, out, err = run_tool("tplist", "-p", p.pid)
    finally:
        p.kill()
        p.wait()
    assert (rc, out, err) == (0, "", "")


@pytest.mark.parametrize("args, msg", [
    (["-l", "/no/such/binary"], "tplist: error: no such binary: /no/such/binary"),
    (["-l", "c"], "tplist: error: {libc}: no USDT probes (no .note.stapsdt notes)"),
    (["-p", "4194003"], "tplist: error: argument -p/--pid: no such process: 4194003"),
])
def test_tplist_errors(args, msg):
    from corebpf.symbols.elf import resolve_binary
    rc, out, err = run_tool("tplist", *args)
    assert rc != 0 and out == ""
    assert err.strip() == msg.format(libc=resolve_binary("c"))


def test_json_tplist():
    """One object per tracepoint (fields with -v) or USDT probe (every location
    with its argument specs), valid for the schema."""
    t = Tool("tplist", "--json", "-v", "sched:sched_switch", ready=False)
    t.proc.wait(30)
    t.stop()
    (tp,) = json_objects(t, "tplist")
    assert (tp["kind"], tp["name"]) == ("tracepoint", "sched:sched_switch")
    assert "char prev_comm[16]" in tp["fields"] and "pid_t next_pid" in tp["fields"]
    t = Tool("tplist", "--json", "-l", distro.POSTGRES, "postgresql:query__start", ready=False)
    t.proc.wait(30)
    t.stop()
    (p,) = json_objects(t, "tplist")
    assert (p["kind"], p["path"], p["provider"], p["probe"]) == \
        ("usdt", distro.POSTGRES, "postgresql", "query__start")
    assert int(p["semaphore"], 16) > 0 and len(p["locations"]) == len(p["arguments"]) >= 1
    assert re.fullmatch(r"8 unsigned bytes @ [a-z0-9]+", p["arguments"][0][0]), p
