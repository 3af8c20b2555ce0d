"""tcptop on the real kernel: throughput of loopback transfers this test makes."""
from __future__ import annotations

import os
import re
import time

import pytest

import corebpf
from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.nethelpers import Server, connect, own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

SENT, REPLY = 300000, 500000


def rows_for(lines, port):
    """Parsed rows whose LADDR or RADDR ends with :port."""
    out = []
    for l in lines:
        f = l.split()
        if len(f) == 6 and (f[2].endswith(f":{port}") or f[3].endswith(f":{port}")):
            out.append(f)
    return out


def test_interval_count_rows():
    with Server("127.0.0.1", reply=REPLY) as srv:
        t = Tool("tcptop", "-C", "-p", os.getpid(), "1", "3")
        assert t.lines[0] == "Tracing... Output every 1 secs. Hit Ctrl-C to end"
        cport, got = connect("127.0.0.1", srv.port, send=SENT, read=True)
        assert got == REPLY
        assert t.wait(timeout=30) == 0              # three intervals, then exits
    me = str(os.getpid())
    rows = rows_for(t.lines, srv.port)
    server = [r for r in rows if r[2] == f"127.0.0.1:{srv.port}"]
    client = [r for r in rows if r[2] == f"127.0.0.1:{cport}"]
    assert server and client, t.text
    # KB = bytes // 1024, summed over the intervals the transfer spanned
    assert sum(int(r[4]) for r in server) in range(SENT // 1024 - 2, SENT // 1024 + 1)
    assert sum(int(r[5]) for r in server) in range(REPLY // 1024 - 2, REPLY // 1024 + 1)
    assert sum(int(r[4]) for r in client) in range(REPLY // 1024 - 2, REPLY // 1024 + 1)
    assert sum(int(r[5]) for r in client) in range(SENT // 1024 - 2, SENT // 1024 + 1)
    assert all(r[0] == me and r[1] == own_comm()[:12] for r in server + client)
    assert sum(1 for l in t.lines if " loadavg: " in l) == 3
    assert sum(1 for l in t.lines if l.split() == ["PID", "COMM", "LADDR", "RADDR", "RX_KB",
                                                  "TX_KB"]) >= 1


def test_ctrl_c_prints_the_partial_interval_ipv6_nosummary():
    with Server("::1", reply=REPLY) as srv:
        t = Tool("tcptop", "-C", "-S", "-6", "-p", os.getpid(), "30")
        connect("::1", srv.port, send=SENT, read=True)
        time.sleep(0.5)
        assert t.stop() == 0
    assert not any("loadavg" in l for l in t.lines)
    assert "PID     COMM         LADDR6                           RADDR6                " \
           "            RX_KB  TX_KB" in t.lines, t.text
    assert len(rows_for(t.lines, srv.port)) == 2, t.text


def test_pid_filter_and_clear_screen():
    with Server("127.0.0.1", reply=1000) as srv:
        other = Tool("tcptop", "-p", 1, "1", "2")
        t = Tool("tcptop", "1", "1")
        connect("127.0.0.1", srv.port, send=1000, read=True)
        assert other.wait(timeout=20) == 0 and t.wait(timeout=20) == 0
    assert not rows_for(other.lines, srv.port), other.text
    assert "\033[H\033[2J" in t.text                  # no -C: the screen is cleared
    assert re.search(r"\d\d:\d\d:\d\d loadavg: ", t.text)


def test_classic_tracepoint_variant():
    with Server("127.0.0.1", reply=5000) as srv:
        t = Tool("tcptop", "--probe", "tracepoint", "--verbose", "-C", "-p", os.getpid(), "1", "2")
        connect("127.0.0.1", srv.port, send=5000, read=True)
        assert t.wait(timeout=20) == 0
    assert "using tp (tracepoint) probes" in t.stderr
    assert rows_for(t.lines, srv.port), t.text


def test_kprobe_variant_loads():
    progs = ["send__kprobe", "recv__kprobe"]
    with corebpf.Object.open("tcptop", only=progs) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in progs)


@pytest.mark.parametrize("args,msg", [
    (["0"], "must be positive"),
    (["1", "0"], "must be positive"),
    (["x"], "invalid integer"),
    (["-p", "-3"], "expected one argument"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcptop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    """--json: bytes, not KB: the transfer's exact sizes, summed over intervals."""
    with Server("::1", reply=REPLY) as srv:
        t = Tool("tcptop", "--json", "-p", os.getpid(), "1", ready="stderr")
        cport, got = connect("::1", srv.port, send=SENT, read=True)
        assert got == REPLY
        rx = []                     # until the server's side is all counted
        assert t.wait_for(json_match(lambda d: rx.extend(
            r["rx_bytes"] for r in d["rows"] if r["lport"] == srv.port) or sum(rx) >= SENT),
            timeout=30), (t.text, t.stderr)
        assert t.stop() == 0
    objs = json_objects(t, "tcptop")
    rows = [r for o in objs for r in o["rows"]]
    server = [r for r in rows if r["lport"] == srv.port]
    client = [r for r in rows if r["lport"] == cport and r["rport"] == srv.port]
    assert server and client, t.text
    assert sum(r["rx_bytes"] for r in server) == SENT == sum(r["tx_bytes"] for r in client)
    assert sum(r["tx_bytes"] for r in server) == REPLY == sum(r["rx_bytes"] for r in client)
    assert all((r["pid"], r["comm"], r["ip"], r["laddr"], r["raddr"]) ==
               (os.getpid(), own_comm(), 6, "::1", "::1") for r in server + client)
