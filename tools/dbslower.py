"""Trace MySQL or PostgreSQL queries slower than a threshold, one line per
query, from the servers' USDT probes (query__start/query__done), or for a
MySQL binary built without them (-x), from uprobes on dispatch_command().

examples:
    dbslower postgres            # PostgreSQL queries slower than 1 ms
    dbslower postgres -p 188 322 # only these PostgreSQL processes
    dbslower mysql -p 480 -m 30  # MySQL queries slower than 30 ms
    dbslower mysql -p 480 -m 0   # every MySQL query
    dbslower mysql -x $(which mysqld)   # MySQL without USDT probes: uprobes
"""
from __future__ import annotations

import time

import corebpf
from corebpf.user import uprobes

from . import _cli, _containers, _db, _jsonl

PROG = "dbslower"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("db", choices=["mysql", "postgres"], help="the database engine")
    p.add_argument("-p", "--pid", type=_db.pid_list, nargs="*", dest="pids", metavar="PID",
                   help="the processes to trace (default: every mysqld or postgres)")
    p.add_argument("-x", "--exe", dest="path", metavar="PATH",
                   help="MySQL binary to probe with uprobes (when it has no USDT probes)")
    p.add_argument("-m", "--threshold", type=_cli.unsigned(64, scale=1000000), default=1,
                   help="only queries slower than this many ms (default 1; 0: all)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


JSON = _db.query_json("one object per query slower than the threshold")


HEADER = "%-14s %-7s %8s %s" % ("TIME(s)", "PID", "MS", "QUERY")


def format_event(e, start_ns: int, width: int = 256) -> str:
    return "%-14.6f %-7d %8.3f %s" % ((e.start_ns - start_ns) / 1e9, e.pid,
                                      e.delta_ns / 1e6, e.query[:width - 1])


def run(argv=None):
    a = parse(argv)
    uprobe_mode = bool(a.path and not a.pids)
    if uprobe_mode and a.db == "postgres":
        raise _cli.UsageError("Sorry at the moment PostgreSQL supports only USDT")
    _cli.setup(a)
    if uprobe_mode:
        path, sym, mysql56 = _db.dispatch_symbol(a.path)
    else:
        pids = a.pids or _db.pidof(_db.PROCESS_NAMES[a.db])
        if not pids:
            raise _cli.UsageError(f"no {_db.PROCESS_NAMES[a.db]} process found (use -p PID)")
    with corebpf.Object.open("dbquery") as obj:
        obj.rodata.targ_min_ns = a.threshold * 1000000
        _db.disable_unused(obj, uprobe_mode)
        if not uprobe_mode:
            _db.filter_pids(obj)
        if uprobe_mode:
            obj.rodata.targ_mysql56 = mysql56
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        # before attach: every query seen starts after it (TIME never negative)
        start = time.monotonic_ns()
        obj.load()
        if uprobe_mode:
            uprobes.attach(obj.programs["dispatch_start"], path, sym)
            uprobes.attach(obj.programs["dispatch_return"], path, sym, retprobe=True)
            _jsonl.status(a, "Tracing database queries for application %s slower than %d ms..."
                          % (a.path, a.threshold))
        else:
            _db.attach_pids(obj, pids)
            _jsonl.status(a, "Tracing database queries for pids %s slower than %d ms..."
                          % (", ".join(map(str, pids)), a.threshold))
        head, text = _containers.column(a, HEADER, lambda e: format_event(e, start))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
