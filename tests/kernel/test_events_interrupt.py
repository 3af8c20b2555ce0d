"""Ctrl-C while libbpf is delivering records must reach the tool.  A signal
that lands while libbpf's C loop runs is handled by Python at the next
callback's first bytecode, outside the callback's own try block, where cffi
would print and drop the KeyboardInterrupt: the tool would ignore Ctrl-C."""
from __future__ import annotations

import os
import random
import signal
import time

import pytest

import corebpf

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]


@pytest.mark.parametrize("kind", ["ring", "perf"])
def test_interrupt_during_a_burst_is_never_lost(test_object, kind):
    fired = []

    def on_alarm(signum, frame):
        if not fired:
            fired.append(1)
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with corebpf.Object.open(str(test_object), only=["on_getppid"]) as obj:
            obj.rodata.targ_pid = os.getpid()
            obj.load(select=False)
            obj.attach("on_getppid")
            got = []
            if kind == "ring":
                buf = obj.ring_buffer("events", got.append)
            else:
                buf = obj.perf_buffer("pevents", got.append, page_cnt=256)
            # The alarm lands at a random point of a long delivery, often
            # while libbpf's C code runs between two callbacks.
            for _ in range(10):
                fired.clear()
                got.clear()
                for _ in range(5000):
                    os.getppid()
                with pytest.raises(KeyboardInterrupt):
                    signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0005, 0.004))
                    while len(got) < 5000:
                        if not buf.poll(100):
                            break
                    time.sleep(1)       # lost unless raised by now
                signal.setitimer(signal.ITIMER_REAL, 0)
                while buf.poll(0):
                    pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
