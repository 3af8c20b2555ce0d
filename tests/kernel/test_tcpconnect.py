"""tcpconnect on the real kernel: connects this test makes on 127.0.0.1/::1."""
from __future__ import annotations

import os
import socket
import struct
import threading
import time

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.nethelpers import Server, connect, own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def ends_with_port(line: str, port: int) -> bool:
    """A row whose last column (DPORT, rows end in a space) is `port`."""
    return line.split()[-1:] == [str(port)]


def test_ipv4_connect_line():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnect", "-P", srv.port, "-p", os.getpid())
        assert t.lines[0] == "Tracing connect ... Hit Ctrl-C to end"
        t.wait_for(lambda l: l.startswith("PID"))
        connect("127.0.0.1", srv.port)
        line = t.wait_for(lambda l: l.split()[-1:] == [str(srv.port)])
        assert t.stop() == 0
    assert t.lines[1] == "%-7s %-12s %-2s %-16s %-16s %-6s" % (
        "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT")
    assert line is not None, t.text
    assert line == "%-7d %-12.12s %-2d %-16s %-16s %-6d " % (
        os.getpid(), own_comm(), 4, "127.0.0.1", "127.0.0.1", srv.port)


def test_ipv6_lport_uid_timestamp():
    with Server("::1") as srv:
        t = Tool("tcpconnect", "-6", "-L", "-U", "-t", "-P", srv.port)
        cport, _ = connect("::1", srv.port)
        line = t.wait_for(lambda l: f" {cport} " in l)
        t.stop()
    assert t.lines[1].split() == ["TIME(s)", "UID", "PID", "COMM", "IP", "SADDR", "LPORT",
                                  "DADDR", "DPORT"]
    assert line is not None, t.text
    ts, uid, pid, comm, ip, saddr, lport, daddr, dport = line.split()
    float(ts)
    assert (uid, pid, ip, saddr, lport, daddr, dport) == (
        "0", str(os.getpid()), "6", "::1", str(cport), "::1", str(srv.port))


def test_family_filter_and_port_list():
    with Server("127.0.0.1") as s4, Server("::1") as s6:
        t = Tool("tcpconnect", "-4", "-P", f"{s4.port},{s6.port}")
        connect("::1", s6.port)
        connect("127.0.0.1", s4.port)
        assert t.wait_for(lambda l: ends_with_port(l, s4.port)) is not None, t.text
        t.stop()
    assert not any(ends_with_port(l, s6.port) for l in t.lines), t.text


def test_refused_and_nonblocking_connects_are_reported():
    # a port nobody listens on: the SYN is answered by a RST
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnect", "-L", "-P", f"{closed_port},{srv.port}")
        c = socket.socket()
        with pytest.raises(ConnectionRefusedError):
            c.connect(("127.0.0.1", closed_port))
        refused_lport = c.getsockname()[1]
        c.close()
        nb = socket.socket()
        nb.setblocking(False)
        try:
            nb.connect(("127.0.0.1", srv.port))
        except BlockingIOError:
            pass
        nb_lport = nb.getsockname()[1]
        a = t.wait_for(lambda l: ends_with_port(l, closed_port))
        b = t.wait_for(lambda l: ends_with_port(l, srv.port))
        nb.close()
        t.stop()
    assert a is not None and a.split()[4] == str(refused_lport), t.text
    assert b is not None and b.split()[4] == str(nb_lport), t.text


def test_count_mode_prints_at_ctrl_c():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnect", "-c", "-P", srv.port)
        for _ in range(3):
            connect("127.0.0.1", srv.port)
        srv_port = srv.port
        time.sleep(0.5)
        assert t.stop() == 0
    assert t.lines[0] == "Tracing connect ... Hit Ctrl-C to end"
    assert t.lines[1].split() == ["LADDR", "RADDR", "RPORT", "CONNECTS"]
    assert t.lines[2].split() == ["127.0.0.1", "127.0.0.1", str(srv_port), "3"], t.text


def test_uid_filter():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnect", "-U", "-u", "65534", "-P", srv.port)
        connect("127.0.0.1", srv.port)               # as root: filtered out
        pid = os.fork()
        if pid == 0:                                  # as nobody: shown
            try:
                os.setuid(65534)
                socket.create_connection(("127.0.0.1", srv.port)).close()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        line = t.wait_for(lambda l: ends_with_port(l, srv.port))
        t.stop()
    assert line is not None and line.split()[0] == "65534", t.text
    assert sum(ends_with_port(l, srv.port) for l in t.lines) == 1, t.text


def test_classic_tracepoint_variant():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpconnect", "--probe", "tracepoint", "--verbose", "-P", srv.port)
        connect("127.0.0.1", srv.port)
        line = t.wait_for(lambda l: ends_with_port(l, srv.port))
        t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None and line.split()[0] == str(os.getpid())


def _dns_answer(query: bytes, ip: str) -> bytes:
    end = 12
    while query[end]:
        end += 1 + query[end]
    question = query[12:end + 5]
    return (query[:2] + struct.pack("!5H", 0x8180, 1, 1, 0, 0) + question +
            b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip))


def test_dns_query_column():
    name = f"corebpf-{os.getpid()}.example"
    dns_addr = f"127.53.{os.getpid() % 250}.1"
    target = f"127.54.{os.getpid() % 250}.2"
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((dns_addr, 53))

    def serve():
        q, peer = dns.recvfrom(512)
        dns.sendto(_dns_answer(q, target), peer)

    threading.Thread(target=serve, daemon=True).start()
    with Server(target) as srv:
        t = Tool("tcpconnect", "-d", "-P", srv.port)
        assert t.wait_for(lambda l: l.startswith("PID")).endswith(" QUERY")
        q = struct.pack("!6H", 7, 0x0100, 1, 0, 0, 0) + b"".join(
            bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.connect((dns_addr, 53))
        c.send(q)
        c.recv(512)
        c.close()
        connect(target, srv.port)
        line = t.wait_for(lambda l: f" {srv.port} " in l)
        t.stop()
    dns.close()
    assert line is not None, t.text
    assert line.split()[4:] == [target, str(srv.port), name], line


def test_kprobe_variant_loads():
    progs = ["connect_v4__kprobe", "connect_v4_ret__kprobe", "connect_v6__kprobe",
             "connect_v6_ret__kprobe", "connect_exit"]
    with corebpf.Object.open("tcpconnect", only=progs) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in progs)


@pytest.mark.parametrize("args,msg", [
    (["-P", "http"], "invalid port: 'http'"),
    (["-P", "70000"], "port out of range: 70000"),
    (["-c", "-d"], "you may not specify -d/--dns with -c/--count"),
    (["-p", "999999"], "no such process"),
    (["-4", "-6"], "not allowed with argument"),
    (["-u", "no_such_user_zz"], "no such user"),
    (["--cgroupmap", "/nonexistent/map"], "--cgroupmap: no pinned map at /nonexistent/map"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpconnect", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("addr", ["127.0.0.1", "::1"])
def test_json(addr):
    """--json: one object per connect(), valid for its schema (-d adds query)."""
    ports = []
    with Server(addr) as srv:
        d, _ = run_json("tcpconnect", ["-P", srv.port, "-p", os.getpid()],
                        lambda: ports.append(connect(addr, srv.port)[0]),
                        lambda d: d["dport"] == srv.port and d["lport"] in ports)
        q, _ = run_json("tcpconnect", ["-d", "-P", srv.port, "-p", os.getpid()],
                        lambda: connect(addr, srv.port), lambda d: d["dport"] == srv.port)
    assert (d["pid"], d["comm"], d["uid"], d["saddr"], d["daddr"]) == (
        os.getpid(), own_comm(), 0, addr, addr)
    assert d["ip"] == (4 if "." in addr else 6) and d["ts_us"] > 0 and "query" not in d
    assert q["query"] == "localhost"
