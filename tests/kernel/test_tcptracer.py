"""tcptracer on the real kernel: a connection on 127.0.0.1 between two
sockets of this process shows as connect (C), accept (A) and a close (X)
of each side, with this PID, its comm and the ports; -p keeps other
processes out; -6 -v shows long types and the network namespace (a
namespace of the test's own, tests/netlab.py), -N keeps others out."""
from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from tests.helpers import Tool
from tests.kernel.test_tcpretrans import SINK
from tests.netlab import NetLab
from tests.nethelpers import own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "Tracing TCP established connections. Ctrl-C to end."


def fields(t, port):
    """Rows (split) that name `port` as source or destination port."""
    return [l.split() for l in t.lines[2:] if str(port) in l.split()[-3:]]


@pytest.mark.parametrize("probe", [(), ("--probe", "tracepoint")], ids=["tp_btf", "tracepoint"])
def test_connect_accept_close(probe):
    pid = os.getpid()
    t = Tool("tcptracer", "-t", "-p", str(pid), *probe)
    t.wait_for(lambda line: "PID" in line)
    assert t.lines[:2] == [HEADER, "%-9s%-2s %-6s %-16s %-2s %-16s %-16s %-6s %-6s" % (
        "TIME(s)", "T", "PID", "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT")]
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    cport = c.getsockname()[1]
    s, _ = lst.accept()
    c.close()
    s.close()
    lst.close()
    comm = own_comm()[:16]
    want = [["C", str(pid), comm, "4", "127.0.0.1", "127.0.0.1", str(cport), str(port)],
            ["A", str(pid), comm, "4", "127.0.0.1", "127.0.0.1", str(port), str(cport)],
            ["X", str(pid), comm, "4", "127.0.0.1", "127.0.0.1", str(cport), str(port)],
            ["X", str(pid), comm, "4", "127.0.0.1", "127.0.0.1", str(port), str(cport)]]
    t.wait_for(lambda _: len(fields(t, port)) >= 4)
    assert t.stop() == 0, t.stderr
    rows = fields(t, port)
    assert [r[1:] for r in rows] == want, t.text
    assert float(rows[0][0]) == 0.0 and float(rows[-1][0]) < 30, t.text
    # -p: nothing of other processes
    assert all(l.split()[2] == str(pid) for l in t.lines[2:]), t.text


def test_ipv6_verbose_and_netns():
    with NetLab() as lab:
        srv = lab.python(SINK, lab.peer6)
        port = int(srv.first_line)
        host_ns = os.stat("/proc/self/ns/net").st_ino
        lab_ns = os.stat(f"/run/netns/{lab.ns}").st_ino
        t = Tool("tcptracer", "-6", "-v")
        t_ns = Tool("tcptracer", "-N", str(lab_ns))
        t.wait_for(lambda line: "PID" in line)
        t_ns.wait_for(lambda line: "PID" in line)
        assert t.lines[1] == "%-12s %-6s %-16s %-2s %-16s %-16s %-6s %-7s%-8s" % (
            "TYPE", "PID", "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT", "NETNS")
        c = socket.create_connection((lab.peer6, port))
        cport = c.getsockname()[1]
        c.sendall(b"x" * 100)
        c.close()
        assert srv.stdout.readline().strip() == "100"
        t.wait_for(lambda _: any(r[0] == "accept" for r in fields(t, cport)))
        t_ns.wait_for(lambda _: any(r[0] == "A" for r in fields(t_ns, cport)))
        assert t.stop() == 0 and t_ns.stop() == 0, t.stderr + t_ns.stderr
    comm = own_comm()[:16]
    host6, peer6 = (str(ipaddress.ip_address(a)) for a in (lab.host6, lab.peer6))
    rows = fields(t, cport)
    assert rows[0] == ["connect", str(os.getpid()), comm, "6", f"[{host6}]",
                       f"[{peer6}]", str(cport), str(port), str(host_ns)], t.text
    acc = [r for r in rows if r[0] == "accept"]
    assert len(acc) == 1 and acc[0][3:] == ["6", f"[{peer6}]", f"[{host6}]",
                                            str(port), str(cport), str(lab_ns)], t.text
    # -N: only the namespace's side (its accept; its close when the server exits)
    ns_rows = fields(t_ns, cport)
    assert [r[0] for r in ns_rows][:1] == ["A"], t_ns.text
    assert all(r[6] == str(port) for r in ns_rows), t_ns.text   # SPORT: the server's
