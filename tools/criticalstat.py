"""Trace long critical sections: kernel code that ran with IRQs (or, with -p,
preemption) disabled for longer than a threshold, with the places that
disabled and re-enabled them and the kernel stack.

Needs the kernel's preemptirq tracepoints (CONFIG_PREEMPTIRQ_TRACEPOINTS;
irq sections also CONFIG_TRACE_IRQFLAGS, preempt sections
CONFIG_TRACE_PREEMPT_TOGGLE), which most distribution kernels leave out:
without them the tool exits with one line saying so.

examples:
    criticalstat            # IRQ-disabled sections longer than 100 us
    criticalstat -p         # preemption-disabled sections instead
    criticalstat -d 500     # sections longer than 500 us
"""
from __future__ import annotations

import time

import corebpf
from corebpf.symbols import syms
from corebpf.symbols.stacks import Stacks

from . import _cli, _containers, _jsonl

PROG = "criticalstat"
RULE = "==================================="


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--preemptoff", action="store_true",
                   help="Find long sections where preemption was off")
    p.add_argument("-i", "--irqoff", action="store_true",
                   help="Find long sections where IRQ was off")
    p.add_argument("-d", "--duration", default=100, type=_cli.positive_int,
                   help="Duration in uS (microseconds) below which we filter")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per critical section longer than the threshold", [
    F("comm", "string", "command name"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("duration_ns", "integer", "time IRQs (-p: preemption) stayed disabled", "ns"),
    F("start_caller", "string", "where the section started: the caller of the function that "
                                "disabled them (symbol)"),
    F("start_ip", "string", "that function (symbol)"),
    F("end_caller", "string", "where the section ended: the caller (symbol)"),
    F("end_ip", "string", "the function that enabled them again (symbol)"),
    F("kernel_stack", "frame[]", "kernel stack at the end, innermost first; [] if lost"),
    _containers.FIELD,
])


def json_record(e, st: Stacks, stext: int) -> dict:
    ksym = st.syms.ksym
    frames = _jsonl.frames(st.addresses(e.stack_id), st.syms.kernel.resolve) \
        if e.stack_id >= 0 else []
    return {"time_ns": time.time_ns(), "comm": e.comm, "pid": e.id >> 32,
            "tid": e.id & 0xffffffff, "duration_ns": e.time,
            "start_caller": ksym(stext + e.addrs[0]), "start_ip": ksym(stext + e.addrs[1]),
            "end_caller": ksym(stext + e.addrs[2]), "end_ip": ksym(stext + e.addrs[3]),
            "kernel_stack": frames,
            **({} if _containers.NAMES is None else {"container": _containers.json_value(e)})}


def check_kernel(kind: str):
    """MissingFeature naming the tracepoints and configs a kernel lacks."""
    from corebpf import features
    need = ("%s_disable" % kind, "%s_enable" % kind)
    if all(features.tracepoint_exists("preemptirq", n) for n in need):
        return
    cfg = "CONFIG_TRACE_IRQFLAGS" if kind == "irq" else "CONFIG_TRACE_PREEMPT_TOGGLE"
    raise corebpf.MissingFeature(
        "this kernel has no preemptirq:%s/%s tracepoints (built without "
        "CONFIG_PREEMPTIRQ_TRACEPOINTS and %s): %s-disabled sections cannot be traced"
        % (need[0], need[1], cfg, "preemption" if kind == "preempt" else "IRQ"))


def format_event(e, st: Stacks, stext: int, containers: bool = False) -> list:
    ksym = st.syms.ksym
    out = [RULE, "TASK: %s (pid %5d tid %5d) Total Time: %-9.3fus" % (
        e.comm, e.id >> 32, e.id & 0xffffffff, e.time / 1000)]
    if containers:      # --containers: the task's container, a line of its own
        out.append("CONTAINER: %s" % _containers.escape(_containers.short_name(e.cgroup)))
    out += ["",
        "Section start: {} -> {}".format(ksym(stext + e.addrs[0]), ksym(stext + e.addrs[1])),
        "Section end:   {} -> {}".format(ksym(stext + e.addrs[2]), ksym(stext + e.addrs[3]))]
    if e.stack_id >= 0:
        frames = [ksym(a, show_offset=True) for a in st.addresses(e.stack_id)]
        if not frames:
            return out
        out.extend("  " + f for f in frames)
    else:
        out.append("NO STACK FOUND DUE TO COLLISION")
    out.extend([RULE, ""])
    return out


def run(argv=None):
    a = parse(argv)
    kind = "preempt" if a.preemptoff and not a.irqoff else "irq"
    _cli.setup(a)
    check_kernel(kind)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_min_ns = a.duration * 1000
        other = "irq" if kind == "preempt" else "preempt"
        for p in obj.programs.values():
            if p.hook.startswith(other + "_"):
                p.autoload = False
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        st = Stacks(obj.maps["stack_traces"])
        stext = syms.kernel_symbols().address("_stext") or 0
        rb, out = _jsonl.ring(
            obj, a, _jsonl.Custom(lambda e: json_record(e, st, stext)),
            lambda e: "\n".join(format_event(e, st, stext, a.containers)),
            "Finding critical section with {} disabled for > {}us".format(
                "preempt" if kind == "preempt" else "IRQ", a.duration))
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
