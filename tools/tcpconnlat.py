"""Trace TCP active connects and show their latency: the time from the SYN
sent to the SYN/ACK processed, per connection, IPv4 and IPv6.

Here it is measured between the socket's state changes CLOSE -> SYN_SENT and
SYN_SENT -> ESTABLISHED (sock:inet_sock_set_state); kernels with kprobes but
without that tracepoint use bcc's tcp_v4/v6_connect and
tcp_rcv_state_process probes.

examples:
    tcpconnlat           # trace all TCP connect()s
    tcpconnlat 1         # only connects slower than 1 ms
    tcpconnlat 0.1       # only connects slower than 100 us
    tcpconnlat -t        # include timestamps
    tcpconnlat -p 181    # only trace PID 181
    tcpconnlat -L        # include LPORT
    tcpconnlat -4        # only trace IPv4
    tcpconnlat -6        # only trace IPv6
"""
from __future__ import annotations

import argparse

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcpconnlat"


def min_ms(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a float") from None
    if v < 0 or v != v or v > min_ms.hi:
        raise argparse.ArgumentTypeError("must be positive" if not v >= 0 else
                                         f"too large: {text} (at most {min_ms.hi:g})")
    return v


min_ms.lo, min_ms.hi = 0, 1e12      # targ_min_us (u64) = ms * 1000


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    _net.add_family(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    p.add_argument("duration_ms", nargs="?", default=0, type=min_ms,
                   help="minimum latency to show (ms, fractions allowed)")
    p.add_argument("-v", "--verbose", dest="show_programs", action="store_true",
                   help="print the BPF programs and settings used, then trace")
    return p.parse_args(argv)


def header(a) -> str:
    h = "%-9s" % "TIME(s)" if a.timestamp else ""
    if a.lport:
        return h + "%-7s %-12s %-2s %-16s %-6s %-16s %-5s %s" % (
            "PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT", "LAT(ms)")
    return h + "%-7s %-12s %-2s %-16s %-16s %-5s %s" % (
        "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT", "LAT(ms)")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP connection established (active open)", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    _net.JSON_IP,
    _net.json_addr("saddr", "source address"),
    F("lport", "integer", "source port"),
    _net.json_addr("daddr", "destination address"),
    F("dport", "integer", "destination port"),
    F("latency_us", "integer", "SYN sent to connection established", "us",
      get=lambda e: e.delta_us),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    line = "%-9.3f" % ((e.ts_us - first_ts) / 1e6) if a.timestamp else ""
    saddr, daddr = _net.ntop(e.family, e.saddr), _net.ntop(e.family, e.daddr)
    if a.lport:
        return line + "%-7d %-12.12s %-2d %-16s %-6d %-16s %-5d %.2f" % (
            e.pid, e.comm, _net.ipver(e.family), saddr, e.lport, daddr, e.dport,
            e.delta_us / 1000)
    return line + "%-7d %-12.12s %-2d %-16s %-16s %-5d %.2f" % (
        e.pid, e.comm, _net.ipver(e.family), saddr, daddr, e.dport, e.delta_us / 1000)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_family = _net.family_of(a)
        # bcc: fractions of a ms, rounded down to whole microseconds
        obj.rodata.targ_min_us = int(a.duration_ms * 1000)
        _containers.apply(obj, a)
        if a.ebpf or a.show_programs:
            _cli.print_ebpf(obj, a.json)
            if a.ebpf:
                return 0
        obj.load()
        obj.attach()
        first = []

        def text(e):
            if not first:
                first.append(e.ts_us)
            return format_event(e, a, first[0])

        head, text = _containers.column(a, header(a), text)
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
