"""The multi-tools' spec language: parse results, one-line errors with
positions, and fuzzing (no input may raise anything but SpecError)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from corebpf.compiler.probespec import (Binary, Call, CType, Member, Name, Num, SpecError, Str, UserMem,
                               Var, parse_argdist_spec, parse_expr, parse_pattern,
                               parse_trace_probe)


def test_trace_probe_parts():
    p = parse_trace_probe('t:syscalls:sys_enter_openat (args->flags & 1 && '
                          'STRCMP("cat", $comm)) "%s %d", args->filename, args->flags')
    assert (p.point.kind, p.point.library, p.point.function) == \
        ("t", "syscalls", "sys_enter_openat")
    assert p.filter == Binary("&&", Binary("&", Member(Name("args", 0), "flags", True, 0),
                                           Num(1, 0), 0),
                              Call("STRCMP", [Str(b"cat", 0), Var("$comm", 0)], 0), 0)
    assert p.fmt == "%s %d"
    assert p.args == [Member(Name("args", 0), "filename", True, 0),
                      Member(Name("args", 0), "flags", True, 0)]


def test_trace_kernel_forms_and_signature():
    p = parse_trace_probe('r::do_sys_open "%llx", retval')
    assert (p.point.kind, p.point.library, p.point.function) == ("r", "", "do_sys_open")
    p = parse_trace_probe('kfree_skb+0x12')
    assert (p.point.kind, p.point.function, p.point.offset) == ("p", "kfree_skb", 0x12)
    p = parse_trace_probe('p::vfs_open(struct path *p, struct file *f) "%s", '
                          'f->f_path.dentry->d_name.name')
    assert p.signature == [("p", CType("struct path", 1)), ("f", CType("struct file", 1))]
    p = parse_trace_probe('do_sys_open "%s", arg2@user')
    assert p.args == [UserMem(Name("arg2", 0), 0)]


def test_precedence_is_c():
    assert parse_expr("1 + 2 * 3 == 7 && 4 | 1") == parse_expr("((1 + (2 * 3)) == 7) && (4 | 1)")
    assert parse_expr("a & 1 == 1") == parse_expr("a & (1 == 1)")
    assert parse_expr("0x10 + 010 + 'a'") == parse_expr("16 + 8 + 97")


def test_argdist_spec():
    s = parse_argdist_spec("p:c:write(int fd, const void *buf, size_t count):size_t:count:"
                           "fd==1#my label")
    assert s.point.kind == "p" and s.point.library == "c" and s.point.function == "write"
    assert [n for n, _ in s.signature] == ["fd", "buf", "count"]
    assert s.types == [CType("size_t")] and s.exprs == [Name("count", 0)]
    assert s.filter == Binary("==", Name("fd", 0), Num(1, 0), 0)
    assert s.label == "my label"
    s = parse_argdist_spec("t:syscalls:sys_enter_openat():char*,int:args->filename,args->flags")
    assert s.types == [CType("char", 1), CType("int")]
    s = parse_argdist_spec("r::__vfs_read():u32:$PID:$latency > 100000")
    assert s.exprs == [Var("$PID", 0)]


@pytest.mark.parametrize("text,msg,col", [
    ('t:syscalls:sys_enter_openat (args->flags', "unmatched '('", 29),
    ('x:a:b', "probe type must be p, r, t or u", 1),
    ('t:syscalls:x "%d", 1 +', "expected an expression, got end of input", 23),
    ('t:a:b "unterminated', "unterminated string", 7),
    ('t:a:b "%d", args->', "expected a field name", 19),
    ('t:a:b (1 +) "x"', "expected an expression, got end of input", 11),
    ('t:a:b "x" y', "expected ',' before the format arguments", 11),
])
def test_trace_errors_carry_position(text, msg, col):
    with pytest.raises(SpecError) as e:
        parse_trace_probe(text)
    s = str(e.value)
    assert msg in s and f"at column {col} of" in s and "\n" not in s


@pytest.mark.parametrize("text,msg", [
    ("t:syscalls:read:int", "expected '(' after the function name"),
    ("p:c:malloc(size_t size):size_t,int:size", "2 types but 1 expressions"),
    ("p:c:malloc(size_t size):size_t", "a type needs an expression"),
    ("q:c:malloc()", "probe type must be p, r, t or u"),
])
def test_argdist_errors(text, msg):
    with pytest.raises(SpecError) as e:
        parse_argdist_spec(text)
    assert msg in str(e.value) and "column" in str(e.value)


def test_pattern_errors_match_bcc():
    with pytest.raises(SpecError, match="Too many ':'-separated components in pattern a:b:c:d"):
        parse_pattern("a:b:c:d")
    with pytest.raises(SpecError, match="Type must be 'p', 't', or 'u', but got x"):
        parse_pattern("x:a:b")
    assert parse_pattern("t:sched:sched_*").library == "sched"


ALPHABET = st.sampled_from(list("abcrtpu:()[]\"',.-><=!&|^~*/%+#$@ \t019xX_\\")
                           + ["args->", "arg1", "retval", "$comm", "STRCMP(", "struct ",
                              "char*", "0x", "\"%s\"", "u32", "t:syscalls:sys_enter_openat ",
                              "$entry(", "$latency", "p:c:malloc", "r:/bin/bash:readline",
                              "u:/usr/bin/python3.11:", "+0x10", "@user", "#label", "%U"])


@settings(max_examples=600, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_fuzz_grammar_alphabet(text):
    for fn in (parse_trace_probe, parse_argdist_spec, parse_pattern, parse_expr):
        try:
            fn(text)
        except SpecError as e:
            assert "\n" not in str(e)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_any_text(text):
    for fn in (parse_trace_probe, parse_argdist_spec, parse_pattern, parse_expr):
        try:
            fn(text)
        except SpecError:
            pass


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(SpecError, match="nested too deeply"):
        parse_expr("(" * 5000 + "1" + ")" * 5000)
    with pytest.raises(SpecError, match="nested too deeply"):
        parse_expr("-" * 5000 + "1")
