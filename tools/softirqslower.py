"""Trace slow soft IRQs: softirqs that waited at least min_us between being
raised and their handler starting ("irq(hard) to softirq"), or whose handler
ran at least min_us ("softirq runtime").

examples:
    softirqslower        # trace softirq latency higher than 10000 us (default)
    softirqslower 100000 # trace softirq latency higher than 100000 us
    softirqslower -c 1   # trace softirq latency on CPU 1 only
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _jsonl
from .softirqs import vec_name

PROG = "softirqslower"
STAGES = ("raise softirq", "irq(hard) to softirq", "softirq runtime")
HEADER = "%-8s %-20s %-8s %-14s %-6s %-6s" % ("TIME", "STAGE", "SOFTIRQ", "LAT(us)", "CPU",
                                             "COMM")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("min_us", nargs="?", default=10000, type=_cli.nonneg_int,
                   help="minimum softirq latency to trace, in us (default 10000)")
    p.add_argument("-c", "--cpu", type=_cli.nonneg_int, help="trace this CPU only")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per softirq stage slower than min_us", [
    F("stage", "string", "raise softirq, irq(hard) to softirq, or softirq runtime",
      get=lambda e: STAGES[e.stage] if e.stage < len(STAGES) else str(e.stage)),
    F("softirq", "string", "the softirq (timer, net_rx...)", get=lambda e: vec_name(e.vec)),
    F("latency_ns", "integer", "time the stage took", "ns", get=lambda e: e.delta_ns),
    F("cpu", "integer", "CPU"),
    F("comm", "string", "command name of the task interrupted"),
])


def format_event(e, now: str) -> str:
    stage = STAGES[e.stage] if e.stage < len(STAGES) else str(e.stage)
    return "%-8s %-20s %-8s %-14d %-6d %-6s" % (now, stage, vec_name(e.vec),
                                                e.delta_ns // 1000, e.cpu, e.comm)


def run(argv=None):
    a = parse(argv)
    if a.cpu is not None and a.cpu not in corebpf.features.online_cpus():
        raise _cli.UsageError(f"CPU {a.cpu} is not online")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_min_ns = a.min_us * 1000
        if a.cpu is not None:
            obj.rodata.targ_cpu = a.cpu
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        rb, out = _jsonl.ring(obj, a, JSON, lambda e: format_event(e, time.strftime("%H:%M:%S")),
                              "Tracing softirq latency higher than %d us... Hit Ctrl-C to end."
                              "\n" % a.min_us + HEADER)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
