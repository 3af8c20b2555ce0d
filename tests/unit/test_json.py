"""--json (tools/_jsonl.py): every tool has it, or is on the allow-list below;
every schema is a valid JSON Schema; `corebpf schema TOOL`; hostile text is
escaped by construction and never dropped.  The kernel tests
(tests/kernel/test_json_output.py) validate real output against the schemas."""
from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from corebpf import tools
from corebpf.tools import _cli, _jsonl

sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] + "/scripts")
from manpages import tool_parser  # noqa: E402

# Tools without --json yet: none now (every tool has it).  A new tool is not
# on it, so it fails test_every_tool_has_json until it declares its JSON.
NO_JSON_YET = set()

# on NO_JSON_YET, with a --json of bcc's that has no schema yet (biolatpcts'
# -j and tcpsubnet's -J are declared now: _jsonl.Document, bcc's documents)
LEGACY_JSON = set()


def _has_json(name):
    mod = __import__(f"corebpf.tools.{name}", fromlist=["x"])
    spec = getattr(mod, "JSON", None)
    parser = tool_parser(name)
    opts = {o for a in (parser._actions if parser else []) for o in a.option_strings}
    if parser is None and "\n--json" in (mod.__doc__ or ""):
        opts.add("--json")      # bcc's bare usage line (mysqld_qslower): documented there
    return spec, opts


@pytest.mark.parametrize("name", tools.names())
def test_every_tool_has_json(name):
    spec, opts = _has_json(name)
    if name in NO_JSON_YET:
        assert spec is None and ("--json" not in opts or name in LEGACY_JSON), \
            f"{name} has --json now: take it off NO_JSON_YET in {__file__}"
        return
    assert spec is not None, f"{name}: no JSON declaration (tools/_jsonl.py, docs/DEVELOPING.md)"
    assert "--json" in opts, f"{name}: JSON declared but no --json option (_jsonl.add_args)"
    jsonschema.Draft202012Validator.check_schema(spec.schema(name))


def test_allow_list_names_real_tools():
    assert NO_JSON_YET <= set(tools.names())


def test_schema_command():
    r = subprocess.run([sys.executable, "-m", "corebpf", "schema", "execsnoop"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["title"] == "execsnoop --json" and "argv" in s["oneOf"][0]["properties"]
    cases = [(["nosuchtool"], "no tool named 'nosuchtool'"), ([], "usage")]
    cases += [([name], "has no --json yet") for name in sorted(NO_JSON_YET)[:1]]
    for args, msg in cases:
        r = subprocess.run([sys.executable, "-m", "corebpf", "schema", *args],
                           capture_output=True, text=True)
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr
        assert r.stderr.startswith("corebpf: error: ")


class Rec:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_hostile_text_is_escaped_never_dropped():
    from corebpf.tools import opensnoop
    from corebpf.core import untrusted
    name = b"\x1b[2J\n\xff\xfe\"\\\xe2\x80\xae.txt"
    comm = untrusted.raw_text(b"ev\x1b]0;x\x07\xc3")
    e = Rec(ts=5, pid=1, tid=1, uid=0, comm=comm, ret=3, flags=0, mode=0,
            buf=name + b"\0", fname_size=len(name) + 1, dir_size=0)
    line = _jsonl.dumps(opensnoop.JSON.record(e))
    assert line.isascii() and line.isprintable()            # nothing reaches a terminal raw
    assert "\n" not in line and "\x1b" not in line
    d = json.loads(line)
    jsonschema.validate(d, opensnoop.JSON.schema("opensnoop"))
    assert d["path"].encode("utf-8", "surrogateescape") == name     # every byte kept
    assert d["comm"].encode("utf-8", "surrogateescape") == b"ev\x1b]0;x\x07\xc3"
    assert "\\udcff\\udcfe" in line
    fast = opensnoop.JSON.line(e)                   # the %-format path: the same object
    assert fast.isascii() and fast.isprintable()
    assert {**json.loads(fast), "time_ns": 0} == {**d, "time_ns": 0}


def test_lost_records_are_objects(capsys):
    out = _cli.Output(json=True)
    out.lost(7)
    out.flush()
    o, e = capsys.readouterr()
    assert json.loads(o) == {"lost": 7} and "Possibly lost 7 samples" in e
    for name in tools.names():
        if name not in NO_JSON_YET:
            spec, _ = _has_json(name)
            jsonschema.validate({"lost": 7}, spec.schema(name))


def test_buckets_match_the_text_histogram():
    from corebpf import histogram
    slots = [0] * 65
    slots[1], slots[3], slots[10] = 2, 5, 1
    b = _jsonl.buckets(slots)
    text = histogram.format_log2(slots, "usecs").splitlines()[1:]
    assert len(b) == len(text) == 10
    for row, line in zip(b, text):
        low, _, high, _, count = line.split()[:5]
        assert (row["low"], row["high"], row["count"]) == (int(low), int(high), int(count))
