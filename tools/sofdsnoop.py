"""Trace file descriptors passed via socket.

examples:
    sofdsnoop           # trace passed file descriptors
    sofdsnoop -T        # include timestamps
    sofdsnoop -p 181    # only trace PID 181
    sofdsnoop -t 123    # only trace TID 123
    sofdsnoop -d 10     # trace for 10 seconds only
    sofdsnoop -n main   # only print process names containing "main"

probes: the sendmsg and recvmsg syscall tracepoints: the SCM_RIGHTS control
message a sender passes (at entry) and the one a receiver got (at return);
bcc's kprobes on __scm_send and scm_detach_fds also see sendmmsg/recvmmsg.
"""
from __future__ import annotations

import os

import corebpf

from . import _cli

PROG = "sofdsnoop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace in seconds")
    return p.parse_args(argv)


def header(a) -> str:
    return ("%-14s" % "TIME(s)" if a.timestamp else "") + "%-6s %-6s %-16s %-25s %-5s %s" % (
        "ACTION", "TID", "COMM", "SOCKET", "FD", "NAME")


def fd_path(tid: int, fd: int) -> str:
    """What bcc shows: the fd's /proc link, at print time."""
    try:
        return os.readlink("/proc/%d/fd/%d" % (tid, fd))
    except OSError:
        return "N/A"


def format_event(e, a, first_ts: int, path=fd_path) -> list:
    tid = e.id & 0xFFFFFFFF
    prefix = "%-14.9f" % ((e.ts_us - first_ts) / 1000000) if a.timestamp else ""
    sock = "%d:%s" % (e.sock_fd, path(tid, e.sock_fd))
    send = e.action == 0
    return [prefix + "%-6s %-6d %-16s %-25s %-5d %s" % (
        "SEND" if send else "RECV", tid, e.comm, sock, fd, path(tid, fd) if send else "")
            for fd in list(e.fd)[:max(0, min(e.fd_cnt, len(e.fd)))]]


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.tid:
            obj.rodata.targ_tid = a.tid
        elif a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        out = _cli.Output()
        first = []

        def show(e):
            if a.name and a.name not in e.comm:
                return
            if not first:
                first.append(e.ts_us)
            for line in format_event(e, a, first[0]):
                out(line)

        rb = obj.ring_buffer("events", show)
        print(header(a), flush=True)
        try:
            _cli.event_loop(rb, out, duration=a.duration)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
