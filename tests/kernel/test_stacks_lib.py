"""The stack library on the real kernel: kallsyms symbols, perf_event
sampling owned by the Object, stack map reads (tests use the profile object)."""
from __future__ import annotations

import errno
import os
import re
import subprocess
import time

import pytest

import corebpf
from corebpf.core import perf
from corebpf.symbols import syms
from corebpf.symbols.stacks import Stacks

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def _kallsyms_text(name):
    """Address of text symbol `name`, read with a plain regex (not corebpf)."""
    with open("/proc/kallsyms") as f:
        m = re.search(r"^([0-9a-f]+) [tT] " + re.escape(name) + r"$", f.read(), re.M)
    return int(m.group(1), 16) if m else None


@pytest.mark.parametrize("name", ["schedule", "do_nanosleep", "vfs_read"])
def test_kernel_symbols_match_kallsyms(name):
    addr = _kallsyms_text(name)
    assert addr, f"{name} not in /proc/kallsyms"
    k = syms.KernelSymbols()
    assert k.resolve(addr) == (name, 0, "kernel")
    assert k.sym(addr + 3, show_offset=True, show_module=True) == f"{name}+0x3 [kernel]"
    assert k.address(name) == addr


def test_bpf_programs_resolve_to_the_bpf_module():
    with corebpf.Object.open("profile") as obj:
        obj.load()
        k = syms.KernelSymbols()
        names = k.find(r"bpf_prog_[0-9a-f]+_do_perf_event")
        assert names, "the loaded program is not in kallsyms"
        assert k.resolve(k.address(names[0]) + 1) == (names[0], 1, "bpf")


def test_sampling_links_owned_by_object(no_leaks, stackprog):
    spin = subprocess.Popen([str(stackprog["pie"]), "spin", "20"], stdout=subprocess.PIPE)
    try:
        spin.stdout.readline()
        with corebpf.Object.open("profile") as obj:
            obj.rodata.targ_filter_tgid = True
            obj.load()
            obj.maps["tgids"][spin.pid] = 1
            links = perf.attach_sampling(obj.programs["do_perf_event"], freq=199,
                                         hardware=True)
            assert len(links) == len(corebpf.features.online_cpus())
            assert all(ln in obj.links for ln in links)
            # no hardware PMU in most VMs: the software clock stands in
            assert links[0].target.split()[0] in ("cycles", "cpu-clock")
            deadline = time.monotonic() + 10
            items = []
            while time.monotonic() < deadline and sum(v for _, v in items) < 20:
                time.sleep(0.3)
                items = obj.maps["counts"].items()
            assert items and all(k.pid == spin.pid for k, _ in items)
            st = Stacks(obj.maps["stack_traces"])
            frames = [f for k, _ in items for f in st.user(k.user_stack_id, k.pid)]
            assert "corebpf_spin_marker" in frames
            assert all(isinstance(a, int) and a for k, _ in items
                       for a in obj.maps["stack_traces"].stack(k.user_stack_id))
            assert obj.maps["stack_traces"].stack(-errno.EFAULT) == []
    finally:
        spin.kill()
        spin.wait()


def test_hardware_event_or_clear_error():
    try:
        fd = perf.perf_event_open(perf.TYPE_HARDWARE, perf.COUNT_HW_CPU_CYCLES, cpu=0, freq=49)
    except corebpf.AttachError as e:
        assert e.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV)
        assert "perf_event_open" in str(e) and "cycles on CPU 0" in str(e)
    else:
        os.close(fd)


def test_bad_pid_and_cpu_raise():
    with pytest.raises(corebpf.AttachError) as e:
        perf.perf_event_open(perf.TYPE_SOFTWARE, perf.COUNT_SW_CPU_CLOCK, cpu=-1,
                             pid=2**22 + 5, freq=49)
    assert e.value.errno == errno.ESRCH
    with pytest.raises(corebpf.AttachError):
        perf.perf_event_open(perf.TYPE_SOFTWARE, perf.COUNT_SW_CPU_CLOCK, cpu=4096, freq=49)
