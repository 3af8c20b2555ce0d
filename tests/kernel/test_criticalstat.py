"""criticalstat on the real kernel.  Kernels built without the preemptirq
tracepoints (Debian's, this machine's) must get one line naming what is
missing; where they exist, IRQ-disabled sections longer than 1 us show up
with their start/end places and a stack."""
from __future__ import annotations

import re

import pytest

from corebpf import features
from tests.helpers import Tool, run_json, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_one_line_without_preemptirq():
    if features.preemptirq():
        pytest.skip("this kernel has the preemptirq tracepoints (the other test runs)")
    for args, what in (((), "irq_disable/irq_enable"),
                       (("-p",), "preempt_disable/preempt_enable"),
                       (("--probe", "kprobe"), "irq_disable/irq_enable")):
        rc, out, err = run_tool("criticalstat", *args)
        assert rc == 1 and out == "", (out, err)
        assert err.count("\n") == 1 and err.startswith(
            f"criticalstat: error: this kernel has no preemptirq:{what} tracepoints"), err
        assert "CONFIG_PREEMPTIRQ_TRACEPOINTS" in err


def test_irq_sections():
    if not features.preemptirq():
        pytest.skip("this kernel lacks the preemptirq tracepoints "
                    "(CONFIG_PREEMPTIRQ_TRACEPOINTS, CONFIG_TRACE_IRQFLAGS)")
    t = Tool("criticalstat", "-d", "1")
    assert t.lines[0] == "Finding critical section with IRQ disabled for > 1us"
    line = t.wait_for(lambda l: l.startswith("Section end:"), timeout=20)
    assert t.stop() == 0, t.stderr
    assert line, t.text
    i = t.lines.index(line)
    task = next(l for l in reversed(t.lines[:i]) if l.startswith("TASK: "))
    assert re.fullmatch(r"TASK: .* \(pid +\d+ tid +\d+\) Total Time: [\d.]+ *us", task), task
    assert t.lines[i - 1].startswith("Section start: ") and " -> " in t.lines[i - 1]


def test_json_irq_sections():
    if not features.preemptirq():
        pytest.skip("this kernel lacks the preemptirq tracepoints "
                    "(CONFIG_PREEMPTIRQ_TRACEPOINTS, CONFIG_TRACE_IRQFLAGS)")
    d, _ = run_json("criticalstat", ["-d", "1"], lambda: None, lambda d: True)
    assert d["duration_ns"] >= 1000 and d["pid"] >= 0 and d["tid"] >= 0
    assert d["start_ip"] and d["end_ip"] and isinstance(d["kernel_stack"], list)


def test_json_without_preemptirq_is_one_line():
    if features.preemptirq():
        pytest.skip("this kernel has the preemptirq tracepoints (the other test runs)")
    rc, out, err = run_tool("criticalstat", "--json")
    assert rc == 1 and out == "" and err.count("\n") == 1, (out, err)
