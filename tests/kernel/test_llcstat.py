"""llcstat on the real kernel.  Without a hardware PMU (this VM) it must
exit with one line naming what is missing; with one, a process that walks
a 64 MiB buffer shows up with references, misses and a hit ratio."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from corebpf import features
from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

WALKER = ("import time\nb = bytearray(64 << 20)\nend = time.time() + 4\n"
          "while time.time() < end:\n    for i in range(0, len(b), 4096): b[i] += 1\n")


def test_one_line_without_pmu():
    if features.hardware_pmu():
        pytest.skip("this machine has a hardware PMU (the other test runs)")
    rc, out, err = run_tool("llcstat", "1")
    assert rc == 1 and out == "", (out, err)
    assert err == "llcstat: error: no hardware PMU: cache-references/cache-misses cannot be " \
                  "counted (a virtual machine without a virtual PMU?)\n", err


def test_cache_counts_per_process():
    if not features.hardware_pmu():
        pytest.skip("this machine has no hardware PMU (cache-references/cache-misses events)")
    walker = subprocess.Popen([sys.executable, "-c", WALKER])
    try:
        rc, out, err = run_tool("llcstat", "-c", "1000", "2")
    finally:
        walker.kill()
        walker.wait()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Running for 2 seconds or hit Ctrl-C to end."
    assert lines[1] == "PID      NAME             CPU     REFERENCE         MISS    HIT%"
    mine = [l for l in lines[2:-1] if l.split()[0] == str(walker.pid)]
    assert mine, out
    for l in mine:
        assert re.fullmatch(r"\d+ +\S.* +\d+ +\d+ +\d+ +\d+\.\d\d%", l), l
    assert re.fullmatch(r"Total References: \d+ Total Misses: \d+ Hit Rate: \d+\.\d\d%", lines[-1])


def test_json_cache_counts_per_thread():
    if not features.hardware_pmu():
        pytest.skip("this machine has no hardware PMU (cache-references/cache-misses events)")
    walker = subprocess.Popen([sys.executable, "-c", WALKER])
    try:
        t = Tool("llcstat", "--json", "-t", "-c", "1000", "2", ready="stderr")
        assert t.wait(timeout=30) == 0, t.stderr
    finally:
        walker.kill()
        walker.wait()
    (o,) = json_objects(t, "llcstat")
    mine = [r for r in o["rows"] if r["pid"] == walker.pid]
    assert mine and all(r["tid"] == walker.pid and r["references"] > 0 for r in mine), o
    assert o["references"] == sum(r["references"] for r in o["rows"])


def test_json_without_pmu_is_one_line():
    if features.hardware_pmu():
        pytest.skip("this machine has a hardware PMU (the other test runs)")
    rc, out, err = run_tool("llcstat", "--json", "1")
    assert rc == 1 and out == "" and err.startswith("llcstat: error: no hardware PMU"), err
