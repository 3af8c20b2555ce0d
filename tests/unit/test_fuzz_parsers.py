"""Fuzzing of every parser a user's text reaches (hypothesis):
- each tool's command line (every tool discovered, as run by `main()`),
  stopped where the tool would start touching the kernel: any argv gives
  either an accepted parse or ONE `NAME: error: ...` line and exit 2
  (1 for what the tool checks before touching the kernel);
- trace's printf-style format strings, and the formatting of records with
  them (any record bytes);
- the spec language's pieces not fuzzed in test_probespec.py (C types,
  expression lists, glob patterns).
No input may raise anything else."""
from __future__ import annotations

import argparse
import importlib
import io
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from corebpf.compiler.probespec import (SpecError, glob_regex, parse_ctype, parse_expr_list,
                               parse_pattern)
from tests import matrix


class _Parsed(Exception):
    """Raised in place of _cli.setup(): the command line was accepted."""


def _options(mod) -> list:
    """Option strings of a tool, from its own --help."""
    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        mod.main(["-h"])
    return sorted(set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", out.getvalue())) -
                  {"-h", "--help"})


VALUES = st.one_of(
    st.integers(min_value=-2**64, max_value=2**64).map(str),
    st.sampled_from(["", "-", "--", "0", "1", "-1", "1.5", "0x10", "nan", "1e9", "99999999",
                     "root", "nobody", "O_WRONLY", "O_BOGUS", "vda", "all", "reads",
                     matrix.GETPPID, matrix.GETPPID + "()", "t:syscalls:sys_enter_openat",
                     'p::do_sys_open "%s", arg2', "c:malloc", "u:/bin/true:main",
                     "vfs_*", "/nonexistent", "1,2,3", "a" * 300, "\x00", "é", "%s%d"]),
    st.text(max_size=20), st.just("a\nb"))


def _argv(opts):
    # mysqld_qslower has bcc's bare `PID [min_ms]` command line: no options
    word = st.one_of(st.sampled_from(opts), VALUES) if opts else VALUES
    return st.lists(word, max_size=8)


@pytest.mark.parametrize("name", matrix.discover())
def test_fuzz_command_line(name, monkeypatch):
    from corebpf.tools import _cli
    mod = importlib.import_module(f"corebpf.tools.{name}")
    opts = _options(mod)

    def stop_here(args=None):
        raise _Parsed()

    monkeypatch.setattr(_cli, "setup", stop_here)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_argv(opts))
    def run(argv):
        err = io.StringIO()
        monkeypatch.setattr("sys.stderr", err)
        try:
            rc = mod.main(argv)
        except _Parsed:
            return
        except SystemExit as e:
            rc = e.code
        text = err.getvalue()
        if rc in (0, None):
            # accepted: an informational option (syscount --list) printed and
            # exited, or a tool that never reaches setup() ran to the end
            # (bpflist -vv --json: its probe listing goes to stderr, stdout
            # stays JSON)
            return
        # 2: refused by the parser; 1: a check the tool makes before it
        # touches the kernel (a library that is not there, no journald)
        assert rc in (1, 2), (argv, rc, text)
        lines = text.rstrip("\n").split("\n")
        # one line: ours, or bcc's own refusal wording where a tool keeps it
        # (offcputime/offwaketime: "ERROR: Displaying user stacks for kernel threads ...")
        assert text.endswith("\n") and len(lines) == 1 and \
            lines[0].startswith((f"{name}: error: ", "ERROR: ")), (argv, text)

    run()


# -- trace's format strings ----------------------------------------------------------------

FMT_ALPHABET = st.sampled_from(list("%-+ #0123456789.lhduxcsKU%ab\\n\t"))


@settings(max_examples=1500, deadline=None)
@given(st.lists(FMT_ALPHABET, max_size=24).map("".join), st.binary(min_size=0, max_size=64))
def test_fuzz_trace_format(fmt, payload):
    from corebpf.tools import trace
    try:
        pyfmt, convs = trace.parse_format(fmt, fmt, 0)
    except SpecError as e:
        assert "\n" not in str(e)
        return
    assert all(c in trace.CONV for c in convs)
    # format a record carrying arbitrary bytes, as trace does for each event
    p = object.__new__(trace.Probe)
    p.pyfmt, p.convs, p.string_size = pyfmt, convs, 16
    p.fields, off = [], trace.HDR
    for c in convs:
        if c in ("K", "U"):
            continue
        p.fields.append((off, c))
        off += p.string_size if c == "s" else 8
    if len(p.fields) != len(convs):
        return          # %K/%U need symbols: covered by the kernel tests
    data = (payload * (off // max(len(payload), 1) + 1))[:off] if payload else bytes(off)
    data = data.ljust(off, b"\0")
    line = p.message(data, 0, None)
    assert isinstance(line, str)


def test_trace_format_rejects_unknown_conversions():
    from corebpf.tools import trace
    with pytest.raises(SpecError, match="unsupported conversion"):
        trace.parse_format("%q", "%q", 0)
    assert trace.parse_format("%-5d|%llx|%%|%s", "", 0) == ("%-5d|%x|%%|%s",
                                                             ["d", "llx", "s"])


# -- other spec-language entry points -----------------------------------------------------------

SPEC_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["struct ", "unsigned ", "char", "int", "*", "u64", "const ",
                              "(", ")", ",", "a", "1", "->", ".", "[", "]", " ", "$comm",
                              "\"x\"", "'c'", "*", "?", ":", "long ", "s8"]),
             max_size=16).map("".join))


@pytest.mark.filterwarnings("ignore::FutureWarning")    # re: "possible nested set"
@settings(max_examples=800, deadline=None)
@given(SPEC_TEXT)
def test_fuzz_ctypes_expr_lists_patterns(text):
    for fn in (parse_ctype, parse_expr_list, parse_pattern):
        try:
            fn(text)
        except SpecError as e:
            assert "\n" not in str(e)
    for regex in (False, True):
        try:
            glob_regex(text, regex)
        except (SpecError, re.error):
            pass


def test_type_errors_of_argparse_types_are_one_line():
    from corebpf.tools import _cli
    for fn, bad in ((_cli.positive_int, "0"), (_cli.nonneg_int, "-1"), (_cli.pid_type, "x"),
                    (_cli.uid_type, "no-such-user-xyz"), (_cli.pid_list, "1,x")):
        with pytest.raises(argparse.ArgumentTypeError) as e:
            fn(bad)
        assert "\n" not in str(e.value)
    assert struct.calcsize("<Q") == 8
