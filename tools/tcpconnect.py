"""Trace active TCP connects (connect() that sent a SYN), IPv4 and IPv6.

Here a connect is seen through the sock:inet_sock_set_state tracepoint
(CLOSE -> SYN_SENT) and reported when connect() returns or the handshake
ends, whichever is first; kernels with kprobes but without that tracepoint
use bcc's tcp_v4_connect/tcp_v6_connect probes.  -d watches recvfrom() and
recvmsg() on UDP sockets for answers from port 53.

examples:
    tcpconnect           # trace all TCP connect()s
    tcpconnect -t        # include timestamps
    tcpconnect -d        # include the DNS query that likely led to each connect
    tcpconnect -p 181    # only trace PID 181
    tcpconnect -P 80     # only trace port 80
    tcpconnect -P 80,81  # only trace ports 80 and 81
    tcpconnect -4        # only trace IPv4
    tcpconnect -6        # only trace IPv6
    tcpconnect -U        # include UID
    tcpconnect -u 1000   # only trace UID 1000
    tcpconnect -c        # count connects per source IP and destination IP/port
    tcpconnect -L        # include LPORT
    tcpconnect --cgroupmap mappath  # only trace cgroups in this BPF map
    tcpconnect --mntnsmap mappath   # only trace mount namespaces in the map
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcpconnect"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-P", "--port", type=_net.port_list,
                   help="comma-separated list of destination ports to trace")
    _net.add_family(p)
    p.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="trace this UID only")
    p.add_argument("-c", "--count", action="store_true",
                   help="count connects per source IP and destination IP/port")
    _cli.container_args(p)
    p.add_argument("-d", "--dns", action="store_true",
                   help="include the likely DNS query associated with each connect")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    h = ""
    if a.timestamp:
        h += "%-9s" % "TIME(s)"
    if a.print_uid:
        h += "%-6s" % "UID"
    h += _containers.header(a)
    if a.lport:
        h += "%-7s %-12s %-2s %-16s %-6s %-16s %-6s" % ("PID", "COMM", "IP", "SADDR", "LPORT",
                                                      "DADDR", "DPORT")
    else:
        h += "%-7s %-12s %-2s %-16s %-16s %-6s" % ("PID", "COMM", "IP", "SADDR", "DADDR", "DPORT")
    return h + (" QUERY" if a.dns else "")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP connect()", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("uid", "integer", "user ID"),
    _net.JSON_IP,
    _net.json_addr("saddr", "source address"),
    F("lport", "integer", "source port"),
    _net.json_addr("daddr", "destination address"),
    F("dport", "integer", "destination port"),
    F("query", "string", "the likely DNS query for daddr, as bcc's QUERY column (-d)",
      get=lambda e: None, optional=True),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int, dns: str = "") -> str:
    line = ""
    if a.timestamp:
        line += "%-9.3f" % ((e.ts_us - first_ts) / 1e6)
    if a.print_uid:
        line += "%-6d" % e.uid
    line += _containers.text(a, e)
    saddr, daddr = _net.ntop(e.family, e.saddr), _net.ntop(e.family, e.daddr)
    if a.lport:
        return line + "%-7d %-12.12s %-2d %-16s %-6d %-16s %-6d %s" % (
            e.pid, e.comm, _net.ipver(e.family), saddr, e.lport, daddr, e.dport, dns)
    return line + "%-7d %-12.12s %-2d %-16s %-16s %-6d %s" % (
        e.pid, e.comm, _net.ipver(e.family), saddr, daddr, e.dport, dns)


def format_counts(items) -> str:
    """-c output: IPv4 flows, then IPv6, each by count, largest first."""
    lines = ["\n%-25s %-25s %-20s %-10s" % ("LADDR", "RADDR", "RPORT", "CONNECTS")]
    for fam in (_net.AF_INET, _net.AF_INET6):
        rows = sorted(((k, v) for k, v in items if k.family == fam), key=lambda kv: -kv[1])
        for k, v in rows:
            lines.append("%-25s %-25s %-20s %-10d" % (_net.ntop(fam, k.saddr),
                                                      _net.ntop(fam, k.daddr), k.dport, v))
    return "\n".join(lines)


def run(argv=None):
    a = parse(argv)
    if a.count and a.dns:
        raise _cli.UsageError("you may not specify -d/--dns with -c/--count")
    if a.count and a.containers:
        raise _cli.UsageError("-c/--count counts per address, not per container")
    if a.count and a.json:
        raise _cli.UsageError("-c/--count has no --json output")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.uid is not None:
            obj.rodata.targ_uid = a.uid
        obj.rodata.targ_family = _net.family_of(a)
        obj.rodata.targ_count = a.count
        ports = _net.PortSets(obj, ports=a.port)
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        for p in obj.programs.values():
            if p.name.startswith("dns_") and not a.dns:
                p.autoload = False
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        ports.fill()
        obj.attach()
        if a.count:
            _net.prepare_decoders(obj.maps["counts"])
            print("Tracing connect ... Hit Ctrl-C to end", flush=True)
            _cli.wait_for_interrupt()
            print(format_counts(obj.maps["counts"].items()), flush=True)
            return 0
        out = _cli.Output(json=a.json)
        first = []
        cache = _net.DnsCache()

        def on_dns(e):
            ans = _net.parse_dns_answer(bytes(e.pkt[:e.len]))
            if ans:
                for addr in ans[1]:
                    cache.add(addr, ans[0])

        def on_event(e):
            if not first:
                first.append(e.ts_us)
            dns = _net.dns_text(cache, _net.ntop(e.family, e.daddr)) if a.dns else ""
            if not a.json:
                out(format_event(e, a, first[0], dns))
            elif a.dns:
                out.obj(JSON.record(e, query=dns))
            else:
                out(JSON.line(e))

        if a.dns:
            rb = obj.ring_buffer("dns_events", on_dns, "events", on_event, raw_text=a.json)
        else:
            rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        if a.json:
            _jsonl.header("Tracing connect ... Hit Ctrl-C to end")
        else:
            print("Tracing connect ... Hit Ctrl-C to end", flush=True)
            print(header(a), flush=True)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
