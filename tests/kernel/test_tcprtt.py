"""tcprtt on the real kernel: a connection into a test network namespace
through a rate-limited link (tests/netlab.py: a token bucket, 2 Mbit/s)
queues its segments, so its smoothed RTT passes 8 ms (the floor the link's
queue sets); the remote-port filter keeps a loopback connection out, -B
names the peer's address and -e its average; -6 keeps IPv4 sockets out."""
from __future__ import annotations

import fcntl
import re
import socket
import sys
import termios
import time

import pytest

from tests.helpers import Tool, json_objects
from tests.kernel.test_tool_probe_paths import require_probe
from tests.kernel.test_tcpretrans import SINK
from tests.netlab import NetLab
from tests.nethelpers import Server, connect

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]
# the function-probe paths fire in the kernel matrix's guests (tests/vm/run)
PROBES = [(), ("--probe", "tracepoint"), ("--probe", "fentry"), ("--probe", "kprobe")]

HEADER = "Tracing TCP RTT... Hit Ctrl-C to end."
ROW = re.compile(r"^ +(\d+) -> (\d+) +: (\d+) +\|")


def drained(sock, timeout=30):
    """Wait until every byte sent on `sock` is acknowledged (SIOCOUTQ = 0)."""
    deadline = time.monotonic() + timeout
    buf = bytearray(4)
    while time.monotonic() < deadline:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)     # SIOCOUTQ
        if not int.from_bytes(buf, sys.byteorder):
            return
        time.sleep(0.02)
    raise AssertionError("the peer did not acknowledge the data")


def sections(lines) -> dict:
    """{section line: {(low, high): count}} of bcc's sectioned histograms."""
    out, cur = {}, None
    for line in lines:
        m = ROW.match(line)
        if m and cur is not None:
            out[cur][(int(m[1]), int(m[2]))] = int(m[3])
        elif " = " in line:
            cur = line
            out[cur] = {}
    return out


@pytest.mark.parametrize("probe", PROBES, ids=["tp_btf", "tracepoint", "fentry", "kprobe"])
def test_rate_limited_link_sets_the_floor(probe):
    require_probe(probe)
    with NetLab() as lab, Server("127.0.0.1", reply=1000) as other:
        lab.shape("2mbit")
        srv = lab.python(SINK, lab.peer4)
        port = int(srv.first_line)
        t = Tool("tcprtt", "-B", "-e", "-P", str(port), *probe)
        assert t.lines[0] == HEADER
        connect("127.0.0.1", other.port, send=1000, read=True)     # filtered out: -P
        c = socket.create_connection((lab.peer4, port))
        c.sendall(b"x" * 64 * 1024)
        drained(c)              # the ACKs reach an established socket
        c.close()
        assert srv.stdout.readline().strip() == str(64 * 1024)
        assert t.stop() == 0, t.stderr
    got = sections(t.lines)
    names = list(got)
    assert len(names) == 1 and names[0].startswith(f"Remote Addres = {lab.peer4} [AVG "), t.text
    avg = int(re.search(r"\[AVG (\d+)\]$", names[0])[1])
    hist = got[names[0]]
    assert sum(hist.values()) >= 5, t.text
    # the queue of the 2 Mbit/s link: 5.8 ms per segment, 10 segments in the first flight
    assert any(low >= 8192 and n for (low, high), n in hist.items()), t.text
    assert 1000 <= avg, t.text


def test_ipv6_only_and_ms():
    with Server("::1", reply=1000) as v6, Server("127.0.0.1", reply=1000) as v4:
        t = Tool("tcprtt", "-6", "-b", "-m")
        connect("127.0.0.1", v4.port, send=1000, read=True)
        connect("::1", v6.port, send=1000, read=True)
        assert t.stop() == 0, t.stderr
    got = sections(t.lines)
    # -b keys by the IPv4 local address field, which the kernel sets to
    # 127.0.0.6 (LOOPBACK4_IPV6) in IPv6 sockets (bcc prints the same)
    assert list(got) == ["Local Address = 127.0.0.6"], t.text
    assert "     msecs               : count     distribution" in t.lines, t.text
    assert sum(got["Local Address = 127.0.0.6"].values()) >= 1, t.text


@pytest.mark.parametrize("args", [("-b", "-e"), ("-m",)])
def test_json(args):
    with Server("127.0.0.1", reply=1000) as srv:
        t = Tool("tcprtt", "--json", "-4", "-p", str(srv.port), *args, ready="stderr")
        connect("127.0.0.1", srv.port, send=1000, read=True)
        assert t.stop() == 0, t.stderr
    d, = json_objects(t, "tcprtt")
    assert d["unit"] == ("msecs" if "-m" in args else "usecs")
    assert sum(b["count"] for h in d["histograms"] for b in h["buckets"]) >= 1, d
    if "-b" in args:
        assert [h["addr"] for h in d["histograms"]] == ["127.0.0.1"]
        assert all(h["avg"] >= 0 for h in d["histograms"])
    else:
        assert all("addr" not in h and "avg" not in h for h in d["histograms"])
