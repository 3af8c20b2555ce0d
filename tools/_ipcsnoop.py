"""What shmsnoop and sofdsnoop share (bcc wrote one from the other): the
options -T -p -t -n -d and the run: -t trumps -p in the kernel, -n filters
by comm here, TIME(s) counts from the first record shown."""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl


def parse(prog: str, doc: str, argv=None):
    p = _cli.Parser(prog, doc)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def run(prog: str, a, header: str, fmt, json, syscalls=None):
    """Trace with object `prog`; fmt(record, a, first_ts) gives its line(s),
    json(record) its JSON object(s) (--json).  syscalls: the raw_syscalls
    variants' sc_action table, if `prog` has them."""
    _cli.setup(a)
    with corebpf.Object.open(prog) as obj:
        if a.tid:
            obj.rodata.targ_tid = a.tid
        elif a.pid:
            obj.rodata.targ_tgid = a.pid
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if syscalls:
            _cli.fill_syscall_actions(obj, syscalls)
        obj.attach()
        first = []

        def show(e):
            if a.name and a.name not in e.comm:
                return None
            first[:] = first or [e.ts_us]
            return fmt(e, a, first[0])

        def show_json(e):
            if a.name and a.name not in e.comm:
                return None
            return json(e)

        header, show = _containers.column(a, header, show)
        _cli.trace_events(obj, header, show, duration=a.duration,
                          json=show_json if a.json else None)
    return 0
