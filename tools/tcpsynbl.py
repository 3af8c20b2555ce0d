"""Show TCP SYN backlog: the accept queue length of listening sockets each
time a connection's handshake completes, as histograms per backlog limit
(listen()'s backlog).

examples:
    tcpsynbl          # trace syn backlog
    tcpsynbl -4       # trace IPv4 family only
    tcpsynbl -6       # trace IPv6 family only
"""
from __future__ import annotations

import sys

import corebpf
from corebpf import histogram

from . import _cli, _net

PROG = "tcpsynbl"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _net.add_family(p)
    return p.parse_args(argv)


def report(items) -> str:
    """bcc's print_log2_hist("backlog", "backlog_max"): one histogram per limit."""
    return histogram.format_sections(sorted((k, list(v.slots)) for k, v in items),
                                     "backlog", "backlog_max")


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        family = _net.family_of(a)
        obj.rodata.targ_family = family
        # bcc attaches only the -4/-6 function
        for p in obj.programs.values():
            if (p.hook, family) in (("v6", _net.AF_INET), ("v4", _net.AF_INET6)):
                p.autoload = False
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        print("Tracing SYN backlog size. Ctrl-C to end.", flush=True)
        _cli.wait_stop(None)
        print()
        sys.stdout.write(report(obj.maps["hists"].items()))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
