"""capable on the real kernel: capability checks made by processes this test
starts (raw sockets need CAP_NET_RAW, chown to another user CAP_CHOWN)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import corebpf
from corebpf import features
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

# Opens N raw ICMP sockets (one CAP_NET_RAW check each) when told to.
RAW = """
import socket, sys
with open("/proc/self/comm", "w") as f:
    f.write("cap-rawsock")
print("ready", flush=True)
n = int(sys.stdin.readline())
socks = [socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) for _ in range(n)]
print("done", flush=True)
"""


def raw_sockets():
    p = subprocess.Popen([sys.executable, "-c", RAW], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def open_sockets(p, n):
    p.stdin.write(f"{n}\n")
    p.stdin.flush()
    assert p.stdout.readline() == "done\n"
    p.wait()


def tracepoint_variant():
    return features.tracepoint_exists("capability", "cap_capable")


def test_net_raw_check_with_extra_columns():
    p = raw_sockets()
    t = Tool("capable", "-v", "-x", "-p", p.pid)
    assert t.lines[0] == "%-9s %-6s %-6s %-6s %-16s %-4s %-20s %-6s %s" % (
        "TIME", "UID", "PID", "TID", "COMM", "CAP", "NAME", "AUDIT", "INSETID")
    open_sockets(p, 1)
    line = t.wait_for(lambda l: "CAP_NET_RAW" in l)
    t.stop()
    assert line is not None, t.text
    audit, insetid = ("N/A", "N/A") if tracepoint_variant() else ("1", "0")
    assert line[10:] == "%-6d %-6d %-6d %-16s %-4d %-20s %-6s %s" % (
        0, p.pid, p.pid, "cap-rawsock", 13, "CAP_NET_RAW", audit, insetid)
    assert all(l.split()[2] == str(p.pid) for l in t.lines[1:])


def test_chown_check_and_default_columns(tmp_path):
    f = tmp_path / "owned"
    f.write_text("")
    t = Tool("capable", "-v")
    assert t.lines[0].split() == ["TIME", "UID", "PID", "COMM", "CAP", "NAME", "AUDIT"]
    c = subprocess.Popen(["chown", "1:1", str(f)])
    c.wait()
    line = t.wait_for(lambda l: l.split()[1:3] == ["0", str(c.pid)] and "CAP_CHOWN" in l)
    t.stop()
    assert line is not None, t.text
    assert line.split()[3:6] == ["chown", "0", "CAP_CHOWN"]


def test_unique_reports_a_capability_once_per_process():
    p = raw_sockets()
    unique = Tool("capable", "-v", "--unique")
    every = Tool("capable", "-v")
    open_sockets(p, 3)
    mine = lambda l: l.split()[2:4] == [str(p.pid), "cap-rawsock"] and "CAP_NET_RAW" in l
    assert unique.wait_for(mine) is not None
    every.wait_for(lambda l: sum(map(mine, every.lines)) >= 3)
    unique.stop()
    every.stop()
    assert sum(map(mine, every.lines)) == 3, every.text
    assert sum(map(mine, unique.lines)) == 1, unique.text


@pytest.mark.skipif(not tracepoint_variant(),
                    reason="no capability:cap_capable tracepoint (corebpf.core.features): "
                           "the kprobe variant filters audited checks itself")
def test_default_mode_says_it_shows_every_check():
    p = raw_sockets()
    t = Tool("capable", "-p", p.pid)
    open_sockets(p, 1)
    assert t.wait_for(lambda l: "CAP_NET_RAW" in l) is not None
    t.stop()
    assert "showing every check (as -v)" in t.stderr


def test_classic_tracepoint_variant():
    p = raw_sockets()
    t = Tool("capable", "-v", "-p", p.pid, "--probe", "tracepoint", "--libbpf-log")
    open_sockets(p, 1)
    line = t.wait_for(lambda l: "CAP_NET_RAW" in l)
    t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None and line.split()[2:4] == [str(p.pid), "cap-rawsock"]


def test_kprobe_variant_passes_the_verifier():
    with corebpf.Object.open("capable", only=["cap__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["cap__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["-p", "999999"], "no such process"),
    (["-p", "x"], "invalid PID"),
    (["--unique", "1"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("capable", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes (corebpf.core.features): "
                    "the refusal cannot be shown here")
def test_forced_kprobe_names_the_missing_feature():
    rc, out, err = run_tool("capable", "--probe", "kprobe")
    assert rc == 1 and out == ""
    assert err == "capable: error: capable: this kernel lacks kprobes (CONFIG_KPROBES)\n"


def _frames(lines, i):
    """The stack lines printed under event line i."""
    out = []
    for l in lines[i + 1:]:
        if not l.startswith("    "):
            break
        out.append(l)
    return out


def test_kernel_and_user_stacks():
    # the process must still be there when its user stack is symbolized
    p = subprocess.Popen([sys.executable, "-c", RAW + "sys.stdin.read()"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    t = Tool("capable", "-v", "-K", "-U", "-p", p.pid)
    p.stdin.write("1\n")
    p.stdin.flush()
    assert p.stdout.readline() == "done\n"
    assert t.wait_for(lambda l: "CAP_NET_RAW" in l)
    assert t.stop() == 0
    p.stdin.close()
    p.wait()
    i = next(n for n, l in enumerate(t.lines) if "CAP_NET_RAW" in l)
    frames = _frames(t.lines, i)
    kernel = [f for f in frames if f.endswith(" [kernel]")]
    user = frames[len(kernel):]
    # kernel first (innermost first, the probe's own frames dropped), then user
    assert kernel and kernel[0].startswith("        cap_capable+0x"), t.text
    assert any(f.strip().startswith("inet_create+0x") for f in kernel), t.text
    assert user and user[0].startswith("        ") and user[0].endswith("[libc.so.6]"), t.text
    assert frames == kernel + user


def test_unique_with_stacks_and_no_stack_lines_without_K():
    p = raw_sockets()
    t = Tool("capable", "-v", "--unique", "-K", "-p", p.pid)
    open_sockets(p, 3)          # three checks from one place: one line
    assert t.wait_for(lambda l: "CAP_NET_RAW" in l)
    assert t.stop() == 0
    rows = [l for l in t.lines if "CAP_NET_RAW" in l]
    assert len(rows) == 1, t.text
    p = raw_sockets()
    t = Tool("capable", "-v", "-p", p.pid)
    open_sockets(p, 1)
    assert t.wait_for(lambda l: "CAP_NET_RAW" in l)
    assert t.stop() == 0
    assert not any(l.startswith("    ") for l in t.lines), t.text


def test_json():
    p = raw_sockets()
    t = Tool("capable", "--json", "-v", "-p", p.pid, ready="stderr")
    open_sockets(p, 1)
    line = t.wait_for(json_match(lambda d: d["name"] == "CAP_NET_RAW"))
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    d = next(o for o in json_objects(t, "capable") if o["name"] == "CAP_NET_RAW")
    audit = None if tracepoint_variant() else 1
    assert (d["uid"], d["pid"], d["tid"], d["comm"], d["cap"], d["audit"]) == (
        0, p.pid, p.pid, "cap-rawsock", 13, audit)


def test_json_with_stacks():
    # the process stays until its user stack is symbolized (its mappings are read then)
    p = subprocess.Popen([sys.executable, "-c", RAW + "sys.stdin.readline()\n"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        t = Tool("capable", "--json", "-v", "-K", "-U", "-p", p.pid, ready="stderr")
        p.stdin.write("1\n")
        p.stdin.flush()
        assert p.stdout.readline() == "done\n"
        line = t.wait_for(json_match(lambda d: d["name"] == "CAP_NET_RAW"))
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert line is not None, (t.text, t.stderr)
    d = next(o for o in json_objects(t, "capable") if o["name"] == "CAP_NET_RAW")
    ksyms = [f["symbol"] for f in d["kernel_stack"]]
    assert any(s and "sock_create" in s for s in ksyms), d["kernel_stack"]
    assert all(f["module"] == "kernel" for f in d["kernel_stack"] if f["symbol"])
    # the user stack: socket() in libc, called from the Python interpreter
    assert any(f["symbol"] == "socket" and "libc" in (f["module"] or "")
               for f in d["user_stack"]), d["user_stack"]
