#!/usr/bin/env python3
"""Compile bpf_src/*.bpf.c into CO-RE objects inside the corebpf package.

    python3 build.py [--arch x86|arm64|all] [-f] [-j N] [--tests] [NAME ...]

clang is a build-time tool only: the objects carry BTF and CO-RE relocations,
so libbpf adapts them to the running kernel when a tool starts.  DWARF is
stripped (BTF is kept).  clang targets BPF for every architecture, so one
machine builds them all (cross-compiling needs nothing more): what differs is
vmlinux/ARCH/vmlinux.h, -D__TARGET_ARCH_ARCH (the pt_regs layout of
bpf_tracing.h's PT_REGS_* and syscall-wrapper macros) and bpf_src/arch/ARCH
(uapi headers usdt.bpf.h includes).  Objects go to corebpf/bpf/ARCH/ (test
objects to tests/bpf/ARCH/); the library picks the directory of the machine
it runs on.  An object is rebuilt only when its source, a shared header, the
vmlinux.h it was built against or this script is newer.
The compiling itself is corebpf/toolchain.py, which `corebpf compile` runs
for people's own objects: the same flags, against the header set copied here
into corebpf/include (corebpf.bpf.h, ustack.bpf.h, libbpf's BPF headers, vmlinux.h of each
architecture).
Environment: CLANG, LLVM_STRIP override the tools found on PATH;
LIBBPF_INCLUDE, where libbpf's headers are (/usr/include/bpf).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "bpf_src"
OUT = ROOT / "corebpf" / "bpf"
INCLUDE = ROOT / "corebpf" / "include"     # the header set the package ships
SHIPPED = [SRC / "ustack.bpf.h"]           # bpf_src headers shipped as they are
TEST_SRC = ROOT / "tests" / "bpf"        # objects only the test suite loads
LIBBPF_INCLUDE = Path(os.environ.get("LIBBPF_INCLUDE", "/usr/include/bpf"))


def _load_toolchain():
    """corebpf/toolchain.py by file path: the package cannot be imported before
    it is built (its cffi module is generated here)."""
    import importlib.util
    name = "_corebpf_toolchain"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "corebpf" / "toolchain.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


toolchain = _load_toolchain()
BuildError = toolchain.ToolchainError
MIN_CLANG = toolchain.MIN_CLANG
ARCHES = toolchain.ARCHES                 # vmlinux/ARCH, corebpf/bpf/ARCH
MACHINES = toolchain.MACHINES


def find_clang() -> tuple:
    """Return (clang, llvm-strip, version); raise BuildError if none fits."""
    return toolchain.find_clang(need_strip=True)


def native_arch() -> str:
    """This machine's architecture in vmlinux/ and corebpf/bpf/ terms."""
    return toolchain.native_arch()


def arches(spec: str = "all") -> list:
    """'all' -> every architecture; 'native' -> this machine's; else one name."""
    if spec == "all":
        return list(ARCHES)
    if spec == "native":
        return [native_arch()]
    if spec not in ARCHES:
        raise BuildError(f"unknown architecture {spec!r} (x86, arm64 or all)")
    return [spec]


def install_headers(quiet=False) -> list:
    """Copy the header set `corebpf compile` uses into corebpf/include: corebpf.bpf.h,
    ustack.bpf.h (user stack dumps for DWARF unwinding), libbpf's BPF-side headers,
    vmlinux.h of each architecture, the compat fallbacks."""
    vml = {a: str(ROOT / "vmlinux" / a) for a in toolchain.ARCHES
           if (ROOT / "vmlinux" / a / "vmlinux.h").exists()}
    copied = toolchain.install_headers(str(INCLUDE), str(SRC / "corebpf.bpf.h"), vml,
                                       str(LIBBPF_INCLUDE), str(SRC / "compat"),
                                       extra=[str(h) for h in SHIPPED])
    if copied and not quiet:
        print(f"  HDR  corebpf/include ({len(copied)} files)", file=sys.stderr)
    return copied


def sources(names=None, tests=False) -> list:
    srcs = sorted((TEST_SRC if tests else SRC).glob("*.bpf.c"))
    if names:
        wanted = set(names)
        srcs = [s for s in srcs if s.name[:-len(".bpf.c")] in wanted]
        missing = wanted - {s.name[:-len(".bpf.c")] for s in srcs}
        if missing:
            raise BuildError(f"no source for: {', '.join(sorted(missing))}")
    return srcs


def _stale(src: Path, obj: Path, deps: list) -> bool:
    if not obj.exists():
        return True
    t = obj.stat().st_mtime
    return any(d.stat().st_mtime > t for d in [src, *deps])


def out_dir(arch: str, tests: bool = False) -> Path:
    return (TEST_SRC if tests else OUT) / arch


def _out(src: Path, arch: str) -> Path:
    return out_dir(arch, src.parent == TEST_SRC) / src.name.replace(".bpf.c", ".bpf.o")


def compile_one(src: Path, clang: str, strip: str, arch: str) -> Path:
    """Compile one source for `arch` with `corebpf compile`'s flags and headers
    (bpf_src and bpf_src/arch/ARCH first, for the tools' shared headers)."""
    obj = _out(src, arch)
    try:
        toolchain.compile_object(src, obj, arch, clang, strip, include_dir=str(INCLUDE),
                                 extra_includes=[SRC, SRC / "arch" / arch])
    except BuildError as e:
        raise BuildError(f"{e}:\n{e.output}" if e.output else str(e)) from None
    return obj


def emit_ffi(quiet=False):
    """Pre-parse corebpf/core/_libbpf.py's cffi declarations into corebpf/core/_libbpf_ffi.py
    (cffi's out-of-line ABI mode: pure Python, loads without pycparser)."""
    out = ROOT / "corebpf" / "core" / "_libbpf_ffi.py"
    src = ROOT / "corebpf" / "core" / "_libbpf.py"
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return
    import importlib.util
    spec = importlib.util.spec_from_file_location("_corebpf_libbpf_decls", src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.emit_module(out)
    if not quiet:
        print("  FFI  corebpf/core/_libbpf_ffi.py", file=sys.stderr)


def build(names=None, force=False, jobs=None, quiet=False, tests=False,
          arch: str = "all") -> list:
    """Build stale objects for `arch` (x86, arm64, all, native; tests=True:
    the test suite's); return the paths built."""
    if not tests:
        emit_ffi(quiet)
    install_headers(quiet)
    todo = []
    for a in arches(arch):
        vmlinux = ROOT / "vmlinux" / a / "vmlinux.h"
        if not vmlinux.exists():
            raise BuildError(f"{vmlinux.relative_to(ROOT)} missing "
                             "(see README: regenerating vmlinux.h)")
        out_dir(a, tests).mkdir(parents=True, exist_ok=True)
        deps = [vmlinux, Path(__file__).resolve(), ROOT / "corebpf" / "toolchain.py",
                *SRC.glob("*.h"), *(SRC / "arch" / a).rglob("*.h"), *INCLUDE.rglob("*.h")]
        todo += [(s, a) for s in sources(names, tests)
                 if force or _stale(s, _out(s, a), deps)]
    if not todo:
        return []
    clang, strip, _ = find_clang()
    built = []
    with concurrent.futures.ThreadPoolExecutor(jobs or os.cpu_count() or 2) as ex:
        futs = {ex.submit(compile_one, s, clang, strip, a): (s, a) for s, a in todo}
        errors = []
        for f in concurrent.futures.as_completed(futs):
            try:
                built.append(f.result())
                if not quiet:
                    s, a = futs[f]
                    print(f"  BPF  {a}/{s.name}", file=sys.stderr)
            except BuildError as e:
                errors.append(str(e))
        if errors:
            raise BuildError("\n".join(sorted(errors)))
    return built


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Compile corebpf's BPF objects.")
    p.add_argument("-f", "--force", action="store_true", help="rebuild everything")
    p.add_argument("-j", "--jobs", type=int, help="parallel compiles")
    p.add_argument("--tests", action="store_true", help="build the test suite's objects")
    p.add_argument("--arch", default="all", choices=[*ARCHES, "all", "native"],
                   help="target architecture (default: all; native: this machine's)")
    p.add_argument("names", nargs="*", help="tools to build (default: all)")
    a = p.parse_args(argv)
    try:
        build(a.names, a.force, a.jobs, tests=a.tests, arch=a.arch)
    except BuildError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
