"""Compiling BPF C into CO-RE objects: one implementation for build.py (the
tools' objects) and `corebpf compile` (people's own).

    corebpf compile hello.bpf.c [-o hello.bpf.o] [--arch x86|arm64] [-I DIR] [-D NAME=V]
    corebpf compile --cflags [--arch ARCH]     the flags, for other build systems
    corebpf --include-dir                      where the headers are

Both compile with the same clang flags against the same header set, which
ships in the package (corebpf/include, filled by build.py):
`corebpf.bpf.h` (the helpers: ring buffers with loss counts, histogram
slots, probe variants), libbpf's BPF-side headers (bpf/bpf_helpers.h...),
`vmlinux/ARCH/vmlinux.h` of each target architecture, and `compat/`
fallbacks for the few libc headers libbpf's headers include (searched
last).  DWARF is stripped afterwards (BTF stays) when llvm-strip is there.
The result is checked: a BPF ELF object with BTF and a license.

clang is needed where objects are compiled, never where they run.  This
module is a leaf (no corebpf imports): build.py loads it by file path,
before the package is built.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys

MIN_CLANG = 12
ARCHES = ("x86", "arm64")
MACHINES = {"x86_64": "x86", "aarch64": "arm64"}
INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
# libbpf's BPF-side headers (libbpf-dev's /usr/include/bpf), shipped in include/bpf
LIBBPF_HEADERS = ("bpf_helpers.h", "bpf_helper_defs.h", "bpf_tracing.h", "bpf_core_read.h",
                  "bpf_endian.h", "usdt.bpf.h")
# licenses the kernel treats as GPL-compatible (include/linux/license.h)
GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                  "Dual MIT/GPL", "Dual MPL/GPL")


class ToolchainError(Exception):
    """A compile or check failed; the message is one line (clang's own
    diagnostics are in `.output`)."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


# -- finding clang --------------------------------------------------------------------

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


def find_clang(need_strip: bool = True) -> tuple:
    """(clang, llvm-strip or None, clang's major version): the newest clang >=
    MIN_CLANG on PATH (or $CLANG) and its llvm-strip ($LLVM_STRIP).  Raises
    ToolchainError without a clang, or without llvm-strip if need_strip."""
    clang = os.environ.get("CLANG")
    if clang:
        versions = [(clang, _version(clang))]
    else:
        versions = [(c, _version(c)) for c in _candidates("clang")]
    versions = [(c, v) for c, v in versions if v >= MIN_CLANG]
    if not versions:
        raise ToolchainError(f"no clang >= {MIN_CLANG} found on PATH (install clang, e.g. "
                             "'apt-get install clang llvm', or set CLANG=); clang is needed "
                             "only where objects are compiled")
    clang, ver = max(versions, key=lambda cv: cv[1])
    strip = os.environ.get("LLVM_STRIP")
    if not strip:
        for cand in (f"llvm-strip-{ver}", "llvm-strip", *_candidates("llvm-strip")):
            if shutil.which(cand):
                strip = cand
                break
    if not strip and need_strip:
        raise ToolchainError("llvm-strip not found (install llvm, or set LLVM_STRIP=)")
    return clang, strip, ver


def native_arch() -> str:
    """This machine's architecture as vmlinux/ and corebpf/bpf/ name it."""
    m = os.uname().machine
    if m not in MACHINES:
        raise ToolchainError(f"unsupported architecture {m} (corebpf targets "
                             f"{', '.join(MACHINES)}; pick one with --arch)")
    return MACHINES[m]


def available_arches(include_dir: str = INCLUDE_DIR) -> list:
    """The architectures whose vmlinux.h the header set holds."""
    return [a for a in ARCHES
            if os.path.isfile(os.path.join(include_dir, "vmlinux", a, "vmlinux.h"))]


# -- flags and compiling ----------------------------------------------------------------

def cflags(arch: str, include_dir: str = INCLUDE_DIR, extra_includes=(), defines=()) -> list:
    """clang's flags for a CO-RE object of `arch` against a header set laid out
    as corebpf/include is (extra_includes are searched first)."""
    flags = ["-target", "bpf", "-g", "-O2", "-Wall", "-Wno-unused-function",
             f"-D__TARGET_ARCH_{arch}"]
    flags += [f"-D{d}" for d in defines]
    for d in extra_includes:
        flags += ["-I", str(d)]
    flags += ["-I", include_dir, "-I", os.path.join(include_dir, "vmlinux", arch),
              "-idirafter", os.path.join(include_dir, "compat")]
    return flags


def compile_object(src: str, out: str, arch: str, clang: str, strip: str = None,
                   include_dir: str = INCLUDE_DIR, extra_includes=(), defines=()) -> str:
    """Compile `src` into `out` (replaced atomically), strip DWARF if `strip` is
    given (BTF stays).  Raises ToolchainError with clang's output."""
    src, out = str(src), str(out)
    tmp = f"{out}.tmp{os.getpid()}"
    cmd = [clang, *cflags(arch, include_dir, extra_includes, defines), "-c", src, "-o", tmp]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolchainError(f"{os.path.basename(src)} ({arch}): clang failed",
                                 r.stderr.strip())
        if strip:
            r = subprocess.run([strip, "-g", tmp], capture_output=True, text=True)
            if r.returncode != 0:
                raise ToolchainError(f"{os.path.basename(src)}: {strip} failed: "
                                     f"{r.stderr.strip()}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def install_headers(include_dir: str, corebpf_h: str, vmlinux_dirs: dict, libbpf_dir: str,
                    compat_dir: str, extra=()) -> list:
    """Fill a header set (build.py: corebpf/include) from the sources: copy what
    is missing or older than its source.  vmlinux_dirs: {arch: dir holding
    vmlinux.h}; extra: more headers copied to the top of the set under their
    own names (bpf_src/ustack.bpf.h).  Returns the files copied; ToolchainError
    if a source is missing."""
    pairs = [(corebpf_h, os.path.join(include_dir, "corebpf.bpf.h"))]
    pairs += [(h, os.path.join(include_dir, os.path.basename(h))) for h in extra]
    for arch, d in vmlinux_dirs.items():
        pairs.append((os.path.join(d, "vmlinux.h"),
                      os.path.join(include_dir, "vmlinux", arch, "vmlinux.h")))
    for h in LIBBPF_HEADERS:
        pairs.append((os.path.join(libbpf_dir, h), os.path.join(include_dir, "bpf", h)))
    for base, _, files in os.walk(compat_dir):
        for f in files:
            s = os.path.join(base, f)
            pairs.append((s, os.path.join(include_dir, "compat",
                                          os.path.relpath(s, compat_dir))))
    copied = []
    for s, d in pairs:
        if not os.path.isfile(s):
            raise ToolchainError(f"{s} missing (libbpf's headers come with libbpf-dev)")
        if os.path.exists(d) and os.stat(d).st_mtime >= os.stat(s).st_mtime:
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(s, d)
        copied.append(d)
    return copied


# -- reading the result ------------------------------------------------------------------

EM_BPF = 247
SHF_EXECINSTR = 0x4
SHT_SYMTAB = 2
STT_FUNC = 2
STB_GLOBAL = 1


class ElfObject:
    """The parts of a BPF ELF object the checks and `corebpf skel` read:
    section names and bytes, and the programs (global functions in
    executable sections other than .text, as libbpf finds them)."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            raise ToolchainError(f"{path}: {e.strerror}") from None
        d = self.data
        if d[:4] != b"\x7fELF":
            raise ToolchainError(f"{path}: not an ELF file")
        if d[4] != 2 or d[5] != 1:
            raise ToolchainError(f"{path}: not a 64-bit little-endian ELF object")
        try:
            (self.machine,) = struct.unpack_from("<H", d, 18)
            shoff, = struct.unpack_from("<Q", d, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
            self.sections = []
            for i in range(shnum):
                (name, typ, flags, _addr, off, size, link, _info, _align,
                 entsize) = struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize)
                self.sections.append([name, typ, flags, off, size, link, entsize])
            stroff, strsize = self.sections[shstrndx][3], self.sections[shstrndx][4]
            for s in self.sections:
                s[0] = self._cstr(stroff, s[0])
        except (struct.error, IndexError):
            raise ToolchainError(f"{path}: truncated or malformed ELF file") from None

    def _cstr(self, base: int, off: int) -> str:
        end = self.data.index(b"\0", base + off)
        return self.data[base + off:end].decode("utf-8", "replace")

    def section(self, name: str):
        """The bytes of section `name`, or None."""
        for s in self.sections:
            if s[0] == name:
                return self.data[s[3]:s[3] + s[4]]
        return None

    def programs(self) -> list:
        """[(function name, section name)] in file order."""
        out = []
        for s in self.sections:
            if s[1] != SHT_SYMTAB:
                continue
            stroff = self.sections[s[5]][3]
            for off in range(s[3], s[3] + s[4], s[6] or 24):
                name, info, _other, shndx, _value, _size = struct.unpack_from(
                    "<IBBHQQ", self.data, off)
                if info & 0xF != STT_FUNC or info >> 4 != STB_GLOBAL or \
                        not 0 < shndx < len(self.sections):
                    continue
                sec = self.sections[shndx]
                if sec[2] & SHF_EXECINSTR and sec[0] != ".text":
                    out.append((self._cstr(stroff, name), sec[0]))
        return out

    def license(self):
        """The license string, or None without a license section."""
        raw = self.section("license")
        return None if raw is None else raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def check_object(path: str) -> list:
    """Check a compiled object: BPF machine, BTF, license.  Returns warnings
    (a license the kernel does not count as GPL-compatible, no programs);
    raises ToolchainError for what makes it unusable."""
    e = ElfObject(path)
    if e.machine != EM_BPF:
        raise ToolchainError(f"{path}: not a BPF object (ELF machine {e.machine})")
    if e.section(".BTF") is None:
        raise ToolchainError(f"{path}: no BTF (.BTF section): CO-RE needs clang -g")
    lic = e.license()
    if not lic:
        raise ToolchainError(f"{path}: no license: #include \"corebpf.bpf.h\" or declare "
                             "char LICENSE[] SEC(\"license\") = \"GPL\";")
    warnings = []
    if lic not in GPL_COMPATIBLE:
        warnings.append(f"license {lic!r} is not GPL-compatible: the kernel refuses "
                        "GPL-only helpers (bpf_probe_read*, bpf_trace_printk...) to it")
    if not e.programs():
        warnings.append("no programs (no functions in a SEC(\"...\") section)")
    return warnings


# -- corebpf compile ---------------------------------------------------------------------

def _default_out(src: str) -> str:
    base = src[:-2] if src.endswith(".c") else src
    return base + ".o"


def main_compile(argv, prog: str = "corebpf compile") -> int:
    """`corebpf compile`: see the module doc.  Returns the exit status."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise ToolchainError(message.replace("\n", " "))

    arches = available_arches() or list(ARCHES)
    p = Parser(prog=prog, description="Compile BPF C into a CO-RE object that corebpf "
               "(corebpf.Object.open) loads on any kernel with BTF.  Needs clang here, "
               "not where the object runs.")
    p.add_argument("source", nargs="?", help="the BPF C file (NAME.bpf.c)")
    p.add_argument("-o", "--output", help="the object to write (default: NAME.bpf.o "
                   "next to the source)")
    p.add_argument("--arch", choices=arches, help="target architecture: its vmlinux.h and "
                   "pt_regs layout (default: this machine's)")
    p.add_argument("-I", dest="includes", action="append", default=[], metavar="DIR",
                   help="also search DIR for headers (before corebpf's)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="define a macro")
    p.add_argument("--cflags", action="store_true",
                   help="print clang's flags for this header set and exit")
    try:
        a = p.parse_args(argv)
        arch = a.arch or native_arch()
        if arch not in available_arches():
            raise ToolchainError(f"no vmlinux.h for {arch} in {INCLUDE_DIR} (package built "
                                 "without its headers?)")
        if a.cflags:
            print(" ".join(cflags(arch, extra_includes=a.includes, defines=a.defines)))
            return 0
        if not a.source:
            raise ToolchainError("no source file given (corebpf compile FILE.bpf.c)")
        if not os.path.isfile(a.source):
            raise ToolchainError(f"{a.source}: no such file")
        out = a.output or _default_out(a.source)
        clang, strip, _ = find_clang(need_strip=False)
        compile_object(a.source, out, arch, clang, strip, extra_includes=a.includes,
                       defines=a.defines)
        try:
            warnings = check_object(out)
        except ToolchainError:
            os.unlink(out)
            raise
    except ToolchainError as e:
        if e.output:
            print(e.output, file=sys.stderr)
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"{prog}: warning: {w}", file=sys.stderr)
    return 0
