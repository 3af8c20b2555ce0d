"""tcpretrans on the real kernel: real retransmits, provoked by an XDP program
that drops chosen segments on a veth pair into a test network namespace."""
from __future__ import annotations

import socket
import time

import pytest

import corebpf
from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

# in the namespace: accept one connection, read it to EOF, report the count
SINK = r'''
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
l = socket.socket(fam)
l.bind((sys.argv[1], 0)); l.listen(); print(l.getsockname()[1], flush=True)
c, _ = l.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
print(n, flush=True)
'''

# in the namespace: accept one connection, send 20000 bytes, close
SOURCE = r'''
import socket, sys
l = socket.socket()
l.bind((sys.argv[1], 0)); l.listen(); print(l.getsockname()[1], flush=True)
c, _ = l.accept(); c.sendall(b"d" * 20000); c.close()
'''


@pytest.fixture
def lab():
    with NetLab() as lab:
        yield lab


def test_retransmits_seen_ipv4(lab):
    srv = lab.python(SINK, lab.peer4)
    port = int(srv.first_line)
    loss = lab.drop(port, drops=3, acks=True)
    t = Tool("tcpretrans", "-s")
    assert t.lines[0] == "Tracing retransmits ... Hit Ctrl-C to end"
    c = socket.create_connection((lab.peer4, port))
    cport = c.getsockname()[1]
    c.sendall(b"x" * 2000)
    assert NetLab.wait_dropped(loss, 3) == 3
    line = t.wait_for(lambda l: f"{lab.peer4}:{port} " in l)
    c.close()
    assert srv.stdout.readline().strip() == "2000"      # nothing was lost for good
    assert t.stop() == 0
    assert t.lines[1] == "%-8s %-7s %-2s %-20s %1s> %-20s %-12s %-10s" % (
        "TIME", "PID", "IP", "LADDR:LPORT", "T", "RADDR:RPORT", "STATE", "SEQ")
    assert line is not None, t.text
    f = line.split()
    assert f[2:7] == ["4", f"{lab.host4}:{cport}", "R>", f"{lab.peer4}:{port}", "ESTABLISHED"]
    assert int(f[7]) >= 0


def test_retransmits_seen_ipv6_and_family_filter(lab):
    srv = lab.python(SINK, lab.peer6)
    port = int(srv.first_line)
    loss = lab.drop(port, drops=3, acks=True)
    t6 = Tool("tcpretrans", "-6")
    t4 = Tool("tcpretrans", "-4")
    c = socket.create_connection((lab.peer6, port))
    cport = c.getsockname()[1]
    c.sendall(b"x" * 2000)
    assert NetLab.wait_dropped(loss, 3) == 3
    line = t6.wait_for(lambda l: f"{lab.peer6}:{port} " in l)
    c.close()
    t6.stop()
    t4.stop()
    assert t6.lines[1].split()[-1] == "STATE"
    assert line is not None, t6.text
    assert line.split()[2:7] == ["6", f"{lab.host6}:{cport}", "R>", f"{lab.peer6}:{port}",
                                 "ESTABLISHED"]
    assert not any(f":{port} " in l for l in t4.lines), t4.text


def test_count_mode(lab):
    # here the namespace side sends and its data segments are lost
    srv = lab.python(SOURCE, lab.peer4)
    port = int(srv.first_line)
    loss = lab.drop(port, drops=2)
    t = Tool("tcpretrans", "-c")
    c = socket.create_connection((lab.peer4, port))
    cport = c.getsockname()[1]
    got = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.close()
    assert got == 20000 and loss.bss.dropped == 2
    time.sleep(0.3)
    assert t.stop() == 0
    assert t.lines[1].split() == ["LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"], t.text
    row = [l for l in t.lines if l.startswith(f"[{lab.peer4}]#{port} ")]
    assert len(row) == 1, t.text
    assert row[0].split()[:3] == [f"[{lab.peer4}]#{port}", "<->", f"[{lab.host4}]#{cport}"]
    assert int(row[0].split()[3]) >= 1


def test_lossprobe_needs_kprobes():
    if corebpf.features.kprobes():
        t = Tool("tcpretrans", "-l")
        assert t.lines[0] == "Tracing retransmits ... Hit Ctrl-C to end"
        assert t.stop() == 0
        return
    rc, out, err = run_tool("tcpretrans", "-l")
    assert rc == 1 and out == ""
    assert err.strip() == ("tcpretrans: error: -l needs kprobes (CONFIG_KPROBES), which this "
                           "kernel lacks: tail loss probes (tcp_send_loss_probe) have no "
                           "tracepoint")


def test_kprobe_programs_load():
    with corebpf.Object.open("tcpretrans", only=["retransmit__kprobe", "tlp"]) as obj:
        obj.load(select=False)
        assert obj.programs["tlp"].fd >= 0 and obj.programs["retransmit__kprobe"].fd >= 0


def test_classic_tracepoint_variant_loads_and_attaches():
    t = Tool("tcpretrans", "--probe", "tracepoint", "--verbose")
    assert t.stop() == 0
    assert "using tp (tracepoint) probes" in t.stderr


@pytest.mark.parametrize("args,msg", [
    (["-4", "-6"], "not allowed with argument"),
    (["1"], "unrecognized arguments: 1"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("tcpretrans", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json(lab):
    srv = lab.python(SINK, lab.peer4)
    port = int(srv.first_line)
    loss = lab.drop(port, drops=3, acks=True)
    t = Tool("tcpretrans", "--json", ready="stderr")
    c = socket.create_connection((lab.peer4, port))
    cport = c.getsockname()[1]
    c.sendall(b"x" * 2000)
    assert NetLab.wait_dropped(loss, 3) == 3
    line = t.wait_for(json_match(lambda d: d["rport"] == port))
    c.close()
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    assert "Tracing retransmits" not in t.text          # the header went to stderr
    d = next(o for o in json_objects(t, "tcpretrans") if o.get("rport") == port)
    assert (d["ip"], d["laddr"], d["lport"], d["raddr"]) == (4, lab.host4, cport, lab.peer4)
    assert (d["type"], d["state"]) == ("R", "ESTABLISHED") and d["seq"] >= 0
