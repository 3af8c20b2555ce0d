"""Trace the lifespan of TCP sessions: one line per closed session with its
process, addresses, bytes sent and received, and duration.

Reads the sock:inet_sock_set_state tracepoint (kprobe tcp_set_state on
kernels without it) and the socket's byte counters at close: nothing per
packet.  PID and COMM are best effort, as in bcc: the task seen when the
session opened (client) or was closed by the peer, else the one running at
the close.

examples:
    tcplife           # trace all TCP sessions
    tcplife -T        # include a time column (HH:MM:SS)
    tcplife -w        # wider columns (fit IPv6)
    tcplife -stT      # csv output, with times and timestamps
    tcplife -p 181    # only trace PID 181
    tcplife -L 80     # only trace local port 80
    tcplife -L 80,81  # only trace local ports 80 and 81
    tcplife -D 80     # only trace remote port 80
    tcplife -4        # only trace IPv4
    tcplife -6        # only trace IPv6
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcplife"

HEADER = "%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s"
ROW = "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f"
WIDE_HEADER = "%-5s %-16.16s %-2s %-39s %-5s %-39s %-5s %6s %6s %s"
WIDE_ROW = "%-5d %-16.16s %-2s %-39s %-5s %-39s %-5d %6d %6d %.2f"
CSV_HEADER = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
CSV_ROW = "%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--time", action="store_true",
                   help="include a time column (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include a timestamp column (seconds)")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-L", "--localport", type=_net.port_list,
                   help="comma-separated list of local ports to trace")
    p.add_argument("-D", "--remoteport", type=_net.port_list,
                   help="comma-separated list of remote ports to trace")
    _net.add_family(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def _formats(a):
    if a.csv:
        return CSV_HEADER, CSV_ROW
    if a.wide:
        return WIDE_HEADER, WIDE_ROW
    return HEADER, ROW


def header(a) -> str:
    fmt, _ = _formats(a)
    ip = "IP" if a.wide or a.csv else ""
    return _net.time_prefix(a, header=True) + fmt % (
        "PID", "COMM", ip, "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP session, when it closes", [
    F("ts_us", "integer", "kernel time of the close (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    _net.JSON_IP,
    _net.json_addr("laddr", "local address"),
    F("lport", "integer", "local port"),
    _net.json_addr("raddr", "remote address"),
    F("rport", "integer", "remote port"),
    F("tx_bytes", "integer", "bytes sent", "bytes", get=lambda e: e.tx_b),
    F("rx_bytes", "integer", "bytes received", "bytes", get=lambda e: e.rx_b),
    F("duration_us", "integer", "session life span", "us", get=lambda e: e.span_us),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    _, fmt = _formats(a)
    ip = str(_net.ipver(e.family)) if a.wide or a.csv else ""
    return _net.time_prefix(a, e.ts_us, first_ts) + fmt % (
        e.pid, e.comm, ip, _net.ntop(e.family, e.laddr), e.lport,
        _net.ntop(e.family, e.raddr), e.rport, e.tx_b // 1024, e.rx_b // 1024,
        e.span_us / 1000)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_family = _net.family_of(a)
        ports = _net.PortSets(obj, lports=a.localport, rports=a.remoteport)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        ports.fill()
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
