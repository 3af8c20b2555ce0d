"""The first thing a tool run does: hold its stop signals.

A tool (`python3 -m corebpf TOOL`, `corebpf TOOL`, or a command named
after a tool: TOOL, TOOL-corebpf) consumes Ctrl-C, SIGTERM and SIGHUP in its
loop (tools/_cli.py); before
_cli.setup() runs, Python would turn a Ctrl-C into a KeyboardInterrupt
traceback in the middle of an import.  So when this process is a tool run,
the signals are blocked (held, queued) from the package's first import on:
one that arrives while the modules load is acted on once the tool is
attached (summary, exit 0).  A program that merely imports corebpf is left
alone.  (Python's own start-up, before any corebpf code runs, is out of
reach: a Ctrl-C there ends the interpreter as Python decides.)
"""
from __future__ import annotations

import os
import sys

import _signal      # not `signal`: that imports enum, ~10 ms more of the window

STOP_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


def _is_tool(name: str) -> bool:
    if not name or name.startswith("_") or not name.replace("-", "").isalnum():
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.exists(os.path.join(here, "tools", name + ".py"))


def _is_tool_run() -> bool:
    """True for `python3 -m corebpf TOOL`, `corebpf TOOL`, and a command named
    after a tool: TOOL (pip's console script, /usr/lib/corebpf/bin/TOOL) or
    TOOL-corebpf (the Debian package's /usr/sbin name)."""
    orig = getattr(sys, "orig_argv", None)          # Python >= 3.10
    if orig is not None:
        try:
            i = orig.index("-m")
        except ValueError:
            i = -1
        if 0 <= i < len(orig) - 1 and orig[i + 1] == "corebpf":
            return i + 2 < len(orig) and _is_tool(orig[i + 2])
    elif sys.argv and sys.argv[0] == "-m":          # runpy importing the package
        return len(sys.argv) > 1 and _is_tool(sys.argv[1])
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name == "corebpf":                           # the umbrella: corebpf TOOL ...
        return len(sys.argv) > 1 and _is_tool(sys.argv[1])
    if name.endswith("-corebpf"):
        name = name[:-len("-corebpf")]
    if _is_tool(name):
        return True
    if not name or name.startswith("_") or not name.replace("-", "").isalnum():
        return False
    # bcc's language names (javacalls = ucalls -l java, ...) are console
    # scripts with no module of their own: their stub imports corebpf.tools
    try:
        with open(sys.argv[0], "rb") as f:
            return b"from corebpf.tools." in f.read(1024)
    except OSError:
        return False


def hold_signals_if_tool():
    if _is_tool_run():
        _signal.pthread_sigmask(_signal.SIG_BLOCK, STOP_SIGNALS)
