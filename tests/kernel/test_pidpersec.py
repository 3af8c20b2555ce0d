"""pidpersec on the real kernel: a burst of forks shows in the per-second counts."""
from __future__ import annotations

import os
import re

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

LINE = re.compile(r"\d\d:\d\d:\d\d: PIDs/sec: (\d+)$")
FORKS = 300


def test_forks_are_counted():
    t = Tool("pidpersec")
    assert t.lines[0] == "Tracing... Ctrl-C to end."
    for _ in range(FORKS):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    t.wait_for(lambda l: False, timeout=2.5)        # two more seconds of lines
    assert t.stop() == 0
    counts = [int(LINE.match(l).group(1)) for l in t.lines[1:]]
    assert len(counts) == len(t.lines) - 1 >= 2, t.text
    assert sum(counts) >= FORKS, t.text             # other processes fork too


def test_no_arguments():
    rc, out, err = run_tool("pidpersec", "5")
    assert rc == 2 and "unrecognized arguments" in err and len(err.splitlines()) == 1


def test_json():
    t = Tool("pidpersec", "--json", ready="stderr")
    for _ in range(FORKS):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    seen = []
    line = t.wait_for(json_match(lambda d: seen.append(d["pids"]) or sum(seen) >= FORKS),
                      timeout=15)
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    assert t.stderr.splitlines()[0] == "Tracing... Ctrl-C to end."
    assert sum(d["pids"] for d in json_objects(t, "pidpersec")) >= FORKS
