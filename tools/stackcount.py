"""Count the distinct stacks (kernel and user) that lead to an event:
tracepoints, user functions, USDT probes, kernel functions; counted in the
kernel by programs generated at start (no compiler).  User stacks need frame
pointers in the traced code (Debian's libc has none: frames above a libc
function may be missing), or --unwind dwarf: each event then copies the top
of the user stack, unwound in user space with the binaries' CFI.

examples:
    stackcount t:sched:sched_switch      # kernel and user stacks at each context switch
    stackcount -K t:sched:sched_switch   # kernel stacks only
    stackcount -U t:syscalls:sys_enter_write    # user stacks only
    stackcount -p 185 c:malloc           # stacks of malloc() calls in PID 185
    stackcount -P t:sched:sched_wakeup   # separately for each process
    stackcount -f t:block:block_rq_issue # folded output (flame graph input)
    stackcount -d t:syscalls:sys_enter_read     # '--' between kernel and user stacks
    stackcount -s -D 5 't:syscalls:sys_enter_*sync*'  # offsets, for 5 seconds
    stackcount -Ti 5 t:sched:sched_process_exec       # every 5 s, with time
    stackcount -p 185 'u:/usr/bin/python3.11:gc__*'   # USDT probes
    stackcount submit_bio                # kernel functions (needs kprobes or fentry)
    stackcount --svg w.svg -D 5 t:syscalls:sys_enter_write   # also a flame graph
    stackcount -U --unwind dwarf -p 185 t:syscalls:sys_enter_write  # no frame pointers
"""
from __future__ import annotations

import errno
import struct
import sys
import time

from corebpf.compiler.bpfasm import FP, R0, R1, R2, R3, R6, R8, reg
from corebpf.compiler.codegen import CodeGen
from corebpf.compiler.genprog import HASH, STACK_TRACE, GenObject
from corebpf.symbols.stacks import Stacks, present

from . import _cli, _jsonl, _multi, _stacks
from .funccount import names_of, resolve

PROG = "stackcount"
KEY = struct.Struct("<IiiI16s")          # tgid, kernel stack, user stack, pad, comm
NO_PID = 0xFFFFFFFF
# --unwind dwarf: one record per event: tgid, kernel stack, comm, then the dump
DWARF_HDR = struct.Struct("<Ii16s")
DWARF_DUMP = 24                          # the dump's offset (8-aligned)


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-c", "--cpu", type=_cli.cpu_type, help="trace this CPU only")
    p.add_argument("-i", "--interval", type=_cli.positive_int, help="summary interval, seconds")
    p.add_argument("-D", "--duration", type=_cli.positive_int,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-r", "--regexp", action="store_true",
                   help='use regular expressions (default: "*" wildcards only)')
    p.add_argument("-s", "--offset", action="store_true", help="show address offsets")
    p.add_argument("-P", "--perpid", action="store_true",
                   help="display stacks separately for each process")
    p.add_argument("-K", "--kernel-stacks-only", action="store_true",
                   help="kernel stacks only")
    p.add_argument("-U", "--user-stacks-only", action="store_true",
                   help="user stacks only")
    p.add_argument("-v", "--verbose", dest="show_addr", action="store_true", help="show raw addresses")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert a delimiter between kernel and user stacks")
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("--debug", action="store_true",
                   help="print the generated BPF programs before starting")
    p.add_argument("pattern", help="search expression for events")
    _stacks.add_args(p)
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    if a.kernel_stacks_only and a.user_stacks_only:
        p.error("-K and -U are mutually exclusive. If you want both stacks, "
                "that is the default.")
    return a


def _is_kernel_probe(kind: str) -> bool:
    return kind in ("t", "p")


def build(probes, counts_fd, stacks_fd, a, kernel_kind=None, dwarf=None):
    """[(name, CodeGen)]: one program per probe (per USDT location) adding 1 to
    counts[{tgid, kernel stack, user stack, comm}].  As bcc does, the key
    holds the process (and its name) unless only kernel stacks of a kernel
    probe are counted without -P/-p.  dwarf: (scratch fd, ring fd) of
    --unwind dwarf, whose programs send each event's record (DWARF_HDR and
    the user stack dump) to the ring instead, counted in user space."""
    out = []
    kernel_stack = not a.user_stacks_only
    user_stack = not a.kernel_stacks_only
    for i, (disp, kind, target) in enumerate(probes):
        per_pid = a.perpid or a.pid is not None or user_stack or not _is_kernel_probe(kind)
        cg = CodeGen(_multi.context_for(kind, target, kernel_kind=kernel_kind, display=disp))
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid, cpu=a.cpu)
        if dwarf is not None:
            _build_dwarf(cg, stacks_fd, dwarf, a, kernel_stack)
            out.append((f"stack_{i}", cg))
            continue
        key = cg.alloc(KEY.size)
        cg.zero(FP, key, KEY.size)
        if per_pid:
            A.call("get_current_pid_tgid")
            A.alu(">>", R0, 32)
            A.stx(4, FP, key, R0)
            A.mov(R1, reg(FP))
            A.alu("+", R1, key + 16)
            A.mov(R2, 16)
            A.call("get_current_comm")
        else:
            A.st(4, FP, key, -1)
        for off, want, flags in ((4, kernel_stack, 0), (8, user_stack, _multi.BPF_F_USER_STACK)):
            if want:
                A.mov(R1, reg(R6))
                A.ld_map_fd(R2, stacks_fd, "stack_traces")
                A.mov(R3, flags)
                A.call("get_stackid")
                A.stx(4, FP, key + off, R0)
            else:
                A.st(4, FP, key + off, -errno.EFAULT)
        cg.map_add(counts_fd, "counts", key, hash_map=True)
        cg.epilogue()
        out.append((f"stack_{i}", cg))
    return out


def _build_dwarf(cg, stacks_fd, dwarf, a, kernel_stack):
    A = cg.a
    _stacks.emit_scratch(cg, dwarf[0], R8)
    A.call("get_current_pid_tgid")
    A.alu(">>", R0, 32)
    A.stx(4, R8, 0, R0)
    A.mov(R1, reg(R8))
    A.alu("+", R1, 8)
    A.mov(R2, 16)
    A.call("get_current_comm")
    if kernel_stack:
        A.mov(R1, reg(R6))
        A.ld_map_fd(R2, stacks_fd, "stack_traces")
        A.mov(R3, 0)
        A.call("get_stackid")
        A.stx(4, R8, 4, R0)
    else:
        A.st(4, R8, 4, -errno.EFAULT)
    _stacks.emit_dump_output(cg, a, R8, DWARF_DUMP, dwarf)
    cg.epilogue()


def keys(items) -> list:
    """Counts map items as [((tgid, kernel id, user id, comm), count)]."""
    out = []
    for raw, count in items:
        tgid, kid, uid, _, comm = KEY.unpack(raw)
        out.append(((tgid, kid, uid, comm), count))
    return out


def render(items, st: Stacks, a) -> str:
    """One interval's text (bcc's layout), stacks ascending by count."""
    out = []
    if not a.folded:
        out.append("\n")
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    delimiter = a.delimited and not (a.kernel_stacks_only or a.user_stacks_only)
    for (tgid, kid, uid, comm), count in sorted(items, key=lambda kv: kv[1]):
        comm = _cli.text(comm.split(b"\0", 1)[0])
        if a.folded:
            kframes = st.kernel(kid)
            uframes = st.user(uid, tgid) if tgid != NO_PID else []
            parts = [comm if tgid != NO_PID else ""]
            parts += [f.replace(";", "_") for f in reversed(uframes)]
            if delimiter:
                parts.append("-")
            parts += [f.replace(";", "_") for f in reversed(kframes)]
            out.append("%s %d\n" % (";".join(parts), count))
            continue
        kaddrs = [None] if kid < 0 else st.addresses(kid)
        for addr, name in zip(kaddrs, st.kernel(kid, show_offset=a.offset)):
            out.append(_frame(addr, name, a))
        if delimiter:
            out.append("    --\n")
        if tgid != NO_PID:
            uaddrs = st.addresses(uid) if present(uid) else [None]
            for addr, name in zip(uaddrs, st.user(uid, tgid, show_offset=a.offset)):
                out.append(_frame(addr, name, a))
        if a.pid is None and tgid != NO_PID:
            out.append("    %s [%d]\n" % (comm, tgid))
        out.append("    %d\n\n" % count)
    return "".join(out)


def samples(items, st: Stacks, a) -> list:
    """[(frames root->leaf, count)] of one interval, for --svg/--pprof."""
    out = []
    for (tgid, kid, uid, comm), count in items:
        comm = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        user = st.user(uid, tgid) if tgid != NO_PID and not a.kernel_stacks_only else None
        kern = st.kernel(kid) if not a.user_stacks_only else None
        out.append((_stacks.stack_frames(comm if tgid != NO_PID else None, user, kern), count))
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval (-i) or at the end: events per stack (and "
                        "process), fewest first (bcc's order)", rows=[
    F("pid", "integer|null", "process ID, null for events in no process context"),
    F("comm", "string|null", "its command name, null as pid"),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    F("count", "integer", "events with this stack"),
])


def json_rows(items, st: Stacks, a) -> list:
    out = []
    for (tgid, kid, uid, comm), count in sorted(items, key=lambda kv: kv[1]):
        proc = tgid != NO_PID
        out.append({"pid": tgid if proc else None,
                    "comm": _jsonl.raw(comm.split(b"\0", 1)[0]) if proc else None,
                    "count": count,
                    **_stacks.json_stacks(st, tgid, None if a.user_stacks_only else kid,
                                          uid if proc and not a.kernel_stacks_only else None)})
    return out


def _frame(addr, name, a) -> str:
    line = "  "
    if a.show_addr and addr is not None:
        line += "%-16x " % addr
    return line + name + "\n"


def run(argv=None):
    a = parse(argv)
    _stacks.check_args(a, user_stacks=not a.kernel_stacks_only)
    _cli.setup(a)
    probes = resolve(a.pattern, a.regexp, a.pid)
    kkind = _multi.probe_kind_for({k for _, k, _ in probes})
    interval = a.interval or a.duration or _cli.FOREVER
    names = names_of(probes)
    with GenObject(PROG) as g:
        counts = g.create_map("counts", HASH, KEY.size, 8, 40960)
        stacks = g.create_map("stack_traces", STACK_TRACE, 4, 8 * _multi.STACK_DEPTH, 16384)
        dwarf = _stacks.gen_maps(g, a, DWARF_DUMP) if _stacks.dwarf(a) else None
        progs = build(probes, counts.fd, stacks.fd, a, kkind, dwarf=dwarf)
        if a.ebpf or a.debug:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        skipped = _multi.attach_all(g, progs, tolerant=len(names) > 1)
        banner = 'Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (
            len(names) - len(skipped), a.pattern)
        if a.json:
            _jsonl.header(banner)
        elif not a.folded:
            print(banner, flush=True)
        seconds = 0
        exiting = False
        pictures = []
        started = time.monotonic()
        syms = None
        backlog = None
        if dwarf:
            import collections
            st = Stacks(stacks)
            syms = st.syms                       # warm CFI and symbol caches
            unw = _stacks.Unwinding(syms)
            dwarf_counts = collections.Counter()

            def on_event(raw):
                tgid, kid, comm = DWARF_HDR.unpack_from(raw)
                uid = unw.stack(tgid, _stacks.dump_at(raw, DWARF_DUMP))
                dwarf_counts[(tgid, kid, uid, comm)] += 1
            backlog = _stacks.Backlog(on_event)
            backlog.rb = g.ring_buffer("ustacks", backlog.add)
        while True:
            if _cli.sleep_until_done(interval, backlog):
                exiting = True
            else:
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            if backlog is not None:
                if exiting:
                    g.detach()
                    backlog.finish()
                items = list(dwarf_counts.items())
                dwarf_counts.clear()
            else:
                items = keys(counts.pop_items())
            st = Stacks(stacks, syms)
            if a.json:
                JSON.write(json_rows(items, st, a))
            else:
                print(render(items, st, a), end="", flush=True)
            if _stacks.wanted(a):
                pictures.extend(samples(items, st, a))
            if exiting:
                if _stacks.wanted(a):
                    elapsed = time.monotonic() - started
                    _stacks.write_outputs(a, pictures, PROG,
                                          title=f"stackcount: {a.pattern}, {elapsed:.0f} s",
                                          unit="events", sample_type="events",
                                          duration_ns=int(elapsed * 1e9))
                if backlog is not None and backlog.lost:
                    print(f"WARNING: {backlog.lost} events lost (user stack dumps: the "
                          "ring buffer was full).", file=sys.stderr)
                if a.json:
                    _jsonl.header("Detaching...")
                elif not a.folded:
                    print("Detaching...", flush=True)
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
