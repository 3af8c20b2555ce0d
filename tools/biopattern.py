"""Show block device I/O pattern: the share of random and sequential
requests per disk (a request is sequential when it starts where the disk's
previous request ended), their count and kilobytes.

examples:
    biopattern            # show block device I/O pattern.
    biopattern 1 10       # print 1 second summaries, 10 times
    biopattern -d sdb     # show sdb only
"""
from __future__ import annotations

import sys
import time

import corebpf

from . import _block, _cli, _jsonl

PROG = "biopattern"
HEADER = "%-9s %-7s %5s %5s %8s %10s" % ("TIME", "DISK", "%RND", "%SEQ", "COUNT", "KBYTES")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-d", "--disk", help="Trace this disk only")
    _cli.interval_count(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: random and sequential block I/O per disk "
                        "in it", rows=[
    F("disk", "string", "disk name, Unknown if unknown"),
    F("random", "integer", "random I/O requests"),
    F("sequential", "integer", "sequential I/O requests"),
    F("bytes", "integer", "bytes transferred", "bytes"),
])


def json_rows(items, names) -> list:
    return [{"disk": names.get(dev, "Unknown"), "random": c.random,
             "sequential": c.sequential, "bytes": c.bytes}
            for dev, c in items if c.random + c.sequential]


def rows(items, names, now: str) -> list:
    out = []
    for dev, c in items:
        total = c.random + c.sequential
        if total == 0:
            continue
        rnd = int(round(c.random * 100 / total))
        out.append("%-9s %-7s %5d %5d %8d %10d" % (now, names.get(dev, "Unknown"), rnd,
                                                    100 - rnd, total, c.bytes // 1024))
    return out


def run(argv=None):
    a = parse(argv)
    names = _block.DiskNames()
    dev = _block.disk_dev(a.disk, names.names) if a.disk else 0
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_dev = dev
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        counters = obj.maps["counters"]
        _jsonl.status(a, HEADER)

        def emit():
            if a.json:
                return JSON.write(json_rows(counters.pop_items(), names))
            lines = rows(counters.pop_items(), names, time.strftime("%H:%M:%S"))
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
