"""The `corebpf` command (list, --list, --version, bad input) and the names
it and the Debian package's commands are recognised by (held stop signals)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corebpf import _early, tools

ROOT = Path(__file__).resolve().parent.parent.parent


def _corebpf(*args):
    return subprocess.run([sys.executable, "-m", "corebpf", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_list_has_every_tool_with_what_it_shows():
    r = _corebpf("list")
    assert r.returncode == 0 and r.stderr == ""
    rows = r.stdout.splitlines()
    assert [ln.split()[0] for ln in rows] == tools.names()
    for ln in rows:
        name, text = ln.split(None, 1)
        assert text == tools.summary(name) and len(text) > 20 and not text.endswith(".")


def test_names_only_and_version():
    r = _corebpf("--list")
    assert r.returncode == 0 and r.stdout.split() == tools.names()
    r = _corebpf("--version")
    from corebpf import __version__
    assert r.returncode == 0 and r.stdout.strip() == f"corebpf {__version__}"


@pytest.mark.parametrize("reader", ["head -c 1", "true", "grep -q execsnoop"])
def test_list_into_a_closed_pipe_is_quiet(reader):
    r = subprocess.run(f"set -o pipefail; {sys.executable} -m corebpf list | {reader}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.parametrize("args, msg, rc", [
    (["nosuchtool"], "corebpf: error: no tool named 'nosuchtool'", 2),
    ([], "usage:", 2),
])
def test_bad_input(args, msg, rc):
    r = _corebpf(*args)
    assert r.returncode == rc
    out = r.stderr if rc and args else r.stdout
    assert msg in out and "Traceback" not in r.stderr


def test_a_tool_runs_through_the_umbrella():
    r = _corebpf("execsnoop", "-h")
    assert r.returncode == 0 and r.stdout.startswith("usage: execsnoop ")


@pytest.mark.parametrize("argv0, args, held", [
    ("/usr/sbin/execsnoop-corebpf", [], True),           # the Debian package's name
    ("/usr/lib/corebpf/bin/execsnoop", [], True),        # its plain-name directory
    ("/usr/sbin/corebpf", ["execsnoop", "-T"], True),    # the umbrella running a tool
    ("/usr/sbin/corebpf", ["doctor"], False),            # ... or not (Ctrl-C must work)
    ("/usr/sbin/corebpf", [], False),
    ("/usr/sbin/nosuch-corebpf", [], False),
])
def test_tool_runs_are_recognised_by_name(monkeypatch, argv0, args, held):
    monkeypatch.delattr(sys, "orig_argv", raising=False)
    monkeypatch.setattr(sys, "argv", [argv0, *args])
    assert _early._is_tool_run() == held


@pytest.mark.parametrize("rest, held", [(["opensnoop"], True), (["doctor"], False),
                                        (["list"], False), ([], False)])
def test_module_runs_are_recognised(monkeypatch, rest, held):
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "corebpf", *rest], raising=False)
    assert _early._is_tool_run() == held


def test_list_flushes_where_a_closed_pipe_is_caught(monkeypatch):
    """The output that only the exit-time flush would write (the reader gone
    by then) must meet the BrokenPipeError inside main(), not at exit, where
    Python prints `Exception ignored ... BrokenPipeError` and exits 120."""
    import io
    import os

    from corebpf import __main__ as umbrella
    r, w = os.pipe()
    os.close(r)
    out = io.TextIOWrapper(open(w, "wb", buffering=1 << 20), write_through=False)
    monkeypatch.setattr(sys, "stdout", out)
    try:
        assert umbrella.main(["list"]) == 0
        out.flush()                 # nothing left to fail here
    finally:
        monkeypatch.undo()
        out.close()
