"""Summarize off-CPU time (time blocked or waiting to run) by stack trace.

Off-CPU time is measured from the moment a thread leaves a CPU to the moment
it is switched back in, and summed in the kernel per thread and stack: the
stack is where the thread blocked.  Times are in microseconds.

examples:
    offcputime             # trace off-CPU stack time until Ctrl-C
    offcputime 5           # trace for 5 seconds only
    offcputime -f 5        # 5 seconds, folded output (for flame graphs)
    offcputime -s 5        # 5 seconds, with symbol offsets
    offcputime -m 1000     # only blocks of at least 1000 us
    offcputime -M 10000    # only blocks of at most 10000 us
    offcputime -p 185      # only threads of process 185 (a list: -p 185,186)
    offcputime -t 188      # only thread 188
    offcputime -u          # only user threads (no kernel threads)
    offcputime -k          # only kernel threads
    offcputime -U          # only user space stacks (no kernel frames)
    offcputime -K          # only kernel space stacks (no user frames)
    offcputime --state 2   # only threads blocked in TASK_UNINTERRUPTIBLE
"""
from __future__ import annotations

import argparse
import sys

import corebpf
from corebpf.symbols import syms
from corebpf.symbols.stacks import Stacks, folded, multiline

from . import _cli

PROG = "offcputime"
U64_MAX = (1 << 64) - 1


def usecs(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if v <= 0 or v > U64_MAX:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return v


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    who = p.add_mutually_exclusive_group()
    who.add_argument("-p", "--pid", type=_cli.pid_list, metavar="PIDS",
                     help="trace these processes only (comma-separated PIDs)")
    who.add_argument("-t", "--tid", type=_cli.tid_list, metavar="TIDS",
                     help="trace these threads only (comma-separated TIDs)")
    who.add_argument("-u", "--user-threads-only", action="store_true",
                     help="user threads only (no kernel threads)")
    who.add_argument("-k", "--kernel-threads-only", action="store_true",
                     help="kernel threads only (no user threads)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("-U", "--user-stacks-only", action="store_true",
                      help="show user space stacks only (no kernel frames)")
    side.add_argument("-K", "--kernel-stacks-only", action="store_true",
                      help="show kernel space stacks only (no user frames)")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="print a delimiter between kernel and user frames")
    p.add_argument("-f", "--folded", action="store_true",
                   help="folded output: one line per stack (flame graph input)")
    p.add_argument("-s", "--offset", action="store_true", help="show +0x offsets in frames")
    p.add_argument("--stack-storage-size", default=16384, type=_cli.positive_int,
                   help="the number of unique stack traces kept (default 16384)")
    _cli.duration_arg(p)
    p.add_argument("-m", "--min-block-time", default=1, type=usecs,
                   help="only count blocks of at least this many microseconds (default 1)")
    p.add_argument("-M", "--max-block-time", default=U64_MAX, type=usecs,
                   help="only count blocks of at most this many microseconds")
    p.add_argument("--state", type=_cli.nonneg_int,
                   help="only threads whose state matches this mask when they block "
                        "(0: TASK_RUNNING, i.e. preempted; 1: interruptible; "
                        "2: uninterruptible)")
    return p.parse_args(argv)


def header(a) -> str:
    if a.pid:
        who = "PIDs " + ",".join(map(str, a.pid))
    elif a.tid:
        who = "TIDs " + ",".join(map(str, a.tid))
    elif a.user_threads_only:
        who = "user threads"
    elif a.kernel_threads_only:
        who = "kernel threads"
    else:
        who = "all threads"
    side = "user" if a.user_stacks_only else "kernel" if a.kernel_stacks_only else "user + kernel"
    text = f"Tracing off-CPU time (us) of {who} by {side} stack"
    return text + (f" for {a.duration} secs." if a.duration < _cli.FOREVER else "... Hit Ctrl-C to end.")


def report(items, stacks: Stacks, a) -> list:
    """Output lines for [(key, microseconds)], ascending (as bcc)."""
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    delimit = a.delimited and kern and user
    out = []
    for k, us in sorted(items, key=lambda kv: kv[1]):
        if kern:
            stacks.check(k.kernel_stack_id)
        if user:
            stacks.check(k.user_stack_id)
        both = k.kernel_stack_id >= 0 and k.user_stack_id >= 0
        ks = stacks.kernel(k.kernel_stack_id, a.offset, skip_probe=True) if kern else None
        ustk = stacks.user(k.user_stack_id, k.tgid, a.offset) if user else None
        if a.folded:
            out.append(folded(k.name, ustk, ks, us, delimit and both))
        else:
            out.extend(multiline(ks, ustk, k.name, k.pid, us, delimit and both))
    return out


def on_warn(w):
    print("WARN: Skipped an event with negative duration: pid:%d, tgid:%d, off-cpu:%d, on-cpu:%d"
          % (w.pid, w.tgid, w.t_start, w.t_end), file=sys.stderr, flush=True)


def run(argv=None):
    a = parse(argv)
    if a.user_stacks_only and a.kernel_threads_only:
        print("ERROR: Displaying user stacks for kernel threads doesn't make sense.",
              file=sys.stderr)
        return 2
    if a.folded and a.offset:
        print("ERROR: can only use -f or -s. Exiting.", file=sys.stderr)
        return 2
    if a.min_block_time > a.max_block_time:
        raise _cli.UsageError("--min-block-time is above --max-block-time")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_filter_tgid = bool(a.pid)
        ro.targ_filter_tid = bool(a.tid)
        ro.targ_user_threads_only = a.user_threads_only
        ro.targ_kernel_threads_only = a.kernel_threads_only
        ro.targ_user_stacks = not a.kernel_stacks_only
        ro.targ_kernel_stacks = not a.user_stacks_only
        ro.targ_min_us = a.min_block_time
        ro.targ_max_us = a.max_block_time
        if a.state is not None:
            ro.targ_filter_state = True
            ro.targ_state = a.state
        obj.maps["stack_traces"].max_entries = a.stack_storage_size
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        for pid in a.pid or ():
            obj.maps["tgids"][pid] = 1
        for tid in a.tid or ():
            obj.maps["tids"][tid] = 1
        if obj.variant == "kprobe":
            names = syms.kernel_symbols().find(r"finish_task_switch(\.isra\.\d+)?")
            if not names:
                raise corebpf.MissingFeature("kernel function finish_task_switch not found")
            obj.programs["finish_task_switch__kprobe"].attach_kprobe(names[0])
        else:
            obj.attach()
        warns = obj.perf_buffer("warn_events", on_warn, page_cnt=8)
        if not a.folded:
            print(header(a), flush=True)
        _cli.sleep_until_done(a.duration, warns)
        obj.detach()
        if not a.folded:
            print()
        stacks = Stacks(obj.maps["stack_traces"])
        lines = report(obj.maps["counts"].items(), stacks, a)
        if lines:
            print("\n".join(lines), flush=True)
        warn = stacks.warning("lost and could not be displayed")
        if warn:
            print(warn, file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
