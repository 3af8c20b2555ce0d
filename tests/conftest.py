"""Shared fixtures.  Kernel tests need root and the capabilities this
machine has; a test skips only when corebpf.core.features says the capability
is missing, and the skip reason names it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from corebpf.core.paths import ARCH

ROOT = Path(__file__).resolve().parent.parent
TEST_OBJ = ROOT / "tests" / "bpf" / str(ARCH) / "libtest.bpf.o"

# The minimal-BTF cache (corebpf.core.kcache) makes raw_tp rank before
# tp_btf; the tools' tests run each variant by name ("", raw_tp, tracepoint)
# and would lose their tp_btf runs, so it is off here unless asked for
# (COREBPF_CACHE=on).  tests/kernel/test_btf_cache.py turns it on and shows
# that every object relocates against its minimal BTF exactly as against the
# kernel's, which makes the raw_tp runs here stand for the cached default.
os.environ.setdefault("COREBPF_CACHE", "off")


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel: loads BPF programs into the running kernel")


@pytest.fixture(scope="session")
def test_object() -> Path:
    """Path of tests/bpf/ARCH/libtest.bpf.o, built now if stale (needs clang)."""
    sys.path.insert(0, str(ROOT))
    import build
    build.build(tests=True, quiet=True, arch="native")
    return TEST_OBJ


def _fds():
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return out


def _uprobe_events():
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        try:
            with open(f"{base}/uprobe_events") as f:
                return set(f.read().splitlines())
        except OSError:
            continue
    return set()


@pytest.fixture
def no_leaks():
    """Fail if the test leaves fds (BPF links, programs, maps, perf events)
    or tracefs uprobe entries behind in this process."""
    before = _fds()
    probes = _uprobe_events()
    yield
    import gc
    gc.collect()
    after = _fds()
    leaked = {fd: t for fd, t in after.items() if fd not in before}
    assert not leaked, f"leaked fds: {leaked}"
    left = _uprobe_events() - probes
    assert not left, f"uprobe entries left: {left}"


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF, CAP_PERFMON): kernel test")


PROGS = ROOT / "tests" / "progs"


def _compile(out: Path, src: Path, *flags) -> Path:
    import shutil
    import subprocess
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or "clang"
    subprocess.run([cc, "-O1", "-fno-omit-frame-pointer", *flags, "-o", str(out), str(src)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def stackprog(tmp_path_factory) -> dict:
    """tests/progs/stackprog.c built with frame pointers (cc -O1
    -fno-omit-frame-pointer): {"pie": path, "nopie": path} (both named stackprog)."""
    d = tmp_path_factory.mktemp("stackprog")
    src = PROGS / "stackprog.c"
    (d / "pie").mkdir()
    (d / "nopie").mkdir()
    return {"pie": _compile(d / "pie" / "stackprog", src, "-fPIE", "-pie"),
            "nopie": _compile(d / "nopie" / "stackprog", src, "-fno-PIE", "-no-pie")}


@pytest.fixture(scope="session")
def unwindprog(tmp_path_factory) -> dict:
    """tests/progs/unwindprog.c built without frame pointers (-O2
    -fomit-frame-pointer): {"eh": with .eh_frame as usual, "debuglink": with
    no .eh_frame of its own, its CFI only in .debug_frame of a separate
    debug file next to it, found through .gnu_debuglink}."""
    import shutil
    import subprocess
    d = tmp_path_factory.mktemp("unwindprog")
    src = PROGS / "unwindprog.c"
    (d / "eh").mkdir()
    (d / "dbg").mkdir()
    eh = _compile(d / "eh" / "unwindprog", src, "-O2", "-fomit-frame-pointer")
    dbg = _compile(d / "dbg" / "unwindprog", src, "-O2", "-fomit-frame-pointer", "-g",
                   "-fno-asynchronous-unwind-tables", "-fno-unwind-tables")
    objcopy = shutil.which("objcopy")
    run = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
    run(objcopy, "--only-keep-debug", str(dbg), str(dbg) + ".debug")
    run(objcopy, "--strip-debug", "--add-gnu-debuglink=" + str(dbg) + ".debug", str(dbg))
    return {"eh": eh, "debuglink": dbg}


@pytest.fixture(scope="session")
def marker_lib(tmp_path_factory) -> Path:
    """tests/progs/libmarker.c as a shared library."""
    d = tmp_path_factory.mktemp("libmarker")
    return _compile(d / "libcorebpfmarker.so", PROGS / "libmarker.c", "-shared", "-fPIC")


@pytest.fixture(scope="session")
def allocs_prog(tmp_path_factory) -> Path:
    """tests/progs/allocs.c (memleak's target) built with frame pointers."""
    d = tmp_path_factory.mktemp("allocs")
    return _compile(d / "allocs", PROGS / "allocs.c")


@pytest.fixture(scope="session")
def lockorder_prog(tmp_path_factory) -> Path:
    """tests/progs/lockorder.c (deadlock's target) built with frame pointers."""
    d = tmp_path_factory.mktemp("lockorder")
    return _compile(d / "lockorder", PROGS / "lockorder.c", "-pthread")
