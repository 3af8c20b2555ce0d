"""Build tests/progs/usdt_target.c once per test session (needs a C compiler,
gcc or clang, and <sys/sdt.h> from Debian's systemtap-sdt-dev), or use the
prebuilt one named by COREBPF_USDT_TARGET (a regular file: the arm64 guests,
which have no compiler, get it cross-built by tests/vm/run-arm64)."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent / "progs" / "usdt_target.c"
_built = {}


def _prebuilt():
    path = os.environ.get("COREBPF_USDT_TARGET", "")
    return path if path and os.path.isfile(path) else None


def _compiler():
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def missing() -> str:
    """Why usdt_target() cannot give a target here, or None."""
    if _prebuilt() or _compiler():
        return None
    return ("no C compiler to build the USDT target (tests/progs/usdt_target.c) "
            "and no prebuilt one (COREBPF_USDT_TARGET)")


def usdt_target() -> str:
    """Path of the compiled USDT/uprobe test target."""
    if "path" not in _built and _prebuilt():
        _built["path"] = _prebuilt()
    if "path" not in _built:
        cc = _compiler()
        assert cc, "no C compiler (cc/gcc/clang) to build the USDT test target"
        d = tempfile.mkdtemp(prefix="corebpf-usdt-", dir="/var/tmp")
        atexit.register(shutil.rmtree, d, True)
        out = os.path.join(d, "usdt_target")
        r = subprocess.run([cc, "-O1", "-g", "-pthread", "-o", out, str(SRC)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"building usdt_target failed:\n{r.stderr}"
        _built["path"] = out
    return _built["path"]


class Burst:
    """usdt_target in burst mode: each go() makes n calls of everything
    (malloc(size), memccpy, corebpf_nap(2), corebpf_recurse(3), the USDT
    probe corebpf:burst) and waits until they are done."""

    def __init__(self, n: int, size: int, marker: str = None):
        import uuid
        self.path = usdt_target()
        self.marker = marker or "M" + uuid.uuid4().hex[:8]
        self.proc = subprocess.Popen([self.path, "burst", str(n), str(size), self.marker],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == b"ready\n"
        self.pid = self.proc.pid

    def go(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == b"done\n"

    def close(self):
        self.proc.kill()
        self.proc.wait()


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([usdt_target(), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def reap_tools():
    """Generator for an autouse fixture: stop every Tool a test started and
    left running (a failed assertion before t.stop())."""
    from tests import helpers
    started = []
    orig = helpers.Tool.__init__

    def init(self, *a, **kw):
        started.append(self)
        orig(self, *a, **kw)

    helpers.Tool.__init__ = init
    try:
        yield
    finally:
        helpers.Tool.__init__ = orig
        for t in started:
            if getattr(t, "proc", None) is not None and t.proc.poll() is None:
                t.stop()
