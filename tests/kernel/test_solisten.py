"""solisten on the real kernel: listen() calls this test makes."""
from __future__ import annotations

import os
import socket

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.netlab import NetLab
from tests.nethelpers import own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_listen_lines(probe):
    """Default: raw_syscalls (tp_btf) and listen's number; raw_tp the same;
    tracepoint: sys_enter_listen/sys_exit_listen."""
    t = Tool("solisten", "-p", os.getpid(), env={"COREBPF_PROBE": probe})
    assert t.lines[0] == "%-7s %-12s %-6s %-8s %-5s %-39s" % (
        "PID", "COMM", "PROTO", "BACKLOG", "PORT", "ADDR")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.listen(7)
    v6 = socket.socket(socket.AF_INET6)
    v6.listen(3)                        # not bound: listen() picks the port
    v6port = v6.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(OSError):
        udp.listen(2)                   # not a stream socket: not reported
    a = t.wait_for(lambda l: l.split()[4:5] == [str(port)])
    b = t.wait_for(lambda l: l.split()[4:5] == [str(v6port)])
    t.stop()
    for x in (s, v6, udp):
        x.close()
    assert a == "%-7d %-12.12s %-6s %-8d %-5d %-39s" % (
        os.getpid(), own_comm(), "TCPv4", 7, port, "127.0.0.1"), t.text
    assert b is not None and b.split()[2:] == ["TCPv6", "3", str(v6port), "::"], t.text
    assert len(t.lines) == 3, t.text


def test_show_netns_and_netns_filter():
    here = os.stat("/proc/self/ns/net").st_ino
    with NetLab() as lab:
        srv = lab.python("import socket; s = socket.socket(); s.bind(('0.0.0.0', 0)); "
                         "s.listen(5); print(s.getsockname()[1], flush=True); input()")
        port = int(srv.first_line)
        theirs = os.stat(f"/proc/{srv.pid}/ns/net").st_ino
        # (started after the namespace process listened: nothing from it yet)
        t = Tool("solisten", "--show-netns", "-n", here, "-p", os.getpid())
        only_theirs = Tool("solisten", "--show-netns", "-n", theirs)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        line = t.wait_for(lambda l: l.split()[5:6] == [str(s.getsockname()[1])])
        p = lab.python("import socket; s = socket.socket(); s.bind(('0.0.0.0', 0)); "
                       "s.listen(9); print(s.getsockname()[1], flush=True); input()")
        other = only_theirs.wait_for(lambda l: l.split()[5:6] == [p.first_line])
        t.stop()
        only_theirs.stop()
        s.close()
    assert t.lines[0].split() == ["PID", "COMM", "NETNS", "PROTO", "BACKLOG", "PORT", "ADDR"]
    assert line is not None and line.split()[2:5] == [str(here), "TCPv4", "4"], t.text
    assert other is not None, only_theirs.text
    assert other.split()[2:] == [str(theirs), "TCPv4", "9", p.first_line, "0.0.0.0"]
    assert not any(l.split()[5:6] == [str(port)] for l in t.lines)


def test_kprobe_variant_loads():
    with corebpf.Object.open("solisten", only=["inet_listen__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["inet_listen__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["-n", "-1"], "out of range: -1"),
    (["-n", str(2**32)], "out of range"),
    (["-p", "0"], "no such process"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("solisten", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    ports, socks = [], []

    def act():
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.listen(5)
        socks.append(s)
        ports.append(s.getsockname()[1])
    try:
        d, _ = run_json("solisten", ["-p", os.getpid()], act, lambda d: d["port"] in ports)
    finally:
        for s in socks:
            s.close()
    assert (d["pid"], d["comm"], d["proto"], d["backlog"], d["addr"]) == (
        os.getpid(), own_comm(), "TCPv6", 5, "::1")
    assert d["netns"] == os.stat("/proc/self/ns/net").st_ino
