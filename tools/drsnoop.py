"""Trace direct page reclaim: one line per reclaim by an allocating task, with
its latency and the pages it reclaimed.

FREE(KB) (-v) is read from /proc/vmstat as each line is printed (bcc reads
the kernel's vm_stat when the reclaim begins, a data symbol most kernels do
not export).  --memcg also shows the reclaim a task does when its memory
cgroup is at its limit (not in bcc, whose direct reclaim is the global kind).

examples:
    drsnoop           # trace all direct reclaim
    drsnoop -T        # include timestamps
    drsnoop -U        # include UID
    drsnoop -p 181    # only trace PID 181
    drsnoop -t 123    # only trace TID 123
    drsnoop -u 1000   # only trace UID 1000
    drsnoop -d 10     # trace for 10 seconds only
    drsnoop -n main   # only print process names containing "main"
    drsnoop -v        # include free memory when the line is printed
    drsnoop --memcg   # also memory-cgroup limit reclaim
"""
from __future__ import annotations

import os

import corebpf

from . import _cli

PROG = "drsnoop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, short_verbose=False)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="trace this UID only")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-v", "--verbose-memory", dest="show_free", action="store_true",
                   help="show free memory (FREE(KB), read when the line is printed)")
    p.add_argument("--memcg", action="store_true",
                   help="also trace reclaim by tasks at their memory cgroup's limit")
    return p.parse_args(argv)


def header(a) -> str:
    h = ""
    if a.timestamp:
        h += "%-14s" % "TIME(s)"
    if a.print_uid:
        h += "%-6s" % "UID"
    h += "%-14s %-6s %8s %5s" % ("COMM", "TID" if a.tid else "PID", "LAT(ms)", "PAGES")
    if a.show_free:
        h += "%10s" % "FREE(KB)"
    return h


def free_kbytes() -> int:
    """NR_FREE_PAGES in KiB, now."""
    with open("/proc/vmstat", "rb") as f:
        for line in f:
            if line.startswith(b"nr_free_pages "):
                return int(line.split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def format_event(e, a, first_ts: int, free_kb: int = None) -> str:
    line = ""
    if a.timestamp:
        line += "%-14.9f" % ((e.ts - first_ts) / 1000000)
    if a.print_uid:
        line += "%-6d" % e.uid
    who = e.id & 0xFFFFFFFF if a.tid else e.id >> 32
    line += "%-14.14s %-6s %8.2f %5d" % (e.comm, who, e.delta / 1000000, e.nr_reclaimed)
    if a.show_free:
        line += "%10d" % (free_kbytes() if free_kb is None else free_kb)
    return line


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.tid:
            obj.rodata.targ_tid = a.tid
        elif a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.uid is not None:
            obj.rodata.targ_uid = a.uid
        if not a.memcg:
            for p in obj.programs.values():
                if p.hook.startswith("memcg_"):
                    p.autoload = False
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        out = _cli.Output()
        first = []

        def on_event(e):
            if not first:
                first.append(e.ts)
            if a.name and a.name not in e.comm:
                return
            out(format_event(e, a, first[0]))

        rb = obj.ring_buffer("events", on_event)
        print(header(a), flush=True)
        _cli.event_loop(rb, out, duration=a.duration)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
