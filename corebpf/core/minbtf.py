"""The minimal kernel BTF an object's CO-RE relocations need.

What `bpftool gen min_core_btf` computes, in Python (bpftool is not a
run-time dependency): the object's CO-RE relocations (.BTF.ext) are matched
against the kernel's BTF the way libbpf matches them (candidates by kind and
essential name, members by name through anonymous members, array steps), and
only what the matches touch is kept: each struct/union on an access path
with just the members accessed (sizes and offsets unchanged), the types of
those members, typedef/modifier chains, arrays' element types, enums whole.
Pointers met on a field path point to void unless their target is kept for
another reason (libbpf's field compatibility does not look through them);
type relocations keep what a pointer points to (libbpf's type compatibility
does).  libbpf given the result as btf_custom_path relocates every
instruction as it would against the full BTF, without parsing 5+ MB of it.

Objects whose relocations need the kernel's own type ids
(bpf_core_type_id_kernel) or a deep type match (bpf_core_type_matches) are
refused (Unsupported): they keep the full BTF.
"""
from __future__ import annotations

import struct
from array import array

from .btf import (ARRAY, DATASEC, DECL_TAG, ENUM, ENUM64, FLOAT, FUNC, FUNC_PROTO, FWD, INT,
                  PTR, STRUCT, UNION, VAR, Btf, BtfFormatError)
from .btf import _MODIFIERS as MODIFIERS

_HDR = struct.Struct("<HBBIIIII")
_T = struct.Struct("<III")
_U32 = struct.Struct("<I")

# enum bpf_core_relo_kind
_FIELD_KINDS = (0, 1, 2, 3, 4, 5)   # byte offset/size, exists, signed, lshift, rshift
TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE = 6, 7, 8, 9
ENUMVAL_EXISTS, ENUMVAL_VALUE, TYPE_MATCHES = 10, 11, 12

# bytes after the 12-byte common header, per kind and vlen
_EXTRA = {INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8),
          ENUM64: (0, 12), FUNC_PROTO: (0, 8), VAR: (4, 0), DATASEC: (0, 12),
          DECL_TAG: (4, 0)}


class Unsupported(ValueError):
    """The object cannot be served by a minimal BTF (it keeps the full one)."""


def elf_sections(data: bytes, wanted) -> dict:
    """{name: bytes} of the sections `wanted` of a 64-bit little-endian ELF file."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise Unsupported("not a 64-bit little-endian ELF object")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shentsize < 64 or shstrndx >= shnum or shoff + shnum * shentsize > len(data):
        raise Unsupported("bad ELF section headers")

    def header(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)

    stroff = header(shstrndx)[4]
    out = {}
    for i in range(shnum):
        name, _typ, _flags, _addr, off, size = header(i)
        end = data.find(b"\0", stroff + name)
        n = data[stroff + name:end].decode("ascii", "replace")
        if n in wanted:
            if off + size > len(data):
                raise Unsupported(f"ELF section {n} out of bounds")
            out[n] = data[off:off + size]
    return out


def core_relos(obj: bytes):
    """(local Btf, [(local type id, access string, kind)]) of an object file's bytes."""
    secs = elf_sections(obj, (".BTF", ".BTF.ext"))
    if ".BTF" not in secs:
        raise Unsupported("object has no .BTF")
    try:
        local = Btf(secs[".BTF"])
    except (BtfFormatError, ValueError, struct.error) as e:
        raise Unsupported(f"object BTF: {e}") from None
    ext = secs.get(".BTF.ext")
    relos = []
    if not ext or len(ext) < 8:
        return local, relos
    magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", ext, 0)
    if magic != 0xEB9F:
        raise Unsupported("bad .BTF.ext magic")
    if hdr_len < 32:
        return local, relos
    core_off, core_len = struct.unpack_from("<II", ext, 24)
    if not core_len:
        return local, relos
    pos = hdr_len + core_off
    end = pos + core_len
    if end > len(ext):
        raise Unsupported(".BTF.ext CO-RE section out of bounds")
    rec, = _U32.unpack_from(ext, pos)
    pos += 4
    if rec < 16:
        raise Unsupported("bad CO-RE relocation record size")
    while pos < end:
        _sec, n = struct.unpack_from("<II", ext, pos)
        pos += 8
        for _ in range(n):
            _insn, tid, acc, kind = struct.unpack_from("<IIII", ext, pos)
            pos += rec
            relos.append((tid, local._str(acc), kind))
    return local, relos


def essential(name: str) -> str:
    """A CO-RE flavour's essential name: `task_struct___old` -> `task_struct`."""
    i = name.find("___")
    return name if i < 0 else name[:i]


class KernelTypes:
    """Raw kernel BTF, indexed by type id; types decoded on demand."""

    def __init__(self, raw: bytes):
        if len(raw) < _HDR.size:
            raise Unsupported("kernel BTF too short")
        magic, _v, _f, hdr_len, type_off, type_len, str_off, str_len = _HDR.unpack_from(raw, 0)
        if magic != 0xEB9F:
            raise Unsupported("bad kernel BTF magic")
        self.raw = raw
        self.strings = raw[hdr_len + str_off:hdr_len + str_off + str_len]
        # offs: an array, not a list (4 bytes a type instead of ~40; 125,000
        # types here); name_offs: each type's name offset by type id, the raw
        # little-endian u32s, for candidates() to find a name's types with
        # bytes.find (a scan in C) instead of a loop in Python over every type
        offs = array("I", [0])
        names = bytearray(b"\xff\xff\xff\xff")
        pos = hdr_len + type_off
        end = pos + type_len
        info_at = _U32.unpack_from
        extra = _EXTRA
        add = offs.append
        while pos < end:
            add(pos)
            names += raw[pos:pos + 4]
            info, = info_at(raw, pos + 4)
            e = extra.get((info >> 24) & 0x1F)
            pos += 12 + (e[0] + e[1] * (info & 0xFFFF) if e else 0)
        if pos != end:
            raise Unsupported("kernel BTF type section is inconsistent")
        self.offs = offs
        self.name_offs = bytes(names)
        self._name_offsets = {}

    def head(self, tid: int):
        """(name_off, kind, vlen, kflag, size_or_type, position of the kind data)."""
        pos = self.offs[tid]
        name_off, info, sot = _T.unpack_from(self.raw, pos)
        return name_off, (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, sot, pos + 12

    def name(self, off: int) -> str:
        end = self.strings.find(b"\0", off)
        return self.strings[off:end].decode("utf-8", "replace")

    def kind(self, tid: int) -> int:
        return self.head(tid)[1] if tid else 0

    def members(self, tid: int):
        """[(name_off, type, raw offset)] of a struct/union."""
        _n, _k, vlen, _kf, _s, pos = self.head(tid)
        return [_T.unpack_from(self.raw, pos + 12 * i) for i in range(vlen)]

    def skip_mods(self, tid: int) -> int:
        while tid:
            _n, kind, _v, _kf, sot, _p = self.head(tid)
            if kind not in MODIFIERS:
                return tid
            tid = sot
        return tid

    def name_offsets(self, names) -> dict:
        """{string offset: name} of each of `names` in the string section
        (each name's offsets kept: objects share most names)."""
        out = {}
        s = self.strings
        for name in names:
            found = self._name_offsets.get(name)
            if found is None:
                found = []
                needle = b"\0" + name.encode() + b"\0"
                i = s.find(needle)
                while i >= 0:
                    found.append(i + 1)
                    i = s.find(needle, i + 1)
                self._name_offsets[name] = found
            for off in found:
                out[off] = name
        return out

    def candidates(self, wanted: dict) -> dict:
        """{(name, kind): [type ids]} of types named as in `wanted` (name offsets)."""
        found = {}
        table = self.name_offs
        for name_off, name in wanted.items():
            needle = _U32.pack(name_off)
            i = table.find(needle)
            while i >= 0:
                if i % 4 == 0:
                    found[i // 4] = name
                i = table.find(needle, i + 1)
        out = {}
        for tid in sorted(found):
            kind = self.kind(tid)
            out.setdefault((found[tid], ENUM if kind == ENUM64 else kind), []).append(tid)
        return out


class _Marks:
    def __init__(self, k: KernelTypes):
        self.k = k
        self.keep = {}      # type id -> set of kept member indices (struct/union) or follow flag

    def mark(self, tid: int, follow: bool = False):
        k = self.k
        while tid:
            _n, kind, vlen, _kf, sot, pos = k.head(tid)
            if kind in (STRUCT, UNION):
                self.keep.setdefault(tid, set())
                return
            prev = self.keep.get(tid)
            if prev is not None and (prev or not follow):
                return
            self.keep[tid] = follow
            if kind == PTR:
                if not follow:
                    return
                tid = sot
            elif kind in MODIFIERS or kind == FUNC:
                tid = sot
            elif kind == ARRAY:
                elem, index, _n = struct.unpack_from("<III", k.raw, pos)
                self.mark(index, follow)
                tid = elem
            elif kind == FUNC_PROTO:
                for i in range(vlen):
                    self.mark(_U32.unpack_from(k.raw, pos + 8 * i + 4)[0], follow)
                tid = sot
            elif kind in (INT, ENUM, ENUM64, FLOAT, FWD):
                return
            else:
                raise Unsupported(f"kernel BTF kind {kind} on a relocation's path")

    def member(self, parent: int, index: int):
        self.keep.setdefault(parent, set()).add(index)
        self.mark(self.k.members(parent)[index][1])


def _local_steps(local: Btf, tid: int, access: str):
    """libbpf's named accessors of a field relocation: [('m', name) | ('a', index)]."""
    try:
        idx = [int(x) for x in access.split(":")]
    except ValueError:
        raise Unsupported(f"bad access string {access!r}") from None
    steps = []
    t = local.resolve(tid)
    for a in idx[1:]:
        if t.kind in (STRUCT, UNION):
            if a >= len(t.extra):
                raise Unsupported(f"access {access!r} beyond {t.name}")
            name, mtype = t.extra[a][0], t.extra[a][1]
            if name:
                steps.append(("m", name))
            t = local.resolve(mtype)
        elif t.kind == ARRAY:
            steps.append(("a", a))
            t = local.resolve(t.extra[0])
        else:
            raise Unsupported(f"access {access!r} through a kind {t.kind} type")
    return steps


def _find_member(k: KernelTypes, tid: int, name: str):
    """[(struct id, member index), ...] down to member `name`, through anonymous members."""
    for i, (mn, mt, _off) in enumerate(k.members(tid)):
        if mn:
            if k.name(mn) == name:
                return [(tid, i)]
            continue
        sub = k.skip_mods(mt)
        if k.kind(sub) in (STRUCT, UNION):
            found = _find_member(k, sub, name)
            if found:
                return [(tid, i)] + found
    return None


def _match_field(k: KernelTypes, cand: int, steps):
    """The member hops of a field access in candidate `cand`, or None if it has not."""
    hops = []
    tid = k.skip_mods(cand)
    for op, arg in steps:
        kind = k.kind(tid)
        if op == "m":
            if kind not in (STRUCT, UNION):
                return None
            found = _find_member(k, tid, arg)
            if not found:
                return None
            hops.extend(found)
            p, i = found[-1]
            tid = k.skip_mods(k.members(p)[i][1])
        else:
            if kind != ARRAY:
                return None
            hops.append(("array", tid))
            tid = k.skip_mods(struct.unpack_from("<I", k.raw, k.head(tid)[5])[0])
    return hops


def compute(obj: bytes, kernel) -> bytes:
    """Raw minimal BTF for the object file `obj` against the kernel's BTF
    (its raw bytes, or a KernelTypes to reuse across objects)."""
    local, relos = core_relos(obj)
    todo = []
    names = set()
    for tid, access, kind in relos:
        if kind == TYPE_ID_LOCAL:
            continue
        if kind in (TYPE_ID_TARGET, TYPE_MATCHES):
            raise Unsupported("a relocation needs the kernel's type ids or a deep type match")
        if kind not in _FIELD_KINDS and kind not in (TYPE_EXISTS, TYPE_SIZE, ENUMVAL_EXISTS,
                                                      ENUMVAL_VALUE):
            raise Unsupported(f"CO-RE relocation kind {kind}")
        t = local.types[tid]
        name = essential(t.name)
        if not name:
            raise Unsupported("a relocation of an anonymous type")
        names.add(name)
        lkind = ENUM if t.kind == ENUM64 else t.kind
        steps = _local_steps(local, tid, access) if kind in _FIELD_KINDS else None
        todo.append((name, lkind, kind, steps))
    k = kernel if isinstance(kernel, KernelTypes) else KernelTypes(kernel)
    cands = k.candidates(k.name_offsets(names)) if names else {}
    m = _Marks(k)
    for name, lkind, kind, steps in todo:
        for cand in cands.get((name, lkind), ()):
            if steps is None:
                m.mark(cand, follow=kind in (TYPE_EXISTS, TYPE_SIZE))
                continue
            hops = _match_field(k, cand, steps)
            if hops is None:
                continue
            m.mark(cand)
            for p, i in hops:
                if p == "array":
                    m.mark(i)
                else:
                    m.member(p, i)
    return encode(k, m.keep)


def encode(k: KernelTypes, keep: dict) -> bytes:
    """Raw BTF of the kept kernel types (ids renumbered; members as kept)."""
    ids = sorted(keep)
    new = {old: i + 1 for i, old in enumerate(ids)}
    strs = bytearray(b"\0")
    soffs = {0: 0}

    def S(off):
        r = soffs.get(off)
        if r is None:
            r = soffs[off] = len(strs)
            strs.extend(k.name(off).encode() + b"\0")
        return r

    def R(tid):
        return new.get(tid, 0)

    raw = k.raw
    out = bytearray()
    pack = _T.pack
    for old in ids:
        name_off, kind, vlen, kflag, sot, pos = k.head(old)
        info = (kind << 24) | (kflag << 31)
        if kind in (STRUCT, UNION):
            kept = sorted(keep[old])
            out += pack(S(name_off), info | len(kept), sot)
            mems = k.members(old)
            for i in kept:
                mn, mt, mo = mems[i]
                out += pack(S(mn), R(mt), mo)
        elif kind == INT:
            out += pack(S(name_off), info | vlen, sot) + raw[pos:pos + 4]
        elif kind == ENUM:
            out += pack(S(name_off), info | vlen, sot)
            for i in range(vlen):
                en, ev = struct.unpack_from("<II", raw, pos + 8 * i)
                out += struct.pack("<II", S(en), ev)
        elif kind == ENUM64:
            out += pack(S(name_off), info | vlen, sot)
            for i in range(vlen):
                en, lo, hi = _T.unpack_from(raw, pos + 12 * i)
                out += pack(S(en), lo, hi)
        elif kind == ARRAY:
            elem, index, n = _T.unpack_from(raw, pos)
            out += pack(S(name_off), info, 0) + pack(R(elem), R(index), n)
        elif kind == FUNC_PROTO:
            out += pack(S(name_off), info | vlen, R(sot))
            for i in range(vlen):
                pn, pt = struct.unpack_from("<II", raw, pos + 8 * i)
                out += struct.pack("<II", S(pn), R(pt))
        elif kind in (PTR, FUNC) or kind in MODIFIERS:
            out += pack(S(name_off), info | vlen, R(sot))
        elif kind in (FWD, FLOAT):
            out += pack(S(name_off), info | vlen, sot)
        else:
            raise Unsupported(f"kernel BTF kind {kind}")
    return _HDR.pack(0xEB9F, 1, 0, _HDR.size, 0, len(out), len(out), len(strs)) + \
        bytes(out) + bytes(strs)
