"""Summarize the time spent in soft IRQs (or their count), per softirq
vector, as totals or histograms.

examples:
    softirqs            # sum soft irq event time
    softirqs -d         # show soft irq event time as histograms
    softirqs 1 10       # print 1 second summaries, 10 times
    softirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    softirqs -c 1       # sum soft irq event time on CPU 1 only
    softirqs -C         # count soft irq events instead of timing them
"""
from __future__ import annotations

from . import _cli, _irqs

PROG = "softirqs"
JSON = _irqs.json_spec("softirq", "soft irq")      # --json (tools/_jsonl.py)
# the kernel's softirq_to_name[] order (NR_SOFTIRQS = 10)
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
           "hrtimer", "rcu")


def vec_name(vec: int) -> str:
    return VECTORS[vec] if 0 <= vec < len(VECTORS) else str(vec)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _irqs.add_options(p, "events", "show the number of soft irq events")
    _cli.interval_count(p)
    return p.parse_args(argv)


def run(argv=None):
    a = parse(argv)
    if a.events and (a.dist or a.nanoseconds):
        raise _cli.UsageError("The --events option can't be used with time-based options")
    return _irqs.run(PROG, a, a.events, a.count, "soft irq", "SOFTIRQ", 16, "softirq",
                     vec_name)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
