"""Trace TCP packets dropped by the kernel: one line per drop with the packet's
addresses, the socket's state, the TCP flags and the drop reason, then the
kernel stack of the drop.

Here drops are read from the skb:kfree_skb tracepoint (drops with a reason
above NOT_SPECIFIED on TCP sockets, Linux 5.17+); kernels that still have
tcp_drop() and kprobes can use bcc's probe on it.  Reason names come from
the running kernel.

examples:
    tcpdrop                  # trace kernel TCP drops
    tcpdrop -4               # only trace IPv4
    tcpdrop -6               # only trace IPv6
    tcpdrop --netns-id 4026531840   # only drops in this network namespace
    tcpdrop --pid-netns 181  # only drops in the network namespace of PID 181
"""
from __future__ import annotations

import os
import re
import struct
import time

import corebpf

from . import _cli, _containers, _jsonl, _net

PROG = "tcpdrop"
WARNING = ("WARNING: tcp_drop() kernel function not found or traceable. "
           "Use tracepoint:skb:kfree_skb instead.")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _net.add_family(p)
    p.add_argument("--netns-id", type=_net.netns_id, default=0,
                   help="only trace this network namespace (inode number)")
    p.add_argument("--pid-netns", type=_cli.pid_type,
                   help="only trace the network namespace of this PID")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def drop_reasons(fmt_text: str) -> dict:
    """{code: name} from skb:kfree_skb's print format (the running kernel's
    enum skb_drop_reason, SKB_DROP_REASON_ prefix removed)."""
    names = {0: "SKB_NOT_DROPPED_YET", 1: "SKB_CONSUMED"}
    for code, name in re.findall(r'\{\s*(\d+),\s*"([A-Za-z0-9_]+)"\s*\}', fmt_text):
        names[int(code)] = name
    return names


def _kfree_skb_format() -> str:
    try:
        path = os.path.join(corebpf.features.tracefs(), "events/skb/kfree_skb/format")
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def header() -> str:
    return "%-8s %-7s %-2s %-20s > %-20s %-20s %s" % (
        "TIME", "PID", "IP", "SADDR:SPORT", "DADDR:DPORT", "STATE (FLAGS)", "REASON (CODE)")


def format_event(e, reasons: dict) -> str:
    return "%-8s %-7d %-2d %-20s > %-20s %-20s %s (%d)" % (
        time.strftime("%H:%M:%S"), e.pid, _net.ipver(e.family),
        "%s:%d" % (_net.ntop(e.family, e.saddr), e.sport),
        "%s:%d" % (_net.ntop(e.family, e.daddr), e.dport),
        "%s (%s)" % (_net.state2str(e.state), _net.flags2str(e.tcpflags)),
        reasons.get(e.reason, "UNKNOWN"), e.reason)


# frames of the tracing machinery itself, above the drop
_TRACING_FRAMES = ("bpf_prog_", "bpf_trace_run", "__bpf_trace_", "trace_call_bpf",
                   "perf_trace_", "kprobe_", "__kprobe", "kprobe_ftrace_handler")


F = _jsonl.Field
JSON = _jsonl.Events("one object per TCP packet dropped", [
    F("pid", "integer", "process ID in whose context it was dropped (often 0: softirq)"),
    _net.JSON_IP,
    _net.json_addr("saddr", "source address"),
    F("sport", "integer", "source port"),
    _net.json_addr("daddr", "destination address"),
    F("dport", "integer", "destination port"),
    F("state", "string", "TCP state of the socket", get=lambda e: _net.state2str(e.state)),
    F("tcpflags", "string", "TCP header flags (SYN|ACK...)",
      get=lambda e: _net.flags2str(e.tcpflags)),
    F("reason", "string", "drop reason (SKB_DROP_REASON_ without the prefix)", get=None),
    F("reason_code", "integer", "its number", get=lambda e: e.reason),
    F("stack", "frame[]", "kernel stack, innermost frame first, without the tracing "
                          "machinery's frames", get=None),
    _containers.FIELD,
])


def stack_addrs(raw: bytes) -> list:
    return [a for a in struct.unpack("<%dQ" % (len(raw) // 8), raw) if a]


def stack_frames(raw, ksyms) -> list:
    """--json: the stack's frames (_jsonl.frames), innermost first, the
    tracing machinery's leading frames dropped as in stack_lines."""
    out = _jsonl.frames(stack_addrs(raw) if raw is not None else [], ksyms.resolve)
    while out and (out[0]["symbol"] or "").startswith(_TRACING_FRAMES):
        out.pop(0)
    return out


def stack_lines(raw: bytes, ksyms) -> list:
    """'\\tsymbol+0xoff' per frame of a stack map value, innermost first,
    without the leading frames of the BPF/tracing machinery."""
    names = [ksyms.resolve(a) for a in stack_addrs(raw)]
    while names and names[0].startswith(_TRACING_FRAMES):
        names.pop(0)
    return ["\t%s" % n for n in names]


def run(argv=None):
    a = parse(argv)
    netns = a.netns_id
    if a.pid_netns:
        if netns:
            raise _cli.UsageError("--pid-netns and --netns-id not allowed together")
        netns = os.stat(f"/proc/{a.pid_netns}/ns/net").st_ino
    _cli.setup(a)
    fmt = _kfree_skb_format()
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_family = _net.family_of(a)
        obj.rodata.targ_netns = netns
        if "reason" not in fmt:
            # kfree_skb without a reason (< 5.17): only tcp_drop() can serve
            for p in obj.programs.values():
                if p.variant != "kprobe":
                    p.autoload = False
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        try:
            obj.load()
        except corebpf.MissingFeature as e:
            if "reason" in fmt:
                raise
            raise corebpf.MissingFeature(f"{e}, and its skb:kfree_skb tracepoint gives no "
                                         "drop reason (5.17)") from None
        obj.attach()
        reasons = drop_reasons(fmt)
        if obj.variant == "kprobe":
            reasons = {r: "NOT_SPECIFIED" for r in range(3)}
        stacks = obj.maps["stacks"]
        ksyms = _net.KernelSymbols()
        out = _cli.Output(json=a.json)
        kernel = None

        def on_event(e):
            if a.json:
                nonlocal kernel
                if kernel is None:
                    from corebpf.symbols.syms import kernel_symbols
                    kernel = kernel_symbols()
                raw = stacks.get(e.stack_id.to_bytes(4, "little")) if e.stack_id >= 0 else None
                out.obj(JSON.record(e, reason=reasons.get(e.reason, "UNKNOWN"),
                                    stack=stack_frames(raw, kernel)))
                return
            out(_containers.text(a, e) + format_event(e, reasons))
            if e.stack_id >= 0:
                raw = stacks.get(e.stack_id.to_bytes(4, "little"))
                if raw is not None:
                    for line in stack_lines(raw, ksyms):
                        out(line)
            out("")

        rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        if a.json:
            _jsonl.header(header())
        else:
            if obj.variant != "kprobe":
                print(WARNING)
            print(_containers.header(a) + header(), flush=True)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
