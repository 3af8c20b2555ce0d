"""tcpdrop on the real kernel: segments the kernel really drops.

- loopback: data sent to a peer that shut its socket down (FIN_WAIT2 with
  RCV_SHUTDOWN) is dropped as TCP_ABORT_ON_DATA and answered by a reset;
- a test network namespace whose ACKs an XDP program loses: the client's
  retransmits reach a server that already has the data (TCP_OLD_DATA).
"""
from __future__ import annotations

import os
import socket
import time

import pytest

import corebpf
from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.netlab import NetLab
from tests.nethelpers import abort_on_data

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.mark.parametrize("addr,ip", [("127.0.0.1", "4"), ("::1", "6")])
def test_abort_on_data_with_stack(addr, ip):
    t = Tool("tcpdrop", "-" + ip)
    assert t.lines[0] == ("WARNING: tcp_drop() kernel function not found or traceable. "
                          "Use tracepoint:skb:kfree_skb instead.")
    t.wait_for(lambda l: l.startswith("TIME"))
    cport, sport = abort_on_data(addr)
    needle = f"{addr}:{cport} "
    line = t.wait_for(lambda l: needle in l and "TCP_ABORT_ON_DATA" in l)
    time.sleep(0.3)
    assert t.stop() == 0
    assert t.lines[1] == "%-8s %-7s %-2s %-20s > %-20s %-20s %s" % (
        "TIME", "PID", "IP", "SADDR:SPORT", "DADDR:DPORT", "STATE (FLAGS)", "REASON (CODE)")
    assert line is not None, t.text
    f = line.split()
    assert f[2:5] == [ip, f"{addr}:{cport}", ">"] and f[5] == f"{addr}:{sport}", line
    assert f[6] in ("CLOSE", "FIN_WAIT2") and f[7] == "(PSH|ACK)", line
    code = int(f[-1].strip("()"))
    assert f[8] == "TCP_ABORT_ON_DATA" and code > 2
    # the kernel stack follows, one tab-indented frame a line, then an empty line
    i = t.lines.index(line)
    frames = []
    for l in t.lines[i + 1:]:
        if not l.startswith("\t"):
            break
        frames.append(l[1:])
    assert any(fr.startswith(f"tcp_v{ip}_rcv+0x") for fr in frames), t.text
    assert not frames[0].startswith("bpf_prog_"), frames


def test_old_data_in_a_namespace_and_netns_filter():
    with NetLab() as lab:
        sink = lab.python(
            "import socket, sys\n"
            "l = socket.socket(); l.bind((sys.argv[1], 0)); l.listen()\n"
            "print(l.getsockname()[1], flush=True)\n"
            "c, _ = l.accept()\n"
            "while c.recv(65536): pass\n", lab.peer4)
        port = int(sink.first_line)
        ns_inode = os.stat(f"/proc/{sink.pid}/ns/net").st_ino
        here = Tool("tcpdrop", "--netns-id", os.stat("/proc/self/ns/net").st_ino)
        there = Tool("tcpdrop", "--pid-netns", sink.pid)
        loss = lab.drop(port, drops=3, acks=True)
        c = socket.create_connection((lab.peer4, port))
        cport = c.getsockname()[1]
        c.sendall(b"x" * 1500)
        assert NetLab.wait_dropped(loss, 3) == 3
        needle = f"{lab.host4}:{cport} "
        line = there.wait_for(lambda l: needle in l and "TCP_OLD_DATA" in l)
        # stopped before the close: closing may drop the peer's FIN in this
        # namespace (QUEUE_PURGE), which `here` rightly shows
        here.stop()
        c.close()
        there.stop()
    assert line is not None, there.text
    f = line.split()
    assert f[2:6] == ["4", f"{lab.host4}:{cport}", ">", f"{lab.peer4}:{port}"]
    assert f[6] == "ESTABLISHED" and f[8] == "TCP_OLD_DATA"
    assert ns_inode != os.stat("/proc/self/ns/net").st_ino
    assert not any(needle in l for l in here.lines), here.text


def test_classic_tracepoint_variant():
    t = Tool("tcpdrop", "--probe", "tracepoint", "--verbose")
    cport, sport = abort_on_data("127.0.0.1")
    line = t.wait_for(lambda l: f"127.0.0.1:{cport} " in l)
    t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None and "TCP_ABORT_ON_DATA" in line, t.text


def test_kprobe_variant_loads():
    with corebpf.Object.open("tcpdrop", only=["tcp_drop__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["tcp_drop__kprobe"].fd >= 0


@pytest.mark.parametrize("args,msg", [
    (["--netns-id", "1", "--pid-netns", "1"], "--pid-netns and --netns-id not allowed together"),
    (["--netns-id", "x"], "invalid integer"),
    (["--pid-netns", "99999999"], "no such process"),
    (["-4", "-6"], "not allowed with argument"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpdrop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json_with_stack():
    """--json: the drop, its reason and its kernel stack as frames
    ({addr, symbol, offset, module}, innermost first)."""
    t = Tool("tcpdrop", "--json", "-4", ready="stderr")
    cport, sport = abort_on_data("127.0.0.1")
    line = t.wait_for(json_match(lambda d: d.get("sport") == cport and
                                 d["reason"] == "TCP_ABORT_ON_DATA"))
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    d = next(o for o in json_objects(t, "tcpdrop")
             if o.get("sport") == cport and o["reason"] == "TCP_ABORT_ON_DATA")
    assert (d["ip"], d["saddr"], d["daddr"], d["dport"]) == (4, "127.0.0.1", "127.0.0.1", sport)
    assert d["state"] in ("CLOSE", "FIN_WAIT2") and d["tcpflags"] == "PSH|ACK"
    assert d["reason_code"] > 2
    syms = [f["symbol"] for f in d["stack"]]
    assert "tcp_v4_rcv" in syms and not syms[0].startswith("bpf_prog_"), d["stack"]
    f = d["stack"][syms.index("tcp_v4_rcv")]
    assert f["module"] == "kernel" and f["offset"] > 0 and int(f["addr"], 16) > 0
