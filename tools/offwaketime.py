"""Summarize blocked time by kernel stack trace + waker stack: for each
time a thread blocked, the stack it blocked in, the stack of the thread
that woke it, and the time it was blocked (microseconds), summed per pair.

examples:
    offwaketime             # trace off-CPU + waker stack time until Ctrl-C
    offwaketime 5           # trace for 5 seconds only
    offwaketime -f 5        # 5 seconds, and output in folded format
    offwaketime -m 1000     # trace only events that last more than 1000 usec
    offwaketime -M 9000     # trace only events that last less than 9000 usec
    offwaketime -p 185      # only trace threads for PID 185
    offwaketime -t 188      # only trace thread 188
    offwaketime -u          # only trace user threads (no kernel)
    offwaketime -k          # only trace kernel threads (no user)
    offwaketime -U          # only show user space stacks (no kernel)
    offwaketime -K          # only show kernel space stacks (no user)
    offwaketime --svg wake.svg 10   # also an interactive flame graph
"""
from __future__ import annotations

import sys
import time

import corebpf
from corebpf.symbols.stacks import MISSED_KERNEL, MISSED_USER, Stacks, missing
from corebpf.symbols.syms import kernel_symbols

from . import _cli, _jsonl, _offcpu, _stacks

PROG = "offwaketime"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _offcpu.add_args(p, offset=False, max_ids=5)
    _stacks.add_args(p, unwind=False)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    text = "Tracing blocked time (us) by %s off-CPU and waker stack" % _offcpu.stack_context(a)
    return text + (f" for {a.duration} secs." if a.duration < _cli.FOREVER
                   else "... Hit Ctrl-C to end.")


class Sides:
    """The four stacks of one entry as frame texts, innermost first."""

    def __init__(self, k, st: Stacks, a):
        kern, user = not a.user_stacks_only, not a.kernel_stacks_only
        self.kern, self.user = kern, user
        for sid in ((k.t_k_stack_id, k.w_k_stack_id) if kern else ()) + \
                ((k.t_u_stack_id, k.w_u_stack_id) if user else ()):
            st.check(sid)
        self.tk = self._kernel(st, k.t_k_stack_id) if kern else None
        self.wk = self._waker_kernel(st, k.w_k_stack_id) if kern else None
        self.tu = self._user(st, k.t_u_stack_id, k.t_tgid) if user else None
        self.wu = self._user(st, k.w_u_stack_id, k.w_tgid) if user else None

    @staticmethod
    def _kernel(st, sid):
        if missing(sid):
            return [MISSED_KERNEL]
        return st.kernel(sid, skip_probe=True) if sid > 0 else []

    @staticmethod
    def _waker_kernel(st, sid):
        if missing(sid):
            return [MISSED_KERNEL]
        return [st.syms.ksym(x) for x in _offcpu.waker_addresses(st, sid)]

    @staticmethod
    def _user(st, sid, tgid):
        if missing(sid):
            return [MISSED_USER]
        return st.user(sid, tgid) if sid > 0 else []


def report(items, st: Stacks, a) -> list:
    """bcc's output lines for [(key, microseconds)], ascending."""
    delimit = a.delimited and not (a.kernel_stacks_only or a.user_stacks_only)
    out = []
    for k, us in sorted(items, key=lambda kv: kv[1]):
        s = Sides(k, st, a)
        t_both = k.t_k_stack_id > 0 and k.t_u_stack_id > 0
        w_both = k.w_k_stack_id > 0 and k.w_u_stack_id > 0
        if a.folded:
            line = [k.target]
            if s.user:
                line.extend(reversed(s.tu))
            if s.kern:
                if delimit and t_both:
                    line.append("-")
                line.extend(reversed(s.tk))
            line.append("--")
            if s.kern:
                line.extend(s.wk)
            if s.user:
                if delimit and w_both:
                    line.append("-")
                line.extend(s.wu)
            line.append(k.waker)
            out.append("%s %d" % (";".join(line), us))
            continue
        out.append("    %-16s %s %s" % ("waker:", k.waker, k.w_pid))
        if s.user:
            if missing(k.w_u_stack_id):
                out.append("    %s %d" % (MISSED_USER, k.w_u_stack_id))
            else:
                out.extend("    " + f for f in reversed(s.wu))
        if s.kern:
            if delimit and w_both:
                out.append("    -")
            out.extend("    " + f for f in reversed(s.wk))
        out.append("    %-16s %s" % ("--", "--"))
        if s.kern:
            out.extend("    " + f for f in s.tk)
        if s.user:
            if delimit and t_both:
                out.append("    -")
            out.extend("    " + f for f in s.tu)
        out.append("    %-16s %s %s" % ("target:", k.target, k.t_pid))
        out.append("        %d\n" % us)
    return out


F = _jsonl.Field


def _side(name, who, what):
    return F(name, "frame[]", f"the {who}'s {what} stack, innermost frame first; [] if "
                              f"lost or none (not with -{'U' if what == 'kernel' else 'K'})",
             get=lambda r: None, optional=True)


JSON = _jsonl.Intervals("one object at the end: time blocked per blocked stack and waker "
                        "stack, least first (bcc's order)", rows=[
    F("target", "string", "command name of the blocked task"),
    F("target_pid", "integer", "its thread ID"),
    F("waker", "string", "command name of the task that woke it"),
    F("waker_pid", "integer", "its thread ID"),
    _side("target_kernel_stack", "blocked task", "kernel"),
    _side("target_user_stack", "blocked task", "user"),
    _side("waker_kernel_stack", "waker", "kernel"),
    _side("waker_user_stack", "waker", "user"),
    F("total_us", "integer", "time blocked", "us"),
])


def json_rows(items, st: Stacks, a) -> list:
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    kres = st.syms.kernel.resolve
    out = []
    for k, us in sorted(items, key=lambda kv: kv[1]):
        row = {"target": k.target, "target_pid": k.t_pid, "waker": k.waker,
               "waker_pid": k.w_pid, "total_us": us}
        if kern:
            row["target_kernel_stack"] = _jsonl.frames(
                st.kernel_addresses(k.t_k_stack_id, skip_probe=True)
                if k.t_k_stack_id > 0 else [], kres)
            row["waker_kernel_stack"] = _jsonl.frames(
                _offcpu.waker_addresses(st, k.w_k_stack_id), kres)
        if user:
            for side, sid, tgid in (("target", k.t_u_stack_id, k.t_tgid),
                                    ("waker", k.w_u_stack_id, k.w_tgid)):
                row[side + "_user_stack"] = _jsonl.frames(
                    st.addresses(sid) if sid > 0 else [], st.syms.process(tgid).resolve)
        out.append(row)
    return out


def samples(items, st: Stacks, a) -> list:
    """[(frames root->leaf, us)] for the pictures: the blocked stack, then
    the waker's frames above it (root at the wake-up), as in the folded text."""
    from corebpf.report import KERNEL, PROCESS, USER
    out = []
    for k, us in items:
        s = Sides(k, st, a)
        frames = _stacks.stack_frames(k.target, s.tu, s.tk)
        frames.append(("--", PROCESS))
        frames.extend((f, KERNEL) for f in (s.wk or ()))
        frames.extend((f, USER) for f in (s.wu or ()))
        frames.append((k.waker, PROCESS))
        out.append((frames, us))
    return out


def run(argv=None):
    a = parse(argv)
    rc = _offcpu.check_args(a)
    if rc:
        return rc
    _stacks.check_args(a)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _offcpu.configure(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _offcpu.fill_ids(obj, a)
        obj.attach()
        if not a.user_stacks_only:
            kernel_symbols().preload()          # not at exit: kallsyms is slow to read
        st = Stacks(obj.maps["stack_traces"])
        started = time.monotonic()
        if a.json:
            _jsonl.header(header(a))
        elif not a.folded:
            print(header(a), flush=True)
        _cli.sleep_until_done(a.duration)
        obj.detach()
        elapsed = time.monotonic() - started
        if not a.folded and not a.json:
            print()
        items = obj.maps["counts"].raw_text(a.json).items()
        lines = [] if a.json else report(items, st, a)
        if a.json:
            JSON.write(json_rows(items, st, a))
        if lines:
            print("\n".join(lines), flush=True)
        warn = st.warning("lost and could not be displayed")
        if warn:
            print(warn, file=sys.stderr)
        if _stacks.wanted(a):
            _stacks.write_outputs(a, samples(items, st, a), PROG,
                                  title=f"offwaketime: blocked time with waker, {elapsed:.0f} s",
                                  unit="us", sample_type="offcpu", pprof_unit="microseconds",
                                  duration_ns=int(elapsed * 1e9))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
