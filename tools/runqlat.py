"""Summarize run queue (scheduler) latency as a histogram: the time from a
task becoming runnable (woken up, or preempted while still runnable) until
it runs on a CPU.

examples:
    runqlat            # summarize run queue latency as a histogram
    runqlat 1 10       # print 1 second summaries, 10 times
    runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    runqlat -P         # show each PID separately
    runqlat -p 185     # trace PID 185 only
    runqlat --pidnss   # show each PID namespace separately
    runqlat -L         # show each thread (TID) separately
    runqlat --containers   # show each container (or cgroup) separately
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _containers, _heatmap, _jsonl

PROG = "runqlat"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    g.add_argument("--pidnss", action="store_true", help="print a histogram per PID namespace")
    g.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    _containers.add_args(g, per_histogram=True)
    _cli.interval_count(p)
    _heatmap.add_args(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def section_name(a):
    return "pid" if a.pids else "tid" if a.tids else "pidns" if a.pidnss else None


F = _jsonl.Field
JSON = _jsonl.Histograms("run queue latency per interval", ["usecs", "msecs"], [
    F("pid", "integer", "process ID (-P)", optional=True),
    F("tid", "integer", "thread ID (-L)", optional=True),
    F("pidns", "integer", "PID namespace inode number (--pidnss)", optional=True),
    _containers.KEY,
])


def write_json(items, a):
    if a.containers:
        return JSON.write("msecs" if a.milliseconds else "usecs",
                          [({"container": n}, s) for n, _, s in
                           _containers.sections(items, lambda v: v.slots)])
    section = section_name(a)
    JSON.write("msecs" if a.milliseconds else "usecs",
               [({section: int(k)} if section else {}, v.slots) for k, v in items])


def render(items, a) -> str:
    """One interval's text from the `hists` map items [(id, hist)]."""
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    label = "msecs" if a.milliseconds else "usecs"
    section = section_name(a)
    if a.containers:
        out.append(_containers.format_sections(items, lambda v: v.slots, label))
    elif section:
        out.append(histogram.format_sections([(k, list(v.slots)) for k, v in items],
                                             label, section, str))
    else:
        for _, v in items:
            out.append(histogram.format_log2(list(v.slots), label))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    _heatmap.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_per_process = a.pids
        obj.rodata.targ_per_thread = a.tids
        obj.rodata.targ_per_pidns = a.pidnss
        obj.rodata.targ_ms = a.milliseconds
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _containers.apply(obj, a)
        if not (a.pids or a.tids or a.pidnss or a.containers):
            # one histogram (key 0): its preallocated map need not hold 10240
            # (5.4 MB of kernel memory, 6-7 ms of the start to allocate)
            obj.maps["hists"].resize(1)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        hists = _heatmap.tap(a, obj.maps["hists"], PROG, lambda k, v: v.slots,
                             "msecs" if a.milliseconds else "usecs", "runqlat: run queue latency")
        if a.json:
            _jsonl.header("Tracing run queue latency... Hit Ctrl-C to end.")
        else:
            print("Tracing run queue latency... Hit Ctrl-C to end.", flush=True)

        def emit():
            if a.json:
                return write_json(hists.pop_items(), a)
            sys.stdout.write(render(hists.pop_items(), a))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit, wait=hists.wait_stop)
        hists.write()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
