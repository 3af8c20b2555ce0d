"""tcpsubnet on the real kernel: bytes this test sends into a network
namespace of its own (tests/netlab.py) add up, over the intervals, to
exactly what was sent, in the first subnet of the list that holds the
peer; -f K divides by 1024; -J prints bcc's JSON; bad subnets are one line."""
from __future__ import annotations

import re
import socket

import pytest

from corebpf import features

from tests.helpers import Tool, json_objects, run_tool
from tests.kernel.test_tool_probe_paths import require_probe
from tests.kernel.test_tcpretrans import SINK
from tests.netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]
# the function-probe paths fire in the kernel matrix's guests (tests/vm/run)
PROBES = [(), ("--probe", "tracepoint"), ("--probe", "fentry"), ("--probe", "kprobe")]

HEADER = "Tracing... Output every 1 secs. Hit Ctrl-C to end"


def _send(lab, nbytes):
    srv = lab.python(SINK, lab.peer4)
    port = int(srv.first_line)
    c = socket.create_connection((lab.peer4, port))
    c.sendall(b"x" * nbytes)
    c.close()
    assert srv.stdout.readline().strip() == str(nbytes)


@pytest.mark.parametrize("probe", PROBES, ids=["tp_btf", "tracepoint", "fentry", "kprobe"])
def test_bytes_per_subnet(probe):
    require_probe(probe)
    if probe[1:] == ("tracepoint",) and not features.tracepoint_exists("sock", "sock_send_length"):
        pytest.skip("this kernel lacks tracepoint sock:sock_send_length (6.3+)")
    with NetLab() as lab:
        peer_net = lab.peer4.rsplit(".", 1)[0] + ".0/24"
        # the peer's /32 comes after its /24: the first match counts
        subnets = f"127.0.0.1/32,{peer_net},{lab.peer4}/32"
        t = Tool("tcpsubnet", subnets, *probe)
        assert t.lines[0] == HEADER
        _send(lab, 300000)
        t.wait_for(lambda _: total(t.lines, peer_net) >= 300000)
        assert t.stop() == 0, t.stderr
    assert total(t.lines, peer_net) == 300000, t.text
    assert total(t.lines, f"{lab.peer4}/32") == 0, t.text
    assert all(re.match(r"^\[\d\d/\d\d/\d\d \d\d:\d\d:\d\d\]$", l) or
               re.match(r"^\S+ +\d+$", l) for l in t.lines[1:]), t.text


def total(lines, subnet) -> int:
    return sum(int(l.split()[1]) for l in lines if l.split()[:1] == [subnet])


def test_kbytes_and_json():
    with NetLab() as lab:
        t = Tool("tcpsubnet", "-J", "-f", "K", f"{lab.peer4}/32", ready=False)
        k = Tool("tcpsubnet", "-f", "K", f"{lab.peer4}/32")
        assert t.wait_for(lambda l: l.startswith("{"))     # -J prints no header: attached
        _send(lab, 1024 * 1024)
        t.wait_for(lambda l: f'"{lab.peer4}/32"' in l)
        k.wait_for(lambda _: total(k.lines, f"{lab.peer4}/32") >= 1023)
        assert t.stop() == 0 and k.stop() == 0, t.stderr + k.stderr
    docs = json_objects(t, "tcpsubnet")          # bcc's document, valid for its schema
    assert all(set(d) == {"date", "time", "entries"} for d in docs), t.text
    assert sum(d["entries"].get(f"{lab.peer4}/32", 0) for d in docs) == pytest.approx(1024)
    # '%6d' of KBytes per interval: whole KBytes, summing to 1024 at most
    assert 1022 <= total(k.lines, f"{lab.peer4}/32") <= 1024, k.text


@pytest.mark.parametrize("arg,msg", [("10.0.0.0", "is invalid"), ("10.0.0/8", "net address"),
                                     ("10.0.0.0/33", "Invalid mask"),
                                     (",".join(["10.0.0.0/8"] * 65), "at most 64")])
def test_bad_subnets(arg, msg):
    rc, out, err = run_tool("tcpsubnet", arg)
    assert rc != 0 and msg in err and len(err.splitlines()) == 1 and not out, err
