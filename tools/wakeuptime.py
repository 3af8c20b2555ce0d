"""Summarize sleep to wakeup time by waker kernel stack: how long threads
blocked until they were woken, summed per stack of the waker (and the
waker's and target's names), in microseconds.

examples:
    wakeuptime             # trace blocked time with waker stacks
    wakeuptime 5           # trace for 5 seconds only
    wakeuptime -f 5        # 5 seconds, and output in folded format
    wakeuptime -u          # don't include kernel threads (user only)
    wakeuptime -p 185      # trace for PID 185 only
    wakeuptime --svg w.svg 5   # also an interactive flame graph
"""
from __future__ import annotations

import errno
import sys

import corebpf
from corebpf.symbols.stacks import Stacks
from corebpf.symbols.syms import kernel_symbols

from . import _cli, _jsonl, _offcpu, _stacks

PROG = "wakeuptime"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-u", "--useronly", action="store_true",
                   help="user threads only (no kernel threads)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("--stack-storage-size", default=16384, type=_cli.positive_int,
                   help="the number of unique stack traces that can be stored and "
                        "displayed (default 16384)")
    _cli.duration_arg(p)
    p.add_argument("-m", "--min-block-time", default=1, type=_offcpu.usecs,
                   help="the amount of time in microseconds over which we store traces "
                        "(default 1)")
    p.add_argument("-M", "--max-block-time", default=_offcpu.U64_MAX, type=_offcpu.usecs,
                   help="the amount of time in microseconds under which we store traces "
                        "(default U64_MAX)")
    _stacks.add_args(p, unwind=False)
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    if a.pid and a.useronly:
        p.error("use either -p or -u.")
    return a


def report(items, st: Stacks, a) -> list:
    out = []
    for k, us in sorted(items, key=lambda kv: kv[1]):
        if k.w_k_stack_id == -errno.ENOMEM:
            st.lost += 1
            continue
        ips = _offcpu.waker_addresses(st, k.w_k_stack_id)
        if a.folded:
            out.append("%s %d" % (";".join([k.waker] + [st.syms.ksym(x) for x in reversed(ips)]
                                           + [k.target]), us))
        else:
            out.append("    %-16s %s" % ("target:", k.target))
            out.extend("    %-16x %s" % (x, st.syms.ksym(x, show_offset=True)) for x in ips)
            out.append("    %-16s %s" % ("waker:", k.waker))
            out.append("        %d\n" % us)
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object at the end: time blocked per waker stack, target and "
                        "waker, least first (bcc's order)", rows=[
    F("target", "string", "command name of the task woken"),
    F("waker", "string", "command name of the task that woke it"),
    _stacks.KERNEL_STACK,
    F("total_us", "integer", "time the target was blocked", "us"),
])


def json_rows(items, st: Stacks) -> list:
    out = []
    for k, us in sorted(items, key=lambda kv: kv[1]):
        if k.w_k_stack_id == -errno.ENOMEM:
            st.lost += 1
            continue
        out.append({"target": k.target, "waker": k.waker, "total_us": us,
                    "kernel_stack": _jsonl.frames(_offcpu.waker_addresses(st, k.w_k_stack_id),
                                                  st.syms.kernel.resolve)})
    return out


def samples(items, st: Stacks) -> list:
    from corebpf.report import KERNEL, PROCESS
    out = []
    for k, us in items:
        ips = _offcpu.waker_addresses(st, k.w_k_stack_id)
        frames = [(k.waker, PROCESS)] + [(st.syms.ksym(x), KERNEL) for x in reversed(ips)]
        out.append((frames + [(k.target, PROCESS)], us))
    return out


def run(argv=None):
    a = parse(argv)
    if a.min_block_time > a.max_block_time:
        raise _cli.UsageError("--min-block-time is above --max-block-time")
    _stacks.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_filter_tgid = bool(a.pid)
        ro.targ_user_threads_only = a.useronly
        ro.targ_min_us = a.min_block_time
        ro.targ_max_us = a.max_block_time
        obj.maps["stack_traces"].max_entries = a.stack_storage_size
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if a.pid:
            obj.maps["tgids"][a.pid] = 1
        obj.attach()
        kernel_symbols().preload()              # not at exit: kallsyms is slow to read
        st = Stacks(obj.maps["stack_traces"])
        banner = "Tracing blocked time (us) by kernel stack" + (
            f" for {a.duration} secs." if a.duration < _cli.FOREVER else "... Hit Ctrl-C to end.")
        if a.json:
            _jsonl.header(banner)
        elif not a.folded:
            print(banner, flush=True)
        _cli.sleep_until_done(a.duration)
        obj.detach()
        if not a.folded and not a.json:
            print()
        items = obj.maps["counts"].raw_text(a.json).items()
        lines = [] if a.json else report(items, st, a)
        if a.json:
            JSON.write(json_rows(items, st))
        if lines:
            print("\n".join(lines), flush=True)
        if st.lost:
            print("WARNING: %d stack traces could not be displayed. Consider increasing "
                  "--stack-storage-size." % st.lost, file=sys.stderr)
        if a.json:
            _jsonl.header("Detaching...")
        elif not a.folded:
            print("Detaching...")
        if _stacks.wanted(a):
            _stacks.write_outputs(a, samples(items, st), PROG,
                                  title="wakeuptime: blocked time by waker stack",
                                  unit="us", sample_type="offcpu", pprof_unit="microseconds")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
