"""netqtop on the real kernel, on a veth pair of the test's own (a network
namespace per test, names from the PID): UDP datagrams of known sizes sent
from this side are counted on the host end's TX queue, those sent back
from the namespace on its RX queue, in the right size columns."""
from __future__ import annotations

import json
import re
import socket
import time

import pytest

from tests.helpers import Tool, json_objects, run_tool
from tests.netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1], flush=True)
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data[:100], peer)           # 100-byte answers: 142-byte frames
"""
HEAD = " " + "".join("%-11s" % h for h in ["QueueID", "avg_size", "[0, 64)", "[64, 512)",
                                            "[512, 2K)", "[2K, 16K)", "[16K, 64K)"])


def _reports(lines):
    """[(TX rows, RX rows)] of each complete report: rows as lists of columns."""
    out, i = [], 0
    while i < len(lines):
        if lines[i] == "TX":
            tx, j = [], i + 2
            while lines[j] != "":
                tx.append(lines[j].split())
                j += 1
            assert lines[j + 1] == "RX", lines[i:j + 2]
            rx, k = [], j + 3
            while not lines[k].startswith("---"):
                rx.append(lines[k].split())
                k += 1
            out.append((tx, rx))
            i = k
        i += 1
    return out


@pytest.mark.parametrize("probe", [(), ("--probe", "tracepoint")], ids=["tp_btf", "tracepoint"])
def test_veth_queues(probe):
    with NetLab() as lab:
        echo = lab.python(ECHO, lab.peer4)
        port = int(echo.first_line)
        t = Tool("netqtop", *probe, "-n", lab.host_if, "-i", "1", "-t")
        assert re.fullmatch(r"\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}", t.lines[0]), t.lines[0]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for _ in range(40):
            s.sendto(b"x" * 1000, (lab.peer4, port))     # 1042-byte frames
            s.recvfrom(1000)
        s.close()
        time.sleep(1.2)
        t.wait_for(lambda l: l.startswith("---") and
                   sum(x.startswith("---") for x in t.lines) >= 3, timeout=10)
        assert t.stop() == 0, t.stderr
    reps = _reports(t.lines)
    assert reps, t.text
    assert t.lines[2] == HEAD + "BPS        PPS        "
    tx = [int(r[4]) for tx, _ in reps for r in tx if r[0] == "0"]
    rx = [int(r[3]) for _, rx in reps for r in rx if r[0] == "0"]
    assert sum(tx) >= 40 and sum(rx) >= 40, t.text           # [512, 2K) out, [64, 512) in
    totals = [r for tx, _ in reps for r in tx if r[0] == "Total"]
    assert len(totals) == len(reps)


def test_bad_names():
    rc, out, err = run_tool("netqtop")
    assert rc == 2 and err == "netqtop: error: Please specify a network interface.\n", err
    rc, out, err = run_tool("netqtop", "-n", "corebpf-nosuch")
    assert rc == 2 and err == "netqtop: error: Net interface corebpf-nosuch does not exist.\n"
    rc, out, err = run_tool("netqtop", "-n", "x" * 16)
    assert rc == 2 and err == "netqtop: error: NIC name too long\n", err
    rc, out, err = run_tool("netqtop", "-n", "lo", "-i", "0")
    assert rc == 2 and "non-zero" in err, err


def test_json():
    """One object per interval: a row per queue and direction with the
    interval's bytes, packets and packets by size."""
    with NetLab() as lab:
        echo = lab.python(ECHO, lab.peer4)
        port = int(echo.first_line)
        t = Tool("netqtop", "--json", "-n", lab.host_if, "-i", "0.5", ready=False)
        assert t.wait_for(lambda l: l.startswith("{"), timeout=30)     # attached
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for _ in range(40):
            s.sendto(b"x" * 1000, (lab.peer4, port))     # 1042-byte frames
            s.recvfrom(1000)
        s.close()
        def counted(_):
            return sum(r["size_512b"] for l in t.lines for r in json.loads(l)["rows"]
                       if r["direction"] == "rx" and r["queue"] == 0) >= 40
        t.wait_for(counted, timeout=10)
        assert t.stop() == 0, t.stderr
    objs = json_objects(t, "netqtop")
    assert all(o["interface"] == lab.host_if and o["interval_s"] == 0.5 for o in objs)
    rows = [r for o in objs for r in o["rows"] if r["queue"] == 0]
    tx = [r for r in rows if r["direction"] == "tx"]
    rx = [r for r in rows if r["direction"] == "rx"]
    assert sum(r["size_2k"] for r in tx) >= 40 and sum(r["size_512b"] for r in rx) >= 40, objs
    assert sum(r["bytes"] for r in tx) >= 40 * 1042
