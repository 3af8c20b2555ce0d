"""What the multi-tools (trace, argdist, funccount, funclatency, stackcount)
share: matching probe patterns against this kernel, choosing how kernel
functions are probed, building and loading generated programs, --ebpf
listings, and a tiny private kallsyms reader (the `stacks` work replaces it).
"""
from __future__ import annotations

import bisect
import os
import re

from corebpf import features, kbtf
from corebpf.codegen import CodeGen, ProbeContext
from corebpf.errors import MissingFeature
from corebpf.probespec import SpecError

from . import _cli

MAX_PROBES = 1000


def not_yet(what: str):
    """The interim answer for probe kinds that need the uprobe/USDT library."""
    return _cli.UsageError(f"{what} are not supported yet")


def user_probe_error(spec) -> _cli.UsageError:
    if spec.kind == "u":
        return not_yet(f"USDT probes (u:{spec.library}:{spec.function})")
    return not_yet(f"user-space function probes ({spec.library}:{spec.function})")


def tracepoints(regex) -> list:
    """[(category, event)] whose 'category:event' matches regex, in tracefs order."""
    path = os.path.join(features.tracefs(), "available_events")
    out = []
    try:
        with open(path) as f:
            for line in f:
                name = line.strip()
                if regex.match(name):
                    cat, _, ev = name.partition(":")
                    out.append((cat, ev))
    except OSError:
        pass
    return out


def kernel_functions(regex) -> list:
    """Kernel functions matching regex (available_filter_functions when readable,
    else kallsyms text symbols)."""
    names = []
    seen = set()
    src = None
    try:
        with open(os.path.join(features.tracefs(), "available_filter_functions")) as f:
            src = [ln.split()[0] for ln in f if ln.strip()]
    except OSError:
        src = None
    if src is None:
        src = []
        try:
            with open("/proc/kallsyms") as f:
                for ln in f:
                    parts = ln.split()
                    if len(parts) >= 3 and parts[1] in "tTwW" and len(parts) == 3:
                        src.append(parts[2])
        except OSError:
            pass
    for n in src:
        if "." in n or n in seen or n.startswith(("__bpf_trace", "bpf_")):
            continue
        if regex.match(n):
            seen.add(n)
            names.append(n)
    return names


def kernel_probe_kind() -> str:
    """'fentry' or 'kprobe': how this kernel can probe kernel functions.

    Raises MissingFeature naming both when it has neither."""
    forced = features.forced_probe()
    if forced in ("fentry", "kprobe"):
        return forced
    if features.fentry():
        return "fentry"
    if features.kprobes():
        return "kprobe"
    raise MissingFeature("kernel function probes need kprobes (CONFIG_KPROBES) or fentry "
                         "(BPF trampolines); this kernel has neither")


def check_limit(n: int):
    if n > MAX_PROBES:
        raise _cli.UsageError(f"maximum of {MAX_PROBES} probes allowed, attempted {n}")


def context_for(kind: str, target, ret: bool = False, kernel_kind: str = None,
                signature=None, text: str = "") -> ProbeContext:
    """ProbeContext for a tracepoint (target = (cat, event)) or kernel function."""
    if kind == "t":
        return ProbeContext.tracepoint(*target)
    return ProbeContext.kernel_function(target, ret, kernel_kind or kernel_probe_kind(),
                                        signature, text)


def load_and_attach(gen, name: str, cg: CodeGen, attach: bool = True):
    """Load the program of cg and attach it where its context says."""
    ctx = cg.ctx
    if ctx.kind == "tracepoint":
        p = gen.load_program(name, "tracepoint", cg.a)
        if attach:
            cat, ev = ctx.name.split(":", 1)
            gen.attach_tracepoint(p, cat, ev)
        return p
    if ctx.kind in ("kprobe", "kretprobe"):
        p = gen.load_program(name, "kprobe", cg.a)
        if attach:
            gen.attach_kprobe(p, ctx.name, retprobe=ctx.kind == "kretprobe")
        return p
    if ctx.kind in ("fentry", "fexit"):
        from corebpf.genprog import ATTACH_FENTRY, ATTACH_FEXIT
        fid = kbtf.vmlinux().find(ctx.name, kbtf.FUNC)
        if fid is None:
            raise MissingFeature(f"kernel function {ctx.name} has no BTF (fentry)")
        p = gen.load_program(name, "tracing", cg.a, attach_btf_id=fid,
                             expected_attach_type=ATTACH_FEXIT if ctx.kind == "fexit"
                             else ATTACH_FENTRY)
        if attach:
            gen.attach_raw_tracepoint(p)
        return p
    raise MissingFeature(f"{ctx.kind} probes")


def print_programs(progs):
    """--ebpf: the generated programs, as bcc prints its C."""
    for name, cg in progs:
        print(f"; {name}: {cg.ctx.kind} {cg.ctx.name} (stack {cg.max_sp} bytes)")
        print(cg.a.text())
        print()


def spec_error(e: SpecError) -> _cli.UsageError:
    return _cli.UsageError(str(e))


# -- a tiny kallsyms reader (replaced by corebpf.syms from the `stacks` work) -----------------

class _Ksyms:
    def __init__(self):
        addrs, names = [], []
        try:
            with open("/proc/kallsyms") as f:
                for ln in f:
                    parts = ln.split()
                    if len(parts) >= 3 and parts[1] in "tTwW":
                        a = int(parts[0], 16)
                        if a:
                            addrs.append(a)
                            names.append(parts[2])
        except OSError:
            pass
        order = sorted(range(len(addrs)), key=addrs.__getitem__)
        self.addrs = [addrs[i] for i in order]
        self.names = [names[i] for i in order]

    def sym(self, addr: int, offset: bool = False, module: bool = False) -> str:
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return "[unknown]"
        name = self.names[i]
        if offset:
            name += "+%#x" % (addr - self.addrs[i])
        if module:
            name += " [kernel]"
        return name


_ksyms = None


def ksym(addr: int, offset: bool = False, module: bool = False) -> str:
    """Kernel symbol for addr (name, +0xoff, [kernel] on request)."""
    global _ksyms
    if _ksyms is None:
        _ksyms = _Ksyms()
    return _ksyms.sym(addr, offset, module)


STACK_DEPTH = 127


def stack_frames(stack_map, stack_id: int) -> list:
    """Addresses of stack `stack_id` of a stack map (innermost first)."""
    if stack_id < 0:
        return []
    raw = stack_map.get(stack_id)
    if raw is None:
        return []
    import struct
    vals = struct.unpack_from(f"<{len(raw) // 8}Q", raw)
    out = []
    for v in vals:
        if not v:
            break
        out.append(v)
    return out


def regex_for(pattern: str, use_regex: bool):
    if use_regex:
        try:
            return re.compile(pattern)
        except re.error as e:
            raise _cli.UsageError(f"bad regular expression {pattern!r}: {e}") from None
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
