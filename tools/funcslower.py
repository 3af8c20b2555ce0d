"""Trace slow kernel or user function calls: every call of the functions
given that took longer than a threshold (1 ms by default), with its return
value, optionally its first arguments and its stacks.  The programs are
generated at start (no compiler): uprobe/uretprobe pairs for user functions
(lib:func), fentry/fexit or kprobe/kretprobe pairs for kernel functions
(where the kernel has them).  Only the innermost of nested calls of the
traced functions is timed, as in bcc.

examples:
  funcslower vfs_write        # trace vfs_write calls slower than 1ms
  funcslower -m 10 vfs_write  # same, but slower than 10ms
  funcslower -u 10 c:open     # trace open calls slower than 10us
  funcslower -p 135 c:open    # trace pid 135 only
  funcslower c:malloc c:free  # trace both malloc and free slower than 1ms
  funcslower -a 2 c:open      # show first two arguments to open
  funcslower -UK -m 10 c:open # Show user and kernel stack frame of open calls slower than 10ms
  funcslower -f -UK c:open    # Output in folded format for flame graphs
"""
from __future__ import annotations

import argparse
import math
import struct
import time

from corebpf.compiler.bpfasm import FP, R0, R1, R2, R3, R6, R7, R8, R9, reg
from corebpf.compiler.codegen import CodeGen
from corebpf.compiler.genprog import HASH, RINGBUF, STACK_TRACE, GenObject

from . import _cli, _containers, _jsonl, _multi, _stacks

PROG = "funcslower"
NARGS = 6
# entryinfo value: id, start_ns, args[6], user stack, kernel stack
ENTRY = struct.Struct("<QQ6Qii")
# event: id, pid_tgid, start_ns, duration_ns, retval, comm, args[6], stacks, cgroup
# (--containers, else 0)
EVENT = struct.Struct("<QQQQQ16s6QiiQ")


def min_time(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(v) or v < 0 or v > 1e9:
        raise argparse.ArgumentTypeError(f"out of range: {text} (0..1000000000)")
    return v


min_time.lo, min_time.hi = 0, 10**9     # ms or us, stored as u64 ns


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)
    p.add_argument("-p", "--pid", type=_cli.pid_type, metavar="PID", dest="tgid",
                   help="trace this PID only")
    p.add_argument("-m", "--min-ms", type=min_time, dest="min_ms",
                   help="minimum duration to trace (ms)")
    p.add_argument("-u", "--min-us", type=min_time, dest="min_us",
                   help="minimum duration to trace (us)")
    p.add_argument("-a", "--arguments", type=_cli.nonneg_int,
                   help="print this many entry arguments, as hex")
    p.add_argument("-T", "--time", action="store_true", help="show HH:MM:SS timestamp")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="show timestamp in seconds at us resolution")
    p.add_argument("-v", "--verbose", dest="show_prog", action="store_true",
                   help="print the generated BPF programs")
    p.add_argument("-f", "--folded", action="store_true",
                   help="output folded format, one line per stack (for flame graphs)")
    p.add_argument("-U", "--user-stack", action="store_true", help="output user stack trace")
    p.add_argument("-K", "--kernel-stack", action="store_true",
                   help="output kernel stack trace")
    p.add_argument(metavar="function", nargs="+", dest="functions",
                   help="function(s) to trace")
    _jsonl.add_args(p)
    _containers.add_args(p)
    a = p.parse_args(argv)
    if a.json and a.folded:
        p.error("--json: not with -f (folded stacks are text for flame graphs)")
    if a.arguments and a.arguments > NARGS:
        p.error(f"-a: at most {NARGS} arguments")
    return a


def resolve(functions, pid=None) -> list:
    """[(display, kind, target)]: lib:func (user) or func (kernel), each an
    exact name as in bcc; index i belongs to functions[i]."""
    out = []
    for f in functions:
        parts = f.split(":")
        if len(parts) == 2 and parts[0] and parts[1]:
            out.append((f, "u", _multi.user_function(parts[0], parts[1], pid)))
        elif len(parts) == 1 and f:
            from corebpf import features
            if not features.kernel_function_exists(f):
                raise _cli.UsageError(f"no kernel function {f!r}")
            out.append((f, "p", f))
        else:
            raise _cli.UsageError(f"unrecognized function format '{f}'")
    _multi.check_limit(2 * len(out))
    return out


def build(funcs, entry_fd, events_fd, stacks_fd, a, duration_ns, kernel_kind) -> list:
    """[(name, CodeGen)]: an entry and a return program per function."""
    out = []
    for i, (disp, kind, target) in enumerate(funcs):
        e = CodeGen(_multi.context_for(kind, target, ret=False, kernel_kind=kernel_kind,
                                       display=disp))
        A = e.a
        e.prologue()
        e.pid_filter(tgid=a.tgid)
        key = e.alloc(8)
        val = e.alloc(ENTRY.size)
        e.zero(FP, val, ENTRY.size)
        A.call("get_current_pid_tgid")
        A.stx(8, FP, key, R0)
        A.st(8, FP, val, i)
        e.ktime_into(val + 8)
        for n in range(1, (a.arguments or 0) + 1):
            if e.ctx.nargs is not None and n > e.ctx.nargs:
                break                   # fentry: the function has fewer arguments
            e.ctx.load_arg(e, n)
            A.stx(8, FP, val + 8 + 8 * n, R0)
        for off, want, flags in ((64, a.user_stack, _multi.BPF_F_USER_STACK),
                                 (68, a.kernel_stack, 0)):
            if want:
                A.mov(R1, reg(R6))
                A.ld_map_fd(R2, stacks_fd, "stacks")
                A.mov(R3, flags)
                A.call("get_stackid")
                A.stx(4, FP, val + off, R0)
            else:
                A.st(4, FP, val + off, -1)
        e.map_update(entry_fd, "entryinfo", key, val)
        e.epilogue()
        out.append((f"entry_{i}", e))

        r = CodeGen(_multi.context_for(kind, target, ret=True, kernel_kind=kernel_kind,
                                       display=disp))
        A = r.a
        r.prologue()
        key = r.alloc(8)
        A.call("get_current_pid_tgid")
        A.mov(R7, reg(R0))
        A.stx(8, FP, key, R0)
        A.ld_map_fd(R1, entry_fd, "entryinfo")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_lookup_elem")
        A.jmp("==", R0, 0, "out")
        A.mov(R8, reg(R0))                      # r8 = the entry
        A.call("ktime_get_ns")
        A.ldx(8, R1, R8, 8)
        A.alu("-", R0, reg(R1))                 # r0 = duration
        A.ld_imm64(R1, duration_ns)
        A.jmp("<", R0, reg(R1), "forget")
        dur = r.alloc(8)
        A.stx(8, FP, dur, R0)
        A.ld_map_fd(R1, events_fd, "events")
        A.mov(R2, EVENT.size)
        A.mov(R3, 0)
        A.call("ringbuf_reserve")
        A.jmp("==", R0, 0, "forget")
        A.mov(R9, reg(R0))
        for dst, src in ((0, 0), (16, 8)):      # id, start_ns
            A.ldx(8, R1, R8, src)
            A.stx(8, R9, dst, R1)
        A.stx(8, R9, 8, R7)
        A.ldx(8, R1, FP, dur)
        A.stx(8, R9, 24, R1)
        r.ctx.load_retval(r)
        A.stx(8, R9, 32, R0)
        for n in range(NARGS):
            A.ldx(8, R1, R8, 16 + 8 * n)
            A.stx(8, R9, 56 + 8 * n, R1)
        for dst, src in ((104, 64), (108, 68)):
            A.ldx(4, R1, R8, src)
            A.stx(4, R9, dst, R1)
        A.mov(R1, reg(R9))
        A.alu("+", R1, 40)
        A.mov(R2, 16)
        A.call("get_current_comm")
        if a.containers:
            r.task_cgroup_id()
            A.stx(8, R9, 112, R0)
        else:
            A.st(8, R9, 112, 0)
        A.mov(R1, reg(R9))
        A.mov(R2, 0)
        A.call("ringbuf_submit")
        A.label("forget")
        A.ld_map_fd(R1, entry_fd, "entryinfo")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_delete_elem")
        r.epilogue()
        out.append((f"return_{i}", r))
    return out


F = _jsonl.Field
JSON = _jsonl.Events("one object per call slower than the threshold", [
    F("comm", "string", "command name"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("func", "string", "the function, as given"),
    F("start_ns", "integer", "call entry, kernel time (CLOCK_MONOTONIC)", "ns"),
    F("latency_ns", "integer", "time the call took", "ns"),
    F("retval", "string", "return value, hex (bcc's RVAL)"),
    F("args", "string[]", "the first arguments, hex (-a)", optional=True),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    _containers.FIELD,
])


class Printer:
    """bcc's lines for events (a pure formatter but for the clock it reads)."""

    def __init__(self, a, functions, syms=None, stacks=None):
        self.a, self.functions, self.syms, self.stacks = a, functions, syms, stacks
        self.unit = "us" if a.min_us is not None else "ms"
        self.div = 1000 if a.min_us is not None else 1000000
        self.earliest = 0

    def header(self) -> list:
        a = self.a
        value = next((v for v in (a.min_us, a.min_ms) if v is not None), 1)
        time_col = a.time or a.timestamp
        return ["Tracing function calls slower than %g %s... Ctrl+C to quit."
                % (value, self.unit),
                (("%-10s " % "TIME" if time_col else "") + _containers.header(a) +
                 "%-14s %-6s %7s %16s %s")
                % ("COMM", "PID", "LAT(%s)" % self.unit, "RVAL",
                   "FUNC" + (" ARGS" if a.arguments else ""))]

    def time_str(self, start_ns: int) -> str:
        if self.a.time:
            return "%-10s " % time.strftime("%H:%M:%S")
        if self.a.timestamp:
            if self.earliest == 0:
                self.earliest = start_ns
            return "%-10.6f " % ((start_ns - self.earliest) / 1e9)
        return ""

    def lines(self, data: bytes) -> list:
        a = self.a
        (fid, pid_tgid, start_ns, duration, retval, comm, *rest) = EVENT.unpack_from(data)
        args, ustack, kstack, cgid = rest[:NARGS], rest[NARGS], rest[NARGS + 1], rest[-1]
        comm = _cli.printable(comm.split(b"\0", 1)[0].decode("utf-8", "replace"), "")
        out = []
        if not a.folded:
            argtext = " ".join("0x%x" % v for v in args[:a.arguments]) if a.arguments else ""
            out.append(self.time_str(start_ns) + _containers.cgroup_text(a, cgid) +
                       "%-14.14s %-6s %7.2f %16x %s %s"
                       % (comm, pid_tgid >> 32, duration / self.div, retval,
                          self.functions[fid], argtext))
        if a.user_stack or a.kernel_stack:
            out.extend(self.stack_lines(comm, pid_tgid >> 32, ustack, kstack))
        return out

    def record(self, data: bytes) -> dict:
        """The --json object of one event."""
        a = self.a
        (fid, pid_tgid, start_ns, duration, retval, comm, *rest) = EVENT.unpack_from(data)
        args, ustack, kstack, cgid = rest[:NARGS], rest[NARGS], rest[NARGS + 1], rest[-1]
        tgid = pid_tgid >> 32
        d = {"time_ns": time.time_ns(), "comm": _jsonl.raw(comm.split(b"\0", 1)[0]),
             "pid": tgid, "tid": pid_tgid & 0xFFFFFFFF, "func": self.functions[fid],
             "start_ns": start_ns, "latency_ns": duration, "retval": hex(retval)}
        if a.arguments:
            d["args"] = [hex(v) for v in args[:a.arguments]]
        if a.kernel_stack:
            d["kernel_stack"] = _jsonl.frames(self._addrs(kstack), self.syms.kernel.resolve)
        if a.user_stack:
            d["user_stack"] = _jsonl.frames(self._addrs(ustack),
                                            self.syms.process(tgid).resolve)
        if a.containers:
            d["container"] = _containers.full_name(cgid)
        return d

    def _addrs(self, stack_id) -> list:
        if stack_id < 0:
            return []
        try:
            return self.stacks.stack(stack_id)
        except OSError:
            return []

    def stack_lines(self, comm, tgid, ustack, kstack) -> list:
        a = self.a
        user = self._frames(ustack, lambda x: self.syms.sym(x, tgid)) if a.user_stack else []
        kernel = self._frames(kstack, self.syms.ksym) if a.kernel_stack else []
        if a.folded:
            parts = [comm] + list(reversed(user)) + (["-"] if user and kernel else []) + \
                list(reversed(kernel))
            return ["%s %d" % (";".join(parts), 1)]
        return ["    %s" % f for f in kernel + user]

    def _frames(self, stack_id, sym) -> list:
        if stack_id < 0:
            return []
        try:
            return [sym(x) for x in self.stacks.stack(stack_id)]
        except OSError:
            return []


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    # 0 is a threshold too (bcc took -u 0 for "not given": 1 ms)
    if a.min_ms is not None:
        duration_ns = int(a.min_ms * 1000000)
    elif a.min_us is not None:
        duration_ns = int(a.min_us * 1000)
    else:
        duration_ns = 1000000
    funcs = resolve(a.functions, a.tgid)
    kkind = _multi.kernel_probe_kind() if any(k == "p" for _, k, _ in funcs) else None
    from corebpf import features
    ring = 1 << (64 * 4096 * features.possible_cpus() - 1).bit_length()
    _containers.names(a)
    with GenObject(PROG) as g:
        entry = g.create_map("entryinfo", HASH, 8, ENTRY.size, 10240)
        events = g.create_map("events", RINGBUF, 0, 0, ring)
        stacks = None
        if a.user_stack or a.kernel_stack:
            stacks = g.create_map("stacks", STACK_TRACE, 4, 8 * _multi.STACK_DEPTH, 2048)
        progs = build(funcs, entry.fd, events.fd, stacks.fd if stacks is not None else None, a,
                      duration_ns, kkind)
        if a.show_prog or a.ebpf:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        _multi.attach_all(g, progs)
        from corebpf.symbols.syms import SymbolCache
        pr = Printer(a, a.functions, SymbolCache(), stacks)
        out = _cli.Output(json=a.json)
        if a.json:
            _jsonl.header("\n".join(pr.header()))
            rb = g.ring_buffer("events", lambda data: out.obj(pr.record(data)))
        else:
            if not a.folded:
                print("\n".join(pr.header()), flush=True)
            rb = g.ring_buffer("events", lambda data: [out(l) for l in pr.lines(data)])
        _cli.event_loop(rb, out)
        return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
