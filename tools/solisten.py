"""Trace listen() on IPv4 and IPv6 stream sockets, one line per call (also
calls that fail), with the backlog and the address listened on.

Here it is read at the listen() syscall's return, so a socket that was not
bound shows the port listen() gave it; kernels with kprobes can use bcc's
inet_listen() probe instead.

examples:
    solisten              # trace listen() on stream sockets
    solisten -p 1234      # only trace PID 1234
    solisten --netns 4242 # only trace network namespace 4242
    solisten --show-netns # show the network namespace (useful for containers)
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "solisten"
# The raw_syscalls variants' table (bpf_src/solisten.bpf.c).
SYSCALLS = {"listen": 1}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("--show-netns", action="store_true", help="show the network namespace")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-n", "--netns", type=_net.netns_id, default=0,
                   help="trace this network namespace only (inode number)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    if a.show_netns:
        return "%-7s %-12s %-12s %-6s %-8s %-5s %-39s" % (
            "PID", "COMM", "NETNS", "PROTO", "BACKLOG", "PORT", "ADDR")
    return "%-7s %-12s %-6s %-8s %-5s %-39s" % ("PID", "COMM", "PROTO", "BACKLOG", "PORT", "ADDR")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP listen()", [
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("netns", "integer", "network namespace inode number"),
    F("proto", "string", "TCPv4 or TCPv6",
      get=lambda e: "TCPv4" if e.family == _net.AF_INET else "TCPv6"),
    F("backlog", "integer", "listen()'s backlog"),
    F("port", "integer", "local port"),
    _net.json_addr("addr", "local address"),
    _containers.FIELD,
])


def format_event(e, a) -> str:
    proto = "TCP" + ("v4" if e.family == _net.AF_INET else "v6")
    addr = _net.ntop(e.family, e.addr)
    if a.show_netns:
        return "%-7d %-12.12s %-12d %-6s %-8d %-5d %-39s" % (
            e.pid, e.comm, e.netns, proto, e.backlog, e.port, addr)
    return "%-7d %-12.12s %-6s %-8d %-5d %-39s" % (e.pid, e.comm, proto, e.backlog, e.port, addr)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_netns = a.netns
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        head, text = _containers.column(a, header(a), lambda e: format_event(e, a))
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
