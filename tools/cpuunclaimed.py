"""Sample CPU run queues and calculate unclaimed idle CPU: how often CPUs
sat idle while threads waited in other CPUs' run queues.  Every CPU is
sampled at 99 Hz; each sample of the first CPU takes all CPUs' latest run
queue lengths as one group.

examples:
    cpuunclaimed            # sample and calculate unclaimed idle CPUs,
                            # output every 1 second (default)
    cpuunclaimed 5 10       # print 5 second summaries, 10 times
    cpuunclaimed -T 1       # 1s summaries and timestamps
    cpuunclaimed -j         # raw dump of all samples (verbose), CSV
"""
from __future__ import annotations

import os
import sys
import time

import corebpf
from corebpf import features
from corebpf.core import perf

from . import _cli, _jsonl

PROG = "cpuunclaimed"
FREQUENCY = 99
MAX_CPUS = 256


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-j", "--csv", action="store_true",
                   help="print sample summaries (verbose) as comma-separated values")
    p.add_argument("-J", "--fullcsv", action="store_true",
                   help="print sample summaries with extra fields: CPU sample offsets")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("interval", nargs="?", type=_cli.positive_int,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="number of outputs")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def summary_line(t, stamp: str = None) -> str:
    """bcc's line from the summed groups (a `totals` record or None)."""
    positive, running, idle = (t.positive, t.running, t.idle) if t else (0, 0, 0)
    total = running + idle
    util = running / total if total else 0
    unclaimed = positive / total if total else 0
    return ("%-8s " % stamp if stamp else "") + \
        "%%CPU %6.2f%%, unclaimed idle %0.2f%%" % (100 * util, 100 * unclaimed)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: CPU use and idle CPUs while tasks waited "
                        "in run queues, from samples at 99 Hz on every CPU", [
    F("cpu_util", "number", "running samples / all samples, 0 to 1"),
    F("unclaimed", "number", "samples of an idle CPU while another CPU's run queue held "
                             "a waiting task / all samples, 0 to 1"),
    F("running", "integer", "samples of a busy CPU"),
    F("idle", "integer", "samples of an idle CPU"),
    F("positive", "integer", "idle samples while tasks waited elsewhere"),
])


def json_values(t) -> dict:
    positive, running, idle = (t.positive, t.running, t.idle) if t else (0, 0, 0)
    total = running + idle
    return {"cpu_util": running / total if total else 0.0,
            "unclaimed": positive / total if total else 0.0,
            "running": running, "idle": idle, "positive": positive}


def csv_header(cpus, timestamp: bool, full: bool) -> str:
    cols = (["TIME"] if timestamp else []) + ["TIMESTAMP_ns"] + ["CPU%d" % c for c in cpus]
    if full:
        cols += ["OFFSET_ns_CPU%d" % c for c in cpus]
    return ",".join(cols)


def csv_row(g, cpus, stamp: str = None, full: bool = False) -> str:
    sampled = [g.cpus[c] for c in cpus]
    g_time = min((s.ts for s in sampled if s.ts), default=g.ts)
    cols = ([stamp] if stamp else []) + [str(g_time)] + [str(s.len) for s in sampled]
    if full:
        cols += [str(s.ts - g_time if s.ts else 0) for s in sampled]
    return ",".join(cols)


def run(argv=None):
    a = parse(argv)
    if a.fullcsv:
        a.csv = True
    if a.interval is not None and a.csv:
        raise _cli.UsageError("cannot use interval with either -j or -J")
    if a.json and a.csv:
        raise _cli.UsageError("-j/-J (CSV) and --json exclude each other")
    cpus = list(features.online_cpus())
    if max(cpus) >= MAX_CPUS:
        raise _cli.UsageError(f"more than {MAX_CPUS} CPUs: not supported")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_leader = min(cpus)
        ro.targ_ncpu = max(cpus) + 1
        ro.targ_online = len(cpus)
        ro.targ_stale_ns = int(1.5e9 / FREQUENCY)
        ro.targ_csv = a.csv
        if not a.csv:
            obj.maps["events"].max_entries = os.sysconf("SC_PAGE_SIZE")
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        perf.attach_sampling(obj.programs["sample"], freq=FREQUENCY)
        stamp = (lambda: time.strftime("%H:%M:%S")) if a.timestamp else (lambda: None)
        if a.csv:
            print(csv_header(cpus, a.timestamp, a.fullcsv), flush=True)
            out = _cli.Output()
            rb = obj.ring_buffer("events", lambda g: out(csv_row(g, cpus, stamp() and
                                                                 "%-8s" % stamp(), a.fullcsv)))
            _cli.event_loop(rb, out)
            return 0
        totals = obj.maps["totals"]
        _jsonl.status(a, "Sampling run queues... Output every %s seconds. Hit Ctrl-C to end."
                      % (a.interval or 1))

        def emit():
            t = totals.pop_items()
            if a.json:
                return JSON.write(**json_values(t[0][1] if t else None))
            sys.stdout.write(summary_line(t[0][1] if t else None, stamp()) + "\n")
            sys.stdout.flush()

        _cli.interval_loop(a.interval or 1, a.count, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
