"""Trace outstanding memory allocations that weren't freed.
Supports both user-mode allocations made with libc functions (uprobes on
malloc, calloc, realloc, mmap, posix_memalign, valloc, memalign, pvalloc,
aligned_alloc, free, munmap) and kernel-mode allocations made with
kmalloc/kmem_cache_alloc/get_free_pages and the corresponding release
functions (kmem tracepoints; --percpu: the percpu ones).  User stacks need
frame pointers in the traced code, or --unwind dwarf: each allocation then
copies the top of the user stack, unwound in user space with the binaries'
CFI (costly: one record per allocation).

examples:
    memleak -p $(pidof allocs)
            Trace allocations and display a summary of "leaked" (outstanding)
            allocations every 5 seconds
    memleak -p $(pidof allocs) -t
            Trace allocations and display each individual allocator function call
    memleak -ap $(pidof allocs) 10
            Trace allocations and display allocated addresses, sizes, and stacks
            every 10 seconds for outstanding allocations
    memleak -c "./allocs"
            Run the specified command and trace its allocations
    memleak -p $(pidof allocs) --unwind dwarf
            The same, for code built without frame pointers
    memleak
            Trace allocations in kernel mode and display a summary of outstanding
            allocations every 5 seconds
    memleak -o 60000
            Trace allocations in kernel mode and display a summary of outstanding
            allocations that are at least one minute (60 seconds) old
    memleak -s 5
            Trace roughly every 5th allocation, to reduce overhead
    memleak --sort count
            Trace allocations in kernel mode and display a summary of outstanding
            allocations that are sorted in count order
"""
from __future__ import annotations

import os
import time

import collections
import sys

import corebpf

from . import _cli, _jsonl, _stacks

PROG = "memleak"
SORT_KEYS = ["size", "count"]
# (symbol, has a return probe, may be missing from the allocator: bcc's list)
USER_FUNCS = (("malloc", True, False), ("calloc", True, False), ("realloc", True, False),
              ("mmap", True, True), ("posix_memalign", True, False), ("valloc", True, True),
              ("memalign", True, False), ("pvalloc", True, True), ("aligned_alloc", True, True),
              ("free", False, False), ("munmap", False, True))
KMEM = ("kmalloc", "kmem_cache_alloc", "kfree", "kmem_cache_free", "mm_page_alloc",
        "mm_page_free")
KMEM_NODE = ("kmalloc_node", "kmem_cache_alloc_node")      # kernels before 6.1
PERCPU = ("percpu_alloc_percpu", "percpu_free_percpu")
TRACE_MSG = ("alloc entered, size = %u", "alloc exited, size = %lu, result = %lx",
             "free entered, address = %lx, size = %lu")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type,
                   help="the PID to trace; if not specified, trace kernel allocs")
    p.add_argument("-t", "--trace", action="store_true",
                   help="print trace messages for each alloc/free call")
    p.add_argument("interval", nargs="?", default=5, type=_cli.positive_int,
                   help="interval in seconds to print outstanding allocations")
    p.add_argument("count", nargs="?", type=_cli.positive_int,
                   help="number of times to print the report before exiting")
    p.add_argument("-a", "--show-allocs", action="store_true",
                   help="show allocation addresses and sizes as well as call stacks")
    p.add_argument("-o", "--older", default=500, type=_cli.nonneg_int,
                   help="prune allocations younger than this age in milliseconds")
    p.add_argument("-c", "--command", help="execute and trace the specified command")
    p.add_argument("--combined-only", action="store_true",
                   help="show combined allocation statistics only")
    p.add_argument("--wa-missing-free", action="store_true",
                   help="Workaround to alleviate misjudgments when free is missing")
    p.add_argument("-s", "--sample-rate", default=1, type=_cli.positive_int,
                   help="sample every N-th allocation to decrease the overhead")
    p.add_argument("-T", "--top", type=_cli.positive_int, default=10,
                   help="display only this many top allocating stacks (by size)")
    p.add_argument("-z", "--min-size", type=_cli.nonneg_int,
                   help="capture only allocations larger than or equal to this size")
    p.add_argument("-Z", "--max-size", type=_cli.nonneg_int,
                   help="capture only allocations smaller than or equal to this size")
    p.add_argument("-O", "--obj", default="c",
                   help="attach to allocator functions in the specified object")
    p.add_argument("--percpu", action="store_true", help="trace percpu allocations")
    p.add_argument("--sort", default="size", metavar="KEY",
                   help="report sorted in given key; available key list: size, count")
    p.add_argument("--symbols-prefix", help="memory allocator symbols prefix")
    _stacks.add_args(p, pictures=False)
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    if a.json and a.trace:
        p.error("--json: not with -t (its lines are trace_pipe's text)")
    if _stacks.dwarf(a) and a.pid is None and a.command is None:
        p.error("--unwind dwarf unwinds user stacks: trace a process (-p or -c)")
    if _stacks.dwarf(a) and a.trace:
        p.error("-t prints no stacks: --unwind dwarf has nothing to unwind")
    if a.sort not in SORT_KEYS:
        p.error(f"Given sort_key: {a.sort}; Supporting sort key list: {SORT_KEYS}")
    if a.min_size is not None and a.max_size is not None and a.min_size > a.max_size:
        p.error("min_size (-z) can't be greater than max_size (-Z)")
    return a


# -- reports ------------------------------------------------------------------------

F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: the top stacks with outstanding allocations "
                        "(largest last)", rows=[
    F("bytes", "integer", "outstanding bytes allocated from this stack", "bytes"),
    F("allocs", "integer", "outstanding allocations from this stack"),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    F("addrs", "string[]", "-a: each allocation's address, hex", optional=True),
    F("sizes", "integer[]", "-a: each allocation's size (as addrs)", "bytes", optional=True),
])


def per_stack(allocs, now_ns: int, min_age_ns: int, sort: str, top: int):
    """(shown, stacks): the allocations at least min_age_ns old [(address,
    size, stack id)] by size, and the top [size, count, stack id] summed per
    stack (largest last; equal ones in the order first met, as bcc).  Ctrl-C
    meanwhile raises _Stopped (up to a million allocations in kernel mode)."""
    shown, stacks = [], {}
    for n, (address, info) in enumerate(allocs, 1):
        if n % 65536 == 0 and _cli.stop_requested():
            raise _Stopped
        if now_ns - min_age_ns < info.timestamp_ns or info.stack_id < 0:
            continue
        s = stacks.get(info.stack_id)
        if s is None:
            stacks[info.stack_id] = [info.size, 1, info.stack_id]
        else:
            s[0] += info.size
            s[1] += 1
        shown.append((address, info.size, info.stack_id))
    key = (lambda s: s[0]) if sort == "size" else (lambda s: s[1])
    shown.sort(key=lambda s: s[1])
    return shown, sorted(stacks.values(), key=key)[-top:]


def outstanding(allocs, now_ns: int, min_age_ns: int, sort: str, top: int, frames,
                show_allocs: bool) -> list:
    """bcc's default report body: allocations at least min_age_ns old, summed
    per stack; frames(stack_id) gives a stack's lines.  allocs: [(address,
    alloc_info)]."""
    shown, top_stacks = per_stack(allocs, now_ns, min_age_ns, sort, top)
    lines = ["\taddr = %x size = %s" % (address, size)
             for address, size, _ in shown] if show_allocs else []
    for size, count, sid in top_stacks:
        lines.append("\t%d bytes in %d allocations from stack\n\t\t%s"
                     % (size, count, "\n\t\t".join(frames(sid))))
    return lines


def combined_top(items, sort: str, top: int) -> list:
    """The top [(stack id, combined_alloc_info)], largest first."""
    key = (lambda kv: -kv[1].total_size) if sort == "size" else \
        (lambda kv: -kv[1].number_of_allocs)
    return sorted(items, key=key)[:top]


def json_rows(a, allocs, comb_items, now_ns: int, stack) -> list:
    """--json: the rows of one report; stack(stack id) -> {kernel_stack or
    user_stack: frames}."""
    if a.combined_only:
        return [{"bytes": info.total_size, "allocs": info.number_of_allocs, **stack(sid)}
                for sid, info in reversed(combined_top(comb_items, a.sort, a.top))]
    shown, top_stacks = per_stack(allocs, now_ns, a.older * 1000000, a.sort, a.top)
    rows = []
    for size, count, sid in top_stacks:
        row = {"bytes": size, "allocs": count, **stack(sid)}
        if a.show_allocs:
            mine = [(addr, sz) for addr, sz, s in shown if s == sid]
            row["addrs"] = [hex(addr) for addr, _ in mine]
            row["sizes"] = [sz for _, sz in mine]
        rows.append(row)
    return rows


def combined(items, sort: str, top: int, frames) -> list:
    """bcc's --combined-only body: the kernel's per-stack totals, largest last;
    items: [(stack id, combined_alloc_info)]."""
    entries = []
    for sid, info in combined_top(items, sort, top):
        trace = frames(sid)
        entries.append("\t%d bytes in %d allocations from stack\n\t\t%s" % (
            info.total_size, info.number_of_allocs,
            "\n\t\t".join(trace) if trace else "stack information lost"))
    return list(reversed(entries))


def trace_line(e) -> str:
    """-t: bcc printed trace_pipe's fields as a tuple (task, pid, cpu, flags,
    timestamp, message); the flags column of ftrace has no equivalent here."""
    if e.kind == 0:
        msg = TRACE_MSG[0] % (e.size & 0xFFFFFFFF)
    elif e.kind == 1:
        msg = TRACE_MSG[1] % (e.size, e.address)
    else:
        msg = TRACE_MSG[2] % (e.address, e.size)
    return repr((e.comm, e.pid, e.cpu, "", round(e.ts_ns / 1e9, 6), msg))


# -- attaching --------------------------------------------------------------------------

def choose_programs(obj, kernel: bool, percpu: bool):
    """Turn off the programs this run does not use (before load)."""
    from corebpf import features
    if not kernel:
        used = {f"{f}_enter" for f, _, _ in USER_FUNCS} | \
            {f"{f}_exit" for f, ret, _ in USER_FUNCS if ret}
        used = {"free_enter_probe" if u == "free_enter" else u for u in used}
    elif percpu:
        used = set(PERCPU)
    else:
        used = set(KMEM) | {n for n in KMEM_NODE if features.tracepoint_exists("kmem", n)}
    for prog in obj.programs.values():     # every variant of a hook used
        prog.autoload = prog.hook in used


def refill_sites() -> list:
    """[(start, end)] of the BPF memory allocator's cache refill (6.1+):
    alloc_bulk and, unless inlined into it, the __alloc next to it; up to
    two.  Its slab allocations are not counted (see memleak.bpf.c).  Kept
    per boot (corebpf.core.kcache): finding them costs ~50 ms."""
    from corebpf.core import kcache
    try:
        key = b"memleak refill sites|" + kcache.boot_identity()
    except OSError:
        key = None
    payload = kcache.load("memleak.refill", key) if key else None
    if payload is not None:
        try:
            sites = [tuple(int(x, 16) for x in ln.split()) for ln in payload.split(b"\n") if ln]
            if len(sites) <= 2 and all(len(t) == 2 and t[0] <= t[1] < 1 << 64 for t in sites):
                return sites
        except ValueError:
            pass
    from corebpf.symbols.syms import kernel_symbols
    ks = kernel_symbols()
    sites = ks.spans("alloc_bulk")[:1]
    if sites:
        sites += [s for s in ks.spans("__alloc") if abs(s[0] - sites[0][0]) < 1 << 16][:1]
    if key:
        kcache.store("memleak.refill", key, b"".join(b"%x %x\n" % t for t in sites))
    return sites


def attach_user(obj, lib: str, pid: int, prefix: str = ""):
    """uprobes on the allocator of `lib` in process `pid` (bcc's list; the
    functions it marks optional may be missing)."""
    from corebpf.user import uprobes
    from corebpf.symbols.elf import ElfError
    P = obj.programs
    for func, ret, optional in USER_FUNCS:
        sym = (prefix or "") + func
        entry = "free_enter_probe" if func == "free" else f"{func}_enter"
        try:
            uprobes.attach(P[entry], lib, sym, pid=pid)
            if ret:
                uprobes.attach(P[f"{func}_exit"], lib, sym, pid=pid, retprobe=True)
        except ElfError:
            if not optional:
                raise


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    pid, child, release = a.pid, None, None
    if a.command is not None:
        import shlex
        try:
            cmd = shlex.split(a.command)
        except ValueError as e:
            raise _cli.UsageError(f"-c: {e}") from None
        if not cmd:
            raise _cli.UsageError("-c: empty command")
        import shutil
        if shutil.which(cmd[0]) is None:
            raise _cli.UsageError(f"-c: cannot run {cmd[0]}: no such executable")
        _jsonl.status(a, "Executing '%s' and tracing the resulting process." % a.command)
        child, release = _cli.spawn_paused(cmd, PROG)
        pid = child
    kernel = pid is None
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        ro.targ_min_size = a.min_size or 0
        ro.targ_max_size = a.max_size if a.max_size is not None else 2**64 - 1
        ro.targ_sample_rate = a.sample_rate
        ro.targ_page_size = os.sysconf("SC_PAGE_SIZE")
        ro.targ_trace = a.trace
        ro.targ_user_stacks = not kernel
        ro.targ_wa_missing_free = a.wa_missing_free and kernel
        if kernel and not a.percpu:
            for i, (lo, hi) in enumerate(refill_sites(), 1):
                setattr(ro, f"targ_refill_lo{i}", lo)
                setattr(ro, f"targ_refill_hi{i}", hi)
        choose_programs(obj, kernel, a.percpu)
        _stacks.configure(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if kernel:
            obj.attach()
            _jsonl.status(a, "Attaching to kernel allocators, Ctrl+C to quit.")
        else:
            attach_user(obj, a.obj, pid, a.symbols_prefix)
            _jsonl.status(a, "Attaching to pid %d, Ctrl+C to quit." % pid)
        if release:
            release()
        if a.trace:
            out = _cli.Output()
            rb = obj.ring_buffer("events", lambda e: out(trace_line(e)))
            _cli.event_loop(rb, out)
            return 0
        return report_loop(obj, a, -1 if kernel else pid)


# --unwind dwarf: an allocation as outstanding() and combined() see it
Alloc = collections.namedtuple("Alloc", "size timestamp_ns stack_id")
Combined = collections.namedtuple("Combined", "total_size number_of_allocs")


class DwarfStacks:
    """--unwind dwarf: the unwound stack of each allocation, by the name the
    BPF side gave its dump ((cpu, seq) in alloc_info's stack_id and seq)."""

    def __init__(self, obj, syms):
        self.unw = _stacks.Unwinding(syms)
        self.dumps = {}                 # (cpu, seq) -> Unwound
        self.ids = {}                   # Unwound -> a stack id for the report
        self.stacks = []                # stack id -> Unwound
        self.backlog = _stacks.Backlog(self.add)
        self.backlog.rb = obj.ring_buffer("ustacks", self.backlog.add)

    def add(self, e):
        self.dumps[(e.cpu, e.seq)] = self.unw.stack(e.pid, e.ustack)

    def allocs(self, items) -> list:
        """allocs map items -> [(address, Alloc)] with one stack id per
        distinct unwound stack; forgets the dumps of freed allocations."""
        self.backlog.finish()           # every dump sent so far, unwound
        out, newest = [], {}
        live = set()
        for address, info in items:
            key = (info.stack_id, info.seq)
            live.add(key)
            newest[info.stack_id] = max(newest.get(info.stack_id, 0), info.seq)
            stack = self.dumps.get(key) if info.stack_id >= 0 else None
            sid = -1
            if stack:
                sid = self.ids.get(stack)
                if sid is None:
                    sid = self.ids[stack] = len(self.stacks)
                    self.stacks.append(stack)
            out.append((address, Alloc(info.size, info.timestamp_ns, sid)))
        # freed: older than the newest live allocation of its CPU (a newer
        # dump's allocation may not be in the map yet)
        for key in [k for k in self.dumps if k not in live and k[1] < newest.get(k[0], 0)]:
            del self.dumps[key]
        return out

    @staticmethod
    def combined(allocs) -> list:
        """--combined-only: outstanding bytes and allocations per stack."""
        per = {}
        for _, info in allocs:
            if info.stack_id >= 0:
                size, n = per.get(info.stack_id, (0, 0))
                per[info.stack_id] = (size + info.size, n + 1)
        return [(sid, Combined(*v)) for sid, v in per.items()]

    @property
    def lost(self) -> int:
        return self.backlog.lost


class _Stopped(Exception):
    """Ctrl-C while a report is being made (bcc exits without it)."""


def report_loop(obj, a, pid: int):
    from corebpf.symbols.stacks import Stacks
    allocs, comb = obj.maps["allocs"], obj.maps["combined_allocs"]
    min_age_ns = a.older * 1000000
    done = 0
    syms = None
    dwarf = None
    if _stacks.dwarf(a):
        syms = Stacks(obj.maps["stack_traces"]).syms
        dwarf = DwarfStacks(obj, syms)
    while True:
        if _cli.sleep_until_done(a.interval, dwarf.backlog if dwarf else None):
            return 0                # bcc: Ctrl-C exits without a report
        st = Stacks(obj.maps["stack_traces"], syms)
        items = comb_items = None
        # a report of many allocations is slow (up to a million in kernel
        # mode: seconds natively, minutes under emulation): Ctrl-C ends it
        if dwarf is not None or not a.combined_only:
            items = allocs.items(until=_cli.stop_requested)
            if items is None:
                return 0
        if dwarf is not None:
            items = dwarf.allocs(items)
            comb_items = dwarf.combined(items)
        if _cli.stop_requested():
            return 0

        def addresses(sid):
            if _cli.stop_requested():
                raise _Stopped
            if sid >= 2**31 or sid < 0:
                return []
            try:
                if dwarf:
                    return list(dwarf.stacks[sid])
                # a raw tracepoint's stack starts in the BPF program
                return st.kernel_addresses(sid, skip_probe=True) if pid < 0 \
                    else st.addresses(sid)
            except corebpf.BPFError:
                return []

        def stack(sid):
            resolve = st.syms.kernel.resolve if pid < 0 else st.syms.process(pid).resolve
            return {"kernel_stack" if pid < 0 else "user_stack":
                    _jsonl.frames(addresses(sid), resolve)}

        def frames(sid, bare=a.combined_only):
            addrs = addresses(sid)
            syms = [st.syms.sym(x, pid, show_offset=True, show_module=True) for x in addrs]
            if bare:
                return syms
            return ["0x%016x\t%s" % (x, s) for x, s in zip(addrs, syms)]

        lines = ["[%s] Top %d stacks with outstanding allocations:"
                 % (time.strftime("%H:%M:%S"), a.top)]
        try:
            if a.json:
                rows = json_rows(a, items, comb_items if dwarf else comb.items(),
                                 time.monotonic_ns(), stack)
            elif a.combined_only:
                lines.append("\n".join(combined(comb_items if dwarf else comb.items(), a.sort,
                                                a.top, frames)))
            else:
                lines += outstanding(items, time.monotonic_ns(),
                                     min_age_ns, a.sort, a.top, frames, a.show_allocs)
        except _Stopped:
            return 0
        if a.json:
            JSON.write(rows)
        else:
            print("\n".join(lines), flush=True)
        if dwarf is not None and dwarf.lost:
            print(f"WARNING: {dwarf.lost} allocations lost their user stack (the ring "
                  "buffer was full).", file=sys.stderr)
        done += 1
        if a.count is not None and done >= a.count:
            return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
