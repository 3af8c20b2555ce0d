"""Print a line for every hit of one or more probes, with a printf-style message
built from arguments, return values and tracepoint fields, and an optional
filter.  Each probe is compiled to a BPF program at start (no compiler).

Probe: [p|r]:[lib]:func | t:category:event | u:lib:probe, then optional
(filter), then optional "format", arguments.  Names: args->field
(tracepoints), arg1..argN, retval, $pid $tgid $uid $gid $cpu $comm $task,
struct fields through pointers (arg1->f_path.dentry->d_name.name) from the
kernel's BTF, STRCMP("text", expr) or expr == "text".  Conversions: %d %u %x
%ld %lu %lx %lld %llu %llx %hd %hu %c %s %K.

examples:
    trace 't:syscalls:sys_enter_openat "%s", args->filename'
        print the file name of every openat()
    trace 't:syscalls:sys_enter_openat (STRCMP("cat", $comm)) "%s", args->filename'
        only when the process is named "cat"
    trace -n python 't:syscalls:sys_enter_execve "%s", args->filename'
        only for process names containing "python"
    trace 't:syscalls:sys_exit_read (args->ret > 1000) "read %d bytes", args->ret'
    trace -T -M 10 't:sched:sched_process_exec "%s [%d]", args->filename, args->pid'
    trace -K 't:block:block_rq_issue'         # with kernel stacks
    trace 'r::do_sys_openat2 "%d", retval'    # kernel functions need kprobes/fentry
"""
from __future__ import annotations

import re
import struct
import sys
import time

from corebpf.bpfasm import FP, R0, R1, R2, R3, R6, R9, reg
from corebpf.codegen import CodeGen, CompileError
from corebpf.genprog import ARRAY, RINGBUF, STACK_TRACE, GenObject
from corebpf.probespec import SpecError, parse_trace_probe

from . import _cli, _multi

PROG = "trace"
HDR = 48                # u64 ts, u64 pid_tgid, u32 uid, u32 cpu, u32 probe, s32 kstack, comm[16]
_HDR = struct.Struct("<QQIIIi16s")
# conversion -> (size, signed) of the C type bcc casts to
CONV = {"d": (4, True), "u": (4, False), "x": (4, False), "ld": (8, True), "lu": (8, False),
        "lx": (8, False), "lld": (8, True), "llu": (8, False), "llx": (8, False),
        "hd": (2, True), "hu": (2, False), "c": (1, False), "s": None, "K": (8, False),
        "U": (8, False)}
_CONV_RE = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)(lld|llu|llx|ld|lu|lx|hd|hu|d|u|x|c|s|K|U|%)")


def parse_format(fmt: str, text: str, pos: int):
    """(python format, [conversion]) from a trace format string."""
    convs = []

    def sub(m):
        flags, conv = m.group(1), m.group(2)
        if conv == "%":
            return "%%"
        convs.append(conv)
        if conv in ("K", "U", "s"):
            return "%" + flags + "s"
        if conv.endswith("x"):
            return "%" + flags + "x"
        if conv == "c":
            return "%" + flags + "c"
        return "%" + flags + "d"

    out = _CONV_RE.sub(sub, fmt)
    rest = _CONV_RE.sub("", fmt)
    if "%" in rest:
        i = fmt.index("%", 0) if "%" in fmt else 0
        raise SpecError("unsupported conversion in the format (use %d %u %x %s %c %K ...)",
                        text, pos + 1 + i)
    return out, convs


class Probe:
    """One parsed trace probe, its record layout and its formatter."""

    def __init__(self, idx: int, text: str, a):
        self.idx = idx
        try:
            self.spec = parse_trace_probe(text)
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        s = self.spec
        pt = s.point
        if pt.kind == "u" or (pt.kind in ("p", "r") and pt.library):
            raise _multi.user_probe_error(pt)
        self.display = pt.function
        if s.fmt is not None:
            try:
                self.pyfmt, self.convs = parse_format(s.fmt, text, s.fmt_pos)
            except SpecError as e:
                raise _cli.UsageError(str(e)) from None
            if len(self.convs) != len(s.args):
                raise _cli.UsageError(
                    f"the format has {len(self.convs)} conversions but {len(s.args)} "
                    f"arguments follow, in '{text}'")
            if "U" in self.convs:
                raise _multi.not_yet("%U (user symbols)")
        else:
            self.pyfmt, self.convs = "", []
        self.string_size = a.string_size
        self.fields = []               # (offset, conv)
        off = HDR
        for c in self.convs:
            self.fields.append((off, c))
            off += a.string_size if c == "s" else 8
        self.size = (off + 7) & ~7

    def build(self, g, rb_fd, lost_fd, stack_fd, a, kernel_kind):
        pt = self.spec.point
        target = (pt.library, pt.function) if pt.kind == "t" else pt.function
        if pt.kind == "t":
            from corebpf.features import tracepoint_exists
            if not tracepoint_exists(pt.library, pt.function):
                raise _cli.UsageError(f"no tracepoint {pt.library}:{pt.function}")
        ctx = _multi.context_for(pt.kind, target, ret=pt.kind == "r",
                                 kernel_kind=kernel_kind, signature=self.spec.signature,
                                 text=self.spec.text)
        cg = CodeGen(ctx, self.spec.text, a.string_size)
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid, tid=a.tid, uid=a.uid,
                      exclude_tgid=None if a.include_self or a.pid else _self_tgid())
        cg.filter(self.spec.filter)
        A.ld_map_fd(R1, rb_fd, "events")
        A.mov(R2, self.size)
        A.mov(R3, 0)
        A.call("ringbuf_reserve")
        A.jmp("==", R0, 0, "lost")
        A.mov(R9, reg(R0))
        A.call("ktime_get_ns")
        A.stx(8, R9, 0, R0)
        A.call("get_current_pid_tgid")
        A.stx(8, R9, 8, R0)
        A.call("get_current_uid_gid")
        A.stx(4, R9, 16, R0)
        A.call("get_smp_processor_id")
        A.stx(4, R9, 20, R0)
        A.st(4, R9, 24, self.idx)
        if stack_fd is not None:
            A.mov(R1, reg(R6))
            A.ld_map_fd(R2, stack_fd, "stacks")
            A.mov(R3, 0)
            A.call("get_stackid")
            A.stx(4, R9, 28, R0)
        else:
            A.st(4, R9, 28, -1)
        A.mov(R1, reg(R9))
        A.alu("+", R1, 32)
        A.mov(R2, 16)
        A.call("get_current_comm")
        for (off, conv), node in zip(self.fields, self.spec.args):
            if conv == "s":
                cg.string_into(node, R9, off, a.string_size)
            else:
                t = cg.rvalue(node)
                if t.kind not in ("int", "ptr"):
                    raise CompileError(f"'{node.text()}' is not a number", self.spec.text,
                                       node.pos)
                A.stx(8, R9, off, R0)
        A.mov(R1, reg(R9))
        A.mov(R2, 0)
        A.call("ringbuf_submit")
        A.ja("out")
        A.label("lost")
        key = cg.alloc(8)
        A.st(4, FP, key, 0)
        cg.map_add(lost_fd, "lost", key)
        cg.epilogue()
        return cg

    def message(self, data: bytes) -> str:
        if not self.convs:
            return ""
        vals = []
        for off, conv in self.fields:
            if conv == "s":
                raw = data[off:off + self.string_size]
                i = raw.find(b"\0")
                vals.append((raw[:i] if i >= 0 else raw).decode("utf-8", "replace"))
                continue
            v = struct.unpack_from("<Q", data, off)[0]
            size, signed = CONV[conv]
            v &= (1 << (8 * size)) - 1
            if signed and v >> (8 * size - 1):
                v -= 1 << (8 * size)
            if conv == "K":
                v = _multi.ksym(v, offset=True)
            elif conv == "c":
                v = chr(v)
            vals.append(v)
        return self.pyfmt % tuple(vals)


_SELF = None


def _self_tgid():
    import os
    return os.getpid()


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-b", "--buffer-pages", type=_cli.positive_int, default=64,
                   help="pages per CPU for the event ring (default: 64)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this process only")
    p.add_argument("-L", "--tid", type=_cli.tid_type, help="trace this thread only")
    p.add_argument("--uid", type=_cli.uid_type, help="trace this user only")
    p.add_argument("-Z", "--string-size", type=_cli.positive_int, default=80,
                   help="bytes to read from strings (default: 80)")
    p.add_argument("-S", "--include-self", action="store_true",
                   help="also trace trace's own process")
    p.add_argument("-M", "--max-events", type=_cli.positive_int,
                   help="exit after this many events")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="print a timestamp column (seconds since start)")
    p.add_argument("-u", "--unix-timestamp", action="store_true",
                   help="with -t: print UNIX time instead of seconds since start")
    p.add_argument("-T", "--time", action="store_true", help="print a time column (HH:MM:SS)")
    p.add_argument("-C", "--print_cpu", action="store_true", help="print the CPU column")
    p.add_argument("-c", "--cgroup-path", help="trace this cgroup only (not supported yet)")
    p.add_argument("-n", "--name", help="only print processes whose name contains this")
    p.add_argument("-f", "--msg-filter", help="only print messages containing this")
    p.add_argument("-B", "--bin_cmp", action="store_true",
                   help="STRCMP compares binary data (accepted; strings compare bytes)")
    p.add_argument("-s", "--sym_file_list", help="symbol files (not supported yet)")
    p.add_argument("-K", "--kernel-stack", action="store_true", help="print kernel stacks")
    p.add_argument("-U", "--user-stack", action="store_true",
                   help="print user stacks (not supported yet)")
    p.add_argument("-a", "--address", action="store_true", help="print addresses in stacks")
    p.add_argument("-I", "--include", action="append",
                   help="C headers: not needed (types come from the kernel's BTF)")
    p.add_argument("-A", "--aggregate", action="store_true",
                   help="count identical lines, print them at -M (requires -M)")
    p.add_argument("probes", nargs="+", metavar="probe", help="probe specifier (see above)")
    a = p.parse_args(argv)
    if a.pid and a.tid:
        p.error("only one of -p and -L may be specified")
    if a.aggregate and not a.max_events:
        p.error("-M/--max-events should be specified with -A/--aggregate")
    if a.string_size > 4096:
        p.error("-Z: at most 4096")
    return a


def run(argv=None):
    a = parse(argv)
    if a.include:
        raise _cli.UsageError("-I: no C is compiled; struct types come from the kernel's BTF")
    if a.user_stack:
        raise _multi.not_yet("user stacks (-U)")
    if a.cgroup_path:
        raise _multi.not_yet("cgroup filters (-c)")
    if a.sym_file_list:
        raise _multi.not_yet("symbol files (-s)")
    _cli.setup(a)
    probes = [Probe(i, text, a) for i, text in enumerate(a.probes)]
    kkind = None
    if any(pr.spec.point.kind in ("p", "r") for pr in probes):
        kkind = _multi.kernel_probe_kind()
    from corebpf import features
    ncpu = features.possible_cpus()
    ring = 4096 * a.buffer_pages * ncpu
    ring = 1 << (ring - 1).bit_length()
    with GenObject(PROG) as g:
        events = g.create_map("events", RINGBUF, 0, 0, ring)
        lost = g.create_map("lost", ARRAY, 4, 8, 1)
        g.add_counter("__corebpf_lost__events", "lost", 0)
        stacks = g.create_map("stacks", STACK_TRACE, 4, 8 * _multi.STACK_DEPTH, 1024) \
            if a.kernel_stack else None
        progs = []
        try:
            for pr in probes:
                progs.append((f"probe_{pr.idx}", pr.build(
                    g, events.fd, lost.fd, stacks.fd if stacks is not None else None, a, kkind)))
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        if a.verbose or a.ebpf:
            _multi.print_programs(progs)
            if a.ebpf:
                return 0
        for name, cg in progs:
            _multi.load_and_attach(g, name, cg)
        return loop(g, a, probes, stacks)


def loop(g, a, probes, stacks):
    first_ts = time.monotonic_ns()
    first_real = time.time()
    out = _cli.Output()
    state = {"n": 0, "done": False}
    counts = {}
    trivial = all(not pr.convs for pr in probes)
    hdr = ""
    if a.timestamp or a.time:
        hdr += ("%-17s " if a.unix_timestamp else "%-8s ") % "TIME"
    if a.print_cpu:
        hdr += "%-3s " % "CPU"
    hdr += "%-7s %-7s %-15s %-16s %s" % ("PID", "TID", "COMM", "FUNC", "" if trivial else "-")
    print(hdr, flush=True)

    def on_event(data):
        if state["done"]:
            return
        ts, pid_tgid, uid, cpu, idx, kstack, comm = _HDR.unpack_from(data, 0)
        comm = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        if a.name and a.name not in comm:
            return
        pr = probes[idx]
        msg = pr.message(data)
        if a.msg_filter and a.msg_filter not in msg:
            return
        line = ""
        if a.timestamp or a.time:
            if a.time and not a.timestamp:
                t = time.strftime("%H:%M:%S")
            else:
                off = 1e-9 * (ts - first_ts)
                t = "%.6f" % (off + first_real if a.unix_timestamp else off)
            line += ("%-17s " % t[:17]) if a.unix_timestamp else ("%-8s " % t[:8])
        if a.print_cpu:
            line += "%-3s " % cpu
        line += "%-7d %-7d %-15s %-16s %s" % (pid_tgid >> 32, pid_tgid & 0xFFFFFFFF, comm,
                                             pr.display, msg)
        if a.kernel_stack:
            line += "\n" + stack_text(stacks, kstack, a.address)
        if a.aggregate:
            counts[line] = counts.get(line, 0) + 1
        else:
            out(line)
        state["n"] += 1
        if a.max_events and state["n"] >= a.max_events:
            state["done"] = True

    rb = g.ring_buffer("events", on_event)
    try:
        _cli.event_loop(rb, out, stop=lambda: state["done"])
    finally:
        if a.aggregate and counts:
            for line, n in sorted(counts.items(), key=lambda kv: kv[1], reverse=True):
                sys.stdout.write("%s\n-->COUNT %d\n\n" % (line, n))
            sys.stdout.flush()
    return 0


def stack_text(stacks, stack_id: int, address: bool) -> str:
    """bcc's -K block: one frame per line, 8-space indent, then an empty line."""
    if stack_id < 0:
        return "        %d\n" % stack_id
    lines = []
    for addr in _multi.stack_frames(stacks, stack_id):
        s = "        "
        if address:
            s += "%16x " % addr
        lines.append(s + _multi.ksym(addr, offset=True, module=True))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
