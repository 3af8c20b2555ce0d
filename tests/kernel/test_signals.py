"""Stop signals are never lost: a Ctrl-C (or SIGTERM) that arrives the moment
a tool is attached still ends it cleanly, with bcc's summary where the tool
has one (the tools hold SIGINT/SIGTERM/SIGHUP from setup on and consume them
in their loop, instead of raising wherever the interpreter happens to be)."""
from __future__ import annotations

import signal

import pytest

from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

SUMMARY_TOOLS = [
    ("biolatency", [], lambda lines: True),           # histogram may be empty: exit 0 only
    ("funccount", ["t:syscalls:sys_enter_getppid"], lambda lines: "Detaching..." in lines),
    ("syscount", [], lambda lines: "Detaching..." in lines),
]


@pytest.mark.parametrize("tool,args,done", SUMMARY_TOOLS, ids=[t[0] for t in SUMMARY_TOOLS])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_right_after_header(tool, args, done, sig):
    for _ in range(3):
        t = Tool(tool, *args)
        assert t.stop(sig) == 0, t.stderr
        assert done(t.lines), t.text
        assert "Traceback" not in t.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_event_tool_exits_zero(sig):
    t = Tool("execsnoop")
    assert t.stop(sig) == 0 and t.stderr == ""
