"""Trace open(), openat() and openat2(): one line per call as it returns.

examples:
    opensnoop                    # trace every open
    opensnoop -T                 # include a timestamp column
    opensnoop -U                 # include a UID column
    opensnoop -x                 # only failed opens
    opensnoop -p 181             # only process 181
    opensnoop -t 123             # only thread 123
    opensnoop -u 1000            # only UID 1000
    opensnoop -d 10              # trace for 10 seconds only
    opensnoop -n main            # only commands whose name contains "main"
    opensnoop -e                 # show the FLAGS and MODE columns
    opensnoop -f O_WRONLY -f O_RDWR  # only opens for writing
    opensnoop -F                 # print full paths for relative opens
    opensnoop --exec make        # run make and trace only it
    opensnoop --containers       # include a CONTAINER column (container id or cgroup)
"""
from __future__ import annotations

import argparse
import os

import corebpf

from . import _cli, _containers, _jsonl

PROG = "opensnoop"
PAGE = 4096


def _power_of_two(v, text):
    if v & (v - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two: {text}")
    return v


# the ring buffer's size in bytes is a u32 power of two: at most 2^31
_pages = _cli.Number(1, 2**31 // PAGE, "pages", check=_power_of_two)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include a timestamp column")
    p.add_argument("-U", "--print-uid", action="store_true", help="print a UID column")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed opens")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="trace this UID only")
    p.add_argument("-d", "--duration", type=_cli.positive_int, help="total duration of trace, seconds")
    p.add_argument("-n", "--name", help="only print commands whose name contains this")
    p.add_argument("-e", "--extended_fields", action="store_true",
                   help="show extended fields (flags and mode)")
    p.add_argument("-f", "--flag_filter", action="append", metavar="O_FLAG",
                   help="only opens with this flag (repeatable; e.g. O_WRONLY)")
    p.add_argument("-F", "--full-path", action="store_true",
                   help="show the full path of opens given a relative path")
    p.add_argument("-b", "--buffer-pages", type=_pages, default=1024,
                   help="size of the ring buffer in pages, a power of two (default 1024)")
    p.add_argument("--exec", nargs=argparse.REMAINDER, metavar="CMD",
                   help="run this command and trace only it (put last)")
    _jsonl.add_args(p)
    _cli.container_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def flag_mask(names) -> int:
    mask = 0
    for name in names or ():
        val = getattr(os, name, None) if name.startswith("O_") else None
        if not isinstance(val, int):
            raise _cli.UsageError(f"Bad flag: {name}")
        mask |= val
    return mask


def header(a) -> str:
    h = ""
    if a.timestamp:
        h += "%-14s" % "TIME(s)"
    if a.print_uid:
        h += "%-6s" % "UID"
    h += _containers.header(a)
    h += "%-6s %-16s %4s %3s " % ("TID" if a.tid else "PID", "COMM", "FD", "ERR")
    if a.extended_fields:
        h += "%-8s %-4s " % ("FLAGS", "MODE")
    return h + "PATH"


def path_of(e, decode=_cli.text) -> str:
    """The path as passed; with full paths, joined to the directory walked in the kernel."""
    buf = e.buf
    fname = decode(buf[:max(e.fname_size - 1, 0)])
    if not e.dir_size:
        return fname
    comps = buf[e.fname_size:e.fname_size + e.dir_size].split(b"\0")[:-1]
    d = "/".join(decode(c) for c in reversed(comps))
    return "/" + d + ("/" if d else "") + fname


_CREATE = getattr(os, "O_CREAT", 0o100) | getattr(os, "O_TMPFILE", 0o20200000)


F = _jsonl.Field
JSON = _jsonl.Events("one object per open()", [
    F("ts_ns", "integer", "kernel time of the return (CLOCK_MONOTONIC)", "ns", get=lambda e: e.ts),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("uid", "integer", "user ID"),
    F("comm", "string", "the thread's command name"),
    F("fd", "integer", "the file descriptor, -1 on failure",
      get=lambda e: e.ret if e.ret >= 0 else -1),
    F("errno", "integer", "the error number, 0 on success",
      get=lambda e: 0 if e.ret >= 0 else -e.ret),
    F("flags", "integer", "open flags (O_*)"),
    F("mode", "integer", "mode argument (with O_CREAT/O_TMPFILE)"),
    F("path", "string", "the path as passed (-F: made absolute in the kernel)",
      get=lambda e: path_of(e, _jsonl.raw)),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    line = ""
    if a.timestamp:
        line += "%-14.9f" % ((e.ts - first_ts) / 1e9)
    if a.print_uid:
        line += "%-6d" % e.uid
    fd, err = (e.ret, 0) if e.ret >= 0 else (-1, -e.ret)
    line += _containers.text(a, e)
    line += "%-6d %-16s %4d %3d " % (e.tid if a.tid else e.pid, e.comm, fd, err)
    if a.extended_fields:
        if e.mode == 0 and not (e.flags & _CREATE):
            line += "%08o n/a  " % e.flags
        else:
            line += "%08o %04o " % (e.flags, e.mode)
    return line + path_of(e)


# The raw_syscalls variants' table (bpf_src/opensnoop.bpf.c: OA_*).
SYSCALLS = {"open": 1, "openat": 2, "openat2": 3}


def run(argv=None):
    a = parse(argv)
    if a.exec is not None and a.pid:
        raise _cli.UsageError("can only use -p or --exec")
    if a.exec is not None and not a.exec:
        raise _cli.UsageError("--exec needs a command")
    mask = flag_mask(a.flag_filter)
    _cli.setup(a)
    child = release = None
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_failed = a.failed
        obj.rodata.full_path = a.full_path
        obj.rodata.targ_flags = mask
        if a.tid:
            obj.rodata.targ_tid = a.tid
        elif a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.uid is not None:
            obj.rodata.targ_uid = a.uid
        obj.maps["events"].resize(a.buffer_pages * PAGE, "--buffer-pages")
        # open() does not exist on every architecture (arm64).
        _cli.drop_missing_syscalls(obj)
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        if a.exec is not None:
            child, release = _cli.spawn_paused(a.exec, PROG)
            obj.rodata.targ_tgid = child
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        out = _cli.Output(json=a.json)
        first = []

        def on_event(e):
            if a.name and a.name not in e.comm:
                return
            if a.json:
                out(JSON.line(e))
                return
            if not first:
                first.append(e.ts)
            out(format_event(e, a, first[0]))

        # attached: the header now; records wait in the kernel's ring until the
        # first poll (its consumer -- the record decoder built from BTF, the 4 MB
        # mapping the kernel fills at mmap -- is ~2 ms of a start)
        if a.json:
            _jsonl.header(header(a))
        else:
            print(header(a), flush=True)
        rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        stop = None
        if child:
            release()
            done = []

            def stop():
                if not done and os.waitpid(child, os.WNOHANG)[0] == child:
                    done.append(1)
                    return False        # one more poll drains the last records
                return bool(done)
        try:
            _cli.event_loop(rb, out, duration=a.duration, stop=stop)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
