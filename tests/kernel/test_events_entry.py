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


@pytest.mark.parametrize("kind", ["ring", "ring-libbpf", "perf"])
def test_exception_at_callback_entry_reaches_poll(test_object, kind, capfd, monkeypatch):
    """ring: the direct consumer calls the callback itself; ring-libbpf and
    perf: through libbpf's cffi callback (the library's on_sample)."""
    if kind == "ring-libbpf":
        monkeypatch.setenv("COREBPF_RINGBUF", "libbpf")
    with corebpf.Object.open(str(test_object)) as obj:
        obj.programs["missing_tp"].autoload = False
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        obj.attach("on_getppid")
        got = []

        def on_record(r):
            got.append(r)
        buf = (obj.ring_buffer("events", on_record) if kind.startswith("ring") else
               obj.perf_buffer("pevents", on_record, page_cnt=8))
        os.getppid()
        sys.settrace(_raise_on_entry("on_record" if kind == "ring" else "on_sample"))
        try:
            with pytest.raises(Interrupted):
                buf.poll(200)
        finally:
            sys.settrace(None)
        assert got == []
    assert "Exception ignored" not in capfd.readouterr().err
