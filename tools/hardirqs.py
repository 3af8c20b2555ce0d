"""Summarize the time spent in hard IRQ handlers (or their count), per
handler name, as totals or histograms.

examples:
    hardirqs            # sum hard irq event time
    hardirqs -d         # show hard irq event time as histograms
    hardirqs 1 10       # print 1 second summaries, 10 times
    hardirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    hardirqs -c 1       # sum hard irq event time on CPU 1 only
    hardirqs -C         # count hard irq events instead of timing them
"""
from __future__ import annotations

import corebpf

from . import _cli, _irqs

PROG = "hardirqs"
JSON = _irqs.json_spec("hardirq", "hard irq")      # --json (tools/_jsonl.py)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _irqs.add_options(p, "count", "show event counts instead of timing")
    p.add_argument("interval", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="output interval, in seconds")
    p.add_argument("outputs", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="number of outputs")
    return p.parse_args(argv)


def run(argv=None):
    a = parse(argv)
    if a.count and (a.dist or a.nanoseconds):
        raise _cli.UsageError("The --count option can't be used with time-based options")
    return _irqs.run(PROG, a, a.count, a.outputs, "hard irq", "HARDIRQ", 26, "hardirq",
                     lambda k: k.name)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
