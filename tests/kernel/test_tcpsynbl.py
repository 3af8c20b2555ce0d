"""tcpsynbl on the real kernel: listeners with backlog limits of their own
that never accept; each completed handshake shows the queue length so far
(0, 1, 2, ...) in the histogram of that limit.  -4/-6 select the listener's
family: a dual-stack IPv6 listener's IPv4 peers count as IPv6."""
from __future__ import annotations

import os
import re
import socket
import struct
import time

import pytest

from tests.helpers import Tool, json_objects
from tests.kernel.test_tool_probe_paths import require_probe

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "Tracing SYN backlog size. Ctrl-C to end."
ROW = re.compile(r"^ +(\d+) -> (\d+) +: (\d+) +\|")


def histogram_of(lines, limit) -> dict:
    """{(low, high): count} of the section 'backlog_max = limit'."""
    out, inside = {}, False
    for line in lines:
        if line.startswith("backlog_max = "):
            inside = line == f"backlog_max = {limit}"
        elif inside and (m := ROW.match(line)):
            out[(int(m[1]), int(m[2]))] = int(m[3])
    return out


def queued(lst, n, timeout=10) -> int:
    """Wait until the listener's accept queue holds n connections (TCP_INFO of a
    listening socket: tcpi_unacked is its sk_ack_backlog)."""
    deadline = time.monotonic() + timeout
    while True:
        info = lst.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        unacked = struct.unpack_from("I", info, 24)[0]
        if unacked >= n or time.monotonic() > deadline:
            return unacked
        time.sleep(0.01)


def expected(backlogs) -> dict:
    slots = {}
    for b in backlogs:
        low = 0 if b < 2 else 1 << (b.bit_length() - 1)
        key = (low, 1 if low == 0 else 2 * low - 1)
        slots[key] = slots.get(key, 0) + 1
    return slots


@pytest.mark.parametrize("args,v4,v6", [((), True, True), (("-4",), True, False),
                                        (("-6",), False, True),
                                        (("--probe", "tracepoint"), True, True),
                                        # bcc's probes (they fire in the kernel matrix's guests)
                                        (("--probe", "kprobe"), True, True),
                                        (("-4", "--probe", "kprobe"), True, False)],
                         ids=["all", "ipv4", "ipv6", "tracepoint", "kprobe", "ipv4-kprobe"])
def test_backlog_grows_per_connection(args, v4, v6):
    require_probe(args)
    limit = 200 + (os.getpid() * 7 + len(args)) % 3000     # limits nobody else uses
    t = Tool("tcpsynbl", *args)
    assert t.lines[0] == HEADER
    lst6 = socket.socket(socket.AF_INET6)           # dual-stack
    lst6.bind(("::", 0))
    lst6.listen(limit)
    lst4 = socket.socket()
    lst4.bind(("127.0.0.1", 0))
    lst4.listen(limit + 1)
    port6, port4 = lst6.getsockname()[1], lst4.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port6)) for _ in range(5)]
    clients += [socket.create_connection(("::1", port6)) for _ in range(3)]
    clients += [socket.create_connection(("127.0.0.1", port4)) for _ in range(4)]
    assert queued(lst6, 8) == 8 and queued(lst4, 4) == 4    # every handshake completed
    assert t.stop() == 0, t.stderr
    for c in clients + [lst6, lst4]:
        c.close()
    got6 = {k: n for k, n in histogram_of(t.lines, limit).items() if n}
    got4 = {k: n for k, n in histogram_of(t.lines, limit + 1).items() if n}
    assert got6 == (expected(range(8)) if v6 else {}), t.text
    assert got4 == (expected(range(4)) if v4 else {}), t.text
    assert "     backlog             : count     distribution" in t.lines


def test_json():
    """--json: one object at the end, a histogram per backlog limit, the same
    buckets as the text."""
    limit = 3201 + os.getpid() % 800     # listen() caps the backlog at somaxconn (4096)
    t = Tool("tcpsynbl", "--json", ready="stderr")
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(limit)
    clients = [socket.create_connection(lst.getsockname()) for _ in range(5)]
    assert queued(lst, 5) == 5
    assert t.stop() == 0, t.stderr
    for c in clients + [lst]:
        c.close()
    d, = json_objects(t, "tcpsynbl")
    assert d["unit"] == "backlog"
    h, = [h for h in d["histograms"] if h["backlog_max"] == limit]
    got = {(b["low"], b["high"]): b["count"] for b in h["buckets"] if b["count"]}
    assert got == expected(range(5)), d
