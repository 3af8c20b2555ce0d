"""Trace TCP accepts: one line per connection a process accept()s, IPv4 and IPv6.

Here it is read when accept()/accept4() return, from the new socket; kernels
with kprobes can use bcc's inet_csk_accept() return probe instead.
(Connections accepted through io_uring are not seen.)

examples:
    tcpaccept           # trace all TCP accept()s
    tcpaccept -T        # include a time column (HH:MM:SS)
    tcpaccept -t        # include timestamps
    tcpaccept -P 80,81  # only trace local ports 80 and 81
    tcpaccept -p 181    # only trace PID 181
    tcpaccept -4        # only trace IPv4
    tcpaccept -6        # only trace IPv6
    tcpaccept --cgroupmap mappath  # only trace cgroups in this BPF map
    tcpaccept --mntnsmap mappath   # only trace mount namespaces in the map
"""
from __future__ import annotations

import time

import corebpf

from . import _jsonl, _cli, _net, _containers

PROG = "tcpaccept"
# The raw_syscalls variants' table (bpf_src/tcpaccept.bpf.c).
SYSCALLS = {"accept": 1, "accept4": 1}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--time", action="store_true",
                   help="include a time column (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-P", "--port", type=_net.port_list,
                   help="comma-separated list of local ports to trace")
    _net.add_family(p)
    _cli.container_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    h = ""
    if a.time:
        h += "%-9s" % "TIME"
    if a.timestamp:
        h += "%-9s" % "TIME(s)"
    return h + "%-7s %-12s %-2s %-16s %-5s %-16s %-5s" % (
        "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP connection accepted", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("ip", "integer", "IP version, 4 or 6", get=lambda e: _net.ipver(e.family)),
    F("raddr", "string", "remote address", get=lambda e: _net.ntop(e.family, e.raddr)),
    F("rport", "integer", "remote port"),
    F("laddr", "string", "local address", get=lambda e: _net.ntop(e.family, e.laddr)),
    F("lport", "integer", "local port"),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    line = ""
    if a.time:
        line += "%-9s" % time.strftime("%H:%M:%S")
    if a.timestamp:
        line += "%-9.3f" % ((e.ts_us - first_ts) / 1e6)
    return line + "%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d" % (
        e.pid, e.comm, _net.ipver(e.family), _net.ntop(e.family, e.raddr), e.rport,
        _net.ntop(e.family, e.laddr), e.lport)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_family = _net.family_of(a)
        ports = _net.PortSets(obj, ports=a.port)
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        _cli.drop_missing_syscalls(obj)     # accept() is not on every architecture
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
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
