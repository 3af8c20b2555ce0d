"""dcsnoop on the real kernel.  Only kernel functions carry dcache lookups (lookup_fast,
d_lookup): fentry, else kprobes.  Here: its programs
load, and where the kernel has neither fentry nor kprobes the tool says so
in one line; its probes fire in the kernel matrix's guests
(tests/kernel/test_extras_probe_paths.py), its formats are checked in
tests/unit/test_extras_formats.py."""
from __future__ import annotations

import pytest

import corebpf
from corebpf import features
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PROG = "dcsnoop"


@pytest.mark.parametrize("kind", ["kprobe", "fentry"])
def test_programs_load(kind):
    with corebpf.Object.open(PROG) as obj:
        names = [p.name for p in obj.programs.values() if p.variant == kind]
    assert names
    if kind == "fentry" and not features.fentry():
        pytest.skip("this kernel lacks fentry/fexit (BPF trampolines)")
    with corebpf.Object.open(PROG, only=names) as obj:
        obj.load(select=False)
        assert all(obj.programs[n].fd >= 0 for n in names)


def test_without_function_probes_one_line():
    if features.kprobes() or features.fentry():
        pytest.skip("this kernel has kprobes or fentry: the tool runs")
    rc, out, err = run_tool(PROG, "-a")
    assert rc == 1 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(PROG + ": error: ") and "kprobes" in err, err
