"""Summarize on-CPU time per task as a histogram: how long tasks run each
time they are scheduled (or, with -O, how long they are off the CPU).

examples:
    cpudist              # summarize on-CPU time as a histogram
    cpudist -O           # summarize off-CPU time as a histogram
    cpudist 1 10         # print 1 second summaries, 10 times
    cpudist -mT 1        # 1s summaries, milliseconds, and timestamps
    cpudist -P           # show each PID separately
    cpudist --containers # show each container (or cgroup) separately
    cpudist -p 185       # trace PID 185 only
    cpudist -I           # include CPU idle time
    cpudist -e           # show extension summary (average/total/count)
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _containers, _heatmap, _jsonl

PROG = "cpudist"
FINISH_TASK_SWITCH = (r"finish_task_switch", r"finish_task_switch\.isra\.\d+")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-O", "--offcpu", action="store_true", help="measure off-CPU time")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    g.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    _containers.add_args(g, per_histogram=True)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-I", "--include-idle", action="store_true", help="include CPU idle time")
    p.add_argument("-e", "--extension", action="store_true",
                   help="show extension summary (average/total/count)")
    _cli.interval_count(p)
    _heatmap.add_args(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def pid_comm(pid: int) -> str:
    """bcc's section text: the pid and /proc/PID/comm, newline included."""
    comm = _cli.proc_comm(pid)
    return str(pid) if comm is None else "%d %s\n" % (pid, comm)


F = _jsonl.Field
JSON = _jsonl.Histograms("on-CPU (-O: off-CPU) time per interval", ["usecs", "msecs"], [
    F("pid", "integer", "process ID (-P)", optional=True),
    F("tid", "integer", "thread ID (-L)", optional=True),
    F("comm", "string|null", "the process' or thread's name when printed (-P/-L)",
      optional=True),
    _containers.KEY,
], extra=[
    F("total", "integer", "sum of all times (-e; unit)", optional=True),
    F("count", "integer", "number of times (-e)", optional=True),
])


def write_json(items, ext, a):
    hists = []
    if a.containers:
        items = [(n, s) for n, _, s in _containers.sections(items, lambda v: v.slots)]
    for k, v in items:
        key = {}
        if a.pids or a.tids:
            key = {"pid" if a.pids else "tid": int(k), "comm": _comm_raw(int(k))}
        elif a.containers:
            key = {"container": k}
        if a.extension and ext is not None and not (a.pids or a.tids or a.containers):
            key.update(total=int(ext.total), count=int(ext.count))
        hists.append((key, v if a.containers else v.slots))
    JSON.write("msecs" if a.milliseconds else "usecs", hists)


def _comm_raw(pid: int):
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return _jsonl.raw(f.read().rstrip(b"\n"))
    except OSError:
        return None


def render(items, ext, a) -> str:
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    label = "msecs" if a.milliseconds else "usecs"
    if a.pids or a.tids:
        out.append(histogram.format_sections([(k, list(v.slots)) for k, v in items], label,
                                             "pid" if a.pids else "tid", pid_comm))
    elif a.containers:
        out.append(_containers.format_sections(items, lambda v: v.slots, label))
    else:
        for _, v in items:
            out.append(histogram.format_log2(list(v.slots), label))
    if a.extension and ext and ext.count > 0:
        out.append("\navg = %ld %s, total: %ld %s, count: %ld\n\n"
                   % (ext.total // ext.count, label, ext.total, label, ext.count))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    _heatmap.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_offcpu = a.offcpu
        obj.rodata.targ_per_process = a.pids
        obj.rodata.targ_per_thread = a.tids
        obj.rodata.targ_ms = a.milliseconds
        obj.rodata.targ_idle = a.include_idle
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            _cli.attach_kprobe_any(obj.programs["switch__kprobe"], FINISH_TASK_SWITCH)
        else:
            obj.attach()
        ext = obj.maps["ext"]
        hists = _heatmap.tap(a, obj.maps["hists"], PROG, lambda k, v: v.slots,
                             "msecs" if a.milliseconds else "usecs",
                             "cpudist: %s-CPU time" % ("off" if a.offcpu else "on"))
        first = "Tracing %s-CPU time... Hit Ctrl-C to end." % ("off" if a.offcpu else "on")
        if a.json:
            _jsonl.header(first)
        else:
            print(first, flush=True)

        def emit():
            items = hists.pop_items()
            e = ext.pop_items()[0][1] if a.extension else None
            if a.json:
                return write_json(items, e, a)
            sys.stdout.write(render(items, e, a))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit, wait=hists.wait_stop)
        hists.write()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
