"""A throw-away memory cgroup with a small limit, for tests that need the
kernel to reclaim or OOM-kill inside it (cgroup v2, else the v1 memory
hierarchy).  Only processes started through it join it; whatever is left
in it is killed and the cgroup removed on exit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from corebpf import features


class MemoryCgroup:
    def __init__(self, limit_bytes: int):
        found = features.memory_cgroup()
        if not found:
            pytest.skip("no memory cgroup hierarchy mounted (corebpf.features.memory_cgroup)")
        base, self.version = found
        self.path = os.path.join(base, "corebpf_test_" + uuid.uuid4().hex[:8])
        os.mkdir(self.path)
        if self.version == 2:
            self._write("memory.max", limit_bytes)
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                self._write("memory.swap.max", 0)
        else:
            self._write("memory.limit_in_bytes", limit_bytes)
        self.limit_pages = limit_bytes // os.sysconf("SC_PAGE_SIZE")

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def popen(self, argv, **kw):
        """Start argv inside the cgroup (it joins before exec)."""
        procs = os.path.join(self.path, "cgroup.procs")

        def join():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return subprocess.Popen(argv, preexec_fn=join, **kw)

    def pids(self):
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def close(self):
        for _ in range(50):
            try:
                left = self.pids()
            except FileNotFoundError:
                return
            for pid in left:            # only ever processes this helper started
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"could not remove {self.path}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


_OOM_PROC = """
import sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
if sys.argv[1] == "oom-victim":
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    hold = b"v" * (64 << 20)
print("ready", flush=True)
sys.stdin.readline()
grab = b"t" * (80 << 20)
print("done", flush=True)
"""


def _oom_proc(cg, name):
    p = cg.popen([sys.executable, "-c", _OOM_PROC, name], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def provoke_oom(cg):
    """A real OOM kill in `cg` (128 MiB): a victim (oom_score_adj 1000) holds
    64 MiB, a trigger then allocates 80 MiB.  Returns (victim, trigger, the
    trigger's output: "done\\n" when it survived)."""
    victim = _oom_proc(cg, "oom-victim")
    trigger = _oom_proc(cg, "oom-trigger")
    out, _ = trigger.communicate("go\n", timeout=60)
    victim.wait(timeout=60)
    return victim, trigger, out
