"""cpudist on the real kernel: a CPU hog's on-CPU slices and a sleeper's
off-CPU waits are counted, per process when asked."""
from __future__ import annotations

import os
import re
import signal
import time

import pytest

import corebpf
from corebpf import features
from tests.helpers import Tool, run_tool
from tests.workloads import busy_loops, sleeper

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROW = re.compile(r"\s*(\d+) -> (\d+)\s+: (\d+)\s+\|")


def section_rows(lines, header):
    out, inside = [], False
    for l in lines:
        if l.startswith(("pid = ", "tid = ")):
            inside = l == header
            continue
        m = ROW.match(l)
        if m and inside:
            out.append((int(m.group(1)), int(m.group(3))))
    return out


def test_on_cpu_per_process():
    with busy_loops(2 * os.cpu_count()) as pids:
        rc, out, err = run_tool("cpudist", "-P", "1", "2")
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[0] == "Tracing on-CPU time... Hit Ctrl-C to end."
    # bcc prints /proc/PID/comm with its newline: an empty line follows
    i = lines.index("pid = %d python3" % pids[0])
    assert lines[i + 1] == "", out
    rows = section_rows(lines, "pid = %d python3" % pids[0])
    assert sum(c for _, c in rows) > 0, out


def test_off_cpu_sleeper_pid_filter_extension():
    with sleeper(0.01) as pid:
        t = Tool("cpudist", "-O", "-e", "-p", pid, "1", "1")
        assert t.lines[0] == "Tracing off-CPU time... Hit Ctrl-C to end."
        assert t.wait(timeout=30) == 0
    rows = [(int(m.group(1)), int(m.group(3))) for m in map(ROW.match, t.lines) if m]
    # a 10 ms sleep keeps it off the CPU for at least 10 ms
    assert sum(c for low, c in rows if low >= 8192) > 0, t.text
    ext = [re.fullmatch(r"avg = (\d+) usecs, total: (\d+) usecs, count: (\d+)", l)
           for l in t.lines]
    ext = [m for m in ext if m]
    # the map is read while the kernel keeps counting: slots and the count
    # may be a couple of updates apart
    assert ext and abs(int(ext[0].group(3)) - sum(c for _, c in rows)) <= 3, t.text
    assert int(ext[0].group(1)) >= 8000


def test_threads_ms_timestamp_ctrl_c():
    # more hogs than CPUs: a lone hog on an idle CPU may not be switched out
    # (and so not counted) within the second
    with busy_loops(2 * os.cpu_count()) as pids:
        t = Tool("cpudist", "-L", "-m", "-T", "-p", pids[0])
        time.sleep(1)
        assert t.stop(signal.SIGINT) == 0
    assert any(l.startswith("tid = %d python3" % pids[0]) for l in t.lines), t.text
    assert any(re.match(r"\s+msecs\s+: count", l) for l in t.lines)
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip()) for l in t.lines)


def test_idle_only_with_include_idle():
    # a CPU goes idle within seconds even on a busy machine (up to 30
    # intervals: with both CPUs saturated, 5 s passed once without)
    t = Tool("cpudist", "-P", "-I", "--probe", "raw_tp", "1", "30")
    assert t.wait_for(lambda l: l == "pid = 0", timeout=30), t.text   # no /proc/0: pid only
    t.stop()
    t = Tool("cpudist", "-P", "1", "1")
    assert t.wait(timeout=30) == 0
    assert "pid = 0" not in t.lines


def test_kprobe_variant_loads():
    with corebpf.Object.open("cpudist", only=["switch__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["switch__kprobe"].fd >= 0


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes: cannot show the refusal")
def test_forced_kprobe_names_missing_feature():
    rc, out, err = run_tool("cpudist", "--probe", "kprobe")
    assert rc == 1 and "kprobes" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("args,msg", [
    (["-P", "-L"], "not allowed with"),
    (["-p", "-4"], "no such process"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("cpudist", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_kprobe_target_found_by_pattern():
    from corebpf.tools import _cli, cpudist
    name = _cli.kernel_function(cpudist.FINISH_TASK_SWITCH)
    assert name and name.startswith("finish_task_switch"), name
    assert _cli.kernel_function([r"no_such_function_zz\d"]) is None
    with corebpf.Object.open("cpudist", only=["switch__kprobe"]) as obj:
        obj.load(select=False)
        with pytest.raises(corebpf.MissingFeature, match="no_such_function_zz"):
            _cli.attach_kprobe_any(obj.programs["switch__kprobe"], ["no_such_function_zz"])
