"""bcc's examples ported to corebpf (examples/NAME/): each is built here with
`corebpf compile`, run as a user runs it (python3 NAME.py), driven by
activity this test causes, and judged by what it prints."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import corebpf
from corebpf import toolchain
from tests import workloads
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / f"{p.name}.bpf.c").exists())
PROGS = ROOT / "tests" / "progs"


def compile_example(d: Path, name: str):
    """`corebpf compile` examples/NAME/NAME.bpf.c in the copy `d` (once)."""
    src = d / name / f"{name}.bpf.c"
    if not src.with_suffix(".o").exists():
        r = subprocess.run([sys.executable, "-m", "corebpf", "compile", str(src)],
                           capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, f"{name}: {r.stderr}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A copy of examples/; Example() compiles what it runs (a guest of the
    kernel matrix runs a few, and compiles slowly under emulation)."""
    d = tmp_path_factory.mktemp("examples")
    for name in NAMES:
        shutil.copytree(EXAMPLES / name, d / name)
    return d


def test_every_example_compiles(built):
    for name in NAMES:
        compile_example(built, name)
        obj = built / name / f"{name}.bpf.o"
        assert toolchain.check_object(str(obj)) == [], name


class Script(Tool):
    """A Python script run as a user runs it, `python3 SCRIPT ARGS` (Tool's line
    reading, waiting and stopping)."""

    def __init__(self, script, *args, ready=True, timeout=30, env=None):
        self.cmd = [sys.executable, str(script), *map(str, args)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        self.lines = []
        self._buf = b""
        if ready:
            self.wait_ready(timeout)


def Example(built, name, *args, **kw):
    """examples/NAME/NAME.py, from the copy, its object compiled."""
    compile_example(built, name)
    return Script(built / name / f"{name}.py", *args, **kw)


def _forker():
    """A process that calls clone() (glibc's fork) once; returns its PID."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import os\npid = os.fork()\nif pid == 0: os._exit(0)\n"
                          "os.waitpid(pid, 0)"])
    p.wait()
    return p.pid


def _until(t, pred, cause, timeout=20):
    """Cause activity again and again until a line satisfies pred."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cause()
        line = t.wait_for(lambda ln: pred(ln, state), timeout=0.5)
        if line is not None:
            return line, state
    return None, None


def test_there_are_the_ported_examples_with_a_readme_each():
    assert len(NAMES) >= 12
    assert {"hello_world", "hello_fields", "hello_perf_output", "disksnoop", "bitehist",
            "task_switch", "urandomread", "strlen_count", "nodejs_http_server",
            "mysqld_query", "stacksnoop", "vfsreadlat"} <= set(NAMES)
    index = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        text = (EXAMPLES / name / "README.md").read_text()
        assert "bcc" in text and "changed" in text.lower(), name
        assert f"({name}/)" in index, name


@pytest.mark.parametrize("name", NAMES)
def test_examples_use_only_the_public_api(name):
    tree = ast.parse((EXAMPLES / name / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "corebpf" or not a.name.startswith("corebpf")
                       for a in node.names), name
        elif isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("corebpf"), name
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == "corebpf":
            assert node.attr in corebpf.__all__, f"{name}: corebpf.{node.attr} is not public"


def test_hello_world(built):
    t = Example(built, "hello_world", ready=False)
    try:
        line, pid = _until(t, lambda ln, pid: f"-{pid} " in ln and "Hello, World!" in ln,
                           _forker)
    finally:
        t.stop()
    assert line is not None, t.stderr
    assert re.search(r"\[\d+\] .* \d+\.\d+: bpf_trace_printk: Hello, World!$", line), line


def test_hello_fields(built):
    t = Example(built, "hello_fields")
    assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "MESSAGE"]
    try:
        line, pid = _until(t, lambda ln, pid: re.match(rf"^\d+\.\d{{9}} +\S+ +{pid} +Hello, "
                                                       r"World!$", ln), _forker)
    finally:
        assert t.stop() == 0
    assert line is not None, t.stderr


def test_hello_perf_output(built):
    t = Example(built, "hello_perf_output")
    assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "MESSAGE"]
    try:
        line, pid = _until(t, lambda ln, pid: re.match(rf"^\d+\.\d{{9}} +\S+ +{pid} +Hello, "
                                                       r"perf_output!$", ln), _forker)
    finally:
        assert t.stop() == 0
    assert line is not None, t.stderr
    assert re.match(r"^0\.000000000 ", t.lines[1]), t.lines[1]   # times from the first event


def test_disksnoop(built):
    t = Example(built, "disksnoop")
    assert t.lines[0].split() == ["TIME(s)", "T", "BYTES", "LAT(ms)"]
    try:
        with workloads.direct_writer("cbdisksnoop", size=256 << 10, seconds=1.0) as w:
            w.go().wait()
        line = t.wait_for(lambda ln: re.match(r"^\S+ +W +(\d+) ", ln) and
                          int(ln.split()[2]) >= 64 << 10)
    finally:
        assert t.stop() == 0
    assert line is not None, (t.lines, t.stderr)
    for ln in t.lines[1:]:
        assert re.match(r"^\d+\.\d{9} +[RWM]  \d+ +\d+\.\d{2}$", ln), ln


def test_bitehist(built):
    t = Example(built, "bitehist")
    assert t.lines[0] == "Tracing... Hit Ctrl-C to end."
    with workloads.direct_writer("cbbitehist", size=16 << 10, seconds=1.0) as w:
        w.go().wait()
    assert t.stop() == 0, t.stderr
    text = t.text
    assert "log2 histogram\n~~~~~~~~~~~~~~\n     kbytes              : count     distribution" \
        in text, text
    log2 = re.search(r"^ +16 -> 31 +: (\d+) +\|", text, re.M)
    linear = re.search(r"^ +16 +: (\d+) +\|", text, re.M)
    assert "linear histogram" in text and "     kbytes        : count     distribution" in text
    # the writer's 16 KiB writes, each one request: a count in both (plus anyone else's)
    assert log2 and linear, text
    assert int(log2.group(1)) >= 20 and int(linear.group(1)) >= 20, text


def test_task_switch(built):
    t = Example(built, "task_switch", ready=False)
    assert t.wait(60) == 0, t.stderr
    pairs = []
    for ln in t.lines:
        m = re.match(r"^task_switch\[ *(\d+)-> *(\d+)\]=(\d+)$", ln)
        assert m, ln
        pairs.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    # the example sleeps 100 times: it leaves the CPU, and comes back
    me = t.proc.pid
    assert sum(n for prev, _, n in pairs if prev == me) >= 50, pairs
    assert any(nxt == me for _, nxt, _ in pairs), pairs


def test_urandomread(built):
    t = Example(built, "urandomread")
    assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "GOTBITS"]

    try:
        p = subprocess.Popen(["dd", "if=/dev/urandom", "of=/dev/null", "bs=64", "count=3"],
                             stderr=subprocess.DEVNULL)
        p.wait()
        lines = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(lines) < 3:
            t.wait_for(lambda ln: False, timeout=0.5)
            lines = [ln for ln in t.lines if re.match(rf"^\S+ +dd +{p.pid} +\d+$", ln)]
    finally:
        assert t.stop() == 0
    assert [ln.split()[-1] for ln in lines] == ["512"] * 3, (t.lines, t.stderr)


_STRLEN_TARGET = r"""
import ctypes, sys
libc = ctypes.CDLL(None)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(int(sys.argv[2])):
    libc.strlen(sys.argv[1].encode())
print("done", flush=True)
sys.stdin.readline()
"""


def test_strlen_count(built):
    marker = "corebpf-strlen-" + uuid.uuid4().hex[:8]
    target = workloads.Child(_STRLEN_TARGET, marker, 37)
    try:
        t = Example(built, "strlen_count", target.pid)
        assert t.lines[0] == "Tracing strlen()... Hit Ctrl-C to end."
        target.go()
        assert target.proc.stdout.readline().strip() == "done"
        assert t.stop() == 0, t.stderr
    finally:
        target.kill()
    i = t.lines.index("     COUNT STRING")
    # (the process's other strings may hold newlines: only whole lines count here)
    rows = [re.match(r'^ *(\d+) "(.*)"$', ln) for ln in t.lines[i + 1:]]
    counts = {m.group(2): int(m.group(1)) for m in rows if m}
    assert counts.get(marker) == 37, counts
    values = [int(m.group(1)) for m in rows if m]
    assert values == sorted(values)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path_factory.mktemp("http") / "http_usdt_server"
    subprocess.run([cc, "-O1", "-o", str(exe), str(PROGS / "http_usdt_server.c")], check=True)
    p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().split()[1])
    yield p, port
    p.kill()
    p.wait()


def test_nodejs_http_server(built, http_server):
    server, port = http_server
    t = Example(built, "nodejs_http_server", server.pid)
    assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "ARGS"]
    path = "/corebpf/" + uuid.uuid4().hex[:8] + "?q=1"
    try:
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read() \
            == b"ok\n"
        line = t.wait_for(lambda ln: ln.endswith("path:" + path))
    finally:
        assert t.stop() == 0
    assert line is not None, (t.lines, t.stderr)
    assert re.match(rf"^\d+\.\d{{9}} +http_usdt_serve +{server.pid} +path:", line), line


def test_nodejs_http_server_usage_and_errors(built):
    compile_example(built, "nodejs_http_server")
    r = subprocess.run([sys.executable, str(built / "nodejs_http_server" /
                                            "nodejs_http_server.py")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == "USAGE: nodejs_http_server PID\n"
    # a process without the probe: one line
    r = subprocess.run([sys.executable, str(built / "nodejs_http_server" /
                                            "nodejs_http_server.py"), str(os.getpid())],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("nodejs_http_server: error: ") and "USDT" in r.stderr


def test_mysqld_query_on_postgresql(built):
    from tests.kernel.test_db_tools import Postgres
    pg = Postgres()
    try:
        s = pg.session()
        try:
            t = Example(built, "mysqld_query", s.backend)
            assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "QUERY"]
            tag = uuid.uuid4().hex[:8]
            query = f"select 'corebpf-{tag}' as marker;"
            assert s.query(query) == f"corebpf-{tag}"
            line = t.wait_for(lambda ln: ln.endswith(query))
            assert t.stop() == 0
        finally:
            s.close()
    finally:
        pg.stop()
    assert line is not None, (t.lines, t.stderr)
    assert re.match(rf"^\d+\.\d{{9}} +postgres +{s.backend} +select 'corebpf-", line), line


_GETPPID = r"""
import os, sys
print("ready", flush=True)
sys.stdin.readline()
for _ in range(3):
    os.getppid()
print("done", flush=True)
sys.stdin.readline()
"""


def _wait_stacks(t, n, timeout=60):
    """Wait until stacksnoop has printed n stacks (each ends with an empty
    line); the first symbolizes after /proc/kallsyms is read, which takes
    seconds in an emulated guest."""
    t.wait_for(lambda ln: ln == "" and t.lines[1:].count("") >= n, timeout=timeout)


def test_stacksnoop_on_a_tracepoint(built):
    target = workloads.Child(_GETPPID)
    try:
        t = Example(built, "stacksnoop", "-v", "-s", "-p", target.pid,
                    "t:syscalls:sys_enter_getppid")
        assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "CPU", "FUNCTION"]
        target.go()
        assert target.proc.stdout.readline().strip() == "done"
        _wait_stacks(t, 3)
        assert t.stop() == 0, t.stderr
    finally:
        target.kill()
    events = [ln for ln in t.lines[1:] if not ln.startswith("\t") and ln]
    assert len(events) == 3, t.lines
    for ln in events:
        assert re.match(rf"^\d+\.\d{{9}} +\S+ +{target.pid} +\d+ +t:syscalls:sys_enter_getppid$",
                        ln), ln
    frames = [ln[1:] for ln in t.lines if ln.startswith("\t")]
    assert any(re.match(r"^do_syscall_64\+0x[0-9a-f]+$", f) for f in frames), frames


def test_stacksnoop_kernel_function(built):
    """A kernel function needs fentry or kprobes: traced where the kernel has
    either, one line naming both where it has neither (this VM)."""
    f = corebpf.features
    compile_example(built, "stacksnoop")
    r = subprocess.run([sys.executable, str(built / "stacksnoop" / "stacksnoop.py"),
                        "no_such_function_corebpf"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("stacksnoop: error: ")
    if not f.fentry() and not f.kprobes():
        assert "fentry" in r.stderr and "kprobes" in r.stderr, r.stderr
    else:
        assert "no_such_function_corebpf" in r.stderr, r.stderr


_OPENS = r"""
import sys
print("ready", flush=True)
sys.stdin.readline()
for _ in range(3):
    open("/dev/null").close()
print("done", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("kind", ["fentry", "kprobe"])
def test_stacksnoop_traces_a_kernel_function(built, kind):
    """The function named at run time, on the fentry variant and the kprobe one
    (forced with COREBPF_PROBE): the kernel matrix's guests have both."""
    f = corebpf.features
    if not (f.fentry() if kind == "fentry" else f.kprobes()):
        pytest.skip(f"this kernel has no {'fentry (BPF trampolines)' if kind == 'fentry' else 'kprobes'}"
                    " (corebpf.features)")
    func = "do_sys_openat2"
    assert f.kernel_function_exists(func)
    target = workloads.Child(_OPENS)
    try:
        compile_example(built, "stacksnoop")
        t = Script(built / "stacksnoop" / "stacksnoop.py", "-p", target.pid, func,
                   env={"COREBPF_PROBE": kind, "COREBPF_DEBUG": "1"})
        assert t.lines[0].split() == ["TIME(s)", "FUNCTION"]
        target.go()
        assert target.proc.stdout.readline().strip() == "done"
        _wait_stacks(t, 3)
        assert t.stop() == 0, t.stderr
    finally:
        target.kill()
    assert f"stacksnoop: using {kind} ({kind}) probes" in t.stderr, t.stderr
    events = [ln for ln in t.lines[1:] if ln and not ln.startswith("\t")]
    assert len(events) == 3 and all(ln.endswith(" " + func) for ln in events), t.lines
    frames = [ln[1:] for ln in t.lines if ln.startswith("\t")]
    assert "do_syscall_64" in frames, frames


def test_vfsreadlat(built):
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            with open("/proc/self/stat", "rb") as fh:
                fh.read()
            time.sleep(0.001)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        t = Example(built, "vfsreadlat", 1, 2)
        assert t.wait(60) == 0, t.stderr
    finally:
        stop.set()
        th.join()
    assert t.lines[0] == "Tracing... Hit Ctrl-C to end."
    assert t.text.count("     usecs               : count     distribution") == 2, t.text
    counts = [int(m) for m in re.findall(r"^ +\d+ -> \d+ +: (\d+) +\|", t.text, re.M)]
    assert sum(counts) >= 100, t.text


def test_mallocstacks(built, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path / "usdt_target"
    subprocess.run([cc, "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", str(exe),
                    str(PROGS / "usdt_target.c")], check=True)
    target = subprocess.Popen([str(exe), "burst", "20", "4242", "m"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        t = Example(built, "mallocstacks", target.pid)
        assert t.lines[0] == f"Attaching to malloc in pid {target.pid}, Ctrl+C to quit."
        target.stdin.write("go\n")
        target.stdin.flush()
        assert target.stdout.readline().strip() == "done"
        assert t.stop() == 0, t.stderr
    finally:
        target.kill()
        target.wait()
    text = t.text
    block = re.search(r"^84840 bytes allocated at:\n((?:\t.*\n)+)    84840$", text, re.M)
    assert block, text
    frames = [f.strip() for f in block.group(1).splitlines()]
    assert frames[0].startswith("malloc+0x") or frames[0].startswith("__libc_malloc+0x"), frames
    # from the malloc call's entry, frame pointers lead past its caller (the
    # return address is still on the stack, not in a frame) to main's caller
    assert len(frames) >= 2 and any(re.search(r"main\+0x", f) for f in frames[1:]), frames


def test_skeleton_of_an_example_runs_it(built, tmp_path):
    """`corebpf skel` output is a working module: load, attach and read records
    through it."""
    d = built / "hello_perf_output"
    compile_example(built, "hello_perf_output")
    r = subprocess.run([sys.executable, "-m", "corebpf", "skel", str(d / "hello_perf_output.bpf.o"),
                        "-o", str(d / "hello_skel.py")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(d))
    try:
        import hello_skel
    finally:
        sys.path.remove(str(d))
    got = []
    with hello_skel.HelloPerfOutput() as skel:
        skel.load().attach()
        pb = skel.events_buffer(got.append)
        deadline = time.monotonic() + 10
        pid = None
        while time.monotonic() < deadline and not any(e.pid == pid for e in got):
            pid = _forker()
            pb.poll(200)
    assert any(e.pid == pid for e in got), got
    assert set(hello_skel.DataT._fields) == set(got[0]._fields)


def test_the_api_guide_example(tmp_path):
    """docs/API.md's hello.bpf.c and hello.py, as printed there: compiled with
    `corebpf compile`, run, and seeing a file the test opens."""
    text = (ROOT / "docs" / "API.md").read_text()
    for name, lang in (("hello.bpf.c", "c"), ("hello.py", "python")):
        m = re.search(rf"`{re.escape(name)}`[^\n]*:\n\n```{lang}\n(.*?)```", text, re.S)
        assert m, name
        (tmp_path / name).write_text(m.group(1))
    r = subprocess.run([sys.executable, "-m", "corebpf", "compile",
                        str(tmp_path / "hello.bpf.c")], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr, r.stderr
    path = f"/tmp/corebpf-api-{uuid.uuid4().hex[:8]}"
    t = Script(tmp_path / "hello.py", os.getuid())
    assert t.lines[0] == "PID COMM FILE"
    try:
        opener = subprocess.Popen([sys.executable, "-c", f"open({path!r}, 'a').close()"])
        opener.wait()
        line = t.wait_for(lambda ln: ln.endswith(" " + path))
    finally:
        assert t.stop() == 0, t.stderr
        if os.path.exists(path):
            os.unlink(path)
    assert line is not None and line.split()[0] == str(opener.pid), (t.lines, t.stderr)
