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
Environment: CLANG, LLVM_STRIP override the tools found on PATH.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "bpf_src"
OUT = ROOT / "corebpf" / "bpf"
TEST_SRC = ROOT / "tests" / "bpf"        # objects only the test suite loads
MIN_CLANG = 12

ARCHES = ("x86", "arm64")                 # vmlinux/ARCH, corebpf/bpf/ARCH
MACHINES = {"x86_64": "x86", "aarch64": "arm64"}


class BuildError(Exception):
    pass


def _version(tool: str) -> int:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    m = re.search(r"version (\d+)\.", out)
    return int(m.group(1)) if m else 0


def _candidates(base: str) -> list:
    """`base` and every `base-NN` on PATH, newest first."""
    found = {}
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(d or ".")
        except OSError:
            continue
        for n in names:
            m = re.fullmatch(re.escape(base) + r"(?:-(\d+))?", n)
            if m and os.access(os.path.join(d, n), os.X_OK):
                found.setdefault(n, int(m.group(1) or 0))
    return sorted(found, key=lambda n: -found[n])


def find_clang() -> tuple:
    """Return (clang, llvm-strip, version); raise BuildError if none fits."""
    clang = os.environ.get("CLANG")
    if clang:
        versions = [(clang, _version(clang))]
    else:
        versions = [(c, _version(c)) for c in _candidates("clang")]
    versions = [(c, v) for c, v in versions if v >= MIN_CLANG]
    if not versions:
        raise BuildError(f"no clang >= {MIN_CLANG} found on PATH (install clang, "
                         "e.g. 'apt-get install clang llvm', or set CLANG=)")
    clang, ver = max(versions, key=lambda cv: cv[1])
    strip = os.environ.get("LLVM_STRIP")
    if not strip:
        for cand in (f"llvm-strip-{ver}", "llvm-strip", *_candidates("llvm-strip")):
            if shutil.which(cand):
                strip = cand
                break
    if not strip:
        raise BuildError("llvm-strip not found (install llvm, or set LLVM_STRIP=)")
    return clang, strip, ver


def native_arch() -> str:
    """This machine's architecture in vmlinux/ and corebpf/bpf/ terms."""
    m = platform.machine()
    if m not in MACHINES:
        raise BuildError(f"unsupported architecture {m} (corebpf builds for "
                         f"{', '.join(MACHINES)})")
    return MACHINES[m]


def arches(spec: str = "all") -> list:
    """'all' -> every architecture; 'native' -> this machine's; else one name."""
    if spec == "all":
        return list(ARCHES)
    if spec == "native":
        return [native_arch()]
    if spec not in ARCHES:
        raise BuildError(f"unknown architecture {spec!r} (x86, arm64 or all)")
    return [spec]


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
    obj = _out(src, arch)
    tmp = obj.with_suffix(".tmp.o")
    cmd = [clang, "-target", "bpf", "-g", "-O2", "-Wall", "-Wno-unused-function",
           f"-D__TARGET_ARCH_{arch}", "-I", str(SRC), "-I", str(ROOT / "vmlinux" / arch),
           "-I", str(SRC / "arch" / arch), "-c", str(src), "-o", str(tmp)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{src.name} ({arch}): clang failed:\n{r.stderr.strip()}")
    r = subprocess.run([strip, "-g", str(tmp)], capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{src.name}: {strip} failed: {r.stderr.strip()}")
    os.replace(tmp, obj)
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
    todo = []
    for a in arches(arch):
        vmlinux = ROOT / "vmlinux" / a / "vmlinux.h"
        if not vmlinux.exists():
            raise BuildError(f"{vmlinux.relative_to(ROOT)} missing "
                             "(see README: regenerating vmlinux.h)")
        out_dir(a, tests).mkdir(parents=True, exist_ok=True)
        deps = [vmlinux, Path(__file__).resolve(), *SRC.glob("*.h"),
                *(SRC / "arch" / a).rglob("*.h")]
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
