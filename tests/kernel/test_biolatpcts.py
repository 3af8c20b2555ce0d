"""biolatpcts on the real kernel, on a loop device of the test's own:
O_DIRECT writes fill the write row (reads, discards, flushes stay "-"),
-j prints the same as JSON, and with -i -1 SIGUSR2 reports without
resetting while SIGUSR1 reports and starts a new period."""
from __future__ import annotations

import json
import os
import re
import signal

import pytest

from tests.helpers import Tool, json_objects, run_tool
from tests.workloads import direct_writes, loop_device

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PCTS = "1,5,10,16,25,50,75,84,90,95,99,100".split(",")
LAT = r"(-|\d+us|\d+\.\dms|\d+ms|\d+\.\ds)"


def _table(lines, name):
    """The last report: {io type: [12 latency texts]}."""
    i = max(n for n, l in enumerate(lines) if l.startswith(name))
    head = lines[i].split()
    assert head == [name] + PCTS, lines[i]
    assert lines[i] == "{:<7}".format(name) + "".join(" {:>5}".format(p) for p in PCTS)
    rows = {}
    for line in lines[i + 1:i + 5]:
        assert re.fullmatch(r"(read|write|discard|flush) +" + " +".join([LAT] * 12), line), line
        parts = line.split()
        rows[parts[0]] = parts[1:]
    assert list(rows) == ["read", "write", "discard", "flush"]
    return rows


def _wait_reports(t, name, n):
    """Wait until n reports are complete (their flush row printed)."""
    done = t.wait_for(lambda l: sum(x.startswith("flush") for x in t.lines) >= n, timeout=15)
    assert done is not None, t.text


def test_writes_table_and_json():
    with loop_device(64) as (dev, name):
        t = Tool("biolatpcts", "-i", "1", dev)
        direct_writes(dev, [i * 65536 for i in range(100)])
        _wait_reports(t, name, 1)
        direct_writes(dev, [i * 65536 for i in range(100)])
        _wait_reports(t, name, 3)
        assert t.stop() == 0, t.stderr
        tables = [n for n, l in enumerate(t.lines) if l.startswith(name)]
        rows = [_table(t.lines[:n + 5], name) for n in tables]
        assert any(all(v != "-" for v in r["write"]) for r in rows), t.text
        assert all(r["read"] == ["-"] * 12 and r["flush"] == ["-"] * 12 for r in rows), t.text

        t = Tool("biolatpcts", "-j", "-p", "50,99", "-i", "1", "%d:%d" % divmod_dev(dev))
        direct_writes(dev, [i * 65536 for i in range(50)])
        t.wait_for(lambda l: l.startswith("{") and json.loads(l)["write"]["50"] > 0)
        assert t.stop() == 0, t.stderr
        docs = json_objects(t, "biolatpcts")        # bcc's document, valid for its schema
        assert docs and all(set(d) == {"read", "write", "discard", "flush"} for d in docs)
        assert all(set(d["write"]) == {"50", "99"} for d in docs)
        w = [d["write"] for d in docs if d["write"]["50"] > 0]
        assert w and all(0 < x["50"] <= x["99"] < 10 for x in w), docs


def divmod_dev(dev):
    st = os.stat(dev)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def test_signals_infinite_interval():
    with loop_device(64) as (dev, name):
        t = Tool("biolatpcts", "-i", "-1", name)
        _wait_reports(t, name, 1)
        assert _table(t.lines, name)["write"] == ["-"] * 12
        direct_writes(dev, [i * 65536 for i in range(50)])
        for sig, n, writes in ((signal.SIGUSR2, 2, True), (signal.SIGUSR2, 3, True),
                               (signal.SIGUSR1, 4, True), (signal.SIGUSR2, 5, False)):
            t.proc.send_signal(sig)
            _wait_reports(t, name, n)
            got = _table(t.lines, name)["write"]
            assert (got != ["-"] * 12) == writes, (sig, n, t.text)
        assert t.stop() == 0, t.stderr
        assert sum(l.startswith(name) for l in t.lines) == 6, t.text


def test_bad_device_and_interval_zero():
    rc, out, err = run_tool("biolatpcts", "corebpf-no-such-dev")
    assert rc == 2 and err.startswith("biolatpcts: error: corebpf-no-such-dev: "), err
    rc, out, err = run_tool("biolatpcts", "/dev/null")
    assert rc == 2 and "not a block device" in err, err
    rc, out, err = run_tool("biolatpcts", "-p", "50,101", "1:0")
    assert rc == 2 and "out of 0..100" in err, err
    with loop_device(16) as (dev, name):
        rc, out, err = run_tool("biolatpcts", "-i", "0", dev)
        assert rc == 0 and out == "" and err == "", (out, err)
