"""Time functions (entry to return) and summarize the latency as a log2
histogram, measured in the kernel by programs generated at start (no
compiler): uprobes/uretprobes for user functions (lib:func), fentry/fexit or
kprobes/kretprobes for kernel functions (where the kernel has them).

examples:
    funclatency c:read              # time the read() C library function
    funclatency -u c:getaddrinfo    # in microseconds
    funclatency -m /bin/bash:readline   # a function of an executable, in milliseconds
    funclatency 'c:*printf'         # the *printf family (per function and process)
    funclatency -p 181 -F 'c:pthread_mutex_*'   # PID 181, one histogram per function
    funclatency -i 2 -d 10 c:open   # 2 s summaries for 10 s
    funclatency -l 3 ./prog:walk    # recursive calls, up to 3 levels deep
    funclatency do_sys_open         # a kernel function (needs kprobes or fentry)
    funclatency -u vfs_read         # in microseconds
    funclatency -F 'vfs_r*'         # a histogram per function
"""
from __future__ import annotations

import struct
import time

from corebpf import histogram
from corebpf.compiler.bpfasm import FP, R0, R1, R2, R7, R8, reg
from corebpf.compiler.codegen import CodeGen
from corebpf.compiler.genprog import ARRAY, HASH, GenObject

from . import _cli, _containers, _heatmap, _jsonl, _multi

PROG = "funclatency"
SLOTS = histogram.LOG2_SLOTS


SLOTS = histogram.LOG2_SLOTS
# function index, tgid (or 0), slot, cgroup id (--containers, else 0)
HKEY = struct.Struct("<III4xQ")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-i", "--interval", type=_cli.positive_int, help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=_cli.positive_int, help="total duration, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-u", "--microseconds", action="store_true", help="microsecond histogram")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-F", "--function", action="store_true", help="a histogram per function")
    p.add_argument("-r", "--regexp", action="store_true",
                   help='use regular expressions (default: "*" wildcards only)')
    p.add_argument("-l", "--level", type=_cli.positive_int,
                   help="time nested (recursive) calls up to this depth per thread")
    p.add_argument("-v", "--verbose", dest="show_prog", action="store_true",
                   help="print the generated BPF programs")
    p.add_argument("pattern", help="search expression for functions")
    _heatmap.add_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    a = p.parse_args(argv)
    if a.microseconds and a.milliseconds:
        p.error("-u and -m are mutually exclusive")
    if a.level and a.level > MAX_LEVEL:
        p.error(f"-l: at most {MAX_LEVEL}")
    return a


MAX_LEVEL = 64


def resolve(pattern: str, use_regex: bool, pid=None) -> list:
    """[(display name, kind, target)]: user functions (lib:func) or kernel ones."""
    parts = pattern.split(":")
    if len(parts) > 2:
        raise _cli.UsageError(f"unrecognized pattern format '{pattern}'")
    if len(parts) == 2:
        rx = _multi.regex_for(parts[1], use_regex)
        found = [(name, "u", site) for name, site in _multi.user_functions(parts[0], rx, pid)]
    else:
        found = [(f, "p", f) for f in
                 _multi.kernel_functions(_multi.regex_for(pattern, use_regex))]
    if not found:
        raise _cli.UsageError(f'0 functions matched by "{pattern}". Exiting.')
    _multi.check_limit(2 * len(found))
    return found


def build(funcs, start_fd, hist_fd, stats_fd, a, kernel_kind, per_func, per_pid=False):
    """[(name, CodeGen)]: an entry and a return program per function.

    funcs: [(display, kind, target)] (a bare name means a kernel function).
    Histogram keys are {function index (0 unless per_func), tgid (0 unless
    per_pid), slot}.  Without -l the entry time is kept per thread (a nested
    call of a probed function restarts it, as in bcc); with -l N each thread
    keeps a stack of N entry times."""
    div = 1000000 if a.milliseconds else 1000 if a.microseconds else 1
    level = getattr(a, "level", None)
    vsize = 8 * (level + 1) if level else 8
    out = []
    for i, f in enumerate(funcs):
        disp, kind, target = (f, "p", f) if isinstance(f, str) else f
        e = CodeGen(_multi.context_for(kind, target, ret=False, kernel_kind=kernel_kind,
                                       display=disp))
        A = e.a
        e.prologue()
        e.pid_filter(tgid=a.pid)
        key = e.alloc(8)
        A.call("get_current_pid_tgid")
        A.stx(4, FP, key, R0)
        if level:
            _push(e, start_fd, key, level, vsize)
        else:
            val = e.alloc(8)
            e.ktime_into(val)
            e.map_update(start_fd, "start", key, val)
        e.epilogue()
        out.append((f"entry_{i}", e))

        r = CodeGen(_multi.context_for(kind, target, ret=True, kernel_kind=kernel_kind,
                                       display=disp))
        A = r.a
        r.prologue()
        key = r.alloc(8)
        A.call("get_current_pid_tgid")
        A.stx(4, FP, key, R0)
        A.ld_map_fd(R1, start_fd, "start")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_lookup_elem")
        A.jmp("==", R0, 0, "out")
        if level:
            _pop(r, level)                        # r7 = entry time, or out
        else:
            A.ldx(8, R7, R0, 0)
            A.ld_map_fd(R1, start_fd, "start")
            A.mov(R2, reg(FP))
            A.alu("+", R2, key)
            A.call("map_delete_elem")
        A.call("ktime_get_ns")
        A.alu("-", R0, reg(R7))
        A.mov(R7, reg(R0))                        # r7 = latency (ns)
        skey = r.alloc(8)
        A.st(4, FP, skey, 0)
        r.map_add(stats_fd, "stats", skey, reg(R7))
        A.st(4, FP, skey, 1)
        r.map_add(stats_fd, "stats", skey, 1)
        hkey = r.alloc(HKEY.size)
        r.zero(FP, hkey, HKEY.size)
        A.st(4, FP, hkey, i if per_func else 0)
        if per_pid:
            A.call("get_current_pid_tgid")
            A.alu(">>", R0, 32)
            A.stx(4, FP, hkey + 4, R0)
        if getattr(a, "containers", False):
            r.task_cgroup_id()
            A.stx(8, FP, hkey + 16, R0)
        A.mov(R0, reg(R7))
        if div > 1:
            A.alu("/", R0, div)
        r.log2_r0()
        A.stx(4, FP, hkey + 8, R0)
        r.map_add(hist_fd, "hist", hkey, hash_map=True)
        r.epilogue()
        out.append((f"return_{i}", r))
    return out


def _push(cg, start_fd, key, level, vsize):
    """-l: start[tid] = {depth, t[level]}; push now onto it (a call deeper
    than `level` only counts the depth, so its return is not timed)."""
    A = cg.a
    have = A.new_label("P")
    A.ld_map_fd(R1, start_fd, "start")
    A.mov(R2, reg(FP))
    A.alu("+", R2, key)
    A.call("map_lookup_elem")
    A.jmp("!=", R0, 0, have)
    zero = cg.alloc(vsize)
    cg.zero(FP, zero, vsize)
    cg.map_update(start_fd, "start", key, zero)
    A.ld_map_fd(R1, start_fd, "start")
    A.mov(R2, reg(FP))
    A.alu("+", R2, key)
    A.call("map_lookup_elem")
    A.jmp("==", R0, 0, "out")
    A.label(have)
    A.mov(R8, reg(R0))                            # r8 = the thread's record
    A.ldx(8, R7, R8, 0)                           # r7 = depth
    A.mov(R1, reg(R7))
    A.alu("+", R1, 1)
    A.stx(8, R8, 0, R1)
    A.jmp(">=", R7, level, "out")
    A.call("ktime_get_ns")
    A.alu("*", R7, 8)
    A.alu("+", R7, reg(R8))
    A.stx(8, R7, 8, R0)                           # t[depth] = now


def _pop(cg, level):
    """-l: r0 = the thread's record; depth - 1; r7 = t[depth] if it was kept."""
    A = cg.a
    A.mov(R8, reg(R0))
    A.ldx(8, R1, R8, 0)
    A.jmp("==", R1, 0, "out")
    A.alu("-", R1, 1)
    A.stx(8, R8, 0, R1)
    A.jmp(">=", R1, level, "out")
    A.alu("*", R1, 8)
    A.alu("+", R1, reg(R8))
    A.ldx(8, R7, R1, 8)


F = _jsonl.Field
JSON = _jsonl.Histograms("one object per interval (-i) or at the end: function latency",
                         ["nsecs", "usecs", "msecs"], keys=[
    F("func", "string", "the function (-F; user functions: always)", optional=True),
    F("pid", "integer", "process ID (user functions without -p, or with -F)",
      optional=True), _containers.KEY], fields=[
    F("total_ns", "integer", "time spent in the calls counted", "ns"),
    F("count", "integer", "calls counted")])


def _interval(hist, stats):
    """({(function index, tgid, cgroup id): slots}, [total ns, count]) of one
    interval."""
    sections = {}
    for raw, count in hist.pop_items():
        if isinstance(raw, int):
            raw = raw.to_bytes(HKEY.size, "little")
        fidx, tgid, slot, cgid = HKEY.unpack(raw)
        vals = sections.setdefault((fidx, tgid, cgid), [0] * SLOTS)
        if slot < SLOTS:
            vals[slot] += count
    return sections, [v for _, v in sorted(stats.pop_items())]


def write_json(funcs, hist, stats, a, per_func, per_pid=False):
    sections, st = _interval(hist, stats)
    hists = []
    if getattr(a, "containers", False):
        merged = _containers.sections_by([(k[2], k[:2], v) for k, v in sorted(sections.items())],
                                         lambda v: v)
        pairs = [(fidx, tgid, full, slots) for full, _, (fidx, tgid), slots in merged]
    else:
        pairs = [(k[0], k[1], None, slots) for k, slots in sorted(sections.items())]
    for fidx, tgid, container, slots in pairs:
        key = {} if container is None else {"container": container}
        if per_func or per_pid:
            f = funcs[fidx]
            key["func"] = f if isinstance(f, str) else f[0]
        if per_pid:
            key["pid"] = tgid
        hists.append((key, slots))
    JSON.write("msecs" if a.milliseconds else "usecs" if a.microseconds else "nsecs", hists,
               total_ns=st[0], count=st[1])


def render(funcs, hist, stats, a, per_func, per_pid=False, user=False) -> str:
    """One interval's text: bcc's histogram (per function and process
    sections where bcc keys them), then the avg line."""
    label = "msecs" if a.milliseconds else "usecs" if a.microseconds else "nsecs"
    sections, st = _interval(hist, stats)
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))

    def name(k):
        text = funcs[k[0]] if isinstance(funcs[k[0]], str) else funcs[k[0]][0]
        return "%s [%d]" % (text, k[1]) if user else text
    if getattr(a, "containers", False):
        for _, head, group in _containers.groups(
                [(k[2], k[:2], v) for k, v in sorted(sections.items())], lambda v: v):
            out.append(head)
            if per_func or per_pid:
                out.append(histogram.format_sections(group, label, "Function", name))
            else:
                out.append(histogram.format_log2(group[0][1], label))
    elif per_func or per_pid:
        out.append(histogram.format_sections(
            [(k[:2], v) for k, v in sections.items()], label, "Function", name))
    else:
        out.append(histogram.format_log2(sections.get((0, 0, 0), [0] * SLOTS), label))
    total, count = st[0], st[1]
    if count > 0:
        if label == "msecs":
            total //= 1000000
        elif label == "usecs":
            total //= 1000
        out.append("\navg = %ld %s, total: %ld %s, count: %ld\n\n"
                   % (total // count, label, total, label, count))
    return "".join(out)


def _hist_slot(raw, count) -> dict:
    """{slot: count} of one `hist` entry (the slot is part of the key)."""
    if isinstance(raw, int):
        raw = raw.to_bytes(HKEY.size, "little")
    return {HKEY.unpack(raw)[2]: count}


def run(argv=None):
    a = parse(argv)
    _heatmap.check_args(a)
    _cli.setup(a)
    funcs = resolve(a.pattern, a.regexp, a.pid)
    kkind = _multi.probe_kind_for({k for _, k, _ in funcs})
    _containers.names(a)
    return trace_functions(funcs, a, kkind)


def trace_functions(funcs, a, kkind, attach=True):
    user = any(k == "u" for _, k, _ in funcs)
    # bcc keys user functions by function and process unless -p gives one
    per_pid = user and (a.function or not a.pid)
    per_func = a.function or per_pid
    interval = a.interval or a.duration or _cli.FOREVER
    with GenObject(PROG) as g:
        vsize = 8 * (a.level + 1) if a.level else 8
        start = g.create_map("start", HASH, 4, vsize, 10240)
        hist = _heatmap.tap(a, g.create_map("hist", HASH, HKEY.size, 8, 10240), PROG,
                            _hist_slot, "msecs" if a.milliseconds else
                            "usecs" if a.microseconds else "nsecs",
                            f"funclatency: {a.pattern}")
        stats = g.create_map("stats", ARRAY, 4, 8, 2)
        progs = build(funcs, start.fd, hist.fd, stats.fd, a, kkind, per_func, per_pid)
        if a.show_prog or a.ebpf:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        if not attach:
            for name, cg in progs:
                _multi.load_and_attach(g, name, cg, attach=False)
            return len(g.programs)
        skipped = _multi.attach_all(g, progs, tolerant=len(funcs) > 1)
        _jsonl.status(a, 'Tracing %d functions for "%s"... Hit Ctrl-C to end.'
                      % (len(funcs) - len(skipped), a.pattern))
        seconds = 0
        exiting = False
        while True:
            if hist.wait_stop(interval):
                exiting = True
            else:
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            if a.json:
                write_json(funcs, hist, stats, a, per_func, per_pid)
            else:
                print(render(funcs, hist, stats, a, per_func, per_pid, user), end="",
                      flush=True)
            if exiting:
                hist.write()
                _jsonl.status(a, "Detaching...")
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
