"""Count calls of user functions, tracepoints, USDT probes and kernel functions
matching a pattern.  One small program per matched probe (per location for
USDT probes) is generated at start (no compiler) and counts in the kernel.

Pattern: lib:func or p:lib:func (user function; lib is a library name such as
c, a path or an executable), t:category:event (tracepoint), u:lib:probe
(USDT), func or p::func (kernel function: needs kprobes or fentry).

examples:
    funccount c:malloc                        # calls of malloc() in libc
    funccount 'c:mem*'                        # every libc function starting "mem"
    funccount -p 185 'c:pthread_mutex_*lock'  # PID 185 only
    funccount ./myprog:'handle_*'             # functions of a binary
    funccount 't:syscalls:sys_enter_*open*'   # count open-like syscall tracepoints
    funccount -d 5 't:sched:sched_*'          # all sched tracepoints, for 5 seconds
    funccount -Ti 5 't:block:*'               # output every 5 seconds, with time
    funccount -r 't:irq:irq_handler_.*'       # regular expression (on category:event)
    funccount -p 185 'u:/usr/bin/python3.11:gc__*'   # USDT probes of PID 185
    funccount 'vfs_*'                         # kernel functions (needs kprobes or fentry)
"""
from __future__ import annotations

import time

from corebpf.compiler.bpfasm import FP
from corebpf.compiler.codegen import CodeGen
from corebpf.compiler.genprog import ARRAY, GenObject
from corebpf.compiler.probespec import SpecError, parse_pattern

from . import _cli, _jsonl, _multi

PROG = "funccount"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-i", "--interval", type=_cli.positive_int, help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-r", "--regexp", action="store_true",
                   help='use regular expressions (default: "*" wildcards only)')
    p.add_argument("-D", "--debug", action="store_true",
                   help="print the generated BPF programs before starting")
    p.add_argument("-c", "--cpu", type=_cli.cpu_type, help="trace this CPU only")
    p.add_argument("pattern", help="search expression for events")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def resolve(pattern: str, use_regex: bool, pid=None):
    """[(display name, kind, target)] for a pattern (see _multi); raise
    UsageError (or ElfError for a missing binary)."""
    try:
        ps = parse_pattern(pattern)
    except SpecError as e:
        raise _cli.UsageError(str(e)) from None
    if ps.kind == "t":
        rx = _multi.regex_for(f"{ps.library}:{ps.function}", use_regex)
        found = [(f"{c}:{e}", "t", (c, e)) for c, e in _multi.tracepoints(rx)]
        shown = f"{ps.library}:{ps.function}"
    elif ps.kind == "u":
        rx = _multi.regex_for(ps.function, use_regex)
        found = [(name, "usdt", site)
                 for name, site in _multi.usdt_sites(ps.library, rx, pid=pid)]
        shown = ps.function
    elif ps.library:
        rx = _multi.regex_for(ps.function, use_regex)
        found = [(name, "u", site)
                 for name, site in _multi.user_functions(ps.library, rx, pid)]
        shown = ps.function
    else:
        rx = _multi.regex_for(ps.function, use_regex)
        found = [(f, "p", f) for f in _multi.kernel_functions(rx)]
        shown = ps.function
    if not found:
        shown = shown if use_regex else "^" + shown.replace("*", ".*") + "$"
        raise _cli.UsageError(f"No functions matched by pattern {shown}")
    _multi.check_limit(len(found))
    return found


def names_of(probes) -> list:
    """The distinct display names, in order: one counter each (a USDT probe's
    locations share theirs)."""
    names = []
    for disp, _, _ in probes:
        if disp not in names:
            names.append(disp)
    return names


def build(probes, counts_fd: int, pid=None, cpu=None, kernel_kind=None):
    """[(name, CodeGen)]: one counting program per probe (per USDT location)."""
    out = []
    names = names_of(probes)
    for i, (disp, kind, target) in enumerate(probes):
        ctx = _multi.context_for(kind, target, kernel_kind=kernel_kind, display=disp)
        cg = CodeGen(ctx)
        cg.prologue()
        cg.pid_filter(tgid=pid, cpu=cpu)
        key = cg.alloc(8)
        cg.a.st(4, FP, key, names.index(disp))
        cg.map_add(counts_fd, "counts", key)
        cg.epilogue()
        out.append((f"count_{i}", cg))
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval (-i) or at the end: calls per function, "
                        "fewest first, functions not called left out", rows=[
    F("func", "string", "the function (or tracepoint, USDT probe) as bcc names it"),
    F("count", "integer", "calls counted"),
])


def json_rows(names, values) -> list:
    return [{"func": names[i], "count": v}
            for i, v in sorted(enumerate(values), key=lambda kv: kv[1]) if v]


def render(names, values, timestamp: bool) -> str:
    """One interval's text (bcc's layout): blank line, time, header, ascending rows."""
    out = ["\n"]
    if timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    out.append("%-36s %8s\n" % ("FUNC", "COUNT"))
    for i, v in sorted(enumerate(values), key=lambda kv: kv[1]):
        if v:
            out.append("%-36s %8d\n" % (names[i], v))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    probes = resolve(a.pattern, a.regexp, a.pid)
    kkind = _multi.probe_kind_for({k for _, k, _ in probes})
    interval = a.interval or a.duration or _cli.FOREVER
    names = names_of(probes)
    with GenObject(PROG) as g:
        counts = g.create_map("counts", ARRAY, 4, 8, len(names))
        progs = build(probes, counts.fd, a.pid, a.cpu, kkind)
        if a.ebpf or a.debug:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        skipped = _multi.attach_all(g, progs, tolerant=len(names) > 1)
        _jsonl.status(a, 'Tracing %d functions for "%s"... Hit Ctrl-C to end.'
                      % (len(names) - len(skipped), a.pattern))
        seconds = 0
        exiting = False
        while True:
            if _cli.wait_stop(interval):
                exiting = True
            else:
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            vals = [v for _, v in sorted(counts.pop_items())]
            if a.json:
                JSON.write(json_rows(names, vals))
            else:
                print(render(names, vals, a.timestamp), end="", flush=True)
            if exiting:
                _jsonl.status(a, "Detaching...")
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
