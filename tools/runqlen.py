"""Summarize scheduler run queue length as a histogram, sampled 99 times a
second on every CPU (0 means nothing was waiting besides the running task).

examples:
    runqlen            # summarize run queue length as a histogram
    runqlen 1 10       # print 1 second summaries, 10 times
    runqlen -T 1       # 1s summaries and timestamps
    runqlen -O         # report run queue occupancy
    runqlen -C         # show each CPU separately
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import histogram
from corebpf.core import perf

from . import _cli, _jsonl

PROG = "runqlen"
FREQUENCY = 99


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-O", "--runqocc", action="store_true", help="report run queue occupancy")
    p.add_argument("-C", "--cpus", action="store_true", help="print output for each CPU separately")
    _cli.interval_count(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def occupancy(vals) -> float:
    """Percentage of samples that found at least one task waiting."""
    samples = sum(vals)
    return 100.0 * (samples - vals[0]) / samples if samples else 0.0


F = _jsonl.Field
JSON = _jsonl.Histograms("one object per interval: run queue lengths sampled at 99 Hz "
                         "(linear buckets of 1)", ["runqlen"], keys=[
    F("cpu", "integer", "CPU (-C)", optional=True)], extra=[
    F("runqocc_pct", "number", "samples that found a task waiting, percent (-O's figure)")])


def write_json(items, a):
    data = [(k, list(v.slots)) for k, v in items]
    if not a.cpus:
        data = [(None, [sum(col) for col in zip(*(v for _, v in data))])] if data else []
    hists = [({} if cpu is None else {"cpu": cpu}, _jsonl.linear_buckets(v),
              {"runqocc_pct": occupancy(v)}) for cpu, v in sorted(data, key=lambda d: d[0] or 0)]
    sys.stdout.write(_jsonl.dumps(JSON.interval("runqlen", hists)) + "\n")
    sys.stdout.flush()


def render(items, a) -> str:
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    data = [(k, list(v.slots)) for k, v in items]
    if a.runqocc and a.cpus:
        by_cpu = dict(data)
        for cpu in range(max(by_cpu) + 1 if by_cpu else 0):
            out.append("runqocc, CPU %-3d %6.2f%%\n" % (cpu, occupancy(by_cpu.get(cpu, [0]))))
    elif a.runqocc:
        total = [sum(col) for col in zip(*(v for _, v in data))] or [0]
        out.append("runqocc: %0.2f%%\n" % occupancy(total))
    elif a.cpus:
        out.append(histogram.format_sections(data, "runqlen", "cpu", str, linear=True))
    else:
        for _, v in data:
            out.append(histogram.format_linear(v, "runqlen"))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_per_cpu = a.cpus
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        perf.attach_sampling(obj.programs["sample"], freq=FREQUENCY)
        hists = obj.maps["hists"]
        _jsonl.status(a, "Sampling run queue length... Hit Ctrl-C to end.")

        def emit():
            if a.json:
                return write_json(hists.pop_items(), a)
            sys.stdout.write(render(hists.pop_items(), a))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
