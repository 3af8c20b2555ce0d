"""Top-like table of block device I/O by process: I/O count, Kbytes and
average latency per process, direction and disk, refreshed every interval.

examples:
    biotop            # block device I/O top, 1 second refresh
    biotop -C         # don't clear the screen
    biotop -p 181     # only trace PID 181
    biotop 5          # 5 second summaries
    biotop 5 10       # 5 second summaries, 10 times only
"""
from __future__ import annotations

import sys
import time

import corebpf

from . import _block, _cli, _jsonl

PROG = "biotop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", type=_cli.positive_int, default=20,
                   help="maximum rows to print, default 20")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


HEADER = "%-7s %-16s %1s %-3s %-3s %-8s %5s %7s %6s" % (
    "PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms")


def top(items, maxrows: int) -> list:
    return sorted(items, key=lambda kv: kv[1].bytes, reverse=True)[:maxrows]


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: block I/O per process and disk in it "
                        "(by bytes, -r)", [_jsonl.LOADAVG], rows=[
    F("pid", "integer", "process ID that issued the I/O", get=lambda kv: kv[0].pid),
    F("comm", "string", "its command name", get=lambda kv: kv[0].comm),
    F("op", "string", "R (read) or W (write)", get=lambda kv: "W" if kv[0].rwflag else "R"),
    F("major", "integer", "disk's major number", get=lambda kv: kv[0].major),
    F("minor", "integer", "disk's minor number", get=lambda kv: kv[0].minor),
    F("disk", "string|null", "disk name, null if unknown", get=None),
    F("io", "integer", "I/O requests completed", get=lambda kv: kv[1].io),
    F("bytes", "integer", "bytes transferred", "bytes", get=lambda kv: kv[1].bytes),
    F("total_us", "integer", "sum of the requests' latencies", "us", get=lambda kv: kv[1].us),
])


def json_rows(items, names, maxrows: int) -> list:
    out = []
    for kv in top(items, maxrows):
        row = {f.name: f.get(kv) for f in JSON.rows if f.name != "disk"}
        row["disk"] = names.get(_block.mkdev(kv[0].major, kv[0].minor))
        out.append(row)
    return out


def rows(items, names, maxrows: int) -> list:
    """Table rows for [(info_key, info_val)], biggest byte counts first."""
    out = []
    for k, v in top(items, maxrows):
        disk = names.get(_block.mkdev(k.major, k.minor), "?")
        avg_ms = (v.us / 1000) / v.io if v.io else 0.0
        # Kbytes is a true division printed with %s, as bcc prints it (4096.0)
        out.append("%-7d %-16s %1s %-3d %-3d %-8s %5s %7s %6.2f" % (
            k.pid, k.comm, "W" if k.rwflag else "R", k.major, k.minor, disk, v.io,
            v.bytes / 1024, avg_ms))
    return out


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    names = _block.DiskNames()
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _block.attach_requests(obj)
        counts = obj.maps["counts"].raw_text(a.json)
        _jsonl.status(a, "Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval)

        def emit():
            if a.json:
                JSON.write(json_rows(counts.pop_items(), names, a.maxrows),
                           loadavg=_cli.loadavg())
                return
            if a.noclear:
                sys.stdout.write("\n")
            else:
                _cli.clear_screen()
            text = [_cli.loadavg_line(), "\n", HEADER, "\n"]
            for r in rows(counts.pop_items(), names, a.maxrows):
                text.extend((r, "\n"))
            sys.stdout.write("".join(text))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
        _jsonl.status(a, "Detaching...")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
