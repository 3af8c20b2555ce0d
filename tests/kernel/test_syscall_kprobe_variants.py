"""The kprobe (ksyscall) variants of the syscall tools pass the verifier here,
so kernels without syscall tracepoints but with kprobes can use them."""
from __future__ import annotations

import pytest

import corebpf

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.mark.parametrize("tool,count", [("statsnoop", 10), ("syncsnoop", 7),
                                        ("mountsnoop", 12)])
def test_kprobe_variant_loads(tool, count):
    with corebpf.Object.open(tool) as probe:
        names = [n for n, p in probe.programs.items() if p.variant == "kprobe"]
        assert all(probe.programs[n].kind == "kprobe" for n in names)
    assert len(names) == count
    with corebpf.Object.open(tool, only=names) as obj:
        obj.load(select=False)
        assert all(obj.programs[n].fd >= 0 for n in names)
