"""bpfasm: instruction encodings against known bytes and against every
instruction clang emitted into the packaged objects."""
from __future__ import annotations

import glob
import os

import pytest

from corebpf.compiler import bpfasm as B
from corebpf.compiler.bpfasm import FP, R0, R1, R2, R6, Asm, Insn, reg

from corebpf.core.paths import OBJ_DIR  # noqa: E402


def one(fn) -> bytes:
    a = Asm()
    fn(a)
    return a.bytes()


def test_known_encodings():
    # bytes as llvm-objdump prints them for clang's output
    assert one(lambda a: a.mov(R0, 0)) == bytes.fromhex("b700000000000000")
    assert one(lambda a: a.exit()) == bytes.fromhex("9500000000000000")
    assert one(lambda a: a.call("get_current_pid_tgid")) == bytes.fromhex("850000000e000000")
    assert one(lambda a: a.mov(R6, reg(R1))) == bytes.fromhex("bf16000000000000")
    assert one(lambda a: a.alu(">>", R0, 32)) == bytes.fromhex("7700000020000000")
    assert one(lambda a: a.alu("+", R2, -8)) == bytes.fromhex("07020000f8ffffff")
    assert one(lambda a: a.ldx(8, R1, FP, -8)) == bytes.fromhex("79a1f8ff00000000")
    assert one(lambda a: a.stx(4, FP, -4, R1)) == bytes.fromhex("631afcff00000000")
    assert one(lambda a: a.st(4, FP, -4, 0)) == bytes.fromhex("620afcff00000000")
    assert one(lambda a: a.atomic_add(8, R0, 0, R1)) == bytes.fromhex("db10000000000000")
    assert one(lambda a: a.mov(R0, reg(R0), bits=32)) == bytes.fromhex("bc00000000000000")
    assert one(lambda a: a.ld_map_fd(R1, 5)) == bytes.fromhex("1811000005000000" "0000000000000000")
    assert one(lambda a: a.ld_imm64(R1, 0x1122334455667788)) == bytes.fromhex(
        "1801000088776655" "0000000044332211")
    assert one(lambda a: a.mov(R1, 1 << 40)) == bytes.fromhex("1801000000000000" "0000000000010000")


def test_labels_resolve_forward_and_back():
    a = Asm()
    a.label("top")
    a.jmp("!=", R1, 7, "end")
    a.mov(R0, 1)
    a.ja("top")
    a.label("end")
    a.exit()
    ins = a.assemble()
    assert ins[0] == Insn(0x55, 1, 0, 2, 7)          # if r1 != 7 goto +2
    assert ins[2] == Insn(0x05, 0, 0, -3, 0)         # goto -3
    with pytest.raises(B.AsmError):
        b = Asm()
        b.ja("nowhere")
        b.assemble()


def test_disassembly_text():
    a = Asm()
    a.ld_map_fd(R1, 4, "counts")
    a.ldx(4, R0, R6, 24)
    a.jmp("s>", R0, reg(R1), "x")
    a.label("x")
    a.call(14)
    text = a.text()
    assert "r1 = map[fd 4 counts] ll" in text
    assert "r0 = *(u32 *)(r6 + 24)" in text
    assert "if r0 s> r1 goto +0" in text
    assert "call bpf_get_current_pid_tgid#14" in text


def _reemit(a: Asm, ins: Insn, nxt: Insn):
    """Rebuild one clang instruction through the public emitter API."""
    cls = ins.code & 0x07
    if cls in (B.ALU, B.ALU64):
        op = B._ALU_NAMES[ins.code & 0xF0]
        bits = 64 if cls == B.ALU64 else 32
        if op == "neg":
            return a.neg(ins.dst, bits)
        if op == "end":
            return a.endian(ins.dst, ins.imm, big=bool(ins.code & B.X))
        src = reg(ins.src) if ins.code & B.X else ins.imm
        return a.alu(op, ins.dst, src, bits)
    if cls in (B.JMP, B.JMP32):
        op = B._JMP_NAMES[ins.code & 0xF0]
        if op == "exit":
            return a.exit()
        if op == "call":
            return a.emit(ins.code, 0, ins.src, 0, ins.imm)
        lbl = a.new_label()
        target = len(a.insns) + 1 + ins.off
        a._pending.append((lbl, target))
        if op == "ja":
            return a.ja(lbl)
        src = reg(ins.src) if ins.code & B.X else ins.imm
        return a.jmp(op, ins.dst, src, lbl, 64 if cls == B.JMP else 32)
    size = B.SIZE_BYTES[ins.code & 0x18]
    mode = ins.code & 0xE0
    if cls == B.LDX:
        return a.ldx(size, ins.dst, ins.src, ins.off)
    if cls == B.STX and mode == B.ATOMIC:
        return a.atomic(size, ins.dst, ins.off, ins.src, ins.imm)
    if cls == B.STX:
        return a.stx(size, ins.dst, ins.off, ins.src)
    if cls == B.ST:
        return a.st(size, ins.dst, ins.off, ins.imm)
    if cls == B.LD:
        value = (nxt.imm & 0xFFFFFFFF) << 32 | (ins.imm & 0xFFFFFFFF)
        return a.ld_imm64(ins.dst, value, ins.src)
    raise AssertionError(ins)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(OBJ_DIR, "*.bpf.o"))),
                         ids=os.path.basename)
def test_reencodes_every_clang_instruction(path):
    import corebpf
    with corebpf.Object(path) as obj:
        for prog in obj.programs.values():
            clang = [Insn(*t) for t in prog.insns()]
            a = Asm()
            a._pending = []
            i = 0
            while i < len(clang):
                ins = clang[i]
                nxt = clang[i + 1] if i + 1 < len(clang) else None
                _reemit(a, ins, nxt)
                i += 2 if (ins.code & 0x07) == B.LD else 1
            for lbl, target in a._pending:
                a.labels[lbl] = target
            assert a.assemble() == clang, prog.name
            assert B.decode(B.encode(clang)) == clang
            assert "?" not in B.disasm(clang), prog.name
