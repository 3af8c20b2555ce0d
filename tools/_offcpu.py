"""What the off-CPU stack tools share (offcputime, offwaketime): bcc's
thread and stack options, their checks, and the rodata of
bpf_src/offcpu.bpf.h."""
from __future__ import annotations

import sys

from . import _cli

U64_MAX = (1 << 64) - 1


usecs = _cli.unsigned(64, lo=1, name="usecs")     # targ_min_us / targ_max_us


def add_args(p, offset: bool = True, max_ids: int = None):
    """-p/-t/-u/-k, -U/-K, -d, -f, [-s], --stack-storage-size, duration,
    -m/-M, --state.  max_ids: bcc's offwaketime keeps the first 5 ids."""
    def limited(kind):
        base = _cli.pid_list if kind == "PID" else _cli.tid_list

        def parse(text):
            ids = base(text)
            return ids[:max_ids] if max_ids else ids
        parse.lo, parse.hi = getattr(base, "lo", None), getattr(base, "hi", None)
        parse.check = getattr(base, "check", None)     # (range checks in the tests)
        return parse
    who = p.add_mutually_exclusive_group()
    who.add_argument("-p", "--pid", type=limited("PID"), metavar="PIDS",
                     help="trace these processes only (comma-separated PIDs)")
    who.add_argument("-t", "--tid", type=limited("TID"), metavar="TIDS",
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
    if offset:
        p.add_argument("-s", "--offset", action="store_true", help="show +0x offsets in frames")
    p.add_argument("--stack-storage-size", default=16384, type=_cli.unsigned(32, lo=1),
                   help="the number of unique stack traces kept (default 16384)")
    _cli.duration_arg(p)
    p.add_argument("-m", "--min-block-time", default=1, type=usecs,
                   help="only count blocks of at least this many microseconds (default 1)")
    p.add_argument("-M", "--max-block-time", default=U64_MAX, type=usecs,
                   help="only count blocks of at most this many microseconds")
    p.add_argument("--state", type=_cli.unsigned(32),
                   help="only threads whose state matches this mask when they block "
                        "(0: TASK_RUNNING, i.e. preempted; 1: interruptible; "
                        "2: uninterruptible)")


def check_args(a):
    """bcc's refusals (exit 2) and ours; returns an exit status or None."""
    if a.user_stacks_only and a.kernel_threads_only:
        print("ERROR: Displaying user stacks for kernel threads doesn't make sense.",
              file=sys.stderr)
        return 2
    if getattr(a, "offset", False) and a.folded:
        print("ERROR: can only use -f or -s. Exiting.", file=sys.stderr)
        return 2
    if a.min_block_time > a.max_block_time:
        raise _cli.UsageError("--min-block-time is above --max-block-time")
    return None


def configure(obj, a):
    """Before load: the filters and stack switches of offcpu.bpf.h."""
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
    obj.maps["stack_traces"].resize(a.stack_storage_size, "--stack-storage-size")


def fill_ids(obj, a):
    """After load: the -p/-t id sets."""
    for pid in a.pid or ():
        obj.maps["tgids"][pid] = 1
    for tid in a.tid or ():
        obj.maps["tids"][tid] = 1


def stack_context(a) -> str:
    return "user" if a.user_stacks_only else "kernel" if a.kernel_stacks_only else "user + kernel"


def waker_addresses(st, sid: int) -> list:
    """A waker's kernel stack (taken at sched_waking), innermost first,
    without the probe's frames and try_to_wake_up itself: bcc drops its
    probe function, the first frame.  [] for no stack (id < 1, as bcc)."""
    if sid < 1:
        return []
    ips = st.kernel_addresses(sid, skip_probe=True)
    if ips and st.syms.ksym(ips[0]).startswith("try_to_wake_up"):
        ips = ips[1:]
    return ips
