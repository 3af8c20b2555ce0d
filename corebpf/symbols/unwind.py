"""DWARF unwinding of user stacks dumped by the BPF side (bpf_src/ustack.bpf.h).

Code built without frame pointers (Debian's python3, libc's callers, any -O2
C program) cannot be walked by the kernel's frame-pointer unwinder.  Like
perf's `--call-graph dwarf`, the BPF program copies the user registers and the
top of the user stack at the event; here each frame's return address and
caller registers are computed from the Call Frame Information of the file
the code belongs to: `.eh_frame` (found through `.eh_frame_hdr`'s sorted
table, so one lookup parses one FDE, not the whole section), else
`.debug_frame` in the file or in its separate debug file (build-id /
debuglink, as the symbolizer finds them).

    uw = Unwinder(SymbolCache())
    addrs = uw.unwind(pid, record.ustack.regs, record.ustack.data)   # innermost first

CFI is parsed with pyelftools, one FDE at a time, and cached per file
(device, inode, size, mtime) for the Python process; decoded rows are cached
per instruction address, so a warm unwind is a few dictionary lookups and
unpacks per frame.  Where no CFI covers an address (JIT code, a file that
cannot be read), the walk tries the frame pointer chain.

The register set is per architecture, in ARCHES (the BPF side's
USTACK_NREGS): which pt_regs slot holds each DWARF register.
"""
from __future__ import annotations

import bisect
import io
import os
import struct

from ..core import untrusted
from .syms import SymbolCache, _sections, debug_files

FILE_MAX = 2 << 30      # bytes of a file (or debug file) read for its CFI

MAX_FRAMES = 127


_PT_GNU_EH_FRAME = 0x6474E550


class Arch:
    """One architecture's user registers: DWARF number -> index in the dump."""

    def __init__(self, name, nregs, dwarf_to_slot, ip_slot, sp, ra, fp, ra_mask=None):
        self.name = name
        self.nregs = nregs
        self.dwarf_to_slot = dwarf_to_slot
        self.ip_slot = ip_slot
        self.sp = sp                # DWARF number of the stack pointer
        self.ra = ra                # CFI column of the return address
        self.fp = fp                # DWARF number of the frame pointer
        self.ra_mask = ra_mask      # strip pointer-authentication bits (arm64)


# x86_64 struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di
# orig_ax ip cs flags sp ss.  DWARF: 0 rax 1 rdx 2 rcx 3 rbx 4 rsi 5 rdi 6 rbp
# 7 rsp 8-15 r8-r15 16 return address (rip).
_X86 = Arch("x86_64", 21, {0: 10, 1: 12, 2: 11, 3: 5, 4: 13, 5: 14, 6: 4, 7: 19, 8: 9,
                           9: 8, 10: 7, 11: 6, 12: 3, 13: 2, 14: 1, 15: 0, 16: 16},
            ip_slot=16, sp=7, ra=16, fp=6)
# arm64 struct user_pt_regs: x0-x30, sp, pc, pstate.  DWARF: 0-30 x0-x30, 31 sp;
# the return address column is x30 (lr); return addresses may carry
# pointer-authentication bits above the 48-bit virtual address.
_ARM64 = Arch("aarch64", 34, {**{i: i for i in range(31)}, 31: 31},
              ip_slot=32, sp=31, ra=30, fp=29, ra_mask=(1 << 48) - 1)
ARCHES = {"x86_64": _X86, "aarch64": _ARM64}


def host_arch() -> Arch:
    return ARCHES.get(os.uname().machine, _X86)


# rule kinds of a compiled CFI row
_OFFSET, _VAL_OFFSET, _REGISTER, _SAME, _UNDEF, _EXPR, _VAL_EXPR = range(7)
_KINDS = {"OFFSET": _OFFSET, "VAL_OFFSET": _VAL_OFFSET, "REGISTER": _REGISTER,
          "SAME_VALUE": _SAME, "UNDEFINED": _UNDEF, "EXPRESSION": _EXPR,
          "VAL_EXPRESSION": _VAL_EXPR}

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class CfiError(ValueError):
    pass


def _read_encoded(data: bytes, pos: int, enc: int, vaddr: int):
    """(value, new pos) of a DW_EH_PE-encoded pointer at data[pos]; vaddr is
    data's virtual address (pcrel)."""
    fmt = enc & 0x0F
    sizes = {0x00: "<Q", 0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i",
             0x0C: "<q"}
    if fmt not in sizes:
        raise CfiError(f"pointer encoding {enc:#x}")
    v = struct.unpack_from(sizes[fmt], data, pos)[0]
    app = enc & 0x70
    if app == 0x10:
        v += vaddr + pos
    elif app not in (0x00, 0x30):      # datarel is resolved by the caller
        raise CfiError(f"pointer encoding {enc:#x}")
    return v & 0xFFFFFFFFFFFFFFFF, pos + struct.calcsize(sizes[fmt])


class FileCfi:
    """The CFI of one ELF file (or in-memory image): find the row for an address."""

    def __init__(self, stream, path: str = "", debug_root: str = "/usr/lib/debug",
                 root: str = "", directory: str = "", reopen=None, owners=None):
        """stream: the file, read during construction only; reopen: returns a
        new stream on the file for the .debug_frame fallback (default: stream)."""
        from elftools.elf.elffile import ELFFile
        elf = ELFFile(stream)
        self.path = path
        self.segments = []              # (p_offset, p_filesz, p_vaddr) of PT_LOAD
        hdr = None
        build_id = None
        from .syms import _PT_LOAD, _PT_NOTE, _notes_build_id, _segments
        for p_type, p_offset, p_filesz, p_vaddr in _segments(elf, stream):
            if p_type == _PT_LOAD and p_filesz:
                self.segments.append((p_offset, p_filesz, p_vaddr))
            elif p_type == _PT_GNU_EH_FRAME:
                hdr = (p_offset, p_filesz, p_vaddr)
            elif p_type == _PT_NOTE and build_id is None:
                stream.seek(p_offset)
                build_id = _notes_build_id(stream.read(min(p_filesz, 1 << 16)),
                                           elf.little_endian)
        self.segments.sort()
        self._elf_class = elf.elfclass
        self._little = elf.little_endian
        self._rows = {}                 # vaddr -> compiled row (or None)
        self._fdes = {}                 # FDE key -> (row starts, rows, end)
        self._eh = None                 # (starts, fde offsets, CallFrameInfo)
        self._ranges = None             # .debug_frame: (starts, ends, FDEs)
        if hdr is not None:
            try:
                self._eh = self._eh_index(stream, *hdr)
            except (CfiError, struct.error, ValueError, OSError):
                self._eh = None
        self._reopen = reopen or (lambda: stream)
        self._debug = (build_id, debug_root, root, directory)
        self._owners = owners           # who may own its debug files (None: anyone)

    # -- .eh_frame through .eh_frame_hdr ------------------------------------------------
    def _eh_index(self, stream, off, size, vaddr):
        stream.seek(off)
        data = stream.read(size)
        if len(data) < 4 or data[0] != 1:
            raise CfiError("no .eh_frame_hdr")
        ptr_enc, count_enc, table_enc = data[1], data[2], data[3]
        eh_vaddr, pos = _read_encoded(data, 4, ptr_enc, vaddr)
        if count_enc == 0xFF or table_enc != 0x3B:      # not the sorted datarel sdata4 table
            raise CfiError("no binary search table")
        count, pos = _read_encoded(data, pos, count_enc, vaddr)
        table = struct.unpack_from(f"<{2 * count}i", data, pos)
        starts = [vaddr + v for v in table[0::2]]
        fdes = [vaddr + v - eh_vaddr for v in table[1::2]]
        fileoff = self.file_offset(eh_vaddr)
        if fileoff is None:
            raise CfiError(".eh_frame outside the loaded segments")
        seg_end = next(o + s for o, s, v in self.segments if o <= fileoff < o + s)
        stream.seek(fileoff)
        eh = stream.read(seg_end - fileoff)
        from elftools.dwarf.callframe import CallFrameInfo
        from elftools.dwarf.structs import DWARFStructs
        structs = DWARFStructs(little_endian=self._little, dwarf_format=32,
                               address_size=self._elf_class // 8)
        cfi = CallFrameInfo(io.BytesIO(eh), len(eh), eh_vaddr, structs, for_eh_frame=True)
        return starts, fdes, cfi

    def file_offset(self, vaddr: int):
        for off, size, va in self.segments:
            if va <= vaddr < va + size:
                return vaddr - va + off
        return None

    def bias(self, file_offset: int):
        """vaddr - file offset for the segment holding file_offset (None: none)."""
        for off, size, va in self.segments:
            if off <= file_offset < off + size:
                return va - off
        return None

    def row(self, vaddr: int):
        """The compiled CFI row in force at vaddr, or None (no CFI covers it)."""
        try:
            return self._rows[vaddr]
        except KeyError:
            pass
        r = None
        try:
            r = self._find(vaddr)
        except Exception as e:          # noqa: BLE001  pyelftools on damaged CFI
            if not _damaged(e):
                raise
        if len(self._rows) > 200000:
            self._rows.clear()
        self._rows[vaddr] = r
        return r

    def _find(self, vaddr: int):
        fde = None
        if self._eh is not None:
            starts, offs, cfi = self._eh
            i = bisect.bisect_right(starts, vaddr) - 1
            if i >= 0:
                key = ("eh", offs[i])
                fde = self._fdes.get(key)
                if fde is None:
                    fde = self._fdes[key] = _compile(cfi._parse_entry_at(offs[i]))
        if fde is None or not fde[0] or not (fde[0][0] <= vaddr < fde[2]):
            fde = self._debug_frame_fde(vaddr)
        if fde is None:
            return None
        pcs, rows, end = fde
        if not pcs or not (pcs[0] <= vaddr < end):
            return None
        return rows[bisect.bisect_right(pcs, vaddr) - 1]

    # -- .debug_frame (the file's own, or its separate debug file's) ----------------------
    def _debug_frame_fde(self, vaddr: int):
        if self._ranges is None:
            self._ranges = self._load_debug_frame()
        starts, ends, entries = self._ranges
        i = bisect.bisect_right(starts, vaddr) - 1
        if i < 0 or vaddr >= ends[i]:
            return None
        key = ("debug", i)
        fde = self._fdes.get(key)
        if fde is None:
            fde = self._fdes[key] = _compile(entries[i])
        return fde

    def _load_debug_frame(self):
        try:
            stream = self._reopen()
        except OSError:
            return [], [], []
        found = _debug_frame_entries(stream)
        if found is None:
            build_id, debug_root, root, directory = self._debug
            from elftools.elf.elffile import ELFFile
            try:
                secs = {s.name: s for s in _sections(ELFFile(stream), stream)}
            except Exception as e:      # noqa: BLE001
                if not _damaged(e):
                    raise
                secs = {}
            for _path, f in debug_files(build_id, secs.get(".gnu_debuglink"), stream,
                                        self._little, directory, debug_root, root,
                                        self._owners):
                with f:
                    try:
                        found = _debug_frame_entries(
                            io.BytesIO(untrusted.read_capped(f, FILE_MAX)))
                    except OSError:
                        found = None
                if found is not None:
                    break
        fdes = sorted((e["initial_location"], e["initial_location"] + e["address_range"], e)
                      for e in found or () if getattr(e, "cie", None) is not None)
        return [a for a, _, _ in fdes], [b for _, b, _ in fdes], [e for _, _, e in fdes]


def _debug_frame_entries(stream):
    """pyelftools' entries of a file's .debug_frame, or None."""
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(stream)
        if elf.get_section_by_name(".debug_frame") is None:
            return None
        return elf.get_dwarf_info().CFI_entries()
    except Exception as e:              # noqa: BLE001
        if _damaged(e):
            return None
        raise


def _damaged(e) -> bool:
    from elftools.common.exceptions import DWARFError, ELFError
    from elftools.construct import ConstructError
    return isinstance(e, (DWARFError, ELFError, ConstructError, AssertionError, KeyError,
                          ValueError, IndexError, struct.error, EOFError, OSError))


def _compile(fde):
    """(row start addresses, rows, end) of one FDE.  A row is (cfa register or
    -1, cfa offset, cfa expression or None, ((register, kind, arg), ...))."""
    if getattr(fde, "cie", None) is None:
        return [], [], 0
    start = fde["initial_location"]
    end = start + fde["address_range"]
    pcs, rows = [], []
    for line in fde.get_decoded().table:
        cfa = line["cfa"]
        rules = []
        for reg, rule in line.items():
            if isinstance(reg, int):
                kind = _KINDS.get(rule.type)
                if kind is not None:
                    arg = rule.arg
                    if kind in (_EXPR, _VAL_EXPR):
                        arg = bytes(arg)
                    rules.append((reg, kind, arg))
        expr = bytes(cfa.expr) if cfa.expr is not None else None
        row = (cfa.reg if cfa.reg is not None else -1, cfa.offset or 0, expr, tuple(rules))
        if pcs and pcs[-1] == line["pc"]:
            rows[-1] = row
        else:
            pcs.append(line["pc"])
            rows.append(row)
    return pcs, rows, end


# -- DWARF expressions (what CFI uses: PLT entries, signal frames) ---------------------

def _uleb(b: bytes, i: int):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _sleb(b: bytes, i: int):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            if c & 0x40:
                v -= 1 << shift
            return v, i


_M64 = (1 << 64) - 1


def evaluate(expr: bytes, regs: dict, read, push=None):
    """Value of a DWARF expression (the stack-machine subset CFI uses);
    push: a value pushed first (the CFA, for DW_CFA_expression).  None if
    a register or memory it needs is unknown."""
    st = [] if push is None else [push]
    i = 0
    n = len(expr)
    while i < n:
        op = expr[i]
        i += 1
        if 0x30 <= op <= 0x4F:                          # lit0..31
            st.append(op - 0x30)
        elif 0x70 <= op <= 0x8F:                        # breg0..31 sleb
            off, i = _sleb(expr, i)
            r = regs.get(op - 0x70)
            if r is None:
                return None
            st.append((r + off) & _M64)
        elif 0x50 <= op <= 0x6F:                        # reg0..31
            r = regs.get(op - 0x50)
            if r is None:
                return None
            st.append(r)
        elif op in (0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F):
            fmt = {0x08: "<B", 0x09: "<b", 0x0A: "<H", 0x0B: "<h", 0x0C: "<I", 0x0D: "<i",
                   0x0E: "<Q", 0x0F: "<q"}[op]
            st.append(struct.unpack_from(fmt, expr, i)[0] & _M64)
            i += struct.calcsize(fmt)
        elif op == 0x10:                                # constu
            v, i = _uleb(expr, i)
            st.append(v)
        elif op == 0x11:                                # consts
            v, i = _sleb(expr, i)
            st.append(v & _M64)
        elif op == 0x23:                                # plus_uconst
            v, i = _uleb(expr, i)
            st.append((st.pop() + v) & _M64)
        elif op == 0x06:                                # deref
            v = read(st.pop())
            if v is None:
                return None
            st.append(v)
        elif op == 0x12:
            st.append(st[-1])
        elif op == 0x13:
            st.pop()
        elif op == 0x16:
            st[-1], st[-2] = st[-2], st[-1]
        elif op in _BINARY:
            b, a = st.pop(), st.pop()
            st.append(_BINARY[op](a, b) & _M64)
        else:
            return None
    return st[-1] if st else None


def _signed(v):
    return v - (1 << 64) if v >> 63 else v


_BINARY = {
    0x22: lambda a, b: a + b, 0x1C: lambda a, b: a - b, 0x1A: lambda a, b: a & b,
    0x21: lambda a, b: a | b, 0x27: lambda a, b: a ^ b, 0x1E: lambda a, b: a * b,
    0x24: lambda a, b: a << (b & 63), 0x25: lambda a, b: a >> (b & 63),
    0x26: lambda a, b: (_signed(a) >> (b & 63)),
    0x29: lambda a, b: int(a == b), 0x2E: lambda a, b: int(a != b),
    0x2A: lambda a, b: int(_signed(a) >= _signed(b)), 0x2B: lambda a, b: int(_signed(a) > _signed(b)),
    0x2C: lambda a, b: int(_signed(a) <= _signed(b)), 0x2D: lambda a, b: int(_signed(a) < _signed(b)),
}


# -- the unwinder ------------------------------------------------------------------------

_CFI_CACHE = {}
_MISS = object()


def file_cfi(path: str, debug_root: str = "/usr/lib/debug", root: str = "",
             display_path: str = None, inode: int = None, owners=None):
    """Cached FileCfi of the ELF file at path (None: not a readable ELF).

    A process's file may be swapped by its user: it is opened without
    blocking, must be a regular file (with `inode`, the one mapped) and is
    read up to FILE_MAX bytes (corebpf.core.untrusted); its debug files must
    belong to one of `owners`."""
    try:
        with untrusted.open_regular(path, inode) as f:
            st = os.fstat(f.fileno())
    except OSError:
        return None
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _CFI_CACHE:
        return _CFI_CACHE[key]
    shown = display_path or path

    def reopen():
        with untrusted.open_regular(path, st.st_ino) as f:
            return io.BytesIO(untrusted.read_capped(f, FILE_MAX))
    try:
        with untrusted.open_regular(path, st.st_ino) as f:
            cfi = FileCfi(f, shown, debug_root, root, os.path.dirname(shown), reopen, owners)
    except Exception as e:              # noqa: BLE001
        if not _damaged(e):
            raise
        cfi = None
    _CFI_CACHE[key] = cfi
    return cfi


def image_cfi(data: bytes, name: str):
    """Cached FileCfi of an in-memory image (the vDSO)."""
    import hashlib
    key = ("image", hashlib.sha1(data).hexdigest())
    if key not in _CFI_CACHE:
        try:
            _CFI_CACHE[key] = FileCfi(io.BytesIO(data), name, debug_root="")
        except Exception as e:          # noqa: BLE001
            if not _damaged(e):
                raise
            _CFI_CACHE[key] = None
    return _CFI_CACHE[key]


class Unwinder:
    """Unwind dumped user stacks of the processes seen in one report."""

    def __init__(self, syms: SymbolCache = None, arch: Arch = None, max_frames: int = MAX_FRAMES):
        self.syms = syms or SymbolCache()
        self.arch = arch or host_arch()
        self.max_frames = max_frames
        self.samples = 0
        self.truncated = 0              # walks that stopped before the outermost frame
        self._rows = {}                 # pid -> {address looked up: CFI row or None}

    def _locate(self, proc, pc: int):
        """(FileCfi, vaddr) for a user address, or (None, None)."""
        m = proc.mapping(pc)
        if m is None:
            return None, None
        cfi = m.cfi
        if cfi is None:
            cfi = m.cfi = self._load(proc, m) or False
            if cfi:
                m.bias = (0 if m.path == "[vdso]" else cfi.bias(m.offset))
        if not cfi or m.bias is None:
            return None, None
        if m.path == "[vdso]":
            return cfi, pc - m.start
        return cfi, pc - m.start + m.offset + m.bias

    def _load(self, proc, m):
        if m.path == "[vdso]":
            data = proc.vdso_image(m)
            return image_cfi(data, "[vdso]") if data else None
        if not m.path:
            return None
        for cand, path, root in proc.files(m):
            cfi = file_cfi(cand, proc.debug_root, root, display_path=path,
                           inode=m.inode or None, owners=proc.owners())
            if cfi is not None:
                return cfi
        return None

    def unwind(self, pid: int, regs, stack: bytes) -> list:
        """Return addresses of the frames, innermost first: the sampled
        instruction pointer, then each caller's return address.  regs: the
        dumped registers (the arch's pt_regs slots); stack: the bytes copied
        from the stack pointer up."""
        arch = self.arch
        self.samples += 1
        values = {}
        for dw, slot in arch.dwarf_to_slot.items():
            if slot < len(regs):
                values[dw] = regs[slot]
        pc = regs[arch.ip_slot] if arch.ip_slot < len(regs) else 0
        sp0 = values.get(arch.sp, 0)
        if not pc:
            return []
        end = sp0 + len(stack)
        unpack = _U64.unpack_from

        def read(addr):
            if sp0 <= addr <= end - 8:
                return unpack(stack, addr - sp0)[0]
            return None

        proc = None
        rows = self._rows.get(pid)
        if rows is None:
            if len(self._rows) > 4096:
                self._rows.clear()
            rows = self._rows[pid] = {}
        frames = [pc]
        seen = set()
        sp_reg, ra_col, fp_reg = arch.sp, arch.ra, arch.fp
        ra_mask = arch.ra_mask
        cfi_step = self._cfi_step
        complete = False
        look = pc
        while len(frames) < self.max_frames:
            row = rows.get(look, _MISS)
            if row is _MISS:
                if proc is None:
                    proc = self.syms.process(pid)
                cfi, va = self._locate(proc, look)
                row = cfi.row(va) if cfi else None
                if len(rows) > 100000:
                    rows.clear()
                rows[look] = row
            if row is None:
                new = self._fp_step(values, read, sp_reg, ra_col, fp_reg)
                if new is None:
                    break
            else:
                new = cfi_step(row, values, read, sp_reg, ra_col)
                if new is None:
                    complete = True         # the outermost frame (return address undefined)
                    break
                if new is False:
                    break                   # a register or stack slot we do not have
            ra = new.get(ra_col)
            if ra is None:
                complete = True
                break
            if ra_mask is not None:
                ra &= ra_mask
            if ra < 0x1000:
                complete = True
                break
            sp = new.get(sp_reg)
            if sp is None or sp < values.get(sp_reg, 0) or (ra, sp) in seen:
                break
            seen.add((ra, sp))
            values = new
            pc = ra
            frames.append(pc)
            # return addresses point after the call: look the caller up at the call
            look = pc - 1
        if not complete:
            self.truncated += 1
        return frames

    @staticmethod
    def _cfi_step(row, values, read, sp_reg, ra_col):
        """Caller's registers from a CFI row; None at the outermost frame, False
        when a register or stack slot it needs is unknown.  Registers without
        a rule keep their value (callee-saved; on arm64 the return address
        column x30 itself, in leaf functions)."""
        cfa_reg, cfa_off, cfa_expr, rules = row
        if cfa_expr is not None:
            cfa = evaluate(cfa_expr, values, read)
            if cfa is None:
                return False
        else:
            base = values.get(cfa_reg)
            if base is None:
                return False
            cfa = (base + cfa_off) & _M64
        new = values.copy()         # unmentioned registers: same value (callee-saved)
        new[sp_reg] = cfa
        for reg, kind, arg in rules:
            if kind == _OFFSET:
                v = read((cfa + arg) & _M64)
            elif kind == _VAL_OFFSET:
                v = (cfa + arg) & _M64
            elif kind == _REGISTER:
                v = values.get(arg)
            elif kind == _SAME:
                v = values.get(reg)
            elif kind == _UNDEF:
                if reg == ra_col:
                    return None
                v = None
            elif kind == _EXPR:
                addr = evaluate(arg, values, read, push=cfa)
                v = read(addr) if addr is not None else None
            else:
                v = evaluate(arg, values, read, push=cfa)
            if v is None:
                new.pop(reg, None)
            else:
                new[reg] = v
        return new

    @staticmethod
    def _fp_step(values, read, sp_reg, ra_col, fp_reg):
        """Caller's registers through the frame pointer chain, or None."""
        fp = values.get(fp_reg)
        if not fp or fp < values.get(sp_reg, 0):
            return None
        saved_fp, ra = read(fp), read(fp + 8)
        if ra is None or saved_fp is None:
            return None
        new = dict(values)
        new[fp_reg] = saved_fp
        new[ra_col] = ra
        new[sp_reg] = fp + 16
        return new
