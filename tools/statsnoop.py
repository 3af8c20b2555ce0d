"""Trace stat()-family syscalls: one line per call as it returns, with the path.

Covers statfs, stat (newstat), lstat (newlstat), fstatat (newfstatat) and
statx.  FD is the return value (0 on success, -1 on failure), ERR the errno.

examples:
    statsnoop           # trace every stat-family syscall
    statsnoop -t        # include a timestamp column
    statsnoop -x        # only failed stats
    statsnoop -p 181    # only process 181
    statsnoop -s        # show which syscall was used
    statsnoop --containers  # include a CONTAINER column (container id or cgroup)
"""
from __future__ import annotations

import corebpf

from . import _cli, _containers, _jsonl

PROG = "statsnoop"
# bcc's SYSCALL column names, indexed by enum stat_call (statsnoop.h)
CALLS = ("N/A", "stat", "statx", "statfs", "newstat", "newlstat", "fstatat64", "newfstatat")
# The raw_syscalls variants' table (names of corebpf.syscalls: the
# tracepoints' newstat/newlstat are stat/lstat there): the path argument's
# index << 8 | CALLS index.
SYSCALLS = {"statfs": CALLS.index("statfs"), "stat": CALLS.index("newstat"),
            "lstat": CALLS.index("newlstat"),
            "newfstatat": 1 << 8 | CALLS.index("newfstatat"),
            "statx": 1 << 8 | CALLS.index("statx")}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-t", "--timestamp", action="store_true", help="include a timestamp column")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed stats")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-s", "--sysname", action="store_true", help="show the syscall's name")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    h = "%-14s" % "TIME(s)" if a.timestamp else ""
    h += _containers.header(a)
    h += "%-7s %-16s %4s %3s" % ("PID", "COMM", "FD", "ERR")
    if a.sysname:
        h += " %-12s" % "SYSCALL"
    return h + " %s" % "PATH"


F = _jsonl.Field
JSON = _jsonl.Events("one object per stat-family call", [
    F("ts_ns", "integer", "kernel time of the return (CLOCK_MONOTONIC)", "ns", get=lambda e: e.ts),
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("ret", "integer", "return value (0 or -errno)"),
    F("errno", "integer", "the error number, 0 on success",
      get=lambda e: 0 if e.ret >= 0 else -e.ret),
    F("call", "string", "the syscall (stat, statx, newfstatat...)",
      get=lambda e: CALLS[e.call] if e.call < len(CALLS) else CALLS[0]),
    F("path", "string", "the path as passed", get=lambda e: e.fname),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    fd, err = (e.ret, 0) if e.ret >= 0 else (-1, -e.ret)
    line = "%-14.9f" % ((e.ts - first_ts) / 1e9) if a.timestamp else ""
    line += _containers.text(a, e)
    line += "%-7d %-16s %4d %3d" % (e.pid, e.comm, fd, err)
    if a.sysname:
        line += " %-12s" % (CALLS[e.call] if e.call < len(CALLS) else CALLS[0])
    return line + " %s" % e.fname


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_failed = a.failed
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _cli.drop_missing_syscalls(obj)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        first = []

        def text(e):
            if not first:
                first.append(e.ts)
            return format_event(e, a, first[0])

        rb, out = _jsonl.ring(obj, a, JSON, text, header(a))
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
