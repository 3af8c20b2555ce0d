"""trace, argdist, funccount, funclatency and stackcount on the real kernel:
programs generated at run time (no compiler), real activity, specific lines."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from corebpf import features
from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]
ME = os.getpid()


def marker(tmp_path, tag="m"):
    # short: trace and argdist read 80 bytes of a string by default, like bcc
    path = f"/tmp/cbpf_{tag}_{uuid.uuid4().hex[:8]}"
    _made.append(path)
    return path


_made = []


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    while _made:
        try:
            os.unlink(_made.pop())
        except OSError:
            pass


def test_funccount_syscall_tracepoints_exact_count(tmp_path):
    path = marker(tmp_path)
    t = Tool("funccount", "-p", ME, "t:syscalls:sys_enter_*open*")
    assert t.lines[0].startswith("Tracing ") and \
        t.lines[0].endswith('functions for "t:syscalls:sys_enter_*open*"... Hit Ctrl-C to end.')
    for _ in range(37):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    assert t.stop() == 0
    assert "FUNC                                    COUNT" in t.lines
    row = next(l for l in t.lines if l.startswith("syscalls:sys_enter_openat "))
    assert row == "%-36s %8d" % ("syscalls:sys_enter_openat", 37)
    assert t.lines[-1] == "Detaching..."


def test_funccount_json(tmp_path):
    path = marker(tmp_path)
    t = Tool("funccount", "--json", "-p", ME, "t:syscalls:sys_enter_openat", ready="stderr")
    for _ in range(37):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    assert t.stop() == 0
    assert t.stderr.splitlines()[-1] == "Detaching..."
    d, = json_objects(t, "funccount")
    assert d["rows"] == [{"func": "syscalls:sys_enter_openat", "count": 37}], d


def test_funccount_duration_and_timestamp(tmp_path):
    code = "import os,sys,time\nsys.stdin.readline()\nfor i in range(5):\n os.getppid()\n" \
           "time.sleep(5)"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        t = Tool("funccount", "-T", "-d", "3", "-p", child.pid, "t:syscalls:sys_enter_getppid")
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        child.kill()
        child.wait()
    lines = t.lines
    assert "%-36s %8d" % ("syscalls:sys_enter_getppid", 5) in lines
    i = lines.index("FUNC                                    COUNT")
    assert len(lines[i - 1]) == 8 and lines[i - 1].count(":") == 2   # -T: HH:MM:SS
    assert lines[-1] == "Detaching..."


def test_trace_openat_filename_filtered_on_comm(tmp_path):
    path = marker(tmp_path, "trace")
    open(path, "w").close()
    t = Tool("trace", 't:syscalls:sys_enter_openat (STRCMP("cat", $comm)) "%s %d", '
                      'args->filename, args->dfd')
    assert t.lines[0].split() == ["PID", "TID", "COMM", "FUNC", "-"]
    p = subprocess.run(["cat", path], capture_output=True)
    assert p.returncode == 0
    line = t.wait_for(lambda l: path in l)
    assert t.stop() == 0
    assert line is not None, t.text
    fields = line.split()
    assert fields[2:] == ["cat", "sys_enter_openat", path, "-100"]   # AT_FDCWD
    assert all(l.split()[2] == "cat" for l in t.lines[1:] if l.strip())


def test_trace_return_value_and_max_events(tmp_path):
    missing = marker(tmp_path, "missing")
    t = Tool("trace", "-M", "2", "-p", ME, "t:syscalls:sys_exit_openat (args->ret < 0) "
             '"ret=%d", args->ret')
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            open(missing)
    assert t.wait(timeout=30) == 0
    rows = [l.split() for l in t.lines[1:]]
    assert [r[3:] for r in rows] == [["sys_exit_openat", "ret=-2"]] * 2
    assert all(int(r[0]) == ME for r in rows)


def test_trace_kernel_stack_and_time_column():
    t = Tool("trace", "-T", "-K", "-M", "1", "-p", ME, "t:syscalls:sys_enter_getppid")
    assert t.lines[0].split()[:2] == ["TIME", "PID"]
    os.getppid()
    assert t.wait(timeout=30) == 0
    assert len(t.lines[1].split()[0]) == 8 and t.lines[1].split()[0].count(":") == 2
    frames = [l.strip() for l in t.lines[2:] if l.startswith("        ")]
    assert any(f.startswith("do_syscall_64+0x") and f.endswith(" [kernel]") for f in frames)


def test_trace_struct_field_through_btf_pointer():
    # $task is a BTF-typed pointer: a field read through the kernel's layout
    t = Tool("trace", "-M", "1", "-p", ME, 't:syscalls:sys_enter_getppid "%d %d", '
                                          '$task->tgid, $task->real_parent->tgid')
    os.getppid()
    assert t.wait(timeout=30) == 0
    assert t.lines[1].split()[-2:] == [str(ME), str(os.getppid())]


def test_argdist_histogram_of_read_sizes(tmp_path):
    path = marker(tmp_path, "read")
    with open(path, "wb") as f:
        f.write(b"x" * 100)
    t = Tool("argdist", "-p", ME, "-i", "1", "-n", "3",
             "-H", "t:syscalls:sys_enter_read():u32:args->count")
    # argdist prints nothing until its first interval: wait for it
    fd = os.open(path, os.O_RDONLY)
    for _ in range(23):
        os.pread(fd, 5000, 0)
        os.read(fd, 5000)
    os.close(fd)
    assert t.wait(timeout=30) == 0
    assert "     args->count         : count     distribution" in t.lines
    rows = [l for l in t.lines if l.strip().startswith("4096 -> 8191")]
    assert any(r.split()[4] == "23" for r in rows), t.text


def test_argdist_count_strings_with_label(tmp_path):
    path = marker(tmp_path, "argdist")
    t = Tool("argdist", "-p", ME, "-i", "1", "-n", "3", "-C",
             "t:syscalls:sys_enter_openat():char*:args->filename:(args->flags & 1) == 0#opens")
    for _ in range(3):
        open(path, "w").close()          # O_WRONLY|O_CREAT|O_TRUNC: filtered out
    for _ in range(4):
        open(path).close()               # O_RDONLY (with O_CLOEXEC)
    assert t.wait(timeout=30) == 0
    assert "opens" in t.lines and "\tCOUNT      EVENT" in t.lines
    assert "\t%-10s %s" % ("4", f"args->filename = {path}") in t.lines, t.text


def test_stackcount_kernel_stacks_of_a_tracepoint():
    t = Tool("stackcount", "-p", ME, "t:syscalls:sys_enter_getppid")
    for _ in range(9):
        os.getppid()
    assert t.stop() == 0
    assert t.lines[0] == 'Tracing 1 functions for "t:syscalls:sys_enter_getppid"... ' \
                         'Hit Ctrl-C to end.'
    i = t.lines.index("  do_syscall_64")
    assert "    9" in t.lines[i:]
    assert t.lines[-1] == "Detaching..."


def test_stackcount_json():
    t = Tool("stackcount", "--json", "-p", ME, "t:syscalls:sys_enter_getppid", ready="stderr")
    for _ in range(9):
        os.getppid()
    assert t.stop() == 0
    assert t.stderr.splitlines()[-1] == "Detaching...", t.stderr
    d, = json_objects(t, "stackcount")
    rows = [r for r in d["rows"]
            if "do_syscall_64" in [f["symbol"] for f in r["kernel_stack"]]]
    assert sum(r["count"] for r in rows) == 9, d
    assert all((r["pid"], r["comm"]) == (ME, "python3") or r["comm"].startswith("pytest")
               for r in rows)
    assert all(isinstance(r["user_stack"], list) for r in rows)


def test_stackcount_folded_per_process():
    t = Tool("stackcount", "-K", "-f", "-P", "-p", ME, "t:syscalls:sys_enter_getppid",
             ready=False)
    import time
    time.sleep(3)
    for _ in range(4):
        os.getppid()
    assert t.stop() == 0
    line = next(l for l in t.lines if "do_syscall_64" in l)
    stack, count = line.rsplit(" ", 1)
    assert count == "4" and stack.split(";")[1] == "entry_SYSCALL_64_after_hwframe"


def test_kernel_function_forms_name_the_missing_feature():
    if features.kprobes() or features.fentry():
        pytest.skip("this kernel has kprobes or fentry: the one-line error does not apply")
    for tool, args in (("funclatency", ["vfs_read"]), ("funccount", ["vfs_read"]),
                       ("trace", ['r::vfs_read "%d", retval']),
                       ("argdist", ["-H", "r::vfs_read():int:$retval"]),
                       ("stackcount", ["vfs_read"])):
        rc, out, err = run_tool(tool, *args)
        assert rc == 1, (tool, err)
        assert err.strip().splitlines() == [
            f"{tool}: error: kernel function probes need kprobes (CONFIG_KPROBES) or fentry "
            "(BPF trampolines); this kernel has neither"]


@pytest.mark.parametrize("tool,args,msg", [
    ("trace", ['t:syscalls:sys_enter_openat "%s", args->nosuch'],
     "has no field 'nosuch' (fields: __syscall_nr, dfd, filename, flags, mode) at column 39"),
    ("trace", ['t:syscalls:sys_enter_openat (args->flags "%d"'], "unmatched '(' at column 29"),
    ("trace", ['t:syscalls:sys_enter_openat "%d %d", args->flags'],
     "the format has 2 conversions but 1 arguments follow"),
    ("trace", ['t:syscalls:sys_enter_openat "%d", args->filename->x'],
     "'args->filename' is not a struct at column 49"),
    ("argdist", ["-C", "t:syscalls:sys_enter_openat():int"], "a type needs an expression"),
    ("argdist", [], "at least one specifier is required"),
    ("funccount", ["a:b:c:d"], "Too many ':'-separated components in pattern a:b:c:d"),
    ("funccount", ["t:nosuchcat:*"], "No functions matched by pattern ^nosuchcat:.*$"),
    ("funclatency", ["a:b:c"], "unrecognized pattern format 'a:b:c'"),
    ("stackcount", ["-K", "-U", "t:sched:sched_switch"], "-K and -U are mutually exclusive"),
    ("trace", ['t:syscalls:sys_enter_openat "%d", $entry(x)'],
     "$entry() is only available in return probes (r:)"),
])
def test_bad_input_is_one_line(tool, args, msg):
    rc, out, err = run_tool(tool, *args)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: ") and msg in lines[0], err
    assert "Traceback" not in err


def test_tools_run_without_a_compiler(tmp_path):
    # (a uprobe one-liner without a compiler: test_multitools_user.py)
    empty = tempfile.mkdtemp()
    env = {"PATH": empty}
    assert shutil.which("clang", path=empty) is None and shutil.which("cc", path=empty) is None
    path = marker(tmp_path, "nocc")
    t = Tool("trace", "-M", "1", "-p", ME, 't:syscalls:sys_enter_openat "%s", args->filename',
             env=env)
    open(path, "w").close()
    assert t.wait(timeout=30) == 0
    assert t.lines[1].split()[-2:] == ["sys_enter_openat", path]


def test_ebpf_prints_instructions():
    rc, out, err = run_tool("trace", "--ebpf", 't:syscalls:sys_enter_openat (args->flags & 1) '
                            '"%s", args->filename')
    assert rc == 0, err
    assert "; probe_0: tracepoint syscalls:sys_enter_openat" in out
    assert "call bpf_probe_read_user_str#114" in out and "call bpf_ringbuf_reserve#131" in out


def test_kernel_function_programs_pass_the_verifier(no_leaks):
    """The kprobe forms cannot fire here, but what they generate must load."""
    from corebpf.compiler.genprog import ARRAY, HASH, RINGBUF, GenObject
    from corebpf.tools import _multi, argdist, funccount, funclatency, stackcount, trace
    with GenObject("verify") as g:
        counts = g.create_map("counts", ARRAY, 4, 8, 2)
        progs = funccount.build([("vfs_read", "p", "vfs_read"), ("vfs_write", "p", "vfs_write")],
                                counts.fd, pid=ME, kernel_kind="kprobe")
        a = funclatency.parse(["-F", "-u", "vfs_read"])
        start = g.create_map("start", HASH, 4, 8, 128)
        hist = g.create_map("hist", HASH, funclatency.HKEY.size, 8, 128)
        stats = g.create_map("stats", ARRAY, 4, 8, 2)
        progs += funclatency.build(["vfs_read", "vfs_write"], start.fd, hist.fd, stats.fd, a,
                                   "kprobe", True)
        al = funclatency.parse(["-l", "3", "vfs_read"])
        nest = g.create_map("nest", HASH, 4, 8 * 4, 128)
        progs += funclatency.build(["vfs_read"], nest.fd, hist.fd, stats.fd, al, "kprobe", False)
        sa = stackcount.parse(["-P", "vfs_read"])
        sc = g.create_map("scounts", HASH, stackcount.KEY.size, 8, 128)
        from corebpf.compiler.genprog import STACK_TRACE
        st = g.create_map("stacks", STACK_TRACE, 4, 8 * _multi.STACK_DEPTH, 128)
        progs += stackcount.build([("vfs_read", "p", "vfs_read")], sc.fd, st.fd, sa, "kprobe")
        ta = trace.parse(["-K", 'p::vfs_open "%s %d", arg1->dentry->d_name.name, '
                               'arg2->f_flags', 'r::vfs_read (retval > 0) "%ld", retval'])
        ev = g.create_map("events", RINGBUF, 0, 0, 1 << 16)
        lost = g.create_map("lost", ARRAY, 4, 8, 1)
        for pr in (trace.Probe(i, t, ta) for i, t in enumerate(ta.probes)):
            progs += [(f"trace_{pr.idx}", cg)
                      for cg in pr.build(g, ev.fd, lost.fd, st.fd, ta, "kprobe")]
        aa = argdist.parse(["-C", "r::vfs_read():u32:$PID:$latency > 1000",
                            "-H", "p::vfs_read(struct file *f, char *buf, size_t n):size_t:n"])
        for i, spec in enumerate(["r::vfs_read():u32:$PID:$latency > 1000"]):
            progs += argdist.Probe(i, spec, False, aa).build(g, aa, "kprobe")
        progs += argdist.Probe(1, "p::vfs_read(struct file *f, char *buf, size_t n):size_t:n",
                               True, aa).build(g, aa, "kprobe")
        for i, (name, cg) in enumerate(progs):
            p = _multi.load_and_attach(g, f"{i}_{name}", cg, attach=False)
            assert p.fd >= 0 and p.kind == "kprobe"
        assert len(g.programs) == len(progs) >= 14
