"""The multi-tools' user-space parts without privilege: USDT operands compiled
to instructions (and fuzzed), user-function resolution (symbol versions,
GNU indirect functions), the user probe grammar, funclatency's sections."""
from __future__ import annotations

import ctypes
import re
import types

import pytest
from hypothesis import given, settings, strategies as st

from corebpf.compiler.codegen import CodeGen, CompileError, ProbeContext
from corebpf.symbols.elf import open_elf, resolve_binary
from corebpf.compiler.probespec import (CType, Num, SpecError, parse_argdist_spec, parse_pattern,
                               parse_trace_probe)
from corebpf.user.usdt import Argument

def _usdt_code(specs, n, symbols=None, address=0x1000, machine="x86_64"):
    """The code of USDT argument n for a binary of `machine` (the operand
    syntax and pt_regs layout are the architecture's)."""
    ctx = ProbeContext.usdt(None, "probe", [Argument(s) for s in specs],
                            (symbols or {}).get, address)
    ctx.machine = machine
    cg = CodeGen(ctx, "u:x:probe")
    cg.prologue()
    ty = ctx.load_arg(cg, n)
    return ty, cg.a.text()


def _arm64(specs, n):
    return _usdt_code(specs, n, machine="aarch64")


def test_usdt_register_operand_is_read_from_pt_regs_and_sign_extended():
    ty, text = _usdt_code(["-4@%edi"], 1)
    assert (ty.size, ty.signed) == (4, True)
    assert "r0 = *(u64 *)(r6 + 112)" in text               # pt_regs->di
    assert "r0 <<= 32" in text and "r0 s>>= 32" in text
    ty, text = _usdt_code(["1@%ah"], 1)
    assert "r0 = *(u64 *)(r6 + 80)" in text and "r0 >>= 8" in text and "r0 &= 255" in text


def test_usdt_memory_operands():
    ty, text = _usdt_code(["2@-20(%rbp)"], 1)
    assert (ty.size, ty.signed) == (2, False)
    assert "r0 = *(u64 *)(r6 + 32)" in text and "r0 += -20" in text
    assert "call bpf_probe_read_user#112" in text and "r0 = *(u16 *)(r10 -" in text
    ty, text = _usdt_code(["8@8(%rax,%rbx,4)"], 1)
    assert "r1 = *(u64 *)(r6 + 40)" in text and "r1 *= 4" in text and "r0 += r1" in text


def test_usdt_ip_relative_symbol_is_offset_from_the_probed_address():
    ty, text = _usdt_code(["-4@counter+8(%rip)"], 1, {"counter": 0x4010}, address=0x1234)
    assert "r0 = *(u64 *)(r6 + 128)" in text                # pt_regs->ip
    assert f"r0 += {0x4010 + 8 - 0x1234}" in text
    with pytest.raises(CompileError, match="cannot resolve nosuch"):
        _usdt_code(["-4@nosuch(%rip)"], 1)


@pytest.mark.parametrize("spec, base, offset, index", [
    ("8@x1", "x1", None, None),
    ("-4@w30", "x30", None, None),
    ("-4@[sp, 12]", "sp", 12, None),
    ("8@[x0]", "x0", 0, None),
    ("-8@[x29, -20]", "x29", -20, None),
    ("4@[x2,#0x10]", "x2", 16, None),
    ("8@[x0, x1]", "x0", 0, "x1"),
])
def test_arm64_usdt_operands_parse(spec, base, offset, index):
    a = Argument(spec)
    assert (a.base, a.offset, a.index, a.constant, a.ident) == (base, offset, index, None, None)
    assert a.size == abs(int(spec.split("@")[0])) and a.signed == spec.startswith("-")


def test_arm64_usdt_argument_strings_split_at_operands():
    """python3.11's arm64 notes: `-4@[sp, 152]` holds a space."""
    from corebpf.user.usdt import Location, split_args
    assert split_args("8@x22 -4@[sp, 152] 4@5 8@[x0]") == \
        ["8@x22", "-4@[sp, 152]", "4@5", "8@[x0]"]
    loc = Location(0x4861ec, 0x861ec, "-4@[sp, 152]  8@x21")
    assert [(a.base, a.offset) for a in loc.args] == [("sp", 152), ("x21", None)]
    assert [str(a) for a in loc.args] == ["4 signed   bytes @ *(sp + 152)",
                                          "8 unsigned bytes @ x21"]
    assert Argument("4@5").constant == 5 and Argument("-4@-1").constant == -1
    for bad in ("8@x31", "8@[x0, lsl]", "8@[q0]", "8@v1"):
        assert Argument(bad).ident is not None, bad


def test_arm64_usdt_register_operands_read_user_pt_regs():
    ty, text = _arm64(["8@x1"], 1)
    assert (ty.size, ty.signed) == (8, False)
    assert "r0 = *(u64 *)(r6 + 8)" in text and "probe_read" not in text   # regs[1]
    ty, text = _arm64(["-4@w30"], 1)
    assert (ty.size, ty.signed) == (4, True)
    assert "r0 = *(u64 *)(r6 + 240)" in text                  # regs[30]
    assert "r0 <<= 32" in text and "r0 s>>= 32" in text


def test_arm64_usdt_memory_operands_read_user_memory():
    ty, text = _arm64(["-4@[sp, 12]"], 1)
    assert (ty.size, ty.signed) == (4, True)
    assert "r0 = *(u64 *)(r6 + 248)" in text and "r0 += 12" in text     # sp
    assert "call bpf_probe_read_user#112" in text and "r0 = *(u32 *)(r10 -" in text
    ty, text = _arm64(["8@[x0]"], 1)
    assert "r0 = *(u64 *)(r6)" in text and "r0 +=" not in text.split("probe_read")[0]
    assert "r0 = *(u64 *)(r10 -" in text
    ty, text = _arm64(["2@[x3, x4]"], 1)
    assert "r0 = *(u64 *)(r6 + 24)" in text and "r1 = *(u64 *)(r6 + 32)" in text
    assert "r0 += r1" in text and "r0 = *(u16 *)(r10 -" in text
    ty, text = _arm64(["-4@[sp, 12]", "4@5"], 2)
    assert "r0 = 5" in text


def test_operands_of_the_other_architecture_fail_in_one_line():
    with pytest.raises(CompileError, match="unknown register 'x1'"):
        _usdt_code(["8@x1"], 1)                    # arm64 operand, x86_64 binary
    with pytest.raises(CompileError, match="unknown register 'ax'"):
        _arm64(["8@%rax"], 1)
    with pytest.raises(CompileError, match="not supported on riscv64"):
        _usdt_code(["8@a0"], 1, machine="riscv64")


def test_arm64_uprobe_arguments_and_return_value():
    """argN from x0..x7 (AAPCS64), the return value from x0."""
    ctx = ProbeContext.uprobe(None, "f")
    ctx.machine = "aarch64"
    cg = CodeGen(ctx, "p:c:f")
    cg.prologue()
    ctx.load_arg(cg, 1)
    ctx.load_arg(cg, 8)
    assert "r0 = *(u64 *)(r6)" in cg.a.text() and "r0 = *(u64 *)(r6 + 56)" in cg.a.text()
    with pytest.raises(CompileError, match="arg9 is not in a register"):
        ctx.load_arg(cg, 9)
    ctx = ProbeContext.uprobe(None, "f", ret=True)
    ctx.machine = "aarch64"
    cg = CodeGen(ctx, "r:c:f")
    cg.prologue()
    ctx.load_retval(cg)
    assert "r0 = *(u64 *)(r6)" in cg.a.text()


def test_x86_uprobe_arguments_and_return_value():
    ctx = ProbeContext.uprobe(None, "f")
    ctx.machine = "x86_64"
    cg = CodeGen(ctx, "p:c:f")
    cg.prologue()
    ctx.load_arg(cg, 1)
    ctx.load_arg(cg, 6)
    assert "r0 = *(u64 *)(r6 + 112)" in cg.a.text() and "r0 = *(u64 *)(r6 + 64)" in cg.a.text()
    with pytest.raises(CompileError, match="arg7 is not in a register"):
        ctx.load_arg(cg, 7)
    ctx = ProbeContext.uprobe(None, "f", ret=True)
    ctx.machine = "x86_64"
    cg = CodeGen(ctx, "r:c:f")
    cg.prologue()
    ctx.load_retval(cg)
    assert "r0 = *(u64 *)(r6 + 80)" in cg.a.text()


def test_usdt_constants_and_bad_indexes():
    ty, text = _usdt_code(["-4@$-5", "8@$0xffffffffffff"], 1)
    assert "r0 = 0xfffffffffffffffb ll" in text or "r0 = -5" in text
    ty, text = _usdt_code(["-4@$-5", "8@$0xffffffffffff"], 2)
    assert "0xffffffffffff ll" in text
    with pytest.raises(CompileError, match="has 2 argument"):
        _usdt_code(["-4@$1", "4@$2"], 3)


USDT_OPERANDS = st.one_of(
    st.sampled_from(["%rax", "%eax", "%al", "%ah", "%r12d", "%rip", "%xmm0", "%foo", "$1",
                     "$-9", "$sym", "-8(%rsp)", "0x10(%rdi,%rsi,8)", "sym(%rip)",
                     "sym+4(%rip)", "(%rbx)", "12", "[sp, 8]", "x1", "w3", "[x0]",
                     "[x29, -16]", "[x1, x2]", "[sp, #8]", "[x0, lsl #3]", "sp", ""]),
    st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["1", "-1", "2", "-2", "4", "-4", "8", "-8", "3", "x", ""]),
       USDT_OPERANDS)
def test_fuzz_usdt_operands_compile_or_fail_in_one_line(size, operand):
    spec = f"{size}@{operand}" if size else operand
    for machine in ("x86_64", "aarch64"):
        try:
            _usdt_code([spec], 1, {"sym": 0x2000}, machine=machine)
        except CompileError as e:
            assert "\n" not in str(e)


def test_default_symbol_version_wins():
    """libc exports memcpy twice: memcpy@GLIBC_2.2.5 (hidden, old binaries)
    and memcpy@@GLIBC_2.14 (an indirect function), which programs call."""
    libc = open_elf(resolve_binary("c"))
    hit = libc.symbol("memcpy")
    assert hit is not None and hit[0] in libc.ifunc_addresses()


def test_indirect_functions_are_probed_at_their_implementation():
    from corebpf.tools import _multi
    path = resolve_binary("c")
    e = open_elf(path)
    ((name, site),) = _multi.user_functions("c", re.compile("^strlen$"))
    resolver = e.vaddr_to_offset(e.symbol("strlen")[0])
    assert name == "strlen" and site.offset != resolver
    # the implementation dlsym() gives this process, as a file offset of libc
    addr = ctypes.cast(ctypes.CDLL(path).strlen, ctypes.c_void_p).value
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                assert site.offset == addr - lo + int(line.split()[2], 16)
                break
        else:
            pytest.fail("strlen's implementation is in no mapping")


def test_user_functions_skip_repeated_addresses():
    from corebpf.tools import _multi
    found = _multi.user_functions("c", re.compile(r"^(__libc_)?malloc$"))
    assert [n for n, _ in found] in (["malloc"], ["__libc_malloc"])      # one address


def test_user_probe_grammar():
    p = parse_trace_probe('p:c:write+0x4 (arg1 == 1) "%d", arg3')
    assert (p.point.kind, p.point.library, p.point.function, p.point.offset) == \
        ("p", "c", "write", 4)
    p = parse_trace_probe('u:/usr/lib/libfoo.so:prov:probe (arg4 != 0) "%s", arg1')
    assert (p.point.kind, p.point.library, p.point.provider, p.point.function) == \
        ("u", "/usr/lib/libfoo.so", "prov", "probe")
    p = parse_trace_probe('r:/bin/bash:readline "%s", retval')
    assert (p.point.kind, p.point.library, p.point.function) == ("r", "/bin/bash", "readline")
    s = parse_argdist_spec("r:c:read(int fd, void *buf, size_t count):size_t,u64:"
                           "$entry(count), $latency/$entry(count):$entry(fd)==1#r")
    assert s.expr_texts == ["$entry(count)", "$latency/$entry(count)"]
    assert s.signature[2] == ("count", CType("size_t")) and s.label == "r"
    assert parse_pattern("u:/usr/bin/python3.11:gc__*").kind == "u"
    assert parse_pattern("./prog:handle_*").library == "./prog"
    with pytest.raises(SpecError, match="expected a parameter name"):
        parse_argdist_spec("r:c:read(int fd):int:$entry(1)")


def test_argdist_expression_labels_as_bcc_shows_them():
    from corebpf.tools import argdist
    a = argdist.parse(["-H", "x"])
    pr = argdist.Probe(0, "r:c:read(size_t count):u64:$latency/$entry(count)", True, a)
    assert pr.expr_text(0) == "$latency/count"
    pr = argdist.Probe(1, "r:c:read()", False, a)
    assert pr.expr_text(0) == "retval" and pr.exprs[0].name == "$retval"
    pr = argdist.Probe(2, "p:c:malloc()", False, a)
    assert isinstance(pr.exprs[0], Num)


class _Table:
    def __init__(self, items):
        self._items = items

    def pop_items(self):
        items, self._items = self._items, []
        return items


def test_funclatency_user_sections_and_average():
    from corebpf.tools import funclatency as fl
    a = fl.parse(["-u", "c:read*"])
    funcs = [("read", "u", None), ("readv", "u", None)]
    hist = _Table([(fl.HKEY.pack(1, 42, 3, 0), 2), (fl.HKEY.pack(0, 42, 2, 0), 5),
                   (fl.HKEY.pack(0, 42, 3, 0), 1)])
    stats = _Table([(0, 30000), (1, 8)])
    text = fl.render(funcs, hist, stats, a, True, True, user=True)
    assert text.startswith("\n\nFunction = readv [42]\n     usecs               : count")
    assert "\nFunction = read [42]\n" in text
    assert "         2 -> 3          : 5        |****************************************|" \
        in text
    assert text.endswith("\navg = 3 usecs, total: 30 usecs, count: 8\n\n")
    one = fl.render(funcs, _Table([(fl.HKEY.pack(0, 0, 1, 0), 4)]), _Table([(0, 8), (1, 4)]),
                    types.SimpleNamespace(milliseconds=False, microseconds=False,
                                          timestamp=False), False, False)
    assert one.startswith("\n     nsecs               : count     distribution\n")
    assert "Function" not in one and one.endswith("avg = 2 nsecs, total: 8 nsecs, count: 4\n\n")


def test_funclatency_containers_sections_and_json(monkeypatch, capsys):
    """--containers: the cgroup id in the histogram key; a `container = ID`
    heading per container (two cgroups of one container summed), functions
    inside; --json: a container key per histogram, valid for the schema."""
    import json

    import jsonschema

    from corebpf.tools import _containers, funclatency as fl
    from tests.unit.test_containers_option import CID, Names
    monkeypatch.setattr(_containers, "NAMES", Names({
        5: f"/libpod_parent/libpod-{CID}", 6: f"/libpod_parent/libpod-{CID}/sub", 1: "/"}))
    a = fl.parse(["--containers", "-F", "vfs_r*"])
    funcs = ["vfs_read", "vfs_readv"]
    rows = [(fl.HKEY.pack(0, 0, 2, 5), 3), (fl.HKEY.pack(0, 0, 2, 6), 4),
            (fl.HKEY.pack(1, 0, 3, 1), 1)]
    text = fl.render(funcs, _Table(rows), _Table([(0, 80), (1, 8)]), a, True)
    assert text.startswith(f"\n\ncontainer = {CID[:12]}\n\nFunction = vfs_read\n"), text
    assert "\ncontainer = /\n\nFunction = vfs_readv\n" in text
    assert "         2 -> 3          : 7        |****************************************|" \
        in text
    a.json = True
    fl.write_json(funcs, _Table(rows), _Table([(0, 80), (1, 8)]), a, True)
    d = json.loads(capsys.readouterr().out)
    jsonschema.validate(d, fl.JSON.schema("funclatency"))
    assert [(h["container"], h["func"]) for h in d["histograms"]] == [
        (CID, "vfs_read"), ("", "vfs_readv")]

