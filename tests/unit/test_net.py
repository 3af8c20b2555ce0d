"""Pure formatters and parsers of the network tools (no privilege needed)."""
from __future__ import annotations

import socket
import struct
from types import SimpleNamespace as R

import pytest

from corebpf.tools import (_net, bindsnoop, solisten, tcpaccept, tcpconnect, tcpconnlat, tcpdrop,
                           tcplife, tcpretrans, tcpstates, tcptop)


def a16(text):
    fam = socket.AF_INET6 if ":" in text else socket.AF_INET
    raw = socket.inet_pton(fam, text)
    return raw + bytes(16 - len(raw))


def test_state_and_flag_names():
    assert [_net.state2str(i) for i in (1, 2, 7, 10, 12)] == [
        "ESTABLISHED", "SYN_SENT", "CLOSE", "LISTEN", "NEW_SYN_RECV"]
    assert _net.state2str(99) == "99"
    assert _net.flags2str(0x18) == "PSH|ACK"
    assert _net.flags2str(0x12) == "SYN|ACK"
    assert _net.flags2str(0xff) == "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"
    assert _net.flags2str(0) == ""


def test_addresses_and_ports():
    assert _net.ntop(2, a16("10.1.2.3")) == "10.1.2.3"
    assert _net.ntop(10, a16("fd00::1")) == "fd00::1"
    assert _net.ipver(2) == 4 and _net.ipver(10) == 6
    assert _net.port_list("80, 443,0") == [80, 443, 0]
    for bad in ("", "a", "65536", "-1"):
        with pytest.raises(Exception):
            _net.port_list(bad)
    assert _net.netns_id("4026531833") == 4026531833


def _dns_response(name, ips, qdcount=1, flags=0x8180):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + b"\0\1\0\1"
    ans = b""
    for ip in ips:
        if ":" in ip:
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + socket.inet_pton(
                socket.AF_INET6, ip)
        else:
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
    return struct.pack("!6H", 1, flags, qdcount, len(ips), 0, 0) + q + ans


def test_dns_parsing_and_cache():
    assert _net.parse_dns_answer(_dns_response("a.example.com", ["1.2.3.4", "2001:db8::1"])) == (
        "a.example.com", ["1.2.3.4", "2001:db8::1"])
    assert _net.parse_dns_answer(_dns_response("q.example", [], flags=0x0100)) is None  # a query
    assert _net.parse_dns_answer(_dns_response("t.example", ["1.2.3.4"])[:20]) is None
    assert _net.parse_dns_answer(b"\0" * 5) is None
    c = _net.DnsCache(maxsize=2, ttl=100)
    c.add("1.2.3.4", "a.example", now=0)
    assert _net.dns_text(c, "1.2.3.4", now=0.05) == "a.example"
    assert _net.dns_text(c, "1.2.3.4", now=0.5) == "a.example (500.000ms)"
    assert _net.dns_text(c, "127.0.0.1", now=0) == "localhost"
    assert _net.dns_text(c, "::1", now=0) == "localhost"
    assert _net.dns_text(c, "9.9.9.9", now=0) == "No DNS Query"
    assert _net.dns_text(c, "1.2.3.4", now=200) == "No DNS Query"        # expired
    c.add("5.5.5.5", "b", now=0)
    c.add("6.6.6.6", "c", now=0)
    assert c.get("1.2.3.4", now=0) is None                                # evicted


def test_journal_encoding():
    assert _net.Journal.encode({"A": 1, "B": "x=y"}) == b"A=1\nB=x=y\n"
    assert _net.Journal.encode({"M": "a\nb"}) == b"M\n" + struct.pack("<Q", 3) + b"a\nb\n"


def test_kernel_symbols(tmp_path):
    p = tmp_path / "kallsyms"
    p.write_text("ffffffff81000000 T _stext\nffffffff81000100 t tcp_v4_rcv\n"
                 "ffffffff81000200 D some_data\nffffffff81000300 T tcp_drop [bpf]\n")
    k = _net.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000108) == "tcp_v4_rcv+0x8"
    assert k.resolve(0xffffffff81000250) == "tcp_v4_rcv+0x150"     # data symbols skipped
    assert k.resolve(0xffffffff81000300, offset=False) == "tcp_drop"
    assert k.resolve(0x1000) == "[unknown]"


def test_tcpdrop_reasons_and_rows(tmp_path):
    fmt = ('print fmt: "...", __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, '
           '{ 3, "NO_SOCKET" }, { 33, "TCP_OLD_DATA" })')
    reasons = tcpdrop.drop_reasons(fmt)
    assert reasons[0] == "SKB_NOT_DROPPED_YET" and reasons[33] == "TCP_OLD_DATA"
    e = R(pid=0, family=2, saddr=a16("10.0.0.1"), daddr=a16("10.0.0.2"), sport=5000, dport=80,
          state=1, tcpflags=0x18, reason=33)
    row = tcpdrop.format_event(e, reasons)
    assert row[9:] == "%-7d %-2d %-20s > %-20s %-20s %s (%d)" % (
        0, 4, "10.0.0.1:5000", "10.0.0.2:80", "ESTABLISHED (PSH|ACK)", "TCP_OLD_DATA", 33)
    e.reason = 200
    assert tcpdrop.format_event(e, reasons).endswith("UNKNOWN (200)")
    p = tmp_path / "k"
    p.write_text("1000 T bpf_prog_abc_kfree_skb\n2000 T bpf_trace_run4\n3000 T tcp_rcv\n")
    raw = struct.pack("<4Q", 0x1001, 0x2002, 0x3003, 0)
    assert tcpdrop.stack_lines(raw, _net.KernelSymbols(str(p))) == ["\ttcp_rcv+0x3"]


def test_tcpconnect_rows_and_counts():
    a = R(timestamp=True, print_uid=True, lport=False, dns=False)
    e = R(ts_us=3500000, uid=1000, pid=42, comm="curl", family=2, saddr=a16("10.0.0.1"),
          daddr=a16("10.0.0.2"), lport=40000, dport=80)
    assert tcpconnect.format_event(e, a, 1000000) == (
        "2.500    1000  42      curl         4  10.0.0.1         10.0.0.2         80     ")
    a.lport, a.timestamp, a.print_uid = True, False, False
    assert tcpconnect.format_event(e, a, 0, "example.com") == (
        "42      curl         4  10.0.0.1         40000  10.0.0.2         80     example.com")
    items = [(R(family=10, saddr=a16("::1"), daddr=a16("::1"), dport=22), 5),
             (R(family=2, saddr=a16("1.1.1.1"), daddr=a16("2.2.2.2"), dport=80), 1),
             (R(family=2, saddr=a16("1.1.1.1"), daddr=a16("3.3.3.3"), dport=443), 7)]
    lines = tcpconnect.format_counts(items).split("\n")
    assert lines[0] == "" and lines[1].split() == ["LADDR", "RADDR", "RPORT", "CONNECTS"]
    assert [l.split()[1] for l in lines[2:]] == ["3.3.3.3", "2.2.2.2", "::1"]


def test_tcpretrans_rows_and_counts():
    a = R(sequence=False)
    e = R(pid=0, family=2, laddr=a16("10.0.0.1"), lport=22, raddr=a16("10.0.0.2"), rport=5000,
          type=1, state=1, seq=12345)
    assert tcpretrans.format_event(e, a)[8:] == " %-7d %-2d %-20s %1s> %-20s %s" % (
        0, 4, "10.0.0.1:22", "R", "10.0.0.2:5000", "ESTABLISHED")
    a.sequence = True
    assert tcpretrans.format_event(e, a).endswith("ESTABLISHED  12345")
    assert tcpretrans.header(a).endswith(" STATE        SEQ       ")
    items = [(R(family=2, laddr=a16("1.1.1.1"), lport=1, raddr=a16("2.2.2.2"), rport=2), 9),
             (R(family=2, laddr=a16("1.1.1.1"), lport=3, raddr=a16("2.2.2.2"), rport=4), 2)]
    lines = tcpretrans.format_counts(items).split("\n")
    assert lines[2] == "%-20s <-> %-20s %10d" % ("[1.1.1.1]#3", "[2.2.2.2]#4", 2)
    assert lines[3].split()[0] == "[1.1.1.1]#1"


def test_tcplife_and_tcpstates_formats():
    a = R(time=False, timestamp=False, wide=False, csv=False)
    e = R(pid=7, comm="sshd", family=2, laddr=a16("10.0.0.1"), lport=22, raddr=a16("10.0.0.9"),
          rport=51000, tx_b=5000, rx_b=1023, span_us=1500, ts_us=0)
    assert tcplife.format_event(e, a, 0) == "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f" % (
        7, "sshd", "", "10.0.0.1", 22, "10.0.0.9", 51000, 4, 0, 1.5)
    a.csv, a.timestamp = True, True
    e.ts_us = 2500000
    assert tcplife.format_event(e, a, 500000) == "2.000000,7,sshd,4,10.0.0.1,22,10.0.0.9,51000,4,0,1.50"
    s = R(skaddr=0xffff888102dba500, pid=1, comm="swapper/0", family=10, laddr=a16("::1"),
          lport=80, raddr=a16("::1"), rport=9, oldstate=2, newstate=1, span_us=250, ts_us=0)
    b = R(time=False, timestamp=False, wide=False, csv=False)
    assert tcpstates.format_event(s, b, 0) == (
        "ffff888102dba500 1     swapper/0  ::1             80    ::1             9     "
        "SYN_SENT    -> ESTABLISHED 0.250")
    b.wide = True
    assert tcpstates.header(b).split()[3] == "IP"
    f = tcpstates.journal_fields(s)
    assert f["OBJECT_IPV6_SOURCE_ADDRESS"] == "::1" and f["OBJECT_TCP_NEW_STATE"] == "ESTABLISHED"


def test_accept_connlat_bind_listen_top_rows():
    e = R(ts_us=0, pid=9, comm="nginx", family=2, raddr=a16("10.0.0.2"), rport=5555,
          laddr=a16("10.0.0.1"), lport=80)
    a = R(time=False, timestamp=False)
    assert tcpaccept.format_event(e, a, 0) == "%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d" % (
        9, "nginx", 4, "10.0.0.2", 5555, "10.0.0.1", 80)
    c = R(ts_us=0, pid=9, comm="curl", family=2, saddr=a16("10.0.0.1"), daddr=a16("10.0.0.2"),
          lport=40000, dport=80, delta_us=1234)
    assert tcpconnlat.format_event(c, R(timestamp=False, lport=False), 0).endswith(" 80    1.23")
    assert bindsnoop.opts2str(0b01001) == "F..R." and bindsnoop.opts2str(0) == "....."
    assert bindsnoop.proto2str(6) == "TCP" and bindsnoop.proto2str(17) == "UDP"
    assert bindsnoop.proto2str(12345) == "UNKNOWN"
    b = R(ts_us=0, uid=0, ret=-98, pid=5, comm="x", protocol=6, family=2, addr=a16("0.0.0.0"),
          port=80, opts=0, bound_dev_if=0)
    args = R(timestamp=False, print_uid=False, errors=True, wide=True)
    assert bindsnoop.format_event(b, args, 0).startswith("%-25s " % "Unknown error -98")
    lst = R(pid=1, comm="sshd", netns=4026531840, family=10, backlog=128, port=22,
            addr=a16("::"))
    assert solisten.format_event(lst, R(show_netns=True)) == (
        "%-7d %-12.12s %-12d %-6s %-8d %-5d %-39s" % (1, "sshd", 4026531840, "TCPv6", 128, 22,
                                                        "::"))
    items = [(R(pid=1, comm="a", family=2, saddr=a16("1.1.1.1"), lport=1, daddr=a16("2.2.2.2"),
                dport=2), R(sent=1024, received=0)),
             (R(pid=2, comm="b", family=2, saddr=a16("1.1.1.1"), lport=3, daddr=a16("2.2.2.2"),
                dport=4), R(sent=0, received=4096))]
    text = tcptop.render(items).split("\n")
    assert text[0].split() == ["PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"]
    assert text[1].split() == ["2", "b", "1.1.1.1:3", "2.2.2.2:4", "4", "0"]
    assert text[2].split() == ["1", "a", "1.1.1.1:1", "2.2.2.2:2", "0", "1"]


@pytest.mark.parametrize("tool,flag", [
    ("tcpconnect", "--dns"), ("tcpaccept", "--time"), ("tcpconnlat", "duration_ms"),
    ("tcplife", "--remoteport"), ("tcpretrans", "--lossprobe"), ("tcpstates", "--journal"),
    ("tcptop", "--nosummary"), ("tcpdrop", "--pid-netns"), ("bindsnoop", "--errors"),
    ("solisten", "--show-netns"),
])
def test_help(tool, flag):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "corebpf", tool, "-h"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "examples:" in r.stdout and flag in r.stdout, r.stderr
    assert "--ebpf" not in r.stdout
