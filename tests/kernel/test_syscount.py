"""syscount on the real kernel: counts the syscalls of processes this test
starts (by PID, --exec, or parent), with and without latency."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

GETPPIDS = "import os\nfor _ in range(5000): os.getppid()"


def rows(text):
    """{key: [numbers]} of the table rows in the output."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\s+(\d+)(?:\s+([\d.]+))?$", line)
        if m and not line.startswith(("SYSCALL", "PID ", "Tracing", "[")):
            out.setdefault(m.group(1).strip(), []).append(
                (int(m.group(2)), float(m.group(3)) if m.group(3) else None))
    return out


def test_exec_counts_and_latency():
    rc, out, err = run_tool("syscount", "-L", "--exec", sys.executable, "-c", GETPPIDS)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing syscalls, printing top 10... Ctrl+C to quit."
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\]", lines[1])
    assert lines[2].split() == ["SYSCALL", "COUNT", "TIME", "(us)"]
    assert lines[-1] == "Detaching..."
    (count, us), = rows(out)["getppid"]
    assert count == 5000 and us > 0


def test_pid_filter_and_ctrl_c():
    # the child waits for a byte on stdin, so it starts its loop once attached
    code = "import sys\nsys.stdin.read(1)\n" + GETPPIDS + "\nprint('done', flush=True)\n" \
           "sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        t = Tool("syscount", "-p", child.pid, "-m", "-L")
        child.stdin.write(b"x")
        child.stdin.flush()
        assert child.stdout.readline() == b"done\n"
        assert t.stop() == 0
    finally:
        child.kill()
        child.wait()
    assert "TIME (ms)" in t.text and t.lines[-1] == "Detaching..."
    assert rows(t.text)["getppid"][0][0] == 5000, t.text


def test_failures_errno_and_syscall_filter():
    code = "import os\nfor i in range(300):\n    try: os.open('/nonexistent/corebpf', 0)\n" \
           "    except OSError: pass\nfor _ in range(50): os.getppid()"
    rc, out, err = run_tool("syscount", "-x", "--exec", sys.executable, "-c", code)
    assert rc == 0, err
    assert out.splitlines()[0] == "Tracing failed syscalls, printing top 10... Ctrl+C to quit."
    r = rows(out)
    assert r["openat"][0][0] >= 300 and "getppid" not in r
    rc, out, err = run_tool("syscount", "-e", "ENOENT", "--exec", sys.executable, "-c", code)
    assert rows(out)["openat"][0][0] >= 300
    rc, out, err = run_tool("syscount", "--syscall", "getppid", "--exec", sys.executable, "-c",
                            GETPPIDS)
    assert out.splitlines()[0] == "Tracing syscall 'getppid'... Ctrl+C to quit."
    assert list(rows(out)) == ["getppid"] and rows(out)["getppid"][0][0] == 5000


def test_by_process_children_interval_and_duration(tmp_path):
    # the shell starts its python child once the flag file exists (after attach);
    # the python lingers so its name can still be read when the report is printed
    flag = tmp_path / "go"
    code = "import os, time; [os.getppid() for _ in range(5000)]; time.sleep(8)"
    parent = subprocess.Popen(["/bin/sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.05; done; "
                               f"{sys.executable} -c '{code}'"])
    try:
        t = Tool("syscount", "-P", "-c", parent.pid, "-i", "1", "-d", "4")
        flag.touch()
        rc = t.wait(timeout=40)
        out = t.text
    finally:
        parent.kill()
        parent.wait()
    assert rc == 0, t.stderr
    assert len(re.findall(r"^\[\d\d:\d\d:\d\d\]$", out, re.M)) == 4
    assert out.splitlines()[-1] == "Detaching..."
    assert "PID    COMM" in out
    # the shell's python child made >= 5000 syscalls; the shell itself is the
    # parent, not a child, so it is not counted
    counts = {k: sum(n for n, _ in v) for k, v in rows(out).items()}
    assert any(k.split()[1].startswith("python") and n >= 5000 for k, n in counts.items()), out
    assert not any(k.split()[0] == str(parent.pid) for k in counts), out


def test_probe_variants_count_the_same():
    for kind, tag in (("tracepoint", "tp"), ("raw_tp", "raw"), ("tp_btf", "btf")):
        rc, out, err = run_tool("syscount", "--probe", kind, "-v", "--syscall", "getppid",
                                "--exec", sys.executable, "-c", GETPPIDS)
        assert f"using {tag} ({kind}) probes" in err, err
        assert rows(out)["getppid"][0][0] == 5000, (kind, out)


def test_list():
    rc, out, err = run_tool("syscount", "-l")
    assert rc == 0
    lines = out.splitlines()
    assert all(len(l.split()) <= 4 for l in lines)
    names = out.split()
    assert "getppid" in names and "openat" in names and names == sorted(names)


@pytest.mark.parametrize("args,msg", [
    (["--syscall", "nosuchcall"], "syscall 'nosuchcall' not found"),
    (["-e", "EFOO"], "couldn't map EFOO to an errno"),
    (["-p", "999999"], "no such process"),
    (["-T", "0"], "must be positive"),
    (["-p", "1", "--exec", "true"], "can only use -p/-t or --exec"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("syscount", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("args", [["-L"], ["-P"]])
def test_json_exec(args):
    """--json: one object at the end (--exec), every row valid, header on stderr."""
    import json

    import jsonschema
    from tests.helpers import schema
    rc, out, err = run_tool("syscount", "--json", *args, "--exec", sys.executable, "-c",
                            GETPPIDS)
    assert rc == 0, err
    assert err.splitlines()[0] == "Tracing syscalls, printing top 10... Ctrl+C to quit."
    assert err.splitlines()[-1] == "Detaching..."
    objs = [json.loads(l) for l in out.splitlines()]
    for o in objs:
        jsonschema.validate(o, schema("syscount"))
    d, = objs
    if "-L" in args:
        row, = [r for r in d["rows"] if r.get("syscall") == "getppid"]
        assert row["count"] == 5000 and row["total_ns"] > 0
    else:
        assert all("syscall" not in r and "total_ns" not in r for r in d["rows"])
        assert max(r["count"] for r in d["rows"]) >= 5000
        assert all(isinstance(r["pid"], int) and r["comm"] for r in d["rows"])
