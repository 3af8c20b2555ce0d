"""softirqs on the real kernel: loopback TCP traffic raises NET_RX, timers
always run."""
from __future__ import annotations

import re
import signal
import threading

import pytest

from tests.helpers import Tool, run_tool
from tests.workloads import loopback_traffic

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

NAMES = {"hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
         "hrtimer", "rcu"}


def table(lines):
    return {l.split()[0]: int(l.split()[1]) for l in lines
            if len(l.split()) == 2 and l.split()[0] in NAMES and l.split()[1].isdigit()}


def test_time_per_vector_interval_count():
    t = Tool("softirqs", "-T", "1", "2")
    assert t.lines[0] == "Tracing soft irq event time... Hit Ctrl-C to end."
    loopback_traffic(1.5)
    assert t.wait(timeout=30) == 0
    assert sum(l == "%-16s %11s" % ("SOFTIRQ", "TOTAL_usecs") for l in t.lines) == 2, t.text
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip())) for l in t.lines) == 2
    assert {"net_rx", "timer"} <= set(table(t.lines)), t.text


@pytest.mark.parametrize("kind", [None, "tracepoint", "raw_tp"])
def test_event_counts(kind):
    args = ["--probe", kind] if kind else []
    t = Tool("softirqs", "-C", *args)
    assert t.lines[0] == "Tracing soft irq events... Hit Ctrl-C to end."
    loopback_traffic(0.5)
    assert t.stop(signal.SIGINT) == 0
    rows = table(t.lines)
    assert "%-16s %11s" % ("SOFTIRQ", "TOTAL_count") in t.lines
    assert rows.get("net_rx", 0) > 0 and rows.get("timer", 0) > 0, t.text
    assert list(rows.values()) == sorted(rows.values(), reverse=True)


def test_distribution_per_vector_one_cpu():
    t = Tool("softirqs", "-d", "-N", "-c", "0")
    traffic = threading.Thread(target=loopback_traffic, args=(1.0,))
    traffic.start()
    traffic.join()
    t.stop()
    heads = {l.split(" = ")[1] for l in t.lines if l.startswith("softirq = ")}
    assert heads and heads <= NAMES and "timer" in heads, t.text
    assert any(re.match(r"\s+nsecs\s+: count\s+distribution", l) for l in t.lines)


@pytest.mark.parametrize("args,msg", [
    (["-C", "-d"], "The --events option can't be used with time-based options"),
    (["-c", "x"], "invalid integer"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("softirqs", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
