"""Summarize cache references and misses by PID: last-level cache (LLC)
references, misses and hit ratio per process (or thread, -t) and CPU,
from sampled hardware cache events.

Needs the CPU's hardware PMU: virtual machines often have none, and then
the tool exits with one line saying so.

examples:
    llcstat               # 10 seconds, one in 100 events sampled
    llcstat 20 -c 1000    # 20 seconds, one in 1000 events
    llcstat -t            # per thread
"""
from __future__ import annotations

import errno
import sys

import corebpf
from corebpf.core import perf

from . import _cli, _jsonl

PROG = "llcstat"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-c", "--sample_period", type=_cli.positive_int, default=100,
                   help="Sample one in this many number of cache reference / miss events")
    p.add_argument("duration", nargs="?", default=10, type=_cli.positive_int,
                   help="Duration, in seconds, to run")
    p.add_argument("-t", "--tid", action="store_true",
                   help="Summarize cache references and misses by PID/TID")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object at the end: sampled LLC references and misses per "
                        "process (-t: thread) and CPU", fields=[
    F("references", "integer", "references sampled in all"),
    F("misses", "integer", "misses sampled in all"),
], rows=[
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID (-t)", optional=True),
    F("comm", "string", "command name"),
    F("cpu", "integer", "CPU"),
    F("references", "integer", "references (samples x the sample period)"),
    F("misses", "integer", "misses (samples x the sample period)"),
])


def json_rows(items, per_thread: bool) -> list:
    """--json: the rows report() prints (those with references)."""
    return [{"pid": k.pid, "tid": k.tid if per_thread else None, "comm": k.name,
             "cpu": k.cpu, "references": v.ref, "misses": v.miss}
            for k, v in items if v.ref]


def report(items, per_thread: bool) -> list:
    """bcc's table (map order) and its totals line."""
    head = "PID      " + ("TID      " if per_thread else "") + \
        "NAME             CPU     REFERENCE         MISS    HIT%"
    out = [head]
    tot_ref = tot_miss = 0
    for k, v in items:
        if not v.ref:
            continue                # misses sampled, references not: bcc skips these
        tot_ref += v.ref
        tot_miss += v.miss
        hit = v.ref - v.miss if v.ref >= v.miss else 0
        ids = "{:<8d} ".format(k.pid) + ("{:<8d} ".format(k.tid) if per_thread else "")
        out.append(ids + "{:<16s} {:<4d} {:>12d} {:>12d} {:>6.2f}%".format(
            k.name, k.cpu, v.ref, v.miss, hit / v.ref * 100.0))
    rate = (tot_ref - tot_miss) / tot_ref * 100.0 if tot_ref else 0.0
    out.append("Total References: {} Total Misses: {} Hit Rate: {:.2f}%".format(
        tot_ref, tot_miss, rate))
    return out


def attach(obj, period: int):
    for prog, config in (("on_cache_miss", perf.COUNT_HW_CACHE_MISSES),
                         ("on_cache_ref", perf.COUNT_HW_CACHE_REFERENCES)):
        try:
            perf.attach_event(obj.programs[prog], perf.TYPE_HARDWARE, config, period=period)
        except corebpf.BPFError as e:
            if e.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV):
                raise corebpf.MissingFeature(
                    "no hardware PMU: the %s event cannot be opened "
                    "(a virtual machine without a virtual PMU?)" % perf.EVENT_NAMES[
                        (perf.TYPE_HARDWARE, config)]) from None
            raise


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_per_thread = a.tid
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        from corebpf import features
        if not features.hardware_pmu():     # said before loading (corebpf doctor too)
            raise corebpf.MissingFeature("no hardware PMU: cache-references/cache-misses "
                                         "cannot be counted (a virtual machine without a "
                                         "virtual PMU?)")
        obj.load()
        attach(obj, a.sample_period)
        _jsonl.status(a, "Running for {} seconds or hit Ctrl-C to end.".format(a.duration))
        if _cli.sleep_until_done(a.duration) and not a.json:
            print()
        obj.detach()
        items = obj.maps["counts"].raw_text(a.json).items()
        if a.json:
            rows = json_rows(items, a.tid)
            JSON.write(rows, references=sum(r["references"] for r in rows),
                       misses=sum(r["misses"] for r in rows))
        else:
            sys.stdout.write("\n".join(report(items, a.tid)) + "\n")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
