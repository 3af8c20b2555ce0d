"""Each probe kind the library can choose, attached and seen firing, on
kernels that have it.  On this project's CI host (no kprobes, fentry
refused) the kprobe/fentry cases skip naming the missing feature; the kernel
matrix (tests/vm/run) runs them in Debian 6.1/6.12 kernels where they fire."""
from __future__ import annotations

import os

import pytest

import corebpf
from corebpf import features

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]

KINDS = {
    "tp_btf": ("btf", features.tp_btf, "tp_btf programs (BTF-typed tracepoints)"),
    "raw_tp": (None, features.raw_tp, "raw tracepoints"),
    "tracepoint": ("tp", lambda: True, "tracepoints"),
    "fentry": ("fentry", features.fentry, "fentry/fexit (BPF trampolines)"),
    "kprobe": ("kprobe", features.kprobes, "kprobes (CONFIG_KPROBES)"),
}


def _fork_and_count(obj):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return obj.bss.fork_hits


@pytest.mark.parametrize("kind", ["tp_btf", "tracepoint", "fentry", "kprobe"])
def test_forced_kind_attaches_and_fires(test_object, kind):
    variant, available, what = KINDS[kind]
    if not available():
        pytest.skip(f"this kernel lacks {what}")
    with corebpf.Object.open(str(test_object), probe=kind) as obj:
        obj.programs["missing_tp"].autoload = False
        obj.programs["on_getppid"].autoload = False
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        assert obj.variant == variant
        obj.attach()
        assert [ln.kind for ln in obj.links] == [kind]
        assert _fork_and_count(obj) == 1


def test_feature_probes_agree_with_the_kernel():
    """The kprobe probe must not be fooled by /proc/kallsyms."""
    pmu = os.path.exists("/sys/bus/event_source/devices/kprobe/type")
    events = os.path.exists(os.path.join(features.tracefs(), "kprobe_events"))
    assert features.kprobes() == (pmu or events)
    print(f"kernel {os.uname().release}: kprobes={features.kprobes()} "
          f"fentry={features.fentry()} tp_btf={features.tp_btf()}")
