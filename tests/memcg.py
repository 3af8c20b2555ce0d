"""A throw-away memory cgroup with a small limit, for tests that need the
kernel to reclaim or OOM-kill inside it (cgroup v2, else the v1 memory
hierarchy).  Only processes started through it join it; whatever is left
in it is killed and the cgroup removed on exit."""
from __future__ import annotations

import os
import signal
import subprocess
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
