"""runqlat on the real kernel: more CPU-bound children than CPUs wait in the
run queue, and their waits are counted (per process, thread, namespace)."""
from __future__ import annotations

import os
import re
import signal
import time

import pytest

from tests.helpers import Tool, run_tool
from tests.workloads import busy_loops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROW = re.compile(r"\s*(\d+) -> (\d+)\s+: (\d+)\s+\|")
NLOOPS = 2 * os.cpu_count()


def counts(lines, header=None):
    """Total count of the rows of section `header` (or of every row)."""
    total, inside = 0, header is None
    for l in lines:
        if " = " in l and not ROW.match(l):
            inside = header is None or l == header
        m = ROW.match(l)
        if m and inside:
            total += int(m.group(3))
    return total


def test_histogram_interval_count():
    with busy_loops(NLOOPS):
        t = Tool("runqlat", "-T", "1", "2")
        assert t.lines[0] == "Tracing run queue latency... Hit Ctrl-C to end."
        assert t.wait(timeout=30) == 0
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip())) for l in t.lines) == 2
    assert any(re.match(r"\s+usecs\s+: count\s+distribution", l) for l in t.lines), t.text
    # CPU hogs outnumbering CPUs wait at least a scheduler tick (ms) sometimes
    assert any(int(m.group(1)) >= 1024 and int(m.group(3)) > 0
               for m in map(ROW.match, t.lines) if m), t.text


def test_per_process_and_pid_filter():
    with busy_loops(NLOOPS) as pids:
        t = Tool("runqlat", "-P", "-p", pids[0], "-m", "1", "1")
        assert t.wait(timeout=30) == 0
    heads = [l for l in t.lines if l.startswith("pid = ")]
    assert heads == ["pid = %d" % pids[0]], t.text
    assert counts(t.lines, heads[0]) > 0
    assert any(re.match(r"\s+msecs\s+: count", l) for l in t.lines)


def test_per_thread_ctrl_c():
    with busy_loops(NLOOPS) as pids:
        t = Tool("runqlat", "-L")
        time.sleep(1)
        assert t.stop(signal.SIGINT) == 0
    tids = {int(l.split(" = ")[1]) for l in t.lines if l.startswith("tid = ")}
    assert set(pids) & tids, t.text


def test_per_pid_namespace_raw_tp():
    with busy_loops(NLOOPS) as pids:
        ns = os.stat("/proc/%d/ns/pid_for_children" % pids[0]).st_ino
        t = Tool("runqlat", "--pidnss", "--probe", "raw_tp", "--verbose", "1", "1")
        assert t.wait(timeout=30) == 0
    assert "pidns = %d" % ns in t.lines, t.text
    assert counts(t.lines, "pidns = %d" % ns) > 0
    assert "(raw_tp) probes" in t.stderr


@pytest.mark.parametrize("args,msg", [
    (["-P", "-L"], "not allowed with"),
    (["-p", "abc"], "invalid PID"),
    (["0"], "must be positive"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("runqlat", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
