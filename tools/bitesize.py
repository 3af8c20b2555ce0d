"""Show the sizes of block I/O requests as a histogram per process name,
printed on Ctrl-C.

examples:
    bitesize               # trace until Ctrl-C, then print the histograms
    bitesize --containers  # one histogram per container (the request's cgroup)
"""
from __future__ import annotations

import sys

import corebpf
from corebpf import histogram

from . import _cli, _containers, _jsonl

PROG = "bitesize"


def render(items, a=None) -> str:
    """One 'Process Name = COMM' section per process, sizes in Kbytes
    (--containers: `container = NAME`)."""
    if getattr(a, "containers", False):
        return _containers.format_sections([(k.cgroup, v) for k, v in items],
                                           lambda v: v.slots, "Kbytes")
    return histogram.format_sections([(k.comm, list(v.slots)) for k, v in items],
                                     "Kbytes", "Process Name", str)


JSON = _jsonl.Histograms("one object at the end: block I/O sizes per process", ["Kbytes"],
                         keys=[_jsonl.Field("comm", "string", "the issuing command's name "
                                            "(without --containers)", optional=True),
                               _containers.KEY])


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _containers.apply(obj, a, io=True)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if a.containers and obj.variant == "tp":
            raise corebpf.MissingFeature("per-container histograms need tp_btf or raw "
                                         "tracepoints (block_rq_issue), which this kernel lacks")
        obj.attach()
        dist = obj.maps["dist"].raw_text(a.json)
        _jsonl.status(a, "Tracing block I/O... Hit Ctrl-C to end.")

        def emit():
            if a.json and a.containers:
                return JSON.write("Kbytes", [({"container": n}, s) for n, _, s in
                                             _containers.sections(
                                                 [(k.cgroup, v) for k, v in dist.items()],
                                                 lambda v: v.slots)])
            if a.json:
                return JSON.write("Kbytes", [({"comm": k.comm}, list(v.slots))
                                             for k, v in dist.items()])
            sys.stdout.write(render(dist.items(), a))
            sys.stdout.flush()

        _cli.interval_loop(_cli.FOREVER, 1, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
