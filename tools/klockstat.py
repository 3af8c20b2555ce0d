"""Trace kernel mutex lock events and display lock statistics per caller:
how long acquisitions waited ("spin") and, where kprobes exist, how long
the mutexes were held.

With the lock:contention_begin/end tracepoints (Linux 5.19+, the default
where they exist) only contended acquisitions are seen and hold times are
not available; the kprobe variant (--probe kprobe; kernels without the
tracepoints) sees every mutex_lock()/mutex_unlock() as bcc does.
Times are in nanoseconds.

examples:
    klockstat                           # trace system wide
    klockstat -d 5                      # trace for 5 seconds only
    klockstat -i 5                      # display stats every 5 seconds
    klockstat -p 123                    # trace locks for PID 123
    klockstat -t 321                    # trace locks for TID 321
    klockstat -c pipe_                  # display stats only for lock callers matching pipe_
    klockstat -S acq_count              # sort lock acquired results on acquired count
    klockstat -S hld_total              # sort lock held results on total held time
    klockstat -S acq_count,hld_total    # combination of above
    klockstat -n 3                      # display 3 locks
    klockstat -s 3                      # display 3 levels of stack
"""
from __future__ import annotations

import re
import sys

import corebpf
from corebpf.symbols.stacks import Stacks, missing
from corebpf.symbols.syms import kernel_symbols

from . import _cli, _jsonl

PROG = "klockstat"
FIELDS = ("max", "total", "count")
# Frames of the locking code itself (compiler clones included:
# __mutex_lock.constprop.0), skipped to find the caller.
LOCK_FRAMES = re.compile(r"(__)?(ww_)?mutex_|__mutex_lock|mutex_optimistic_spin|osq_lock")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    when = p.add_mutually_exclusive_group()
    when.add_argument("-d", "--duration", type=_cli.positive_int,
                      help="total duration of trace in seconds")
    when.add_argument("-i", "--interval", type=_cli.positive_int,
                      help="print summary at this interval (seconds)")
    p.add_argument("-n", "--locks", type=_cli.positive_int, default=_cli.FOREVER,
                   help="print given number of locks")
    p.add_argument("-s", "--stacks", type=_cli.positive_int, default=1,
                   help="print given number of stack entries")
    p.add_argument("-c", "--caller", help="print locks taken by given caller")
    p.add_argument("-S", "--sort",
                   help="sort data on <aq_field,hd_field>, fields: acq_[max|total|count] "
                        "hld_[max|total|count]")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this TID only")
    p.add_argument("--stack-storage-size", default=16384, type=_cli.positive_int,
                   help="the number of unique stack traces that can be stored and "
                        "displayed (default 16384)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval (-i) or at the end: mutex waits (spin) and, "
                        "with kprobes, hold times per caller", rows=[
    F("kind", "string", "spin (waiting to acquire) or hold"),
    F("caller", "string|null", "the caller of the locking function, sym+0xoff; null if its "
                               "stack was lost"),
    F("avg_ns", "integer", "average time", "ns"),
    F("count", "integer", "acquisitions"),
    F("max_ns", "integer", "longest time", "ns"),
    F("total_ns", "integer", "time in all", "ns"),
    F("kernel_stack", "frame[]", "the stack from the caller outwards, at most -s frames"),
])


def sort_fields(text) -> tuple:
    """-S acq_X[,hld_Y] -> (acquire field, hold field), default max."""
    acq = hld = "max"
    for f in (text.split(",") if text else ()):
        kind, _, field = f.partition("_")
        if kind not in ("acq", "hld") or field not in FIELDS:
            raise _cli.UsageError(f"Wrong sort argument: {text}")
        if kind == "acq":
            acq = field
        else:
            hld = field
    return acq, hld


def caller_addresses(st: Stacks, stack_id: int) -> list:
    """Addresses from the caller of the locking function outwards."""
    ips = st.kernel_addresses(stack_id, skip_probe=True)
    n = 0
    while n < len(ips) and LOCK_FRAMES.match(st.syms.ksym(ips[n])):
        n += 1
    return ips[n:]


def caller_frames(st: Stacks, stack_id: int) -> list:
    """Frames (sym+off) from the caller of the locking function outwards."""
    return [st.syms.ksym(a, show_offset=True) for a in caller_addresses(st, stack_id)]


def json_rows(items, st: Stacks, a, sort: str, kind: str) -> list:
    """--json: the rows table() prints."""
    out = []
    for sid, v in sorted(items, key=lambda kv: getattr(kv[1], sort), reverse=True)[:a.locks]:
        addrs, caller = [], None
        if not (st.check(sid) or sid < 0):
            addrs = caller_addresses(st, sid)
            caller = st.syms.ksym(addrs[0], show_offset=True) if addrs else "[unknown]"
        if a.caller and (caller is None or not caller.startswith(a.caller)):
            continue
        out.append({"kind": kind, "caller": caller,
                    "avg_ns": v.total // v.count if v.count else 0, "count": v.count,
                    "max_ns": v.max, "total_ns": v.total,
                    "kernel_stack": _jsonl.frames(addrs[:a.stacks], st.syms.kernel.resolve)})
    return out


def table(items, st: Stacks, a, sort: str, what: str) -> list:
    out = ["", "%40s %10s %6s %10s %10s" % ("Caller", "Avg " + what, "Count", "Max " + what.lower(),
                                          "Total " + what.lower())]
    rows = sorted(items, key=lambda kv: getattr(kv[1], sort), reverse=True)[:a.locks]
    for sid, v in rows:
        frames = []
        if st.check(sid) or sid < 0:
            caller = "[Missed Kernel Stack]"
            if a.caller:
                continue        # no caller to match
        else:
            frames = caller_frames(st, sid)
            caller = frames[0] if frames else "[unknown]"
            if a.caller and not caller.startswith(a.caller):
                continue
        out.append("%40s %10d %6d %10d %10d" % (caller, v.total // v.count if v.count else 0,
                                                v.count, v.max, v.total))
        out.extend("%40s" % f for f in frames[1:max(a.stacks - 1, 1)])
    return out


def run(argv=None):
    a = parse(argv)
    acq_sort, hld_sort = sort_fields(a.sort)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.tid:
            obj.rodata.targ_tid = a.tid
        elif a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.maps["stack_traces"].max_entries = a.stack_storage_size
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        hold = obj.variant == "kprobe"
        if hold:
            _cli.attach_kprobe_any(obj.programs["lock__kprobe"], ["mutex_lock_nested",
                                                                  "mutex_lock"])
            _cli.attach_kprobe_any(obj.programs["lockret__kprobe"], ["mutex_lock_nested",
                                                                     "mutex_lock"], retprobe=True)
            _cli.attach_kprobe_any(obj.programs["unlock__kprobe"], ["mutex_unlock"])
        else:
            obj.attach()
        kernel_symbols().preload()              # not at exit: kallsyms is slow to read
        st = Stacks(obj.maps["stack_traces"])
        acq, hld = obj.maps["acq_stats"], obj.maps["hld_stats"]
        _jsonl.status(a, "Tracing lock events... Hit Ctrl-C to end.")
        if not hold:
            print("klockstat: contended mutex acquisitions only (lock:contention_* "
                  "tracepoints); hold times need --probe kprobe", file=sys.stderr, flush=True)
        seconds = a.interval or a.duration or _cli.FOREVER
        while True:
            stop = _cli.wait_stop(seconds)
            if a.json:
                rows = json_rows(acq.pop_items(), st, a, acq_sort, "spin")
                if hold:
                    rows += json_rows(hld.pop_items(), st, a, hld_sort, "hold")
                JSON.write(rows)
            else:
                lines = table(acq.pop_items(), st, a, acq_sort, "Spin")
                if hold:
                    lines += table(hld.pop_items(), st, a, hld_sort, "Hold")
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            if stop or not a.interval:
                break
        warn = st.warning("lost and could not be displayed")
        if warn:
            print(warn, file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
