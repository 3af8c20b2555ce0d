"""Summarize TCP RTT as a histogram: the smoothed RTT (srtt) of established
TCP sockets each time one receives a segment, per local or remote IPv4
address (-b/-B) or for all addresses.

examples:
    tcprtt              # summarize TCP RTT
    tcprtt -i 1 -d 10   # print 1 second summaries, 10 times
    tcprtt -m -T        # summarize in millisecond, and timestamps
    tcprtt -p 80        # filter for local port
    tcprtt -P 80        # filter for remote port
    tcprtt -a 10.0.0.1  # filter for local address
    tcprtt -A 10.0.0.1  # filter for remote address
    tcprtt -b           # show sockets histogram by local address
    tcprtt -B           # show sockets histogram by remote address
    tcprtt -e           # show extension summary(average)
    tcprtt -4           # trace only IPv4 family
    tcprtt -6           # trace only IPv6 family
"""
from __future__ import annotations

import argparse
import sys
import time

import corebpf
from corebpf import histogram

from . import _cli, _containers, _jsonl, _net

PROG = "tcprtt"
PORT = _cli.Number(1, 65535, noun="port")


def ipv4(text: str) -> int:
    """A dotted-quad IPv4 address -> the u32 the socket holds (network order)."""
    import ipaddress
    try:
        raw = ipaddress.IPv4Address(text).packed
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from None
    return int.from_bytes(raw, sys.byteorder)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-i", "--interval", type=_cli.positive_int,
                   help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=_cli.positive_int, default=99999,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-p", "--lport", type=PORT, help="filter for local port")
    p.add_argument("-P", "--rport", type=PORT, help="filter for remote port")
    p.add_argument("-a", "--laddr", type=ipv4, help="filter for local address")
    p.add_argument("-A", "--raddr", type=ipv4, help="filter for remote address")
    p.add_argument("-b", "--byladdr", action="store_true",
                   help="show sockets histogram by local address")
    p.add_argument("-B", "--byraddr", action="store_true",
                   help="show sockets histogram by remote address")
    _containers.add_args(p, per_histogram=True)
    p.add_argument("-e", "--extension", action="store_true",
                   help="show extension summary(average)")
    p.add_argument("-D", "--debug", action="store_true",
                   help="print BPF program before starting (for debugging purposes)")
    _net.add_family(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def section_name(addr: int, avg=None) -> str:
    """bcc's section text: the address (or ******* for 0) and -e's average."""
    text = _net.ntop(_net.AF_INET, addr.to_bytes(4, sys.byteorder)) if addr else "*******"
    return text if avg is None else "%s [AVG %d]" % (text, avg)


F = _jsonl.Field
JSON = _jsonl.Histograms("one object per interval (-i) or at the end: TCP round trip times",
                         ["usecs", "msecs"], keys=[
    F("addr", "string", "the local (-b) or remote (-B) IPv4 address, ******* for others",
      optional=True), _containers.KEY], extra=[
    F("avg", "integer", "average RTT (-e; unit)", optional=True)])


def by_container(sections, sums):
    """--containers: (sections, sums) with the ids of one container merged:
    [(full name, heading, slots)], {full name: (latency sum, count)}."""
    merged = _containers.sections(sections, lambda v: v)
    tot = {}
    for k, v in sums.items():
        n = _containers.full_name(k)
        lat, cnt = tot.get(n, (0, 0))
        tot[n] = (lat + v.latency, cnt + v.count)
    return merged, tot


def write_json(sections, sums, a):
    hists = []
    if a.containers:
        merged, tot = by_container(sections, sums)
        for full, _, slots in merged:
            lat, cnt = tot.get(full, (0, 0))
            hists.append(({"container": full}, _jsonl.buckets(slots),
                          {"avg": lat // cnt if cnt else 0} if a.extension else None))
        sections = ()
    for addr, slots in sections:
        key = {"addr": section_name(addr)} if a.byladdr or a.byraddr else {}
        extra = None
        if a.extension:
            s = sums.get(addr)
            extra = {"avg": s.latency // s.count if s and s.count else 0}
        hists.append((key, _jsonl.buckets(slots), extra))
    sys.stdout.write(_jsonl.dumps(JSON.interval("msecs" if a.milliseconds else "usecs",
                                                hists)) + "\n")
    sys.stdout.flush()


def header(a) -> str:
    if a.byladdr:
        return "Local Address"
    if a.byraddr:
        return "Remote Addres"          # sic: bcc's
    if getattr(a, "containers", False):
        return "container"
    return "All Addresses"


def run(argv=None):
    a = parse(argv)
    if a.containers and (a.byladdr or a.byraddr):
        raise _cli.UsageError("can only use one of -b, -B and --containers")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_lport = a.lport or 0
        ro.targ_rport = a.rport or 0
        ro.targ_laddr = a.laddr or 0
        ro.targ_raddr = a.raddr or 0
        ro.targ_family = _net.family_of(a)
        ro.targ_ms = a.milliseconds
        ro.targ_key = 1 if a.byladdr else 2 if a.byraddr else 0
        ro.targ_extension = a.extension
        _containers.apply(obj, a)
        if a.ebpf or a.debug:
            _cli.print_ebpf(obj, a.json)
            if a.ebpf:
                return 0
        obj.load()
        obj.attach()
        hists, latency = obj.maps["hists"], obj.maps["latency"]
        label = "msecs" if a.milliseconds else "usecs"
        _jsonl.status(a, "Tracing TCP RTT... Hit Ctrl-C to end.")

        def emit():
            sums = {k: v for k, v in latency.pop_items()} if a.extension else {}
            sections = [(k, list(v.slots)) for k, v in hists.pop_items()]
            if a.json:
                return write_json(sections, sums, a)
            out = "\n"
            if a.timestamp:
                out += "%-8s\n" % time.strftime("%H:%M:%S")

            if a.containers:
                merged, tot = by_container(sections, sums)

                def head(full):
                    text = _containers.escape(heads[full])
                    if not a.extension:
                        return text
                    lat, cnt = tot.get(full, (0, 0))
                    return "%s [AVG %d]" % (text, lat // cnt if cnt else 0)
                heads = {full: h for full, h, _ in merged}
                out += histogram.format_sections([(full, s) for full, _, s in merged], label,
                                                 header(a), head)
                print(out, end="", flush=True)
                return

            def name(addr):
                s = sums.get(addr)
                return section_name(addr, s.latency // s.count if s and s.count else
                                    (0 if a.extension else None))
            out += histogram.format_sections(sections, label, header(a), name)
            print(out, end="", flush=True)

        interval = a.interval or a.duration
        _cli.interval_loop(interval, -(-a.duration // interval), emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
