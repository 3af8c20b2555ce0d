"""hardirqs on the real kernel: direct I/O to the disk raises its virtio
request-queue interrupts, which show up by handler name."""
from __future__ import annotations

import re
import signal

import pytest

from tests.helpers import Tool, run_tool
from tests.workloads import SCRATCH_DIR, direct_writer, disk_irq_names, disk_of

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

IRQS = disk_irq_names(disk_of(SCRATCH_DIR))


@pytest.fixture(autouse=True)
def disk_irqs():
    assert IRQS, "no virtio interrupt names for the scratch disk in /proc/interrupts"


def table(lines):
    return {l.split()[0]: int(l.split()[1]) for l in lines
            if re.fullmatch(r"\S+\s+\d+", l.strip()) and not l.startswith(" ")}


def test_time_per_handler_interval_count():
    with direct_writer("cbpf_hirq", size=65536, seconds=1.5) as w:
        t = Tool("hardirqs", "-T", "1", "2")
        assert t.lines[0] == "Tracing hard irq event time... Hit Ctrl-C to end."
        w.go()
        assert t.wait(timeout=30) == 0
    assert sum(l == "%-26s %11s" % ("HARDIRQ", "TOTAL_usecs") for l in t.lines) == 2, t.text
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip())) for l in t.lines) == 2
    rows = table(t.lines)
    assert set(rows) & set(IRQS), t.text


def test_counts_ctrl_c():
    t = Tool("hardirqs", "-C")
    assert t.lines[0] == "Tracing hard irq events... Hit Ctrl-C to end."
    with direct_writer("cbpf_hirqc", size=65536, seconds=0.5) as w:
        w.go().wait()
    assert t.stop(signal.SIGINT) == 0
    assert "%-26s %11s" % ("HARDIRQ", "TOTAL_count") in t.lines
    rows = table(t.lines)
    assert sum(rows.get(n, 0) for n in IRQS) >= 8, t.text     # >= one per write
    counts = [v for k, v in rows.items()]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("kind", ["tracepoint", "tp_btf"])
def test_distribution_nanoseconds(kind):
    t = Tool("hardirqs", "-d", "-N", "--probe", kind)
    with direct_writer("cbpf_hirqd", size=65536, seconds=0.5) as w:
        w.go().wait()
    t.stop()
    heads = [l for l in t.lines if l.startswith("hardirq = ")]
    assert set(h.split(" = ")[1] for h in heads) & set(IRQS), t.text
    assert any(re.match(r"\s+nsecs\s+: count\s+distribution", l) for l in t.lines)


def test_cpu_filter():
    rc, out, err = run_tool("hardirqs", "-c", "0", "1", "1")
    assert rc == 0 and "TOTAL_usecs" in out, err


@pytest.mark.parametrize("args,msg", [
    (["-C", "-d"], "The --count option can't be used with time-based options"),
    (["-C", "-N"], "The --count option can't be used with time-based options"),
    (["-c", "4096"], "CPU 4096 is not online"),
    (["1", "2", "3"], "unrecognized arguments"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("hardirqs", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
