"""Summarize kernel workqueue latency (from queue_work() to the work item
starting to run on a worker) as histograms.

examples:
    wqlat                   # summarize workqueue latency as a histogram
    wqlat 1 10              # print 1 second summaries, 10 times
    wqlat -W 1 10           # print 1 second, 10 times per workqueue
    wqlat -NT 1             # 1s summaries, nanoseconds, and timestamps
    wqlat -w nvmet_tcp_wq 1 # 1s summaries for workqueue nvmet_tcp_wq
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _jsonl

PROG = "wqlat"
WQ_NAME_LEN = 32


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-N", "--nanoseconds", action="store_true", help="output in nanoseconds")
    p.add_argument("-W", "--workqueues", action="store_true",
                   help="print a histogram per work queue")
    p.add_argument("-w", "--wqname", help="print this workqueue only")
    _cli.interval_count(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


JSON = _jsonl.Histograms("one object per interval: work queue request latency (queued to "
                         "executed)", ["usecs", "nsecs"], keys=[
    _jsonl.Field("wqname", "string", "the work queue's name (-W)", optional=True)])


def write_json(items, a):
    JSON.write("nsecs" if a.nanoseconds else "usecs",
               [({"wqname": k.name} if a.workqueues else {}, list(v.slots)) for k, v in items])


def render(items, a) -> str:
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    label = "nsecs" if a.nanoseconds else "usecs"
    if a.workqueues:
        out.append(histogram.format_sections([(k.name, list(v.slots)) for k, v in items],
                                             label, "wqname", str))
    else:
        for _, v in items:
            out.append(histogram.format_log2(list(v.slots), label))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    if a.wqname is not None:
        raw = a.wqname.encode("utf-8", "surrogateescape")
        if not raw or len(raw) >= WQ_NAME_LEN or b"\0" in raw:
            raise _cli.UsageError(f"workqueue name len must be 1 to {WQ_NAME_LEN - 1} bytes")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_per_wq = a.workqueues
        ro.targ_ns = a.nanoseconds
        if a.wqname is not None:
            ro.targ_filter = True
            ro.targ_wqname = raw.ljust(WQ_NAME_LEN, b"\0")
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        hists = obj.maps["hists"].raw_text(a.json)
        _jsonl.status(a, "Tracing work queue request latency time... Hit Ctrl-C to end.")

        def emit():
            if a.json:
                return write_json(hists.pop_items(), a)
            sys.stdout.write(render(hists.pop_items(), a))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
