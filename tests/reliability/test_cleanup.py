"""Nothing outlives a tool: after Ctrl-C, SIGTERM, a reader that goes away
after one line (`| head -n1`) or SIGKILL, the BPF programs, maps, links and
BTF objects the tool held (by ID, read from its /proc/PID/fdinfo while it
ran: others load the same programs at the same time) are gone from the
kernel, and no tracefs probe naming its PID is left.  Stopped right after
attaching, a tool exits 0 with its summary (summary tools) and nothing on
stderr.  Every tool in tests/matrix.py is run."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest

from tests import matrix
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

RUNNABLE = [(n, s) for n, s in matrix.present() if matrix.available(s) and s.loads_bpf]
UNAVAILABLE = [(n, s) for n, s in matrix.present() if not matrix.available(s)]
HEAD = [(n, s) for n, s in RUNNABLE if s.head is not None]


def _ids(pairs):
    return [n for n, _ in pairs]


def _clean_stderr(s, stderr):
    lines = [ln for ln in stderr.splitlines()
             if ln.strip() and not (s.stderr_ok and ln.startswith(s.stderr_ok))]
    return lines


def _assert_gone(pid, objs, probes_before):
    left = matrix.remaining(objs)
    assert not left, f"BPF objects of the tool still loaded after it exited: {left}"
    probes = matrix.probes_of(pid, matrix.tracefs_probes() - probes_before)
    assert not probes, f"tracefs probes left by the tool: {probes}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("name,s", RUNNABLE, ids=_ids(RUNNABLE))
def test_stop_right_after_attach(name, s, sig):
    probes_before = matrix.tracefs_probes()
    t = Tool(name, *matrix.resolve(s, s.args))
    pid = t.proc.pid
    objs = matrix.owned_objects(pid)
    assert objs["prog"], f"{name}: no BPF program found in /proc/{pid}/fdinfo"
    header = len(t.lines)
    rc = t.stop(sig)
    if sig == signal.SIGKILL:
        assert rc == -signal.SIGKILL
    else:
        assert rc == 0, t.stderr
        assert "Traceback" not in t.stderr
        assert _clean_stderr(s, t.stderr) == [], t.stderr
        if s.summary:
            assert s.summary in t.lines[header:], t.text
    _assert_gone(pid, objs, probes_before)


@pytest.mark.parametrize("name,s", HEAD, ids=_ids(HEAD))
def test_reader_gone_after_one_line(name, s):
    """What `TOOL | head -n1` does to the tool: its reader takes the first line
    and exits; the tool's next write finds the pipe closed.  The tool exits
    0, quietly, detached."""
    probes_before = matrix.tracefs_probes()
    with matrix.workload():
        p = subprocess.Popen(matrix.tool_cmd(name, *matrix.resolve(s, s.head or s.args)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        first = b""
        deadline = time.monotonic() + 30
        while b"\n" not in first and time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                chunk = os.read(p.stdout.fileno(), 1)      # no more than head would take
                if not chunk:
                    break
                first += chunk
        assert first.endswith(b"\n"), (first, p.stderr.read() if p.poll() is not None else "")
        objs = matrix.owned_objects(p.pid)
        p.stdout.close()                                   # head -n1 exits
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            pytest.fail(f"{name} did not notice its reader had gone (30 s)")
        err = p.stderr.read().decode()
    assert rc == 0, err
    assert "Traceback" not in err and _clean_stderr(s, err) == [], err
    assert objs["prog"]
    _assert_gone(p.pid, objs, probes_before)


@pytest.mark.parametrize("name,s", UNAVAILABLE, ids=_ids(UNAVAILABLE))
def test_tool_without_its_kernel_feature_says_which(name, s):
    from tests.helpers import run_tool
    rc, out, err = run_tool(name, *matrix.resolve(s, s.args), timeout=60)
    assert rc == 1 and out == ""
    assert len(err.splitlines()) == 1, err
    assert any(matrix.need_text(n) in err for n in s.needs), err
