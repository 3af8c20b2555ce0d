"""bindsnoop on the real kernel: bind() calls this test makes."""
from __future__ import annotations

import os
import socket
import time

import pytest

import corebpf
from tests.helpers import Tool, run_json, run_tool
from tests.nethelpers import own_comm

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT = 15, 19, 24


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def port_col(line, port, col):
    f = line.split()
    return len(f) > col and f[col] == str(port)


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_binds_with_options(probe):
    """Default: raw_syscalls (tp_btf) and bind's number; raw_tp the same;
    tracepoint: sys_enter_bind/sys_exit_bind."""
    p_plain, p_reuse, p_opts, p_udp6 = free_ports(4)
    t = Tool("bindsnoop", "-P", f"{p_plain},{p_reuse},{p_opts},{p_udp6}",
             env={"COREBPF_PROBE": probe})
    assert t.lines[0] == "Tracing binds ... Hit Ctrl-C to end"
    t.wait_for(lambda l: "PID" in l)
    socks = []
    s = socket.socket()
    s.bind(("127.0.0.1", p_plain))
    r = socket.socket()
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    r.bind(("127.0.0.1", p_reuse))
    o = socket.socket()
    o.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    o.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    o.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    o.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    o.bind(("127.0.0.1", p_opts))
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("::1", p_udp6))
    socks += [s, r, o, u]
    assert t.wait_for(lambda l: port_col(l, p_udp6, 4)) is not None, t.text
    t.stop()
    for x in socks:
        x.close()
    assert t.lines[1] == "%8s %-12.12s %-4s %-15s %-5s %5s %2s" % (
        "PID", "COMM", "PROT", "ADDR", "PORT", "OPTS", "IF")
    rows = {int(l.split()[4]): l for l in t.lines[2:]}
    me, comm = os.getpid(), own_comm()
    lo = socket.if_nametoindex("lo")
    assert rows[p_plain] == "%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d" % (
        me, comm, "TCP", "127.0.0.1", p_plain, ".....", 0)
    assert rows[p_reuse].split()[5:] == ["...Rr", "0"]
    assert rows[p_opts].split()[5:] == ["FTN..", str(lo)]
    assert rows[p_udp6].split()[2:6] == ["UDP", "::1", str(p_udp6), "....."]


def test_errors_wide_uid_timestamp():
    (port,) = free_ports(1)
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    t = Tool("bindsnoop", "-E", "-w", "-U", "-t", "-P", port)
    assert t.wait_for(lambda l: "PID" in l).split() == [
        "TIME(s)", "UID", "RC", "PID", "COMM", "PROT", "ADDR", "PORT", "OPTS", "IF"]
    x = socket.socket()
    with pytest.raises(OSError):
        x.bind(("127.0.0.1", port))
    x.close()
    line = t.wait_for(lambda l: "Unknown error -98" in l)
    t.stop()
    holder.close()
    assert line is not None, t.text
    # the failed bind shows the address and port that were asked for
    assert line.split()[1:] == ["0", "Unknown", "error", "-98", str(os.getpid()), own_comm(),
                                "TCP", "127.0.0.1", str(port), ".....", "0"], line
    assert line.index("Unknown") == 17 and line.index(str(os.getpid())) >= 17 + 26


def test_errors_narrow_rc_and_uid_filter():
    (port,) = free_ports(1)
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    t = Tool("bindsnoop", "-E", "-u", "0", "-P", port)
    x = socket.socket()
    with pytest.raises(OSError):
        x.bind(("127.0.0.1", port))
    x.close()
    line = t.wait_for(lambda l: l.startswith("-98 "))
    nobody = Tool("bindsnoop", "-u", "65534", "-P", port)
    t.stop()
    nobody.stop()
    holder.close()
    assert line is not None, t.text
    assert len(nobody.lines) == 2, nobody.text


def test_count_mode():
    a, b = free_ports(2)
    t = Tool("bindsnoop", "--count", "-P", f"{a},{b}")
    socks = []
    for _ in range(3):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", a))
        socks.append(s)
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", b))
    socks.append(s)
    time.sleep(0.3)
    assert t.stop() == 0
    for s in socks:
        s.close()
    # (the helper drops the empty line bcc prints before the table)
    assert t.lines[1] == "%-32s %20s     %-10s" % ("LADDR", "LPORT", "BINDS")
    assert t.lines[2] == "%-32s %20s     %-10d" % ("127.0.0.1", a, 3)
    assert t.lines[3] == "%-32s %20s     %-10d" % ("::1", b, 1)


def test_kprobe_variant_loads():
    progs = ["inet_bind__kprobe", "inet_bind_ret__kprobe", "inet6_bind__kprobe",
             "inet6_bind_ret__kprobe"]
    with corebpf.Object.open("bindsnoop", only=progs) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in progs)


@pytest.mark.parametrize("args,msg", [
    (["-P", "1-2"], "invalid port: '1-2'"),
    (["-u", "-1"], "no such user: '-1'"),
    (["-p", "abc"], "invalid PID"),
    (["--mntnsmap", "/nonexistent"], "--mntnsmap: no pinned map at /nonexistent"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("bindsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json():
    """--json with -E: a bind and a failed one (the port taken), each an object."""
    port, = free_ports(1)
    held = socket.socket()
    held.bind(("127.0.0.1", port))
    try:
        def act():
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                pass
            finally:
                s.close()
        d, _ = run_json("bindsnoop", ["-E", "-P", port, "-p", os.getpid()], act,
                        lambda d: d["ret"] != 0)
    finally:
        held.close()
    assert (d["pid"], d["comm"], d["protocol"], d["ip"], d["addr"], d["port"]) == (
        os.getpid(), own_comm(), "TCP", 4, "127.0.0.1", port)
    assert d["ret"] == -98 and d["opts"] == "....." and d["uid"] == 0   # -EADDRINUSE
