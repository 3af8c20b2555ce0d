"""biopattern on the real kernel, on a loop device of the test's own:
sequential O_DIRECT writes count as sequential, writes at scattered offsets
as random; -d keeps that disk only; the KBYTES column adds up."""
from __future__ import annotations

import random
import re

import pytest

from tests.helpers import Tool, json_objects, run_tool
from tests.workloads import direct_writes, loop_device

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "%-9s %-7s %5s %5s %8s %10s" % ("TIME", "DISK", "%RND", "%SEQ", "COUNT", "KBYTES")
ROW = re.compile(r"(\d\d:\d\d:\d\d)  (\S+) +(\d+) +(\d+) +(\d+) +(\d+)")
CHUNK = 65536


def _pattern(name, dev, offsets, *probe):
    t = Tool("biopattern", *probe, "-d", name)
    assert t.lines[0] == HEADER
    direct_writes(dev, offsets, CHUNK)
    assert t.stop() == 0, t.stderr
    rows = [ROW.fullmatch(l) for l in t.lines[1:]]
    assert rows and all(rows) and {m.group(2) for m in rows} == {name}, t.text
    rnd, seq, count, kb = (sum(int(m.group(i)) for m in rows) for i in (3, 4, 5, 6))
    return rnd, seq, count, kb, t


@pytest.mark.parametrize("probe", [(), ("--probe", "tracepoint")], ids=["tp_btf", "tracepoint"])
def test_sequential_then_random(probe):
    with loop_device(64) as (dev, name):
        n = 200
        rnd, seq, count, kb, t = _pattern(name, dev, [i * CHUNK for i in range(n)], *probe)
        # the first completion only sets the position; requests may be split
        assert count >= n - 1 and seq >= 95 and kb >= (n - 1) * CHUNK // 1024, t.text
        offs = [i * CHUNK for i in range(1000)]
        random.Random(7).shuffle(offs)
        rnd, seq, count, kb, t = _pattern(name, dev, offs[:n], *probe)
        assert count >= n - 1 and rnd >= 90, t.text


def test_no_such_disk():
    rc, out, err = run_tool("biopattern", "-d", "corebpf-nodisk")
    assert rc == 2 and err.strip() == "biopattern: error: no such disk 'corebpf-nodisk'", err


def test_json():
    with loop_device(64) as (dev, name):
        t = Tool("biopattern", "--json", "-d", name, ready="stderr")
        direct_writes(dev, [i * CHUNK for i in range(200)], CHUNK)
        assert t.stop() == 0, t.stderr
    rows = [r for o in json_objects(t, "biopattern") for r in o["rows"]]
    assert rows and {r["disk"] for r in rows} == {name}, t.text
    assert sum(r["sequential"] for r in rows) >= 190
    assert sum(r["bytes"] for r in rows) >= 199 * CHUNK
