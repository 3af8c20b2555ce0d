"""Symbols for stack addresses, printed the way bcc prints them.

    syms = SymbolCache()                       # one per report
    syms.ksym(0xffffffff81234567, show_offset=True, show_module=True)
        -> 'do_nanosleep+0x47 [kernel]'
    syms.sym(0x401136, pid)                    -> 'main'

Kernel addresses resolve through /proc/kallsyms (read on first use, sorted,
bisected; data symbols skipped as bcc does; module text is `[mod]`, core
kernel text `[kernel]`); the core kernel's text symbols are kept per boot in
corebpf.core.kcache's directory (root), so an address in the kernel image
resolves without reading kallsyms (_CoreText).  User addresses resolve through the process's
executable mappings (/proc/PID/maps): the runtime address becomes a file
offset, the file offset an ELF virtual address through the PT_LOAD program
headers (so PIE executables and shared libraries work), and the ELF's
.symtab/.dynsym give the name.  Stripped files borrow symbols from a debug
file: /usr/lib/debug/.build-id/xx/yyyy.debug, .gnu_debuglink targets (CRC
checked) or MiniDebugInfo (.gnu_debugdata).  The vDSO is read from the
process's memory; JIT code resolves through /tmp/perf-PID.map.

Files read on a traced process's behalf (its binaries, debug files, perf
maps) may have been planted by its user: they are opened with
corebpf.core.untrusted (no FIFO, device or symlink swap; perf maps and debug
files owned by root or the process's user; the inode the process maps;
paths under /proc/PID/root resolved inside that root) and read with bounds;
a refused file is skipped (one note with --verbose) and its addresses stay
unresolved.  Symbol names are escaped for the terminal.

Symbol tables are cached per file (device, inode, size, mtime) for the whole
Python process and loaded lazily, only when an address falls in that file;
run as root, they are also kept across runs in corebpf.core.kcache's
directory (_TableCache: a stack tool's exit no longer reads and sorts the
tables of every binary in its user stacks).
A SymbolCache keeps one resolver per PID, so a process that exits while its
stacks are printed still resolves through the mappings read earlier; a
process that is gone before its first lookup gives `[unknown]`.
"""
from __future__ import annotations

import bisect
import os
import struct
import time

from ..core import untrusted

UNKNOWN = "[unknown]"
DEBUG_ROOT = "/usr/lib/debug"
PERF_MAP_MAX = 64 << 20         # bytes of a perf map read (a bigger one is cut there)
PERF_MAP_RECHECK = 0.5          # seconds between two looks at a perf map file
SECTION_MAX = 1 << 30           # bytes of one ELF section read (symbol and string tables)
MINIDEBUG_MAX = 256 << 20       # bytes a .gnu_debugdata image may decompress to

_STT_FUNC, _STT_GNU_IFUNC = 2, 10
_STB_LOCAL, _STB_GLOBAL, _STB_WEAK = 0, 1, 2
_KERNEL_MIN = 0x00ffffffffffffff        # below: user space (bcc's kernelAddrSpace)
_DATA_TYPES = b"bBdDrR"                 # kallsyms data symbols (not code)
KALLSYMS = "/proc/kallsyms"


def format_symbol(name, offset: int, module, show_offset: bool = False,
                  show_module: bool = False) -> str:
    """bcc's text for a resolved address: `name`, `name+0x1f`, `name [module]`;
    `[unknown]` (no offset) when name is None."""
    text = (f"{name}+0x{offset:x}" if show_offset else name) if name else UNKNOWN
    if show_module and module:
        text += f" [{untrusted.escape(os.path.basename(module))}]"
    return text


# -- kernel ---------------------------------------------------------------------------

class KernelSymbols:
    """Kernel text symbols from /proc/kallsyms, read on first lookup.

    Needs root (or kptr_restrict=0) to see real addresses; without them every
    address resolves to nothing.
    """

    def __init__(self, path: str = KALLSYMS):
        import threading
        self.path = path
        self._addrs = None
        self._lines = None
        self._by_name = None
        self._core = None       # _CoreText from the per-boot cache; False: none
        self._lock = threading.Lock()
        self._memo = {}         # address -> resolve()'s answer (what is read is never re-read)

    def preload(self):
        """Read kallsyms now, in a background thread, rather than at the first
        lookup: a tool that prints kernel stacks after Ctrl-C calls this once
        attached, so its exit does not wait for the read (/proc/kallsyms is
        slow to produce: 0.1-0.2 s of kernel time here, more under load).
        A lookup meanwhile waits for that read instead of starting another."""
        import threading
        if self._addrs is None and self._core is None:
            threading.Thread(target=self._prepare, args=(True,), daemon=True,
                             name="kallsyms").start()

    def _ensure(self):
        with self._lock:
            if self._addrs is None:
                self._load()

    def _prepare(self, ahead: bool = False):
        """Before a lookup: the core kernel's text symbols from the per-boot
        cache, else the whole of kallsyms (which then fills the cache).
        ahead (preload): kallsyms is read too, cache or not, for the frames the
        cache does not cover (modules, BPF programs): a lookup of a core
        address does not wait for that read, one of another address waits
        less than it would for a read started then."""
        with self._lock:
            if self._core is None:
                self._core = _CoreText.cached() if self.path == KALLSYMS else False
        if self._addrs is None and (not self._core or ahead):
            self._ensure()

    def at_hand(self, addr: int) -> bool:
        """True if addr resolves without reading kallsyms now (it has been
        read, or addr is in the kernel image and the cache has its symbols)."""
        if self._addrs is not None:
            return True
        if self._core is None:
            self._prepare()
        core = self._core
        return bool(core) and core.lo <= addr <= core.hi

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        # "ffffffff81000000 T _stext" / "... t name\t[module]": on 64-bit
        # kernels the address is 16 hex digits, so the lines themselves sort
        # by address (in C: parsing 120,000 symbols with a regular expression
        # and int() took ~140 ms of every stack tool's exit); a line is
        # parsed when a lookup lands on it
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        if any(len(ln) < 19 or ln[16:17] != b" " or ln[18:19] != b" " for ln in lines[:1]):
            lines = []                  # not the 64-bit layout: no symbols
        from operator import itemgetter
        lines.sort(key=itemgetter(slice(0, 16)))    # stable: aliases keep kallsyms' order
        self._lines = lines
        self._addrs = lines             # last: the others are ready once it is set
        if self._core is False:         # looked for and missing, stale or unsafe
            self._core = _CoreText.store(lines)

    def _row(self, i: int):
        """(address, name bytes, module) of line i."""
        ln = self._lines[i]
        name, _, mod = ln[19:].partition(b"\t")
        mod = mod[1:-1].decode("utf-8", "replace") if mod else "kernel"
        return int(ln[:16], 16), name, mod

    @property
    def _names(self):
        return [ln[19:].partition(b"\t")[0] for ln in self._text_lines()]

    def _text_lines(self):
        lo = b"%016x" % _KERNEL_MIN
        return [ln for ln in self._lines if ln[17:18] not in _DATA_TYPES and ln[:16] > lo]

    @property
    def loaded(self) -> bool:
        """True once /proc/kallsyms has been read (at the first lookup)."""
        return self._addrs is not None

    def __len__(self):
        if self._addrs is None:
            self._ensure()
        return len(self._text_lines())

    def resolve(self, addr: int):
        """(name, offset, module) of the symbol containing addr, or (None, 0, None).
        Answers are kept per address: a report's kernel stacks repeat the same
        few thousand frames (offwaketime resolved ~24,000 for ~2,000 addresses,
        60-100 ms of its exit here); the cached core table and kallsyms give the
        same answer for an address in the image, so one kept from either stays
        right."""
        hit = self._memo.get(addr)
        if hit is not None:
            return hit
        res = self._resolve(addr)
        if len(self._memo) >= 1 << 16:      # a long run's addresses: bounded
            self._memo.clear()
        self._memo[addr] = res
        return res

    def _resolve(self, addr: int):
        if addr <= _KERNEL_MIN or addr >= 1 << 64:
            return None, 0, None
        if self._addrs is None:
            if self._core is None:
                self._prepare()
            core = self._core
            if core and core.lo <= addr <= core.hi:
                return core.resolve(addr)
            self._ensure()
        lines = self._lines
        i = bisect.bisect_right(lines, b"%016x\x7f" % addr) - 1
        lo = b"%016x" % _KERNEL_MIN
        while i >= 0 and lines[i][17:18] in _DATA_TYPES:     # text symbols only
            i -= 1
        if i < 0 or lines[i][:16] <= lo:
            return None, 0, None
        start, name, mod = self._row(i)
        return name.decode("utf-8", "replace"), addr - start, mod

    def sym(self, addr: int, show_offset: bool = False, show_module: bool = False) -> str:
        """bcc's BPF.ksym(): name, with +0xoff and/or ` [kernel]` on request."""
        name, off, mod = self.resolve(addr)
        return format_symbol(name, off, mod, show_offset, show_module)

    def find(self, pattern: str) -> list:
        """Names of kernel symbols matching regular expression `pattern` (re.fullmatch)."""
        import re
        if self._addrs is None:
            self._ensure()
        rx = re.compile(pattern.encode())
        return sorted({n.decode() for n in self._names if rx.fullmatch(n)})

    def address(self, name: str):
        """Address of kernel symbol `name` (first one listed), or None."""
        if self._by_name is None:
            if self._addrs is None:
                self._ensure()
            d = {}
            for ln in self._text_lines():
                d.setdefault(ln[19:].partition(b"\t")[0], int(ln[:16], 16))
            self._by_name = d
        return self._by_name.get(name.encode())

    def spans(self, name: str) -> list:
        """[(start, end)] of the core kernel's text symbols called `name`, end
        being the next symbol's start: from the per-boot cache when it is
        there (no read of kallsyms), else from kallsyms."""
        if self._addrs is None and self._core is None:
            self._prepare()
        if self._addrs is None and self._core:
            return self._core.spans(name.encode())
        self._ensure()
        core = [ln for ln in self._text_lines() if b"\t" not in ln]   # by address (_load)
        want = name.encode()
        out = []
        for i, ln in enumerate(core):
            if ln[19:] == want:
                j = i + 1           # the next symbol: the next line at another address
                while j < len(core) and core[j][:16] == ln[:16]:
                    j += 1
                start = int(ln[:16], 16)
                out.append((start, int(core[j][:16], 16) if j < len(core) else start))
        return out


class _CoreText:
    """The core kernel's text symbols (kallsyms' lines without a [module]),
    kept per boot in corebpf.core.kcache: reading /proc/kallsyms costs
    0.15-0.3 s of a stack tool's exit here (the kernel formats 120,000
    symbols, 4 KB per read), the cached table ~5 ms.  The kernel image is
    fixed from boot to shutdown (KASLR moves it only at boot: the boot id
    is in the key) and nothing else is mapped between its first and last
    symbol, so an address in [lo, hi] resolves here exactly as through the
    whole of kallsyms; any other (modules, BPF programs, trampolines) makes
    the caller read kallsyms.

    Payload: n, lo, hi (<QQQ), n sorted addresses (<Q), n + 1 name offsets
    (<I), the names."""

    NAME = "kallsyms.core"
    _HEAD = struct.Struct("<QQQ")

    def __init__(self, payload: bytes):
        from array import array
        n, self.lo, self.hi = self._HEAD.unpack_from(payload)
        pos = self._HEAD.size
        self.addrs = array("Q", payload[pos:pos + 8 * n])
        pos += 8 * n
        self.offsets = array("I", payload[pos:pos + 4 * (n + 1)])
        self.names = payload[pos + 4 * (n + 1):]
        if len(self.addrs) != n or len(self.offsets) != n + 1 or n == 0 or \
                self.offsets[-1] != len(self.names) or self.addrs[0] != self.lo:
            raise ValueError("inconsistent kallsyms cache")
        if array("Q").itemsize != 8 or array("I").itemsize != 4 or \
                struct.pack("=I", 1) != struct.pack("<I", 1):
            raise ValueError("not a little-endian 64-bit layout")

    def resolve(self, addr: int):
        i = bisect.bisect_right(self.addrs, addr) - 1
        name = self.names[self.offsets[i]:self.offsets[i + 1]]
        return name.decode("utf-8", "replace"), addr - self.addrs[i], "kernel"

    def spans(self, name: bytes) -> list:
        """KernelSymbols.spans() from this table."""
        out, pos = [], self.names.find(name)
        while pos >= 0:
            i = bisect.bisect_left(self.offsets, pos)
            if i < len(self.addrs) and self.offsets[i] == pos and \
                    self.offsets[i + 1] == pos + len(name):
                j = bisect.bisect_right(self.addrs, self.addrs[i])
                out.append((self.addrs[i], self.addrs[j] if j < len(self.addrs) else self.hi))
            pos = self.names.find(name, pos + 1)
        return out

    @staticmethod
    def _key():
        from ..core import kcache
        return b"kallsyms core text|" + kcache.boot_identity()

    @classmethod
    def cached(cls):
        """This boot's table from the cache, or False."""
        from ..core import kcache
        if not kcache.enabled():
            return False
        try:
            payload = kcache.load(cls.NAME, cls._key())
            return cls(payload) if payload else False
        except (OSError, ValueError, struct.error):
            return False

    @classmethod
    def store(cls, lines: list):
        """Cache the core text symbols of kallsyms' sorted `lines`; the table,
        or False when there is none (no addresses shown, not this layout)."""
        from array import array
        from ..core import kcache
        lo = b"%016x" % _KERNEL_MIN
        core = [ln for ln in lines if ln[:16] > lo and b"\t" not in ln]
        if not core or array("Q").itemsize != 8 or struct.pack("=I", 1) != struct.pack("<I", 1):
            return False
        hi = int(core[-1][:16], 16)             # the last symbol of the image, data or text
        text = [ln for ln in core if ln[17:18] not in _DATA_TYPES]
        if not text:
            return False
        addrs = array("Q", bytes.fromhex(b"".join([ln[:16] for ln in text]).decode()))
        addrs.byteswap()                        # the hex digits were big-endian
        names = [ln[19:] for ln in text]
        offsets = array("I", [0])
        total = 0
        for name in names:
            total += len(name)
            offsets.append(total)
        payload = cls._HEAD.pack(len(text), addrs[0], hi) + addrs.tobytes() + \
            offsets.tobytes() + b"".join(names)
        try:
            key = cls._key()
            table = cls(payload)
        except (OSError, ValueError):
            return False
        kcache.store(cls.NAME, key, payload)
        return table


_kernel = None


def kernel_symbols() -> KernelSymbols:
    """The process-wide KernelSymbols (kallsyms is read on its first lookup)."""
    global _kernel
    if _kernel is None:
        _kernel = KernelSymbols()
    return _kernel


def ksym(addr: int, show_offset: bool = False, show_module: bool = False) -> str:
    """The kernel symbol of `addr` (bcc's BPF.ksym()): the function name, "+0x.."
    with show_offset, " [kernel]" (or the module) with show_module; "[unknown]"
    when kallsyms has nothing there (kernel.kptr_restrict hides addresses from
    non-root)."""
    return kernel_symbols().sym(addr, show_offset, show_module)


# -- ELF files --------------------------------------------------------------------------

def _better(a, b) -> bool:
    """True if symbol a (start, size, name, bind) names an address better than b:
    sized, then global/weak over local, then fewer leading underscores, then shorter."""
    def rank(s):
        _, size, name, bind = s
        return (size == 0, bind == _STB_LOCAL, len(name) - len(name.lstrip(b"_")), len(name))
    return rank(a) < rank(b)


class ElfSymbols:
    """Function symbols and load segments of one ELF file (or image).

    The table is three arrays sorted by address (starts, sizes, name offsets
    into one bytes object of names): a name is decoded and made safe text only
    when a lookup lands on it, and the arrays are what the per-file cache
    (_TableCache) stores and loads."""

    def __init__(self, stream, name: str = "", debug_root: str = DEBUG_ROOT, root: str = "",
                 directory: str = "", owners=None, watch_debug: bool = False):
        elf = _ElfHead(stream)
        self.name = name
        self.build_id = None
        self.segments = []          # (p_offset, p_filesz, p_vaddr)
        for p_type, p_offset, p_filesz, p_vaddr in _segments(elf, stream):
            if p_type == _PT_LOAD and p_filesz:
                self.segments.append((p_offset, p_filesz, p_vaddr))
            elif p_type == _PT_NOTE and self.build_id is None:
                stream.seek(p_offset)
                self.build_id = _notes_build_id(stream.read(min(p_filesz, 1 << 16)),
                                                elf.little_endian)
        self.segments.sort()
        sections = _sections(elf, stream)
        syms = _read_symbols(elf, stream, sections)
        self.debug_file = None
        self._debug_in = None       # (where, path) of the debug file read: where "r" (root) / "h"
        self.debug_looked = []      # [(where, path)] of the debug files looked for, in order
        self.debug_state = b""      # what they were when looked for (watch_debug: _debug_state)
        if not any(kind == _SHT_SYMTAB for kind, _ in syms):
            dbg = self._debug_symbols(elf, stream, sections, debug_root, root, directory,
                                      owners, watch_debug)
            if dbg:
                syms.extend(dbg)
        best = {}
        for _, table in syms:
            for s in table:
                cur = best.get(s[0])
                if cur is None or cur != s and _better(s, cur):    # .dynsym repeats .symtab
                    best[s[0]] = s
        order = sorted(best)
        self._set_table(order, [best[a][1] for a in order], [best[a][2] for a in order])

    def _set_table(self, starts, sizes, names):
        from array import array
        self.starts = array("Q", starts)
        self.sizes = array("Q", sizes)
        offsets = array("Q", [0])
        total = 0
        for n in names:
            total += len(n)
            offsets.append(total)
        self._offsets = offsets
        self._blob = b"".join(names)
        self._names = None

    def _raw_name(self, i: int) -> bytes:
        return self._blob[self._offsets[i]:self._offsets[i + 1]]

    @property
    def names(self) -> list:
        """Every function's name, as safe text."""
        if self._names is None:
            self._names = [untrusted.text(self._raw_name(i)) for i in range(len(self.starts))]
        return self._names

    def __len__(self):
        return len(self.starts)

    def vaddr(self, file_offset: int):
        """ELF virtual address of a file offset, through the PT_LOAD headers."""
        for off, size, vaddr in self.segments:
            if off <= file_offset < off + size:
                return file_offset - off + vaddr
        return None

    def lookup(self, vaddr: int):
        """(name, offset) of the function containing vaddr, or None."""
        i = bisect.bisect_right(self.starts, vaddr) - 1
        starts, sizes = self.starts, self.sizes
        for j in range(i, max(i - 8, -1), -1):
            size = sizes[j]
            if vaddr < starts[j] + size or (size == 0 and j == i):
                return untrusted.text(self._raw_name(j)), vaddr - starts[j]
        return None

    def _debug_symbols(self, elf, stream, sections, debug_root, root, directory, owners,
                       watch_debug):
        """Symbols of the separate debug file, if one is installed (inside the
        process's root first; owned by root or the process's user).  With
        watch_debug, what each candidate file was before any is read
        (_debug_state), for the cache to tell later whether they changed."""
        by_name = {sec.name: sec for sec in sections}
        cands = _debug_candidates(self.build_id, by_name.get(".gnu_debuglink"), stream,
                                  elf.little_endian, directory, debug_root)
        self.debug_looked = [(w, p) for p, _crc in cands for w in (["r", "h"] if root else ["h"])]
        if watch_debug:
            self.debug_state = _debug_state(self.debug_looked, root, owners)
        for full, where, path, f in _open_debug_files(cands, root, owners):
            try:
                syms = _read_symbols(_ElfHead(f), f)
            except _elf_errors():
                continue
            finally:
                f.close()
            if syms:
                self.debug_file = full
                self._debug_in = (where, path)
                return syms
        mini = by_name.get(".gnu_debugdata")
        if mini is not None:           # MiniDebugInfo: an xz-compressed ELF with a .symtab
            import io
            import lzma
            try:
                dec = lzma.LZMADecompressor()
                data = dec.decompress(mini.data(stream), max_length=MINIDEBUG_MAX)
                if not dec.eof:         # bigger than any real one: a decompression bomb
                    return None
                img = io.BytesIO(data)
                syms = _read_symbols(_ElfHead(img), img)
                if syms:
                    self.debug_file = "(.gnu_debugdata)"
                    self._debug_in = ("m", "")
                    return syms
            except (lzma.LZMAError,) + _elf_errors():
                pass
        return None


def _debug_candidates(build_id, debuglink, stream, little_endian: bool, directory: str,
                      debug_root: str):
    """[(path, CRC or None)] where a separate debug file of an ELF file may
    be, in the order they are tried (debug_files())."""
    cands = []
    if build_id and debug_root:
        cands.append((f"{debug_root}/.build-id/{build_id[:2]}/{build_id[2:]}.debug", None))
    if debuglink is not None:
        data = debuglink.data(stream)
        link = data.split(b"\0", 1)[0].decode("utf-8", "replace")
        crc_at = (len(link) + 1 + 3) & ~3
        crc = struct.unpack_from("<I" if little_endian else ">I", data, crc_at)[0] \
            if len(data) >= crc_at + 4 else None
        if link and "/" not in link:
            dirs = [directory, f"{directory}/.debug"]
            if debug_root:
                dirs.append(debug_root + directory)
            cands.extend((f"{d}/{link}", crc) for d in dirs)
    return cands


def debug_files(build_id, debuglink, stream, little_endian: bool, directory: str,
                debug_root: str = DEBUG_ROOT, root: str = "", owners=None):
    """Yield (path, open file) for each separate debug file of an ELF file
    that exists: /usr/lib/debug/.build-id/xx/yyyy.debug, then the
    .gnu_debuglink name (debuglink: its section) in the file's directory,
    its .debug/ and debug_root + directory, the link's CRC checked.  root:
    the process's root (/proc/PID/root), looked in first (paths resolved
    inside it).  A debug file may be planted by the process's user: opened
    by corebpf.core.untrusted's rule, a regular file owned by one of
    `owners` (None: anyone).  The caller closes each file it is given."""
    cands = _debug_candidates(build_id, debuglink, stream, little_endian, directory, debug_root)
    for full, _where, _path, f in _open_debug_files(cands, root, owners):
        yield full, f


def _open_debug_files(cands, root: str, owners):
    """debug_files() of candidates `cands`: (full path, "r" inside the
    process's root or "h" on ours, path, open file)."""
    for path, crc in cands:
        for where in ([root, None] if root else [None]):
            full = (where or "") + path
            try:
                f = untrusted.open_file(path, root=where, follow=True, owners=owners)
            except untrusted.Refused as e:
                untrusted.note(f"{e}: debug file skipped")
                continue
            except OSError:
                continue
            try:
                if crc is not None and _crc32(f) != crc:
                    f.close()
                    continue
                f.seek(0)
            except OSError:
                f.close()
                continue
            yield full, "r" if where else "h", path, f


def _identity(st) -> bytes:
    """What stands for a file's content: device, inode, size, modification
    and change times (the change time no owner can set back)."""
    return b"%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _debug_state(looked, root: str, owners) -> bytes:
    """What the debug files in `looked` ([(where, path)]) are now, each as
    debug_files() would open it: its _identity, refused, or missing.  The
    same state means the same debug file would be chosen and read."""
    out = []
    for where, path in looked:
        try:
            f = untrusted.open_file(path, root=root if where == "r" else None, follow=True,
                                    owners=owners)
        except untrusted.Refused:
            out.append(b"refused")
            continue
        except OSError:
            out.append(b"-")
            continue
        with f:
            out.append(_identity(os.fstat(f.fileno())))
    return b"\n".join(out)


def _crc32(f) -> int:
    import zlib
    crc = 0
    while True:
        b = f.read(1 << 20)
        if not b:
            return crc & 0xFFFFFFFF
        crc = zlib.crc32(b, crc)


_PT_LOAD, _PT_NOTE = 1, 4


def _segments(elf, stream) -> list:
    """[(p_type, p_offset, p_filesz, p_vaddr)] of the program headers,
    unpacked with struct: pyelftools' iter_segments() builds the dynamic
    segment, which parses every section and the hash tables entry by entry
    (0.7 s for the nine binaries of one offcputime report)."""
    h = elf.header
    n = h.e_phnum
    if not n or not h.e_phoff:
        return []
    e = "<" if elf.little_endian else ">"
    if elf.elfclass == 64:
        fmt, pick = e + "IIQQQQQQ", (0, 2, 5, 3)
    else:
        fmt, pick = e + "IIIIIIII", (0, 1, 4, 2)
    size = struct.calcsize(fmt)
    if h.e_phentsize < size:
        return []
    stream.seek(h.e_phoff)
    raw = stream.read(h.e_phentsize * n)
    out = []
    for i in range(min(n, len(raw) // h.e_phentsize)):
        t = struct.unpack_from(fmt, raw, i * h.e_phentsize)
        out.append(tuple(t[j] for j in pick))
    return out


def _notes_build_id(data: bytes, little: bool = True):
    """The GNU build id (hex) in a PT_NOTE segment's bytes, or None."""
    e = "<" if little else ">"
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, typ = struct.unpack_from(e + "III", data, pos)
        name_end = pos + 12 + ((namesz + 3) & ~3)
        desc_end = name_end + descsz
        if desc_end > len(data):
            return None
        if typ == 3 and data[pos + 12:pos + 12 + namesz] == b"GNU\0":
            return data[name_end:desc_end].hex()
        pos = name_end + ((descsz + 3) & ~3)
    return None


def _elf_errors() -> tuple:
    """What reading a damaged or non-ELF file can raise (_ElfHead and struct;
    pyelftools' errors once something imported it)."""
    import sys
    errs = (OSError, ValueError, struct.error, EOFError)
    if "elftools.construct" in sys.modules and "elftools.common.exceptions" in sys.modules:
        errs += (sys.modules["elftools.common.exceptions"].ELFError,
                 sys.modules["elftools.construct"].ConstructError)
    return errs


class _NotElf(ValueError):
    pass


class _ElfHead:
    """The ELF file header, unpacked with struct: what the symbol reader
    needs of pyelftools' ELFFile (importing pyelftools costs 50-140 ms here,
    paid by every stack tool's first report).  Extended numbering as the
    ELF spec has it: e_shnum 0 -> section 0's sh_size, e_shstrndx SHN_XINDEX
    -> section 0's sh_link."""

    def __init__(self, stream):
        stream.seek(0)
        ident = stream.read(64)
        if len(ident) < 52 or ident[:4] != b"\x7fELF":
            raise _NotElf("not an ELF file")
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise _NotElf("bad ELF class or data encoding")
        self.elfclass = 64 if ident[4] == 2 else 32
        self.little_endian = ident[5] == 1
        e = "<" if self.little_endian else ">"
        if self.elfclass == 64:
            (self.e_phoff, self.e_shoff, _flags, _ehsize, self.e_phentsize, self.e_phnum,
             self.e_shentsize, self.e_shnum, self.e_shstrndx) = \
                struct.unpack_from(e + "QQIHHHHHH", ident, 32)
        else:
            (self.e_phoff, self.e_shoff, _flags, _ehsize, self.e_phentsize, self.e_phnum,
             self.e_shentsize, self.e_shnum, self.e_shstrndx) = \
                struct.unpack_from(e + "IIIHHHHHH", ident, 28)
        self.header = self
        self._stream = stream
        self._sec0 = None

    def _section0(self):
        """(sh_size, sh_link) of section 0, (0, 0) if unreadable."""
        if self._sec0 is None:
            self._sec0 = (0, 0)
            if self.e_shoff:
                self._stream.seek(self.e_shoff)
                raw = self._stream.read(64 if self.elfclass == 64 else 40)
                e = "<" if self.little_endian else ">"
                fmt = e + ("IIQQQQI" if self.elfclass == 64 else "IIIIIII")
                if len(raw) >= struct.calcsize(fmt):
                    t = struct.unpack_from(fmt, raw, 0)
                    self._sec0 = (t[5], t[6])
        return self._sec0

    def num_sections(self) -> int:
        if self.e_shoff == 0:
            return 0
        return self.e_shnum or self._section0()[0]

    def get_shstrndx(self) -> int:
        return self._section0()[1] if self.e_shstrndx == 0xFFFF else self.e_shstrndx


_SHT_SYMTAB, _SHT_NOBITS, _SHT_DYNSYM = 2, 8, 11


class _Section:
    __slots__ = ("name", "type", "offset", "size", "link")

    def __init__(self, name, type_, offset, size, link):
        self.name, self.type, self.offset, self.size, self.link = name, type_, offset, size, link

    def data(self, stream) -> bytes:
        if self.type == _SHT_NOBITS:
            return b""
        stream.seek(self.offset)
        return stream.read(min(self.size, SECTION_MAX))


def _sections(elf, stream) -> list:
    """The section headers, unpacked with struct: pyelftools' Section objects
    parse hash tables and more on creation (~0.1 s for a debug file)."""
    n = elf.num_sections()
    h = elf.header
    if not n or not h.e_shoff:
        return []
    e = "<" if elf.little_endian else ">"
    fmt = e + ("IIQQQQIIQQ" if elf.elfclass == 64 else "IIIIIIIIII")
    stream.seek(h.e_shoff)
    raw = stream.read(h.e_shentsize * n)
    heads = []
    for i in range(n):
        if (i + 1) * h.e_shentsize > len(raw):
            break
        name, type_, _, _, offset, sz, link = struct.unpack_from(fmt, raw, i * h.e_shentsize)[:7]
        heads.append(_Section(name, type_, offset, sz, link))
    shstr = elf.get_shstrndx()
    names = heads[shstr].data(stream) if shstr < len(heads) else b""
    for sec in heads:
        end = names.find(b"\0", sec.name)
        sec.name = names[sec.name:end].decode("utf-8", "replace") if end >= 0 else ""
    return heads


def _read_symbols(elf, stream, sections=None) -> list:
    """[(section type, [(start, size, name bytes, bind)])] for .symtab and
    .dynsym function symbols (entries unpacked with struct: pyelftools is slow
    per symbol; names are made safe text only when looked up: a report looks
    up a few hundred of a file's thousands)."""
    out = []
    endian = "<" if elf.little_endian else ">"
    wide = elf.elfclass == 64
    fmt, esize = (endian + "IBBHQQ", 24) if wide else (endian + "IIIBBH", 16)
    funcs = (_STT_FUNC, _STT_GNU_IFUNC)
    if sections is None:
        sections = _sections(elf, stream)
    for sec in sections:
        kind = sec.type
        if kind not in (_SHT_SYMTAB, _SHT_DYNSYM) or sec.link >= len(sections):
            continue
        strsec = sections[sec.link]
        if strsec.type == _SHT_NOBITS or sec.size == 0:
            continue
        raw = sec.data(stream)
        strtab = strsec.data(stream)
        table = []
        ents = struct.iter_unpack(fmt, raw[:len(raw) - len(raw) % esize])
        # function entries first (one pass, no per-entry generator), then names
        if wide:
            kept = [(n, i, v, sz) for n, i, _o, sh, v, sz in ents
                    if (i & 0xF) in funcs and sh and v]
        else:
            kept = [(n, i, v, sz) for n, v, sz, i, _o, sh in ents
                    if (i & 0xF) in funcs and sh and v]
        find = strtab.find
        for st_name, info, value, size in kept:
            end = find(b"\0", st_name)
            name = strtab[st_name:end if end >= 0 else None]
            if name:            # raw bytes: made safe text when looked up
                table.append((value, size, name, info >> 4))
        if table:
            out.append((kind, table))
    return out


_ELF_CACHE = {}


class _TableCache:
    """ElfSymbols kept per file in corebpf.core.kcache's directory (root):
    a stack tool's report read and sorted the symbol tables of every binary
    in its user stacks at each run (python, libc and their debug files,
    qemu's: 60-240 ms of its exit here); a cached table loads in well under
    a millisecond per file.

    Key: the file's _identity (device, inode, size, mtime, ctime: what
    stands for its content; the build id alone does not tell a stripped
    binary from its unstripped twin), the debug root, its directory (where
    a .gnu_debuglink is looked for), whether a process root is searched and
    the owners a debug file may have: what decides which debug file is
    read.  The debug files looked for and what they were (_debug_state) are
    in the entry, and looked at again on load: one installed, removed or
    changed since makes the entry stale (rebuilt and replaced).  kcache
    verifies the rest (CRC, owner, mode, no symlink); entries past
    MAX_BYTES in all are evicted, least recently used first.

    Payload: counts (<QQQQ: symbols, segments, meta bytes, name bytes), the
    segments (<QQQ each), the meta strings (<I length + bytes each: build
    id, debug file's where and path, debug state, then each file looked
    for), then starts, sizes (<Q each), name offsets (n + 1, <Q) and the
    names: the arrays are loaded as arrays, names decoded only on lookup."""

    PREFIX = "syms-"
    MAX_BYTES = 64 << 20        # all entries together (an entry is a few KB to a few MB)
    ENTRY_MAX = 16 << 20        # one entry (a bigger table is read from its file each run)
    _HEAD = struct.Struct("<QQQQ")
    _SEG = struct.Struct("<QQQ")
    _LEN = struct.Struct("<I")
    _total = None               # bytes of all entries at this process's last look, + its own since

    @staticmethod
    def on() -> bool:
        from array import array
        from ..core import kcache
        return kcache.enabled() and array("Q").itemsize == 8 and \
            struct.pack("=Q", 1) == struct.pack("<Q", 1)

    @classmethod
    def _key(cls, st, debug_root: str, directory: str, root: str, owners):
        key = b"elf symbols 1|%s|%s\0%s\0%s|owners %s" % (
            _identity(st), os.fsencode(debug_root), os.fsencode(directory),
            b"root" if root else b"", b"any" if owners is None else
            b",".join(b"%d" % u for u in sorted(owners)))
        import zlib             # kcache's CRC (hashlib: 10+ ms to import); the key is checked
        return cls.PREFIX + "%08x%08x" % (zlib.crc32(key), zlib.adler32(key)), key

    @classmethod
    def load(cls, st, name: str, debug_root: str, directory: str, root: str, owners):
        """The ElfSymbols cached for this file, or None (missing, stale, unsafe)."""
        from array import array
        from ..core import kcache
        entry, key = cls._key(st, debug_root, directory, root, owners)
        payload = kcache.load(entry, key)
        if not payload:
            return None
        try:
            n, nseg, mlen, blen = cls._HEAD.unpack_from(payload)
            pos = cls._HEAD.size
            arrays = pos + nseg * cls._SEG.size + mlen
            if len(payload) != arrays + 8 * (3 * n + 1) + blen:
                return None
            segments = [cls._SEG.unpack_from(payload, pos + i * cls._SEG.size)
                        for i in range(nseg)]
            meta = cls._strings(payload[pos + nseg * cls._SEG.size:arrays])
            if meta is None or len(meta) < 4 or len(meta[1]) > 1:
                return None
            build_id, where, dpath, state = meta[:4]
            looked = [(os.fsdecode(s[:1]), os.fsdecode(s[1:])) for s in meta[4:]]
            if looked and _debug_state(looked, root, owners) != state:
                return None         # a debug file installed, removed or changed since
            es = ElfSymbols.__new__(ElfSymbols)
            es.starts = array("Q", payload[arrays:arrays + 8 * n])
            es.sizes = array("Q", payload[arrays + 8 * n:arrays + 16 * n])
            es._offsets = array("Q", payload[arrays + 16 * n:arrays + 24 * n + 8])
            es._blob = payload[arrays + 24 * n + 8:]
        except (struct.error, ValueError):
            return None
        if es._offsets[0] != 0 or es._offsets[-1] != blen:
            return None
        es._names = None
        es.name = name
        es.segments = segments
        es.build_id = build_id.decode("ascii", "replace") or None
        es.debug_looked = looked
        es.debug_state = state
        where = where.decode("ascii", "replace")
        dpath = os.fsdecode(dpath)
        es._debug_in = (where, dpath) if where else None
        es.debug_file = None if not where else "(.gnu_debugdata)" if where == "m" else \
            (root if where == "r" else "") + dpath
        kcache.touch(entry)
        return es

    @classmethod
    def _strings(cls, data: bytes):
        """The length-prefixed strings of `data`, or None if they do not fill it exactly."""
        out = []
        pos = 0
        while pos < len(data):
            if pos + 4 > len(data):
                return None
            size, = cls._LEN.unpack_from(data, pos)
            pos += 4
            if pos + size > len(data):
                return None
            out.append(data[pos:pos + size])
            pos += size
        return out

    @classmethod
    def store(cls, st, es, debug_root: str, directory: str, root: str, owners):
        """Keep ElfSymbols `es` of the file whose fstat was `st` (nothing
        when the cache is off, its directory unsafe, or the entry too big)."""
        from ..core import kcache
        entry, key = cls._key(st, debug_root, directory, root, owners)
        where, dpath = es._debug_in or ("", "")
        meta = [(es.build_id or "").encode("ascii", "replace"), where.encode(),
                os.fsencode(dpath), es.debug_state] + \
            [os.fsencode(w + p) for w, p in es.debug_looked]
        n = len(es.starts)
        parts = [cls._HEAD.pack(n, len(es.segments), sum(4 + len(m) for m in meta),
                                len(es._blob))]
        parts += [cls._SEG.pack(*seg) for seg in es.segments]
        for m in meta:
            parts += [cls._LEN.pack(len(m)), m]
        parts += [es.starts.tobytes(), es.sizes.tobytes(), es._offsets.tobytes(), es._blob]
        payload = b"".join(parts)
        if len(payload) > cls.ENTRY_MAX:
            return
        if kcache.store(entry, key, payload):
            # the directory is looked at (and trimmed) at the first store and
            # when this process's own entries may have filled it: a report
            # storing a dozen tables scanned it a dozen times
            if cls._total is None or cls._total + len(payload) > cls.MAX_BYTES:
                cls._total = kcache.evict(cls.PREFIX, cls.MAX_BYTES, keep=entry)
            else:
                cls._total += len(payload)


def elf_symbols(path: str, debug_root: str = DEBUG_ROOT, root: str = "",
                display_path: str = None, f=None, owners=None):
    """Cached ElfSymbols of the file at `path` (None if it is not a readable
    regular file in ELF format).

    root: the process's root (/proc/PID/root) where debug files are looked
    up first; display_path: the path as the process sees it (for debuglink);
    f: the file, already opened (corebpf.core.untrusted) by the caller;
    owners: uids a debug file may belong to (None: any).  Kept for the
    process, and (root, COREBPF_CACHE not off) across runs: _TableCache.
    """
    if f is None:
        try:
            with untrusted.open_regular(path) as f:
                return elf_symbols(path, debug_root, root, display_path, f, owners)
        except OSError:
            return None
    st = os.fstat(f.fileno())
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, debug_root)
    if key in _ELF_CACHE:
        return _ELF_CACHE[key]
    shown = display_path or path
    directory = os.path.dirname(shown)
    keep = _TableCache.on()
    es = _TableCache.load(st, shown, debug_root, directory, root, owners) if keep else None
    if es is None:
        try:
            es = ElfSymbols(f, shown, debug_root, root, directory, owners, watch_debug=keep)
        except _elf_errors():           # not an ELF file we can read: no symbols
            es = None
        else:
            # stored only if the file did not change while it was read
            if keep and _identity(os.fstat(f.fileno())) == _identity(st):
                _TableCache.store(st, es, debug_root, directory, root, owners)
    _ELF_CACHE[key] = es
    return es


def _image_symbols(data: bytes, name: str):
    """Cached ElfSymbols of an in-memory image (the vDSO)."""
    import io
    key = ("image", data)       # compared only on a hash match (hashlib: 10+ ms to import)
    if key not in _ELF_CACHE:
        try:
            _ELF_CACHE[key] = ElfSymbols(io.BytesIO(data), name, debug_root="")
        except _elf_errors():
            _ELF_CACHE[key] = None
    return _ELF_CACHE[key]


# -- perf maps (JIT) -------------------------------------------------------------------

class PerfMap:
    """/tmp/perf-PID.map: `START SIZE name` lines (hex) written by JIT runtimes;
    re-read when the file changes.

    The file is the traced process's user's: perf's rule applies (a regular
    file, not a symlink, owned by root or that user: `owners`; at most
    PERF_MAP_MAX bytes read); `root` is the process's root directory when
    the path is inside it."""

    def __init__(self, path: str, root: str = None, owners=None):
        self.rel = path
        self.root = root
        self.path = (root or "") + path
        self.owners = owners
        self._stamp = None
        self._checked = None        # (monotonic time, result) of the last check
        self.starts, self.ends, self.names = [], [], []

    def _refresh(self) -> bool:
        """Re-read the file if it changed; looked at most every PERF_MAP_RECHECK
        seconds (a report resolving thousands of addresses at exit opened it
        twice for each unresolved one)."""
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < PERF_MAP_RECHECK:
            return self._checked[1]
        ok = self._reread()
        self._checked = (now, ok)
        return ok

    def _reread(self) -> bool:
        try:
            f = untrusted.open_file(self.rel, root=self.root, owners=self.owners)
        except untrusted.Refused as e:
            untrusted.note(f"{e}: JIT symbols not read")
            return self._stamp is not None
        except OSError:
            return self._stamp is not None      # gone with its process: keep what was read
        with f:
            st = os.fstat(f.fileno())
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp == self._stamp:
                return True
            try:
                data = untrusted.read_capped(f, PERF_MAP_MAX)
            except OSError:
                return False
        if st.st_size > PERF_MAP_MAX:
            untrusted.note(f"{self.path}: only the first {PERF_MAP_MAX >> 20} MiB read")
        rows = []
        for line in data.splitlines():
            parts = line.split(None, 2)
            if len(parts) < 3:
                continue
            try:
                start, size = int(parts[0], 16), int(parts[1], 16)
            except ValueError:
                continue
            rows.append((start, start + size, untrusted.text(parts[2].strip())))
        rows.sort()
        self.starts = [r[0] for r in rows]
        self.ends = [r[1] for r in rows]
        self.names = [r[2] for r in rows]
        self._stamp = stamp
        return True

    def lookup(self, addr: int):
        """(name, offset) of the entry containing addr, or None."""
        if not self._refresh():
            return None
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.ends[i]:
            return self.names[i], addr - self.starts[i]
        return None


# -- processes ---------------------------------------------------------------------------

class _Mapping:
    __slots__ = ("start", "end", "offset", "inode", "path", "syms", "loaded", "cfi", "bias")

    def __init__(self, start, end, offset, inode, path):
        self.start, self.end, self.offset, self.inode, self.path = start, end, offset, inode, path
        self.syms = None
        self.loaded = False
        self.cfi = None             # corebpf.symbols.unwind's CFI of the file, once looked up
        self.bias = None


class ProcessSymbols:
    """Resolve user addresses of one process (bcc's BPF.sym(addr, pid)).

    /proc/PID/maps is read on the first lookup and kept, so the resolver
    keeps working after the process exits.  `refresh()` re-reads it.
    """

    def __init__(self, pid: int, debug_root: str = DEBUG_ROOT, demangle: bool = True):
        self.pid = pid
        self.debug_root = debug_root
        self.demangle = demangle
        self._perf_maps = None
        self._owner_uids = None
        self._maps = None
        self._starts = []
        self._memo = {}
        self._reread = 0.0
        self.exited = False

    def refresh(self):
        """Re-read the mappings (after dlopen, exec...)."""
        self._maps = None
        self._memo.clear()

    def _load_maps(self):
        maps = []
        try:
            with open(f"/proc/{self.pid}/maps", "rb") as f:
                text = f.read()
        except OSError:
            text = b""
            self.exited = True
        for line in text.splitlines():
            parts = line.split(None, 5)
            if len(parts) < 5 or b"x" not in parts[1]:
                continue
            lo, _, hi = parts[0].partition(b"-")
            path = os.fsdecode(parts[5].strip()) if len(parts) > 5 else ""
            if path and not path.startswith("/") and path != "[vdso]":
                continue            # [stack], [heap], [vsyscall], anon: perf map only
            maps.append(_Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16), int(parts[4]),
                                 path))
        maps.sort(key=lambda m: m.start)
        self._maps = maps
        self._starts = [m.start for m in maps]

    def _mapping(self, addr: int):
        if self._maps is None:
            self._load_maps()
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._maps[i].end:
            return self._maps[i]
        return None

    def mapping(self, addr: int):
        """The executable mapping holding addr (start, end, offset, path...), or None.
        An address outside every mapping read so far re-reads them (a library
        loaded since), at most once a second."""
        m = self._mapping(addr)
        if m is None and not self.exited:
            import time
            now = time.monotonic()
            if now - self._reread > 1.0:
                self._reread = now
                self._maps = None
                m = self._mapping(addr)
        return m

    def files(self, m: _Mapping):
        """Yield (path to open, path as the process sees it, the process's root
        or "") for each place the file behind mapping m can be read from: the
        mapped file itself (map_files), else the path inside the process's
        root, else on ours, each a regular file with the mapped inode (the
        process's user may have swapped the path for a FIFO or another file:
        corebpf.core.untrusted).  Open it with untrusted.open_regular(path,
        m.inode), which checks the inode again."""
        path = m.path
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[:-len(" (deleted)")]
        root = f"/proc/{self.pid}/root"
        inode = m.inode or None
        cands = [(None, f"/proc/{self.pid}/map_files/{m.start:x}-{m.end:x}"), (root, path)]
        if not deleted:
            cands.append(("", path))
        droot = root if os.path.isdir(root) else ""
        for where, cand in cands:
            try:
                f = untrusted.open_regular(cand, inode) if where is None else \
                    untrusted.open_file(cand, root=where or None, follow=True, inode=inode)
            except untrusted.Refused as e:
                untrusted.note(f"{e}: not read")
                continue
            except OSError:
                continue
            f.close()
            yield (cand if where is None else (where or "") + cand), path, droot

    def _symbols(self, m: _Mapping):
        if m.loaded:
            return m.syms
        m.loaded = True
        if m.path == "[vdso]":
            m.syms = self._vdso(m)
            return m.syms
        if not m.path:
            return None
        inode = m.inode or None
        for cand, path, root in self.files(m):
            try:
                f = untrusted.open_regular(cand, inode)     # the checked file, not a swap
            except OSError:
                continue
            with f:
                m.syms = elf_symbols(cand, self.debug_root, root, display_path=path, f=f,
                                     owners=self.owners())
            if m.syms is not None:
                break
        return m.syms

    def owners(self) -> set:
        """Who may own the files read for this process: root and its user."""
        if self._owner_uids is None:
            uid = untrusted.process_uid(self.pid)
            self._owner_uids = {0} if uid is None else {0, uid}
        return self._owner_uids

    def _vdso(self, m: _Mapping):
        data = self.vdso_image(m)
        return _image_symbols(data, "[vdso]") if data else None

    def vdso_image(self, m: _Mapping):
        """The bytes of the vDSO mapping m (this process's own copy when the
        target's memory cannot be read: the kernel maps one image in all)."""
        for pid in (self.pid, "self"):
            try:
                with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
                    if pid == "self":
                        start, end = _own_vdso()
                    else:
                        start, end = m.start, m.end
                    if not start:
                        continue
                    f.seek(start)
                    return f.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
        return None

    def resolve(self, addr: int):
        """(name, offset, module) for a user address; name None if unknown
        (module is then the containing file, if any)."""
        hit = self._memo.get(addr)
        if hit is not None:
            return hit
        m = self._mapping(addr)
        res = None
        module = None
        if m is not None:
            module = m.path or None
            es = self._symbols(m)
            if es is not None:
                off = addr - m.start + m.offset if m.path != "[vdso]" else addr - m.start
                va = es.vaddr(off)
                found = es.lookup(va) if va is not None else None
                if found:
                    res = (found[0], found[1], module)
        if res is None:
            for pm in self.perf_maps():
                found = pm.lookup(addr)
                if found:
                    res = (found[0], found[1], pm.path)
                    break
            else:
                res = (None, 0, module)
        if self.demangle and res[0] and res[0].startswith("_Z"):
            res = (_demangled(res[0]), res[1], res[2])
        self._memo[addr] = res
        return res

    def perf_maps(self) -> list:
        """The JIT symbol files that may exist for this process: the one its
        own runtime writes inside its mount namespace (named with its pid in
        its pid namespace), then /tmp/perf-PID.map."""
        if self._perf_maps is None:
            nspid = self.pid
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            nspid = int(line.split()[-1])
                            break
            except (OSError, ValueError):
                pass
            owners = self.owners()
            self._perf_maps = [PerfMap(f"/tmp/perf-{nspid}.map", f"/proc/{self.pid}/root", owners),
                               PerfMap(f"/tmp/perf-{self.pid}.map", None, owners)]
        return self._perf_maps

    def sym(self, addr: int, show_offset: bool = False, show_module: bool = False) -> str:
        """bcc's BPF.sym() for this process: the function of user address `addr`,
        +0xoff and/or ` [module]` on request, "[unknown]" if nothing maps it."""
        name, off, mod = self.resolve(addr)
        return format_symbol(name, off, mod, show_offset, show_module)


_DEMANGLED = {}


def _demangled(name: str) -> str:
    """A C++ name demangled (as bcc prints them), or unchanged."""
    d = _DEMANGLED.get(name)
    if d is None:
        from ..core._libbpf import cxa_demangle
        d = _DEMANGLED[name] = cxa_demangle(name) or name
    return d


def _own_vdso():
    try:
        with open("/proc/self/maps", "rb") as f:
            for line in f:
                if line.rstrip().endswith(b"[vdso]"):
                    lo, _, hi = line.split()[0].partition(b"-")
                    return int(lo, 16), int(hi, 16)
    except OSError:
        pass
    return 0, 0


class SymbolCache:
    """Kernel and per-process resolvers for one report (bcc's ksym/sym).

    Keep one SymbolCache while printing a set of stacks: each PID's mappings
    are read once, at its first user address.
    """

    def __init__(self, kernel: KernelSymbols = None, debug_root: str = DEBUG_ROOT):
        self.kernel = kernel or kernel_symbols()
        self.debug_root = debug_root
        self._procs = {}

    def process(self, pid: int) -> ProcessSymbols:
        """The ProcessSymbols of `pid` (its mappings read at the first lookup)."""
        p = self._procs.get(pid)
        if p is None:
            p = self._procs[pid] = ProcessSymbols(pid, self.debug_root)
        return p

    def ksym(self, addr: int, show_offset: bool = False, show_module: bool = False) -> str:
        """A kernel address, as corebpf.ksym()."""
        return self.kernel.sym(addr, show_offset, show_module)

    def sym(self, addr: int, pid: int, show_offset: bool = False,
            show_module: bool = False) -> str:
        """A user address of process `pid` (a kernel address if pid < 0)."""
        if pid < 0:
            return self.kernel.sym(addr, show_offset, show_module)
        return self.process(pid).sym(addr, show_offset, show_module)
