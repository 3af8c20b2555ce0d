"""One set of objects per architecture: the library picks this machine's and
refuses a machine it has none for with one line; each set is compiled for
its own architecture (no privilege needed)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from corebpf.core import paths

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# run a tool as if os.uname() said `machine` (what platform.machine() reads)
AS_MACHINE = """
import os, runpy, sys
u = os.uname()
os.uname = lambda: os.uname_result((u.sysname, u.nodename, u.release, u.version, {m!r}))
sys.argv = ["corebpf", *{argv!r}]
runpy.run_module("corebpf", run_name="__main__")
"""


def _as_machine(machine, *argv):
    return subprocess.run([sys.executable, "-c", AS_MACHINE.format(m=machine, argv=list(argv))],
                          capture_output=True, text=True, cwd=ROOT)


def test_this_machine_has_its_own_objects():
    assert paths.ARCH == {"x86_64": "x86", "aarch64": "arm64"}[os.uname().machine]
    assert paths.OBJ_DIR == os.path.join(ROOT, "corebpf", "bpf", paths.ARCH)
    assert paths.object_path("execsnoop") == os.path.join(paths.OBJ_DIR, "execsnoop.bpf.o")
    assert os.path.exists(paths.object_path("execsnoop"))
    assert paths.unsupported() == ""


@pytest.mark.parametrize("argv", [["execsnoop"], ["trace", "do_nanosleep"], ["biolatency", "1", "1"]])
def test_other_architectures_are_refused_in_one_line(argv):
    r = _as_machine("riscv64", *argv)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == (f"{argv[0]}: error: no BPF objects for this machine's "
                                "architecture (riscv64): corebpf is built for x86_64 and aarch64")


def test_the_other_supported_architecture_picks_its_set():
    other = {"x86_64": "aarch64", "aarch64": "x86_64"}[os.uname().machine]
    r = subprocess.run([sys.executable, "-c", AS_MACHINE.format(m=other, argv=["--list"])
                        .replace('runpy.run_module("corebpf", run_name="__main__")',
                                 "from corebpf.core import paths; print(paths.OBJ_DIR)")],
                       capture_output=True, text=True, cwd=ROOT)
    arch = {"x86_64": "x86", "aarch64": "arm64"}[other]
    assert r.stdout.strip() == os.path.join(ROOT, "corebpf", "bpf", arch), r.stderr


def _btf_strings(path):
    """The names in an object's .BTF string section (raw bytes are enough)."""
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("arch, mine, other", [("x86", b"\0pt_regs\0", b"\0user_pt_regs\0"),
                                               ("arm64", b"\0user_pt_regs\0", b"\0__x64_")])
def test_each_set_reads_its_architectures_registers(arch, mine, other):
    """filelife's kprobe variant reads arguments with PT_REGS_PARMn_CORE: a
    CO-RE read of pt_regs->si on x86, user_pt_regs->regs[1] on arm64."""
    obj = os.path.join(ROOT, "corebpf", "bpf", arch, "filelife.bpf.o")
    if not os.path.exists(obj):
        pytest.fail(f"{obj} missing: run build.py (it builds every architecture)")
    data = _btf_strings(obj)
    assert mine in data
    assert other not in data
