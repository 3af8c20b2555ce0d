"""trace, argdist, funccount, funclatency and stackcount on user-space code:
uprobes/uretprobes on libc and test binaries, USDT probes whose arguments the
generated programs compute themselves, user stacks and symbols.  Every test
causes a known number of calls in a process of its own and asserts the lines
that prove them."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from tests import distro, usdt_prog
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

N = 7                   # calls per burst
SIZE = 40000            # malloc size of a burst: bcc slot 32768 -> 65535
PYTHON = distro.PYTHON


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()


class Burst(usdt_prog.Burst):
    def __init__(self, marker=None):
        super().__init__(N, SIZE, marker)


@pytest.fixture
def burst():
    b = Burst()
    yield b
    b.close()


def _summary(t, timeout=30):
    """Stop an interval tool once its work is done; its lines."""
    time.sleep(0.5)
    assert t.stop() == 0, t.stderr
    return t.lines


# -- funccount ----------------------------------------------------------------------------------

def test_funccount_libc_malloc_counts_only_the_pid(burst):
    other = Burst()
    try:
        t = Tool("funccount", "-p", burst.pid, "c:malloc")
        assert t.lines[0] == 'Tracing 1 functions for "c:malloc"... Hit Ctrl-C to end.'
        burst.go()
        other.go()                        # same binary, same libc: filtered out
        lines = _summary(t)
    finally:
        other.close()
    assert "%-36s %8d" % ("malloc", N) in lines, "\n".join(lines)
    assert lines[-1] == "Detaching..."


def test_funccount_libc_wildcard(burst):
    t = Tool("funccount", "-p", burst.pid, "c:mem*")
    m = re.fullmatch(r'Tracing (\d+) functions for "c:mem\*"\.\.\. Hit Ctrl-C to end\.',
                     t.lines[0])
    assert m and int(m.group(1)) > 5, t.lines[0]
    burst.go()
    lines = _summary(t)
    assert "%-36s %8d" % ("memccpy", N) in lines, "\n".join(lines)
    rows = lines[lines.index("FUNC                                    COUNT") + 1:-1]
    counts = [int(r.split()[-1]) for r in rows]
    assert counts == sorted(counts) and all(r.split()[0].startswith("mem") for r in rows)
    assert "Traceback" not in t.stderr


def test_funccount_usdt_probe_pattern(burst):
    t = Tool("funccount", "-p", burst.pid, f"u:{burst.path}:bur*")
    assert t.lines[0] == f'Tracing 1 functions for "u:{burst.path}:bur*"... ' \
                         'Hit Ctrl-C to end.'
    burst.go()
    burst.go()
    assert "%-36s %8d" % ("burst", 2 * N) in _summary(t)


def test_funccount_usdt_with_semaphore_in_python():
    """Python's gc__start has a semaphore: Python only fires the probe
    while the kernel holds the semaphore up for the attached uprobe."""
    code = ("import gc, sys\ngc.disable()\nsys.stdin.readline()\n"
            "for _ in range(5): gc.collect()\nprint('done', flush=True)\nsys.stdin.readline()\n")
    child = subprocess.Popen([PYTHON, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        t = Tool("funccount", "-p", child.pid, f"u:{PYTHON}:gc__*")
        assert t.lines[0].startswith("Tracing 2 functions for ")
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"done\n"
        lines = _summary(t)
    finally:
        child.kill()
        child.wait()
    assert "%-36s %8d" % ("gc__start", 5) in lines, "\n".join(lines)
    assert "%-36s %8d" % ("gc__done", 5) in lines


# -- argdist ------------------------------------------------------------------------------------

def test_argdist_histogram_of_malloc_sizes(burst):
    t = Tool("argdist", "-p", burst.pid, "-i", "1",
             "-H", "p:c:malloc(size_t size):size_t:size", ready=False)
    t.wait_for(lambda l: l.startswith("["), timeout=30)       # first interval: attached
    burst.go()
    t.wait_for(lambda l: "32768 -> 65535" in l, timeout=15)
    assert t.stop() == 0, t.stderr
    assert "     size                : count     distribution" in t.lines
    row = next(l for l in t.lines if l.strip().startswith("32768 -> 65535"))
    assert row.split(":")[1].split()[0] == str(N), t.text


def test_argdist_entry_retval_and_latency(burst):
    nap = f"{burst.path}:corebpf_nap(long ms)"
    t = Tool("argdist", "-p", burst.pid, "-i", "1", "-C",
             f"r:{nap}:long,int:$entry(ms),$retval",
             "-H", f"r:{nap}:u64:$latency/$entry(ms):$entry(ms)==2#ns per ms", ready=False)
    t.wait_for(lambda l: l.startswith("["), timeout=30)
    burst.go()
    t.wait_for(lambda l: "ms = 1, $retval = 1" in l, timeout=15)
    assert t.stop() == 0, t.stderr
    assert "\t%-10s %s" % (N, "ms = 2, $retval = 2") in t.lines, t.text
    assert "\t%-10s %s" % (N, "ms = 1, $retval = 1") in t.lines      # from corebpf_recurse
    assert "     ns per ms           : count     distribution" in t.lines
    rows = [l for l in t.lines if "->" in l and int(l.split(":")[1].split()[0])]
    # a 2 ms nap lasts at least 2 ms: >= 1,000,000 ns per ms
    assert rows and all(int(r.split()[0]) >= 524288 for r in rows), t.text
    assert sum(int(r.split(":")[1].split()[0]) for r in rows) == N


def test_argdist_usdt_arguments_as_keys(burst):
    t = Tool("argdist", "-p", burst.pid, "-i", "1", "-C",
             f"u:{burst.path}:burst():short,char*:arg4,arg5:arg1 > 5", ready=False)
    t.wait_for(lambda l: l.startswith("["), timeout=30)
    burst.go()
    t.wait_for(lambda l: burst.marker in l, timeout=15)
    time.sleep(1.2)
    assert t.stop() == 0, t.stderr
    for i in (6, 7):
        assert "\t%-10s %s" % (1, f"arg4 = {-3 * i}, arg5 = {burst.marker}") in t.lines, t.text
    assert not any(f"arg4 = {-3 * 5}," in l for l in t.lines)


def test_json_argdist_counts_and_histogram(burst):
    """-C rows carry the expressions' typed values (short, char*), -H rows a
    histogram; one object per interval, counts of that interval."""
    t = Tool("argdist", "--json", "-p", burst.pid, "-i", "1",
             "-C", f"u:{burst.path}:burst():short,char*:arg4,arg5:arg1 > 5",
             "-H", "p:c:malloc(size_t size):size_t:size", ready=False)
    t.wait_for(lambda l: l.startswith("{"), timeout=30)       # first interval: attached
    burst.go()
    assert t.wait_for(json_match(lambda d: any(r.get("count") for r in d["rows"])), 15), t.text
    assert t.stop() == 0, t.stderr
    objs = json_objects(t, "argdist")
    counts = [r for o in objs for r in o["rows"] if r["probe"] == 0]
    assert sorted(r["values"] for r in counts) == [[-21, burst.marker], [-18, burst.marker]]
    assert all(r["count"] == 1 and r["exprs"] == ["arg4", "arg5"] for r in counts), counts
    hists = [r for o in objs for r in o["rows"] if r["probe"] == 1]
    assert len(hists) == len(objs) and all(r["label"] == "size" for r in hists)
    n = sum(b["count"] for r in hists for b in r["buckets"] if b["low"] == 32768)
    assert n == N, hists


# -- trace --------------------------------------------------------------------------------------

def test_trace_usdt_arguments_of_every_operand_kind(burst):
    """corebpf:burst's arguments are registers, stack memory, a global (gcc:
    relative to the instruction pointer), a constant and the semaphore."""
    t = Tool("trace", "-p", burst.pid,
             f'u:{burst.path}:burst "%d %ld %d %hd %s %u %d %u", '
             "arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8")
    assert t.lines[0].split() == ["PID", "TID", "COMM", "FUNC", "-"]
    burst.go()
    assert t.wait_for(lambda l: l.split()[4:5] == [str(N)]) is not None, t.text
    assert t.stop() == 0
    rows = [l.split() for l in t.lines[1:]]
    assert len(rows) == N
    base = int(rows[0][6]) - 1              # corebpf_counter before the burst
    for i, r in enumerate(rows, 1):
        assert r[:4] == [str(burst.pid), str(burst.pid), "usdt_target", "burst"]
        # semaphore 1: the kernel counted it up while the probe is attached
        assert r[4:] == [str(i), str(-i), str(base + i), str(-3 * i), burst.marker,
                         str(250 + i % 5), "7", "1"], r


def test_json_trace_usdt_values_and_user_stack(burst):
    """One object per hit: typed values of the format (numbers, strings), the
    message as bcc prints it, the user stack as frames."""
    t = Tool("trace", "--json", "-U", "-p", burst.pid,
             f'u:{burst.path}:burst "%d %s", arg1, arg5', ready="stderr")
    burst.go()
    assert t.wait_for(json_match(lambda d: d["values"][0] == N), 10), t.text
    assert t.stop() == 0
    assert t.stderr.split() == ["PID", "TID", "COMM", "FUNC", "-"]
    objs = json_objects(t, "trace")
    assert [o["values"] for o in objs] == [[i, burst.marker] for i in range(1, N + 1)], objs
    for o in objs:
        assert (o["pid"], o["tid"], o["comm"], o["func"], o["probe"]) == \
            (burst.pid, burst.pid, "usdt_target", "burst", 0)
        assert o["message"] == f"{o['values'][0]} {burst.marker}" and o["ts_ns"] > 0
        assert o["user_stack"] and o["user_stack"][-1]["module"] is not None
        assert any(f["symbol"] == "main" and f["module"].endswith("usdt_target")
                   for f in o["user_stack"]), o["user_stack"]


def test_trace_uprobe_uretprobe_and_user_symbols():
    """%U prints the start routine passed to pthread_create as a symbol of
    the test binary; the uretprobe sees the routine's return value."""
    child = usdt_prog.start("threads")
    try:
        t = Tool("trace", "-p", child.pid, "-M", "4",
                 'p:c:pthread_create "%U", arg3',
                 f'r:{usdt_prog.usdt_target()}:corebpf_worker "ret=%d", retval')
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    rows = [l.split(None, 4) for l in t.lines[1:]]
    assert len(rows) == 4
    creates = [r for r in rows if r[3] == "pthread_create"]
    returns = [r for r in rows if r[3] == "corebpf_worker"]
    assert creates and returns
    assert all(r[4] == "corebpf_worker+0x0 [usdt_target]" for r in creates), t.text
    assert all(r[4] == "ret=0" and r[1] != str(child.pid) for r in returns), t.text


def test_trace_user_stack_of_a_frame_pointer_program(stackprog):
    exe = str(stackprog["pie"])
    child = subprocess.Popen([exe, "nap", "20"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().startswith(b"ready")
        t = Tool("trace", "-U", "-a", "-M", "1", "-p", child.pid,
                 f'p:{exe}:nap_helper "%d ms", arg1')
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    assert t.lines[1].split()[3:] == ["nap_helper", "100", "ms"]
    frames = [l.split(None, 1) for l in t.lines[2:] if l.startswith("        ")]
    assert frames[0][1] == "nap_helper+0x0 [stackprog]", t.text
    assert any(re.fullmatch(r"main\+0x[0-9a-f]+ \[stackprog\]", f[1]) for f in frames)
    assert all(re.fullmatch(r"[0-9a-f]+", f[0]) for f in frames)       # -a: addresses


def test_trace_kernel_and_user_stacks_on_a_tracepoint(stackprog):
    exe = str(stackprog["nopie"])
    child = subprocess.Popen([exe, "nap", "20"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().startswith(b"ready")
        t = Tool("trace", "-K", "-U", "-M", "1", "-p", child.pid,
                 "t:syscalls:sys_enter_clock_nanosleep")
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    block = t.lines[2:]
    names = [l.strip() for l in block]
    k = next(i for i, n in enumerate(names) if n.startswith("do_syscall_64+0x"))
    u = next(i for i, n in enumerate(names) if n.startswith("corebpf_nap_marker+0x"))
    assert k < u and names[k].endswith(" [kernel]") and names[u].endswith(" [stackprog]")
    assert "" not in names[:u], t.text        # kernel and user frames: one block


def test_trace_build_id_stacks_through_symbol_files(stackprog):
    exe = str(stackprog["pie"])
    child = subprocess.Popen([exe, "nap", "20"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().startswith(b"ready")
        t = Tool("trace", "-s", exe, "-U", "-M", "1", "-p", child.pid, f"p:{exe}:nap_helper")
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    assert t.lines[0] == "Note: Kernel bpf will report stack map with ip/build_id"
    frames = [l.strip() for l in t.lines[3:] if l.startswith("        ")]
    assert frames[0] == "nap_helper+0x0 [stackprog]", t.text
    assert any(f.startswith("main+0x") and f.endswith(" [stackprog]") for f in frames)
    assert "[unknown]" in frames          # libc: not in the -s list


@pytest.fixture
def cgroup2():
    """A fresh cgroup v2 directory, in a cgroup2 mount of the test's own
    (the one hierarchy, wherever the system mounts it, if it does)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    mnt = tempfile.mkdtemp(prefix="corebpf-cg2-")
    if libc.mount(b"cgroup2", mnt.encode(), b"cgroup2", 0, None) != 0:
        os.rmdir(mnt)
        raise OSError(ctypes.get_errno(), "mount -t cgroup2")
    cg = os.path.join(mnt, "corebpf_trace_" + uuid.uuid4().hex[:8])
    os.mkdir(cg)
    try:
        yield cg
    finally:
        os.rmdir(cg)
        libc.umount2(mnt.encode(), 0)
        os.rmdir(mnt)


def test_trace_cgroup_filter(cgroup2):
    cg = cgroup2
    code = "import os, sys\nsys.stdin.readline()\nfor _ in range(3): os.getppid()\n"
    inside = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    outside = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(inside.pid))
        t = Tool("trace", "-c", cg, 't:syscalls:sys_enter_getppid "%d", $tgid')
        for p in (outside, inside):
            p.stdin.write(b"go\n")
            p.stdin.flush()
            p.wait(20)
        t.wait_for(lambda l: len([x for x in t.lines[1:] if x.strip()]) >= 3, timeout=15)
        time.sleep(0.5)
        assert t.stop() == 0
    finally:
        for p in (inside, outside):
            p.kill()
            p.wait()
    rows = [l.split() for l in t.lines[1:] if l.strip()]
    assert rows == [[str(inside.pid), str(inside.pid), "python3", "sys_enter_getppid",
                     str(inside.pid)]] * 3, t.text


def test_trace_cgroup_v1_directory_is_one_line():
    code, out, err = run_tool("trace", "-c", "/proc", "t:syscalls:sys_enter_getppid")
    assert code == 2 and err.strip().splitlines() == [
        "trace: error: cgroup /proc: not a cgroup v2 directory (Bad file descriptor)"], err


# -- stackcount ---------------------------------------------------------------------------------

def test_stackcount_user_stacks_of_a_user_function(stackprog):
    exe = str(stackprog["pie"])
    child = subprocess.Popen([exe, "nap", "20"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().startswith(b"ready")
        t = Tool("stackcount", "-U", "-p", child.pid, f"{exe}:nap_helper")
        assert t.lines[0] == f'Tracing 1 functions for "{exe}:nap_helper"... ' \
                             'Hit Ctrl-C to end.'
        time.sleep(1.5)                          # ~15 calls, 100 ms apart
        assert t.stop() == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    i = t.lines.index("  nap_helper")
    j = next(j for j in range(i, len(t.lines)) if t.lines[j].strip().isdigit())
    assert "  main" in t.lines[i:j], t.text
    assert int(t.lines[j]) >= 5 and t.lines[j] == "    " + t.lines[j].strip()
    assert t.lines[-1] == "Detaching..."


def test_stackcount_kernel_and_user_stacks_by_default(stackprog):
    exe = str(stackprog["nopie"])
    child = subprocess.Popen([exe, "nap", "20"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().startswith(b"ready")
        t = Tool("stackcount", "-d", "-P", "t:syscalls:sys_enter_clock_nanosleep")
        time.sleep(1.5)
        assert t.stop() == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    proc = "    stackprog [%d]" % child.pid
    j = t.lines.index(proc)
    start = max(i for i in range(j) if t.lines[i].strip().isdigit() or
                t.lines[i].startswith("Tracing")) + 1
    block = t.lines[start:j]
    assert "  do_syscall_64" in block and "    --" in block and "  corebpf_nap_marker" in block
    assert block.index("  do_syscall_64") < block.index("    --") < \
        block.index("  corebpf_nap_marker"), t.text
    assert int(t.lines[j + 1].strip()) >= 5


def test_stackcount_usdt_folded(burst):
    t = Tool("stackcount", "-f", "-p", burst.pid, f"u:{burst.path}:burst", ready=False)
    time.sleep(3)                                # -f prints no header
    burst.go()
    assert t.stop() == 0, t.stderr
    line = next(l for l in t.lines if l.startswith("usdt_target;"))
    stack, count = line.rsplit(" ", 1)
    assert count == str(N) and stack.split(";")[-1] == "main", line


# -- funclatency --------------------------------------------------------------------------------

def test_funclatency_user_function_per_function_and_pid(burst):
    t = Tool("funclatency", "-u", "-F", "-p", burst.pid, f"{burst.path}:corebpf_nap")
    assert t.lines[0] == f'Tracing 1 functions for "{burst.path}:corebpf_nap"... ' \
                         'Hit Ctrl-C to end.'
    burst.go()
    lines = _summary(t)
    assert f"Function = corebpf_nap [{burst.pid}]" in lines, "\n".join(lines)
    assert "     usecs               : count     distribution" in lines
    rows = [l for l in lines if "->" in l and int(l.split(":")[1].split()[0])]
    # N naps of 2 ms and N of 1 ms (from corebpf_recurse): >= 512 us each
    assert rows and all(int(r.split()[0]) >= 512 for r in rows), "\n".join(lines)
    avg = next(l for l in lines if l.startswith("avg = "))
    assert avg.endswith(f" usecs, count: {2 * N}") and " usecs, total: " in avg
    assert lines[-1] == "Detaching..."


@pytest.mark.parametrize("args", [["-u", "-F", "-p"], ["-m", "-p"]])
def test_funclatency_json(burst, args):
    t = Tool("funclatency", "--json", *args, burst.pid, f"{burst.path}:corebpf_nap",
             ready="stderr")
    burst.go()
    _summary(t)
    assert t.stderr.splitlines()[-1] == "Detaching...", t.stderr
    d, = json_objects(t, "funclatency")
    assert d["unit"] == ("usecs" if "-u" in args else "msecs") and d["count"] == 2 * N
    assert d["total_ns"] >= 2 * N * 1_000_000                # naps of 1 and 2 ms
    if "-F" in args:
        h, = d["histograms"]
        assert (h["func"], h["pid"]) == ("corebpf_nap", burst.pid)
        assert all(b["low"] >= 512 for b in h["buckets"] if b["count"])
    else:
        assert all("func" not in h and "pid" not in h for h in d["histograms"])
    assert sum(b["count"] for h in d["histograms"] for b in h["buckets"]) == 2 * N


def test_funclatency_nesting_levels(burst):
    """corebpf_recurse(3) nests 4 calls: -l 4 times each one, -l 2 the outer
    two, and without -l (bcc's per-thread start time) only the innermost."""
    for args, count in ((["-l", "4"], 4 * N), (["-l", "2"], 2 * N), ([], N)):
        t = Tool("funclatency", "-m", "-p", burst.pid, *args, f"{burst.path}:corebpf_recurse")
        burst.go()
        lines = _summary(t)
        assert "     msecs               : count     distribution" in lines
        avg = next(l for l in lines if l.startswith("avg = "))
        assert avg.endswith(f"msecs, count: {count}"), (args, lines)


def test_funclatency_libc_getaddrinfo_sections():
    code = ("import socket, sys\nsys.stdin.readline()\n"
            "for _ in range(3): socket.getaddrinfo('localhost', 80)\n"
            "print('done', flush=True)\nsys.stdin.readline()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        # no -p: bcc keys user functions by function and process
        t = Tool("funclatency", "c:getaddrinfo")
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"done\n"
        lines = _summary(t)
    finally:
        child.kill()
        child.wait()
    head = f"Function = getaddrinfo [{child.pid}]"
    assert head in lines, "\n".join(lines)
    i = lines.index(head)
    assert lines[i + 1] == "     nsecs               : count     distribution"
    end = next((j for j in range(i + 2, len(lines)) if "->" not in lines[j]), len(lines))
    assert sum(int(l.split(":")[1].split()[0]) for l in lines[i + 2:end]) == 3


# -- errors and no compiler ---------------------------------------------------------------------

@pytest.mark.parametrize("tool,args,msg,rc", [
    ("funccount", ["c:corebpf_no_such_function"],
     "No functions matched by pattern ^corebpf_no_such_function$", 2),
    ("funccount", ["corebpf_no_such_lib:malloc"],
     "cannot find library or executable 'corebpf_no_such_lib'", 1),
    ("trace", ["p:c:corebpf_nosuch"], "no function 'corebpf_nosuch' in its symbol tables", 1),
    ("trace", ["u:c:corebpf_nosuch"], "libc.so.6: no USDT probes (no .note.stapsdt notes)", 1),
    ("trace", [f"u:{PYTHON}:corebpf_nosuch"], f"{distro.PYTHON_NAME}: no USDT probe corebpf_nosuch",
     1),
    ("trace", ['p:c:malloc "%d", arg9'], "arg9 is not in a register", 2),
    ("argdist", ["-C", "r:c:malloc(size_t size):size_t:size"],
     "'size' is gone when the function returns: use $entry(size)", 2),
    ("argdist", ["-H", "p:c:malloc(size_t size):u64:$entry(size)"],
     "$latency and $entry() need a return probe (r:)", 2),
    ("argdist", ["-H", "r:c:malloc(size_t size):u64:$entry(n)"],
     "$entry(n): no such parameter in the signature", 2),
    ("funclatency", ["c:corebpf_no_such_function"],
     '0 functions matched by "c:corebpf_no_such_function". Exiting.', 2),
    ("stackcount", [f"u:{PYTHON}:corebpf_no*"],
     "No functions matched by pattern ^corebpf_no.*$", 2),
])
def test_user_probe_errors_are_one_line(tool, args, msg, rc):
    code, out, err = run_tool(tool, *args)
    assert code == rc, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: ") and msg in lines[0], err


def test_user_probe_of_an_exited_pid_is_one_line():
    child = subprocess.Popen(["true"])
    child.wait()
    code, out, err = run_tool("funccount", "-p", child.pid, "u:c:*")
    assert code == 2 and err.strip().splitlines() == [
        f"funccount: error: argument -p/--pid: no such process: {child.pid}"], err


def test_uprobe_one_liner_without_a_compiler(burst):
    empty = tempfile.mkdtemp()
    try:
        assert shutil.which("clang", path=empty) is None and shutil.which("cc", path=empty) is None
        t = Tool("trace", "-p", burst.pid, "-M", str(N),
                 f'r:{burst.path}:corebpf_nap (retval == 2) "%d", retval', env={"PATH": empty})
        burst.go()
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        os.rmdir(empty)
    assert [l.split()[3:] for l in t.lines[1:]] == [["corebpf_nap", "2"]] * N


@pytest.mark.parametrize("multi", [True, False])
def test_uprobe_links_both_ways(burst, monkeypatch, no_leaks, multi):
    """uprobe_multi links where the kernel has them (6.6), perf-event uprobes
    otherwise: both count the same calls and leave nothing behind."""
    from corebpf.compiler import genprog
    from corebpf.compiler.genprog import ARRAY, GenObject
    from corebpf.tools import _multi, funccount
    if multi and not genprog.uprobe_multi():
        pytest.skip("this kernel lacks uprobe_multi links (Linux 6.6)")
    monkeypatch.setattr(genprog, "uprobe_multi", lambda: multi)
    probes = funccount.resolve(f"{burst.path}:corebpf_*", False, burst.pid)
    assert sorted(d for d, _, _ in probes) == ["corebpf_nap", "corebpf_recurse",
                                               "corebpf_worker"]
    with GenObject("both") as g:
        counts = g.create_map("counts", ARRAY, 4, 8, len(probes))
        for name, cg in funccount.build(probes, counts.fd, pid=burst.pid):
            p = _multi.load_and_attach(g, name, cg)
            assert p.expected_attach_type == (genprog.ATTACH_UPROBE_MULTI if multi else 0)
        assert all(len(ln.fds) == (1 if multi else 2) for ln in g.links)
        burst.go()
        got = {probes[i][0]: counts[i] for i in range(len(probes))}
    assert got == {"corebpf_nap": 2 * N, "corebpf_recurse": 4 * N, "corebpf_worker": 0}
