"""`corebpf compile`, `corebpf --include-dir` and `corebpf skel`: the
compile (real clang), the checks of its result, the stub generated from an
object's BTF (every packaged object's, executed and matched against what
libbpf opens), and one-line errors for bad input.  No kernel load here."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from corebpf import toolchain
from corebpf.core.paths import OBJ_DIR

ROOT = Path(__file__).resolve().parent.parent.parent

GOOD = r'''
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>

struct rec { __u32 pid; char comm[16]; struct { __u16 a, b; } inner; __u8 raw[3]; };
EVENTS_RINGBUF(events, 4096, struct rec);
const volatile __u32 targ_pid = 0;
__u64 hits = 0;
static const __u64 zero;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, struct rec);
	__type(value, __u64);
} per_cpu SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int load(void *ctx) { hits += zero + targ_pid; return 0; }

SEC("usdt")
int u(struct pt_regs *ctx) { long v; bpf_usdt_arg(ctx, 0, &v); return 0; }
'''


def corebpf_cmd(*args, env=None):
    return subprocess.run([sys.executable, "-m", "corebpf", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)


def one_error_line(r, prog="corebpf compile"):
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and lines, r
    assert lines[-1].startswith(f"{prog}: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[-1]


@pytest.fixture
def src(tmp_path):
    def write(text, name="t.bpf.c"):
        p = tmp_path / name
        p.write_text(text)
        return p
    return write


def test_include_dir_holds_the_whole_header_set():
    r = corebpf_cmd("--include-dir")
    assert r.returncode == 0
    d = Path(r.stdout.strip())
    assert d == Path(toolchain.INCLUDE_DIR)
    for f in ["corebpf.bpf.h", "bpf/bpf_helpers.h", "bpf/bpf_helper_defs.h",
              "bpf/bpf_tracing.h", "bpf/bpf_core_read.h", "bpf/usdt.bpf.h",
              "compat/linux/errno.h", "compat/asm/errno.h",
              f"vmlinux/{toolchain.native_arch()}/vmlinux.h"]:
        assert (d / f).is_file(), f
    assert (d / "corebpf.bpf.h").read_bytes() == (ROOT / "bpf_src/corebpf.bpf.h").read_bytes()
    r = corebpf_cmd("--include-dir", "extra")
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith("corebpf: error: --include-dir takes no arguments")


def test_build_py_compiles_with_the_same_implementation():
    sys.path.insert(0, str(ROOT))
    try:
        import build
    finally:
        sys.path.remove(str(ROOT))
    # build.py loads corebpf/toolchain.py itself (the package is not importable
    # before it is built): the same file, the same flags
    assert Path(build.toolchain.__file__).resolve() == Path(toolchain.__file__).resolve()
    arch = toolchain.native_arch()
    assert build.toolchain.cflags(arch, str(build.INCLUDE)) == toolchain.cflags(arch)
    r = corebpf_cmd("compile", "--cflags")
    assert r.returncode == 0 and r.stdout.split() == toolchain.cflags(arch)


def test_compile_checks_and_the_object_carries_btf_programs_license(src, tmp_path):
    s = src(GOOD)
    r = corebpf_cmd("compile", str(s))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    obj = tmp_path / "t.bpf.o"
    e = toolchain.ElfObject(str(obj))
    assert e.machine == toolchain.EM_BPF and e.section(".BTF") and e.license() == "Dual BSD/GPL"
    assert e.programs() == [("load", "tracepoint/syscalls/sys_enter_getppid"), ("u", "usdt")]
    assert e.section(".debug_info") is None       # DWARF stripped, BTF kept
    out = tmp_path / "elsewhere.o"
    assert corebpf_cmd("compile", str(s), "-o", str(out), "-D", "X=1").returncode == 0
    assert toolchain.check_object(str(out)) == []


def test_compile_needs_no_system_headers(src, tmp_path):
    """clang told to ignore /usr/include (-nostdinc): the shipped set (libbpf's headers, the
    errno fallbacks) is enough, so a dev box needs clang and nothing else."""
    clang, _, _ = toolchain.find_clang(need_strip=False)
    wrapper = tmp_path / "clang-nosys"
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which(clang)} -nostdinc "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    r = corebpf_cmd("compile", str(src(GOOD)), env=dict(os.environ, CLANG=str(wrapper)))
    assert r.returncode == 0, r.stderr


def test_license_checks(src, tmp_path):
    bare = "#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n" \
           "SEC(\"tracepoint/syscalls/sys_enter_getppid\") int p(void *c) { return 0; }\n"
    r = corebpf_cmd("compile", str(src(bare, "nolic.bpf.c")))
    assert "no license" in one_error_line(r)
    assert not (tmp_path / "nolic.bpf.o").exists()      # no half-good output left
    r = corebpf_cmd("compile", str(src(bare + 'char L[] SEC("license") = "Proprietary";\n',
                                       "prop.bpf.c")))
    assert r.returncode == 0
    assert r.stderr.startswith("corebpf compile: warning: license 'Proprietary' is not "
                               "GPL-compatible"), r.stderr
    r = corebpf_cmd("compile", str(src('#include "corebpf.bpf.h"\n', "empty.bpf.c")))
    assert r.returncode == 0 and "no programs" in r.stderr


def test_compile_errors_are_one_line(src, tmp_path):
    r = corebpf_cmd("compile", str(src("int f( {", "bad.bpf.c")))
    assert one_error_line(r) == "corebpf compile: error: bad.bpf.c " \
        f"({toolchain.native_arch()}): clang failed"
    assert "bad.bpf.c:1:" in r.stderr                   # clang's own diagnostics first
    assert "no such file" in one_error_line(corebpf_cmd("compile", "/nonexistent.bpf.c"))
    assert "no source file" in one_error_line(corebpf_cmd("compile"))
    assert "invalid choice" in one_error_line(corebpf_cmd("compile", "x.c", "--arch", "mips"))
    assert "unrecognized" in one_error_line(corebpf_cmd("compile", "--bogus"))
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CLANG", "LLVM_STRIP")}
    env["PATH"] = str(empty)
    line = one_error_line(corebpf_cmd("compile", str(src(GOOD)), env=env))
    assert "no clang >= 12 found on PATH" in line


@pytest.mark.parametrize("path, what", [
    (__file__, "not an ELF file"),
    ("/bin/true", "not a BPF object"),
])
def test_checks_refuse_what_is_not_a_bpf_object(path, what):
    with pytest.raises(toolchain.ToolchainError, match=what):
        toolchain.check_object(path)


def test_checks_refuse_a_truncated_object(tmp_path):
    obj = Path(OBJ_DIR) / "execsnoop.bpf.o"
    cut = tmp_path / "cut.o"
    cut.write_bytes(obj.read_bytes()[:200])
    with pytest.raises(toolchain.ToolchainError, match="truncated or malformed"):
        toolchain.check_object(str(cut))


# -- skel ---------------------------------------------------------------------------------

OBJECTS = sorted(Path(OBJ_DIR).glob("*.bpf.o"))


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.name.split(".")[0])
def test_skeleton_of_every_packaged_object_matches_what_libbpf_opens(obj, tmp_path):
    from corebpf.skel import Skeleton
    sk = Skeleton(str(obj))
    text = sk.render()
    ns = {"__file__": str(tmp_path / "skel.py"), "__name__": "skel_test"}
    exec(compile(text, str(obj) + " skeleton", "exec"), ns)
    cls = next(v for v in ns.values() if isinstance(v, type) and
               v.__module__ == "skel_test" and hasattr(v, "attach"))
    with cls(str(obj)) as s:
        o = s.obj
        progs = {n: getattr(s, n) for n in dir(cls)
                 if isinstance(getattr(cls, n), property) and
                 cls.__dict__[n].fget.__annotations__.get("return") == "corebpf.Program"}
        assert {p.name for p in progs.values()} == set(o.programs)
        maps = {n for n in dir(cls) if isinstance(getattr(cls, n), property) and
                cls.__dict__[n].fget.__annotations__.get("return") == "corebpf.Map"}
        assert {getattr(s, n).name for n in maps} == set(o.maps)
        for name, _tid in sk.globals.get(".rodata", []):
            assert getattr(s, name) == o.rodata[name]
    # record types: the fields the run-time decoder produces, in order
    for m in sk.maps:
        for tid in (m["key"], m["value"]):
            rec = sk.record_types().get(sk.btf.resolve(tid).id) if tid else None
            if rec:
                assert list(ns[rec]._fields) == list(sk.btf.codec(tid).record._fields)


def test_skeleton_names_events_config_and_clashes(src, tmp_path):
    s = src(GOOD)
    assert corebpf_cmd("compile", str(s)).returncode == 0
    r = corebpf_cmd("skel", str(tmp_path / "t.bpf.o"), "--class-name", "Probe")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "class Rec(NamedTuple):" in text and "    comm: str  # char[16]" in text
    assert "    raw: bytes  # __u8[3]" in text
    assert "def events_buffer(self, callback: Callable[[Rec], None]) -> corebpf.RingBuffer:" \
        in text
    # a program called `load` must not hide the class's load()
    assert "def load_prog(self) -> corebpf.Program:" in text
    assert "def targ_pid(self) -> int:" in text and "def hits(self) -> int:" in text
    assert "def zero" not in text                  # static: not the object's interface
    assert "PERCPU_HASH, key Rec, value [int] (one per CPU), max_entries 8" in text
    compile(text, "skel", "exec")


@pytest.mark.parametrize("args, what", [
    (["/nonexistent.o"], "No such file"),
    ([__file__], "not an ELF file"),
    (["/bin/true"], "not a BPF object"),
    ([], "the following arguments are required"),
    ([str(Path(OBJ_DIR) / "execsnoop.bpf.o"), "--class-name", "no-t valid"], "identifier"),
    ([str(Path(OBJ_DIR) / "execsnoop.bpf.o"), "-o", "/nonexistent/dir/x.py"], "No such file"),
])
def test_skel_errors_are_one_line(args, what):
    line = one_error_line(corebpf_cmd("skel", *args), prog="corebpf skel")
    assert what in line, line
