"""An exception raised as a buffer callback is entered (where a Ctrl-C
lands: Python runs signal handlers at a function's first bytecode) reaches
poll() instead of being printed and dropped by cffi."""
from __future__ import annotations

import os
import sys

import pytest

import corebpf

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]


class Interrupted(Exception):
    pass


def _raise_on_entry(name):
    """A trace function that fails the call of function `name` on entry."""
    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_name == name:
            raise Interrupted
        return None
    return tracer


@pytest.mark.parametrize("kind", ["ring", "perf"])
def test_exception_at_callback_entry_reaches_poll(test_object, kind, capfd):
    with corebpf.Object.open(str(test_object)) as obj:
        obj.programs["missing_tp"].autoload = False
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        obj.attach("on_getppid")
        got = []
        buf = (obj.ring_buffer("events", got.append) if kind == "ring" else
               obj.perf_buffer("pevents", got.append, page_cnt=8))
        os.getppid()
        sys.settrace(_raise_on_entry("on_sample"))
        try:
            with pytest.raises(Interrupted):
                buf.poll(200)
        finally:
            sys.settrace(None)
        assert got == []
    assert "Exception ignored" not in capfd.readouterr().err
