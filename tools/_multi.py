"""What the multi-tools (trace, argdist, funccount, funclatency, stackcount)
share: matching probe patterns against this kernel and the user's binaries,
choosing how kernel functions are probed, building, loading and attaching
generated programs, --ebpf listings, and stack/symbol text.

Probe targets are (display name, kind, target) triples:
    ("syscalls:sys_enter_openat", "t", ("syscalls", "sys_enter_openat"))
    ("vfs_read", "p", "vfs_read")                       kernel function
    ("malloc", "u", UprobeSite(...))                    user function
    ("query__start", "usdt", UsdtSite(...))             one USDT location
A USDT probe with several locations gives several triples with the same
display name: one program per location, since each location has its own
argument specs.
"""
from __future__ import annotations

import os
import re

from corebpf import features

from corebpf.core import kbtf
from corebpf.compiler.codegen import CodeGen, ProbeContext
from corebpf import MissingFeature
from corebpf.compiler.probespec import SpecError

from . import _cli

MAX_PROBES = 1000
STACK_DEPTH = 127
BPF_F_USER_STACK = 1 << 8


def spec_error(e: SpecError) -> _cli.UsageError:
    return _cli.UsageError(str(e))


# -- kernel targets ---------------------------------------------------------------------------

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
    else kallsyms text symbols through corebpf.symbols.syms).  Raises
    MissingFeature first, without reading either list, on a kernel that can
    probe none of them (kernel_probe_kind)."""
    kernel_probe_kind()
    names = []
    seen = set()
    try:
        with open(os.path.join(features.tracefs(), "available_filter_functions")) as f:
            src = [ln.split()[0] for ln in f if ln.strip()]
    except OSError:
        from corebpf.symbols.syms import kernel_symbols
        src = kernel_symbols().find(".*")
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


def probe_kind_for(kinds) -> str:
    """How to probe the kernel functions among targets of these kinds ('p'
    kernel function, 't' tracepoint, anything else user space): 'fentry',
    'kprobe', or None if there are none.  UsageError if --probe /
    COREBPF_PROBE forces a kind that none of these probes can be."""
    forced = features.forced_probe()
    if forced:
        usable = ({"fentry", "kprobe"} if "p" in kinds else set()) | \
            ({"tracepoint"} if "t" in kinds else set())
        if forced not in usable:
            raise _cli.UsageError(
                f"--probe {forced}: none of these probes can be a {forced} probe (" +
                (f"they can be {' or '.join(sorted(usable))}" if usable else
                 "user-space probes") + ")")
    return kernel_probe_kind() if "p" in kinds else None


def check_limit(n: int):
    if n > MAX_PROBES:
        raise _cli.UsageError(f"maximum of {MAX_PROBES} probes allowed, attempted {n}")


# -- user targets --------------------------------------------------------------------------------

class UprobeSite:
    """A user function: binary, file offset, symbol name; pid > 0 limits the
    uprobe to that process (the kernel's filter)."""

    __slots__ = ("path", "offset", "name", "pid")

    def __init__(self, path: str, offset: int, name: str, pid=None):
        self.path, self.offset, self.name, self.pid = path, offset, name, pid

    def __repr__(self):
        return f"UprobeSite({self.path}:{self.name}@{self.offset:#x})"


class UsdtSite:
    """One location of a USDT probe: binary, file offset of the probe's nop,
    semaphore file offset (0: none), its argument specs and link-time address."""

    __slots__ = ("path", "offset", "ref_ctr", "probe", "location", "pid")

    def __init__(self, probe, location, pid=None):
        self.path = probe.path
        self.offset = location.offset
        self.ref_ctr = probe.semaphore_offset or 0
        self.probe, self.location, self.pid = probe, location, pid

    @property
    def name(self):
        return self.probe.name

    def resolve_symbol(self, name: str):
        """Link-time address of symbol `name` of the probe's binary (for
        `sym(%rip)` argument operands), or None."""
        from corebpf.symbols.elf import open_elf
        e = open_elf(self.path)
        for n, value, _ in e.symbols(functions=False):
            if n == name:
                return value
        return None

    def __repr__(self):
        return f"UsdtSite({self.path}:{self.probe.qualified}@{self.offset:#x})"


def require_uprobes():
    if not features.uprobes():
        raise MissingFeature("this kernel has no uprobes (CONFIG_UPROBE_EVENTS), which "
                             "user-space function and USDT probes need")


def library_path(lib: str, pid=None) -> str:
    """The binary bcc means by `lib` (c, pthread, a path, an executable)."""
    from corebpf.user import uprobes
    return uprobes.resolve(lib, pid)


def user_functions(lib: str, regex, pid=None) -> list:
    """[(name, UprobeSite)] of the functions of `lib` whose names match regex
    (re.match), in symbol-table order.  As bcc does, a function whose address
    or name was seen already is skipped.  GNU indirect functions (memcpy,
    strlen...) are probed at the implementation this machine's resolver picks,
    not at the resolver."""
    from corebpf.symbols.elf import open_elf
    path = library_path(lib, pid)
    e = open_elf(path)
    ifuncs = e.ifunc_addresses()
    out = []
    seen_addr, seen_name = set(), set()
    for name, vaddr, _ in e.symbols():
        if not regex.match(name) or vaddr in seen_addr or name in seen_name:
            continue
        off = e.vaddr_to_offset(vaddr)
        if off is None:
            continue
        seen_addr.add(vaddr)
        seen_name.add(name)
        site_path = path
        if vaddr in ifuncs:
            from corebpf.user.uprobes import ifunc_implementation
            impl = ifunc_implementation(path, name)
            if impl is not None:
                site_path, off = impl
        out.append((name, UprobeSite(site_path, off, name, pid)))
    return out


def user_function(lib: str, name: str, pid=None, offset: int = 0) -> UprobeSite:
    """The UprobeSite of function `name` of `lib` (+offset bytes into it);
    ElfError if `lib` has no such function."""
    from corebpf.symbols.elf import ElfError
    found = user_functions(lib, re.compile("^" + re.escape(name) + "$"), pid)
    if not found:
        raise ElfError(f"{library_path(lib, pid)}: no function {name!r} in its symbol tables")
    site = found[0][1]
    site.offset += offset
    return site


def usdt_sites(lib: str, name_regex, provider=None, pid=None) -> list:
    """[(probe name, UsdtSite)] for every location of every USDT probe of
    `lib` whose name matches name_regex (re.match) and, if given, whose
    provider is `provider`.  Raises ElfError if `lib` has no USDT probes."""
    from corebpf.user import usdt
    from corebpf.symbols.elf import ElfError
    path = library_path(lib, pid)
    probes = usdt.probes(path)
    if not probes:
        raise ElfError(f"{path}: no USDT probes (no .note.stapsdt notes)")
    out = []
    for p in probes:
        if not name_regex.match(p.name) or (provider and p.provider != provider):
            continue
        for loc in p.locations:
            if loc.offset is None:
                raise ElfError(f"{path}: USDT probe {p.qualified} at {loc.address:#x} is "
                               "in no loadable segment")
            out.append((p.name, UsdtSite(p, loc, pid)))
    return out


# -- building and attaching ---------------------------------------------------------------------

def context_for(kind: str, target, ret: bool = False, kernel_kind: str = None,
                signature=None, text: str = "", display: str = None) -> ProbeContext:
    """ProbeContext for a target triple's kind and target (see the module doc)."""
    if kind == "t":
        return ProbeContext.tracepoint(*target)
    if kind == "u":
        return ProbeContext.uprobe(target, display or target.name, ret, signature, text)
    if kind == "usdt":
        loc = target.location
        return ProbeContext.usdt(target, display or target.name, loc.args,
                                 target.resolve_symbol, loc.address)
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
            gen.attach_kprobe(p, ctx.name, retprobe=ctx.kind == "kretprobe",
                              offset=getattr(ctx, "offset", 0))
        return p
    if ctx.kind in ("uprobe", "uretprobe", "usdt"):
        from corebpf.compiler.genprog import ATTACH_UPROBE_MULTI, uprobe_multi
        # uprobe_multi links (one offset each) detach in parallel; perf-event
        # uprobes take ~0.1 s each to close, one at a time
        p = gen.load_program(name, "kprobe", cg.a, expected_attach_type=ATTACH_UPROBE_MULTI
                             if attach and uprobe_multi() else 0)
        if attach:
            require_uprobes()
            site = ctx.site
            gen.attach_uprobe(p, site.path, site.offset, retprobe=ctx.kind == "uretprobe",
                              pid=site.pid if site.pid else -1,
                              ref_ctr_offset=getattr(site, "ref_ctr", 0))
        return p
    if ctx.kind in ("fentry", "fexit"):
        from corebpf.compiler.genprog import ATTACH_FENTRY, ATTACH_FEXIT
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


ENOTSUPP = 524          # the kernel's "cannot probe this instruction" (not in errno)


def attach_all(gen, progs, tolerant: bool = False) -> set:
    """Load and attach [(name, CodeGen)] in order.  tolerant (a pattern
    matched several user functions): a function whose first instruction
    uprobes refuse (x86: VEX-encoded AVX code such as memset's AVX2 variant)
    is skipped with a warning on stderr instead of ending the tool.
    Returns the display names of the skipped probes."""
    import sys
    from corebpf import AttachError
    skipped = set()
    for name, cg in progs:
        try:
            load_and_attach(gen, name, cg)
        except AttachError as e:
            if not (tolerant and e.errno == ENOTSUPP and cg.ctx.kind == "uprobe"):
                if e.errno == ENOTSUPP:
                    raise AttachError(e.errno, e.call, e.target, message="not supported",
                                      hint="uprobes cannot probe the instruction there") \
                        from None
                raise
            skipped.add(cg.ctx.display)
            sys.stderr.write(f"{gen.name}: warning: cannot probe {cg.ctx.display} "
                             f"({cg.ctx.site.path}:{cg.ctx.site.offset:#x}): uprobes cannot "
                             "probe its first instruction; skipped\n")
    return skipped


def print_programs(progs, json: bool = None):
    """--ebpf/-v: the generated programs, as bcc prints its C (on stderr
    with --json: stdout stays JSON only; default: _cli.json_run())."""
    import sys
    out = sys.stderr if (_cli.json_run() if json is None else json) else sys.stdout
    for name, cg in progs:
        where = cg.ctx.name
        site = cg.ctx.site
        if site is not None:
            where = f"{site.path}:{cg.ctx.name} (file offset {site.offset:#x})"
        print(f"; {name}: {cg.ctx.kind} {where} (stack {cg.max_sp} bytes)", file=out)
        print(cg.a.text(), file=out)
        print(file=out)
    out.flush()


def regex_for(pattern: str, use_regex: bool):
    if use_regex:
        try:
            return re.compile(pattern)
        except re.error as e:
            raise _cli.UsageError(f"bad regular expression {pattern!r}: {e}") from None
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")


# -- symbols and stacks ---------------------------------------------------------------------------

def ksym(addr: int, offset: bool = False, module: bool = False) -> str:
    """Kernel symbol for addr (name, +0xoff, [kernel] on request): bcc's BPF.ksym."""
    from corebpf.symbols.syms import ksym as _ksym
    return _ksym(addr, offset, module)


def stack_frames(stack_map, stack_id: int) -> list:
    """Addresses of stack `stack_id` of a stack map (innermost first)."""
    return stack_map.stack(stack_id) if stack_id >= 0 else []
