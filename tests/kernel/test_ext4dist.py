"""ext4dist on the real kernel: one process's ext4 operations fill the
read, write, open and fsync histograms."""
from __future__ import annotations

import os
import re
import signal

import pytest

import corebpf
from tests.helpers import Tool, run_tool
from tests.workloads import file_ops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROW = re.compile(r"\s*(\d+) -> (\d+)\s+: (\d+)\s+\|")


def sections(lines):
    """{operation: total count} over every output."""
    out, cur = {}, None
    for l in lines:
        if l.startswith("operation = "):
            cur = l.split(" = ", 1)[1]
            out.setdefault(cur, 0)
        m = ROW.match(l)
        if m and cur:
            out[cur] += int(m.group(3))
    return out


@pytest.mark.parametrize("probe", ["", "tracepoint"])
def test_interval_count_per_operation(probe):
    """Default: raw_syscalls (tp_btf) and a switch on the syscall number;
    tracepoint: one tracepoint per syscall."""
    with file_ops("cbpf_e4dist_%d" % os.getpid()) as w:
        t = Tool("ext4dist", "-p", w.pid, "1", "2", env={"COREBPF_PROBE": probe})
        assert t.lines[0] == "Tracing ext4 operation latency... Hit Ctrl-C to end."
        w.go().wait()
        assert t.wait(timeout=30) == 0
    got = sections(t.lines)
    # 2 opens, 4 writes, 1 fsync, 3 reads + 1 pread (the last read returns 0)
    assert got == {"open": 2, "write": 4, "fsync": 1, "read": 4}, t.text
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d:", l)) for l in t.lines) == 2
    assert any(re.match(r"\s+usecs\s+: count\s+distribution", l) for l in t.lines)


def test_ctrl_c_summary_milliseconds_no_timestamp():
    with file_ops("cbpf_e4distm_%d" % os.getpid()) as w:
        t = Tool("ext4dist", "-m", "-T", "-p", w.pid)
        w.go().wait()
        assert t.stop(signal.SIGINT) == 0
    assert sections(t.lines) == {"open": 2, "write": 4, "fsync": 1, "read": 4}, t.text
    assert any(re.match(r"\s+msecs\s+: count\s+distribution", l) for l in t.lines)
    assert not any(re.fullmatch(r"\d\d:\d\d:\d\d:", l) for l in t.lines)


def test_kprobe_variant_loads():
    progs = [p + "__kprobe" for p in ("read_enter", "read_exit", "write_enter", "write_exit",
                                      "open_enter", "open_exit", "sync_enter", "sync_exit")]
    with corebpf.Object.open("ext4dist", only=progs) as obj:
        obj.load(select=False)


@pytest.mark.parametrize("args,msg", [
    (["0"], "interval 0"),
    (["1", "0"], "must be positive"),
    (["-p", "x"], "invalid PID"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("ext4dist", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    from tests import fstools
    from tests.workloads import SCRATCH_DIR
    objs, _, _ = fstools.run_json("ext4dist", SCRATCH_DIR, ("-m",), ext4=True)
    assert fstools.json_dist_counts(objs) == fstools.OPS
    assert {o["unit"] for o in objs} == {"msecs"}
