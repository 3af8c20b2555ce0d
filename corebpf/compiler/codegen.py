"""A typed compiler from probe-spec expressions (corebpf.probespec) to eBPF.

The multi-tools build one program per probe with a CodeGen:

    cg = CodeGen(ProbeContext.tracepoint("syscalls", "sys_enter_openat"))
    cg.prologue()                      # r6 = ctx
    cg.pid_filter(tgid=1234)
    cg.filter(parse_expr("args->flags & 1"))
    cg.rvalue(node)                    # value in r0 (Ty says how to read it)
    cg.string_into(node, R9, 24, 80)   # NUL-terminated string into memory
    cg.epilogue()                      # label "out": r0 = 0; exit

Code shape: an accumulator machine.  Every expression leaves its value in
r0; a binary operator spills its left operand to a stack slot while the
right one is computed, so helper calls (which clobber r0-r5) can appear
anywhere.  r6 holds the context for the whole program, r7 the pid_tgid
of the prologue's filter, r8 is free for a tool, r9 holds a reserved ring
buffer record.  Types come from the running kernel's BTF (struct members
through pointer chains, function parameters), from tracefs formats
(tracepoint fields) and from signatures and casts the user writes.
Strings are read with bpf_probe_read_user_str for user memory (syscall
tracepoint pointers, uprobes, `expr@user`) and bpf_probe_read_kernel_str
otherwise.

ProbeContext describes the probe point (program type, how argN, retval and
tracepoint fields are read): tracepoints, kernel functions (kprobe, fentry),
user functions (uprobe: registers, user memory) and USDT locations (each
argument computed from its operand spec by the program itself).
"""
from __future__ import annotations

import os
import re

from ..core import kbtf
from .bpfasm import FP, R0, R1, R2, R3, R4, R5, R6, R7, Asm, reg
from .probespec import (Binary, Call, Cast, CType, Index, Member, Name, Num, SpecError, Str,
                        Unary, UserMem, Var)

STACK_LIMIT = 512


class CompileError(SpecError):
    """An expression that parses but cannot be compiled for this probe."""


# -- types ------------------------------------------------------------------------------------

class Ty:
    """Compile-time type: int, ptr, struct, array, void, or dloc (a tracepoint
    __data_loc string).  `space` says where a pointer points (kernel/user)."""

    __slots__ = ("kind", "size", "signed", "btf", "space", "n", "char", "_elem", "name")

    def __init__(self, kind, size=8, signed=False, btf=0, space="kernel", n=0, char=False,
                 elem=None, name=""):
        self.kind, self.size, self.signed, self.btf = kind, size, signed, btf
        self.space, self.n, self.char, self._elem, self.name = space, n, char, elem, name

    @staticmethod
    def int(size=8, signed=True, char=False, name=""):
        return Ty("int", size, signed, char=char, name=name)

    @property
    def elem(self):
        e = self._elem
        if callable(e):
            e = self._elem = e()
        return e

    def retarget(self, space):
        return Ty(self.kind, self.size, self.signed, self.btf, space, self.n, self.char,
                  self._elem, self.name)

    @property
    def is_scalar(self):
        return self.kind in ("int", "ptr")

    @property
    def is_string(self):
        """char pointer, char array or __data_loc string."""
        if self.kind == "dloc":
            return True
        if self.kind in ("ptr", "array"):
            e = self.elem
            return e is not None and e.kind == "int" and e.size == 1
        return False

    def __repr__(self):
        return f"Ty({self.kind}, {self.size}, {'s' if self.signed else 'u'}, {self.space})"


U64 = Ty.int(8, False, name="u64")
S64 = Ty.int(8, True, name="s64")

_INTS = {
    "char": (1, True), "signed char": (1, True), "unsigned char": (1, False),
    "short": (2, True), "short int": (2, True), "signed short": (2, True),
    "unsigned short": (2, False), "unsigned short int": (2, False),
    "int": (4, True), "signed": (4, True), "signed int": (4, True), "unsigned": (4, False),
    "unsigned int": (4, False), "long": (8, True), "long int": (8, True),
    "signed long": (8, True), "unsigned long": (8, False), "unsigned long int": (8, False),
    "long long": (8, True), "long long int": (8, True), "unsigned long long": (8, False),
    "unsigned long long int": (8, False), "bool": (1, False), "_Bool": (1, False),
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
    "s8": (1, True), "s16": (2, True), "s32": (4, True), "s64": (8, True),
    "__u8": (1, False), "__u16": (2, False), "__u32": (4, False), "__u64": (8, False),
    "__s8": (1, True), "__s16": (2, True), "__s32": (4, True), "__s64": (8, True),
    "uint8_t": (1, False), "uint16_t": (2, False), "uint32_t": (4, False),
    "uint64_t": (8, False), "int8_t": (1, True), "int16_t": (2, True), "int32_t": (4, True),
    "int64_t": (8, True), "size_t": (8, False), "ssize_t": (8, True), "loff_t": (8, True),
    "off_t": (8, True), "pid_t": (4, True), "uid_t": (4, False), "gid_t": (4, False),
    "dev_t": (4, False), "umode_t": (2, False), "mode_t": (4, False), "gfp_t": (4, False),
    "sector_t": (8, False), "uintptr_t": (8, False), "intptr_t": (8, True),
    "time_t": (8, True), "ino_t": (8, False), "uint": (4, False), "tid_t": (4, True),
}


def _strip_quals(base: str) -> str:
    return " ".join(w for w in base.split() if w not in ("const", "volatile", "restrict",
                                                         "__user"))


def btf_ty(tid: int, space: str = "kernel") -> Ty:
    """Ty of kernel BTF type `tid`."""
    kb = kbtf.vmlinux()
    if tid == 0:
        return Ty("void", 0)
    t = kb.resolve(tid)
    if t.kind == kbtf.INT:
        return Ty.int(t.size, t.signed, char=(t.size == 1 and "char" in t.name), name=t.name)
    if t.kind in (kbtf.ENUM, kbtf.ENUM64):
        return Ty.int(t.size, t.signed, name=t.name)
    if t.kind == kbtf.PTR:
        ref = t.ref
        return Ty("ptr", 8, False, btf=ref, space=space,
                  elem=lambda: btf_ty(ref, space), name=kb.type_name(tid))
    if t.kind in (kbtf.STRUCT, kbtf.UNION):
        return Ty("struct", t.size, btf=t.id, space=space, name=kb.type_name(t.id))
    if t.kind == kbtf.ARRAY:
        el = btf_ty(t.elem, space)
        return Ty("array", el.size * t.nelems, btf=t.id, space=space, n=t.nelems, elem=el,
                  name=kb.type_name(t.id))
    return Ty("void", 0, name=kb.type_name(tid))


def ctype_ty(ct, space: str = "kernel", pos=None, text="") -> Ty:
    """Ty of a C type the user wrote (cast, signature, argdist type)."""
    if isinstance(ct, str):
        m = re.match(r"^(.*?)(\**)$", ct.replace(" ", " ").strip())
        ct = CType(m.group(1).strip(), len(m.group(2)))
    base = _strip_quals(ct.base)
    if ct.ptr:
        inner = CType(ct.base, ct.ptr - 1)
        return Ty("ptr", 8, False, space=space,
                  elem=lambda: ctype_ty(inner, space, pos, text), name=str(ct))
    if base in _INTS:
        size, signed = _INTS[base]
        return Ty.int(size, signed, char=(size == 1 and "char" in base), name=base)
    if base == "void":
        return Ty("void", 0, name="void")
    kb = kbtf.vmlinux()
    words = base.split()
    if words[0] in ("struct", "union") and len(words) == 2:
        tid = kb.find_struct(words[1])
        if tid is None and space == "user":
            # a user-space struct the kernel's uapi spells __kernel_NAME
            # (struct timespec -> struct __kernel_timespec)
            tid = kb.find_struct("__kernel_" + words[1])
        if tid is None:
            raise CompileError(f"no {base} in the kernel's BTF", text, pos)
        return btf_ty(tid, space)
    if words[0] == "enum" and len(words) == 2:
        return Ty.int(4, False, name=base)
    tid = kb.find(base, kbtf.TYPEDEF) if len(words) == 1 else None
    if tid is None:
        raise CompileError(f"unknown type '{base}'", text, pos)
    return btf_ty(tid, space)


# -- probe contexts -----------------------------------------------------------------------------

_PT_REGS = {
    # x86_64 struct pt_regs: di si dx cx r8 r9, return value in ax
    "x86_64": ((112, 104, 96, 88, 72, 64), 80),
    # arm64 user_pt_regs: x0..x7, return value in x0
    "aarch64": ((0, 8, 16, 24, 32, 40, 48, 56), 0),
}


class TpField:
    __slots__ = ("name", "offset", "size", "ctype", "signed", "n", "data_loc", "ptr")

    def __repr__(self):
        return f"TpField({self.name}@{self.offset}/{self.size} {self.ctype})"


_FIELD_RE = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                       r"(?:\s*signed:(?P<signed>\d+);)?")


def tracepoint_fields(category: str, event: str) -> dict:
    """{name: TpField} of a tracepoint, from tracefs `format` (common_* left out)."""
    from ..core import features
    path = os.path.join(features.tracefs(), "events", category, event, "format")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise CompileError(f"no tracepoint {category}:{event}") from None
    out = {}
    for m in _FIELD_RE.finditer(text):
        decl = m.group("decl").strip()
        fld = TpField()
        fld.offset = int(m.group("off"))
        fld.size = int(m.group("size"))
        fld.signed = m.group("signed") == "1"
        fld.data_loc = decl.startswith("__data_loc")
        if fld.data_loc:
            decl = decl[len("__data_loc"):].strip()
        am = re.match(r"^(.*?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\[(\d*)\])?$", decl)
        if not am:
            continue
        ctype, name = am.group(1).strip(), am.group(2)
        if fld.data_loc and ctype.endswith("[]"):
            ctype = ctype[:-2].strip()
        fld.name = name
        fld.n = int(am.group(4)) if am.group(4) else (0 if am.group(3) is None else -1)
        fld.ptr = ctype.endswith("*")
        fld.ctype = ctype
        if not name.startswith("common_"):
            out[name] = fld
    return out


# struct pt_regs: byte offset of each register USDT operands name (by the base
# names corebpf.user.usdt.Argument gives them)
_USDT_REGS_OFF = {
    "x86_64": {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48,
               "r10": 56, "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104,
               "di": 112, "ip": 128, "sp": 152},
    # arm64: struct pt_regs starts with user_pt_regs { regs[31]; sp; pc; pstate; }
    "aarch64": {**{f"x{i}": 8 * i for i in range(31)}, "sp": 248, "ip": 256},
}


class ProbeContext:
    """Where a program runs and how its arguments are read.

    kind: tracepoint, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe,
    usdt.  `prog_type` is the genprog program kind.  `site` is what the
    caller attaches to (uprobes and USDT: a path and file offset).
    """

    def __init__(self, kind, name, display, prog_type, space="kernel"):
        self.kind = kind
        self.name = name              # category:event or function
        self.display = display        # FUNC column / label
        self.prog_type = prog_type
        self.space = space            # where pointer arguments point by default
        self.fields = {}
        self.params = []              # [(name, Ty)] of declared/BTF parameters
        self.nargs = None
        self.ret_ty = S64
        self.category = ""
        self.site = None
        self.usdt_args = None         # [(corebpf.usdt.Argument, ip delta or None)]
        # whose registers argN, retval and USDT operands name: this machine's
        # (uprobes reach native code only); tests set another
        self.machine = os.uname().machine

    # constructors
    @classmethod
    def tracepoint(cls, category: str, event: str) -> "ProbeContext":
        c = cls("tracepoint", f"{category}:{event}", event, "tracepoint")
        c.category = category
        c.fields = tracepoint_fields(category, event)
        # syscall tracepoints carry the syscall's user pointers
        c.space = "user" if category == "syscalls" else "kernel"
        return c

    @classmethod
    def kernel_function(cls, func: str, ret: bool, kind: str, signature=None,
                        text: str = "") -> "ProbeContext":
        """kind: 'kprobe' or 'fentry' (ret selects kretprobe / fexit)."""
        if kind == "kprobe":
            c = cls("kretprobe" if ret else "kprobe", func, func, "kprobe")
        else:
            c = cls("fexit" if ret else "fentry", func, func, "tracing")
        proto = None
        try:
            proto = kbtf.vmlinux().func_proto(func)
        except Exception:
            proto = None
        if proto is not None:
            c.nargs = len(proto)
            c.params = [(n, btf_ty(t)) for n, t in proto]
            rt = kbtf.vmlinux().func_return(func)
            c.ret_ty = btf_ty(rt) if rt else S64
            if c.ret_ty.kind == "void":
                c.ret_ty = S64
        elif kind == "fentry":
            raise CompileError(f"kernel function {func} has no BTF (needed for fentry)")
        if signature:
            c.params = [(n, ctype_ty(ct, "kernel", ct.pos, text)) for n, ct in signature]
        return c

    @classmethod
    def uprobe(cls, site, display: str, ret: bool = False, signature=None,
               text: str = "") -> "ProbeContext":
        """A user-space function entry (or return, ret=True): arguments in the
        registers of the calling convention, pointers into user memory.
        `site` is the caller's attach description (path, offset...)."""
        c = cls("uretprobe" if ret else "uprobe", display, display, "kprobe", space="user")
        c.site = site
        if signature:
            c.params = [(n, ctype_ty(ct, "user", ct.pos, text)) for n, ct in signature]
        return c

    @classmethod
    def usdt(cls, site, display: str, args, resolve_symbol=None,
             address: int = 0) -> "ProbeContext":
        """A USDT probe location: argN are the location's argument specs
        (corebpf.usdt.Argument), computed by the program itself from the
        registers and user memory.  `address` is the location's link-time
        address and resolve_symbol(name) a symbol's (for `sym(%rip)`
        operands: the program adds their distance to the probed ip)."""
        c = cls("usdt", display, display, "kprobe", space="user")
        c.site = site
        c.nargs = len(args)
        c.usdt_args = []
        for arg in args:
            delta = None
            if arg.ident is not None and arg.base == "ip" and resolve_symbol is not None:
                va = resolve_symbol(arg.ident)
                if va is not None:
                    delta = va + (arg.offset or 0) - address
            c.usdt_args.append((arg, delta))
        return c

    # code emission
    def load_arg(self, cg: "CodeGen", n: int, pos=None) -> Ty:
        """argN (1-based) into r0."""
        if self.kind == "tracepoint":
            raise CompileError("tracepoints have no argN; use args->field", cg.text, pos)
        if self.kind == "usdt":
            return self._usdt_arg(cg, n, pos)
        if n < 1 or n > 12:
            raise CompileError(f"no argument {n}", cg.text, pos)
        ty = self.params[n - 1][1] if n <= len(self.params) else U64
        if self.kind in ("kprobe", "kretprobe", "uprobe", "uretprobe"):
            regs = _PT_REGS.get(self.machine)
            if regs is None:
                raise CompileError(f"argN is not supported on {self.machine}",
                                   cg.text, pos)
            if n > len(regs[0]):
                raise CompileError(f"arg{n} is not in a register", cg.text, pos)
            cg.a.ldx(8, R0, R6, regs[0][n - 1])
        elif self.kind in ("fentry", "fexit"):
            if self.nargs is not None and n > self.nargs:
                raise CompileError(f"{self.name} has only {self.nargs} arguments",
                                   cg.text, pos)
            cg.a.ldx(8, R0, R6, 8 * (n - 1))
        else:
            raise CompileError(f"argN is not supported for {self.kind} probes", cg.text, pos)
        return cg.convert(ty) if ty.kind == "int" else ty

    def _usdt_arg(self, cg: "CodeGen", n: int, pos) -> Ty:
        """USDT argument n into r0, from its spec: a constant, a register, or
        memory at register + offset (+ index * scale), or a symbol relative
        to the instruction pointer; then truncated/extended to its size."""
        a = cg.a
        if n < 1 or n > len(self.usdt_args):
            raise CompileError(f"USDT probe {self.name} has {len(self.usdt_args)} "
                               f"argument(s), no arg{n}", cg.text, pos)
        arg, delta = self.usdt_args[n - 1]
        ty = Ty.int(arg.size if arg.size in (1, 2, 4, 8) else 8, arg.signed,
                    name=f"{'' if arg.signed else 'u'}int{8 * arg.size}_t")
        if arg.constant is not None:
            v = arg.constant & ((1 << 64) - 1)
            if v >= 1 << 31:
                a.ld_imm64(R0, v)
            else:
                a.mov(R0, v)
            return cg.convert(ty)
        regs = _USDT_REGS_OFF.get(self.machine)
        if regs is None:
            raise CompileError(f"USDT arguments are not supported on {self.machine} "
                               f"({arg.spec!r})", cg.text, pos)

        def reg_off(name):
            off = regs.get(name)
            if off is None:
                raise CompileError(f"USDT argument {arg.spec!r}: unknown register {name!r}",
                                   cg.text, pos)
            return off

        if arg.offset is None:                      # a register
            if arg.base is None:
                raise CompileError(f"USDT argument {arg.spec!r} is not understood",
                                   cg.text, pos)
            a.ldx(8, R0, R6, reg_off(arg.base))
            if self.machine == "x86_64" and re.search(r"%[abcd]h\b", arg.spec):   # bits 8-15
                a.alu(">>", R0, 8)
            return cg.convert(ty)
        if arg.base == "ip":
            if delta is None:
                raise CompileError(f"USDT argument {arg.spec!r}: cannot resolve "
                                   f"{arg.ident or 'the ip-relative address'}", cg.text, pos)
            a.ldx(8, R0, R6, reg_off("ip"))
            if -(1 << 31) <= delta < (1 << 31):
                a.alu("+", R0, delta)
            else:
                a.ld_imm64(R1, delta & ((1 << 64) - 1))
                a.alu("+", R0, reg(R1))
        else:
            a.ldx(8, R0, R6, reg_off(arg.base))
            if arg.offset:
                a.alu("+", R0, arg.offset)
            if arg.index:
                a.ldx(8, R1, R6, reg_off(arg.index))
                if arg.scale and arg.scale != 1:
                    a.alu("*", R1, arg.scale)
                a.alu("+", R0, reg(R1))
        if arg.size not in (1, 2, 4, 8):
            raise CompileError(f"USDT argument {arg.spec!r}: {arg.size}-byte values are "
                               "not supported", cg.text, pos)
        m = cg.mark()
        slot = cg.alloc(8)
        a.st(8, FP, slot, 0)
        a.mov(R3, reg(R0))
        a.mov(R1, reg(FP))
        a.alu("+", R1, slot)
        a.mov(R2, arg.size)
        a.call("probe_read_user")
        a.ldx(arg.size, R0, FP, slot)
        cg.release(m)
        return cg.convert(ty)

    def load_retval(self, cg: "CodeGen", pos=None) -> Ty:
        if self.kind in ("kretprobe", "uretprobe"):
            regs = _PT_REGS.get(self.machine)
            if regs is None:
                raise CompileError(f"retval is not supported on {self.machine}", cg.text, pos)
            cg.a.ldx(8, R0, R6, regs[1])
        elif self.kind == "fexit":
            cg.a.ldx(8, R0, R6, 8 * (self.nargs or 0))
        else:
            raise CompileError("retval is only available in return probes (r:)",
                               cg.text, pos)
        ty = self.ret_ty
        return cg.convert(ty) if ty.kind == "int" else ty


# -- locations ------------------------------------------------------------------------------------

class Loc:
    """Where an lvalue lives: ('ctx', off), ('stack', off) or ('mem', space) with
    the address in r0."""
    __slots__ = ("kind", "off", "space", "field")

    def __init__(self, kind, off=0, space="kernel", field=None):
        self.kind, self.off, self.space, self.field = kind, off, space, field


_CMP = {"==", "!=", "<", "<=", ">", ">="}
_SIGNED_CMP = {"<": "s<", "<=": "s<=", ">": "s>", ">=": "s>="}


class CodeGen:
    """Emit one program for one ProbeContext (see the module docstring)."""

    def __init__(self, ctx: ProbeContext, text: str = "", string_size: int = 80):
        self.ctx = ctx
        self.a = Asm()
        self.text = text              # the spec, for error positions
        self.string_size = string_size
        self.sp = 0                   # stack bytes in use
        self.max_sp = 0
        self.latency_slot = None      # set by a return probe that pairs with an entry
        self.entry_slots = None       # {param: (stack offset, Ty)}: $entry(param) values

    # -- stack ----------------------------------------------------------------------------
    def alloc(self, size: int) -> int:
        """A stack slot of `size` bytes (8-aligned); returns its offset from r10."""
        size = (size + 7) & ~7
        self.sp += size
        if self.sp > STACK_LIMIT:
            raise CompileError("the program needs more than the 512 bytes of BPF stack "
                               "(shorter strings? -z/-Z)", self.text, None)
        self.max_sp = max(self.max_sp, self.sp)
        return -self.sp

    def mark(self) -> int:
        return self.sp

    def release(self, mark: int):
        self.sp = mark

    def zero(self, base: int, off: int, size: int):
        """Zero `size` bytes (multiple of 8) at base+off."""
        for i in range(0, size, 8):
            self.a.st(8, base, off + i, 0)

    # -- frame ------------------------------------------------------------------------------
    def prologue(self):
        self.a.mov(R6, reg(R1))

    def epilogue(self):
        self.a.label("out")
        self.a.mov(R0, 0)
        self.a.exit()

    def pid_filter(self, tgid=None, tid=None, exclude_tgid=None, uid=None, cpu=None):
        """Return early unless the current task matches (r7 = pid_tgid after this)."""
        a = self.a
        if tgid is not None or tid is not None or exclude_tgid is not None:
            a.call("get_current_pid_tgid")
            a.mov(R7, reg(R0))
            if tid is not None:
                a.mov(R1, reg(R0), bits=32)
                a.jmp("!=", R1, tid, "out")
            if tgid is not None or exclude_tgid is not None:
                a.mov(R1, reg(R7))
                a.alu(">>", R1, 32)
                if tgid is not None:
                    a.jmp("!=", R1, tgid, "out")
                if exclude_tgid is not None:
                    a.jmp("==", R1, exclude_tgid, "out")
        if uid is not None:
            a.call("get_current_uid_gid")
            a.jmp("!=", R0, uid, "out", bits=32)     # uid: the low 32 bits, any u32
        if cpu is not None:
            a.call("get_smp_processor_id")
            a.jmp("!=", R0, cpu, "out", bits=32)

    def filter(self, node):
        """Return early unless `node` is true."""
        if node is None:
            return
        self.cond(node)
        self.a.jmp("==", R0, 0, "out")

    # -- conversions ------------------------------------------------------------------------
    def convert(self, ty: Ty) -> Ty:
        """Truncate/extend r0 to int type `ty` (then 64-bit in r0)."""
        if ty.kind != "int" or ty.size >= 8:
            return ty
        bits = ty.size * 8
        if ty.signed:
            self.a.alu("<<", R0, 64 - bits)
            self.a.alu("s>>", R0, 64 - bits)
        elif ty.size == 4:
            self.a.mov(R0, reg(R0), bits=32)
        else:
            self.a.alu("&", R0, (1 << bits) - 1)
        return ty

    def _read_helper(self, space: str, string: bool) -> str:
        return f"probe_read_{'user' if space == 'user' else 'kernel'}{'_str' if string else ''}"

    # -- lvalues ------------------------------------------------------------------------------
    def lvalue(self, n):
        """(Loc, Ty) of an lvalue expression; for Loc 'mem' the address is in r0."""
        ctx = self.ctx
        if isinstance(n, Member) and isinstance(n.expr, Name) and n.expr.name == "args" \
                and ctx.kind == "tracepoint" and "args" not in dict(ctx.params):
            if not n.arrow:
                raise CompileError("use args->field", self.text, n.pos)
            f = ctx.fields.get(n.name)
            if f is None:
                names = ", ".join(sorted(ctx.fields)) or "none"
                raise CompileError(f"{ctx.name} has no field '{n.name}' (fields: {names})",
                                   self.text, n.pos)
            return Loc("ctx", f.offset, ctx.space, f), self._field_ty(f)
        if isinstance(n, Member):
            if n.arrow:
                t = self.rvalue(n.expr)
                if t.kind != "ptr":
                    raise CompileError(f"'->' needs a pointer, '{n.expr.text()}' is "
                                       f"{t.name or t.kind}", self.text, n.pos)
                st = t.elem
                loc = Loc("mem", 0, t.space)
            else:
                loc, st = self.lvalue(n.expr)
            if st is None or st.kind != "struct":
                raise CompileError(f"'{n.expr.text()}' is not a struct", self.text, n.pos)
            m = kbtf.vmlinux().member(st.btf, n.name)
            if m is None:
                raise CompileError(f"{st.name} has no member '{n.name}'", self.text, n.pos)
            mtid, off, bits, _ = m
            if bits:
                raise CompileError(f"'{n.name}' is a bitfield (not supported)", self.text,
                                   n.pos)
            mty = btf_ty(mtid, loc.space)
            if loc.kind == "mem":
                if off:
                    self.a.alu("+", R0, off)
                return Loc("mem", 0, loc.space), mty
            return Loc(loc.kind, loc.off + off, loc.space), mty
        if isinstance(n, Unary) and n.op == "*":
            t = self.rvalue(n.expr)
            if t.kind != "ptr":
                raise CompileError("'*' needs a pointer", self.text, n.pos)
            el = t.elem
            if el is None or el.kind == "void":
                raise CompileError("cannot dereference a void pointer", self.text, n.pos)
            return Loc("mem", 0, t.space), el
        if isinstance(n, Index):
            if isinstance(n.index, Num):
                idx = n.index.value
                bloc, bty = self._base_of_index(n)
                el = bty.elem
                if bloc.kind != "mem":
                    return Loc(bloc.kind, bloc.off + idx * el.size, bloc.space,
                               bloc.field), el
                if idx:
                    self.a.mov(R1, idx * el.size)
                    self.a.alu("+", R0, reg(R1))
                return bloc, el
            m = self.mark()
            bloc, bty = self._base_of_index(n)
            if bloc.kind != "mem":
                raise CompileError("a tracepoint array needs a constant index", self.text,
                                   n.pos)
            slot = self.alloc(8)
            self.a.stx(8, FP, slot, R0)
            self.rvalue(n.index)
            el = bty.elem
            self.a.alu("*", R0, el.size)
            self.a.ldx(8, R1, FP, slot)
            self.a.alu("+", R0, reg(R1))
            self.release(m)
            return Loc("mem", 0, bloc.space), el
        raise CompileError(f"'{n.text()}' is not something that can be read from memory",
                           self.text, n.pos)

    def _base_of_index(self, n):
        if isinstance(n.expr, (Member, Index)) or (isinstance(n.expr, Unary)
                                                     and n.expr.op == "*"):
            loc, ty = self.lvalue(n.expr)
            if ty.kind == "array":
                return loc, ty
            if ty.kind == "ptr":
                self._load(loc, ty, n.pos)
                return Loc("mem", 0, ty.space), ty
            raise CompileError("only arrays and pointers can be indexed", self.text, n.pos)
        ty = self.rvalue(n.expr)
        if ty.kind != "ptr":
            raise CompileError("only arrays and pointers can be indexed", self.text, n.pos)
        return Loc("mem", 0, ty.space), ty

    def _field_ty(self, f: TpField) -> Ty:
        space = self.ctx.space
        if f.data_loc:
            return Ty("dloc", 4, name=f"__data_loc {f.ctype}[]")
        base = _strip_quals(f.ctype)
        if f.n:
            n = f.n if f.n > 0 else 0
            esize = f.size // n if n else 1
            size, signed = _INTS.get(base, (esize, f.signed))
            el = Ty.int(size, signed, char=(size == 1 and "char" in base), name=base)
            return Ty("array", f.size, space="kernel", n=n, elem=el, name=f.ctype)
        if f.ptr:
            inner = f.ctype[:-1].strip()
            ct = CType(_strip_quals(inner).rstrip("*").strip(), inner.count("*"))

            def elem(ct=ct, space=space):
                try:
                    return ctype_ty(ct, space)
                except CompileError:
                    return Ty("void", 0)
            return Ty("ptr", 8, False, space=space, elem=elem, name=f.ctype)
        if base in _INTS:
            size, signed = _INTS[base]
            if size > f.size:
                size = f.size
            return Ty.int(size, signed, char=(size == 1 and "char" in base), name=base)
        return Ty.int(f.size if f.size in (1, 2, 4, 8) else 8, f.signed, name=base)

    def _load(self, loc: Loc, ty: Ty, pos) -> Ty:
        """Read the scalar lvalue at loc into r0."""
        if ty.kind == "dloc":
            raise CompileError("a __data_loc string can only be printed (%s) or compared "
                               "with a string", self.text, pos)
        if ty.kind == "array":
            if loc.kind == "mem":
                el = ty.elem
                return Ty("ptr", 8, False, space=loc.space, elem=el,
                          name=f"{el.name} *")
            raise CompileError("an array field can only be printed (%s), compared with a "
                               "string or indexed", self.text, pos)
        if ty.kind == "struct":
            raise CompileError(f"'{ty.name}' is a struct; pick a member with . or ->",
                               self.text, pos)
        if ty.kind == "void":
            raise CompileError("cannot read a void value", self.text, pos)
        size = ty.size
        read = size
        if loc.kind == "ctx" and loc.field is not None and loc.field.size in (1, 2, 4, 8):
            read = loc.field.size if loc.field.size >= size else size
        if read not in (1, 2, 4, 8):
            raise CompileError(f"cannot read a {size}-byte value", self.text, pos)
        if loc.kind == "ctx":
            self.a.ldx(read, R0, R6, loc.off)
        elif loc.kind == "stack":
            self.a.ldx(read, R0, FP, loc.off)
        else:
            m = self.mark()
            slot = self.alloc(8)
            self.a.mov(R3, reg(R0))
            self.a.mov(R1, reg(FP))
            self.a.alu("+", R1, slot)
            self.a.mov(R2, read)
            self.a.call(self._read_helper(loc.space, False))
            self.a.ldx(read, R0, FP, slot)
            self.release(m)
        return self.convert(ty) if ty.kind == "int" else ty

    # -- rvalues --------------------------------------------------------------------------------
    def rvalue(self, n) -> Ty:
        """Compile expression n; its value ends in r0."""
        a = self.a
        if isinstance(n, Num):
            v = n.value
            if v >= 1 << 63:
                a.ld_imm64(R0, v)
                return U64
            a.mov(R0, v)
            return Ty.int(8, True, name="literal")
        if isinstance(n, Str):
            raise CompileError("a string literal can only be compared (== \"...\", STRCMP) "
                               "or printed", self.text, n.pos)
        if isinstance(n, Name):
            return self._name(n)
        if isinstance(n, Var):
            return self._var(n)
        if isinstance(n, UserMem):
            t = self.rvalue(n.expr)
            return t.retarget("user")
        if isinstance(n, Cast):
            t = self.rvalue(n.expr)
            target = ctype_ty(n.ctype, t.space if t.kind == "ptr" else self.ctx.space,
                              n.ctype.pos, self.text)
            if target.kind == "int":
                return self.convert(target)
            if target.kind == "ptr":
                return target
            raise CompileError(f"cannot cast to {n.ctype}", self.text, n.pos)
        if isinstance(n, Unary):
            if n.op == "*":
                loc, ty = self.lvalue(n)
                return self._load(loc, ty, n.pos)
            t = self.rvalue(n.expr)
            if n.op == "-":
                a.neg(R0)
                return S64
            if n.op == "~":
                a.alu("^", R0, -1)
                return Ty.int(8, t.signed)
            if n.op == "!":
                self._bool_of_r0(negate=True)
                return Ty.int(8, True)
        if isinstance(n, Binary):
            return self._binary(n)
        if isinstance(n, (Member, Index)):
            loc, ty = self.lvalue(n)
            return self._load(loc, ty, n.pos)
        if isinstance(n, Call):
            return self._call(n)
        raise CompileError(f"cannot compile '{n.text()}'", self.text, getattr(n, "pos", None))

    def _bool_of_r0(self, negate=False):
        lbl = self.a.new_label("B")
        self.a.mov(R1, reg(R0))
        self.a.mov(R0, 0 if negate else 1)
        self.a.jmp("!=", R1, 0, lbl)
        self.a.mov(R0, 1 if negate else 0)
        self.a.label(lbl)

    def cond(self, n):
        """Compile a condition: r0 = 0 or nonzero."""
        t = self.rvalue(n)
        if t.kind not in ("int", "ptr"):
            raise CompileError("a condition must be a number or pointer", self.text, n.pos)

    def _name(self, n: Name) -> Ty:
        ctx = self.ctx
        name = n.name
        params = [p for p, _ in ctx.params]
        if name in params and name not in ("retval",):
            if ctx.kind in ("kretprobe", "uretprobe"):
                raise CompileError(f"'{name}' is gone when the function returns: use "
                                   f"$entry({name})", self.text, n.pos)
            return ctx.load_arg(self, params.index(name) + 1, n.pos)
        m = re.fullmatch(r"arg(\d+)", name)
        if m:
            return ctx.load_arg(self, int(m.group(1)), n.pos)
        if name == "retval":
            return ctx.load_retval(self, n.pos)
        if name == "args" and ctx.kind == "tracepoint":
            raise CompileError("args is the tracepoint record; use args->field", self.text,
                               n.pos)
        raise CompileError(f"unknown name '{name}'", self.text, n.pos)

    def _var(self, n: Var) -> Ty:
        a = self.a
        v = n.name
        low = v.lower()
        if low in ("$tgid",) or v == "$PID":
            a.call("get_current_pid_tgid")
            a.alu(">>", R0, 32)
            return Ty.int(4, False, name="u32")
        if low in ("$tid",) or v == "$pid":
            # bcc's trace: $pid is the thread id (the kernel's pid)
            a.call("get_current_pid_tgid")
            a.mov(R0, reg(R0), bits=32)
            return Ty.int(4, False, name="u32")
        if low == "$uid":
            a.call("get_current_uid_gid")
            a.mov(R0, reg(R0), bits=32)
            return Ty.int(4, False, name="u32")
        if low == "$gid":
            a.call("get_current_uid_gid")
            a.alu(">>", R0, 32)
            return Ty.int(4, False, name="u32")
        if low == "$cpu":
            a.call("get_smp_processor_id")
            return Ty.int(4, False, name="u32")
        if low == "$task":
            a.call("get_current_task")
            tid = kbtf.vmlinux().find_struct("task_struct")
            return Ty("ptr", 8, False, btf=tid or 0, space="kernel",
                      elem=lambda: btf_ty(tid) if tid else Ty("void", 0),
                      name="struct task_struct *")
        if low == "$retval":
            return self.ctx.load_retval(self, n.pos)
        if low == "$latency":
            if self.latency_slot is None:
                raise CompileError("$latency is only available in return probes (r:)",
                                   self.text, n.pos)
            a.ldx(8, R0, FP, self.latency_slot)
            return U64
        if low == "$comm":
            raise CompileError("$COMM is a string: print it or compare it with a string",
                               self.text, n.pos)
        raise CompileError(f"unknown variable '{v}'", self.text, n.pos)

    def _call(self, n: Call) -> Ty:
        if n.name == "STRCMP":
            if len(n.args) != 2 or not isinstance(n.args[0], Str):
                raise CompileError('STRCMP takes a "literal" and an expression', self.text,
                                   n.pos)
            self.strcmp(n.args[0].value, n.args[1])
            return Ty.int(8, True)
        if n.name == "$entry":
            pname = n.args[0].name
            if self.entry_slots is None:
                raise CompileError("$entry() is only available in return probes (r:)",
                                   self.text, n.pos)
            if pname not in self.entry_slots:
                raise CompileError(f"$entry({pname}): no such parameter in the signature",
                                   self.text, n.pos)
            off, ty = self.entry_slots[pname]
            self.a.ldx(8, R0, FP, off)
            return self.convert(ty) if ty.kind == "int" else ty
        raise CompileError(f"unknown function '{n.name}'", self.text, n.pos)

    def _is_stringy(self, n) -> bool:
        if isinstance(n, Str):
            return True
        if isinstance(n, Var) and n.name.lower() == "$comm":
            return True
        return False

    def _binary(self, n: Binary) -> Ty:
        a = self.a
        op = n.op
        if op in ("&&", "||"):
            end = a.new_label("L")
            self.cond(n.left)
            self._bool_of_r0()
            a.jmp("==" if op == "&&" else "!=", R0, 0, end)
            self.cond(n.right)
            self._bool_of_r0()
            a.label(end)
            return Ty.int(8, True)
        if op in ("==", "!=") and (isinstance(n.left, Str) or isinstance(n.right, Str)):
            lit, other = (n.left, n.right) if isinstance(n.left, Str) else (n.right, n.left)
            if isinstance(other, Str):
                res = lit.value == other.value
                a.mov(R0, int(res if op == "==" else not res))
                return Ty.int(8, True)
            self.strcmp(lit.value, other)
            if op == "!=":
                a.alu("^", R0, 1)
            return Ty.int(8, True)
        m = self.mark()
        lt = self.rvalue(n.left)
        slot = self.alloc(8)
        a.stx(8, FP, slot, R0)
        rt = self.rvalue(n.right)
        a.mov(R1, reg(R0))
        a.ldx(8, R0, FP, slot)
        self.release(m)
        signed = _signed(lt, n.left) and _signed(rt, n.right)
        if op in _CMP:
            lbl = a.new_label("C")
            jop = _SIGNED_CMP.get(op, op) if signed else op
            a.mov(R2, reg(R0))
            a.mov(R0, 1)
            a.jmp(jop, R2, reg(R1), lbl)
            a.mov(R0, 0)
            a.label(lbl)
            return Ty.int(8, True)
        if op == ">>" and signed and lt.signed:
            a.alu("s>>", R0, reg(R1))
        elif op in ("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"):
            a.alu(op, R0, reg(R1))
        else:
            raise CompileError(f"operator {op} is not supported", self.text, n.pos)
        if lt.kind == "ptr" and op in ("+", "-") and rt.kind == "int":
            return lt
        return Ty.int(8, signed)

    # -- strings --------------------------------------------------------------------------------
    def string_into(self, n, base: int, off: int, size: int):
        """Write the string value of n (NUL-terminated, at most size-1 chars) to
        base+off; base is r10 (stack) or r9 (a ring buffer record)."""
        a = self.a
        if isinstance(n, Str):
            data = n.value[:size - 1] + b"\0"
            for i in range(0, len(data), 4):
                chunk = data[i:i + 4]
                if len(chunk) == 4:
                    a.st(4, base, off + i, int.from_bytes(chunk, "little", signed=True))
                else:
                    for j, b in enumerate(chunk):
                        a.st(1, base, off + i + j, b)
            return
        if isinstance(n, Var) and n.name.lower() == "$comm":
            a.mov(R1, reg(base))
            a.alu("+", R1, off)
            a.mov(R2, min(size, 16))
            a.call("get_current_comm")
            return
        src_space = None
        if isinstance(n, (Member, Index)) or (isinstance(n, Unary) and n.op == "*"):
            loc, ty = self.lvalue(n)
            if ty.kind == "dloc":
                a.ldx(4, R3, R6, loc.off)
                a.alu("&", R3, 0xFFFF)
                a.alu("+", R3, reg(R6))
                src_space, limit = "kernel", size
            elif ty.kind == "array":
                if loc.kind == "ctx":
                    a.mov(R3, reg(R6))
                    a.alu("+", R3, loc.off)
                    src_space = "kernel"
                elif loc.kind == "stack":
                    a.mov(R3, reg(FP))
                    a.alu("+", R3, loc.off)
                    src_space = "kernel"
                else:
                    a.mov(R3, reg(R0))
                    src_space = loc.space
                limit = min(size, ty.n) if ty.n else size
            else:
                t = self._load(loc, ty, n.pos)
                a.mov(R3, reg(R0))
                src_space, limit = t.space, size
        else:
            t = self.rvalue(n)
            if t.kind not in ("int", "ptr"):
                raise CompileError(f"'{n.text()}' is not a string", self.text, n.pos)
            a.mov(R3, reg(R0))
            src_space = t.space if t.kind == "ptr" else (
                "user" if isinstance(n, UserMem) else self.ctx.space)
            limit = size
        a.mov(R1, reg(base))
        a.alu("+", R1, off)
        a.mov(R2, limit)
        a.call(self._read_helper(src_space, True))

    def strcmp(self, lit: bytes, n):
        """r0 = 1 if the string value of n equals lit, else 0."""
        a = self.a
        m = self.mark()
        size = len(lit) + 2         # room to see that a longer string differs
        buf = self.alloc(size)
        self.zero(FP, buf, (size + 7) & ~7)
        self.string_into(n, FP, buf, size)
        lbl = a.new_label("S")
        a.mov(R0, 0)
        for i, b in enumerate(lit + b"\0"):
            a.ldx(1, R1, FP, buf + i)
            a.jmp("!=", R1, b, lbl)
        a.mov(R0, 1)
        a.label(lbl)
        self.release(m)

    # -- maps and histograms ------------------------------------------------------------------
    def log2_r0(self):
        """r0 = bcc's log2 slot of r0 (0 and 1 -> 1, [2^(k-1), 2^k-1] -> k)."""
        a = self.a
        a.mov(R1, reg(R0))
        a.mov(R0, 0)
        for shift in (32, 16, 8, 4, 2, 1):
            lbl = a.new_label("G")
            a.mov(R2, reg(R1))
            a.alu(">>", R2, shift)
            a.jmp("==", R2, 0, lbl)
            a.alu("+", R0, shift)
            a.mov(R1, reg(R2))
            a.label(lbl)
        a.alu("+", R0, 1)

    def map_update(self, map_fd: int, map_name: str, key_off: int, value_off: int,
                   flags: int = 0):
        """map_update_elem(map, fp + key_off, fp + value_off, flags) (0: BPF_ANY,
        1: BPF_NOEXIST); R0 is its result, R1-R5 clobbered."""
        a = self.a
        a.ld_map_fd(R1, map_fd, map_name)
        a.mov(R2, reg(FP))
        a.alu("+", R2, key_off)
        a.mov(R3, reg(FP))
        a.alu("+", R3, value_off)
        a.mov(R4, flags)
        a.call("map_update_elem")

    def map_add(self, map_fd: int, map_name: str, key_off: int, delta=1, hash_map=False,
                value_size=8):
        """*map[key at fp+key_off] += delta (a register via reg() or an int);
        hash maps get the key created first.  Clobbers r0-r5."""
        a = self.a
        done = a.new_label("M")
        have = a.new_label("M")
        dslot = None
        if not isinstance(delta, int) or hasattr(delta, "n"):
            dslot = self.alloc(8)
            a.stx(8, FP, dslot, delta)
        a.ld_map_fd(R1, map_fd, map_name)
        a.mov(R2, reg(FP))
        a.alu("+", R2, key_off)
        a.call("map_lookup_elem")
        a.jmp("!=", R0, 0, have)
        if hash_map:
            zslot = self.alloc(value_size)
            self.zero(FP, zslot, (value_size + 7) & ~7)
            self.map_update(map_fd, map_name, key_off, zslot, 1)     # BPF_NOEXIST
            a.ld_map_fd(R1, map_fd, map_name)
            a.mov(R2, reg(FP))
            a.alu("+", R2, key_off)
            a.call("map_lookup_elem")
            a.jmp("==", R0, 0, done)
        else:
            a.ja(done)
        a.label(have)
        if dslot is not None:
            a.ldx(8, R1, FP, dslot)
        else:
            a.mov(R1, delta)
        a.atomic_add(8, R0, 0, R1)
        a.label(done)

    def task_cgroup_id(self):
        """r0 = the current task's cgroup id, as cgroupid.bpf.h's
        task_cgroup_id() (--containers): its v2 cgroup's kernfs id when the
        task is below the v2 root, else its v1 `pids` (or `memory`)
        cgroup's kernfs id | CGROUP_ID_V1 (bit 63), else the v2 root's; 0
        without a css_set.  Offsets and the controller's index come from
        the running kernel's BTF.  Clobbers r1-r5 (three stack slots, freed
        after)."""
        a = self.a
        kb = kbtf.vmlinux()
        off = {}
        for struct, field in (("task_struct", "cgroups"), ("css_set", "dfl_cgrp"),
                              ("css_set", "subsys"), ("cgroup", "level"), ("cgroup", "kn"),
                              ("kernfs_node", "id"), ("cgroup_subsys_state", "cgroup")):
            sid = kb.find_struct(struct)
            m = kb.member(sid, field) if sid else None
            if m is None:
                raise CompileError(f"--containers: the kernel's BTF has no {struct}.{field}",
                                   self.text, None)
            off[field] = m[1]
        ss = kb.enum_value("cgroup_subsys_id", "pids_cgrp_id")
        if ss is None:
            ss = kb.enum_value("cgroup_subsys_id", "memory_cgrp_id")
        mark = self.mark()
        tmp, cset, dfl = self.alloc(8), self.alloc(8), self.alloc(8)
        v2, done = a.new_label("CG"), a.new_label("CG")

        def read(base_slot, field, extra=0, size=8):
            # r0 = *(base + off): probe_read_kernel (which zeroes on a fault)
            a.st(8, FP, tmp, 0)
            a.mov(R1, reg(FP))
            a.alu("+", R1, tmp)
            a.mov(R2, size)
            if base_slot is None:
                a.mov(R3, reg(R0))
            else:
                a.ldx(8, R3, FP, base_slot)
            a.alu("+", R3, off[field] + extra)
            a.call("probe_read_kernel")
            a.ldx(size, R0, FP, tmp)

        a.call("get_current_task")
        read(None, "cgroups")
        a.stx(8, FP, cset, R0)
        a.jmp("==", R0, 0, done)
        read(cset, "dfl_cgrp")
        a.stx(8, FP, dfl, R0)
        a.jmp("==", R0, 0, done)
        read(dfl, "level", size=4)
        a.jmp(">", R0, 0, v2)
        if ss is not None and 0 <= ss < 16:
            read(cset, "subsys", extra=8 * ss)
            a.jmp("==", R0, 0, v2)
            read(None, "cgroup")                  # the controller's cgroup
            a.jmp("==", R0, 0, v2)
            a.ldx(8, R1, FP, dfl)
            a.jmp("==", R0, reg(R1), v2)          # not mounted on v1: v2's own
            read(None, "kn")
            read(None, "id")
            a.mov(R1, 1)
            a.alu("<<", R1, 63)
            a.alu("|", R0, reg(R1))
            a.ja(done)
        a.label(v2)
        read(dfl, "kn")
        read(None, "id")
        a.label(done)
        self.release(mark)

    def ktime_into(self, off: int):
        self.a.call("ktime_get_ns")
        self.a.stx(8, FP, off, R0)


# -- user stack dumps (--unwind dwarf) ----------------------------------------------------------
# The run-time twin of bpf_src/ustack.bpf.h (generated programs have no C
# compiler): the same struct ustack_dump layout, limits and page-by-page copy.
USTACK_MAX = 65536
USTACK_PAGE = 4096
# struct pt_regs slots per architecture: (number copied, stack pointer slot)
USTACK_REGS = {"x86_64": (21, 19), "aarch64": (34, 31)}


def ustack_layout(machine: str = None) -> tuple:
    """(nregs, bytes of struct ustack_dump before data[]) of this machine."""
    nregs, _ = USTACK_REGS.get(machine or os.uname().machine, USTACK_REGS["x86_64"])
    return nregs, nregs * 8 + 8


def ustack_dump_size(machine: str = None) -> int:
    """sizeof(struct ustack_dump): the header and the largest copy, plus a page."""
    return ustack_layout(machine)[1] + USTACK_MAX + USTACK_PAGE


def emit_ustack_capture(cg: "CodeGen", rec: int, off: int, limit: int):
    """Fill the struct ustack_dump at [rec + off] (rec: a register holding a
    map value pointer of at least off + ustack_dump_size() bytes, kept across
    calls: r8 or r9) with the user registers of the current task and up to
    `limit` bytes of its user stack, one page per read (a stack ending
    sooner is copied up to its end).  Leaves the bytes copied in r0;
    clobbers r1-r5 and two stack slots.  ustack_capture() of ustack.bpf.h."""
    a = cg.a
    machine = getattr(cg.ctx, "machine", None) or os.uname().machine
    nregs, sp_slot = USTACK_REGS.get(machine, USTACK_REGS["x86_64"])
    _, data = ustack_layout(machine)
    size_at, flags_at, data_at = off + nregs * 8, off + nregs * 8 + 4, off + data
    limit = max(0, min(int(limit), USTACK_MAX))
    s_off, s_sp, s_n = cg.alloc(8), cg.alloc(8), cg.alloc(8)
    done, fin = a.new_label("U"), a.new_label("U")
    a.mov(R1, 0)
    a.stx(8, FP, s_off, R1)
    a.st(4, rec, size_at, 0)
    a.st(4, rec, flags_at, 1)                         # USTACK_NONE until regs are read
    a.call("get_current_task_btf")
    a.ldx(8, R1, R0, _task_mm_offset())
    a.jmp("==", R1, 0, fin)                           # a kernel thread: no user stack
    a.mov(R1, reg(R0))
    a.call("task_pt_regs")
    a.mov(R3, reg(R0))
    a.mov(R1, reg(rec))
    a.alu("+", R1, off)
    a.mov(R2, nregs * 8)
    a.call("probe_read_kernel")
    a.jmp("!=", R0, 0, fin)
    a.st(4, rec, flags_at, 0)
    a.ldx(8, R1, rec, off + sp_slot * 8)
    a.stx(8, FP, s_sp, R1)
    for _ in range(USTACK_MAX // USTACK_PAGE + 1):
        a.ldx(8, R4, FP, s_off)
        a.jmp(">=", R4, limit, done)
        a.ldx(8, R3, FP, s_sp)
        a.alu("+", R3, reg(R4))                      # addr = sp + off
        a.mov(R5, reg(R3))
        a.alu("&", R5, USTACK_PAGE - 1)
        a.mov(R2, USTACK_PAGE)
        a.alu("-", R2, reg(R5))                      # n = to the end of addr's page
        a.mov(R5, limit)
        a.alu("-", R5, reg(R4))
        skip = a.new_label("U")
        a.jmp("<=", R2, reg(R5), skip)
        a.mov(R2, reg(R5))                           # ... or to the limit
        a.label(skip)
        a.jmp("==", R2, 0, done)
        a.jmp(">", R2, USTACK_PAGE, done)            # bounds for the verifier
        a.alu("&", R4, USTACK_MAX - 1)
        a.stx(8, FP, s_n, R2)
        a.mov(R1, reg(rec))
        a.alu("+", R1, data_at)
        a.alu("+", R1, reg(R4))
        a.call("probe_read_user")
        a.jmp("!=", R0, 0, done)
        a.ldx(8, R4, FP, s_off)
        a.ldx(8, R2, FP, s_n)
        a.alu("+", R4, reg(R2))
        a.stx(8, FP, s_off, R4)
    a.label(done)
    a.ldx(8, R0, FP, s_off)
    a.stx(4, rec, size_at, R0)
    a.label(fin)
    a.ldx(8, R0, FP, s_off)


def _task_mm_offset() -> int:
    """Byte offset of task_struct.mm in the running kernel (its BTF)."""
    kb = kbtf.vmlinux()
    m = kb.member(kb.find_struct("task_struct"), "mm")
    if m is None:
        raise CompileError("the kernel's BTF has no task_struct.mm", "", None)
    return m[1]


def _signed(t: Ty, node) -> bool:
    if isinstance(node, Num):
        return True
    return t.kind == "int" and t.signed
