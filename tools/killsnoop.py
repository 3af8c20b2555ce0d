"""Trace signals sent with the kill() syscall: one line per call, with the
sender, the signal, the target and the result.

examples:
    killsnoop             # trace every kill()
    killsnoop -x          # only failed kill() calls
    killsnoop -p 181      # only kill() calls made by PID 181
    killsnoop -T 189      # only kill() calls aimed at PID 189
    killsnoop -s 9        # only signal 9
    killsnoop -s 1,9,15   # only signals 1, 9 and 15
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl, _signals

PROG = "killsnoop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-x", "--failed", action="store_true", help="only show failed kill() calls")
    p.add_argument("-p", "--pid", type=_cli.pid_type,
                   help="trace this PID only (the process sending the signal)")
    p.add_argument("-T", "--tpid", type=_cli.pid_number,
                   help="trace this target PID only (the one the signal is sent to)")
    p.add_argument("-s", "--signal", type=_signals.signal_list,
                   help="trace only these signals (a number or a comma-separated list)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def pid_width() -> int:
    """bcc's PID column width: the digits of the largest PID, plus one."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return len(f.read().strip()) + 1
    except OSError:
        return 8


def header(width: int) -> str:
    return "%-9s %-*s %-16s %-4s %-*s %s" % ("TIME", width, "PID", "COMM", "SIG", width,
                                             "TPID", "RESULT")


F = _jsonl.Field
JSON = _jsonl.Events("one object per kill() call", [
    F("pid", "integer", "sender process ID"),
    F("comm", "string", "sender command name"),
    F("sig", "integer", "signal number"),
    F("tpid", "integer", "target PID as passed to kill()"),
    F("ret", "integer", "kill()'s return value (0 or -errno)"),
    _containers.FIELD,
])


def format_event(e, width: int, now: float = None) -> str:
    return "%-9s %-*d %-16s %-4d %-*d %d" % (time.strftime("%H:%M:%S", time.localtime(now)),
                                             width, e.pid, e.comm, e.sig, width, e.tpid, e.ret)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    width = pid_width()
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        if a.tpid:
            obj.rodata.targ_tpid = a.tpid
        obj.rodata.targ_failed = a.failed
        _signals.set_filter(obj, a.signal)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        head, text = _containers.column(a, header(width), lambda e: format_event(e, width))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
