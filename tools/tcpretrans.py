"""Trace TCP retransmits: one line per retransmitted segment, with the flow
and the socket's state, or (-c) a count per flow printed at Ctrl-C.

Reads the tcp:tcp_retransmit_skb tracepoint (kprobe tcp_retransmit_skb on
kernels without it).  PID is whatever task the retransmit ran in: usually 0,
a timer.  -l also shows tail loss probes (T = L): the kernel has no
tracepoint for those, so -l needs a kernel with kprobes.

examples:
    tcpretrans           # trace TCP retransmits
    tcpretrans -s        # include the TCP sequence number
    tcpretrans -l        # include TLP attempts (needs kprobes)
    tcpretrans -c        # count retransmits per flow, print at Ctrl-C
    tcpretrans -4        # only trace IPv4
    tcpretrans -6        # only trace IPv6
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcpretrans"
TYPES = {1: "R", 2: "L"}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-s", "--sequence", action="store_true",
                   help="display TCP sequence numbers")
    p.add_argument("-l", "--lossprobe", action="store_true",
                   help="include tail loss probe attempts")
    p.add_argument("-c", "--count", action="store_true",
                   help="count retransmits per flow")
    _net.add_family(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    h = "%-8s %-7s %-2s %-20s %1s> %-20s" % ("TIME", "PID", "IP", "LADDR:LPORT", "T",
                                            "RADDR:RPORT")
    return h + (" %-12s %-10s" % ("STATE", "SEQ") if a.sequence else " %-4s" % "STATE")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP retransmit (or tail loss probe, -l)", [
    F("pid", "integer", "process ID in whose context it happened (often 0: softirq)"),
    _net.JSON_IP,
    _net.json_addr("laddr", "local address"),
    F("lport", "integer", "local port"),
    F("type", "string", "R (retransmit) or L (tail loss probe)",
      get=lambda e: TYPES.get(e.type, "?")),
    _net.json_addr("raddr", "remote address"),
    F("rport", "integer", "remote port"),
    F("state", "string", "TCP state (ESTABLISHED...)", get=lambda e: _net.state2str(e.state)),
    F("seq", "integer", "TCP sequence number of the segment"),
    _containers.FIELD,
])


def format_event(e, a) -> str:
    line = "%-8s %-7d %-2d %-20s %1s> %-20s" % (
        time.strftime("%H:%M:%S"), e.pid, _net.ipver(e.family),
        "%s:%d" % (_net.ntop(e.family, e.laddr), e.lport), TYPES.get(e.type, "?"),
        "%s:%d" % (_net.ntop(e.family, e.raddr), e.rport))
    if a.sequence:
        return line + " %-12s %s" % (_net.state2str(e.state), e.seq)
    return line + " %s" % _net.state2str(e.state)


def format_counts(items) -> str:
    """-c output: IPv4 flows, then IPv6, each in ascending order of count."""
    lines = ["\n%-25s %-25s %-10s" % ("LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS")]
    for fam in (_net.AF_INET, _net.AF_INET6):
        for k, v in sorted(((k, v) for k, v in items if k.family == fam), key=lambda kv: kv[1]):
            lines.append("%-20s <-> %-20s %10d" % (
                "[%s]#%d" % (_net.ntop(fam, k.laddr), k.lport),
                "[%s]#%d" % (_net.ntop(fam, k.raddr), k.rport), v))
    return "\n".join(lines)


def run(argv=None):
    a = parse(argv)
    if a.count and a.containers:
        raise _cli.UsageError("-c/--count counts per flow, not per container")
    if a.count and a.json:
        raise _cli.UsageError("-c/--count has no --json output")
    _cli.setup(a)
    if a.lossprobe and not corebpf.features.kprobes():
        raise corebpf.MissingFeature(
            "-l needs kprobes (CONFIG_KPROBES), which this kernel lacks: tail loss "
            "probes (tcp_send_loss_probe) have no tracepoint")
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_family = _net.family_of(a)
        obj.rodata.targ_count = a.count
        obj.programs["tlp"].autoload = a.lossprobe
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        if a.count:
            _net.prepare_decoders(obj.maps["counts"])
            print("Tracing retransmits ... Hit Ctrl-C to end", flush=True)
            _cli.wait_for_interrupt()
            print(format_counts(obj.maps["counts"].items()), flush=True)
            return 0
        if not a.json:
            print("Tracing retransmits ... Hit Ctrl-C to end", flush=True)
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
