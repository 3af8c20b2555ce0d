"""profile and offcputime: argument parsing and headers (no privilege)."""
from __future__ import annotations

import os

from corebpf.tools import offcputime, profile


def test_profile_headers():
    me = os.getpid()
    a = profile.parse([])
    assert profile.header(a) == \
        "Sampling at 49 Hertz of all threads by user + kernel stack... Hit Ctrl-C to end."
    a = profile.parse(["-F", "99", "-p", f"{me},1", "-U", "-C", "1", "5"])
    assert a.pid == [me, 1] and a.duration == 5
    assert profile.header(a) == \
        f"Sampling at 99 Hertz of PID [{me}, 1] by user stack on CPU#1 for 5 secs."
    a = profile.parse(["-c", "1000", "-L", str(me), "-K"])
    assert profile.header(a) == \
        f"Sampling at every 1000 events of TID [{me}] by kernel stack... Hit Ctrl-C to end."
    a = profile.parse(["-adfIA", "--stack-storage-size", "10", "--hash-storage-size", "20"])
    assert a.annotations and a.delimited and a.folded and a.include_idle and a.address
    assert (a.stack_storage_size, a.hash_storage_size) == (10, 20)


def test_offcputime_headers():
    me = os.getpid()
    a = offcputime.parse([])
    assert offcputime.header(a) == \
        "Tracing off-CPU time (us) of all threads by user + kernel stack... Hit Ctrl-C to end."
    a = offcputime.parse(["-p", f"{me},1", "-K", "3"])
    assert offcputime.header(a) == \
        f"Tracing off-CPU time (us) of PIDs {me},1 by kernel stack for 3 secs."
    assert offcputime.header(offcputime.parse(["-t", str(me), "-U"])).startswith(
        f"Tracing off-CPU time (us) of TIDs {me} by user stack")
    assert " of user threads by " in offcputime.header(offcputime.parse(["-u"]))
    assert " of kernel threads by " in offcputime.header(offcputime.parse(["-k"]))
    a = offcputime.parse(["-m", "10", "-M", str(2**64 - 1), "--state", "0", "-s", "-d"])
    assert (a.min_block_time, a.max_block_time, a.state) == (10, 2**64 - 1, 0)
    assert a.offset and a.delimited


def test_generated_dump_matches_ustack_bpf_h():
    """stackcount/trace emit ustack.bpf.h's copy in codegen: same register
    counts, stack pointer slots and limits per architecture as the header
    (and as the unwinder's ARCHES), so one parser reads both."""
    import re
    import struct
    from pathlib import Path

    from corebpf.compiler import codegen
    from corebpf.symbols import unwind
    from corebpf.tools import _stacks

    src = (Path(__file__).parents[2] / "bpf_src" / "ustack.bpf.h").read_text()
    nums = {}
    for arch, block in re.findall(r"defined\(__TARGET_ARCH_(\w+)\)\n(.*?)#(?:elif|else)",
                                  src, re.S):
        nums[arch] = {k: int(v) for k, v in re.findall(r"#define (USTACK_\w+) (\d+)", block)}
    for machine, arch in (("x86_64", "x86"), ("aarch64", "arm64")):
        nregs, sp = codegen.USTACK_REGS[machine]
        assert (nregs, sp) == (nums[arch]["USTACK_NREGS"], nums[arch]["USTACK_SP"])
        assert unwind.ARCHES[machine].nregs == nregs
    assert f"#define USTACK_MAX {codegen.USTACK_MAX}" in src
    assert f"#define USTACK_PAGE {codegen.USTACK_PAGE}" in src
    assert codegen.USTACK_MAX == _stacks.MAX_DUMP

    nregs, data = codegen.ustack_layout()
    regs = tuple(range(100, 100 + nregs))
    raw = b"h" * 24 + struct.pack(f"<{nregs}QII", *regs, 5, 0) + b"stack" + b"junk"
    d = _stacks.dump_at(raw, 24)
    assert (d.regs, d.size, d.flags, d.data) == (regs, 5, 0, b"stack")
