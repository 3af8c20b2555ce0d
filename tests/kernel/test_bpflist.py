"""bpflist lists a running tool's BPF programs, maps and links."""
from __future__ import annotations

import re

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_a_running_tool_is_listed():
    t = Tool("execsnoop", "--probe", "tracepoint")     # a known count of programs
    try:
        rc, out, err = run_tool("bpflist")
        rc_v, out_v, err_v = run_tool("bpflist", "-vv")
    finally:
        assert t.stop() == 0
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert re.match(r"^PID    COMM             TYPE +COUNT$", lines[0])
    mine = {}
    for line in lines[1:]:
        pid, comm, typ, count = line.split()
        if int(pid) == t.proc.pid:
            mine[typ] = int(count)
    # execsnoop: 4 syscall tracepoint programs, its maps and 4 links
    assert mine.get("prog", 0) >= 4 and mine.get("map", 0) >= 2 and mine.get("link", 0) >= 4, out
    assert rc_v == 0 and "open kprobes:" in out_v and "open uprobes:" in out_v
    assert f"{t.proc.pid} " in out_v


def test_json():
    import json

    import jsonschema
    from tests.helpers import schema
    t = Tool("execsnoop", "--probe", "tracepoint")
    try:
        rc, out, err = run_tool("bpflist", "--json")
    finally:
        assert t.stop() == 0
    assert rc == 0 and err == ""
    d, = [json.loads(l) for l in out.splitlines()]
    jsonschema.validate(d, schema("bpflist"))
    mine = {r["type"]: r["count"] for r in d["rows"] if r["pid"] == t.proc.pid}
    assert mine.get("prog", 0) >= 4 and mine.get("map", 0) >= 2 and mine.get("link", 0) >= 4, d
    assert {r["comm"] for r in d["rows"] if r["pid"] == t.proc.pid} == {"python3"}
