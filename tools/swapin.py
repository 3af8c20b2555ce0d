"""Count swapin events by process.

Only a kernel function carries this (swap_read_folio, or swap_readpage on
older kernels), through fentry or kprobes; on a kernel without either it
says so and exits.

examples:
    swapin              # a summary every second until Ctrl-C
    swapin -T 5 3       # 5 second summaries, 3 times, no time line
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import features

from . import _cli, _jsonl

PROG = "swapin"
FUNCS = ("swap_read_folio", "swap_readpage")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--notime", action="store_true",
                   help="do not show the timestamp (HH:MM:SS)")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def render(items, notime: bool, now: str = None) -> str:
    out = [] if notime else [now or time.strftime("%H:%M:%S")]
    out.append("%-16s %-7s %s" % ("COMM", "PID", "COUNT"))
    for k, n in sorted(items, key=lambda kv: kv[1]):
        out.append("%-16s %-7d %d" % (k.comm, k.pid, n))
    return "\n".join(out) + "\n\n"


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: swap-ins per process in it", rows=[
    F("comm", "string", "command name", get=lambda kv: kv[0].comm),
    F("pid", "integer", "process ID", get=lambda kv: kv[0].pid),
    F("count", "integer", "pages swapped in", get=lambda kv: kv[1]),
])


def choose_programs(obj):
    """Before load: the fentry program's function, where fentry may serve."""
    func = next((f for f in FUNCS if features.kernel_function_exists(f)), None)
    if func is None:
        raise corebpf.MissingFeature(f"no kernel function to probe ({', '.join(FUNCS)})")
    if features.fentry() and features.forced_probe() in (None, "fentry"):
        _cli.fentry_target(obj.programs["swap__fentry"], func)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            _cli.attach_kprobe_any(obj.programs["swap__kprobe"], FUNCS)
        else:
            obj.attach()
        counts = obj.maps["counts"].raw_text(a.json)
        _jsonl.status(a, "Counting swap ins. Ctrl-C to end.")

        def emit():
            if a.json:
                JSON.write(sorted(counts.pop_items(), key=lambda kv: kv[1]))
                return
            sys.stdout.write(render(counts.pop_items(), a.notime))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
        _jsonl.status(a, "Detaching...")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
