"""bitesize on the real kernel: 1 MiB direct writes land in its histogram
under the writer's name."""
from __future__ import annotations

import re

import pytest

from tests.helpers import Tool, json_objects, run_tool
from tests.workloads import direct_writer

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def section(lines, title):
    """The histogram rows after 'Process Name = title', as {low: count}."""
    out, inside = {}, False
    for l in lines:
        if l.startswith("Process Name = "):
            inside = l == "Process Name = " + title
            continue
        m = re.match(r"\s*(\d+) -> (\d+)\s+: (\d+)\s+\|", l)
        if inside and m:
            out[int(m.group(1))] = int(m.group(3))
    return out


@pytest.mark.parametrize("kind", [None, "tracepoint"])
def test_sizes_per_process(kind):
    args = ["--probe", kind] if kind else []
    t = Tool("bitesize", *args)
    assert t.lines[0] == "Tracing block I/O... Hit Ctrl-C to end."
    with direct_writer("cbpf_bite", size=1 << 20, seconds=1.0) as w:
        w.go().wait()
    assert t.stop() == 0
    rows = section(t.lines, "cbpf_bite")
    assert rows, t.text
    assert any(l.strip() == "Kbytes              : count     distribution".strip() or
               l.startswith("     Kbytes") for l in t.lines)
    # a 1 MiB write is issued whole or split at the queue's max request size;
    # either way its big part lands in 512 -> 1023 or 1024 -> 2047 (Kbytes)
    assert rows.get(512, 0) + rows.get(1024, 0) > 0, rows


def test_no_arguments_taken():
    rc, out, err = run_tool("bitesize", "1")
    assert rc == 2 and "unrecognized arguments" in err and len(err.strip().splitlines()) == 1


def test_json():
    t = Tool("bitesize", "--json", ready="stderr")
    with direct_writer("cbpf_bitej", size=1 << 20, seconds=1.0) as w:
        w.go().wait()
    assert t.stop() == 0
    d, = json_objects(t, "bitesize")
    assert d["unit"] == "Kbytes"
    h, = [h for h in d["histograms"] if h["comm"] == "cbpf_bitej"]
    rows = {b["low"]: b["count"] for b in h["buckets"]}
    assert rows.get(512, 0) + rows.get(1024, 0) > 0, h
