"""eBPF instructions: encoding, a label-resolving assembler and a disassembler.

    a = Asm()
    a.mov(R6, R1)                       # r6 = ctx
    a.call(HELPER["get_current_pid_tgid"])
    a.rsh(R0, 32)
    a.jmp("!=", R0, 1234, "out")        # labels are resolved by assemble()
    ...
    a.label("out")
    a.mov(R0, 0)
    a.exit()
    insns = a.assemble()                # [Insn]; encode(insns) -> bytes

Pure Python, no kernel and no libbpf: the code generator of the multi-tools
(trace, argdist, funccount, ...) builds programs with it, and `--ebpf`
prints them with `disasm()` in the syntax llvm-objdump and the verifier use.
An instruction is the kernel's `struct bpf_insn`: 8 bytes, little endian:
opcode, dst (low nibble) / src (high nibble), signed 16-bit offset, signed
32-bit immediate.  LD_IMM64 takes two slots.
"""
from __future__ import annotations

import collections
import struct

# instruction classes
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# sizes
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
SIZE_BYTES = {W: 4, H: 2, B: 1, DW: 8}
BYTES_SIZE = {4: W, 2: H, 1: B, 8: DW}
# modes
IMM, ABS, IND, MEM, ATOMIC = 0x00, 0x20, 0x40, 0x60, 0xC0
_ATOMIC_OP = {0x00: "+=", 0x40: "|=", 0x50: "&=", 0xA0: "^=", 0xE0: "xchg", 0xF0: "cmpxchg"}
# source
K, X = 0x00, 0x08

ALU_OPS = {"+": 0x00, "-": 0x10, "*": 0x20, "/": 0x30, "|": 0x40, "&": 0x50,
           "<<": 0x60, ">>": 0x70, "neg": 0x80, "%": 0x90, "^": 0xA0, "mov": 0xB0,
           "s>>": 0xC0, "end": 0xD0}
_ALU_NAMES = {v: k for k, v in ALU_OPS.items()}
JMP_OPS = {"ja": 0x00, "==": 0x10, ">": 0x20, ">=": 0x30, "&": 0x40, "!=": 0x50,
           "s>": 0x60, "s>=": 0x70, "call": 0x80, "exit": 0x90, "<": 0xA0, "<=": 0xB0,
           "s<": 0xC0, "s<=": 0xD0}
_JMP_NAMES = {v: k for k, v in JMP_OPS.items()}
# the condition that is true when `op` is false (for "skip unless" jumps)
NEGATE = {"==": "!=", "!=": "==", ">": "<=", "<=": ">", ">=": "<", "<": ">=",
          "s>": "s<=", "s<=": "s>", "s>=": "s<", "s<": "s>="}

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
FP = R10
PSEUDO_MAP_FD = 1
PSEUDO_CALL = 1

# helper ids (include/uapi/linux/bpf.h, stable ABI)
HELPER = {
    "map_lookup_elem": 1, "map_update_elem": 2, "map_delete_elem": 3, "probe_read": 4,
    "ktime_get_ns": 5, "trace_printk": 6, "get_prandom_u32": 7, "get_smp_processor_id": 8,
    "tail_call": 12, "get_current_pid_tgid": 14, "get_current_uid_gid": 15,
    "get_current_comm": 16, "perf_event_output": 25, "get_stackid": 27,
    "get_current_task": 35, "current_task_under_cgroup": 37, "probe_read_str": 45,
    "get_stack": 67,
    "probe_read_user": 112, "probe_read_kernel": 113, "probe_read_user_str": 114,
    "probe_read_kernel_str": 115, "ringbuf_output": 130, "ringbuf_reserve": 131,
    "ringbuf_submit": 132, "ringbuf_discard": 133, "get_func_ip": 173,
    "get_attach_cookie": 174, "task_pt_regs": 175, "get_current_task_btf": 158, "ktime_get_boot_ns": 125,
    "get_func_arg": 183, "get_func_ret": 184, "get_func_arg_cnt": 185,
}
HELPER_NAMES = {v: k for k, v in HELPER.items()}


class AsmError(ValueError):
    """Malformed instruction request (a code generator bug, not user input)."""


class Insn(collections.namedtuple("Insn", "code dst src off imm")):
    """One 8-byte slot of `struct bpf_insn`."""
    __slots__ = ()

    def encode(self) -> bytes:
        return struct.pack("<BBhi", self.code, (self.src << 4) | self.dst, self.off, self.imm)

    @classmethod
    def decode(cls, data: bytes, pos: int = 0) -> "Insn":
        code, regs, off, imm = struct.unpack_from("<BBhi", data, pos)
        return cls(code, regs & 0xF, regs >> 4, off, imm)


def encode(insns) -> bytes:
    """Bytes of a list of Insn (what BPF_PROG_LOAD takes)."""
    return b"".join(i.encode() for i in insns)


def decode(data: bytes) -> list:
    """Insns of raw program bytes."""
    return [Insn.decode(data, p) for p in range(0, len(data) - len(data) % 8, 8)]


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def fits_imm(v: int) -> bool:
    """True if v is representable as a sign-extended 32-bit immediate."""
    return -(1 << 31) <= v < (1 << 31)


def _reg(r) -> int:
    if not isinstance(r, int) or not 0 <= r <= 10:
        raise AsmError(f"bad register {r!r}")
    return r


class Asm:
    """Instruction list under construction; jumps name labels, resolved at assemble()."""

    def __init__(self):
        self.insns = []          # Insn, or (Insn, label) for jumps pending resolution
        self.labels = {}         # name -> index
        self.notes = {}          # index -> comment shown by disasm
        self.maps = {}           # fd -> map name (for disasm of map loads)
        self._n = 0

    def __len__(self):
        return len(self.insns)

    # -- labels ---------------------------------------------------------------
    def new_label(self, hint: str = "L") -> str:
        self._n += 1
        return f"{hint}{self._n}"

    def label(self, name: str):
        if name in self.labels:
            raise AsmError(f"label {name} defined twice")
        self.labels[name] = len(self.insns)

    def note(self, text: str):
        """Attach a comment to the next instruction (shown by disasm)."""
        self.notes[len(self.insns)] = text

    # -- raw --------------------------------------------------------------------
    def emit(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0):
        if not -(1 << 15) <= off < (1 << 15):
            raise AsmError(f"offset {off} out of range")
        self.insns.append(Insn(code, _reg(dst), _reg(src) if src <= 10 else src, off,
                               _s32(imm)))

    # -- ALU ----------------------------------------------------------------------
    def alu(self, op: str, dst: int, src, bits: int = 64):
        """dst op= src (a register given as ("r", n) or an int immediate)."""
        cls = ALU64 if bits == 64 else ALU
        code = ALU_OPS[op]
        if isinstance(src, Reg):
            self.emit(cls | code | X, dst, src.n)
        else:
            if not fits_imm(src) and not (bits == 32 and 0 <= src < (1 << 32)):
                raise AsmError(f"immediate {src} does not fit 32 bits")
            self.emit(cls | code | K, dst, 0, 0, src)

    def mov(self, dst: int, src, bits: int = 64):
        """dst = src (register via reg(n), or an immediate; large ones use LD_IMM64)."""
        if not isinstance(src, Reg) and bits == 64 and not fits_imm(src):
            self.ld_imm64(dst, src)
            return
        self.alu("mov", dst, src, bits)

    def neg(self, dst: int, bits: int = 64):
        self.emit((ALU64 if bits == 64 else ALU) | ALU_OPS["neg"], dst)

    def endian(self, dst: int, size_bits: int, big: bool = True):
        """Byte swap dst to big (to_be) or little endian, size 16/32/64."""
        self.emit(ALU | ALU_OPS["end"] | (X if big else K), dst, 0, 0, size_bits)

    # -- loads and stores ---------------------------------------------------------
    def ldx(self, size: int, dst: int, src: int, off: int):
        """dst = *(uSIZE *)(src + off); size in bytes."""
        self.emit(LDX | MEM | BYTES_SIZE[size], dst, src, off)

    def stx(self, size: int, dst: int, off: int, src: int):
        """*(uSIZE *)(dst + off) = src."""
        self.emit(STX | MEM | BYTES_SIZE[size], dst, src, off)

    def st(self, size: int, dst: int, off: int, imm: int):
        """*(uSIZE *)(dst + off) = imm."""
        self.emit(ST | MEM | BYTES_SIZE[size], dst, 0, off, imm)

    def atomic(self, size: int, dst: int, off: int, src: int, op: int = 0):
        """An atomic read-modify-write of *(uSIZE *)(dst + off) with src; `op` is
        the kernel's immediate (0 add, 0x40 or, 0x50 and, 0xa0 xor, | 0x01 fetch,
        0xe1 xchg, 0xf1 cmpxchg)."""
        self.emit(STX | ATOMIC | BYTES_SIZE[size], dst, src, off, op)

    def atomic_add(self, size: int, dst: int, off: int, src: int):
        """lock *(uSIZE *)(dst + off) += src (size 4 or 8)."""
        self.atomic(size, dst, off, src, 0)

    def ld_imm64(self, dst: int, value: int, src: int = 0):
        v = value & 0xFFFFFFFFFFFFFFFF
        self.emit(LD | IMM | DW, dst, src, 0, v & 0xFFFFFFFF)
        self.insns.append(Insn(0, 0, 0, 0, _s32(v >> 32)))

    def ld_map_fd(self, dst: int, fd: int, name: str = None):
        """dst = map (the verifier turns the fd into the map pointer)."""
        if name:
            self.maps[fd] = name
        self.ld_imm64(dst, fd, PSEUDO_MAP_FD)

    # -- jumps --------------------------------------------------------------------
    def jmp(self, op: str, dst: int, src, label: str, bits: int = 64):
        """if dst op src goto label (op: == != > >= < <= s> s>= s< s<= &)."""
        cls = JMP if bits == 64 else JMP32
        code = JMP_OPS[op]
        if isinstance(src, Reg):
            ins = Insn(cls | code | X, _reg(dst), src.n, 0, 0)
        else:
            # a 32-bit compare takes any u32 (the immediate is those 32 bits)
            if not (fits_imm(src) or (bits == 32 and 0 <= src < 2**32)):
                raise AsmError(f"jump immediate {src} does not fit 32 bits")
            ins = Insn(cls | code | K, _reg(dst), 0, 0, _s32(src))
        self.insns.append((ins, label))

    def ja(self, label: str):
        self.insns.append((Insn(JMP | JMP_OPS["ja"], 0, 0, 0, 0), label))

    def call(self, helper):
        """Call helper (id or name)."""
        hid = HELPER[helper] if isinstance(helper, str) else helper
        self.emit(JMP | JMP_OPS["call"], 0, 0, 0, hid)

    def exit(self):
        self.emit(JMP | JMP_OPS["exit"])

    # -- result ----------------------------------------------------------------------
    def assemble(self) -> list:
        """Return the Insn list with every jump offset resolved."""
        out = []
        for i, item in enumerate(self.insns):
            if isinstance(item, tuple) and not isinstance(item, Insn):
                ins, label = item
                if label not in self.labels:
                    raise AsmError(f"undefined label {label}")
                off = self.labels[label] - i - 1
                if not -(1 << 15) <= off < (1 << 15):
                    raise AsmError(f"jump to {label} too far ({off})")
                ins = ins._replace(off=off)
                out.append(ins)
            else:
                out.append(item)
        return out

    def bytes(self) -> bytes:
        return encode(self.assemble())

    def text(self) -> str:
        return disasm(self.assemble(), maps=self.maps, notes=self.notes,
                      labels={v: k for k, v in self.labels.items()})


class Reg(int):
    """A register operand (as opposed to an immediate)."""

    @property
    def n(self) -> int:
        return int(self)


def reg(n: int) -> Reg:
    return Reg(_reg(n))


# -- disassembly -------------------------------------------------------------------

_SIZE_NAME = {W: "u32", H: "u16", B: "u8", DW: "u64"}


def _mem(base: int, off: int) -> str:
    if off == 0:
        return f"r{base}"
    return f"r{base} {'-' if off < 0 else '+'} {abs(off)}"


def disasm_one(ins: Insn, next_ins: Insn = None, maps=None) -> str:
    """One instruction in llvm-objdump/verifier syntax."""
    code, dst, src, off, imm = ins
    cls = code & 0x07
    if cls in (ALU, ALU64):
        r = "r" if cls == ALU64 else "w"
        op = _ALU_NAMES.get(code & 0xF0, "?")
        if op == "neg":
            return f"{r}{dst} = -{r}{dst}"
        if op == "end":
            return f"{r}{dst} = {'be' if code & X else 'le'}{imm} {r}{dst}"
        rhs = f"{r}{src}" if code & X else str(imm)
        if op == "mov":
            return f"{r}{dst} = {rhs}"
        return f"{r}{dst} {op}= {rhs}"
    if cls in (JMP, JMP32):
        op = _JMP_NAMES.get(code & 0xF0, "?")
        if op == "exit":
            return "exit"
        if op == "call":
            if src == PSEUDO_CALL:
                return f"call pc{imm:+d}"
            name = HELPER_NAMES.get(imm)
            return f"call bpf_{name}#{imm}" if name else f"call #{imm}"
        if op == "ja":
            return f"goto {off:+d}"
        r = "r" if cls == JMP else "w"
        rhs = f"{r}{src}" if code & X else str(imm)
        return f"if {r}{dst} {op} {rhs} goto {off:+d}"
    size = code & 0x18
    mode = code & 0xE0
    if cls == LDX:
        return f"r{dst} = *({_SIZE_NAME[size]} *)({_mem(src, off)})"
    if cls == STX and mode == ATOMIC:
        r = "r" if size == DW else "w"
        op = _ATOMIC_OP.get(imm & ~1, f"?{imm:#x}")
        fetch = " (fetch)" if imm & 1 and imm not in (0xE1, 0xF1) else ""
        return f"lock *({_SIZE_NAME[size]} *)({_mem(dst, off)}) {op} {r}{src}{fetch}"
    if cls == STX:
        return f"*({_SIZE_NAME[size]} *)({_mem(dst, off)}) = r{src}"
    if cls == ST:
        return f"*({_SIZE_NAME[size]} *)({_mem(dst, off)}) = {imm}"
    if cls == LD and size == DW and mode == IMM:
        hi = next_ins.imm if next_ins is not None else 0
        val = ((hi & 0xFFFFFFFF) << 32) | (imm & 0xFFFFFFFF)
        if src == PSEUDO_MAP_FD:
            name = (maps or {}).get(imm)
            return f"r{dst} = map[fd {imm}{' ' + name if name else ''}] ll"
        return f"r{dst} = {val:#x} ll"
    return f".insn {code:#04x} {dst} {src} {off} {imm}"


def disasm(insns, maps=None, notes=None, labels=None) -> str:
    """Numbered listing of a program (LD_IMM64's second slot is skipped)."""
    lines = []
    skip = False
    for i, ins in enumerate(insns):
        if skip:
            skip = False
            continue
        if labels and i in labels:
            lines.append(f"{labels[i]}:")
        nxt = insns[i + 1] if i + 1 < len(insns) else None
        text = disasm_one(ins, nxt, maps)
        if (ins.code & 0x07) == LD and (ins.code & 0x18) == DW:
            skip = True
        if notes and i in notes:
            text = f"{text:<40} ; {notes[i]}"
        lines.append(f"{i:5}: {text}")
    return "\n".join(lines)
