"""tcpconnlat on the real kernel: handshakes this test makes on loopback."""
from __future__ import annotations

import os
import socket
import time

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.nethelpers import Server, connect, own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def dport_col(line, port, col):
    parts = line.split()
    return len(parts) > col and parts[col] == str(port)


def test_latency_line_ipv4():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnlat", "-p", os.getpid())
        assert t.lines[0] == "%-7s %-12s %-2s %-16s %-16s %-5s %s" % (
            "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT", "LAT(ms)")
        connect("127.0.0.1", srv.port)
        line = t.wait_for(lambda l: dport_col(l, srv.port, 5))
        assert t.stop() == 0
    assert line is not None, t.text
    pid, comm, ip, saddr, daddr, dport, lat = line.split()
    assert (pid, comm, ip, saddr, daddr) == (str(os.getpid()), own_comm()[:12], "4",
                                             "127.0.0.1", "127.0.0.1")
    assert 0 <= float(lat) < 1000 and lat == "%.2f" % float(lat)


def test_lport_timestamp_ipv6():
    with Server("::1") as srv:
        t = Tool("tcpconnlat", "-6", "-L", "-t")
        assert t.lines[0].split() == ["TIME(s)", "PID", "COMM", "IP", "SADDR", "LPORT", "DADDR",
                                      "DPORT", "LAT(ms)"]
        cport, _ = connect("::1", srv.port)
        line = t.wait_for(lambda l: dport_col(l, srv.port, 7))
        t.stop()
    assert line is not None, t.text
    ts, pid, comm, ip, saddr, lport, daddr, dport, lat = line.split()
    float(ts)
    assert (ip, saddr, lport, daddr) == ("6", "::1", str(cport), "::1")


def test_min_latency_filters():
    with Server("127.0.0.1") as srv:
        slow_only = Tool("tcpconnlat", "-p", os.getpid(), "5000")
        everything = Tool("tcpconnlat", "-p", os.getpid(), "0")
        connect("127.0.0.1", srv.port)
        assert everything.wait_for(lambda l: dport_col(l, srv.port, 5)) is not None
        time.sleep(0.3)
        slow_only.stop()
        everything.stop()
    assert len(slow_only.lines) == 1, slow_only.text


def test_failed_connect_is_not_a_latency():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnlat", "-p", os.getpid())
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port))
        connect("127.0.0.1", srv.port)
        assert t.wait_for(lambda l: dport_col(l, srv.port, 5)) is not None
        t.stop()
    assert not any(dport_col(l, port, 5) for l in t.lines), t.text


def test_classic_tracepoint_variant():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnlat", "--probe", "tracepoint", "--libbpf-log", "-p", os.getpid())
        connect("127.0.0.1", srv.port)
        line = t.wait_for(lambda l: dport_col(l, srv.port, 5))
        t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None


def test_kprobe_variant_loads():
    progs = ["connect_v4__kprobe", "connect_v6__kprobe", "rcv_state__kprobe"]
    with corebpf.Object.open("tcpconnlat", only=progs) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in progs)


@pytest.mark.parametrize("args,msg", [
    (["--", "-1"], "must be positive"),
    (["abc"], "must be a float"),
    (["-p", "x"], "invalid PID"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpconnlat", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    ports = []
    with Server("127.0.0.1") as srv:
        d, _ = run_json("tcpconnlat", ["-p", os.getpid()],
                        lambda: ports.append(connect("127.0.0.1", srv.port)[0]),
                        lambda d: d["dport"] == srv.port and d["lport"] in ports)
    assert (d["pid"], d["comm"], d["ip"], d["saddr"], d["daddr"]) == (
        os.getpid(), own_comm(), 4, "127.0.0.1", "127.0.0.1")
    assert 0 <= d["latency_us"] < 1000000 and d["ts_us"] > 0
