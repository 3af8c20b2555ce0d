"""Show the latency of host name lookups (getaddrinfo, gethostbyname,
gethostbyname2 in libc), one line per call as it returns.

examples:
    gethostlatency           # time every host name lookup
    gethostlatency -p 181    # only lookups made by PID 181
"""
from __future__ import annotations

import time

import corebpf
from corebpf.user import uprobes
from corebpf.symbols.elf import ElfError

from . import _cli, _containers, _jsonl

PROG = "gethostlatency"
FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname2")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


HEADER = "%-9s %-7s %-16s %10s %s" % ("TIME", "PID", "COMM", "LATms", "HOST")


F = _jsonl.Field
JSON = _jsonl.Events("one object per host name lookup (getaddrinfo, gethostbyname[2])", [
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("latency_ns", "integer", "time the call took", "ns", get=lambda e: e.delta_ns),
    F("host", "string", "the host name looked up"),
    _containers.FIELD,
])


def format_event(e, now: float = None) -> str:
    return "%-9s %-7d %-16s %10.2f %s" % (
        time.strftime("%H:%M:%S", time.localtime(now)), e.pid, e.comm,
        e.delta_ns / 1e6, e.host)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    pid = a.pid or -1
    libc = uprobes.resolve("c", pid)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        attached = 0
        for fn in FUNCTIONS:
            if not uprobes.has_function(libc, fn):
                continue
            uprobes.attach(obj.programs["lookup_entry"], libc, fn, pid=pid)
            uprobes.attach(obj.programs["lookup_return"], libc, fn, pid=pid, retprobe=True)
            attached += 1
        if not attached:
            raise ElfError(f"{libc}: none of {', '.join(FUNCTIONS)} found")
        head, text = _containers.column(a, HEADER, format_event)
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
