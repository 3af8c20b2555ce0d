"""Trace direct page reclaim: one line per reclaim by an allocating task, with
its latency and the pages it reclaimed.

FREE(KB) (-v) is read from /proc/vmstat as each line is printed (bcc reads
the kernel's vm_stat when the reclaim begins, a data symbol listed only by
kernels built with CONFIG_KALLSYMS_ALL).  --memcg also shows the reclaim a task does when its memory
cgroup is at its limit (not in bcc, whose direct reclaim is the global kind).

examples:
    drsnoop           # every direct reclaim
    drsnoop -T        # with seconds since the first one
    drsnoop -U        # with the UID of the reclaiming task
    drsnoop -p 181    # only process 181
    drsnoop -t 123    # only thread 123
    drsnoop -u 1000   # only tasks of UID 1000
    drsnoop -d 10     # stop after 10 seconds
    drsnoop -n main   # only tasks whose name contains "main"
    drsnoop -v        # with free memory (KiB)
    drsnoop --memcg   # also reclaim at a memory cgroup's limit
"""
from __future__ import annotations

import os

import corebpf

from . import _cli, _containers, _jsonl

PROG = "drsnoop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.add_argument("-T", "--timestamp", action="store_true", help="add a TIME(s) column: seconds since the first reclaim")
    p.add_argument("-U", "--print-uid", action="store_true", help="add a UID column")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="only reclaim by this process")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="only reclaim by this thread (the column becomes TID)")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="only reclaim by tasks of this user (UID or name)")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="stop after this many seconds")
    p.add_argument("-n", "--name", help="only tasks whose name contains this text")
    p.add_argument("-v", "--verbose", "--verbose-memory", dest="show_free", action="store_true",
                   help="show free memory (FREE(KB), read when the line is printed)")
    p.add_argument("--memcg", action="store_true",
                   help="also trace reclaim by tasks at their memory cgroup's limit")
    _jsonl.add_args(p)
    _containers.add_args(p)
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


F = _jsonl.Field
JSON = _jsonl.Events("one object per direct reclaim", [
    F("ts_us", "integer", "end of the reclaim, kernel time (CLOCK_MONOTONIC)", "us",
      get=lambda e: e.ts),
    F("pid", "integer", "process ID", get=lambda e: e.id >> 32),
    F("tid", "integer", "thread ID", get=lambda e: e.id & 0xFFFFFFFF),
    F("uid", "integer", "user ID"),
    F("comm", "string", "command name"),
    F("latency_ns", "integer", "time the reclaim took", "ns", get=lambda e: e.delta),
    F("pages", "integer", "pages reclaimed", get=lambda e: e.nr_reclaimed),
    F("memcg", "boolean", "a memory cgroup's limit reclaim (--memcg)",
      get=lambda e: bool(e.memcg)),
    F("free_kb", "integer", "free memory when the tool read the event (-v)", "KiB",
      get=lambda e: None, optional=True),
    _containers.FIELD,
])


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
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        first = []

        def text(e):
            if not first:
                first.append(e.ts)
            if a.name and a.name not in e.comm:
                return None
            return format_event(e, a, first[0])

        def record(e):
            if a.name and a.name not in e.comm:
                return None
            return JSON.record(e, free_kb=free_kbytes() if a.show_free else None)

        head, text = _containers.column(a, header(a), text)
        rb, out = _jsonl.ring(obj, a, _jsonl.Custom(record), text, head)
        _cli.event_loop(rb, out, duration=a.duration)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
