"""Summarize packets per transmit and receive queue of a network interface:
average packet size and packets by size for each queue, every interval;
-t adds bytes and packets per second.

examples:
    netqtop -n eth0              # eth0's queues, every second
    netqtop -n eth0 -i 5 -t      # every 5 seconds, with BPS and PPS
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import corebpf

from . import _cli, _jsonl

PROG = "netqtop"
ROOT_PATH = "/sys/class/net"
IFNAMSIZ = 16
MAX_QUEUE_NUM = 1024
HEADERS = ["QueueID", "avg_size", "[0, 64)", "[64, 512)", "[512, 2K)", "[2K, 16K)",
           "[16K, 64K)"]


def interval_type(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not 0 < v <= 2**31:
        raise argparse.ArgumentTypeError("print interval must be non-zero and positive")
    return v


interval_type.lo, interval_type.hi = 0.001, 2**31


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("--name", "-n", default="", help="the network interface")
    p.add_argument("--interval", "-i", type=interval_type, default=1,
                   help="output interval, in seconds (default 1)")
    p.add_argument("--throughput", "-t", action="store_true",
                   help="also bytes and packets per second")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
SIZES = (("size_64b", "size_64B", "[0, 64)"), ("size_512b", "size_512B", "[64, 512)"),
         ("size_2k", "size_2K", "[512, 2K)"), ("size_16k", "size_16K", "[2K, 16K)"),
         ("size_64k", "size_64K", "[16K, 64K)"))
JSON = _jsonl.Intervals("one object per interval: packets per queue of the interface", fields=[
    F("interface", "string", "the network interface"),
    F("interval_s", "number", "the interval", "s"),
], rows=[
    F("direction", "string", "tx or rx"),
    F("queue", "integer", "queue ID"),
    F("bytes", "integer", "bytes in the interval (bytes per second: bytes / interval_s)",
      "bytes"),
    F("packets", "integer", "packets in the interval"),
    *(F(name, "integer", f"packets of {span} bytes") for name, _, span in SIZES),
])


def json_rows(direction: str, items, qnum: int) -> list:
    """--json: a row per queue 0..qnum-1 (as table())."""
    by_q = dict(items)
    rows = []
    for q in range(qnum):
        v = by_q.get(q)
        row = {"direction": direction, "queue": q,
               "bytes": v.total_pkt_len if v else 0, "packets": v.num_pkt if v else 0}
        row.update((name, getattr(v, attr) if v else 0) for name, attr, _ in SIZES)
        rows.append(row)
    return rows


def to_str(num) -> str:
    if num > 1000000:
        return str(round(num / (1024 * 1024.0), 2)) + 'M'
    if num > 1000:
        return str(round(num / 1024.0, 2)) + 'K'
    if isinstance(num, float):
        return str(round(num, 2))
    return str(num)


def table(items, qnum: int, interval: float, throughput: bool) -> list:
    """bcc's table of one direction: a row per queue 0..qnum-1, then Total."""
    out = [" " + "".join("%-11s" % h for h in HEADERS + (["BPS", "PPS"] if throughput else []))]
    by_q = dict(items)
    tlen = sum(v.total_pkt_len for v in by_q.values())
    tpkt = sum(v.num_pkt for v in by_q.values())
    groups = [sum(getattr(v, f) for v in by_q.values())
              for f in ("size_64B", "size_512B", "size_2K", "size_16K", "size_64K")]
    for q in range(qnum):
        v = by_q.get(q)
        data = [q, 0, 0, 0, 0, 0, 0, 0] if v is None else \
            [q, v.total_pkt_len, v.num_pkt, v.size_64B, v.size_512B, v.size_2K, v.size_16K,
             v.size_64K]
        avg = data[1] / data[2] if data[2] else 0
        line = " %-11d%-11s%-11s%-11s%-11s%-11s%-11s" % (
            data[0], to_str(avg), *(to_str(x) for x in data[3:8]))
        if throughput:
            line += "%-11s%-11s" % (to_str(data[1] / interval), to_str(data[2] / interval))
        out.append(line)
    tavg = tlen / tpkt if tpkt else 0
    line = " Total      %-11s%-11s%-11s%-11s%-11s%-11s" % (to_str(tavg),
                                                           *(to_str(g) for g in groups))
    if throughput:
        line += "%-11s%-11s" % (to_str(tlen / interval), to_str(tpkt / interval))
    out.append(line)
    return out


def queues(name: str) -> tuple:
    """(tx, rx) queue counts of interface `name` from sysfs; UsageError if none."""
    path = os.path.join(ROOT_PATH, name, "queues")
    try:
        entries = os.listdir(path)
    except (OSError, ValueError):
        raise _cli.UsageError(f"Net interface {name} does not exist.") from None
    tx = sum(e.startswith("t") for e in entries)
    rx = sum(e.startswith("r") for e in entries)
    if tx > MAX_QUEUE_NUM or rx > MAX_QUEUE_NUM:
        raise _cli.UsageError(f"number of queues over {MAX_QUEUE_NUM} is not supported.")
    return tx, rx


def run(argv=None):
    a = parse(argv)
    if not a.name:
        raise _cli.UsageError("Please specify a network interface.")
    raw = a.name.encode("utf-8", "surrogateescape")
    if len(raw) > IFNAMSIZ - 1 or "/" in a.name or a.name in (".", ".."):
        raise _cli.UsageError("NIC name too long" if len(raw) > IFNAMSIZ - 1
                              else f"Net interface {a.name} does not exist.")
    tx_num, rx_num = queues(a.name)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_ifname = raw.ljust(IFNAMSIZ, b"\0")
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        tx_q, rx_q = obj.maps["tx_q"], obj.maps["rx_q"]
        while not _cli.wait_stop(a.interval):
            if a.json:
                JSON.write(json_rows("tx", tx_q.pop_items(), tx_num) +
                           json_rows("rx", rx_q.pop_items(), rx_num),
                           interface=a.name, interval_s=a.interval)
                continue
            out = [time.asctime(time.localtime(time.time())), "TX"]
            out += table(tx_q.pop_items(), tx_num, a.interval, a.throughput)
            out += ["", "RX"]
            out += table(rx_q.pop_items(), rx_num, a.interval, a.throughput)
            out.append("-" * (95 if a.throughput else 77))
            sys.stdout.write("\n".join(out) + "\n")
            sys.stdout.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
