"""The direct ring buffer consumer's memory barrier (corebpf/core/events.py
_fence): none on x86; on CPUs that reorder loads (arm64) libc's
pthread_spin_unlock + pthread_spin_lock, whose declarations must resolve in
the running libc (checked here on any machine by asking for arm64's)."""
from __future__ import annotations

import os

from corebpf.core import events


def test_no_fence_on_x86(monkeypatch):
    real = os.uname()
    fake = type(real)((real.sysname, real.nodename, real.release, real.version, "x86_64"))
    monkeypatch.setattr(events.os, "uname", lambda: fake)
    assert events._fence() is None


def test_fence_on_arm64_is_callable(monkeypatch):
    real = os.uname()
    fake = type(real)((real.sysname, real.nodename, real.release, real.version, "aarch64"))
    monkeypatch.setattr(events.os, "uname", lambda: fake)
    fence = events._fence()
    assert callable(fence)
    for _ in range(3):
        fence()                     # returns: unlock then lock of its own lock
