"""Summarize syscall counts (and, with -L, the time spent in them), counted in
the kernel, by syscall or by process; printed every interval or at the end.

examples:
    syscount                 # count syscalls until Ctrl-C
    syscount -p 181          # only process 181
    syscount -t 182          # only thread 182
    syscount -c 181          # only children of process 181
    syscount -i 1 -d 10      # print every second, for 10 seconds
    syscount -T 5            # the top 5 only (default 10)
    syscount -x              # only failed syscalls
    syscount -e ENOENT       # only syscalls that failed with ENOENT
    syscount -L              # also show the total time in each syscall
    syscount -L -m           # ... in milliseconds
    syscount -P              # count by process, not by syscall
    syscount -l              # list the syscall names known here
    syscount --syscall read  # only read()
    syscount --exec make     # run make and count only its syscalls
"""
from __future__ import annotations

import argparse
import errno
import itertools
import os
import time

import corebpf
from corebpf import syscalls

from . import _cli, _jsonl

PROG = "syscount"


def errno_type(text: str) -> int:
    """An errno as a number (sign ignored) or a name such as EPERM."""
    try:
        v = abs(int(text))
    except ValueError:
        v = getattr(errno, text, None)
        if not isinstance(v, int) or not text.startswith("E"):
            raise argparse.ArgumentTypeError(f"couldn't map {text} to an errno") from None
    if not 0 < v <= errno_type.hi:
        raise argparse.ArgumentTypeError(f"not an errno: {text} (1..{errno_type.hi})")
    return v


errno_type.lo, errno_type.hi = -4095, 4095     # s32 targ_errno; MAX_ERRNO


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace only this PID")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace only this TID")
    p.add_argument("-c", "--ppid", type=_cli.pid_type,
                   help="trace only the children of this PID")
    p.add_argument("-i", "--interval", type=_cli.positive_int,
                   help="print a summary every this many seconds")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of the trace, in seconds")
    p.add_argument("-T", "--top", type=_cli.positive_int, default=10,
                   help="print only the top N syscalls by count or time (default 10)")
    p.add_argument("-x", "--failures", action="store_true",
                   help="count only failed syscalls (return < 0)")
    p.add_argument("-e", "--errno", type=errno_type,
                   help="count only syscalls that fail with this errno (number or name)")
    p.add_argument("-L", "--latency", action="store_true", help="also total the time spent")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="show the time in milliseconds (default: microseconds)")
    p.add_argument("-P", "--process", action="store_true",
                   help="count by process, not by syscall")
    p.add_argument("-l", "--list", action="store_true",
                   help="print the syscall names known here and exit")
    p.add_argument("--syscall", help="count only this syscall (see -l)")
    p.add_argument("--exec", nargs=argparse.REMAINDER, metavar="CMD",
                   help="run this command and count only its syscalls (put last)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def list_text() -> str:
    """Every known name, sorted, four to a line (bcc's -l layout)."""
    names = syscalls.names()
    rows = []
    for grp in itertools.zip_longest(*([iter(names)] * 4)):
        rows.append("   ".join("%-22s" % s for s in grp if s is not None))
    return "\n".join(rows)


def comm_of(pid: int) -> str:
    comm = _cli.proc_comm(pid)
    return "[unknown]" if comm is None else comm.strip()


def key_text(key: int, by_process: bool) -> str:
    if by_process:
        return "%-6d %-15s" % (key, comm_of(key))
    return syscalls.name(key)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval (-i), or one at the end: the top syscalls "
                        "(or processes, -P) by count (by time, -L)", rows=[
    F("syscall", "string", "syscall name (not with -P)", optional=True),
    F("pid", "integer", "process ID (-P)", optional=True),
    F("comm", "string", "its command name now, [unknown] if gone (-P)", optional=True),
    F("count", "integer", "calls counted"),
    F("total_ns", "integer", "time spent in them (-L)", "ns", optional=True),
])


def top(items, a) -> list:
    """The rows of one report: [(key, sc_val)], the top -T by count or time."""
    rows = sorted(items, key=(lambda kv: -kv[1].total_ns) if a.latency else
                  (lambda kv: -kv[1].count))
    return [(k, v) for k, v in rows[:a.top] if k != 0xFFFFFFFF]


def json_rows(items, a) -> list:
    return [{"syscall": None if a.process else syscalls.name(k),
             "pid": k if a.process else None,
             "comm": comm_of(k) if a.process else None, "count": v.count,
             "total_ns": v.total_ns if a.latency else None} for k, v in top(items, a)]


def render(items, a, now: str = None) -> str:
    """One report from the `data` map items [(key, sc_val)]."""
    col = "PID    COMM" if a.process else "SYSCALL"
    out = ["[%s]" % (now or time.strftime("%H:%M:%S"))]
    if a.latency:
        out.append("%-22s %8s %16s" % (col, "COUNT", "TIME (ms)" if a.milliseconds else "TIME (us)"))
    else:
        out.append("%-22s %8s" % (col, "COUNT"))
    for k, v in top(items, a):
        if a.latency:
            fmt = "%-22s %8d %16.6f" if a.milliseconds else "%-22s %8d %16.3f"
            out.append(fmt % (key_text(k, a.process), v.count,
                              v.total_ns / (1e6 if a.milliseconds else 1e3)))
        else:
            out.append("%-22s %8d" % (key_text(k, a.process), v.count))
    return "\n".join(out) + "\n\n"


def run(argv=None):
    a = parse(argv)
    nr = -1
    if a.syscall is not None:
        nr = syscalls.number(a.syscall)
        if nr is None:
            raise _cli.UsageError(f"syscall '{a.syscall}' not found")
    if a.list:
        print(list_text())
        return 0
    if a.exec is not None and (a.pid or a.tid):
        raise _cli.UsageError("can only use -p/-t or --exec")
    if a.exec is not None and not a.exec:
        raise _cli.UsageError("--exec needs a command")
    interval = a.interval or a.duration or _cli.FOREVER
    _cli.setup(a)
    child = release = None
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        if a.pid:
            ro.targ_tgid = a.pid
        elif a.tid:
            ro.targ_tid = a.tid
        if a.ppid:
            ro.targ_ppid = a.ppid
        ro.targ_failed = a.failures
        ro.targ_errno = a.errno or 0
        ro.targ_latency = a.latency
        ro.targ_by_process = a.process
        ro.targ_syscall = nr
        if not a.latency:
            for p in obj.programs.values():
                if p.hook == "enter":
                    p.autoload = False
        # The hash maps are preallocated (cheaper updates on every syscall),
        # at load: sized to what this run can put in them (start: -L only;
        # data without -P: numbers from SC_NRS up, x32's among them), 10240
        # entries each cost ~1 ms of a start.
        if not a.latency:
            obj.maps["start"].resize(1)
        if not a.process:
            obj.maps["data"].resize(1024)
        # the exporter's counts (per comm, per cgroup): never filled by the tool,
        # and even run-time allocated their buckets cost ~0.4 ms each at load
        obj.maps["comms"].resize(1)
        obj.maps["cgroup_calls"].resize(1)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        if a.exec is not None:
            child, release = _cli.spawn_paused(a.exec, PROG)
            ro.targ_tgid = child
        obj.load()
        obj.attach()
        data, nrs = obj.maps["data"], obj.maps["nrs"]

        def pop_items():
            """The counts by process or syscall (most per CPU in `nrs`), cleared."""
            return data.pop_items() + [(k, v) for k, v in nrs.pop_sum_items() if v.count]
        if a.syscall is not None:
            banner = "Tracing %ssyscall '%s'... Ctrl+C to quit." % (
                "failed " if a.failures else "", a.syscall)
        else:
            banner = "Tracing %ssyscalls, printing top %d... Ctrl+C to quit." % (
                "failed " if a.failures else "", a.top)
        exiting = _cli.interrupted(lambda: _jsonl.status(a, banner))
        if release:
            release()
        seconds = 0
        while True:
            if not exiting:
                exiting = _sleep(interval, child)
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            if a.json:
                JSON.write(json_rows(pop_items(), a))
            else:
                print(render(pop_items(), a), end="", flush=True)
            if exiting:
                break
        _jsonl.status(a, "Detaching...")
    return 0


def _sleep(seconds: int, child) -> bool:
    """Sleep; True if Ctrl-C/SIGTERM came or a --exec child exited."""
    if child is None:
        return _cli.wait_stop(seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.waitpid(child, os.WNOHANG)[0] == child:
            return True
        if _cli.wait_stop(min(0.1, max(0.0, deadline - time.monotonic()))):
            return True
    return False


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
