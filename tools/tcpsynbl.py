"""Show TCP SYN backlog: the accept queue length of listening sockets each
time a connection's handshake completes, as histograms per backlog limit
(listen()'s backlog).

examples:
    tcpsynbl          # trace syn backlog
    tcpsynbl -4       # trace IPv4 family only (listening sockets)
    tcpsynbl -6       # trace IPv6 family only (dual-stack listeners too)
"""
from __future__ import annotations

import sys

import corebpf
from corebpf import histogram

from . import _cli, _jsonl, _net

PROG = "tcpsynbl"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _net.add_family(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


JSON = _jsonl.Histograms("one object at the end: SYN backlog lengths seen, per backlog "
                         "limit", ["backlog"], keys=[
    _jsonl.Field("backlog_max", "integer", "the listener's backlog limit")])


def report(items) -> str:
    """bcc's print_log2_hist("backlog", "backlog_max"): one histogram per limit."""
    return histogram.format_sections(sorted((k, list(v.slots)) for k, v in items),
                                     "backlog", "backlog_max")


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_family = _net.family_of(a)     # the listener's
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        _jsonl.status(a, "Tracing SYN backlog size. Ctrl-C to end.")
        _cli.wait_stop(None)
        if a.json:
            JSON.write("backlog", [({"backlog_max": k}, list(v.slots))
                                   for k, v in sorted(obj.maps["hists"].items())])
            return 0
        print()
        sys.stdout.write(report(obj.maps["hists"].items()))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
