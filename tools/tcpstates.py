"""Trace TCP state changes: one line per change, with the time the socket spent
in the previous state.  C-PID and C-COMM are the task running at the change,
which for changes made in softirq context is unrelated to the socket.

Reads the sock:inet_sock_set_state tracepoint (kprobe tcp_set_state on
kernels without it).  -Y also sends each change to the systemd journal
(journald's native socket; no Python module needed).

examples:
    tcpstates           # trace all TCP state changes
    tcpstates -t        # include a timestamp column
    tcpstates -T        # include a time column (HH:MM:SS)
    tcpstates -w        # wider columns (fit IPv6)
    tcpstates -stT      # csv output, with times and timestamps
    tcpstates -Y        # also log to the systemd journal
    tcpstates -L 80     # only trace local port 80
    tcpstates -L 80,81  # only trace local ports 80 and 81
    tcpstates -D 80     # only trace remote port 80
    tcpstates -4        # only trace IPv4
    tcpstates -6        # only trace IPv6
"""
from __future__ import annotations

import os
import time

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcpstates"

HEADER = "%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s"
ROW = "%-16x %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f"
WIDE_HEADER = "%-16s %-5s %-16.16s %-2s %-39s %-5s %-39s %-5s %-11s -> %-11s %s"
WIDE_ROW = "%-16x %-5d %-16.16s %-2s %-39s %-5s %-39s %-5d %-11s -> %-11s %.3f"
CSV_HEADER = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
CSV_ROW = "%x,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--time", action="store_true",
                   help="include a time column (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include a timestamp column (seconds)")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    p.add_argument("-L", "--localport", type=_net.port_list,
                   help="comma-separated list of local ports to trace")
    p.add_argument("-D", "--remoteport", type=_net.port_list,
                   help="comma-separated list of remote ports to trace")
    p.add_argument("-Y", "--journal", action="store_true",
                   help="also log each state change to the systemd journal")
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
    return _net.time_prefix(a, header=True) + fmt % (
        "SKADDR", "C-PID", "C-COMM", "IP" if a.wide or a.csv else "", "LADDR", "LPORT",
        "RADDR", "RPORT", "OLDSTATE", "NEWSTATE", "MS")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP state change", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("skaddr", "string", "the socket's kernel address, hex", get=lambda e: hex(e.skaddr)),
    F("pid", "integer", "process ID in whose context it changed"),
    F("comm", "string", "command name in whose context it changed"),
    _net.JSON_IP,
    _net.json_addr("laddr", "local address"),
    F("lport", "integer", "local port"),
    _net.json_addr("raddr", "remote address"),
    F("rport", "integer", "remote port"),
    F("oldstate", "string", "the state left (ESTABLISHED...)",
      get=lambda e: _net.state2str(e.oldstate)),
    F("newstate", "string", "the state entered", get=lambda e: _net.state2str(e.newstate)),
    F("span_us", "integer", "time spent in the old state", "us"),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    _, fmt = _formats(a)
    ip = str(_net.ipver(e.family)) if a.wide or a.csv else ""
    return _net.time_prefix(a, e.ts_us, first_ts) + fmt % (
        e.skaddr, e.pid, e.comm, ip, _net.ntop(e.family, e.laddr), e.lport,
        _net.ntop(e.family, e.raddr), e.rport, _net.state2str(e.oldstate),
        _net.state2str(e.newstate), e.span_us / 1000)


def journal_fields(e) -> dict:
    """bcc's journal record for one state change."""
    pfx = "IPV4" if e.family == _net.AF_INET else "IPV6"
    f = {
        "SYSLOG_IDENTIFIER": "tcpstates",
        "PRIORITY": 5,
        "_SOURCE_REALTIME_TIMESTAMP": int(time.time() * 1000000),
        "OBJECT_PID": str(e.pid),
        "OBJECT_COMM": e.comm,
        "OBJECT_%s_SOURCE_ADDRESS" % pfx: _net.ntop(e.family, e.laddr),
        "OBJECT_TCP_SOURCE_PORT": str(e.lport),
        "OBJECT_%s_DESTINATION_ADDRESS" % pfx: _net.ntop(e.family, e.raddr),
        "OBJECT_TCP_DESTINATION_PORT": str(e.rport),
        "OBJECT_TCP_OLD_STATE": _net.state2str(e.oldstate),
        "OBJECT_TCP_NEW_STATE": _net.state2str(e.newstate),
        "OBJECT_TCP_SPAN_TIME": str(e.span_us),
    }
    f["MESSAGE"] = "%s %s %s \u2192 %s %s %s \u2192 %s" % (
        f["OBJECT_COMM"], f["OBJECT_%s_SOURCE_ADDRESS" % pfx], f["OBJECT_TCP_SOURCE_PORT"],
        f["OBJECT_%s_DESTINATION_ADDRESS" % pfx], f["OBJECT_TCP_DESTINATION_PORT"],
        f["OBJECT_TCP_OLD_STATE"], f["OBJECT_TCP_NEW_STATE"])
    if os.getuid() == 0:
        del f["OBJECT_COMM"]        # journald fills it in from OBJECT_PID
    return f


def run(argv=None):
    a = parse(argv)
    journal = None
    if a.journal:
        try:
            journal = _net.Journal()
        except OSError as e:
            raise corebpf.MissingFeature(f"journal logging needs systemd-journald ({e})")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
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
            if journal is not None:
                journal.send(**journal_fields(e))
            return format_event(e, a, first[0])

        spec = JSON
        if journal is not None and a.json:
            def record(e):
                journal.send(**journal_fields(e))
                return JSON.record(e)
            spec = _jsonl.Custom(record)
        head, text = _containers.column(a, header(a), text)
        rb, out = _jsonl.ring(obj, a, spec, text, head)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
            if journal is not None:
                journal.close()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
