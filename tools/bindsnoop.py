"""Trace bind() on IPv4 and IPv6 sockets (TCP, UDP, ...), one line per call,
with the socket options that shape a bind.

Here binds are read at the bind() syscall (the socket behind the fd, after
the call); kernels with kprobes can use bcc's inet_bind/inet6_bind probes.
A failed bind (-E) shows the address and port that were asked for.

OPTS (set before the bind):
    SOL_IP     IP_FREEBIND              F....
    SOL_IP     IP_TRANSPARENT           .T...
    SOL_IP     IP_BIND_ADDRESS_NO_PORT  ..N..
    SOL_SOCKET SO_REUSEADDR             ...R.
    SOL_SOCKET SO_REUSEPORT             ....r
IF is the SO_BINDTODEVICE interface index (0: none).

examples:
    bindsnoop           # trace all binds
    bindsnoop -t        # include timestamps
    bindsnoop -w        # wider columns (fit IPv6)
    bindsnoop -p 181    # only trace PID 181
    bindsnoop -P 80     # only trace port 80
    bindsnoop -P 80,81  # only trace ports 80 and 81
    bindsnoop -U        # include UID
    bindsnoop -u 1000   # only trace UID 1000
    bindsnoop -E        # include failed binds and their return code
    bindsnoop --count   # count binds per local address and port
    bindsnoop --cgroupmap mappath  # only trace cgroups in this BPF map
    bindsnoop --mntnsmap mappath   # only trace mount namespaces in the map
"""
from __future__ import annotations

import argparse
import os
import socket

import corebpf

from . import _cli, _jsonl, _net, _containers

PROG = "bindsnoop"
# The raw_syscalls variants' table (bpf_src/bindsnoop.bpf.c).
SYSCALLS = {"bind": 1}

HEADER = "%8s %-12.12s %-4s %-15s %-5s %5s %2s"
ROW = "%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d"
WIDE_HEADER = "%10s %-12.12s %-4s %-39s %-5s %5s %2s"
WIDE_ROW = "%10d %-12.12s %-4s %-39s %5d %-5s %2d"


def _protocols() -> dict:
    # as bcc: socket's IPPROTO_* names, the later one winning for shared numbers
    out = {}
    for name in socket.__all__:
        if name.startswith("IPPROTO_"):
            out[getattr(socket, name)] = name[len("IPPROTO_"):]
    return out


_PROTO = None


def proto2str(proto: int) -> str:
    global _PROTO
    if _PROTO is None:
        _PROTO = _protocols()
    return _PROTO.get(proto, "UNKNOWN")


def opts2str(bits: int) -> str:
    """bcc's OPTS column: FTNRr, '.' for options not set."""
    return "".join(c if bits & (1 << i) else "." for i, c in enumerate("FTNRr"))


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-P", "--port", type=_net.port_list,
                   help="comma-separated list of ports to trace")
    p.add_argument("-E", "--errors", action="store_true",
                   help="include failed binds and a return code column")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="trace this UID only")
    p.add_argument("--count", action="store_true", help="count binds per local address and port")
    _cli.container_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    p.add_argument("--debug-source", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def header(a) -> str:
    h = ""
    if a.timestamp:
        h += "%-9s " % "TIME(s)"
    if a.print_uid:
        h += "%6s " % "UID"
    if a.errors:
        h += ("%-25s " if a.wide else "%3s ") % "RC"
    return h + (WIDE_HEADER if a.wide else HEADER) % ("PID", "COMM", "PROT", "ADDR", "PORT",
                                                       "OPTS", "IF")


F = _jsonl.Field
JSON = _jsonl.Events("one object per bind() (failed ones too with -E)", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("uid", "integer", "user ID"),
    F("ret", "integer", "bind()'s return value (0 or -errno)"),
    F("protocol", "string", "IPPROTO_ name without the prefix (TCP, UDP...)",
      get=lambda e: proto2str(e.protocol)),
    _net.JSON_IP,
    _net.json_addr("addr", "local address bound"),
    F("port", "integer", "local port bound"),
    F("opts", "string", "socket options as bcc's OPTS column: FTNRr, '.' for unset",
      get=lambda e: opts2str(e.opts)),
    F("bound_dev_if", "integer", "interface index the socket is bound to, 0 if none"),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    line = ""
    if a.timestamp:
        line += "%-9.6f " % ((e.ts_us - first_ts) / 1e6)
    if a.print_uid:
        line += "%6d " % e.uid
    if a.errors:
        line += ("%-25s " % os.strerror(e.ret)) if a.wide else ("%3s " % e.ret)
    return line + (WIDE_ROW if a.wide else ROW) % (
        e.pid, e.comm, proto2str(e.protocol), _net.ntop(e.family, e.addr), e.port,
        opts2str(e.opts), e.bound_dev_if)


def format_counts(items) -> str:
    lines = ["\n%-32s %20s     %-10s" % ("LADDR", "LPORT", "BINDS")]
    for fam in (_net.AF_INET, _net.AF_INET6):
        for k, v in sorted(((k, v) for k, v in items if k.family == fam), key=lambda kv: -kv[1]):
            lines.append("%-32s %20s     %-10d" % (_net.ntop(fam, k.addr), k.port, v))
    return "\n".join(lines)


def run(argv=None):
    a = parse(argv)
    if a.count and a.json:
        raise _cli.UsageError("--count has no --json output")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.uid is not None:
            obj.rodata.targ_uid = a.uid
        obj.rodata.targ_errors = a.errors
        obj.rodata.targ_count = a.count
        ports = _net.PortSets(obj, ports=a.port)
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        if a.ebpf or a.debug_source:
            _cli.print_ebpf(obj, a.json)
            if a.ebpf:
                return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        ports.fill()
        obj.attach()
        if a.count:
            _net.prepare_decoders(obj.maps["counts"])
            print("Tracing binds ... Hit Ctrl-C to end", flush=True)
            _cli.wait_for_interrupt()
            print(format_counts(obj.maps["counts"].items()), flush=True)
            return 0
        first = []

        def text(e):
            if not first:
                first.append(e.ts_us)
            return format_event(e, a, first[0])

        if not a.json:
            print("Tracing binds ... Hit Ctrl-C to end", flush=True)
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
