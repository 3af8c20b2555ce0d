"""tcpcong on the real kernel: a connection into a test network namespace
whose ACKs an XDP program drops (tests/netlab.py) goes through the loss
state and back to open; the flow shows with time in "loss" and one change,
in the table and (-d) as a histogram; -L/-R filters on ports.  Each probe
variant where the kernel serves it: tcp_cong_state_set (5.19+) as tp_btf
and tracepoint, bcc's function probes (fentry, kprobe) before."""
from __future__ import annotations

import re
import socket
import time

import pytest

from corebpf import features
from tests.helpers import Tool, json_objects, run_tool
from tests.kernel.test_tool_probe_paths import require_probe
from tests.kernel.test_tcpretrans import SINK
from tests.netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "Tracing tcp congestion control status duration... Hit Ctrl-C to end."


def _lossy_connection(lab, *tool_args, json=False):
    srv = lab.python(SINK, lab.peer4)
    port = int(srv.first_line)
    loss = lab.drop(port, drops=3, acks=True)
    if tool_args and callable(tool_args[0]):
        tool_args = tool_args[0](port)
    if json:
        t = Tool("tcpcong", "--json", *tool_args, ready="stderr")
    else:
        t = Tool("tcpcong", *tool_args)
        assert t.lines[0] == HEADER
    c = socket.create_connection((lab.peer4, port))
    cport = c.getsockname()[1]
    c.sendall(b"x" * 2000)
    assert NetLab.wait_dropped(loss, 3) == 3
    time.sleep(0.5)
    c.close()
    assert srv.stdout.readline().strip() == "2000"      # nothing was lost for good
    assert t.stop() == 0, t.stderr
    return t, port, cport


@pytest.mark.parametrize("probe", [(), ("--probe", "tracepoint"), ("--probe", "fentry"),
                                   ("--probe", "kprobe")],
                         ids=["default", "tracepoint", "fentry", "kprobe"])
def test_loss_then_open_table(probe):
    """The tracepoint variants where the kernel has tcp_cong_state_set (5.19);
    the function variants (the default before) where it has their probes."""
    if probe:
        require_probe(probe)
    if probe[-1:] == ("tracepoint",) and not features.tracepoint_exists("tcp",
                                                                        "tcp_cong_state_set"):
        pytest.skip("this kernel lacks tracepoint tcp:tcp_cong_state_set")
    with NetLab() as lab:
        t, port, cport = _lossy_connection(lab, "-u", *probe)
        assert t.lines[1] == "%-21s %-21s %-7s %-6s %-7s %-7s %-6s %-5s" % (
            "LAddrPort", "RAddrPort", "Open_us", "Dod_us", "Rcov_us", "Cwr_us", "Los_us", "Chgs")
        row = next((l for l in t.lines if l.startswith(f"{lab.host4}/{cport} ")), None)
        assert row, t.text
        f = row.split()
        assert f[1] == f"{lab.peer4}/{port}"
        # the retransmission timeout kept it in loss for 200 ms or more
        assert int(f[6]) >= 150000 and int(f[7]) >= 1, row


def test_histograms_and_port_filters():
    with NetLab() as lab:
        t, port, cport = _lossy_connection(lab, "-d")
        sections = [l for l in t.lines if l.startswith("tcp_congest_state = ")]
        assert "tcp_congest_state = loss" in sections, t.text
        assert any(re.match(r" +msecs +: count +distribution", l) for l in t.lines), t.text
    with NetLab() as lab:
        t, port, cport = _lossy_connection(lab, "-R", "1-2")
        assert t.lines[1:] == [], t.text             # the flow's remote port is not 1-2
    with NetLab() as lab:
        t, port, cport = _lossy_connection(lab, lambda port: ("-R", f"{port}", "-L",
                                                              "1024-65535"))
        assert any(l.startswith(f"{lab.host4}/{cport} ") for l in t.lines), t.text


def test_bad_ranges():
    for bad in ("1-2-3", "x", "70000"):
        rc, out, err = run_tool("tcpcong", "-L", bad)
        assert rc == 2 and err.startswith("tcpcong: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("dist", [False, True], ids=["table", "dist"])
def test_json(dist):
    """The lossy flow in JSON: its row (times in the unit given, one change
    into loss and back) or (-d) a loss histogram; every line valid."""
    with NetLab() as lab:
        t, port, cport = _lossy_connection(lab, "-d" if dist else "-u", json=True)
    o = json_objects(t, "tcpcong")[-1]
    if dist:
        assert o["unit"] == "msecs" and "loss" in [h["state"] for h in o["histograms"]], o
        return
    row = next(r for r in o["rows"] if r["lport"] == cport)
    assert o["unit"] == "us" and (row["laddr"], row["raddr"], row["rport"]) == \
        (lab.host4, lab.peer4, port)
    assert row["loss"] >= 150000 and row["changes"] >= 1, row
