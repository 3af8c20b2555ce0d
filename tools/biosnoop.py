"""Trace block device I/O: one line per completed request, with the process
that submitted it, the disk, sector, size and latency.

examples:
    biosnoop           # trace all block I/O
    biosnoop -Q        # also show the time queued in the OS
    biosnoop -d vda    # trace disk vda only
    biosnoop -P        # show whether each I/O continues the previous one (S) or not (R)
"""
from __future__ import annotations

import corebpf

from . import _block, _cli, _containers, _jsonl

PROG = "biosnoop"
PATTERN = {1: "S", 2: "R"}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-Q", "--queue", action="store_true", help="include OS queued time")
    p.add_argument("-d", "--disk", help="trace this disk only (a name in /proc/diskstats)")
    p.add_argument("-P", "--pattern", action="store_true",
                   help="show the block I/O pattern (sequential or random)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    h = "%-11s %-14s %-7s %-9s %-1s %-10s %-7s" % ("TIME(s)", "COMM", "PID", "DISK", "T",
                                                  "SECTOR", "BYTES")
    if a.pattern:
        h += "%-1s " % "P"
    if a.queue:
        h += "%7s " % "QUE(ms)"
    return h + "%7s" % "LAT(ms)"


F = _jsonl.Field
JSON = _jsonl.Events("one object per block I/O completed", [
    F("ts_ns", "integer", "completion, kernel time (CLOCK_MONOTONIC)", "ns", get=lambda e: e.ts),
    F("comm", "string|null", "submitter's command name, null if unknown",
      get=lambda e: e.comm if e.has_who else None),
    F("pid", "integer|null", "submitter's process ID, null if unknown",
      get=lambda e: e.pid if e.has_who else None),
    F("disk", "string|null", "disk name, null if unknown", get=None),
    F("op", "string", "R or W", get=lambda e: "W" if e.rwflag else "R"),
    F("sector", "integer", "first sector"),
    F("bytes", "integer", "size", "bytes", get=lambda e: e.len),
    F("pattern", "string", "S sequential, R random, ? unknown (-P)", optional=True),
    F("queue_ns", "integer", "submission to issue (-Q)", "ns", optional=True),
    F("latency_ns", "integer", "issue to completion", "ns", get=lambda e: e.delta),
    _containers.FIELD,
])


def format_event(e, a, first_us: int, names) -> str:
    """One line; `first_us` is the first completion's time (µs), `names` maps dev -> disk."""
    if e.has_who:
        comm, pid, disk, sector = e.comm, e.pid, names.get(e.dev, "<unknown>"), e.sector
    else:       # submitted before we started (or never seen): what bcc prints
        comm, pid, disk, sector = "?", 0, "<unknown>", 0
    line = "%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s" % (
        (e.ts // 1000 - first_us) / 1000000, comm, pid, disk, "W" if e.rwflag else "R",
        sector, e.len)
    if a.pattern:
        line += "%-1s " % PATTERN.get(e.pattern, "?")
    if a.queue:
        line += "%7.2f " % (e.qdelta / 1000000)
    return line + "%7.2f" % (e.delta / 1000000)


def run(argv=None):
    a = parse(argv)
    names = _block.DiskNames()
    dev = _block.disk_dev(a.disk, names.names) if a.disk else 0
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_dev = dev
        obj.rodata.targ_queued = a.queue
        obj.rodata.targ_pattern = a.pattern
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _block.attach_requests(obj)
        first = []

        def text(e):
            if not first:
                first.append(e.ts // 1000)
            return format_event(e, a, first[0], names)

        def record(e):
            return JSON.record(e, disk=names.get(e.dev, None) if e.has_who else None,
                               pattern=PATTERN.get(e.pattern, "?") if a.pattern else None,
                               queue_ns=e.qdelta if a.queue else None)

        head, text = _containers.column(a, header(a), text)
        rb, out = _jsonl.ring(obj, a, _jsonl.Custom(record), text, head)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
