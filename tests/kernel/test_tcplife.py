"""tcplife on the real kernel: sessions with known byte counts on loopback."""
from __future__ import annotations

import os
import re

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.nethelpers import Server, connect, own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

SENT, REPLY = 200000, 300000


def test_both_ends_of_a_session():
    with Server("127.0.0.1", reply=REPLY) as srv:
        t = Tool("tcplife", "-p", os.getpid())
        assert t.lines[0] == "%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s" % (
            "PID", "COMM", "", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")
        cport, got = connect("127.0.0.1", srv.port, send=SENT, read=True)
        assert got == REPLY
        server = t.wait_for(lambda l: l.split()[3:4] == [str(srv.port)])
        client = t.wait_for(lambda l: l.split()[5:6] == [str(srv.port)])
        assert t.stop() == 0
    assert server is not None and client is not None, t.text
    me, comm = str(os.getpid()), own_comm()[:10]
    s = server.split()
    assert s[:7] == [me, comm, "127.0.0.1", str(srv.port), "127.0.0.1", str(cport),
                     str(REPLY // 1024)] and s[7] == str(SENT // 1024), server
    c = client.split()
    assert c[:8] == [me, comm, "127.0.0.1", str(cport), "127.0.0.1", str(srv.port),
                     str(SENT // 1024), str(REPLY // 1024)], client
    assert float(s[8]) > 0 and float(c[8]) > 0


def test_wide_ipv6_and_times():
    with Server("::1", reply=REPLY) as srv:
        t = Tool("tcplife", "-w", "-T", "-t", "-6", "-D", srv.port)
        assert t.lines[0].split() == ["TIME", "TIME(s)", "PID", "COMM", "IP", "LADDR", "LPORT",
                                      "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"]
        cport, _ = connect("::1", srv.port, send=SENT, read=True)
        line = t.wait_for(lambda l: f" {srv.port} " in l)
        t.stop()
    assert line is not None, t.text
    assert re.match(r"\d\d:\d\d:\d\d 0\.000000  ", line), line
    f = line.split()
    assert f[4:11] == ["6", "::1", str(cport), "::1", str(srv.port), str(SENT // 1024),
                       str(REPLY // 1024)], line
    # -w: 39-wide address columns
    assert line.index(str(cport)) - line.index("::1") == 40


def test_csv():
    with Server("127.0.0.1", reply=REPLY) as srv:
        t = Tool("tcplife", "-s", "-t", "-D", srv.port)
        assert t.lines[0] == "TIME(s),PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS"
        cport, _ = connect("127.0.0.1", srv.port, send=SENT, read=True)
        line = t.wait_for(lambda l: f",{srv.port}," in l)
        t.stop()
    assert line is not None, t.text
    f = line.split(",")
    assert f[1:10] == [str(os.getpid()), own_comm(), "4", "127.0.0.1", str(cport), "127.0.0.1",
                       str(srv.port), str(SENT // 1024), str(REPLY // 1024)], line
    assert f[0] == "0.000000" and float(f[10]) > 0


def test_pid_filter_excludes_other_processes():
    with Server("127.0.0.1") as srv:
        t = Tool("tcplife", "-p", os.getppid() or 1, "-D", srv.port)
        connect("127.0.0.1", srv.port, send=10)
        probe = Tool("tcplife", "-D", srv.port)
        connect("127.0.0.1", srv.port, send=10)
        assert probe.wait_for(lambda l: f" {srv.port} " in l) is not None
        probe.stop()
        t.stop()
    assert len(t.lines) == 1, t.text


def test_kprobe_variant_loads():
    with corebpf.Object.open("tcplife", only=["set_state__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["set_state__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["-L", "1,,2"], "invalid port: ''"),
    (["-D", "-5"], "expected one argument"),
    (["-p", "99999999"], "no such process"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcplife", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    """--json: the client's end of a session, in bytes (the kernel's counters
    include the SYN and FIN, one sequence number each)."""
    with Server("::1", reply=REPLY) as srv:
        d, _ = run_json("tcplife", ["-p", os.getpid(), "-D", srv.port],
                        lambda: connect("::1", srv.port, send=SENT, read=True),
                        lambda d: d["rport"] == srv.port)
    assert (d["pid"], d["comm"], d["ip"], d["laddr"], d["raddr"]) == (
        os.getpid(), own_comm(), 6, "::1", "::1")
    assert SENT <= d["tx_bytes"] <= SENT + 2 and REPLY <= d["rx_bytes"] <= REPLY + 2
    assert d["duration_us"] > 0
