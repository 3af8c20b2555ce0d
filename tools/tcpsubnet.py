"""Summarize TCP send and aggregate by subnet: bytes sent on IPv4 TCP
sockets per destination subnet (the first of the list that contains the
peer), every interval.

examples:
    tcpsubnet                 # Trace TCP sent to the default subnets:
                              # 127.0.0.1/32,10.0.0.0/8,172.16.0.0/12,
                              # 192.168.0.0/16,0.0.0.0/0
    tcpsubnet -f K            # Trace TCP sent to the default subnets
                              # aggregated in KBytes.
    tcpsubnet 10.80.0.0/24    # Trace TCP sent to 10.80.0.0/24 only
    tcpsubnet -J              # Format the output in JSON.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime

import corebpf

from . import _cli, _jsonl

PROG = "tcpsubnet"
DEFAULT_SUBNETS = "127.0.0.1/32,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,0.0.0.0/0"
MAX_SUBNETS = 64        # bpf_src/tcpsubnet.bpf.c
FORMATS = {
    "b": lambda x: x * 8,
    "k": lambda x: x * 8 / 1024,
    "m": lambda x: x * 8 / 1024 ** 2,
    "B": lambda x: x,
    "K": lambda x: x / 1024,
    "M": lambda x: x / 1024 ** 2,
}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("subnets", nargs="?", default=DEFAULT_SUBNETS,
                   help="comma separated list of subnets")
    p.add_argument("-J", "--json", action="store_true",
                   help="format output in JSON (bcc's document: `corebpf schema tcpsubnet`)")
    p.add_argument("-f", "--format", default="B", choices=list(FORMATS),
                   help="[bkmBKM] format to report: bits, Kbits, Mbits, bytes, "
                        "KBytes, MBytes (default B)")
    p.add_argument("-i", "--interval", default=1, type=_cli.positive_int,
                   help="output interval, in seconds (default 1)")
    return p.parse_args(argv)


def parse_subnets(text: str) -> list:
    """'a.b.c.d/n,...' -> [(text, network as a big-endian int, prefix length)];
    bcc's messages for a bad subnet."""
    import ipaddress
    out = []
    for s in text.split(","):
        parts = s.split("/")
        if len(parts) != 2:
            raise _cli.UsageError(f"Subnet [{_cli.escape(s)}] is invalid, please refer to "
                                  "the examples.")
        try:
            addr = int(ipaddress.IPv4Address(parts[0]))
        except ValueError:
            raise _cli.UsageError(f"Invalid net address in subnet [{_cli.escape(s)}], please "
                                  "refer to the examples.") from None
        if not parts[1].isdigit() or int(parts[1]) > 32:
            raise _cli.UsageError(f"Invalid mask in subnet [{_cli.escape(s)}]. Must be an int "
                                  "between 0 and 32.")
        out.append((s, addr, int(parts[1])))
    if len(out) > MAX_SUBNETS:
        raise _cli.UsageError(f"at most {MAX_SUBNETS} subnets")
    return out


def net_order(v: int) -> int:
    """A big-endian (network) u32 as the int the kernel's memory holds."""
    return int.from_bytes(v.to_bytes(4, "big"), sys.byteorder)


JSON = _jsonl.Document("bcc's document: one object per interval, the bytes (or -f unit) sent "
                       "to each subnet in it", {
    "properties": {
        "date": {"type": "string", "description": "local date (%x)"},
        "time": {"type": "string", "description": "local time (%X)"},
        "entries": {"type": "object", "description": "subnet as given -> amount (-f unit)",
                    "additionalProperties": {"type": "number", "minimum": 0}}},
    "required": ["date", "time", "entries"], "additionalProperties": False})


def report(subnets, counts: dict, fmt: str, as_json: bool, now) -> str:
    """bcc's lines: '[date time]' then '%-21s %6d' per subnet, most bytes first
    (or one JSON object)."""
    rows = sorted(((i, n) for i, n in counts.items() if n), key=lambda r: r[1], reverse=True)
    conv = FORMATS[fmt]
    if as_json:
        return json.dumps({"date": now.strftime("%x"), "time": now.strftime("%X"),
                           "entries": {subnets[i][0]: conv(n) for i, n in rows}}) + "\n"
    return now.strftime("[%x %X]\n") + "".join(
        "%-21s %6d\n" % (subnets[i][0], conv(n)) for i, n in rows)


def run(argv=None):
    a = parse(argv)
    subnets = parse_subnets(a.subnets)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_nsubnets = len(subnets)
        nets, masks = [0] * MAX_SUBNETS, [0] * MAX_SUBNETS
        for i, (_, addr, bits) in enumerate(subnets):
            mask = ((1 << bits) - 1) << (32 - bits)
            nets[i], masks[i] = net_order(addr & mask), net_order(mask)
        ro.targ_net, ro.targ_mask = nets, masks
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        counts = obj.maps["send_bytes"]
        if not a.json:
            print("Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval, flush=True)

        last = [0] * len(subnets)

        def emit():
            # the map keeps totals (no read-then-clear race): print what is new
            got = {}
            for i in range(len(subnets)):
                total = counts[i]
                got[i], last[i] = total - last[i], total
            sys.stdout.write(report(subnets, got, a.format, a.json, datetime.now()))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, _cli.FOREVER, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
