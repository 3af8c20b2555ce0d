"""scripts/manpages.py: a section 8 page per tool, made from the parser the
tool builds and its docstring, and corebpf(8); groff renders each without a
warning (groff-base: README test command)."""
from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corebpf import tools

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import manpages  # noqa: E402


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("man")
    paths = manpages.write_all(str(out), "-corebpf", "2026-01-02")
    return {Path(p).name: Path(p).read_text() for p in paths}


def _sections(text):
    return re.findall(r"^\.SH (.+)$", text, re.M)


def _unroff(text):
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace("\\fR", "") \
        .replace("\\e", "\\").replace("\\&", "")


def test_a_page_per_tool_and_corebpf(pages):
    assert set(pages) == {f"{n}-corebpf.8" for n in tools.names()} | {"corebpf.8",
                                                                       "corebpf-exporter.8"}


def test_exporter_page(pages):
    from corebpf.exporter import main as exporter
    text = pages["corebpf-exporter.8"]
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES"):
        assert sec in _sections(text)
    body = _unroff(text)
    for a in exporter.parser()._actions:
        for o in a.option_strings:
            assert o in body.split(".SH OPTIONS", 1)[1], o


@pytest.mark.parametrize("name", tools.names())
def test_tool_page(pages, name):
    text = pages[f"{name}-corebpf.8"]
    assert text.startswith(f'.TH "{name.upper()}\\-COREBPF" 8 "2026-01-02" "corebpf ')
    secs = _sections(text)
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "ENVIRONMENT", "SEE ALSO"):
        assert s in secs, (name, s)
    name_line = text.split(".SH NAME\n", 1)[1].split("\n", 1)[0]
    assert _unroff(name_line) == f"{name}-corebpf - {tools.summary(name)}"
    body = _unroff(text)
    parser = manpages.tool_parser(name)
    if parser is not None:
        assert "OPTIONS" in secs
        opts = body.split(".SH OPTIONS", 1)[1].split(".SH EXAMPLES", 1)[0]
        for a in parser._actions:
            for o in a.option_strings:
                if a.help != "==SUPPRESS==":
                    assert o in opts, (name, o)
                else:
                    assert o not in opts, (name, o)
    else:
        assert name == "mysqld_qslower"      # bcc's bare usage line, no argparse
    mod = importlib.import_module(f"corebpf.tools.{name}")
    examples = manpages.split_doc(mod.__doc__)[2]
    assert examples, name
    ex = body.split(".SH EXAMPLES", 1)[1]
    for cmd, what in examples:
        shown = manpages._rename(cmd, name, f"{name}-corebpf")
        assert shown in ex and what in ex, (name, cmd)
    assert "SYNOPSIS\n.B " + f"{name}-corebpf" in body


def test_examples_are_split_from_their_comments():
    block = ("examples:\n    argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'\n"
             "    funccount 'c:str*'   # all str* functions\n"
             "    trace 'p:c:open \"%s\", arg1'\n        opens, with the path\n")
    assert manpages.parse_examples(block) == [
        ("argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'", ""),
        ("funccount 'c:str*'", "all str* functions"),
        ("trace 'p:c:open \"%s\", arg1'", "opens, with the path")]


def test_roff_escapes():
    assert manpages.esc(".start\n'quote\\") == "\\&.start\n\\&'quote\\e"
    assert manpages.esc_prose("real-time, see -p and --pid") == \
        "real-time, see \\-p and \\-\\-pid"


def test_corebpf_page(pages):
    text = pages["corebpf.8"]
    secs = _sections(text)
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "DOCTOR OPTIONS", "TOOLS",
              "EXAMPLES", "SEE ALSO"):
        assert s in secs, s
    body = _unroff(text)
    for n in tools.names():
        assert f"{n}-corebpf(8)" in body
    assert "--json" in body


def test_groff_renders_every_page_without_warnings(pages, tmp_path):
    groff = shutil.which("groff")
    assert groff, "groff (Debian groff-base, README test command) is needed"
    for fname, text in pages.items():
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z"], input=text,
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", (fname, r.stderr)
