"""Trace process termination (exit() or a fatal signal): one line per exiting
process with its parent, age and exit status or signal.

examples:
    exitsnoop                # trace every process exit
    exitsnoop -x             # only failures: non-zero status or a signal
    exitsnoop -t             # include a timestamp column (local time)
    exitsnoop --utc          # include a timestamp column in UTC
    exitsnoop -p 181         # only process 181 (ends when it has exited)
    exitsnoop --label=exit   # add a LABEL column reading 'exit'
    exitsnoop --per-thread   # one line per exiting thread
    exitsnoop -j             # one JSON object per exit
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import corebpf

from . import _cli, _containers, _jsonl

PROG = "exitsnoop"

# Signal names as bcc prints them (Python's signal module names without SIG).
SIGNAMES = {
    1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
    9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
    16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
    23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "POLL",
    30: "PWR", 31: "SYS", 34: "RTMIN", 64: "RTMAX",
}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include a timestamp column (local time unless --utc)")
    p.add_argument("--utc", action="store_true", help="timestamps in UTC (implies -t)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("--label", help="add a LABEL column with this text ('exit' if empty)")
    p.add_argument("-x", "--failed", action="store_true",
                   help="only failures: leave out exit status 0")
    p.add_argument("--per-thread", action="store_true",
                   help="report every exiting thread, not only whole processes")
    _jsonl.add_args(p, short=True)
    _containers.add_args(p)
    # bcc's switch for kernels keeping start_time as a timespec: CO-RE reads
    # the field's real type, so it changes nothing here.
    p.add_argument("--timespec", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.utc:
        a.timestamp = True
    return a


def header(a) -> str:
    h = ""
    if a.timestamp:
        h += "%-13s" % ("TIME-" + ("UTC" if a.utc else time.strftime("%Z")))
    if a.label is not None:
        h += "%-6s" % "LABEL"
    h += _containers.header(a)
    return h + "%-16s %-7s %-7s %-7s %-7s %-10s" % ("PCOMM", "PID", "PPID", "TID", "AGE(s)",
                                                     "EXIT_CODE")


def exit_text(exit_code: int, sig_info: int) -> str:
    """bcc's EXIT_CODE column: `0`, `code N`, `signal N (NAME)[, core dumped ]`."""
    if sig_info == 0:
        return "0" if exit_code == 0 else "code %d" % exit_code
    text = ""
    sig = sig_info & 0x7F
    if sig:
        text = "signal %d (%s)" % (sig, SIGNAMES.get(sig, "unknown"))
    if sig_info & 0x80:
        text += ", core dumped "
    return text


def _now(a) -> datetime:
    return datetime.now(timezone.utc) if a.utc else datetime.now()


def format_event(e, a, now: datetime = None) -> str:
    line = ""
    if a.timestamp:
        line += "%-13s" % (now or _now(a)).strftime("%H:%M:%S.%f")[:-3]
    if a.label is not None:
        line += "%-6s" % (a.label or "exit")
    line += _containers.text(a, e)
    age = (e.exit_time - e.start_time) / 1e9
    line += "%-16s %-7d %-7d %-7d %-7.2f " % (e.comm, e.pid, e.ppid, e.tid, age)
    return line + exit_text(e.exit_code, e.sig_info)


F = _jsonl.Field
JSON = _jsonl.Events("one object per exiting process (thread with --per-thread)", [
    F("timestamp", "string", "local time (UTC with --utc), YYYY-MM-DDTHH:MM:SS.mmm"),
    F("task", "string", "command name", get=lambda e: e.comm),
    F("pid", "integer", "process ID"),
    F("ppid", "integer", "parent process ID"),
    F("tid", "integer", "thread ID"),
    F("age", "number", "time since the process started", "s",
      get=lambda e: (e.exit_time - e.start_time) / 1e9),
    F("exit_code", "integer", "exit status (the low 8 bits of exit())"),
    F("sig_info", "integer", "terminating signal, 0x80 = core dumped, 0 = exit()"),
    F("start_ns", "integer", "start time (CLOCK_MONOTONIC)", "ns", get=lambda e: e.start_time),
    F("exit_ns", "integer", "exit time (CLOCK_MONOTONIC)", "ns", get=lambda e: e.exit_time),
    _containers.FIELD,
])


def format_json(e, a, now: datetime = None) -> dict:
    return JSON.record(e, timestamp=(now or _now(a)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_per_thread = a.per_thread
        obj.rodata.targ_failed = a.failed
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        out = _cli.Output(json=a.json)
        seen = []

        def on_event(e):
            seen.append(1)
            if a.json:
                out.obj(format_json(e, a))
            else:
                out(format_event(e, a))

        rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        # As bcc: with -p the trace ends after the first batch of exits.
        stop = (lambda: bool(seen)) if a.pid else None
        if a.json:
            _jsonl.header(header(a))
        else:
            print(header(a), flush=True)
        if _cli.event_loop(rb, out, stop=stop) and not a.json:
            print()                 # bcc: Ctrl-C prints an empty line
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
