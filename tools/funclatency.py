"""Time functions (entry to return) and summarize the latency as a log2
histogram, measured in the kernel by programs generated at start.  Kernel
functions need kprobes or fentry (BPF trampolines); user functions
(lib:func) come with uprobe support.

examples:
    funclatency do_sys_open         # time the do_sys_open() kernel function
    funclatency -u vfs_read         # in microseconds
    funclatency -m do_nanosleep     # in milliseconds
    funclatency -i 2 -d 10 'vfs_fstat*'   # 2 s summaries for 10 s
    funclatency -F 'vfs_r*'         # a histogram per function
    funclatency -p 181 vfs_read     # only PID 181
"""
from __future__ import annotations

import time

from corebpf import histogram
from corebpf.bpfasm import FP, R0, R1, R2, R3, R4, R7, reg
from corebpf.codegen import CodeGen
from corebpf.genprog import ARRAY, HASH, GenObject

from . import _cli, _multi

PROG = "funclatency"
SLOTS = histogram.LOG2_SLOTS


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, short_verbose=False)
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
                   help="nesting depth for recursive functions (not supported yet)")
    p.add_argument("-v", dest="show_prog", action="store_true",
                   help="print the generated BPF programs")
    p.add_argument("pattern", help="search expression for functions")
    a = p.parse_args(argv)
    if a.microseconds and a.milliseconds:
        p.error("-u and -m are mutually exclusive")
    return a


def resolve(pattern: str, use_regex: bool) -> list:
    parts = pattern.split(":")
    if len(parts) == 2:
        raise _multi.not_yet(f"user-space function probes ({pattern})")
    if len(parts) > 2:
        raise _cli.UsageError(f"unrecognized pattern format '{pattern}'")
    funcs = _multi.kernel_functions(_multi.regex_for(pattern, use_regex))
    if not funcs:
        raise _cli.UsageError(f'0 functions matched by "{pattern}". Exiting.')
    _multi.check_limit(2 * len(funcs))
    return funcs


def build(funcs, start_fd, hist_fd, stats_fd, a, kernel_kind, per_func):
    """[(name, CodeGen)]: an entry and a return program per function."""
    div = 1000000 if a.milliseconds else 1000 if a.microseconds else 1
    out = []
    for i, f in enumerate(funcs):
        e = CodeGen(_multi.context_for("p", f, ret=False, kernel_kind=kernel_kind))
        e.prologue()
        e.pid_filter(tgid=a.pid)
        key = e.alloc(8)
        val = e.alloc(8)
        e.a.call("get_current_pid_tgid")
        e.a.stx(4, FP, key, R0)
        e.ktime_into(val)
        e.a.ld_map_fd(R1, start_fd, "start")
        e.a.mov(R2, reg(FP))
        e.a.alu("+", R2, key)
        e.a.mov(R3, reg(FP))
        e.a.alu("+", R3, val)
        e.a.mov(R4, 0)
        e.a.call("map_update_elem")
        e.epilogue()
        out.append((f"entry_{i}", e))

        r = CodeGen(_multi.context_for("p", f, ret=True, kernel_kind=kernel_kind))
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
        A.ldx(8, R7, R0, 0)
        A.call("ktime_get_ns")
        A.alu("-", R0, reg(R7))
        A.mov(R7, reg(R0))                        # r7 = latency (ns)
        A.ld_map_fd(R1, start_fd, "start")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_delete_elem")
        skey = r.alloc(8)
        row = i if per_func else 0
        A.st(4, FP, skey, 2 * row)
        r.map_add(stats_fd, "stats", skey, reg(R7))
        A.st(4, FP, skey, 2 * row + 1)
        r.map_add(stats_fd, "stats", skey, 1)
        A.mov(R0, reg(R7))
        if div > 1:
            A.alu("/", R0, div)
        r.log2_r0()
        A.alu("+", R0, row * SLOTS)
        A.stx(4, FP, skey, R0)
        r.map_add(hist_fd, "hist", skey)
        r.epilogue()
        out.append((f"return_{i}", r))
    return out


def render(funcs, hist, stats, a, per_func) -> str:
    label = "msecs" if a.milliseconds else "usecs" if a.microseconds else "nsecs"
    vals = [v for _, v in sorted(hist.pop_items())]
    st = [v for _, v in sorted(stats.pop_items())]
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    rows = range(len(funcs)) if per_func else [0]
    if per_func:
        out.append(histogram.format_sections(
            [(funcs[i], vals[i * SLOTS:(i + 1) * SLOTS]) for i in rows
             if any(vals[i * SLOTS:(i + 1) * SLOTS])], label, "Function", str))
    else:
        out.append(histogram.format_log2(vals[:SLOTS], label))
    total = sum(st[2 * i] for i in rows)
    count = sum(st[2 * i + 1] for i in rows)
    if count > 0:
        if label == "msecs":
            total //= 1000000
        elif label == "usecs":
            total //= 1000
        out.append("\navg = %ld %s, total: %ld %s, count: %ld\n\n"
                   % (total // count, label, total, label, count))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    if a.level:
        raise _multi.not_yet("nesting levels (-l)")
    _cli.setup(a)
    funcs = resolve(a.pattern, a.regexp)
    kkind = _multi.kernel_probe_kind()
    return trace_functions(funcs, a, kkind)


def trace_functions(funcs, a, kkind, attach=True):
    per_func = a.function
    rows = len(funcs) if per_func else 1
    interval = a.interval or a.duration or _cli.FOREVER
    with GenObject(PROG) as g:
        start = g.create_map("start", HASH, 4, 8, 10240)
        hist = g.create_map("hist", ARRAY, 4, 8, rows * SLOTS)
        stats = g.create_map("stats", ARRAY, 4, 8, rows * 2)
        progs = build(funcs, start.fd, hist.fd, stats.fd, a, kkind, per_func)
        if a.show_prog or a.ebpf:
            _multi.print_programs(progs)
            if a.ebpf:
                return 0
        for name, cg in progs:
            _multi.load_and_attach(g, name, cg, attach=attach)
        if not attach:
            return g.programs and len(g.programs)
        print('Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (len(funcs), a.pattern),
              flush=True)
        seconds = 0
        exiting = False
        while True:
            if _cli.wait_stop(interval):
                exiting = True
            else:
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            print(render(funcs, hist, stats, a, per_func), end="", flush=True)
            if exiting:
                print("Detaching...", flush=True)
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
