"""A Ctrl-C delivered at the very entry of an event callback (before its
try: block runs) is not lost inside cffi: poll() raises it.  Seen for real as
tools that ignored Ctrl-C under a stream of events; reproduced here by a
trace function that raises at the callback's 'call' event."""
from __future__ import annotations

import os
import sys

import pytest

import corebpf

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]


def _raise_on_entry(name):
    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_name == name:
            sys.settrace(None)
            raise KeyboardInterrupt
        return None
    return tracer


@pytest.mark.parametrize("kind", ["ring", "ring-libbpf", "perf"])
def test_interrupt_on_callback_entry_reaches_poll(test_object, kind, monkeypatch):
    """ring: the direct consumer calls the tool's callback itself (raise at
    its entry); ring-libbpf and perf: libbpf's cffi callback (raise at the
    entry of the library's on_sample)."""
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
        buf = (obj.ring_buffer("events", on_record) if kind.startswith("ring")
               else obj.perf_buffer("pevents", on_record, page_cnt=8))
        os.getppid()
        sys.settrace(_raise_on_entry("on_record" if kind == "ring" else "on_sample"))
        try:
            with pytest.raises(KeyboardInterrupt):
                buf.poll(500)
        finally:
            sys.settrace(None)
        assert got == []
