"""Summarize block device I/O latency as a histogram (aggregated in the kernel).

examples:
    biolatency               # summarize block I/O latency until Ctrl-C
    biolatency 1 10          # print 1 second summaries, 10 times
    biolatency -mT 1         # 1s summaries, milliseconds, and timestamps
    biolatency -Q            # include OS queued time in I/O time
    biolatency -D            # show each disk device separately
    biolatency -F            # show I/O flags separately
    biolatency -d vda        # only the disk vda
    biolatency -e            # also print average, total and count
    biolatency --containers  # show each container (or cgroup) separately
    biolatency -j            # JSON Lines: one object per interval (also --json)
"""
from __future__ import annotations

import time

import corebpf
from corebpf import histogram

from . import _block, _cli, _containers, _heatmap, _jsonl
from ._block import disks  # noqa: F401  (kept importable from here)

PROG = "biolatency"

REQ_OPF = {0: "Read", 1: "Write", 2: "Flush", 3: "Discard", 5: "SecureErase",
           6: "ZoneReset", 7: "WriteSame", 9: "WriteZeros"}
_OP_BITS = 8
# bcc's flag bits (the BPF side translates the kernel's into these), in the
# order bcc prepends their names.
_FLAG_NAMES = ((1 << (_OP_BITS + 3), "Sync-"), (1 << (_OP_BITS + 4), "Metadata-"),
               (1 << (_OP_BITS + 9), "ForcedUnitAccess-"), (1 << (_OP_BITS + 5), "Priority-"),
               (1 << (_OP_BITS + 6), "NoMerge-"), (1 << (_OP_BITS + 7), "Idle-"),
               (1 << (_OP_BITS + 11), "ReadAhead-"), (1 << (_OP_BITS + 12), "Background-"),
               (1 << (_OP_BITS + 13), "NoWait-"))


def flags_text(flags: int) -> str:
    """bcc's description of request flags, e.g. 'Sync-Write'."""
    desc = REQ_OPF.get(flags & ((1 << _OP_BITS) - 1), "Unknown")
    for bit, name in _FLAG_NAMES:
        if flags & bit:
            desc = name + desc
    return desc


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-Q", "--queued", action="store_true", help="include OS queued time in I/O time")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-D", "--disks", action="store_true", help="print a histogram per disk device")
    p.add_argument("-F", "--flags", action="store_true", help="print a histogram per set of I/O flags")
    p.add_argument("-e", "--extension", action="store_true",
                   help="also print the average, total and count")
    _containers.add_args(p, per_histogram=True)
    _jsonl.add_args(p, short=True)
    p.add_argument("-d", "--disk", help="trace this disk only (a name in /proc/diskstats)")
    _cli.interval_count(p)
    _heatmap.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Histograms("block I/O latency per interval (-Q: from insertion)", ["usecs", "msecs"], [
    F("disk", "string", "disk name (-D)", optional=True),
    F("flags", "string", "request operation and flags, e.g. Sync-Write (-F)", optional=True),
    _containers.KEY,
])


def render_json(items, a, names: dict) -> str:
    hists = []
    if a.containers:     # a request's cgroup: its bio's blkcg
        hists = [({"container": n}, _jsonl.buckets(s), None) for n, _, s in
                 _containers.sections([(k.cgroup, h) for k, h in items], lambda h: h.slots)]
        items = ()
    for key, h in items:
        k = {}
        if a.disks:
            k["disk"] = names.get(key.dev, "?")
        elif a.flags:
            k["flags"] = flags_text(key.flags)
        hists.append((k, _jsonl.buckets(h.slots), None))
    return _jsonl.dumps(JSON.interval("msecs" if a.milliseconds else "usecs", hists)) + "\n"


def render(items, a, names: dict) -> str:
    """Text for one interval from the `hists` map items [(key, hist)]."""
    label = "msecs" if a.milliseconds else "usecs"
    out = []
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    if a.disks:
        header, keyf, fmt = "disk", lambda k: k.dev, lambda d: names.get(d, "?")
    elif a.flags:
        header, keyf, fmt = "flags", lambda k: k.flags, flags_text
    else:
        header, keyf, fmt = None, None, None
    if a.containers:
        out.append(_containers.format_sections([(k.cgroup, h) for k, h in items],
                                               lambda h: h.slots, label))
        items = ()
    for key, h in items:
        vals = list(h.slots)
        if header:
            out.append(histogram.format_sections([(keyf(key), vals)], label, header, fmt))
        else:
            out.append(histogram.format_log2(vals, label))
        if a.extension and h.count:
            out.append("\navg = %ld %s, total: %ld %s, count: %ld\n\n"
                       % (h.total // h.count, label, h.total, label, h.count))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    if a.disks and a.flags:
        raise _cli.UsageError("can only use -D or -F")
    if a.containers and (a.disks or a.flags):
        raise _cli.UsageError("can only use one of -D, -F and --containers")
    names = disks()
    dev = _block.disk_dev(a.disk, names) if a.disk else 0
    _heatmap.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_per_disk = a.disks
        obj.rodata.targ_per_flag = a.flags
        obj.rodata.targ_queued = a.queued
        obj.rodata.targ_ms = a.milliseconds
        obj.rodata.targ_dev = dev
        _containers.apply(obj, a, io=True)
        if not (a.disks or a.flags or a.containers):
            obj.maps["hists"].resize(1)     # one histogram (key 0), preallocated
        for p in obj.programs.values():
            if p.hook == "insert" and not a.queued:
                p.autoload = False
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if a.flags and obj.variant == "tp":
            raise corebpf.MissingFeature("per-flag histograms need tp_btf or raw tracepoints "
                                         "(block_rq_*), which this kernel lacks")
        if a.containers and obj.variant == "tp":
            raise corebpf.MissingFeature("per-container histograms need tp_btf or raw "
                                         "tracepoints (block_rq_*), which this kernel lacks")
        obj.attach()
        hists = _heatmap.tap(a, obj.maps["hists"], PROG, lambda k, v: v.slots,
                             "msecs" if a.milliseconds else "usecs",
                             "biolatency: block I/O latency" + (" (queued)" if a.queued else ""))
        if a.json:
            _jsonl.header("Tracing block device I/O... Hit Ctrl-C to end.")
        else:
            print("Tracing block device I/O... Hit Ctrl-C to end.", flush=True)

        def emit():
            if a.json:
                print(render_json(hists.pop_items(), a, names), end="", flush=True)
                return
            text = render(hists.pop_items(), a, names)
            print()
            print(text, end="", flush=True)

        _cli.interval_loop(a.interval, a.count, emit, wait=hists.wait_stop)
        hists.write()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
