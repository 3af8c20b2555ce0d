"""Argument parsing and bad input (no privilege needed: errors come first)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from corebpf.tools import biolatency, execsnoop, opensnoop


def test_execsnoop_flags():
    a = execsnoop.parse(["-T", "-t", "-x", "-q", "-U", "-C", "-M", "--max-args", "5",
                         "-n", "ab", "-l", "cd", "-u", "0"])
    assert a.time and a.timestamp and a.fails and a.quote and a.print_uid
    assert a.print_cpu and a.print_pcomm and a.max_args == 5 and a.uid == 0
    assert a.name.search("xabx") and a.line.search("cd")
    assert execsnoop.header(a).split() == ["TIME", "TIME(s)", "UID", "COMM", "PID", "PCOMM",
                                           "PPID", "CPU", "RET", "ARGS"]


def test_opensnoop_flags():
    a = opensnoop.parse(["-T", "-U", "-x", "-e", "-F", "-f", "O_WRONLY", "-d", "3", "-b", "64"])
    assert a.timestamp and a.print_uid and a.failed and a.extended_fields and a.full_path
    assert a.duration == 3 and a.buffer_pages == 64
    assert opensnoop.flag_mask(["O_WRONLY", "O_CREAT"]) == 0o101


def test_biolatency_positionals_and_flags():
    a = biolatency.parse(["-mTQe", "2", "5"])
    assert a.milliseconds and a.timestamp and a.queued and a.extension
    assert (a.interval, a.count) == (2, 5)
    assert biolatency.flags_text(1 | (1 << 11)) == "Sync-Write"
    assert biolatency.flags_text(0x42) == "Unknown"
    assert biolatency.flags_text(1 | (1 << 11) | (1 << 17)) == "ForcedUnitAccess-Sync-Write"


@pytest.mark.parametrize("tool,args,msg", [
    ("execsnoop", ["--max-args", "0"], "must be positive"),
    ("execsnoop", ["--max-args", "x"], "invalid integer"),
    ("execsnoop", ["-u", "no_such_user_zz"], "no such user"),
    ("execsnoop", ["-n", "("], "bad regex"),
    ("execsnoop", ["-P", "abc"], "invalid PID"),
    ("opensnoop", ["-t", "0"], "no such thread"),
    ("opensnoop", ["-d", "-3"], "must be positive"),
    ("biolatency", ["1", "2", "3"], "unrecognized arguments"),
    ("nosuchtool", [], "no tool named"),
])
def test_bad_input_is_one_line(tool, args, msg):
    r = subprocess.run([sys.executable, "-m", "corebpf", tool, *args],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_help_has_examples():
    r = subprocess.run([sys.executable, "-m", "corebpf", "execsnoop", "-h"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "examples:" in r.stdout and "--max-args" in r.stdout


def test_not_root_is_one_line():
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "corebpf", "execsnoop"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "must run as root" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_libbpf_is_one_line(tmp_path):
    import os
    env = dict(os.environ, COREBPF_LIBBPF=str(tmp_path / "libbpf.so.404"))
    r = subprocess.run([sys.executable, "-m", "corebpf", "execsnoop"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 1 and "cannot load COREBPF_LIBBPF=" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_btf_is_one_line(tmp_path):
    import os
    env = dict(os.environ, COREBPF_BTF=str(tmp_path / "vmlinux"))
    r = subprocess.run([sys.executable, "-m", "corebpf", "opensnoop"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 1 and "BTF" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("tool", ["opensnoop", "runqlat", "biosnoop", "mysqld_qslower"])
def test_bad_btf_file_is_one_line(tool, tmp_path):
    notbtf = tmp_path / "notbtf"
    notbtf.write_bytes(b"#!/bin/sh\n")
    for path, msg in ((tmp_path / "missing", "No such file or directory"),
                      (notbtf, "not a BTF file")):
        r = subprocess.run([sys.executable, "-m", "corebpf", tool, "--btf", str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert r.stderr == f"{tool}: error: --btf {path}: {msg}\n", r.stderr


def test_btf_file_problem():
    from corebpf.tools import _cli
    assert _cli.btf_file_problem("/nonexistent/vmlinux") == "No such file or directory"
    assert _cli.btf_file_problem("/etc/hostname") == "not a BTF file"
    assert _cli.btf_file_problem(sys.executable) is None      # an ELF file
    assert _cli.btf_file_problem("a\x00b") == "not a file name"


def test_output_never_prints_a_batch_twice():
    # Ctrl-C that lands as the write returns (CPython checks for signals after
    # each C call), then the tool's final flush: the batch is printed once.
    from corebpf.tools import _cli

    class Stream:
        def __init__(self):
            self.data = []

        def write(self, s):
            self.data.append(s)
            if len(self.data) == 1:
                raise KeyboardInterrupt

        def flush(self):
            pass

    s = Stream()
    out = _cli.Output(s)
    out("a")
    out("b")
    with pytest.raises(KeyboardInterrupt):
        out.flush()
    out.flush()
    assert "".join(s.data) == "a\nb\n"


# -- every numeric option of every tool is range-checked when parsed ---------------------------

from tests import matrix  # noqa: E402

NUMERIC = [o for t in matrix.discover() for o in matrix.numeric_options(t)]
HAND_PARSED = {"mysqld_qslower"}        # bcc's `PID [min_ms]` usage, checked by hand


def test_tools_parse_with_argparse():
    """The numeric fuzzing below finds options through the tools' parsers."""
    without = {t for t in matrix.discover() if matrix.parser_of(t) is None}
    assert without == HAND_PARSED
    assert len(NUMERIC) > 100


@pytest.mark.parametrize("opt", NUMERIC, ids=[o.id for o in NUMERIC])
def test_numeric_option_is_range_checked(opt, capsys):
    """Out-of-range values of every numeric option are refused at parse time
    with one line (never a traceback later, when the value reaches a BPF
    field, a map size or a perf attribute)."""
    t = opt.type
    lo, hi = getattr(t, "lo", None), getattr(t, "hi", None)
    assert lo is not None and hi is not None, \
        f"{opt.id}: use a range type from tools/_cli.py ('numbers'), not {t!r}"
    p = matrix.parser_of(opt.tool)
    for v in (lo - 1, hi + 1, 2**64, -2**64, 10**30, "0x10", "1e3x", ""):
        with pytest.raises(SystemExit) as e:
            p.parse_args(opt.argv(v))
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{opt.tool}: error: argument "), (v, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    if getattr(t, "check", None) is None:          # (a PID must also exist)
        for v in (lo, hi):
            t(str(v))


def test_range_types_say_what_is_wrong():
    from corebpf.tools import _cli
    import argparse
    u32 = _cli.unsigned(32)
    assert u32("4294967295") == 2**32 - 1
    for text, msg in (("4294967296", "too large: 4294967296 (at most 4294967295)"),
                      ("-1", "out of range: -1 (0..4294967295)"), ("x", "invalid integer")):
        with pytest.raises(argparse.ArgumentTypeError, match=msg.replace("(", r"\(")
                           .replace(")", r"\)")):
            u32(text)
    ms = _cli.unsigned(64, scale=1000000)           # ms into a u64 of ns
    assert ms.hi == (2**64 - 1) // 1000000
    assert _cli.signed(32).lo == -2**31 and _cli.signed(32).hi == 2**31 - 1
    with pytest.raises(argparse.ArgumentTypeError, match="is not online"):
        _cli.cpu_type(str(_cli.possible_cpus()))
    assert _cli.cpu_type(str(_cli.possible_cpus() - 1)) == _cli.possible_cpus() - 1


# -- COREBPF_PROBE: a kind, or (tests) the name of a variant some object ships -------------------

@pytest.mark.parametrize("value,ok", [("tp_btf", True), ("kprobe", True), ("rqbtf", True),
                                      ("bogus", False), ("bog us", False), ("rq__btf!", False)])
def test_forced_probe_is_a_kind_or_a_shipped_variant(value, ok, monkeypatch):
    from corebpf.core import features
    from corebpf.core.errors import ConfigError
    monkeypatch.setenv("COREBPF_PROBE", value)
    if ok:
        assert features.forced_probe() == value
    else:
        with pytest.raises(ConfigError, match=f"COREBPF_PROBE: invalid choice: {value!r}"):
            features.forced_probe()


# -- libbpf's log is --libbpf-log everywhere; -v/--verbose mean what bcc means ------------

BCC_VERBOSE = {"capable": "all_checks", "drsnoop": "show_free", "stackcount": "show_addr",
               "tcpconnlat": "show_programs", "funclatency": "show_prog",
               "funcinterval": "show_prog", "funcslower": "show_prog",
               "tcptracer": "bcc_verbose"}


def test_libbpf_log_option_in_every_tool():
    for t in matrix.discover():
        p = matrix.parser_of(t)
        if p is None:
            continue
        opts = {s: a for a in p._actions for s in a.option_strings}
        assert opts.get("--libbpf-log") is not None and opts["--libbpf-log"].dest == "verbose", t
        # --verbose is libbpf's log only where bcc gives it no meaning of its own
        if t in BCC_VERBOSE:
            assert opts["--verbose"].dest == BCC_VERBOSE[t], t


@pytest.mark.parametrize("tool", sorted(BCC_VERBOSE))
def test_bcc_verbose_is_not_the_libbpf_log(tool):
    import importlib
    mod = importlib.import_module(f"corebpf.tools.{tool}")
    args = {"stackcount": ["vfs_read"], "funclatency": ["vfs_read"],
            "funcinterval": ["vfs_read"], "funcslower": ["vfs_read"]}.get(tool, [])
    a = mod.parse(["--verbose", *args])
    assert getattr(a, BCC_VERBOSE[tool]) and not a.verbose
    a = mod.parse(["--libbpf-log", *args])
    assert a.verbose and not getattr(a, BCC_VERBOSE[tool])
