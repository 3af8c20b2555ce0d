"""Print a line for every hit of one or more probes, with a printf-style message
built from arguments, return values, USDT arguments and tracepoint fields,
and an optional filter.  Each probe is compiled to a BPF program at start
(no compiler).

Probe: [p|r]:lib:func[+offset] (user function entry/return; lib is a library
name such as c, a path or an executable) | u:lib[:provider]:probe (USDT) |
t:category:event | [p|r]::func (kernel function: needs kprobes or fentry),
then optional (signature), optional (filter), optional "format", arguments.
Names: arg1..argN (function and USDT arguments), retval, args->field
(tracepoints), signature parameter names, $pid $tgid $uid $gid $cpu $comm
$task, struct fields through pointers (arg1->f_path.dentry->d_name.name)
from the kernel's BTF, argN@user, STRCMP("text", expr) or expr == "text".
Conversions: %d %u %x %ld %lu %lx %lld %llu %llx %hd %hu %c %s %K (kernel
symbol) %U (user symbol).

examples:
    trace 'c:malloc "size = %d", arg1'
        print the size of every malloc()
    trace 'r:c:malloc (retval) "allocated = %x", retval'
        non-NULL malloc() results
    trace 'p:c:write (arg1 == 1) "writing %d bytes to STDOUT", arg3'
    trace -U 'p:c:open "%s", arg1'
        with the user stack of each call
    trace 'p:c:pthread_create "%U", arg3'
        the start routine of every new thread, as a symbol
    trace -p 1234 'u:/usr/bin/python3.11:function__entry "%s %s", arg1, arg2'
        USDT probe arguments (Python function entries of PID 1234)
    trace 't:syscalls:sys_enter_openat "%s", args->filename'
        print the file name of every openat()
    trace 't:syscalls:sys_enter_openat (STRCMP("cat", $comm)) "%s", args->filename'
        only when the process is named "cat"
    trace -n python 't:syscalls:sys_enter_execve "%s", args->filename'
        only for process names containing "python"
    trace -c /sys/fs/cgroup/unified/my.slice 't:syscalls:sys_enter_kill "%d", args->pid'
        only tasks in that cgroup (v2) or below it
    trace 't:syscalls:sys_exit_read (args->ret > 1000) "read %d bytes", args->ret'
    trace -T -M 10 't:sched:sched_process_exec "%s [%d]", args->filename, args->pid'
    trace -K 't:block:block_rq_issue'         # with kernel stacks
    trace -s /bin/ping -U 'p:c:inet_pton'     # user stacks symbolized through these files
    trace -U --unwind dwarf 'p:c:write'        # user stacks of code without frame pointers
    trace 'r::do_sys_openat2 "%d", retval'    # kernel functions need kprobes/fentry
"""
from __future__ import annotations

import re
import struct
import sys
import time

from corebpf.compiler.bpfasm import FP, R0, R1, R2, R3, R6, R9, reg
from corebpf.compiler.codegen import CodeGen, CompileError
from corebpf.compiler.genprog import (ARRAY, CGROUP_ARRAY, F_STACK_BUILD_ID, RINGBUF, STACK_TRACE,
                             GenObject)
from corebpf.compiler.probespec import SpecError, parse_trace_probe

from . import _cli, _containers, _jsonl, _multi, _stacks

PROG = "trace"
# record header: u64 ts, u64 pid_tgid, u32 uid, u32 cpu, u32 probe, s32 kernel stack,
# comm[16], s32 user stack, u32 pad, u64 cgroup (--containers, else 0); then the format's values
HDR = 64
_HDR = struct.Struct("<QQIIIi16si4xQ")
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
        self.user = pt.kind == "u" or (pt.kind in ("p", "r") and bool(pt.library))
        # FUNC column: the function, the tracepoint's event, or the USDT probe
        # as written ([provider:]probe)
        self.display = pt.function if pt.kind != "u" or not pt.provider else \
            f"{pt.provider}:{pt.function}"
        if s.fmt is not None:
            try:
                self.pyfmt, self.convs = parse_format(s.fmt, text, s.fmt_pos)
            except SpecError as e:
                raise _cli.UsageError(str(e)) from None
            if len(self.convs) != len(s.args):
                raise _cli.UsageError(
                    f"the format has {len(self.convs)} conversions but {len(s.args)} "
                    f"arguments follow, in '{text}'")
        else:
            self.pyfmt, self.convs = "", []
        self.string_size = a.string_size
        self.fields = []               # (offset, conv)
        off = HDR
        for c in self.convs:
            self.fields.append((off, c))
            off += a.string_size if c == "s" else 8
        self.size = (off + 7) & ~7

    def targets(self, a, kernel_kind) -> list:
        """[(kind, target)] this probe attaches to: one, or one per location
        of a USDT probe."""
        pt = self.spec.point
        pid = a.pid
        if pt.kind == "t":
            from corebpf.core.features import tracepoint_exists
            if not tracepoint_exists(pt.library, pt.function):
                raise _cli.UsageError(f"no tracepoint {pt.library}:{pt.function}")
            return [("t", (pt.library, pt.function))]
        if pt.kind == "u":
            sites = _multi.usdt_sites(pt.library, _exact(pt.function), pt.provider, pid)
            if not sites:
                from corebpf.symbols.elf import ElfError
                raise ElfError(f"{_multi.library_path(pt.library, pid)}: no USDT probe "
                               f"{self.display}")
            return [("usdt", site) for _, site in sites]
        if self.user:
            return [("u", _multi.user_function(pt.library, pt.function, pid, pt.offset))]
        if pt.offset and kernel_kind != "kprobe":
            raise _cli.UsageError(f"{pt.function}+{pt.offset:#x}: an offset into a kernel "
                                  "function needs kprobes (fentry probes function entries)")
        return [("p", pt.function)]

    def build(self, g, rb_fd, lost_fd, stack_fd, a, kernel_kind, cgroup_fd=None,
              dwarf=None) -> list:
        """[CodeGen]: the program(s) of this probe.  dwarf: the maps of
        --unwind dwarf (_stacks.gen_maps): the record is built in a scratch
        map value, the user stack dump appended at self.size, and sent to
        the `ustacks` ring instead of `events`."""
        return [self._build(kind, target, rb_fd, lost_fd, stack_fd, a, kernel_kind, cgroup_fd,
                            dwarf)
                for kind, target in self.targets(a, kernel_kind)]

    def _build(self, kind, target, rb_fd, lost_fd, stack_fd, a, kernel_kind, cgroup_fd,
               dwarf=None):
        pt = self.spec.point
        ctx = _multi.context_for(kind, target, ret=pt.kind == "r", kernel_kind=kernel_kind,
                                 signature=self.spec.signature, text=self.spec.text,
                                 display=self.display)
        if kind == "p":
            ctx.offset = pt.offset
        cg = CodeGen(ctx, self.spec.text, a.string_size)
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid, tid=a.tid, uid=a.uid,
                      exclude_tgid=None if a.include_self or a.pid else _self_tgid())
        if cgroup_fd is not None:
            A.ld_map_fd(R1, cgroup_fd, "cgroup")
            A.mov(R2, 0)
            A.call("current_task_under_cgroup")
            A.jmp("s<=", R0, 0, "out")
        cg.filter(self.spec.filter)
        if dwarf is not None:
            _stacks.emit_scratch(cg, dwarf[0], R9)
        else:
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
        for off, want, flags in ((28, a.kernel_stack, 0),
                                 (48, a.user_stack and dwarf is None, _multi.BPF_F_USER_STACK)):
            if stack_fd is not None and want:
                A.mov(R1, reg(R6))
                A.ld_map_fd(R2, stack_fd, "stacks")
                A.mov(R3, flags)
                A.call("get_stackid")
                A.stx(4, R9, off, R0)
            else:
                A.st(4, R9, off, -1)
        A.mov(R1, reg(R9))
        A.alu("+", R1, 32)
        A.mov(R2, 16)
        A.call("get_current_comm")
        if a.containers:
            cg.task_cgroup_id()
            A.stx(8, R9, 56, R0)
        else:
            A.st(8, R9, 56, 0)
        for (off, conv), node in zip(self.fields, self.spec.args):
            if conv == "s":
                cg.string_into(node, R9, off, a.string_size)
            else:
                t = cg.rvalue(node)
                if t.kind not in ("int", "ptr"):
                    raise CompileError(f"'{node.text()}' is not a number", self.spec.text,
                                       node.pos)
                A.stx(8, R9, off, R0)
        if dwarf is not None:
            _stacks.emit_dump_output(cg, a, R9, self.size, dwarf)
            cg.epilogue()
            return cg
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

    def message(self, data: bytes, tgid: int, syms) -> str:
        if not self.convs:
            return ""
        return self.pyfmt % tuple(self.values(data, tgid, syms))

    def values(self, data: bytes, tgid: int, syms, raw: bool = False) -> list:
        """The format's values: numbers, strings (%s; exact with raw, else
        escaped for a terminal), symbols (%K, %U), characters (%c)."""
        vals = []
        for off, conv in self.fields:
            if conv == "s":
                b = data[off:off + self.string_size]
                i = b.find(b"\0")
                vals.append((_jsonl.raw if raw else _cli.text)(b[:i] if i >= 0 else b))
                continue
            v = struct.unpack_from("<Q", data, off)[0]
            size, signed = CONV[conv]
            v &= (1 << (8 * size)) - 1
            if signed and v >> (8 * size - 1):
                v -= 1 << (8 * size)
            if conv == "K":
                v = syms.ksym(v, show_offset=True)
            elif conv == "U":
                v = syms.sym(v, tgid, show_offset=True, show_module=True)
            elif conv == "c":
                v = chr(v)
            vals.append(v)
        return vals


def _exact(name: str):
    return re.compile("^" + re.escape(name) + "$")


def _self_tgid():
    import os
    return os.getpid()


def _max_pages() -> int:
    """-b: pages per CPU such that the whole ring (a u32 power of two) fits."""
    return max(1, 2**31 // (4096 * _cli.possible_cpus()))


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-b", "--buffer-pages", type=_cli.Number(1, _max_pages, "pages"), default=64,
                   help="pages per CPU for the event ring (default: 64)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this process only")
    p.add_argument("-L", "--tid", type=_cli.tid_type, help="trace this thread only")
    p.add_argument("--uid", type=_cli.uid_type, help="trace this user only")
    p.add_argument("-Z", "--string-size", type=_cli.Number(1, 4096, "bytes"), default=80,
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
    p.add_argument("-c", "--cgroup-path",
                   help="trace tasks of this cgroup (v2 directory) and its descendants only")
    p.add_argument("-n", "--name", help="only print processes whose name contains this")
    p.add_argument("-f", "--msg-filter", help="only print messages containing this")
    p.add_argument("-B", "--bin_cmp", action="store_true",
                   help="STRCMP compares binary data (accepted; strings compare bytes)")
    p.add_argument("-s", "--sym_file_list",
                   help="comma-separated binaries whose symbols resolve user stacks "
                        "(stacks are recorded as build id + offset)")
    p.add_argument("-K", "--kernel-stack", action="store_true", help="print kernel stacks")
    p.add_argument("-U", "--user-stack", action="store_true", help="print user stacks")
    p.add_argument("-a", "--address", action="store_true", help="print addresses in stacks")
    p.add_argument("-I", "--include", action="append",
                   help="C headers: not needed (types come from the kernel's BTF)")
    p.add_argument("-A", "--aggregate", action="store_true",
                   help="count identical lines, print them at -M (requires -M)")
    p.add_argument("probes", nargs="+", metavar="probe", help="probe specifier (see above)")
    _stacks.add_args(p, pictures=False)
    _jsonl.add_args(p)
    _containers.add_args(p)
    a = p.parse_args(argv)
    if a.json and a.aggregate:
        p.error("--json: not with -A (its counts of identical lines are text)")
    if a.json and a.sym_file_list:
        p.error("--json: not with -s (build-id stacks are printed as text only)")
    if _stacks.dwarf(a) and not a.user_stack:
        p.error("--unwind dwarf unwinds the user stacks -U prints")
    if _stacks.dwarf(a) and a.sym_file_list:
        p.error("-s (build-id stacks) and --unwind dwarf cannot be combined")
    if a.pid and a.tid:
        p.error("only one of -p and -L may be specified")
    if a.aggregate and not a.max_events:
        p.error("-M/--max-events should be specified with -A/--aggregate")
    return a


F = _jsonl.Field
JSON = _jsonl.Events("one object per probe hit", [
    F("ts_ns", "integer", "kernel time (CLOCK_MONOTONIC)", "ns"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("uid", "integer", "user ID"),
    F("cpu", "integer", "CPU"),
    F("comm", "string", "command name"),
    F("func", "string", "the function, tracepoint event or USDT probe (bcc's FUNC)"),
    F("probe", "integer", "index of the probe on the command line (0: the first)"),
    F("message", "string", "the format filled in (empty without a format)"),
    F("values", "value[]", "the format's values in order: numbers (%d %u %x ...), strings "
                           "(%s, %c, symbols for %K and %U)"),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    _containers.FIELD,
])


def open_cgroup(path: str) -> int:
    """A directory fd of cgroup v2 directory `path`; UsageError if it is none."""
    import os
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise _cli.UsageError(f"cgroup {path}: {e.strerror}") from None


def run(argv=None):
    a = parse(argv)
    if a.include:
        raise _cli.UsageError("-I: no C is compiled; struct types come from the kernel's BTF")
    _cli.setup(a)
    probes = [Probe(i, text, a) for i, text in enumerate(a.probes)]
    kkind = _multi.probe_kind_for(
        {"u" if pr.user else "p" if pr.spec.point.kind in ("p", "r") else pr.spec.point.kind
         for pr in probes})
    symfiles = SymbolFiles(a.sym_file_list) if a.sym_file_list else None
    from corebpf import features
    ncpu = features.possible_cpus()
    ring = 4096 * a.buffer_pages * ncpu
    ring = 1 << (ring - 1).bit_length()
    if a.containers:
        _containers.names(a)
    with GenObject(PROG) as g:
        events = g.create_map("events", RINGBUF, 0, 0, ring, sized_by="-b/--buffer-pages")
        lost = g.create_map("lost", ARRAY, 4, 8, 1)
        g.add_counter("__corebpf_lost__events", "lost", 0)
        stacks = None
        dwarf = None
        if _stacks.dwarf(a):
            dwarf = _stacks.gen_maps(g, a, max(pr.size for pr in probes))
        if a.kernel_stack or a.user_stack:
            if symfiles:
                stacks = g.create_map("stacks", STACK_TRACE, 4, BUILD_ID_FRAME *
                                      _multi.STACK_DEPTH, 1024, flags=F_STACK_BUILD_ID)
            else:
                stacks = g.create_map("stacks", STACK_TRACE, 4, 8 * _multi.STACK_DEPTH, 1024)
        cgroup = None
        if a.cgroup_path:
            cgroup = g.create_map("cgroup", CGROUP_ARRAY, 4, 4, 1)
            fd = open_cgroup(a.cgroup_path)
            try:
                cgroup[0] = fd
            except OSError as e:
                raise _cli.UsageError(f"cgroup {a.cgroup_path}: not a cgroup v2 directory "
                                      f"({e.strerror})") from None
            finally:
                import os
                os.close(fd)
        progs = []
        try:
            for pr in probes:
                for j, cg in enumerate(pr.build(
                        g, events.fd, lost.fd, stacks.fd if stacks is not None else None, a,
                        kkind, cgroup.fd if cgroup is not None else None, dwarf)):
                    progs.append((f"probe_{pr.idx}" + (f"_{j}" if j else ""), cg))
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        if a.verbose or a.ebpf:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        _multi.attach_all(g, progs)
        if symfiles:
            print("Note: Kernel bpf will report stack map with ip/build_id", flush=True)
        return loop(g, a, probes, stacks, symfiles)


def loop(g, a, probes, stacks, symfiles=None):
    from corebpf.symbols.syms import SymbolCache
    unw = None
    first_ts = time.monotonic_ns()
    first_real = time.time()
    out = _cli.Output(json=a.json)
    state = {"n": 0, "done": False}
    counts = {}
    syms = SymbolCache()
    if _stacks.dwarf(a):
        unw = _stacks.Unwinding(syms)
    trivial = all(not pr.convs for pr in probes)
    hdr = ""
    if a.timestamp or a.time:
        hdr += ("%-17s " if a.unix_timestamp else "%-8s ") % "TIME"
    if a.print_cpu:
        hdr += "%-3s " % "CPU"
    hdr += _containers.header(a)
    hdr += "%-7s %-7s %-15s %-16s %s" % ("PID", "TID", "COMM", "FUNC", "" if trivial else "-")
    if a.json:
        _jsonl.header(hdr)
    else:
        print(hdr, flush=True)

    def on_event(data):
        if state["done"]:
            return
        ts, pid_tgid, uid, cpu, idx, kstack, comm, ustack, cgid = _HDR.unpack_from(data, 0)
        comm = (_jsonl.raw if a.json else _cli.text)(comm.split(b"\0", 1)[0])
        if a.name and a.name not in comm:
            return
        pr = probes[idx]
        tgid = pid_tgid >> 32
        if unw is not None:
            ustack = unw.stack(tgid, _stacks.dump_at(data, pr.size))
        vals = pr.values(data, tgid, syms, raw=a.json)
        msg = pr.pyfmt % tuple(vals) if pr.convs else ""
        if a.msg_filter and a.msg_filter not in msg:
            return
        if a.json:
            d = {"time_ns": time.time_ns(), "ts_ns": ts, "pid": tgid,
                 "tid": pid_tgid & 0xFFFFFFFF, "uid": uid, "cpu": cpu, "comm": comm,
                 "func": pr.display, "probe": idx, "message": msg,
                 "values": [v if isinstance(v, (int, str)) else str(v) for v in vals]}
            if a.kernel_stack:
                d["kernel_stack"] = _jsonl.frames(stack_addrs(stacks, kstack),
                                                  syms.kernel.resolve)
            if a.user_stack:
                d["user_stack"] = _jsonl.frames(stack_addrs(stacks, ustack),
                                                syms.process(tgid).resolve)
            if a.containers:
                d["container"] = _containers.full_name(cgid)
            out.obj(d)
            state["n"] += 1
            if a.max_events and state["n"] >= a.max_events:
                state["done"] = True
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
        line += _containers.cgroup_text(a, cgid)
        line += "%-7d %-7d %-15s %-16s %s" % (tgid, pid_tgid & 0xFFFFFFFF, comm,
                                             pr.display, msg)
        if a.kernel_stack or a.user_stack:
            # the frames follow the line, kernel then user, then one empty line
            line += "\n"
            if a.kernel_stack:
                line += stack_text(stacks, kstack, a.address, syms, -1, symfiles)
            if a.user_stack:
                line += stack_text(stacks, ustack, a.address, syms, tgid, symfiles)
        if a.aggregate:
            counts[line] = counts.get(line, 0) + 1
        else:
            out(line)
        state["n"] += 1
        if a.max_events and state["n"] >= a.max_events:
            state["done"] = True

    rb = g.ring_buffer("ustacks" if unw is not None else "events", on_event)
    try:
        _cli.event_loop(rb, out, stop=lambda: state["done"])
    finally:
        if a.aggregate and counts:
            for line, n in sorted(counts.items(), key=lambda kv: kv[1], reverse=True):
                sys.stdout.write("%s\n-->COUNT %d\n\n" % (line, n))
            sys.stdout.flush()
    return 0


def stack_addrs(stacks, stack_id) -> list:
    """The addresses of a stack id ([] if none or lost) or an Unwound."""
    if isinstance(stack_id, tuple):
        return list(stack_id)
    if stack_id < 0:
        return []
    try:
        return stacks.stack(stack_id)
    except OSError:
        return []


def stack_text(stacks, stack_id: int, address: bool, syms, tgid: int = -1,
               symfiles=None) -> str:
    """bcc's -K/-U block: one frame per line, 8-space indent, `sym+0xoff
    [module]` (kernel frames when tgid is -1, else frames of process tgid);
    a negative id (no stack here, or lost) prints as the number; an
    Unwound (--unwind dwarf) is its addresses (none: nothing)."""
    if isinstance(stack_id, tuple):
        if not stack_id:
            return ""
    elif stack_id < 0:
        return "        %d\n" % stack_id
    if symfiles is not None and not isinstance(stack_id, tuple):
        frames = symfiles.frames(stacks, stack_id, tgid, syms)
    else:
        addrs = stack_id if isinstance(stack_id, tuple) else stacks.stack(stack_id)
        frames = [(addr, syms.sym(addr, tgid, show_offset=True, show_module=True))
                  for addr in addrs]
    lines = []
    for addr, text in frames:
        s = "        "
        if address:
            s += "%16x " % addr
        lines.append(s + text)
    return "\n".join(lines) + "\n"


BUILD_ID_FRAME = 32         # struct bpf_stack_build_id
_BUILD_ID = struct.Struct("<i20sQ")
BUILD_ID_VALID, BUILD_ID_IP = 1, 2


class SymbolFiles:
    """-s: user frames recorded as (build id, file offset), resolved through
    the symbols of the binaries given, matched by their GNU build id."""

    def __init__(self, spec: str):
        from corebpf.symbols.syms import elf_symbols
        self.by_id = {}
        for path in (p.strip() for p in spec.split(",")):
            if not path:
                continue
            es = elf_symbols(path)
            if es is None:
                raise _cli.UsageError(f"-s: {path}: not a readable ELF file")
            if not es.build_id:
                raise _cli.UsageError(f"-s: {path} has no GNU build id note")
            self.by_id[es.build_id] = (es, path)

    def frames(self, stacks, stack_id: int, tgid: int, syms) -> list:
        """[(address or file offset, text)] of a build-id stack."""
        import os
        raw = stacks.get(stack_id)
        if raw is None:
            return []
        out = []
        for i in range(0, len(raw) - BUILD_ID_FRAME + 1, BUILD_ID_FRAME):
            status, bid, val = _BUILD_ID.unpack_from(raw, i)
            if status == BUILD_ID_VALID:
                hit = self.by_id.get(bid.hex())
                text = "[unknown]"
                if hit is not None:
                    es, path = hit
                    va = es.vaddr(val)
                    found = es.lookup(va) if va is not None else None
                    if found:
                        text = "%s+0x%x [%s]" % (found[0], found[1], os.path.basename(path))
                out.append((val, text))
            elif status == BUILD_ID_IP:
                if not val:
                    break
                out.append((val, syms.sym(val, tgid, show_offset=True, show_module=True)))
            else:
                break
        return out


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
