"""The per-kernel cache of minimal kernel BTF (corebpf.core.kcache): built on
a miss, handed to libbpf (which relocates against it), rebuilt when the
kernel's BTF identity differs, refused or replaced when unsafe; and the
minimal BTF relocates every packaged object exactly as the full one does."""
from __future__ import annotations

import glob
import os
import stat
import time

import pytest

import corebpf
from corebpf.core import kcache, minbtf
from corebpf.core._libbpf import ffi, lib
from corebpf.core.errors import BPFError
from corebpf.core.paths import OBJ_DIR, object_path

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]

TOOL = "runqlat"        # tp_btf and raw_tp variants, CO-RE reads of task_struct


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("COREBPF_CACHE_DIR", str(d))
    for var in ("COREBPF_CACHE", "COREBPF_BTF", "COREBPF_PROBE"):
        monkeypatch.delenv(var, raising=False)
    return d


def _entry(d):
    return kcache.entry_path(str(d), object_path(TOOL), TOOL)


def _key():
    return kcache._key(object_path(TOOL))


def _works(obj):
    """Load, attach, cause wake-ups of this thread: runqlat counts them."""
    obj.load()
    obj.attach()
    for _ in range(50):
        time.sleep(0.001)
    assert obj.maps["hists"].items(), "no run-queue latency recorded"


def test_built_used_and_reused(cache):
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf is not None and obj._min_btf.path.startswith("/proc/self/fd/")
        _works(obj)
        assert obj.variant == "raw"         # tp_btf would make libbpf parse the full BTF
    st = os.lstat(cache)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == 0
    path = _entry(cache)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    with open(path, "rb") as f:
        payload = kcache._decode(f.read(), _key())
    assert payload and payload[:2] == b"\x9f\xeb"
    assert len(payload) < 64 * 1024         # vs 5+ MB of vmlinux BTF
    with corebpf.Object.open(TOOL) as obj:  # a hit: the same file, not rewritten
        _works(obj)
    assert os.lstat(path).st_ino == st.st_ino and os.lstat(path).st_mtime_ns == st.st_mtime_ns


def test_libbpf_relocates_against_the_cached_btf(cache):
    """A current, well-formed entry whose BTF lacks the object's types: the
    CO-RE relocations find nothing, so the load against it fails (libbpf
    used it); the load is then done against the kernel's own BTF."""
    os.mkdir(cache, 0o700)
    empty_int = minbtf._HDR.pack(0xEB9F, 1, 0, 24, 0, 16, 16, 5) + \
        minbtf._T.pack(1, 1 << 24, 4) + (32).to_bytes(4, "little") + b"\0int\0"
    fd = os.open(_entry(cache), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, kcache._encode(_key(), empty_int))
    os.close(fd)
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf.path
        _works(obj)
        assert isinstance(obj.min_btf_error, BPFError) and obj.min_btf_error.log
        assert obj._min_btf is None and obj.variant == "btf"


def test_forced_tp_btf_with_the_cache(cache, monkeypatch):
    """COREBPF_PROBE=tp_btf still gets tp_btf (libbpf then parses the full
    BTF for the attach points; CO-RE uses the minimal one)."""
    monkeypatch.setenv("COREBPF_PROBE", "tp_btf")
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf.path
        _works(obj)
        assert obj.variant == "btf" and obj.min_btf_error is None


def test_rebuilt_when_kernel_identity_differs(cache):
    os.mkdir(cache, 0o700)
    other = _key().replace(b"kernel ", b"kernel 00", 1)     # another kernel's build
    fd = os.open(_entry(cache), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, kcache._encode(other, b"\x9f\xeb stale"))
    os.close(fd)
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf.path
        _works(obj)
    with open(_entry(cache), "rb") as f:
        data = f.read()
    assert kcache._decode(data, other) is None
    assert kcache._decode(data, _key())[:2] == b"\x9f\xeb"


def _full_btf_used(obj):
    assert obj._min_btf is None
    _works(obj)
    assert obj.variant == "btf"             # no minimal BTF: tp_btf ranks first again


@pytest.mark.parametrize("how", ["mode", "owner", "symlink", "file"])
def test_unsafe_directory_refused(cache, tmp_path, how):
    if how == "mode":
        os.mkdir(cache, 0o755)
        os.chmod(cache, 0o755)
    elif how == "owner":
        os.mkdir(cache, 0o700)
        os.chown(cache, 65534, 65534)
    elif how == "symlink":
        real = tmp_path / "real"
        os.mkdir(real, 0o700)
        os.symlink(real, cache)
    else:
        cache.write_bytes(b"")
    before = sorted(os.listdir(tmp_path))
    with corebpf.Object.open(TOOL) as obj:
        _full_btf_used(obj)
    assert sorted(os.listdir(tmp_path)) == before
    if how != "file":
        assert os.listdir(cache) == []      # nothing written into it


def test_cache_off(cache, monkeypatch):
    monkeypatch.setenv("COREBPF_CACHE", "off")
    with corebpf.Object.open(TOOL) as obj:
        _full_btf_used(obj)
    assert not cache.exists()


@pytest.mark.parametrize("how", ["mode", "owner", "symlink", "hardlink"])
def test_unsafe_file_replaced(cache, tmp_path, how):
    """A cache file that is not safe is never read: it is replaced by a
    fresh one (the rename replaces a link itself, never its target)."""
    os.mkdir(cache, 0o700)
    path = _entry(cache)
    good = kcache._encode(_key(), b"\x9f\xeb not read")
    outside = tmp_path / "outside"
    outside.write_bytes(good)
    os.chmod(outside, 0o600)
    if how == "symlink":
        os.symlink(outside, path)
    elif how == "hardlink":
        os.link(outside, path)
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, good)
        os.close(fd)
        if how == "mode":
            os.chmod(path, 0o644)
        else:
            os.chown(path, 65534, 65534)
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf.path
        _works(obj)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == 0 and st.st_nlink == 1
    with open(path, "rb") as f:
        assert kcache._decode(f.read(), _key())[:2] == b"\x9f\xeb"
    assert outside.read_bytes() == good


def _relocated(obj) -> dict:
    """Each loaded program's instructions after load, map references masked."""
    L = lib()
    out = {}
    for name, p in obj.programs.items():
        if not p.autoload:
            continue
        n = L.bpf_program__insn_cnt(p._ptr)
        raw = bytearray(ffi.buffer(L.bpf_program__insns(p._ptr), n * 8)[:])
        i = 0
        while i < n:
            if raw[8 * i] == 0x18:              # ld_imm64: map fds/values differ per load
                if raw[8 * i + 1] >> 4:
                    raw[8 * i + 4:8 * i + 8] = b"\0\0\0\0"
                i += 2
            else:
                i += 1
        out[name] = bytes(raw)
    return out


def test_minimal_btf_relocates_like_the_full_one(cache, monkeypatch):
    """Every packaged object that loads here: the same instructions after
    CO-RE relocation against its minimal BTF as against the kernel's."""
    compared = []
    for path in sorted(glob.glob(os.path.join(OBJ_DIR, "*.bpf.o"))):
        name = os.path.basename(path).split(".")[0]
        try:
            with corebpf.Object.open(name) as obj:
                if obj._min_btf is None or not obj._min_btf.path:
                    continue                    # kept the full BTF (Unsupported)
                obj.load()
                variant, mine = obj.variant, _relocated(obj)
        except BPFError:
            continue                            # cannot load here (kprobes, fentry)
        monkeypatch.setenv("COREBPF_CACHE", "off")
        with corebpf.Object.open(name, probe=variant) if variant else \
                corebpf.Object.open(name) as obj:
            obj.load()
            assert obj._min_btf is None
            assert _relocated(obj) == mine, name
        monkeypatch.delenv("COREBPF_CACHE")
        compared.append(name)
    for tool in ("execsnoop", "opensnoop", "biolatency", "runqlat", "syscount"):
        assert tool in compared
    assert len(compared) >= 50, compared


def test_probed_feature_kept_per_kernel(cache):
    """A tracepoint's argument count is probed once (a real attach), then
    read from the cache; another kernel's (or modules') answers are not used."""
    from corebpf.core import features
    kcache._probed.clear()
    calls = []

    def probe():
        calls.append(1)
        return features._probe_nargs("sys_enter")

    assert kcache.probed("nargs sys_enter", probe) == 2 and calls == [1]
    path, key = os.path.join(kcache.cache_dir(), "probed"), kcache._features_key()
    st = os.lstat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    with open(path, "rb") as f:
        assert kcache._decode(f.read(), key) == b"nargs sys_enter=2\n"
    kcache._probed.clear()                  # a new process: read from the file
    assert kcache.probed("nargs sys_enter", probe) == 2 and calls == [1]
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, kcache._encode(key + b"x", b"nargs sys_enter=5\n"))   # not this kernel's
    os.close(fd)
    os.rename(path + ".new", path)
    kcache._probed.clear()
    assert kcache.probed("nargs sys_enter", probe) == 2 and calls == [1, 1]
    kcache._probed.clear()
    assert features.raw_tracepoint_exists("sys_enter")          # tracefs says so
    assert not features.raw_tracepoint_exists("corebpf_no_such_tracepoint")
    with open(path, "rb") as f:
        text = kcache._decode(f.read(), key)
    assert b"tp corebpf_no_such_tracepoint=0\n" in text and b"tp sys_enter=1\n" in text
    kcache._probed.clear()                  # a new process, where tracefs lists neither:
    features._Cache.events = {"corebpf_other": "x"}     # the cache answers
    try:
        assert features.raw_tracepoint_exists("sys_enter")
        assert not features.raw_tracepoint_exists("corebpf_no_such_tracepoint")
    finally:
        features._Cache.events = None
        kcache._probed.clear()


def test_miss_computed_in_a_child(cache):
    """A miss is computed by a forked child that writes the entry and exits:
    this process never parses the kernel's BTF, and uses what the child wrote."""
    kcache.forget()
    with corebpf.Object.open(TOOL) as obj:
        assert obj._min_btf is not None and obj._min_btf.path
        _works(obj)
    assert not kcache._kernel, "the kernel's BTF was parsed in this process"
    with open(_entry(cache), "rb") as f:
        assert kcache._decode(f.read(), _key())[:2] == b"\x9f\xeb"


def test_prepare_fills_several_entries_at_once(cache):
    names = (TOOL, "cpudist", "biolatency")
    assert kcache.prepare([object_path(n) for n in names]) == 3
    assert not kcache._kernel
    for n in names:
        with open(kcache.entry_path(str(cache), object_path(n), n), "rb") as f:
            assert kcache._decode(f.read(), kcache._key(object_path(n)))[:2] == b"\x9f\xeb"
    st = os.lstat(_entry(cache))
    assert kcache.prepare([object_path(n) for n in names]) == 0     # all current: no child
    with corebpf.Object.open(TOOL) as obj:                          # used as written
        _works(obj)
    assert os.lstat(_entry(cache)).st_mtime_ns == st.st_mtime_ns


def _vm_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_tool_cold_start_peak_memory(cache):
    """A tool's peak memory with an empty cache stays near its peak with a
    warm one (computed in-process, the kernel's parsed BTF added ~12 MB: 29
    vs 17 MB here), and the second run uses the entry the first wrote."""
    from tests.helpers import Tool
    env = {"COREBPF_CACHE_DIR": str(cache)}
    peaks = []
    for _ in range(2):
        t = Tool(TOOL, env=env)
        try:
            peaks.append(_vm_hwm_kb(t.proc.pid))
            if len(peaks) == 1:
                st = os.lstat(_entry(cache))
        finally:
            assert t.stop() == 0, t.stderr
    assert os.lstat(_entry(cache)).st_mtime_ns == st.st_mtime_ns, "the warm run rewrote it"
    assert peaks[0] <= peaks[1] + 4 * 1024, f"VmHWM cold {peaks[0]} kB, warm {peaks[1]} kB"


def test_forget_drops_the_parsed_kernel_btf(cache):
    """Where no child can compute a miss (here: another thread runs, so this
    process does not fork), it is computed in this process and the parsed
    kernel BTF kept for the next miss; forget() lets a long-lived process drop
    it once done loading, and a later miss parses it again."""
    import threading
    kcache.forget()
    done = threading.Event()
    th = threading.Thread(target=done.wait)
    th.start()
    try:
        with corebpf.Object.open(TOOL):
            pass
        assert kcache._kernel, "a miss keeps the parsed kernel BTF for the next one"
        kcache.forget()
        assert not kcache._kernel
        with corebpf.Object.open("cpudist") as obj:     # a miss again: parsed anew
            assert obj._min_btf is not None
        assert kcache._kernel
    finally:
        done.set()
        th.join()
        kcache.forget()
