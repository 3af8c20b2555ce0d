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
from corebpf.core import kcache, perf
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


# -- the per-boot cache of the core kernel's symbols ------------------------------------------

@pytest.fixture
def kcache_on(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("COREBPF_CACHE_DIR", str(d))
    monkeypatch.delenv("COREBPF_CACHE", raising=False)
    return d


_FAKE = ("ffffffff81000000 T _stext\n"
         "ffffffff81000100 t helper_fn\n"
         "ffffffff81000100 T helper_alias\n"            # the last alias listed names it
         "ffffffff81000180 D some_data\n"
         "ffffffff81000200 W weak_fn\n"
         "0000000000000000 A percpu_thing\n"
         "ffffffff81000400 R last_rodata\n"
         "ffffffffc0001000 t mod_fn\t[e1000]\n"
         "ffffffffc0000800 t bpf_prog_abc_x\t[bpf]\n")


def test_core_symbols_come_from_the_boot_cache(kcache_on, tmp_path, monkeypatch):
    """The first lookup reads kallsyms and stores the core kernel's text
    symbols; the next KernelSymbols answers core addresses from the cache
    alone (the file now says otherwise: it is not read) and reads kallsyms
    for the others (module, BPF)."""
    p = tmp_path / "kallsyms"
    p.write_text(_FAKE)
    monkeypatch.setattr(syms, "KALLSYMS", str(p))
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("helper_alias", 5, "kernel")
    assert k.loaded
    path = kcache_on / syms._CoreText.NAME
    st = os.lstat(path)
    assert st.st_uid == 0 and (st.st_mode & 0o777) == 0o600
    p.write_text(_FAKE.replace("helper_alias", "renamed").replace("mod_fn", "mod2_fn"))
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("helper_alias", 5, "kernel")
    assert k.resolve(0xffffffff81000190) == ("helper_alias", 0x90, "kernel")    # data skipped
    assert k.sym(0xffffffff81000400, True, True) == "weak_fn+0x200 [kernel]"  # up to the last
    assert not k.loaded
    assert k.sym(0xffffffffc0001010, True, True) == "mod2_fn+0x10 [e1000]"
    assert k.loaded
    k = syms.KernelSymbols(str(p))          # below the image (arm64's modules): kallsyms
    assert k.sym(0xffffffff80000000) == "[unknown]" and k.loaded
    # another boot: the cache is not used (and is replaced)
    monkeypatch.setattr(kcache, "boot_identity", lambda: b"boot other")
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("renamed", 5, "kernel") and k.loaded
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("renamed", 5, "kernel") and not k.loaded


def test_damaged_or_unsafe_boot_cache_is_not_used(kcache_on, tmp_path, monkeypatch):
    p = tmp_path / "kallsyms"
    p.write_text(_FAKE)
    monkeypatch.setattr(syms, "KALLSYMS", str(p))
    syms.KernelSymbols(str(p)).resolve(0xffffffff81000105)
    path = kcache_on / syms._CoreText.NAME
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x20                                    # a name changed: CRC mismatch
    path.write_bytes(bytes(data))
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("helper_alias", 5, "kernel") and k.loaded
    os.chmod(path, 0o644)                               # readable by others: refused
    k = syms.KernelSymbols(str(p))
    assert k.resolve(0xffffffff81000105) == ("helper_alias", 5, "kernel") and k.loaded


def test_boot_cache_resolves_as_kallsyms_does(kcache_on):
    """On this kernel's kallsyms: a fifth of the symbols and 20,000 addresses in
    the kernel image resolve through the cache exactly as through the file;
    none of it reads kallsyms."""
    import random
    full = syms.KernelSymbols()
    full._core = False                      # the whole file, then stored
    full._ensure()
    core = full._core
    assert core and core.lo < core.hi and len(core.addrs) > 10000
    rnd = random.Random(os.getpid())
    probes = [rnd.randrange(core.lo, core.hi + 1) for _ in range(20000)] + \
        [a + d for a in core.addrs[::5] for d in (0, 1)] + [core.hi]
    warm = syms.KernelSymbols()
    for a in probes:
        assert warm.resolve(a) == full.resolve(a), hex(a)
    assert not warm.loaded
    addr = _kallsyms_text("schedule")
    assert warm.sym(addr + 4, True, True) == "schedule+0x4 [kernel]" and not warm.loaded


def test_bpf_program_frame_known_by_its_caller(kcache_on, tmp_path, monkeypatch):
    """A raw tracepoint's stack starts in the BPF program (outside the kernel
    image): called by bpf_trace_run*, it is dropped without reading kallsyms;
    an unknown frame outside the image otherwise makes it read."""
    from corebpf.symbols.stacks import _probe_frame_at
    p = tmp_path / "kallsyms"
    p.write_text("ffffffff81000000 T _stext\n"
                 "ffffffff81000100 T bpf_trace_run2\n"
                 "ffffffff81000200 t __bpf_trace_sched_switch\n"
                 "ffffffff81000300 T __schedule\n"
                 "ffffffff81000400 R __end_rodata\n"
                 "ffffffffc0001000 t mod_fn\t[e1000]\n")
    monkeypatch.setattr(syms, "KALLSYMS", str(p))
    syms.KernelSymbols(str(p)).resolve(0xffffffff81000000)      # fills the cache
    k = syms.KernelSymbols(str(p))
    ips = [0xffffffffc0000040, 0xffffffff81000110, 0xffffffff81000210, 0xffffffff81000310]
    assert [_probe_frame_at(k, ips, n) for n in range(4)] == [True, True, True, False]
    assert not k.loaded
    ips = [0xffffffffc0001010, 0xffffffff81000310]
    assert not _probe_frame_at(k, ips, 0) and k.loaded      # mod_fn: not the probe's
