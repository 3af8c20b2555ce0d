"""tcpstates on the real kernel: the state changes of a loopback connection."""
from __future__ import annotations

import os
import re
import socket

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.nethelpers import Server, connect, own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_client_side_transitions():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpstates", "-D", srv.port)
        assert t.lines[0] == "%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s" % (
            "SKADDR", "C-PID", "C-COMM", "", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE",
            "NEWSTATE", "MS")
        cport, _ = connect("127.0.0.1", srv.port, send=100, read=True)
        t.wait_for(lambda l: " -> CLOSE " in l)
        assert t.stop() == 0
    rows = [l.split() for l in t.lines[1:]]
    assert rows, t.text
    # first change: CLOSE -> SYN_SENT, in connect(): this process, source port not set yet
    first = rows[0]
    assert first[1:3] == [str(os.getpid()), own_comm()[:10]]
    assert first[3:7] == ["127.0.0.1", "0", "127.0.0.1", str(srv.port)]
    assert (first[7], first[9], first[10]) == ("CLOSE", "SYN_SENT", "0.000")
    states = [(r[7], r[9]) for r in rows]
    assert states[:2] == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")], t.text
    assert states[-1][1] == "CLOSE"
    assert all(r[0] == first[0] for r in rows)      # one socket
    assert all(r[4] == str(cport) for r in rows[1:])
    assert all(float(r[10]) >= 0 for r in rows)


def test_server_side_wide_ipv6():
    with Server("::1") as srv:
        t = Tool("tcpstates", "-w", "-L", srv.port, "-6")
        connect("::1", srv.port, send=100, read=True)
        t.wait_for(lambda l: re.search(r"LAST_ACK +-> CLOSE|FIN_WAIT2 +-> CLOSE|"
                                       r"FIN_WAIT1 +-> CLOSE|TIME_WAIT +-> CLOSE", l))
        t.stop()
    assert t.lines[0].split()[3] == "IP"
    states = [(l.split()[8], l.split()[10]) for l in t.lines[1:]]
    assert ("LISTEN", "SYN_RECV") in states and ("SYN_RECV", "ESTABLISHED") in states, t.text
    assert all(l.split()[3] == "6" and l.split()[4] == "::1" for l in t.lines[1:])


def test_csv_and_time_columns():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpstates", "-s", "-T", "-t", "-D", srv.port)
        assert t.lines[0] == ("TIME,TIME(s),SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,"
                              "OLDSTATE,NEWSTATE,MS")
        connect("127.0.0.1", srv.port, send=10, read=True)
        line = t.wait_for(lambda l: ",SYN_SENT,ESTABLISHED," in l)
        t.stop()
    assert line is not None, t.text
    f = line.split(",")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", f[0]) and re.fullmatch(r"\d+\.\d{6}", f[1])
    int(f[2], 16)
    assert f[5:10] == ["4", "127.0.0.1", f[7], "127.0.0.1", str(srv.port)]


def test_journal(tmp_path):
    path = str(tmp_path / "journal.socket")
    j = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    j.bind(path)
    j.settimeout(10)
    with Server("127.0.0.1") as srv:
        t = Tool("tcpstates", "-Y", "-D", srv.port, env={"COREBPF_JOURNAL_SOCKET": path})
        connect("127.0.0.1", srv.port)
        t.wait_for(lambda l: "SYN_SENT    -> ESTABLISHED" in l)
        records = []
        while len(records) < 2:
            records.append(dict(kv.split("=", 1) for kv in
                                j.recv(65536).decode().splitlines()))
        t.stop()
    j.close()
    r = records[1]
    assert r["SYSLOG_IDENTIFIER"] == "tcpstates" and r["PRIORITY"] == "5"
    assert r["OBJECT_TCP_OLD_STATE"] == "SYN_SENT" and r["OBJECT_TCP_NEW_STATE"] == "ESTABLISHED"
    assert r["OBJECT_IPV4_DESTINATION_ADDRESS"] == "127.0.0.1"
    assert r["OBJECT_TCP_DESTINATION_PORT"] == str(srv.port)
    assert r["MESSAGE"].endswith(f"127.0.0.1 {srv.port} SYN_SENT \u2192 ESTABLISHED")


def test_journal_missing_is_one_line(tmp_path):
    rc, out, err = run_tool("tcpstates", "-Y",
                            env={"COREBPF_JOURNAL_SOCKET": str(tmp_path / "none")})
    assert rc == 1 and "journal logging needs systemd-journald" in err
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_classic_tracepoint_variant():
    with Server("127.0.0.1") as srv:
        t = Tool("tcpstates", "--probe", "tracepoint", "--verbose", "-D", srv.port)
        connect("127.0.0.1", srv.port)
        assert t.wait_for(lambda l: "SYN_SENT    -> ESTABLISHED" in l) is not None, t.text
        t.stop()
    assert "using tp (tracepoint) probes" in t.stderr


def test_kprobe_variant_loads():
    with corebpf.Object.open("tcpstates", only=["set_state__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["set_state__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["-L", "x"], "invalid port: 'x'"),
    (["-6", "-4"], "not allowed with argument"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpstates", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    with Server("127.0.0.1") as srv:
        d, objs = run_json("tcpstates", ["-D", srv.port],
                           lambda: connect("127.0.0.1", srv.port, send=100, read=True),
                           lambda d: d["newstate"] == "ESTABLISHED")
    assert (d["oldstate"], d["ip"], d["raddr"], d["rport"]) == (
        "SYN_SENT", 4, "127.0.0.1", srv.port)
    assert d["skaddr"].startswith("0x") and d["span_us"] >= 0 and d["lport"] > 0
