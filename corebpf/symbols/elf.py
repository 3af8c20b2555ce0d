"""Just enough ELF for user-space probes: symbols, file offsets, notes, and
where a library named like bcc does it (`c`, `pthread`, a path) lives.

    e = Elf("/lib/x86_64-linux-gnu/libc.so.6")
    e.symbol_offset("getaddrinfo")          # file offset for a uprobe
    e.match_symbols("getaddr*")             # [(name, offset)] of functions
    resolve_binary("c", pid=1234)           # -> "/lib/x86_64-linux-gnu/libc.so.6"

The tables are read with `struct` straight from the file: pyelftools (a
dependency, and what the unit tests check this reader against) costs ~60 ms
to import and ~170 ms to walk libc's 3,000 dynamic symbols, while a tool's
start-up budget is a few tens of ms.  Errors are ElfError, one line each.

Binaries found through a process (/proc/PID/maps, /proc/PID/root) may have
been swapped by the process's user: a file is opened without blocking
(never a FIFO), must be a regular file and, where the process maps it,
have the inode the process maps (corebpf.core.untrusted).
"""
from __future__ import annotations

import errno
import os
import re
import struct

from ..core import untrusted
from ..core.errors import BPFError

PT_LOAD = 1
SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11
STT_FUNC, STT_GNU_IFUNC = 2, 10
SHN_UNDEF = 0
ET_EXEC, ET_DYN = 2, 3
SECTION_MAX = 1 << 30           # bytes of one section read (symbol and string tables)


class ElfError(BPFError):
    """A binary, library, symbol, probe or process could not be found or read."""

    def __init__(self, message: str, err: int = errno.ENOENT):
        super().__init__(err, "elf", message=message)

    def __str__(self):
        return self.strerror


class Elf:
    """An ELF file's headers, read once; section data read on demand."""

    def __init__(self, path: str):
        self.path = path
        self._ino = None
        try:
            with self._open() as f:
                self._ino = os.fstat(f.fileno()).st_ino
                ident = f.read(64)
                if len(ident) < 52 or ident[:4] != b"\x7fELF":
                    raise ElfError(f"{path}: not an ELF file", errno.ENOEXEC)
                self.bits = 64 if ident[4] == 2 else 32
                self.end = "<" if ident[5] == 1 else ">"
                e = self.end
                if self.bits == 64:
                    (self.type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum,
                     shentsize, shnum, shstrndx) = struct.unpack_from(e + "HHIQQQIHHHHHH", ident, 16)
                else:
                    (self.type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum,
                     shentsize, shnum, shstrndx) = struct.unpack_from(e + "HHIIIIIHHHHHH", ident, 16)
                f.seek(phoff)
                ph = f.read(phentsize * phnum)
                f.seek(shoff)
                sh = f.read(shentsize * shnum) if shoff else b""
        except OSError as ex:
            raise ElfError(f"{path}: {ex.strerror}", ex.errno or errno.EIO) from None
        # segments: (type, offset, vaddr, filesz, memsz)
        self.segments = []
        for i in range(phnum):
            if self.bits == 64:
                t, _, off, va, _, fsz, msz, _ = struct.unpack_from(e + "IIQQQQQQ", ph, i * phentsize)
            else:
                t, off, va, _, fsz, msz, _, _ = struct.unpack_from(e + "IIIIIIII", ph, i * phentsize)
            self.segments.append((t, off, va, fsz, msz))
        # sections: name -> (type, addr, offset, size, link, entsize)
        raw = []
        for i in range(len(sh) // shentsize if shentsize else 0):
            if self.bits == 64:
                nm, t, _, addr, off, size, link, _, _, esz = struct.unpack_from(
                    e + "IIQQQQIIQQ", sh, i * shentsize)
            else:
                nm, t, _, addr, off, size, link, _, _, esz = struct.unpack_from(
                    e + "IIIIIIIIII", sh, i * shentsize)
            raw.append((nm, t, addr, off, size, link, esz))
        self._raw_sections = raw
        self.sections = {}
        if raw and shstrndx < len(raw):
            names = self._read(raw[shstrndx][3], raw[shstrndx][4])
            for nm, t, addr, off, size, link, esz in raw:
                end = names.find(b"\0", nm)
                self.sections.setdefault(names[nm:end].decode("latin-1"),
                                         (t, addr, off, size, link, esz))
        self._symbols = None
        self._funcs = None

    def _open(self):
        """The file, opened without blocking; a regular file (and the same one
        as when first read), else ElfError."""
        try:
            return untrusted.open_regular(self.path, self._ino)
        except untrusted.Refused as e:
            raise ElfError(f"{self.path}: {e.why}", errno.EINVAL) from None

    def _read(self, off: int, size: int) -> bytes:
        try:
            with self._open() as f:
                f.seek(off)
                return f.read(min(size, SECTION_MAX))
        except OSError as e:
            if isinstance(e, ElfError):
                raise
            raise ElfError(f"{self.path}: {e.strerror}", e.errno or errno.EIO) from None

    def section_data(self, name: str) -> bytes:
        s = self.sections.get(name)
        return self._read(s[2], s[3]) if s else b""

    @property
    def is_pie_or_shared(self) -> bool:
        return self.type == ET_DYN

    def vaddr_to_offset(self, addr: int):
        """File offset of virtual address `addr` (None if no PT_LOAD maps it)."""
        for t, off, va, fsz, _ in self.segments:
            if t == PT_LOAD and va <= addr < va + fsz:
                return addr - va + off
        return None

    # -- symbols -------------------------------------------------------------------
    def _load_symbols(self):
        """[(name, value, size, type)] of defined symbols, .symtab then .dynsym;
        .dynsym entries of a hidden (non-default) symbol version, such as
        libc's memcpy@GLIBC_2.2.5 next to memcpy@@GLIBC_2.14, come last."""
        out = []
        late = []
        fmt = self.end + ("IBBHQQ" if self.bits == 64 else "IIIBBH")
        ent = struct.calcsize(fmt)
        vs = self.sections.get(".gnu.version")
        for t, _, off, size, link, esz in self.sections.values():
            if t not in (SHT_SYMTAB, SHT_DYNSYM) or not size:
                continue
            data = self._read(off, size)
            versym = self._read(vs[2], vs[3]) if t == SHT_DYNSYM and vs else b""
            if link >= len(self._raw_sections):
                continue
            _, _, _, soff, ssize, _, _ = self._raw_sections[link]
            strs = self._read(soff, ssize)
            step = esz or ent
            for i in range(step, len(data) - ent + 1, step):
                if self.bits == 64:
                    nm, info, _, shndx, value, sz = struct.unpack_from(fmt, data, i)
                else:
                    nm, value, sz, info, _, shndx = struct.unpack_from(fmt, data, i)
                if shndx == SHN_UNDEF or not nm or not value:
                    continue
                end = strs.find(b"\0", nm)
                row = (strs[nm:end].decode("utf-8", "replace"), value, sz, info & 0xF)
                j = 2 * (i // step)
                hidden = len(versym) >= j + 2 and \
                    struct.unpack_from(self.end + "H", versym, j)[0] & 0x8000
                (late if hidden else out).append(row)
        return out + late

    def symbols(self, functions: bool = True) -> list:
        """Defined symbols [(name, vaddr, size)], functions only by default; first wins."""
        if functions and self._funcs is not None:
            return self._funcs
        if self._symbols is None:
            self._symbols = self._load_symbols()
        seen = set()
        out = []
        for name, value, size, typ in self._symbols:
            if functions and typ not in (STT_FUNC, STT_GNU_IFUNC):
                continue
            if name in seen:
                continue
            seen.add(name)
            out.append((name, value, size))
        if functions:
            self._funcs = out
            self._by_name = {}
            for n, v, sz in out:
                self._by_name.setdefault(n, (v, sz))
                if "@" in n:
                    self._by_name.setdefault(n.split("@", 1)[0], (v, sz))
        return out

    def ifunc_addresses(self) -> set:
        """Virtual addresses of GNU indirect functions (STT_GNU_IFUNC): such a
        symbol is the resolver that picks an implementation at load time."""
        if self._symbols is None:
            self._symbols = self._load_symbols()
        return {value for _, value, _, typ in self._symbols if typ == STT_GNU_IFUNC}

    def symbol(self, name: str):
        """(vaddr, size) of function `name`, or None.  A `name@VERSION` suffix
        in .symtab also matches the bare name."""
        self.symbols()
        return self._by_name.get(name)

    def symbol_offset(self, name: str) -> int:
        """File offset of function `name` (what a uprobe needs); ElfError if absent."""
        hit = self.symbol(name)
        if hit is None:
            raise ElfError(f"{self.path}: no function {name!r} in its symbol tables")
        off = self.vaddr_to_offset(hit[0])
        if off is None:
            raise ElfError(f"{self.path}: {name} at 0x{hit[0]:x} is in no loadable segment")
        return off

    def match_symbols(self, pattern: str, regex: bool = False) -> list:
        """[(name, file offset)] of functions matching a glob (`*`, `?`) or a regex."""
        rx = re.compile(pattern if regex else glob_to_regex(pattern))
        out = []
        for n, v, _ in self.symbols():
            if rx.fullmatch(n) if not regex else rx.search(n):
                off = self.vaddr_to_offset(v)
                if off is not None:
                    out.append((n, off))
        return out

    def notes(self, section: str):
        """Yield (owner, type, desc bytes) of the notes in `section`."""
        data = self.section_data(section)
        i = 0
        while i + 12 <= len(data):
            namesz, descsz, typ = struct.unpack_from(self.end + "III", data, i)
            i += 12
            owner = data[i:i + namesz].rstrip(b"\0").decode("latin-1")
            i += (namesz + 3) & ~3
            desc = data[i:i + descsz]
            i += (descsz + 3) & ~3
            yield owner, typ, desc


def glob_to_regex(pattern: str) -> str:
    """bcc's wildcard syntax: `*` any run, `?` one character, the rest literal."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


# -- finding libraries and binaries ---------------------------------------------------

LD_SO_CACHE = "/etc/ld.so.cache"
_STD_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")
# ld.so.cache flags: (flags & 0xff) == 3 for ELF libc6; the arch bits of the
# 64-bit ABIs ld.so keeps apart (x86-64 0x0300, AArch64 0x0a00, RISC-V 0x0f00?)
_CACHE_ARCH = {"x86_64": 0x0300, "aarch64": 0x0a00}


def _multiarch_dirs():
    m = os.uname().machine
    return (f"/lib/{m}-linux-gnu", f"/usr/lib/{m}-linux-gnu")


_ld_cache = {}


def ld_cache_entries(path: str = LD_SO_CACHE) -> list:
    """[(soname, path)] from ld.so.cache (the glibc 2.x 'new' format), for
    libraries of this machine's ABI; [] if the cache is absent or unknown."""
    try:
        with open(path, "rb") as f:
            key = (path, os.fstat(f.fileno()).st_mtime_ns)
            if key in _ld_cache:
                return _ld_cache[key]
            data = f.read()
    except OSError:
        return []
    _ld_cache[key] = out = _parse_ld_cache(data)
    return out


def _parse_ld_cache(data: bytes) -> list:
    new_magic = b"glibc-ld.so.cache1.1"
    base = data.find(new_magic)
    if base < 0:
        return []
    nlibs, _ = struct.unpack_from("<II", data, base + 20)
    want = _CACHE_ARCH.get(os.uname().machine)
    out = []
    ent = base + 48
    for i in range(nlibs):
        flags, key, value, _, _ = struct.unpack_from("<iIIIQ", data, ent + i * 24)
        if (flags & 0xFF) != 3:
            continue
        if want is not None and (flags & 0xFF00) != want:
            continue
        # string offsets count from the start of the new-format header
        k = data[base + key:data.find(b"\0", base + key)].decode("latin-1")
        v = data[base + value:data.find(b"\0", base + value)].decode("latin-1")
        out.append((k, v))
    return out


def _maps_paths(pid: int) -> list:
    """(path, inode, range) of the files mapped executable into process `pid`,
    in maps order; range is the first such mapping's "start-end" (its
    /proc/PID/map_files entry)."""
    out, seen = [], set()
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and b"x" in parts[1] and parts[5].startswith(b"/"):
                    p = os.fsdecode(parts[5].strip())
                    if p.endswith(" (deleted)"):
                        continue
                    key = (p, int(parts[4]))
                    if key not in seen:
                        seen.add(key)
                        # map_files names a mapping "%lx-%lx" (maps pads to 8 digits)
                        lo, _, hi = parts[0].partition(b"-")
                        out.append(key + ("%x-%x" % (int(lo, 16), int(hi, 16)),))
    except FileNotFoundError:
        raise ElfError(f"no such process: {pid}", errno.ESRCH) from None
    except OSError as e:
        raise ElfError(f"cannot read /proc/{pid}/maps: {e.strerror}", e.errno) from None
    return out


def check_pid(pid: int):
    """ElfError unless process `pid` exists."""
    if pid is None or pid < 0:
        return
    if pid == 0 or not os.path.exists(f"/proc/{pid}"):
        raise ElfError(f"no such process: {pid}", errno.ESRCH)


def process_binaries(pid: int) -> list:
    """The executable and every shared object mapped executable into `pid`,
    as paths this process can open (through /proc/PID/root)."""
    return [path for _, path in process_mapped(pid)]


def process_mapped(pid: int) -> list:
    """(name in /proc/PID/maps, a path this process can open) of each file
    mapped executable into `pid`.  The path is the maps name itself, or the
    same under /proc/PID/root (a container's own file), or, where neither
    is that file -- the maps name is then the file's path from a root this
    process cannot reach: we run in a chroot or another mount namespace and
    the file is on a mount of the traced process's namespace --
    /proc/PID/map_files/START-END, the mapping itself (root only)."""
    check_pid(pid)
    root = f"/proc/{pid}/root"
    out = []
    for p, ino, rng in _maps_paths(pid):
        for cand in (p, root + p, f"/proc/{pid}/map_files/{rng}"):
            if _is_mapped_file(cand, ino):
                out.append((p, cand))
                break
    return out


def _is_mapped_file(path: str, inode: int) -> bool:
    """True if `path` is a regular file with the inode a process maps (a path
    the process's user swapped for a FIFO or another file is not)."""
    try:
        with untrusted.open_regular(path, inode or None):
            return True
    except OSError:
        return False


def find_library(name: str, pid: int = None):
    """Path of library `name` as bcc finds it (`c` -> libc.so.6): mapped in
    `pid`, then ld.so.cache, then the standard directories.  None if absent."""
    stem = name if name.startswith("lib") else "lib" + name
    rx = re.compile(re.escape(stem) + r"(?:-[0-9.]+)?\.so(?:\.|$)")
    if pid is not None and pid > 0:
        for name_, p in process_mapped(pid):
            if rx.match(os.path.basename(name_)):
                return p
    for soname, path in ld_cache_entries():
        if rx.match(soname) and os.path.exists(path):
            return path
    for d in (*_multiarch_dirs(), *_STD_DIRS):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            if rx.match(n):
                return os.path.join(d, n)
    return None


def which(name: str):
    """An executable named `name` on PATH, or None."""
    for d in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def resolve_binary(name: str, pid: int = None) -> str:
    """Absolute path of what `name` means to bcc: a path (absolute or relative),
    a library (`c`, `pthread`, `libssl.so.3`), or an executable on PATH.

    Raises ElfError (one line) if nothing matches or `pid` does not exist.
    """
    if pid is not None and pid > 0:
        check_pid(pid)
    if not name:
        raise ElfError("no binary or library given", errno.EINVAL)
    if "/" in name:
        p = os.path.abspath(name)
        if not os.path.isfile(p):
            raise ElfError(f"no such binary: {name}")
        return p
    lib = find_library(name, pid)
    if lib:
        if re.match(r"/proc/\d+/map_files/", lib):
            return lib          # a magic link: its text names a path we cannot reach
        return os.path.realpath(lib) if os.path.islink(lib) else lib
    exe = which(name)
    if exe:
        return os.path.realpath(exe)
    raise ElfError(f"cannot find library or executable {name!r}")


_cache = {}


def open_elf(path: str) -> Elf:
    """An Elf for `path`, cached by (path, mtime, size)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ElfError(f"{path}: {e.strerror}", e.errno) from None
    key = (path, st.st_mtime_ns, st.st_size)
    e = _cache.get(key)
    if e is None:
        e = _cache[key] = Elf(path)
    return e


def mapping(pid, addr: int):
    """(path, file offset of addr, inode) for an address of process `pid`
    ("self": this one), or None."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) < 6 or not parts[5].startswith(b"/"):
                    continue
                lo, hi = (int(x, 16) for x in parts[0].split(b"-"))
                if lo <= addr < hi:
                    return (os.fsdecode(parts[5].strip()), addr - lo + int(parts[2], 16),
                            int(parts[4]))
    except OSError:
        pass
    return None


def symbolize(pid: int, addr: int) -> tuple:
    """(function name or None, offset into it, module path or None) of a
    code address in process `pid`, from its maps and the module's symbols."""
    m = mapping(pid, addr)
    if m is None:
        return None, 0, None
    path, foff, ino = m
    cand = next((c for c in (path, f"/proc/{pid}/root{path}") if _is_mapped_file(c, ino)), None)
    try:
        if cand is None:
            raise ElfError(f"{path}: not the file process {pid} maps")
        e = open_elf(cand)
    except ElfError:
        return None, 0, path
    vaddr = None
    for t, off, va, fsz, _ in e.segments:
        if t == PT_LOAD and off <= foff < off + fsz:
            vaddr = foff - off + va
            break
    if vaddr is None:
        return None, 0, path
    best = None
    for name, value, size in e.symbols():
        if value <= vaddr and (vaddr < value + size or (size == 0 and best is None)):
            if best is None or value > best[1]:
                best = (name, value)
    if best is None:
        return None, 0, path
    return best[0], vaddr - best[1], path


_demangler = []


def demangle(name: str) -> str:
    """A C++ symbol's readable form (libstdc++'s __cxa_demangle); `name` itself
    if it is not mangled or libstdc++ is absent."""
    if not name.startswith("_Z"):
        return name
    if not _demangler:
        try:
            from cffi import FFI
            f = FFI()
            f.cdef("char *__cxa_demangle(const char *, char *, size_t *, int *);"
                   "void free(void *);")
            _demangler.append((f, f.dlopen("libstdc++.so.6"), f.dlopen(None)))
        except (ImportError, OSError):
            _demangler.append(None)
    if _demangler[0] is None:
        return name
    f, cxx, libc = _demangler[0]
    status = f.new("int *")
    out = cxx.__cxa_demangle(name.encode(), f.NULL, f.NULL, status)
    if out == f.NULL or status[0] != 0:
        return name
    try:
        return f.string(out).decode("utf-8", "replace")
    finally:
        libc.free(out)


def sym_text(pid: int, addr: int, show_module: bool = True, show_offset: bool = False,
             demangled: bool = True) -> str:
    """bcc's BPF.sym() text: `name[+0xoff] [module]`, `[unknown]` if unresolved."""
    name, off, module = symbolize(pid, addr)
    if name and demangled:
        name = demangle(name)
    text = (name + ("+0x%x" % off if show_offset else "")) if name else "[unknown]"
    if show_module and module:
        text += " [%s]" % os.path.basename(module)
    return untrusted.escape(text)           # names and paths another user chose
