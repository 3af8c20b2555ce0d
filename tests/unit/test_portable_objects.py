"""The packaged objects use no instruction that kernels the tools support
refuse before any program runs (no privilege needed: the instructions are
read from the objects).  What only a kernel can judge (helpers, verifier
bounds, CO-RE) is tests/kernel/test_kernel_reach.py's, in every guest."""
from __future__ import annotations

import glob
import os

import pytest

from corebpf.core.paths import OBJ_DIR

BPF_STX, BPF_ATOMIC, BPF_ADD = 0x03, 0xC0, 0x00


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(OBJ_DIR, "*.bpf.o"))),
                         ids=os.path.basename)
def test_atomics_are_plain_adds(path):
    """Atomic and/or/xor/xchg/cmpxchg and fetching adds came in 5.12 ("BPF_STX
    uses reserved fields" before); clang emits them for __sync_fetch_and_add
    whose result is used, or of a constant 0 (turned into an atomic or)."""
    import corebpf
    with corebpf.Object(path) as obj:
        for prog in obj.programs.values():
            for i, (code, dst, src, off, imm) in enumerate(prog.insns()):
                if code & 0x07 == BPF_STX and code & 0xE0 == BPF_ATOMIC:
                    assert imm == BPF_ADD, f"{prog.name} insn {i}: atomic op {imm:#x}"
