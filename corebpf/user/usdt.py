"""USDT (SystemTap SDT) probes: discovery from `.note.stapsdt` and attaching.

    for p in probes("/usr/lib/postgresql/15/bin/postgres"):
        print(p.provider, p.name, p.semaphore, len(p.locations))
    find_probe("postgresql", "query__start", pid=1234)   # -> Probe in that process
    attach(obj.programs["query_start"], "postgresql", "query__start", pid=1234)

The BPF side includes <bpf/usdt.bpf.h> and reads arguments with
`bpf_usdt_arg(ctx, i, &val)` or BPF_USDT(); libbpf parses the argument specs,
sets semaphores and attaches one uprobe per location
(`bpf_program__attach_usdt`).  This module finds what to attach to and turns
"not there" into one-line ElfErrors: a missing binary, a binary without
USDT notes, a probe that is not in it, a process that does not exist.
"""
from __future__ import annotations

import errno
import re
import struct

from ..symbols.elf import ElfError, check_pid, open_elf, process_binaries, resolve_binary

NT_STAPSDT = 3
_X86_REGS = {}
for _base, _names in {
        "ax": ("rax", "eax", "ax", "al", "ah"), "bx": ("rbx", "ebx", "bx", "bl", "bh"),
        "cx": ("rcx", "ecx", "cx", "cl", "ch"), "dx": ("rdx", "edx", "dx", "dl", "dh"),
        "si": ("rsi", "esi", "si", "sil"), "di": ("rdi", "edi", "di", "dil"),
        "bp": ("rbp", "ebp", "bp", "bpl"), "sp": ("rsp", "esp", "sp", "spl"),
        "ip": ("rip", "eip", "ip")}.items():
    for _n in _names:
        _X86_REGS[_n] = _base
for _i in range(8, 16):
    for _sfx in ("", "d", "w", "b"):
        _X86_REGS[f"r{_i}{_sfx}"] = f"r{_i}"
# arm64 operands (`8@x1`, `-4@[sp, 12]`, `8@[x0]`, `4@5`): x0..x30, their 32-bit
# views w0..w30 (the same register: the size truncates), sp
_ARM64_REG = re.compile(r"(?:[xw]([12]?[0-9]|30)|(w?sp))")
_NUM = r"[-+]?(?:0x[0-9a-fA-F]+|\d+)"
# one operand: `SIZE@[...]` may hold spaces, nothing else does
_ARG_SPLIT = re.compile(r"\S*\[[^\]]*\]\S*|\S+")


def split_args(text: str) -> list:
    """The argument specs of a note's argument string (arm64's `-4@[sp, 12]` holds a space)."""
    return _ARG_SPLIT.findall(text)


def _arm64_reg(name: str):
    """`x3`/`w3` -> "x3", `sp`/`wsp` -> "sp"; None if not an arm64 register."""
    m = _ARM64_REG.fullmatch(name)
    if not m:
        return None
    return "sp" if m.group(2) else f"x{int(m.group(1))}"


def _int(text: str) -> int:
    """An assembler number: 0x hex, 0-prefixed octal (decimal if it has an 8
    or 9), decimal; ValueError for anything else."""
    t = text.strip()
    body = t.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        return int(t, 16)
    if len(body) > 1 and body[0] == "0" and not set(body) & set("89"):
        return int(t, 8)
    return int(t, 10)


class Argument:
    """One argument spec: size, signedness, location.  x86_64 (AT&T syntax):
    `-4@-20(%rbp)`, `8@%rax`, `-4@$5`, `8@sym+4(%rip)`; arm64: `-4@[sp, 12]`,
    `8@[x0]`, `8@x1`, `4@5`, `8@[x0, x1]`.  Registers by base name (x86:
    "ax", "bp", "r12", "ip"; arm64: "x0".."x30", "sp")."""

    __slots__ = ("spec", "size", "signed", "constant", "base", "index", "scale",
                 "offset", "ident")

    def __init__(self, spec: str):
        self.spec = spec
        self.constant = self.base = self.index = self.scale = self.offset = self.ident = None
        size, at, loc = spec.partition("@")
        try:
            n = int(size) if at else 8
        except ValueError:
            n, loc = 8, spec
        if not at:
            loc = spec
        self.size, self.signed = abs(n), n < 0
        self._parse(loc)

    def _parse(self, loc: str):
        if loc.startswith("$"):
            try:
                self.constant = _int(loc[1:])
            except ValueError:
                self.ident = loc[1:]
            return
        if loc.startswith("%"):
            self.base = _X86_REGS.get(loc[1:], loc[1:])
            return
        m = re.fullmatch(r"(?:([A-Za-z_.$][\w.$]*)([+-](?:0x[0-9a-fA-F]+|\d+))?|"
                         r"([+-]?(?:0x[0-9a-fA-F]+|\d+))(?:\+([A-Za-z_.$][\w.$]*))?)?"
                         r"\(%(\w+)(?:,%(\w+)(?:,(\d+))?)?\)", loc)
        if m:
            ident, off1, off2, ident2, base, index, scale = m.groups()
            off = off1 or off2
            self.ident = ident or ident2
            self.offset = _int(off) if off else 0
            self.base = _X86_REGS.get(base, base)
            if index:
                self.index = _X86_REGS.get(index, index)
                self.scale = int(scale) if scale else None
            return
        m = re.fullmatch(_NUM, loc)
        if m:                               # a bare number: a constant (arm64 style)
            self.constant = _int(loc)
            return
        reg = _arm64_reg(loc)
        if reg:                             # arm64 register
            self.base = reg
            return
        m = re.fullmatch(r"\[\s*(\w+)\s*(?:,\s*(?:#?(" + _NUM + r")|(\w+)))?\s*\]", loc)
        if m and _arm64_reg(m.group(1)):    # arm64 memory: [base], [base, off], [base, index]
            self.base = _arm64_reg(m.group(1))
            self.offset = _int(m.group(2)) if m.group(2) else 0
            if m.group(3):
                self.index = _arm64_reg(m.group(3))
                if self.index is None:
                    self.base = self.offset = None
                    self.ident = loc
            return
        self.ident = loc                    # something else: kept raw

    def location_text(self) -> str:
        """Where the value lives, in bcc's words (`bx`, `*(bp - 20)`, `5`, `*(&sym + 0)`)."""
        if self.constant is not None:
            return "%d" % self.constant
        if self.offset is None and self.base is not None:
            return self.base
        if self.offset is not None and self.ident is None:
            idx = ""
            if self.index:
                idx = " + %s" % self.index
                if self.scale is not None:
                    idx += " * %d" % self.scale
            sign = "+" if self.offset >= 0 else "-"
            return "*(%s %s %d%s)" % (self.base, sign, abs(self.offset), idx)
        if self.offset is not None and self.ident and self.base == "ip":
            sign = "+" if self.offset >= 0 else "-"
            return "*(&%s %s %d)" % (self.ident, sign, abs(self.offset))
        return "unrecognized argument format (%s)" % self.spec

    def __str__(self):
        return "%d %s bytes @ %s" % (self.size, "signed  " if self.signed else "unsigned",
                                     self.location_text())


class Location:
    """One place a probe fires: its address (virtual, as linked) and arguments."""

    __slots__ = ("address", "offset", "args_text", "_args")

    def __init__(self, address: int, offset, args_text: str):
        self.address = address
        self.offset = offset
        self.args_text = args_text
        self._args = None

    @property
    def args(self) -> list:
        if self._args is None:
            self._args = [Argument(a) for a in split_args(self.args_text)]
        return self._args


class Probe:
    """A USDT probe of one binary: provider:name, semaphore, every location."""

    def __init__(self, path: str, provider: str, name: str, semaphore: int,
                 semaphore_offset):
        self.path = path
        self.provider = provider
        self.name = name
        self.semaphore = semaphore
        self.semaphore_offset = semaphore_offset
        self.locations = []

    @property
    def qualified(self) -> str:
        return f"{self.provider}:{self.name}"

    @property
    def num_arguments(self) -> int:
        return len(self.locations[0].args) if self.locations else 0

    def __repr__(self):
        return f"<Probe {self.path} {self.qualified} x{len(self.locations)}>"


def probes(path: str) -> list:
    """Every USDT probe of the ELF file `path`, in note order ([] if it has none).

    Raises ElfError if the file cannot be read or is not ELF."""
    e = open_elf(path)
    if ".note.stapsdt" not in e.sections:
        return []
    sb = e.sections.get(".stapsdt.base")
    asz = 8 if e.bits == 64 else 4
    fmt = e.end + ("QQQ" if asz == 8 else "III")
    out = {}
    for owner, typ, desc in e.notes(".note.stapsdt"):
        if owner != "stapsdt" or typ != NT_STAPSDT or len(desc) < 3 * asz:
            continue
        pc, base, sema = struct.unpack_from(fmt, desc, 0)
        provider, name, args = (desc[3 * asz:].split(b"\0") + [b"", b"", b""])[:3]
        provider, name = provider.decode("latin-1"), name.decode("latin-1")
        if sb is not None and base:
            pc += sb[1] - base          # prelink moved the binary: follow .stapsdt.base
        key = (provider, name)
        p = out.get(key)
        if p is None:
            p = out[key] = Probe(path, provider, name, sema,
                                 e.vaddr_to_offset(sema) if sema else None)
        p.locations.append(Location(pc, e.vaddr_to_offset(pc), args.decode("latin-1")))
    return list(out.values())


def has_notes(path: str) -> bool:
    return ".note.stapsdt" in open_elf(path).sections


def process_probes(pid: int) -> list:
    """Probes of every binary mapped into process `pid` (executable first)."""
    out = []
    for path in process_binaries(pid):
        try:
            out.extend(probes(path))
        except ElfError:
            continue
    return out


def find_probe(provider: str, name: str, path: str = None, pid: int = None) -> Probe:
    """The probe provider:name (provider '' = any) in `path` (a path, library
    name or executable, as bcc resolves them) or, without a path, in any
    binary mapped into `pid`.  Raises ElfError naming what is missing."""
    if pid is not None and pid > 0:
        check_pid(pid)
    if path:
        target = resolve_binary(path, pid)
        cands = probes(target)
        if not cands:
            raise ElfError(f"{target}: no USDT probes (no .note.stapsdt notes)")
        where = target
    elif pid is not None and pid > 0:
        cands = process_probes(pid)
        if not cands:
            raise ElfError(f"process {pid} has no USDT probes in its executable or libraries")
        where = f"process {pid}"
    else:
        raise ElfError("a USDT probe needs a binary path or a PID", errno.EINVAL)
    for p in cands:
        if p.name == name and (not provider or p.provider == provider):
            return p
    raise ElfError(f"{where}: no USDT probe {provider + ':' if provider else ''}{name}")


def require_uprobes():
    """MissingFeature unless the kernel can create uprobes (USDT rides on them)."""
    from ..core import features
    from ..core.errors import MissingFeature
    if not features.uprobes():
        raise MissingFeature("this kernel has no uprobes (CONFIG_UPROBE_EVENTS), "
                             "which uprobes and USDT probes need")


def needs_pid(probe: Probe) -> bool:
    """True if `probe` can be attached only in one given process here: the
    kernel has no BPF cookies (5.15), so libbpf's USDT code finds a
    location's argument spec by its absolute address, which for a
    position-independent executable or shared library depends on where one
    process mapped it."""
    from ..core import features
    return open_elf(probe.path).is_pie_or_shared and not features.bpf_cookie()


# offsetof(struct pt_regs, REG) (x86_64) / struct user_pt_regs (arm64): where
# usdt.bpf.h reads a register argument
_X86_PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48,
                "r10": 56, "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104,
                "di": 112, "ip": 128, "sp": 152}
_ARM64_PT_REGS = dict({f"x{i}": 8 * i for i in range(31)}, sp=248)
_ARG_CONST, _ARG_REG, _ARG_REG_DEREF = 0, 1, 2      # enum __bpf_usdt_arg_type
_MAX_ARGS = 12                                      # BPF_USDT_MAX_ARG_CNT
_ARG_SPEC = struct.Struct("=QihbB")                 # struct __bpf_usdt_arg_spec (16 bytes)


def encode_spec(args_text: str, cookie: int = 0, machine: str = None) -> bytes:
    """usdt.bpf.h's struct __bpf_usdt_spec of one location's argument
    string, as libbpf builds it: a constant, a register, or a register plus
    an offset (dereferenced), each with its size and signedness; ElfError
    for what libbpf cannot express either (an index register, a symbol,
    x86's high-byte registers, more than 12 arguments)."""
    import os
    machine = machine or os.uname().machine
    regs = _X86_PT_REGS if machine == "x86_64" else _ARM64_PT_REGS
    args = [Argument(a) for a in split_args(args_text)]
    if len(args) > _MAX_ARGS:
        raise ElfError(f"USDT argument spec {args_text!r}: more than {_MAX_ARGS} arguments",
                       errno.EINVAL)
    out = bytearray()
    for a in args:
        bad = (a.size not in (1, 2, 4, 8) or a.ident is not None or a.index is not None
               or re.search(r"%[abcd]h\b", a.spec))
        if a.constant is not None and not bad:
            out += _ARG_SPEC.pack(a.constant & (2**64 - 1), _ARG_CONST, 0, a.signed,
                                  64 - 8 * a.size)
            continue
        reg = regs.get(a.base) if a.base is not None else None
        if bad or reg is None:
            raise ElfError(f"USDT argument {a.spec!r}: not a form libbpf reads "
                           "(constant, register, register + offset)", errno.EINVAL)
        kind = _ARG_REG if a.offset is None else _ARG_REG_DEREF
        out += _ARG_SPEC.pack((a.offset or 0) & (2**64 - 1), kind, reg, a.signed,
                              64 - 8 * a.size)
    out += bytes(16 * (_MAX_ARGS - len(args)))
    return bytes(out) + struct.pack("=Qh6x", cookie & (2**64 - 1), len(args))


def _attach_multi(program, probe: Probe, pid: int, cookie: int):
    """Every location of `probe` in one uprobe_multi link (its programs were
    loaded for them: Program.multi)."""
    offsets = [loc.offset for loc in probe.locations]
    if not offsets or any(o is None for o in offsets):
        raise ElfError(f"{probe.path}: {probe.qualified}: a location outside the "
                       "file's loaded segments", errno.ENOEXEC)
    specs = [encode_spec(loc.args_text, cookie) for loc in probe.locations]
    return program.attach_usdt_multi(probe.path, f"{probe.path}:{probe.qualified}", offsets,
                                     probe.semaphore_offset or 0, specs, pid)


def attach_probe(program, probe: Probe, pid: int = -1, cookie: int = 0, multi: bool = None):
    """Attach `program` to a Probe found by find_probe()/probes(); the Link.
    pid -1 (every process running the binary) needs BPF cookies when the
    binary is position-independent (needs_pid()): MissingFeature otherwise.
    `multi`: the program was loaded for uprobe_multi links (default: its
    Program.multi; a caller passing a super() proxy, which does not see
    instance attributes, says it)."""
    require_uprobes()
    if not (pid and pid > 0) and needs_pid(probe):
        from ..core.errors import MissingFeature
        raise MissingFeature(
            f"{probe.path}: position-independent; its USDT probes can be attached in "
            "every process only with BPF cookies (Linux 5.15), which this kernel "
            "lacks: give a PID")
    if multi is None:
        multi = getattr(program, "multi", False)
    if multi:
        return _attach_multi(program, probe, pid, cookie)
    return program.attach_usdt(probe.path, probe.provider, probe.name,
                               pid=pid if pid and pid > 0 else -1, cookie=cookie)


def attach(program, provider: str, name: str, path: str = None, pid: int = -1,
           cookie: int = 0):
    """Attach `program` (a loaded Program from a SEC("usdt") function) to USDT
    probe provider:name in `path` and/or process `pid` (-1: every process
    running `path`).  Returns the Link; raises ElfError or AttachError."""
    p = find_probe(provider, name, path, pid if pid and pid > 0 else None)
    return attach_probe(program, p, pid, cookie)


def attach_any(program, candidates, path: str = None, pid: int = -1, cookie: int = 0):
    """Attach to the first of several (provider, name) probes that exists;
    returns the Link or raises the ElfError of the first candidate."""
    first = None
    for prov, nm in candidates:
        try:
            return attach(program, prov, nm, path, pid, cookie)
        except ElfError as e:
            first = first or e
    raise first

