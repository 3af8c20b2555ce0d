"""The host-side test of a tool that only kernel functions can serve (dcstat,
dcsnoop, readahead, swapin, mdflush): its programs load (fentry ones where
the kernel loads fentry at all), and on a kernel with neither fentry nor
kprobes the tool says so in one line.  Subclass and set PROG, ARGS and, for
bare SEC("fentry") programs, TARGET (hook -> a kernel function to load
against).  The probes themselves fire in the kernel matrix's guests
(tests/kernel/test_extras_probe_paths.py)."""
from __future__ import annotations

import pytest

import corebpf
from corebpf import features
from tests.helpers import run_tool


class FunctionOnlyTests:
    PROG = None
    ARGS = ()
    TARGET = {}

    @pytest.mark.parametrize("kind", ["kprobe", "fentry"])
    def test_programs_load(self, kind):
        with corebpf.Object.open(self.PROG) as obj:
            names = [p.name for p in obj.programs.values() if p.variant == kind]
        assert names
        if kind == "fentry" and not features.fentry():
            pytest.skip("this kernel lacks fentry/fexit (BPF trampolines)")
        with corebpf.Object.open(self.PROG, only=names) as obj:
            for p in obj.programs.values():
                if p.variant == "fentry" and p.hook in self.TARGET:
                    p.set_attach_target(self.TARGET[p.hook])
            obj.load(select=False)
            assert all(obj.programs[n].fd >= 0 for n in names)

    def test_without_function_probes_one_line(self):
        if features.kprobes() or features.fentry():
            pytest.skip("this kernel has kprobes or fentry: the tool runs")
        rc, out, err = run_tool(self.PROG, *self.ARGS)
        assert rc == 1 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(self.PROG + ": error: ") and "kprobes" in err, err
