"""softirqslower on the real kernel: loopback TCP traffic runs the net_rx
softirq; with a threshold of 0 every raise -> entry wait and every handler
run is listed, -c keeps one CPU, a 10 s threshold lists nothing."""
from __future__ import annotations

import re
import threading
import time

import pytest

import corebpf
from tests.helpers import Tool, json_objects
from tests.workloads import loopback_traffic

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "%-8s %-20s %-8s %-14s %-6s %-6s" % ("TIME", "STAGE", "SOFTIRQ", "LAT(us)", "CPU",
                                             "COMM")
LINE = re.compile(r"(\d\d:\d\d:\d\d) (irq\(hard\) to softirq|softirq runtime {5}) "
                  r"(hi|timer|net_tx|net_rx|block|irq_poll|tasklet|sched|hrtimer|rcu) +"
                  r"(\d+) +(\d+) +(.*)")
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
           "hrtimer", "rcu")


def _run(*args, seconds=2.0):
    t = Tool("softirqslower", *args)
    w = threading.Thread(target=loopback_traffic, args=(seconds, 16384))
    w.start()
    w.join()
    time.sleep(0.3)
    assert t.stop() == 0, t.stderr
    return t


def test_all_softirqs():
    t = _run("0")
    assert t.lines[0] == "Tracing softirq latency higher than 0 us... Hit Ctrl-C to end."
    assert t.lines[1] == HEADER
    rows = [LINE.fullmatch(l) for l in t.lines[2:]]
    assert rows and all(rows), t.text
    net = [m for m in rows if m.group(3) == "net_rx"]
    assert any(m.group(2) == "softirq runtime     " for m in net), t.text
    assert any(m.group(2) == "irq(hard) to softirq" for m in net), t.text
    cpus = set(corebpf.features.online_cpus())
    assert {int(m.group(5)) for m in rows} <= cpus


def test_one_cpu_and_threshold():
    cpu = max(corebpf.features.online_cpus())
    t = _run("-c", cpu, "0")
    rows = [LINE.fullmatch(l) for l in t.lines[2:]]
    assert rows and all(rows) and {int(m.group(5)) for m in rows} == {cpu}, t.text
    t = _run("10000000", seconds=1.0)
    assert t.lines[0] == "Tracing softirq latency higher than 10000000 us... Hit Ctrl-C to end."
    assert t.lines[1:] == [HEADER], t.text


def test_bad_cpu():
    from tests.helpers import run_tool
    rc, out, err = run_tool("softirqslower", "-c", "4096")
    assert rc == 2 and err.strip() == "softirqslower: error: CPU 4096 is not online", err


def test_json():
    t = Tool("softirqslower", "--json", "0", ready="stderr")
    w = threading.Thread(target=loopback_traffic, args=(2.0, 16384))
    w.start()
    w.join()
    time.sleep(0.3)
    assert t.stop() == 0, t.stderr
    objs = [d for d in json_objects(t, "softirqslower") if "lost" not in d]
    net = [d for d in objs if d["softirq"] == "net_rx"]
    assert any(d["stage"] == "softirq runtime" for d in net), t.text
    assert any(d["stage"] == "irq(hard) to softirq" for d in net), t.text
    assert {d["cpu"] for d in objs} <= set(corebpf.features.online_cpus())
    assert all(d["latency_ns"] >= 0 and d["softirq"] in VECTORS for d in objs)
