"""runqlen on the real kernel: with more CPU-bound children than CPUs, the
sampled run queues are not empty."""
from __future__ import annotations

import os
import re
import signal
import time

import pytest

import corebpf
from corebpf import features
from corebpf.core import perf
from tests.helpers import Tool, json_objects, run_tool
from tests.workloads import busy_loops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROW = re.compile(r"\s+(\d+)\s+: (\d+)\s+\|")
NLOOPS = 2 * os.cpu_count()


def test_linear_histogram_interval_count():
    with busy_loops(NLOOPS):
        t = Tool("runqlen", "-T", "1", "2")
        assert t.lines[0] == "Sampling run queue length... Hit Ctrl-C to end."
        assert t.wait(timeout=30) == 0
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip())) for l in t.lines) == 2
    assert sum(l == "     runqlen       : count     distribution" for l in t.lines) == 2, t.text
    rows = [(int(m.group(1)), int(m.group(2))) for m in map(ROW.match, t.lines) if m]
    assert sum(c for n, c in rows if n >= 1) > 0, t.text     # someone was waiting


def test_occupancy_per_cpu():
    with busy_loops(NLOOPS):
        t = Tool("runqlen", "-O", "-C", "1", "1")
        assert t.wait(timeout=30) == 0
    occ = [re.fullmatch(r"runqocc, CPU (\d+)\s+(\d+\.\d\d)%", l) for l in t.lines]
    occ = [(int(m.group(1)), float(m.group(2))) for m in occ if m]
    assert [c for c, _ in occ] == list(range(len(occ))) and occ, t.text
    assert any(p > 0 for _, p in occ)


def test_occupancy_and_per_cpu_histograms_ctrl_c():
    with busy_loops(NLOOPS):
        t = Tool("runqlen", "-O")
        time.sleep(1.2)
        assert t.stop(signal.SIGINT) == 0
        c = Tool("runqlen", "-C")
        time.sleep(1.2)
        assert c.stop(signal.SIGINT) == 0
    m = [re.fullmatch(r"runqocc: (\d+\.\d\d)%", l) for l in t.lines]
    assert any(x and float(x.group(1)) > 0 for x in m), t.text
    cpus = {l for l in c.lines if l.startswith("cpu = ")}
    assert cpus and cpus <= {"cpu = %d" % i for i in features.online_cpus()}, c.text


def test_perf_links_owned_by_object(no_leaks):
    with corebpf.Object.open("runqlen") as obj:
        obj.load()
        links = perf.attach_sampling(obj.programs["sample"], freq=99)
        assert len(links) == len(features.online_cpus())
        assert all(ln in obj.links and ln.kind == "perf_event" for ln in links)
        with busy_loops(1):
            time.sleep(0.3)
        samples = sum(sum(h.slots) for _, h in obj.maps["hists"].items())
        assert samples > 0
    assert obj.links == []


def test_bad_input():
    rc, out, err = run_tool("runqlen", "1", "x")
    assert rc == 2 and "invalid integer" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [(), ("-C",)])
def test_json(args):
    with busy_loops(NLOOPS):
        t = Tool("runqlen", "--json", *args, "1", "2", ready="stderr")
        assert t.wait(timeout=30) == 0
    objs = json_objects(t, "runqlen")
    assert len(objs) == 2 and all(o["unit"] == "runqlen" for o in objs), t.text
    hists = [h for o in objs for h in o["histograms"]]
    assert all(b["high"] == b["low"] for h in hists for b in h["buckets"])     # linear, 1 wide
    assert sum(b["count"] for h in hists for b in h["buckets"] if b["low"] >= 1) > 0, t.text
    assert all(0 <= h["runqocc_pct"] <= 100 for h in hists)
    if "-C" in args:
        assert {h["cpu"] for h in hists} <= set(features.online_cpus())
    else:
        assert all(len(o["histograms"]) == 1 and "cpu" not in o["histograms"][0] for o in objs)
