"""Trace signals as the kernel generates them (standard and real-time), or
only those sent with kill(), tkill() and tgkill(): one line per signal with
sender, signal, target and result.  (libbpf-tools' sigsnoop; bcc has none.)

examples:
    sigsnoop             # trace every signal generated
    sigsnoop -k          # only signals sent by kill(), tkill(), tgkill()
    sigsnoop -x          # only failed signals
    sigsnoop -p 1216     # only signals sent by PID 1216
    sigsnoop -s 1,9,15   # only signals 1, 9 and 15
    sigsnoop -n          # print signal names instead of numbers
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl, _signals

PROG = "sigsnoop"

SIGNAMES = ["N/A", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
            "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
            "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
            "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",
            "SIGIO", "SIGPWR", "SIGSYS"] + ["SIGNAL-%d" % n for n in range(32, 65)]

KILL_PROGS = ("kill_entry", "kill_exit", "tkill_entry", "tkill_exit", "tgkill_entry",
              "tgkill_exit", "kill_target")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-x", "--failed", action="store_true", help="only failed signals")
    p.add_argument("-k", "--kill", action="store_true",
                   help="only signals sent by the kill(), tkill() and tgkill() syscalls")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="only signals sent by this PID")
    p.add_argument("-s", "--signal", type=_signals.signal_list,
                   help="only these signals (a number or a comma-separated list)")
    p.add_argument("-n", "--name", action="store_true",
                   help="print signal names instead of numbers")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


HEADER = "%-8s %-7s %-16s %-12s %-7s %-16s %-6s" % ("TIME", "PID", "COMM", "SIG", "TPID",
                                                    "TCOMM", "RESULT")


def target_comm(e) -> str:
    """The target's comm; in kill mode, looked up now when no signal was
    generated (signal 0); N/A if unknown."""
    if e.tcomm:
        return e.tcomm
    if e.ret == 0 and e.tpid > 0:
        comm = _cli.proc_comm(e.tpid)
        if comm is not None:
            return comm
    return "N/A"


F = _jsonl.Field
JSON = _jsonl.Events("one object per signal generated (-k: per kill() call)", [
    F("pid", "integer", "sender process ID"),
    F("comm", "string", "sender command name"),
    F("sig", "integer", "signal number"),
    F("signame", "string|null", "signal name (SIGTERM...), null if none",
      get=lambda e: SIGNAMES[e.sig] if 0 <= e.sig < len(SIGNAMES) else None),
    F("tpid", "integer", "target thread ID as the sender named it"),
    F("tcomm", "string", "target command name, empty if unknown"),
    F("ret", "integer", "result (0 or -errno)"),
    _containers.FIELD,
])


def format_event(e, names: bool, now: float = None) -> str:
    ts = time.strftime("%H:%M:%S", time.localtime(now))
    if names and 0 <= e.sig < len(SIGNAMES):
        return "%-8s %-7d %-16s %-12s %-7d %-16s %-6d" % (ts, e.pid, e.comm, SIGNAMES[e.sig],
                                                          e.tpid, target_comm(e), e.ret)
    return "%-8s %-7d %-16s %-12d %-7d %-16s %-6d" % (ts, e.pid, e.comm, e.sig, e.tpid,
                                                      target_comm(e), e.ret)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_failed = a.failed
        _signals.set_filter(obj, a.signal)
        _containers.apply(obj, a)
        for name, prog in obj.programs.items():
            prog.autoload = (name in KILL_PROGS) == a.kill
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        head, text = _containers.column(a, HEADER, lambda e: format_event(e, a.name))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
