"""cpuunclaimed on the real kernel: with two CPU-bound children per CPU
every CPU runs something (%CPU near 100, nothing unclaimed); with -J and
three children pinned to the first CPU, its column shows them queued."""
from __future__ import annotations

import os
import re

import pytest

from corebpf import features
from tests.helpers import Tool, run_tool
from tests.workloads import busy_loops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

LINE = re.compile(r"(\d\d:\d\d:\d\d )?%CPU +([\d.]+)%, unclaimed idle ([\d.]+)%")


def test_all_cpus_busy():
    cpus = features.online_cpus()
    with busy_loops(2 * len(cpus)) as pids:
        for i, pid in enumerate(pids):
            os.sched_setaffinity(pid, {cpus[i % len(cpus)]})
        rc, out, err = run_tool("cpuunclaimed", "-T", "1", "3")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Sampling run queues... Output every 1 seconds. Hit Ctrl-C to end."
    rows = [LINE.fullmatch(l) for l in lines[1:]]
    assert len(rows) == 3 and all(m and m.group(1) for m in rows), out
    assert all(float(m.group(2)) >= 90.0 for m in rows), out
    assert all(float(m.group(3)) <= 10.0 for m in rows), out


def test_csv_queued_on_one_cpu():
    cpus = features.online_cpus()
    with busy_loops(3) as pids:
        for pid in pids:
            os.sched_setaffinity(pid, {cpus[0]})
        t = Tool("cpuunclaimed", "-J")
        t.wait_for(lambda l: len(t.lines) > 150, timeout=15)
        assert t.stop() == 0, t.stderr
    head = t.lines[0].split(",")
    n = len(cpus)
    assert head == ["TIMESTAMP_ns"] + ["CPU%d" % c for c in cpus] + \
        ["OFFSET_ns_CPU%d" % c for c in cpus], t.lines[0]
    rows = [list(map(int, l.split(","))) for l in t.lines[1:]]
    assert all(len(r) == 1 + 2 * n for r in rows)
    ts = [r[0] for r in rows]
    assert ts == sorted(ts) and 0.5e9 < ts[-1] - ts[0] < 10e9    # ~99 groups a second
    assert sum(r[1] >= 3 for r in rows) > len(rows) // 2, rows[:20]
    offs = [o for r in rows for o in r[1 + n:]]
    assert min(offs) == 0 and max(offs) < 20e6        # within 2 periods of 99 Hz


def test_interval_with_csv_is_refused():
    rc, out, err = run_tool("cpuunclaimed", "-j", "1")
    assert rc == 2 and out == "" and \
        err == "cpuunclaimed: error: cannot use interval with either -j or -J\n", err


def test_json():
    import json

    import jsonschema
    from tests.helpers import schema
    rc, out, err = run_tool("cpuunclaimed", "--json", "1", "2")
    assert rc == 0, err
    assert err.splitlines()[0].startswith("Sampling run queues... Output every 1 seconds.")
    objs = [json.loads(l) for l in out.splitlines()]
    assert len(objs) == 2, out
    for d in objs:
        jsonschema.validate(d, schema("cpuunclaimed"))
        assert d["running"] + d["idle"] > 0 and d["positive"] <= d["idle"]
        assert 0 <= d["cpu_util"] <= 1 and 0 <= d["unclaimed"] <= 1


def test_json_with_csv_is_refused():
    rc, out, err = run_tool("cpuunclaimed", "--json", "-j")
    assert rc == 2 and not out and err.startswith("cpuunclaimed: error: ") and "--json" in err
