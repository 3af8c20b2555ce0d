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

from . import _cli, _containers, _ipcsnoop, _jsonl

PROG = "sofdsnoop"


def parse(argv=None):
    return _ipcsnoop.parse(PROG, __doc__, argv)


def header(a) -> str:
    return ("%-14s" % "TIME(s)" if a.timestamp else "") + "%-6s %-6s %-16s %-25s %-5s %s" % (
        "ACTION", "TID", "COMM", "SOCKET", "FD", "NAME")


def fd_path(tid: int, fd: int) -> str:
    """What bcc shows: the fd's /proc link, at print time."""
    try:
        return os.readlink("/proc/%d/fd/%d" % (tid, fd))
    except OSError:
        return "N/A"


F = _jsonl.Field
JSON = _jsonl.Events("one object per file descriptor passed over a UNIX socket "
                     "(SCM_RIGHTS)", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("action", "string", "SEND or RECV"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("comm", "string", "command name"),
    F("sock_fd", "integer", "the socket's file descriptor"),
    F("sock_path", "string", "the socket's /proc link when the tool read it, N/A if gone"),
    F("fd", "integer", "the file descriptor passed (the sender's for SEND, the "
                       "receiver's for RECV)"),
    F("fd_path", "string|null", "a SEND's fd's /proc link when the tool read it, N/A if "
                                "gone; null for RECV"),
    _containers.FIELD,
])


def records(e, path=fd_path) -> list:
    """--json: the objects of one record, one per descriptor."""
    tid = e.id & 0xFFFFFFFF
    send = e.action == 0
    sock = path(tid, e.sock_fd)         # os.readlink: non-UTF-8 bytes as \udcNN already
    return [JSON.record(e, action="SEND" if send else "RECV", pid=e.id >> 32, tid=tid,
                        sock_path=sock, fd=fd, fd_path=path(tid, fd) if send else None)
            for fd in list(e.fd)[:max(0, min(e.fd_cnt, len(e.fd)))]]


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
    return _ipcsnoop.run(PROG, a, header(a), format_event, records)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
