"""Stop signals are never lost: a Ctrl-C (or SIGTERM) that arrives the moment
a tool is attached still ends it cleanly, with bcc's summary where the tool
has one (the tools hold SIGINT/SIGTERM/SIGHUP from setup on and consume them
in their loop, instead of raising wherever the interpreter happens to be)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests import matrix
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

# Every summary tool of tests/matrix.py, with what its summary must contain
# ("" where an empty histogram or stack list prints nothing: exit 0 only).
SUMMARY_TOOLS = [(n, s, s.summary) for n, s in matrix.present()
                 if s.summary is not None and matrix.available(s)]


@pytest.mark.parametrize("tool,s,done", SUMMARY_TOOLS, ids=[t[0] for t in SUMMARY_TOOLS])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_right_after_header(tool, s, done, sig):
    args = matrix.resolve(s, s.args)
    for _ in range(3):
        t = Tool(tool, *args)
        header = len(t.lines)
        assert t.stop(sig) == 0, t.stderr
        assert not done or done in t.lines[header:], t.text
        assert "Traceback" not in t.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_event_tool_exits_zero(sig):
    t = Tool("execsnoop")
    assert t.stop(sig) == 0 and t.stderr == ""


def _loading(pid):
    """True once the process holds a BPF fd (it is loading or attaching)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("anon_inode:bpf")
                   or os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:btf"
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.parametrize("tool,summary", [("syscount", "Detaching..."), ("opensnoop", None)])
def test_signal_while_loading(tool, summary):
    """A Ctrl-C that arrives before the tool is attached (its first BPF fd is
    open, no header yet) is held: the tool attaches, prints its header and
    summary, exits 0, no traceback."""
    p = subprocess.Popen([sys.executable, "-m", "corebpf", tool], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not _loading(p.pid) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert err == b""
    lines = out.decode().splitlines()
    assert lines, "no header"
    if summary:
        assert summary in lines
