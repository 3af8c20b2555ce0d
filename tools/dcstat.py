"""Directory entry cache (dcache) stats: lookups per second and the hit ratio.

REFS/s are fast path lookups (lookup_fast(), one per path component), SLOW/s
the lookups the fast path could not serve (d_lookup()), MISS/s those that
found nothing.  Only kernel functions carry this (fentry, else kprobes); on a
kernel without either it says so and exits.

examples:
    dcstat              # a line every second until Ctrl-C
    dcstat 5 3          # 5 second intervals, 3 lines
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _jsonl

PROG = "dcstat"
STATS = ("REFS", "SLOW", "MISS")
LOOKUP_FAST = (r"lookup_fast", r"lookup_fast\.constprop\.\d+")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("interval", nargs="?", default=1, type=_cli.positive_int,
                   help="output interval, in seconds (default 1)")
    p.add_argument("count", nargs="?", default=-1, type=_cli.positive_int,
                   help="number of outputs (default: until Ctrl-C)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


HEADER = "%-8s  " % "TIME" + "".join(" %8s" % (s + "/s") for s in STATS) + " %8s" % "HIT%"


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: dentry cache lookups in it", [
    F("interval_s", "integer", "length of the interval", "s"),
    F("refs", "integer", "lookups (fast path and d_lookup)"),
    F("slow", "integer", "lookups that took the slow path (d_lookup)"),
    F("miss", "integer", "lookups that found nothing"),
    F("hit_ratio", "number|null", "(refs - miss) / refs, 0 to 1; null without lookups"),
])


def format_line(refs: int, slow: int, miss: int, interval: int, now: str = None) -> str:
    out = "%-8s: " % (now or time.strftime("%H:%M:%S"))
    out += "".join(" %8d" % (v / interval) for v in (refs, slow, miss))
    if refs:
        return out + " %8.2f" % (100 * (refs - miss) / refs)
    return out + " %7s%%" % "-"


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            _cli.attach_kprobe_any(obj.programs["fast__kprobe"], LOOKUP_FAST)
            obj.attach("dlookup__kprobe")
        else:
            obj.attach()
        bss = obj.bss
        _jsonl.status(a, HEADER)
        last = (bss.refs, bss.slow, bss.miss)
        done = 0
        while a.count < 0 or done < a.count:
            if _cli.wait_stop(a.interval):
                break                   # bcc exits on Ctrl-C without a last line
            now = (bss.refs, bss.slow, bss.miss)
            refs, slow, miss = (n - l for n, l in zip(now, last))
            if a.json:
                JSON.write(interval_s=a.interval, refs=refs, slow=slow, miss=miss,
                           hit_ratio=(refs - miss) / refs if refs else None)
            else:
                print(format_line(refs, slow, miss, a.interval), flush=True)
            last = now
            done += 1
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
