"""Time the interval between successive calls of a function (or hits of a
tracepoint or USDT probe) and print it as a log2 histogram, measured in the
kernel by programs generated at start (no compiler): uprobes for user
functions (lib:func, a regular expression), classic tracepoints
(t:category:event), USDT probes (u:lib:probe), fentry or kprobes for a
kernel function (where the kernel has them).

examples:
    # time the interval of do_sys_open()
    funcinterval do_sys_open
    # time the interval of xhci_ring_ep_doorbell(), in microseconds
    funcinterval -u xhci_ring_ep_doorbell
    # time the interval of do_nanosleep(), in milliseconds
    funcinterval -m do_nanosleep
    # output every 5 seconds, with timestamps
    funcinterval -mTi 5 vfs_read
    # time process 181 only
    funcinterval -p 181 vfs_read
    # time the interval of mm_vmscan_direct_reclaim_begin tracepoint
    funcinterval t:vmscan:mm_vmscan_direct_reclaim_begin
    # time the interval of c:malloc used by top every 3 seconds
    funcinterval -p `pidof -s top` -i 3 c:malloc
    # time /usr/local/bin/python main function
    funcinterval /usr/local/bin/python:main
    # time a USDT probe of PostgreSQL
    funcinterval u:/usr/lib/postgresql/15/bin/postgres:query__start
"""
from __future__ import annotations

import re
import struct
import time

from corebpf import histogram
from corebpf.compiler.bpfasm import FP, R0, R1, R2, R7, reg
from corebpf.compiler.codegen import CodeGen
from corebpf.compiler.genprog import ARRAY, HASH, GenObject

from . import _cli, _containers, _jsonl, _multi

PROG = "funcinterval"
SLOTS = histogram.LOG2_SLOTS
CKEY = struct.Struct("<QI4x")       # --containers' histogram key: cgroup id, slot
CONTAINER_ENTRIES = 10240


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.description = "Time interval and print latency as a histogram"
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-i", "--interval", type=_cli.positive_int,
                   help="summary interval, in seconds")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace, in seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-u", "--microseconds", action="store_true", help="microsecond histogram")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-v", "--verbose", dest="show_prog", action="store_true",
                   help="print the generated BPF programs")
    p.add_argument("pattern", help="Function/Tracepoint name for tracing")
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    a = p.parse_args(argv)
    if a.microseconds and a.milliseconds:
        p.error("-u and -m are mutually exclusive")
    return a


JSON = _jsonl.Histograms("one object per interval (-i) or at the end: time between "
                         "hits of the functions or events (--containers: hits in the same "
                         "container)", ["nsecs", "usecs", "msecs"], keys=[_containers.KEY])


def resolve(pattern: str, pid=None):
    """(attach type, shown pattern, [(display, kind, target)]) as bcc splits
    the pattern: func (kernel), lib:func (user, a regular expression),
    t:category:event (tracepoint); u:lib:probe (USDT) is ours."""
    parts = pattern.split(":")
    if len(parts) == 1:
        kind, shown = "kprobe function", pattern      # bcc's words, fentry or kprobe
        found = [(f, "p", f) for f in
                 _multi.kernel_functions(re.compile("^" + re.escape(pattern) + "$"))]
    elif len(parts) == 2:
        kind, shown = "uprobe function", parts[1]
        rx = _multi.regex_for(parts[1], True)
        found = [(n, "u", s) for n, s in _multi.user_functions(parts[0], rx, pid)]
    elif len(parts) == 3 and parts[0] == "u":
        kind, shown = "USDT probe", parts[2]
        found = [(n, "usdt", s) for n, s in _multi.usdt_sites(
            parts[1], re.compile("^" + re.escape(parts[2]) + "$"), pid=pid)]
    elif len(parts) == 3:
        kind, shown = "tracepoint", ":".join(parts[1:])
        found = [(f"{c}:{e}", "t", (c, e)) for c, e in _multi.tracepoints(
            re.compile("^" + re.escape(shown) + "$"))]
    else:
        raise _cli.UsageError(f"unrecognized pattern format '{pattern}'")
    if not found:
        raise _cli.UsageError(f'0 {kind} matched by "{shown}". Exiting.')
    _multi.check_limit(len(found))
    return kind, shown, found


def build(targets, start_fd, hist_fd, a, kernel_kind) -> list:
    """[(name, CodeGen)]: one program per target; each adds the time since
    the previous hit of any of them (start[0]) to the histogram.
    --containers: start and the histogram are keyed by the task's cgroup
    (hash maps: start[cgroup], dist[{cgroup, slot}]): the time since the
    previous hit in the same cgroup."""
    if getattr(a, "containers", False):
        return _build_containers(targets, start_fd, hist_fd, a, kernel_kind)
    div = 1000000 if a.milliseconds else 1000 if a.microseconds else 1
    out = []
    for i, (disp, kind, target) in enumerate(targets):
        cg = CodeGen(_multi.context_for(kind, target, kernel_kind=kernel_kind, display=disp))
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid)
        key = cg.alloc(8)
        now = cg.alloc(8)
        A.st(8, FP, key, 0)
        cg.ktime_into(now)
        A.ld_map_fd(R1, start_fd, "start")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_lookup_elem")
        A.jmp("==", R0, 0, "store")
        A.ldx(8, R1, R0, 0)
        A.jmp("==", R1, 0, "store")             # no previous hit (cleared)
        A.ldx(8, R0, FP, now)
        A.alu("-", R0, reg(R1))
        if div > 1:
            A.alu("/", R0, div)
        cg.log2_r0()
        A.mov(R7, reg(R0))
        A.stx(4, FP, key, R7)                   # the slot is the histogram's key
        cg.map_add(hist_fd, "dist", key)
        A.st(8, FP, key, 0)
        A.label("store")
        cg.map_update(start_fd, "start", key, now)
        cg.epilogue()
        out.append((f"interval_{i}", cg))
    return out


def _build_containers(targets, start_fd, hist_fd, a, kernel_kind) -> list:
    div = 1000000 if a.milliseconds else 1000 if a.microseconds else 1
    out = []
    for i, (disp, kind, target) in enumerate(targets):
        cg = CodeGen(_multi.context_for(kind, target, kernel_kind=kernel_kind, display=disp))
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid)
        key = cg.alloc(8)
        now = cg.alloc(8)
        hkey = cg.alloc(CKEY.size)
        cg.ktime_into(now)
        cg.task_cgroup_id()
        A.stx(8, FP, key, R0)
        A.ld_map_fd(R1, start_fd, "start")
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_lookup_elem")
        A.jmp("==", R0, 0, "store")
        A.ldx(8, R1, R0, 0)
        A.ldx(8, R0, FP, now)
        A.alu("-", R0, reg(R1))
        if div > 1:
            A.alu("/", R0, div)
        cg.log2_r0()
        A.stx(8, FP, hkey + 8, R0)              # the slot (and the padding: 0)
        A.ldx(8, R1, FP, key)
        A.stx(8, FP, hkey, R1)
        cg.map_add(hist_fd, "dist", hkey, hash_map=True)
        A.label("store")
        cg.map_update(start_fd, "start", key, now)
        cg.epilogue()
        out.append((f"interval_{i}", cg))
    return out


def _container_items(dist) -> list:
    """[(cgroup id, slots)] of --containers' dist map (emptied)."""
    hists = {}
    for raw, n in dist.pop_items():
        if isinstance(raw, int):
            raw = raw.to_bytes(CKEY.size, "little")
        cgid, slot = CKEY.unpack(raw)
        if slot < SLOTS:
            hists.setdefault(cgid, [0] * SLOTS)[slot] += n
    return sorted(hists.items())


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    kind, shown, targets = resolve(a.pattern, a.pid)
    kkind = _multi.kernel_probe_kind() if any(k == "p" for _, k, _ in targets) else None
    label = "msecs" if a.milliseconds else "usecs" if a.microseconds else "nsecs"
    interval = a.interval or a.duration or _cli.FOREVER
    _containers.names(a)
    with GenObject(PROG) as g:
        if a.containers:
            start = g.create_map("start", HASH, 8, 8, CONTAINER_ENTRIES)
            dist = g.create_map("dist", HASH, CKEY.size, 8, CONTAINER_ENTRIES)
        else:
            start = g.create_map("start", ARRAY, 4, 8, 1)
            dist = g.create_map("dist", ARRAY, 4, 8, SLOTS)
        progs = build(targets, start.fd, dist.fd, a, kkind)
        if a.show_prog or a.ebpf:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        _multi.attach_all(g, progs, tolerant=len(targets) > 1)
        _jsonl.status(a, 'Tracing %s for "%s"... Hit Ctrl-C to end.' % (kind, shown))
        seconds = 0
        while True:
            exiting = _cli.wait_stop(interval)
            if not exiting:
                seconds += interval
            if a.duration and seconds >= a.duration:
                exiting = True
            out = "\n"
            if a.timestamp:
                out += "%-8s\n" % time.strftime("%H:%M:%S")
            if a.containers:
                items = _container_items(dist)
                start.clear()
                if a.json:
                    JSON.write(label, [({"container": full}, slots) for full, _, slots
                                       in _containers.sections(items, lambda v: v)])
                else:
                    print(out + _containers.format_sections(items, lambda v: v, label),
                          end="", flush=True)
                if exiting:
                    _jsonl.status(a, "Detaching...")
                    return 0
                continue
            vals = [0] * SLOTS
            for slot, n in dist.pop_items():
                if slot < SLOTS:
                    vals[slot] = n
            start.clear()
            if a.json:
                JSON.write(label, [({}, vals)])
            else:
                out += histogram.format_log2(vals, label)
                print(out, end="", flush=True)
            if exiting:
                _jsonl.status(a, "Detaching...")
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
