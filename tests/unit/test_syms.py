"""User and kernel symbolization without privilege: ELF files of live test
processes (PIE, non-PIE, shared libraries, stripped files with debug files),
the vDSO, perf maps, exited processes; kallsyms parsing; stack formatters."""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import subprocess

import pytest

from corebpf.symbols import syms
from corebpf.symbols.stacks import MISSED_KERNEL, MISSED_USER, Stacks, folded, missing, multiline


class Target:
    """`stackprog addr`: prints its markers' runtime addresses, waits for EOF."""

    def __init__(self, path):
        self.proc = subprocess.Popen([str(path), "addr"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.spin, self.nap, self.main = (int(x, 16) for x in self.proc.stdout.readline().split())
        self.pid = self.proc.pid

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture
def target(stackprog):
    t = Target(stackprog["pie"])
    yield t
    t.stop()


# -- formats ------------------------------------------------------------------------------

def test_format_symbol_like_bcc():
    f = syms.format_symbol
    assert f("vfs_read", 0x1f, "kernel") == "vfs_read"
    assert f("vfs_read", 0x1f, "kernel", show_offset=True) == "vfs_read+0x1f"
    assert f("vfs_read", 0x1f, "kernel", True, True) == "vfs_read+0x1f [kernel]"
    assert f("read", 4, "/usr/lib/x86_64-linux-gnu/libc.so.6", False, True) == "read [libc.so.6]"
    assert f(None, 0, None, True, True) == "[unknown]"
    assert f(None, 0, "/bin/true", True, True) == "[unknown] [true]"


def test_stack_formatters():
    k = ["do_nanosleep", "hrtimer_nanosleep"]
    u = ["clock_nanosleep", "main"]
    assert multiline(k, u, "sleep", 42, 1000, delimiter=True) == [
        "    do_nanosleep", "    hrtimer_nanosleep", "    --", "    clock_nanosleep",
        "    main", "    -                sleep (42)", "        1000\n"]
    assert multiline(None, u, "x", 1, 2)[:2] == ["    clock_nanosleep", "    main"]
    assert folded("sleep", u, k, 1000) == \
        "sleep;main;clock_nanosleep;hrtimer_nanosleep;do_nanosleep 1000"
    assert folded("sleep", u, k, 7, delimiter=True) == \
        "sleep;main;clock_nanosleep;-;hrtimer_nanosleep;do_nanosleep 7"
    assert folded("sleep", None, k, 7) == "sleep;hrtimer_nanosleep;do_nanosleep 7"
    assert folded("a", [MISSED_USER], [MISSED_KERNEL], 1) == \
        "a;[Missed User Stack];[Missed Kernel Stack] 1"


def test_stack_id_semantics_and_warnings():
    assert not missing(0) and not missing(5) and not missing(-errno.EFAULT)
    assert missing(-errno.ENOMEM) and missing(-errno.EEXIST) and missing(-1)
    st = Stacks(stack_map=None)
    assert st.warning() is None
    assert not st.check(-errno.EFAULT) and not st.check(3)
    assert st.check(-errno.EEXIST)
    assert st.warning("could not be displayed") == \
        "WARNING: 1 stack traces could not be displayed."
    assert st.warning("could not be displayed", collisions=True) == \
        "WARNING: 1 stack traces could not be displayed. Consider increasing " \
        "--stack-storage-size."
    st.check(-errno.ENOMEM)
    assert st.warning("lost and could not be displayed") == \
        "WARNING: 2 stack traces lost and could not be displayed. Consider increasing " \
        "--stack-storage-size."
    assert st.kernel(-errno.ENOMEM) == [MISSED_KERNEL] and st.user(-1, 1) == [MISSED_USER]
    assert st.kernel(-errno.EFAULT) == [] and st.user(-errno.EFAULT, 1) == []


# -- kernel symbols from a kallsyms-format file ---------------------------------------------

def test_kallsyms_parsing(tmp_path):
    p = tmp_path / "kallsyms"
    p.write_text("ffffffff81000000 T _stext\n"
                 "ffffffff81000100 t helper_fn\n"
                 "ffffffff81000180 D some_data\n"          # data: skipped, as bcc does
                 "ffffffff81000200 W weak_fn\n"
                 "0000000000000000 T zero_addr_fn\n"       # hidden address: skipped
                 "ffffffffc0001000 t mod_fn\t[e1000]\n"
                 "ffffffffc0000800 t bpf_prog_abc_x\t[bpf]\n")
    k = syms.KernelSymbols(str(p))
    assert not k.loaded
    assert k.resolve(0xffffffff81000105) == ("helper_fn", 5, "kernel")
    assert k.loaded and len(k) == 5
    assert k.resolve(0xffffffff81000190) == ("helper_fn", 0x90, "kernel")
    assert k.sym(0xffffffffc0001010, True, True) == "mod_fn+0x10 [e1000]"
    assert k.sym(0xffffffffc0000800, show_module=True) == "bpf_prog_abc_x [bpf]"
    assert k.sym(0xffffffff80000000) == "[unknown]"
    assert k.sym(0x401000, True, True) == "[unknown]"
    assert k.address("weak_fn") == 0xffffffff81000200 and k.address("some_data") is None
    assert k.find(r"(helper|weak)_fn") == ["helper_fn", "weak_fn"]


def test_spans_from_kallsyms_and_from_the_core_cache(tmp_path):
    """A symbol's [start, next symbol's start), core kernel text only; the
    per-boot table gives the same (aliases, prefixes, data skipped)."""
    import struct
    from array import array
    lines = ["ffffffff81000000 T _stext", "ffffffff81000100 t __pfx_alloc_bulk",
             "ffffffff81000110 t alloc_bulk", "ffffffff81000110 t alloc_bulk_alias",
             "ffffffff81000180 D some_data", "ffffffff81000200 t __alloc",
             "ffffffff81000240 t other", "ffffffff81000300 t __alloc"]
    p = tmp_path / "kallsyms"
    p.write_text("\n".join(lines + ["ffffffffc0001000 t alloc_bulk\t[mod]"]) + "\n")
    k = syms.KernelSymbols(str(p))
    want = {"alloc_bulk": [(0xffffffff81000110, 0xffffffff81000200)],
            "__alloc": [(0xffffffff81000200, 0xffffffff81000240),
                        (0xffffffff81000300, 0xffffffff81000300)],
            "some_data": [], "alloc": [], "missing": []}
    assert {n: k.spans(n) for n in want} == want
    text = [ln for ln in lines if " D " not in ln]
    addrs = array("Q", [int(ln[:16], 16) for ln in text])
    names = [ln[19:].encode() for ln in text]
    offsets = array("I", [0])
    for n in names:
        offsets.append(offsets[-1] + len(n))
    core = syms._CoreText(struct.pack("<QQQ", len(text), addrs[0], addrs[-1]) +
                          addrs.tobytes() + offsets.tobytes() + b"".join(names))
    assert {n: core.spans(n.encode()) for n in want} == want


def test_kernel_symbols_are_lazy():
    import corebpf.symbols.syms as s
    assert s.SymbolCache().kernel is s.kernel_symbols()
    assert syms.KernelSymbols("/nonexistent").sym(0xffffffff81000000) == "[unknown]"


# -- user symbols --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["pie", "nopie"])
def test_executable_symbols(stackprog, kind):
    t = Target(stackprog[kind])
    try:
        p = syms.ProcessSymbols(t.pid)
        assert p.resolve(t.spin) == ("corebpf_spin_marker", 0, str(stackprog[kind]))
        assert p.sym(t.nap + 5, True, True) == "corebpf_nap_marker+0x5 [stackprog]"
        assert p.sym(t.main + 1) == "main"
        assert p.sym(1 << 40, True, True) == "[unknown]"          # no mapping there
    finally:
        t.stop()
    if kind == "pie":
        assert t.spin > 0x500000000000      # really relocated at run time
    else:
        out = subprocess.run(["nm", str(stackprog[kind])], capture_output=True, text=True).stdout
        assert f"{t.spin:016x} T corebpf_spin_marker" in out


def test_shared_library_symbols(marker_lib):
    lib = ctypes.CDLL(str(marker_lib))
    addr = ctypes.cast(lib.corebpf_lib_marker, ctypes.c_void_p).value
    p = syms.ProcessSymbols(os.getpid())
    assert p.sym(addr + 0x3, True, True) == "corebpf_lib_marker+0x3 [libcorebpfmarker.so]"
    other = ctypes.cast(lib.corebpf_lib_other, ctypes.c_void_p).value
    assert p.resolve(other)[0] == "corebpf_lib_other"
    # C++ names are demangled, as bcc prints them
    cxx = ctypes.cast(getattr(lib, "_ZN7corebpf6markerEi"), ctypes.c_void_p).value
    assert p.sym(cxx, True) == "corebpf::marker(int)+0x0"
    assert syms.ProcessSymbols(os.getpid(), demangle=False).sym(cxx) == "_ZN7corebpf6markerEi"


def test_libc_function():
    libc = ctypes.CDLL(None)
    addr = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    name, off, module = syms.ProcessSymbols(os.getpid()).resolve(addr + 1)
    assert name in ("getpid", "__getpid") and off == 1, name
    assert os.path.basename(module).startswith("libc")


def _nm_value(path, name):
    out = subprocess.run(["readelf", "-Ws", "--dyn-syms", str(path)], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[7].split("@")[0] == name:
            return int(parts[1], 16)
    return None


def test_vdso(tmp_path):
    with open("/proc/self/maps") as f:
        line = next(l for l in f if l.rstrip().endswith("[vdso]"))
    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        mem.seek(lo)
        image = mem.read(hi - lo)
    (tmp_path / "vdso.so").write_bytes(image)
    value = _nm_value(tmp_path / "vdso.so", "__vdso_clock_gettime")
    assert value is not None
    name, off, module = syms.ProcessSymbols(os.getpid()).resolve(lo + value + 2)
    assert name in ("clock_gettime", "__vdso_clock_gettime") and off == 2, name
    assert module == "[vdso]"


def test_perf_map(target):
    path = f"/tmp/perf-{target.pid}.map"
    with open(path, "w") as f:
        f.write("7f0000001000 100 corebpf_jit_fn\n7f0000002000 20 LazyCompile:*foo bar.js:1\n")
    try:
        p = syms.ProcessSymbols(target.pid)
        assert p.sym(0x7f0000001010, True, True) == f"corebpf_jit_fn+0x10 [perf-{target.pid}.map]"
        assert p.sym(0x7f0000002004) == "LazyCompile:*foo bar.js:1"
        assert p.sym(0x7f0000001200) == "[unknown]"
        # file-backed frames still resolve through the ELF
        assert p.sym(target.spin) == "corebpf_spin_marker"
    finally:
        os.unlink(path)


def test_exited_process_keeps_its_cache(stackprog):
    t = Target(stackprog["pie"])
    cache = syms.SymbolCache()
    assert cache.sym(t.spin, t.pid) == "corebpf_spin_marker"       # maps read now
    t.stop()
    assert not os.path.exists(f"/proc/{t.pid}/maps")
    assert cache.sym(t.nap + 4, t.pid, True) == "corebpf_nap_marker+0x4"
    gone = syms.SymbolCache()
    assert gone.sym(t.spin, t.pid, True, True) == "[unknown]"
    assert gone.process(t.pid).exited


def _strip(src, dst, *args):
    shutil.copy(src, dst)
    subprocess.run(["objcopy", *args, str(dst)], check=True)


def test_debug_file_by_build_id(stackprog, tmp_path):
    src = stackprog["pie"]
    debug = tmp_path / "stackprog.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(src), str(debug)], check=True)
    exe = tmp_path / "stackprog"
    _strip(src, exe, "--strip-all")
    build_id = syms.elf_symbols(str(debug)).build_id
    assert build_id and len(build_id) >= 16
    root = tmp_path / "debugroot"
    (root / ".build-id" / build_id[:2]).mkdir(parents=True)
    shutil.copy(debug, root / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug")
    t = Target(exe)
    try:
        assert syms.ProcessSymbols(t.pid, debug_root="").sym(t.spin) == "[unknown]"
        p = syms.ProcessSymbols(t.pid, debug_root=str(root))
        assert p.sym(t.spin + 1, True) == "corebpf_spin_marker+0x1"
    finally:
        t.stop()


def test_debug_file_by_debuglink_with_crc(stackprog, tmp_path):
    src = stackprog["nopie"]
    exe = tmp_path / "stackprog"
    _strip(src, exe, "--strip-all", "--remove-section=.note.gnu.build-id")
    debug = tmp_path / "stackprog.dbg"
    subprocess.run(["objcopy", "--only-keep-debug", str(src), str(debug)], check=True)
    subprocess.run(["objcopy", f"--add-gnu-debuglink={debug}", str(exe)], check=True,
                   cwd=tmp_path)
    t = Target(exe)
    try:
        assert syms.ProcessSymbols(t.pid, debug_root="").sym(t.nap) == "corebpf_nap_marker"
    finally:
        t.stop()
    # a debug file whose CRC does not match the link is not used
    other = tmp_path / "other"
    other.mkdir()
    exe2 = other / "stackprog"
    shutil.copy(exe, exe2)
    shutil.copy(stackprog["pie"], other / "stackprog.dbg")     # same name, other content
    t = Target(exe2)
    try:
        assert syms.ProcessSymbols(t.pid, debug_root="").sym(t.nap) == "[unknown]"
    finally:
        t.stop()


def test_symbol_tables_cached_per_file(stackprog):
    a = syms.elf_symbols(str(stackprog["pie"]))
    assert a is syms.elf_symbols(str(stackprog["pie"]))
    assert a.lookup(a.starts[a.names.index("corebpf_spin_marker")] + 2) == \
        ("corebpf_spin_marker", 2)
    assert syms.elf_symbols("/proc/self/status") is None          # not an ELF file
    assert syms.elf_symbols("/nonexistent") is None
