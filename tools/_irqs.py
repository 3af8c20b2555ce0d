"""What hardirqs and softirqs share: options, the table and histogram
output, and the run loop.  The BPF objects have the same shape: `sums`
(key -> total ns or count) and `hists` (key -> log2 histogram)."""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _jsonl


def add_options(p, count_dest: str, count_help: str):
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-N", "--nanoseconds", action="store_true", help="output in nanoseconds")
    p.add_argument("-C", "--" + count_dest, action="store_true", help=count_help)
    p.add_argument("-d", "--dist", action="store_true", help="show distributions as histograms")
    p.add_argument("-c", "--cpu", type=_cli.cpu_type, help="trace this CPU only")
    _jsonl.add_args(p)


def json_spec(key: str, what: str):
    """--json of hardirqs/softirqs: totals per `key`, or histograms (-d)."""
    return _jsonl.Histograms(f"{what} time (-C: counts) per interval", ["usecs", "nsecs", "count"],
                             [_jsonl.Field(key, "string", f"the {what}")], totals=True)


def units(a, counting: bool):
    """(label, divisor of the kernel's nanoseconds or counts)."""
    if counting:
        return "count", 1
    if a.nanoseconds:
        return "nsecs", 1
    return "usecs", 1000


def table(items, title: str, width: int, label: str, factor: int, name) -> str:
    """bcc's totals table, biggest first."""
    lines = ["%-*s %11s" % (width, title, "TOTAL_" + label)]
    for k, v in sorted(items, key=lambda kv: kv[1], reverse=True):
        lines.append("%-*s %11d" % (width, name(k), v // factor))
    return "\n".join(lines) + "\n"


def run(prog: str, a, counting: bool, outputs: int, what: str, title: str, width: int,
        section: str, name) -> int:
    if a.cpu is not None and a.cpu not in corebpf.features.online_cpus():
        raise _cli.UsageError(f"CPU {a.cpu} is not online")
    _cli.setup(a)
    label, factor = units(a, counting)
    with corebpf.Object.open(prog) as obj:
        obj.rodata.targ_count = counting
        obj.rodata.targ_dist = a.dist
        obj.rodata.targ_ns = a.nanoseconds
        if a.cpu is not None:
            obj.rodata.targ_cpu = a.cpu
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        sums, hists = obj.maps["sums"], obj.maps["hists"]
        first = "Tracing %s %s... Hit Ctrl-C to end." % (what, "events" if counting else
                                                         "event time")
        if a.json:
            _jsonl.header(first)
        else:
            print(first, flush=True)
        spec = json_spec(section, what)

        def emit():
            if a.json and a.dist:
                return spec.write(label, [({section: name(k)}, v.slots)
                                          for k, v in hists.pop_items()])
            if a.json:
                return spec.write_totals(label, [({section: name(k)}, v // factor) for k, v in
                                                 sorted(sums.pop_items(), key=lambda kv: kv[1],
                                                        reverse=True)])
            out = ["\n"]
            if a.timestamp:
                out.append("%-8s\n" % time.strftime("%H:%M:%S"))
            if a.dist:
                out.append(histogram.format_sections(
                    [(k, list(v.slots)) for k, v in hists.pop_items()], label, section, name))
            else:
                out.append(table(sums.pop_items(), title, width, label, factor, name))
            sys.stdout.write("".join(out))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, outputs, emit)
    return 0
