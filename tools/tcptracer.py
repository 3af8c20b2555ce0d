"""Trace TCP connections: established by connect() (C), accepted (A) and
closed (X), with the process, addresses, ports and (-v) network namespace.

examples:
    tcptracer              # trace all TCP connect, accept and close
    tcptracer -t           # include timestamps
    tcptracer -p 181       # only trace PID 181
    tcptracer -N 4026531992  # only trace this network namespace
    tcptracer -v           # long event types and the network namespace
    tcptracer -4           # trace IPv4 family only
    tcptracer -6           # trace IPv6 family only
    tcptracer --cgroupmap mappath  # only trace cgroups in this BPF map
    tcptracer --mntnsmap mappath   # only trace mount namespaces in the map
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcptracer"
TYPES = {1: "C", 2: "A", 3: "X"}
VERBOSE_TYPES = {"C": "connect", "A": "accept", "X": "close", "U": "unknown"}


def parse(argv=None):
    # bcc's -v/--verbose: long types and the NETNS column (libbpf's log: COREBPF_DEBUG=1)
    p = _cli.Parser(PROG, __doc__, verbose=False)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-N", "--netns", type=_net.netns_id,
                   help="trace this Network Namespace only")
    _cli.container_args(p)
    _net.add_family(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    p.add_argument("-v", "--verbose", dest="bcc_verbose", action="store_true",
                   help="include Network Namespace in the output")
    return p.parse_args(argv)


def header(a) -> str:
    if a.bcc_verbose:
        return (("%-14s" % "TIME(ns)" if a.timestamp else "")
                + "%-12s %-6s %-16s %-2s %-16s %-16s %-6s %-7s" % (
                    "TYPE", "PID", "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT")
                + ("" if a.netns else "%-8s" % "NETNS"))
    return (("%-9s" % "TIME(s)" if a.timestamp else "")
            + "%-2s %-6s %-16s %-2s %-16s %-16s %-6s %-6s" % (
                "T", "PID", "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT"))


def _addr(e, raw) -> str:
    return _net.ntop(_net.AF_INET if e.ip == 4 else _net.AF_INET6, raw)


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP connection established (C), accepted (A), closed (X)", [
    F("ts_ns", "integer", "kernel time (CLOCK_MONOTONIC)", "ns"),
    F("type", "string", "C (connect), A (accept), X (close)",
      get=lambda e: TYPES.get(e.type, "U")),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("ip", "integer", "IP version, 4 or 6"),
    F("saddr", "string", "local address", get=lambda e: _addr(e, e.saddr)),
    F("daddr", "string", "remote address", get=lambda e: _addr(e, e.daddr)),
    F("sport", "integer", "local port"),
    F("dport", "integer", "remote port"),
    F("netns", "integer", "network namespace inode number"),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    out = ""
    if a.timestamp:
        out = ("%-14d" % (e.ts_ns - first_ts) if a.bcc_verbose
               else "%-9.3f" % ((e.ts_ns - first_ts) / 1e9))
    t = TYPES.get(e.type, "U")
    out += "%-12s " % VERBOSE_TYPES[t] if a.bcc_verbose else "%-2s " % t
    family = _net.AF_INET if e.ip == 4 else _net.AF_INET6
    saddr, daddr = _net.ntop(family, e.saddr), _net.ntop(family, e.daddr)
    if e.ip == 6:
        saddr, daddr = "[%s]" % saddr, "[%s]" % daddr
    out += "%-6d %-16s %-2d %-16s %-16s %-6d %-6d" % (e.pid, e.comm, e.ip, saddr, daddr,
                                                    e.sport, e.dport)
    if a.bcc_verbose and not a.netns:
        out += " %-8d" % e.netns
    return out


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_tgid = a.pid or 0
        ro.targ_netns = a.netns or 0
        ro.targ_family = _net.family_of(a)
        _cli.apply_containers(obj, a)
        _cli.drop_missing_syscalls(obj)     # accept() is not on every architecture
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        first = []

        def text(e):
            if not first:
                first.append(e.ts_ns)
            return format_event(e, a, first[0])

        head, text = _containers.column(
            a, "Tracing TCP established connections. Ctrl-C to end.\n" + header(a), text)
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
