"""Show the sizes of block I/O requests as a histogram per process name,
printed on Ctrl-C.

examples:
    bitesize          # trace until Ctrl-C, then print the histograms
"""
from __future__ import annotations

import sys

import corebpf
from corebpf import histogram

from . import _cli, _jsonl

PROG = "bitesize"


def render(items) -> str:
    """One 'Process Name = COMM' section per process, sizes in Kbytes."""
    return histogram.format_sections([(k.comm, list(v.slots)) for k, v in items],
                                     "Kbytes", "Process Name", str)


JSON = _jsonl.Histograms("one object at the end: block I/O sizes per process", ["Kbytes"],
                         keys=[_jsonl.Field("comm", "string", "the issuing command's name")])


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        dist = obj.maps["dist"].raw_text(a.json)
        _jsonl.status(a, "Tracing block I/O... Hit Ctrl-C to end.")

        def emit():
            if a.json:
                return JSON.write("Kbytes", [({"comm": k.comm}, list(v.slots))
                                             for k, v in dist.items()])
            sys.stdout.write(render(dist.items()))
            sys.stdout.flush()

        _cli.interval_loop(_cli.FOREVER, 1, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
