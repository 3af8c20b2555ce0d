"""runqslower on the real kernel: CPU hogs outnumbering CPUs wait in the run
queue longer than a millisecond, one line each."""
from __future__ import annotations

import os

import pytest

from tests.helpers import Tool, run_tool
from tests.workloads import busy_loops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

NLOOPS = 2 * os.cpu_count()


def test_slow_waits_of_busy_loops():
    with busy_loops(NLOOPS) as pids:
        t = Tool("runqslower", "1000")
        assert t.lines[0] == "Tracing run queue latency higher than 1000 us"
        assert t.wait_for(lambda l: l == "%-8s %-16s %-6s %14s" % ("TIME", "COMM", "TID",
                                                                    "LAT(us)"))
        line = t.wait_for(lambda l: l.split()[2:3] in ([str(p)] for p in pids))
        t.stop()
    assert line, t.text
    f = line.split()
    assert f[1] == "python3" and int(f[3]) > 1000 and len(f) == 4


def test_previous_task_and_pid_filter():
    with busy_loops(NLOOPS) as pids:
        t = Tool("runqslower", "-P", "-p", pids[0], "0")
        assert t.lines[0] == "Tracing run queue latency higher than 0 us"
        t.wait_for(lambda l: l.split()[2:3] == [str(pids[0])])
        t.stop()
    assert t.lines[1].split() == ["TIME", "COMM", "TID", "LAT(us)", "PREV", "COMM", "PREV",
                                  "TID"]
    rows = [l.split() for l in t.lines[2:]]
    assert rows and all(r[2] == str(pids[0]) and len(r) >= 6 for r in rows), t.text
    assert all(r[-1].isdigit() for r in rows)


@pytest.mark.parametrize("args,msg", [
    (["-p", "1", "-t", "1"], "not allowed with"),
    (["-5"], "out of range"),
    (["-t", "0"], "no such thread"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("runqslower", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    import json
    import subprocess
    import sys

    import jsonschema
    with busy_loops(NLOOPS) as pids:
        t = Tool("runqslower", "--json", "-P", "-p", pids[0], "0", ready="stderr")
        t.wait_for(lambda l: f'"tid":{pids[0]},' in l)
        assert t.stop() == 0, t.stderr
    schema = json.loads(subprocess.run([sys.executable, "-m", "corebpf", "schema", "runqslower"],
                                       capture_output=True, check=True).stdout)
    objs = [json.loads(l) for l in t.lines]
    for o in objs:
        jsonschema.validate(o, schema)
    assert objs and all(o["tid"] == pids[0] and o["latency_us"] >= 0 for o in objs), objs
