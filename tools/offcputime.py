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
    offcputime -p 185 --unwind dwarf   # user stacks of code without frame pointers
    offcputime --svg off.svg 10        # also an interactive (off-CPU) flame graph
"""
from __future__ import annotations

import collections
import sys
import time

import corebpf
from corebpf.symbols import syms
from corebpf.symbols.stacks import Stacks, folded, multiline, present

from . import _cli, _jsonl, _offcpu, _stacks

PROG = "offcputime"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _offcpu.add_args(p)
    _stacks.add_args(p)
    _jsonl.add_args(p)
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
    text = f"Tracing off-CPU time (us) of {who} by {_offcpu.stack_context(a)} stack"
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
        both = present(k.kernel_stack_id) and present(k.user_stack_id)
        ks = stacks.kernel(k.kernel_stack_id, a.offset, skip_probe=True) if kern else None
        ustk = stacks.user(k.user_stack_id, k.tgid, a.offset) if user else None
        if a.folded:
            out.append(folded(k.name, ustk, ks, us, delimit and both))
        else:
            out.extend(multiline(ks, ustk, k.name, k.pid, us, delimit and both))
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object at the end: time off CPU per stack and thread, least "
                        "first (bcc's order)", rows=[
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("comm", "string", "the thread's command name"),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    F("total_us", "integer", "time blocked with this stack", "us"),
])


def json_rows(items, stacks: Stacks, a) -> list:
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    return [{"pid": k.tgid, "tid": k.pid, "comm": k.name, "total_us": us,
             **_stacks.json_stacks(stacks, k.tgid, k.kernel_stack_id if kern else None,
                                   k.user_stack_id if user else None, skip_probe=True)}
            for k, us in sorted(items, key=lambda kv: kv[1])]


# Off-CPU time of --unwind dwarf: the user stack is an Unwound (addresses).
DwarfKey = collections.namedtuple("DwarfKey", "pid tgid user_stack_id kernel_stack_id name")


class DwarfPairs:
    """Pairs each dump (taken as a thread blocks) with its offcpu_end record
    (the time it was away), whichever comes first: the two arrive through
    different ring buffers.  Unwinds only the pairs that count."""

    MAX_PENDING = 8192

    def __init__(self, unw):
        self.unw = unw
        self.counts = collections.Counter()
        self.dumps = {}
        self.ends = {}
        self.backlog = _stacks.Backlog(self._count)

    def on_dump(self, e):
        if e.delta_us:
            self._add(e, e.delta_us)
            return
        key = (e.pid, e.ts)
        if key in self.ends:
            self._add(e, self.ends.pop(key))
        else:
            self._keep(self.dumps, key, e)

    def on_end(self, x):
        key = (x.pid, x.ts)
        e = self.dumps.pop(key, None)
        if e is not None:
            self._add(e, x.delta_us)
        else:
            self._keep(self.ends, key, x.delta_us)

    def _keep(self, table, key, value):
        if len(table) >= self.MAX_PENDING:
            del table[next(iter(table))]
        table[key] = value

    def _add(self, e, us):
        if us:
            self.backlog.add((e, us))

    def _count(self, item):
        e, us = item
        stack = self.unw.stack(e.tgid, e.ustack) if user_side(e) else ()
        self.counts[DwarfKey(e.pid, e.tgid, stack, e.kernel_stack_id, e.name)] += us


def user_side(e) -> bool:
    return e.ustack.size > 0


def samples(items, stacks: Stacks, a) -> list:
    """[(frames root->leaf, microseconds)] for the flame graph and the profile."""
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    return [(_stacks.stack_frames(
        k.name, stacks.user(k.user_stack_id, k.tgid) if user else None,
        stacks.kernel(k.kernel_stack_id, skip_probe=True) if kern else None), us)
        for k, us in items]


def on_warn(w):
    print("WARN: Skipped an event with negative duration: pid:%d, tgid:%d, off-cpu:%d, on-cpu:%d"
          % (w.pid, w.tgid, w.t_start, w.t_end), file=sys.stderr, flush=True)


def run(argv=None):
    a = parse(argv)
    rc = _offcpu.check_args(a)
    if rc:
        return rc
    _stacks.check_args(a, user_stacks=not a.kernel_stacks_only)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _offcpu.configure(obj, a)
        _stacks.configure(obj, a)
        if not _stacks.dwarf(a):
            obj.maps["offcpu_ends"].max_entries = 4096
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _offcpu.fill_ids(obj, a)
        if obj.variant == "kprobe":
            names = syms.kernel_symbols().find(r"finish_task_switch(\.isra\.\d+)?")
            if not names:
                raise corebpf.MissingFeature("kernel function finish_task_switch not found")
            obj.programs["finish_task_switch__kprobe"].attach_kprobe(names[0])
        else:
            obj.attach()
        if not a.user_stacks_only:
            syms.kernel_symbols().preload()     # not at exit: kallsyms is slow to read
        warns = obj.perf_buffer("warn_events", on_warn, page_cnt=8)
        stacks = Stacks(obj.maps["stack_traces"])
        pairs = rb = None
        if _stacks.dwarf(a):
            pairs = DwarfPairs(_stacks.Unwinding(stacks.syms))
            rb = pairs.backlog
            rb.rb = obj.ring_buffer("ustacks", pairs.on_dump, "offcpu_ends", pairs.on_end,
                                    raw_text=a.json)
        started = time.monotonic()
        if a.json:
            _jsonl.header(header(a))
        elif not a.folded:
            print(header(a), flush=True)
        _cli.sleep_until_done(a.duration, _Both(warns, rb) if rb is not None else warns)
        obj.detach()
        if rb is not None:
            rb.finish()
        elapsed = time.monotonic() - started
        if not a.folded and not a.json:
            print()
        items = list(pairs.counts.items()) if pairs is not None else \
            obj.maps["counts"].raw_text(a.json).items()
        lines = [] if a.json else report(items, stacks, a)
        if a.json:
            JSON.write(json_rows(items, stacks, a))
        if lines:
            print("\n".join(lines), flush=True)
        warn = stacks.warning("lost and could not be displayed")
        if warn:
            print(warn, file=sys.stderr)
        if rb is not None and rb.lost:
            print(f"WARNING: {rb.lost} off-CPU events lost (user stack dumps: the ring "
                  "buffer was full).", file=sys.stderr)
        if _stacks.wanted(a):
            _stacks.write_outputs(a, samples(items, stacks, a), PROG,
                                  title=f"offcputime: off-CPU time, {elapsed:.0f} s",
                                  unit="us", sample_type="offcpu", pprof_unit="microseconds",
                                  duration_ns=int(elapsed * 1e9))
    return 0


class _Both:
    """Poll the warnings' perf buffer and the dumps' ring buffers together."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def poll(self, timeout_ms: int) -> int:
        n = self.second.poll(timeout_ms)
        return n + self.first.poll(0)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
