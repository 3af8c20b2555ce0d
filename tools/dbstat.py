"""Summarize MySQL or PostgreSQL query latency as a histogram, from the
servers' USDT probes (query__start/query__done).

examples:
    dbstat postgres          # histogram of PostgreSQL query latencies
    dbstat mysql -p 480      # only MySQL process 480
    dbstat mysql -m 5        # only queries slower than 5 ms
    dbstat mysql -u          # in microseconds
    dbstat postgres -i 5     # print and reset every 5 seconds
"""
from __future__ import annotations

import time

import corebpf
from corebpf import histogram

from . import _cli, _containers, _db, _jsonl

PROG = "dbstat"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("db", choices=["mysql", "postgres"], help="the database engine")
    p.add_argument("-p", "--pid", type=_db.pid_list, nargs="*", dest="pids", metavar="PID",
                   help="the processes to trace (default: every mysqld or postgres)")
    p.add_argument("-m", "--threshold", type=_cli.unsigned(64, scale=1000000), default=0,
                   help="only queries slower than this many ms")
    p.add_argument("-u", "--microseconds", action="store_true",
                   help="latencies in microseconds (default: milliseconds)")
    p.add_argument("-i", "--interval", type=_cli.positive_int, default=_cli.FOREVER,
                   help="print a summary every this many seconds")
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    return p.parse_args(argv)


JSON = _jsonl.Histograms("one object per interval (-i) or at the end: query latency",
                         ["ms", "us"], keys=[_containers.KEY])
CONTAINER_HISTS = 1024


def render(slots, us: bool, now: float = None, items=None) -> str:
    """One summary: [HH:MM:SS], bcc's histogram, a blank line (--containers:
    items [(cgroup id, hist)], a histogram per container)."""
    label = "query latency (%s)" % ("us" if us else "ms")
    text = histogram.format_log2(slots, label) if items is None else \
        _containers.format_sections(items, lambda h: h.slots, label)
    return "[%s]\n%s\n" % (time.strftime("%H:%M:%S", time.localtime(now)), text)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    pids = a.pids or _db.pidof(_db.PROCESS_NAMES[a.db])
    if not pids:
        raise _cli.UsageError(f"no {_db.PROCESS_NAMES[a.db]} process found (use -p PID)")
    with corebpf.Object.open("dbquery") as obj:
        obj.rodata.targ_min_ns = a.threshold * 1000000
        obj.rodata.targ_hist = True
        obj.rodata.targ_hist_unit_ns = 1000 if a.microseconds else 1000000
        _db.disable_unused(obj, False)
        _db.filter_pids(obj)
        if a.containers:
            _containers.apply(obj, a)
            obj.maps["hists"].resize(CONTAINER_HISTS, "--containers")
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _db.attach_pids(obj, pids)
        hists = obj.maps["hists"]
        _jsonl.status(a, "Tracing database queries for pids %s slower than %d ms..."
                      % (", ".join(map(str, pids)), a.threshold))

        def emit():
            items = hists.pop_items()
            if a.containers:
                if a.json:
                    JSON.write("us" if a.microseconds else "ms", [
                        ({"container": full}, slots) for full, _, slots in
                        _containers.sections(items, lambda h: h.slots)])
                else:
                    print(render(None, a.microseconds, items=items), end="", flush=True)
                return
            slots = list(items[0][1].slots) if items else [0] * 65
            if a.json:
                JSON.write("us" if a.microseconds else "ms", [({}, slots)])
            else:
                print(render(slots, a.microseconds), end="", flush=True)

        _cli.interval_loop(a.interval, _cli.FOREVER, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
