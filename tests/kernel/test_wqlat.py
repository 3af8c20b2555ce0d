"""wqlat on the real kernel: write + sync() queues writeback work (the
"writeback" workqueue); the histograms must count it, -w keeps that
workqueue only, -N switches to nanoseconds."""
from __future__ import annotations

import os
import re
import tempfile
import threading
import time

import pytest

from tests.helpers import Tool, json_objects

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "Tracing work queue request latency time... Hit Ctrl-C to end."
ROW = re.compile(r" +(\d+) -> (\d+) +: (\d+) +\|[* ]+\|")


def _writeback(seconds):
    fd, path = tempfile.mkstemp(prefix="corebpf-wq-", dir="/var/tmp")
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            os.write(fd, b"x" * 4096)
            os.sync()
            time.sleep(0.1)
    finally:
        os.close(fd)
        os.unlink(path)


def _run(*args, seconds=3):
    t = Tool("wqlat", *args)
    assert t.lines[0] == HEADER
    w = threading.Thread(target=_writeback, args=(seconds,))
    w.start()
    rc = t.wait(timeout=30)
    w.join()
    assert rc == 0, t.stderr
    return t


def _counts(lines):
    return sum(int(m.group(3)) for m in map(ROW.fullmatch, lines) if m)


def test_per_workqueue_filtered():
    t = _run("-W", "-w", "writeback", "3", "1")
    sections = [l for l in t.lines if l.startswith("wqname = ")]
    assert sections == ["wqname = writeback"], t.text
    assert any(l.startswith("     usecs ") for l in t.lines), t.text
    assert _counts(t.lines) > 0, t.text


def test_single_histogram_nanoseconds_and_timestamp():
    t = _run("-NT", "3", "1")
    assert not any(l.startswith("wqname") for l in t.lines), t.text
    assert re.fullmatch(r"\d\d:\d\d:\d\d", t.lines[1].strip()), t.text
    assert any(l.startswith("     nsecs ") for l in t.lines), t.text
    # nanoseconds: nothing queues and runs within 2 ns
    first = next(m for m in map(ROW.fullmatch, t.lines) if m)
    assert first.group(1) == "0" and _counts(t.lines) > 0, t.text


def test_unknown_workqueue_counts_nothing():
    t = _run("-W", "-w", "corebpf-no-such-wq", "2", "1", seconds=2)
    assert _counts(t.lines) == 0 and not any(l.startswith("wqname") for l in t.lines), t.text


@pytest.mark.parametrize("args", [("-W", "-w", "writeback"), ("-N",)])
def test_json(args):
    t = Tool("wqlat", "--json", *args, "3", "1", ready="stderr")
    w = threading.Thread(target=_writeback, args=(3,))
    w.start()
    rc = t.wait(timeout=30)
    w.join()
    assert rc == 0, t.stderr
    d, = json_objects(t, "wqlat")
    assert d["unit"] == ("nsecs" if "-N" in args else "usecs")
    assert sum(b["count"] for h in d["histograms"] for b in h["buckets"]) > 0, d
    if "-W" in args:
        assert [h["wqname"] for h in d["histograms"]] == ["writeback"]
    else:
        assert all("wqname" not in h for h in d["histograms"])
