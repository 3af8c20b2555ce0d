"""tcpaccept on the real kernel: connections this test's listener accepts."""
from __future__ import annotations

import os
import re
import socket

import pytest

import corebpf
from tests.helpers import Tool, run_tool
from tests.nethelpers import Server, connect

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def lport_is(line, port):
    return line.split()[-1:] == [str(port)]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
@pytest.mark.parametrize("addr,ip", [("127.0.0.1", "4"), ("::1", "6")])
def test_accept_line(addr, ip, probe):
    """Default: raw_syscalls (tp_btf) and accept/accept4's numbers; raw_tp the
    same; tracepoint: sys_exit_accept/sys_exit_accept4."""
    with Server(addr) as srv:
        t = Tool("tcpaccept", "-P", srv.port, "-p", os.getpid(), env={"COREBPF_PROBE": probe})
        assert t.lines[0] == "%-7s %-12s %-2s %-16s %-5s %-16s %-5s" % (
            "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT")
        cport, _ = connect(addr, srv.port)
        line = t.wait_for(lambda l: lport_is(l, srv.port))
        assert t.stop() == 0
    assert line is not None, t.text
    pid, comm, ipv, raddr, rport, laddr, lport = line.split()
    # the listener thread accepted it: PID is this process, COMM its thread's
    assert (pid, ipv, raddr, rport, laddr, lport) == (
        str(os.getpid()), ip, addr, str(cport), addr, str(srv.port))


def test_time_columns_and_family_filter():
    with Server("127.0.0.1") as s4, Server("::1") as s6:
        t = Tool("tcpaccept", "-T", "-t", "-6", "-P", f"{s4.port},{s6.port}")
        assert t.lines[0].split()[:3] == ["TIME", "TIME(s)", "PID"]
        connect("127.0.0.1", s4.port)
        connect("::1", s6.port)
        line = t.wait_for(lambda l: lport_is(l, s6.port))
        t.stop()
    assert line is not None, t.text
    assert re.match(r"\d\d:\d\d:\d\d +0\.000 +\d+ ", line), line
    assert not any(lport_is(l, s4.port) for l in t.lines), t.text


def test_only_inet_tcp_sockets_and_port_filter(tmp_path):
    with Server("127.0.0.1") as srv, Server("127.0.0.1") as other:
        t = Tool("tcpaccept", "-p", os.getpid(), "-P", srv.port)
        connect("127.0.0.1", other.port)
        connect("127.0.0.1", srv.port)
        assert t.wait_for(lambda l: lport_is(l, srv.port)) is not None, t.text
        t.stop()
    assert not any(lport_is(l, other.port) for l in t.lines), t.text
    # a unix socket accept() by this process: not an inet socket, not shown
    t = Tool("tcpaccept", "-p", os.getpid())
    path = str(tmp_path / "sock")
    u = socket.socket(socket.AF_UNIX)
    u.bind(path)
    u.listen()
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)
    a, _ = u.accept()
    for s in (a, c, u):
        s.close()
    with Server("127.0.0.1") as srv:
        connect("127.0.0.1", srv.port)
        assert t.wait_for(lambda l: lport_is(l, srv.port)) is not None, t.text
    t.stop()
    assert len(t.lines) == 2, t.text


def test_kprobe_variant_loads():
    with corebpf.Object.open("tcpaccept", only=["accept__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["accept__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["-P", "80,x"], "invalid port: 'x'"),
    (["-p", "0"], "no such process"),
    (["-4", "-6"], "not allowed with argument"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpaccept", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
