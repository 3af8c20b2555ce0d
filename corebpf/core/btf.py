"""BTF of corebpf's own objects, and codecs built from it.

A tool's object is small (a few hundred types), so its BTF is parsed here in
Python from libbpf's raw copy; the kernel's vmlinux BTF is never parsed here
(libbpf does that in C).  `Btf.codec(type_id)` compiles a decoder/encoder
for a type: structs become named records (namedtuples) with nested records
for nested structs, `char[]` becomes str (cut at the first NUL), other byte
arrays become bytes, scalar arrays tuples.  `char[]` text comes from other
users (file names, comms, query texts): it decodes escaped for a terminal
(corebpf.core.untrusted.text); `codec(tid, raw_text=True)` gives the exact
text (for output that escapes by construction, such as JSON).  A struct whose last member is an
array also decodes from a shorter buffer (right-sized ring buffer records):
the array then holds what the record carried.
"""
from __future__ import annotations

import collections
import keyword
import struct

from .untrusted import escape as _escape, raw_text as _raw_text, text as _text

# kinds
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, \
    FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(1, 20)
_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)
INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4

_HDR = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
_U32 = struct.Struct("<I")


class BtfFormatError(ValueError):
    pass


# bytes after a type's 12-byte header: (fixed, per vlen entry), by kind
_EXTRA = {INT: (4, 0), PTR: (0, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12),
          ENUM: (0, 8), FWD: (0, 0), TYPEDEF: (0, 0), VOLATILE: (0, 0), CONST: (0, 0),
          RESTRICT: (0, 0), FUNC: (0, 0), FUNC_PROTO: (0, 8), VAR: (4, 0),
          DATASEC: (0, 12), FLOAT: (0, 0), DECL_TAG: (4, 0), TYPE_TAG: (0, 0),
          ENUM64: (0, 12)}


class _Types:
    """Btf.types: types[id] parsed on first use (a tool reads a few dozen of
    its object's hundreds of types; parsing them all cost 1-3 ms of every
    start).  types[0] is None (void)."""

    __slots__ = ("_btf", "_offs", "_parsed")

    def __init__(self, btf, offs):
        self._btf = btf
        self._offs = offs
        self._parsed = [None] * len(offs)

    def __len__(self):
        return len(self._offs)

    def __getitem__(self, tid):
        if isinstance(tid, slice):
            return [self[i] for i in range(*tid.indices(len(self._offs)))]
        t = self._parsed[tid]
        if t is None:
            pos = self._offs[tid]
            if pos is None:
                return None
            if tid < 0:
                tid += len(self._offs)
            t = self._parsed[tid] = self._btf._parse_one(tid, pos)
        return t

    def __iter__(self):
        for i in range(len(self._offs)):
            yield self[i]


class Type:
    __slots__ = ("id", "kind", "name", "vlen", "kflag", "size", "ref", "extra")

    def __init__(self, tid, kind, name, vlen, kflag, size_or_type, extra):
        self.id = tid
        self.kind = kind
        self.name = name
        self.vlen = vlen
        self.kflag = kflag
        # size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, referenced type otherwise
        self.size = size_or_type
        self.ref = size_or_type
        self.extra = extra

    def __repr__(self):
        return f"<btf type {self.id} kind={self.kind} name={self.name!r}>"


class Btf:
    """Parsed BTF: `types[id]`, names resolved."""

    def __init__(self, raw: bytes):
        if len(raw) < _HDR.size:
            raise BtfFormatError("BTF too short")
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            _HDR.unpack_from(raw, 0)
        if magic != 0xEB9F:
            raise BtfFormatError("bad BTF magic (big-endian BTF unsupported)")
        tstart = hdr_len + type_off
        sstart = hdr_len + str_off
        self._strings = bytes(raw[sstart:sstart + str_len])
        self._raw = raw
        self._codecs = {}
        self._by_kind = {}          # kind -> {name: first id}, built on first find()
        offs, kinds = [None], [None]
        pos, end = tstart, tstart + type_len
        unpack = _TYPE.unpack_from
        while pos < end:            # where each type starts; parsed when used
            info = unpack(raw, pos)[1]
            kind = (info >> 24) & 0x1F
            per = _EXTRA.get(kind)
            if per is None:
                raise BtfFormatError(f"unknown BTF kind {kind}")
            offs.append(pos)
            kinds.append(kind)
            pos += 12 + per[0] + per[1] * (info & 0xFFFF)
        if pos > end or end > len(raw):
            raise BtfFormatError("BTF type section truncated")
        self._kinds = kinds
        self.types = _Types(self, offs)

    def _str(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode()

    def _parse_one(self, tid: int, pos: int) -> "Type":
        raw = self._raw
        s = self._str
        u32 = _U32.unpack_from
        name_off, info, sot = _TYPE.unpack_from(raw, pos)
        pos += 12
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kflag = info >> 31
        extra = None
        if kind == INT:
            enc = u32(raw, pos)[0]
            extra = ((enc >> 24) & 0xF, (enc >> 16) & 0xFF, enc & 0xFF)
        elif kind == ARRAY:
            extra = struct.unpack_from("<III", raw, pos)  # type, index, nelems
        elif kind in (STRUCT, UNION):
            members = []
            for mn, mt, mo in struct.iter_unpack("<III", raw[pos:pos + 12 * vlen]):
                if kflag:
                    members.append((s(mn), mt, mo & 0xFFFFFF, mo >> 24))
                else:
                    members.append((s(mn), mt, mo, 0))
            extra = members
        elif kind == ENUM:
            extra = [(s(en), ev) for en, ev in struct.iter_unpack("<Ii", raw[pos:pos + 8 * vlen])]
        elif kind == ENUM64:
            extra = [(s(en), (hi << 32) | lo)
                     for en, lo, hi in struct.iter_unpack("<III", raw[pos:pos + 12 * vlen])]
        elif kind == FUNC_PROTO:
            extra = [(s(pn), pt) for pn, pt in struct.iter_unpack("<II", raw[pos:pos + 8 * vlen])]
        elif kind in (VAR, DECL_TAG):
            extra = u32(raw, pos)[0]
        elif kind == DATASEC:
            extra = list(struct.iter_unpack("<III", raw[pos:pos + 12 * vlen]))  # type, off, size
        return Type(tid, kind, s(name_off), vlen, kflag, sot, extra)

    # -- lookups ---------------------------------------------------------
    def find(self, name: str, kind: int):
        """Return the id of the type `name` of `kind`, or None."""
        d = self._by_kind.get(kind)
        if d is None:
            d = self._by_kind[kind] = {}
            types = self.types
            for tid, k in enumerate(self._kinds):
                if k == kind:
                    n = types[tid].name
                    if n:
                        d.setdefault(n, tid)
        return d.get(name)

    def resolve(self, tid: int) -> Type:
        """Skip typedefs and qualifiers."""
        t = self.types[tid]
        while t.kind in _MODIFIERS:
            t = self.types[t.ref]
        return t

    def sizeof(self, tid: int) -> int:
        t = self.resolve(tid)
        if t.kind in (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT):
            return t.size
        if t.kind == PTR:
            return 8
        if t.kind == ARRAY:
            return self.sizeof(t.extra[0]) * t.extra[2]
        raise BtfFormatError(f"type {tid} ({t.name or 'anon'}) has no size")

    def datasec(self, name: str) -> dict:
        """Variables of a DATASEC: {var name: (type id, offset, size)}."""
        tid = self.find(name, DATASEC)
        if tid is None:
            return {}
        out = {}
        for vtype, off, size in self.types[tid].extra:
            v = self.types[vtype]
            out[v.name] = (v.ref, off, size)
        return out

    def type_name(self, tid: int) -> str:
        """C spelling of a type, for messages."""
        if tid == 0:
            return "void"
        t = self.types[tid]
        if t.kind == PTR:
            return self.type_name(t.ref) + " *"
        if t.kind == ARRAY:
            return f"{self.type_name(t.extra[0])}[{t.extra[2]}]"
        if t.kind in (CONST, VOLATILE, RESTRICT, TYPE_TAG):
            return self.type_name(t.ref)
        prefix = {STRUCT: "struct ", UNION: "union ", ENUM: "enum ", ENUM64: "enum "}
        return prefix.get(t.kind, "") + (t.name or "(anon)")

    def codec(self, tid: int, raw_text: bool = False) -> "Codec":
        """Return the (cached) codec of type `tid`; `char[]` decodes to escaped
        text unless raw_text (see the module docstring)."""
        key = (tid, raw_text)
        c = self._codecs.get(key)
        if c is None:
            c = self._codecs[key] = _build(self, tid, raw_text)
        return c


# -- codecs -----------------------------------------------------------------

def cstr(b: bytes, raw: bool = False) -> str:
    """C string bytes to str, cut at the first NUL: escaped for a terminal
    (control characters and undecodable bytes as \\xNN), or exact if raw."""
    i = b.find(b"\0")
    if i >= 0:
        b = b[:i]
    return _raw_text(b) if raw else _text(b)


class Codec:
    """Decode/encode one type. `decode(buf, off=0)`; `encode(value) -> bytes`."""

    size = 0
    record = None        # the namedtuple class for structs

    def decode(self, buf, off=0):
        raise NotImplementedError

    def decode_span(self, buf, off, end):
        """Decode the value held in buf[off:end] (it may be cut short)."""
        return self.decode(buf[off:end])

    def encode_into(self, out: bytearray, off: int, value):
        raise NotImplementedError

    def encode(self, value) -> bytes:
        out = bytearray(self.size)
        if value is not None:
            self.encode_into(out, 0, value)
        return bytes(out)

    def zero(self):
        return self.decode(bytes(self.size))


_INT_FMT = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
            (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


class ScalarCodec(Codec):
    def __init__(self, fmt: str, size: int):
        self.fmt = fmt
        self.size = size
        self._s = struct.Struct("<" + fmt)

    def decode(self, buf, off=0):
        return self._s.unpack_from(buf, off)[0]

    def encode_into(self, out, off, value):
        if self.fmt in "bBhHiIqQ":
            value = int(value)
            if value < 0 and self.fmt.isupper():
                value &= (1 << (8 * self.size)) - 1
        try:
            self._s.pack_into(out, off, value)
        except struct.error:
            bits = 8 * self.size
            lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if self.fmt.islower() \
                else (-(1 << bits - 1), (1 << bits) - 1)
            raise OverflowError(f"{value} does not fit {bits} bits ({lo}..{hi})") from None


class Int128Codec(Codec):
    def __init__(self, size, signed):
        self.size = size
        self.signed = signed

    def decode(self, buf, off=0):
        return int.from_bytes(bytes(buf[off:off + self.size]), "little", signed=self.signed)

    def encode_into(self, out, off, value):
        out[off:off + self.size] = int(value).to_bytes(self.size, "little", signed=self.signed)


class CharArrayCodec(Codec):
    def __init__(self, n, raw: bool = False):
        self.size = n
        self.raw = raw

    def decode(self, buf, off=0):
        return cstr(bytes(buf[off:off + self.size]), self.raw)

    def encode_into(self, out, off, value):
        b = value.encode() if isinstance(value, str) else bytes(value)
        b = b[:self.size]
        out[off:off + len(b)] = b


class BytesCodec(Codec):
    def __init__(self, n):
        self.size = n

    def decode(self, buf, off=0):
        return bytes(buf[off:off + self.size])

    def encode_into(self, out, off, value):
        b = bytes(value)[:self.size]
        out[off:off + len(b)] = b


class ArrayCodec(Codec):
    def __init__(self, elem: Codec, n: int):
        self.elem = elem
        self.n = n
        self.size = elem.size * n
        if isinstance(elem, ScalarCodec):
            self._s = struct.Struct(f"<{n}{elem.fmt}")
        else:
            self._s = None

    def decode(self, buf, off=0):
        if self._s is not None:
            return self._s.unpack_from(buf, off)
        es = self.elem.size
        return tuple(self.elem.decode(buf, off + i * es) for i in range(self.n))

    def decode_partial(self, buf, off, avail):
        n = max(0, min(self.n, avail // self.elem.size)) if self.elem.size else 0
        if self._s is not None:
            return struct.unpack_from(f"<{n}{self.elem.fmt}", buf, off)
        es = self.elem.size
        return tuple(self.elem.decode(buf, off + i * es) for i in range(n))

    def encode_into(self, out, off, value):
        es = self.elem.size
        for i, v in enumerate(value):
            if i >= self.n:
                break
            self.elem.encode_into(out, off + i * es, v)


class EnumCodec(ScalarCodec):
    def __init__(self, fmt, size, names):
        super().__init__(fmt, size)
        self.names = names      # value -> name


class OpaqueCodec(Codec):
    """Types with no value (void, func, forward decl): raw bytes."""

    def __init__(self, size=0):
        self.size = size

    def decode(self, buf, off=0):
        return bytes(buf[off:off + self.size])

    def encode_into(self, out, off, value):
        b = bytes(value)[:self.size]
        out[off:off + len(b)] = b


class StructCodec(Codec):
    """A struct or union decoded into a namedtuple (generated code)."""

    def __init__(self, name, size, fields, record, decode_fn, tail):
        self.name = name
        self.size = size
        self.fields = fields        # [(pyname, offset_bits, bitsize, codec)]
        self.record = record
        self._decode = decode_fn
        self._tail = tail           # (pyname, byte offset, codec) or None
        self.min_size = tail[1] if tail else size

    def decode(self, buf, off=0):
        return self._decode(buf, off)

    def encode_into(self, out, off, value):
        if isinstance(value, (bytes, bytearray, memoryview)):
            b = bytes(value)[:self.size]
            out[off:off + len(b)] = b
            return
        get = value.get if isinstance(value, dict) else (lambda k, d=None: getattr(value, k, d))
        for name, boff, bits, codec in self.fields:
            v = get(name, None)
            if v is None:
                continue
            if bits:
                byte0 = off + boff // 8
                nbytes = (boff % 8 + bits + 7) // 8
                cur = int.from_bytes(out[byte0:byte0 + nbytes], "little")
                mask = ((1 << bits) - 1) << (boff % 8)
                cur = (cur & ~mask) | ((int(v) << (boff % 8)) & mask)
                out[byte0:byte0 + nbytes] = cur.to_bytes(nbytes, "little")
            else:
                codec.encode_into(out, off + boff // 8, v)


def _pyname(name: str, taken: set) -> str:
    n = name or "_anon"
    if keyword.iskeyword(n):
        n += "_"
    if n.startswith("_") and not n.startswith("__"):
        n = "f" + n             # namedtuple forbids leading underscores
    elif n.startswith("__"):
        n = "f" + n
    base, i = n, 1
    while n in taken:
        n = f"{base}{i}"
        i += 1
    taken.add(n)
    return n


def _flatten(btf: Btf, t: Type, base_bits: int = 0):
    """Members of struct/union t, anonymous members promoted (as C does)."""
    for name, mtype, boff, bits in t.extra:
        mt = btf.resolve(mtype)
        if not name and mt.kind in (STRUCT, UNION):
            yield from _flatten(btf, mt, base_bits + boff)
        else:
            yield name, mtype, base_bits + boff, bits


def _build(btf: Btf, tid: int, raw: bool = False) -> Codec:
    t = btf.resolve(tid)
    k = t.kind
    if k == INT:
        enc, _off, bits = t.extra
        signed = bool(enc & INT_SIGNED)
        if enc & INT_BOOL and t.size == 1:
            return ScalarCodec("?", 1)
        fmt = _INT_FMT.get((t.size, signed))
        if fmt is None:
            return Int128Codec(t.size, signed)
        return ScalarCodec(fmt, t.size)
    if k == PTR:
        return ScalarCodec("Q", 8)
    if k in (ENUM, ENUM64):
        signed = bool(t.kflag)
        fmt = _INT_FMT.get((t.size, signed), "I")
        return EnumCodec(fmt, t.size, {v: n for n, v in t.extra})
    if k == FLOAT:
        return ScalarCodec({4: "f", 8: "d"}.get(t.size, "d"), t.size)
    if k == ARRAY:
        etype, _idx, n = t.extra
        et = btf.resolve(etype)
        if et.kind == INT and et.size == 1 and not (et.extra[0] & INT_BOOL):
            return CharArrayCodec(n, raw) if et.name == "char" else BytesCodec(n)
        return ArrayCodec(btf.codec(etype, raw), n)
    if k in (STRUCT, UNION):
        return _build_struct(btf, t, raw)
    if k == DATASEC:
        return OpaqueCodec(t.size)
    return OpaqueCodec(0)


def _build_struct(btf: Btf, t: Type, raw: bool = False) -> StructCodec:
    taken = set()
    fields = []
    for name, mtype, boff, bits in _flatten(btf, t):
        fields.append((_pyname(name, taken), boff, bits, btf.codec(mtype, raw)))
    recname = _pyname(t.name or "anon", set()).replace("__", "_")
    record = collections.namedtuple(recname, [f[0] for f in fields])
    record.__module__ = __name__

    # The last member, if an array, may be cut short in right-sized records.
    tail = None
    if t.kind == STRUCT and fields:
        last = fields[-1]
        if isinstance(last[3], (CharArrayCodec, BytesCodec, ArrayCodec)) and not last[2] \
                and all(f[1] < last[1] for f in fields[:-1]):
            tail = (last[0], last[1] // 8, last[3])

    # Generate one function: a single struct.unpack_from for every scalar /
    # fixed array reached at a fixed offset, then the record built in place.
    fmt_parts, exprs, env = [], [], {"R": record, "cstr": cstr, "_esc": _escape}
    cstr_expr = _CSTR_RAW if raw else _CSTR
    pos = 0          # bytes covered by the flat format
    idx = 0          # index into the unpacked tuple
    head_fields = fields[:-1] if tail else fields

    def add_fmt(off, fmt, count):
        nonlocal idx
        if off > pos:
            fmt_parts.append(f"{off - pos}x")
        fmt_parts.append(fmt)
        i = idx
        idx += count
        return i

    # Only fields at increasing, non-overlapping byte offsets can share the
    # flat format (unions and bitfields take the slow path).
    for j, (name, boff, bits, codec) in enumerate(head_fields):
        off = boff // 8
        fast = (not bits and boff % 8 == 0 and off >= pos and t.kind == STRUCT)
        if fast and isinstance(codec, ScalarCodec):
            i = add_fmt(off, codec.fmt, 1)
            pos = off + codec.size
            exprs.append(f"t[{i}]")
        elif fast and isinstance(codec, CharArrayCodec):
            i = add_fmt(off, f"{codec.size}s", 1)
            pos = off + codec.size
            exprs.append(cstr_expr.format(f"t[{i}]"))
        elif fast and isinstance(codec, BytesCodec):
            i = add_fmt(off, f"{codec.size}s", 1)
            pos = off + codec.size
            exprs.append(f"t[{i}]")
        elif fast and isinstance(codec, ArrayCodec) and codec._s is not None:
            i = add_fmt(off, f"{codec.n}{codec.elem.fmt}", codec.n)
            pos = off + codec.size
            exprs.append(f"t[{i}:{i + codec.n}]")
        elif bits:
            env[f"c{j}"] = (boff, bits, isinstance(codec, ScalarCodec) and codec.fmt.islower())
            exprs.append(f"_bits(buf, off, *c{j})")
        else:
            env[f"c{j}"] = codec.decode
            exprs.append(f"c{j}(buf, off + {off})")
    env["_bits"] = _bitfield
    env["_new"] = tuple.__new__
    env["S"] = struct.Struct("<" + "".join(fmt_parts)) if fmt_parts else None
    env["T"] = tail[2] if tail else None
    # decode(buf, off=0): the record is buf[off:] (a right-sized record is
    # a buffer of its own length); decode_span(buf, off, end): the record
    # is buf[off:end] of a larger buffer (the ring buffer's mapped pages)
    head = "    t = S.unpack_from(buf, off)" if fmt_parts else "    t = ()"
    code = []
    for sig, limit in (("decode(buf, off=0)", None), ("decode_span(buf, off, end)", "end")):
        lines, ex = [f"def {sig}:", head], list(exprs)
        if tail:
            tname, toff, tcodec = tail
            stop = f"off + {toff + tcodec.size}"
            if limit:
                stop = f"({limit} if {limit} < {stop} else {stop})"
            # slicing stops at the end of a short (right-sized) record by itself
            part = f"bytes(buf[off + {toff}:{stop}])"
            if isinstance(tcodec, CharArrayCodec):
                ex.append(cstr_expr.format(part))
            elif isinstance(tcodec, BytesCodec):
                ex.append(part)
            else:
                whole = f"{limit} - off" if limit else "len(buf) - off"
                lines.append(f"    avail = min({whole} - {toff}, {tcodec.size})")  # noqa
                ex.append(f"T.decode_partial(buf, off + {toff}, avail)")
        # tuple.__new__ builds the record without a Python-level __new__ call
        # (ring buffer consumers decode every event: this halves the cost)
        lines.append(f"    return _new(R, ({''.join(e + ', ' for e in _runs(ex))}))")
        code.append("\n".join(lines))
    exec(compile("\n\n".join(code), f"<btf decoder {t.name or 'anon'}>", "exec"), env)
    c = StructCodec(t.name, t.size, fields, record, env["decode"], tail)
    c.decode_span = env["decode_span"]
    return c


def _runs(exprs):
    """Runs of consecutive plain `t[i]` items as one starred slice: the
    record tuple is then built in C rather than by one subscript per field."""
    out, run = [], []

    def close():
        if len(run) > 2:
            out.append(f"*t[{run[0]}:{run[-1] + 1}]")
        else:
            out.extend(f"t[{i}]" for i in run)
        run.clear()
    for e in exprs:
        # a plain `t[i]` (no regular expression: the first one compiled is
        # ~0.1 ms of a tool's start)
        i = int(e[2:-1]) if e[:2] == "t[" and e[-1:] == "]" and e[2:-1].isdecimal() else None
        if i is not None and (not run or i == run[-1] + 1):
            run.append(i)
            continue
        close()
        if i is not None:
            run.append(i)
        else:
            out.append(e)
    close()
    return out


# cstr() inlined into generated decoders: text from other users is escaped,
# with no call at all for the common (printable) case
_CSTR = ('(_s if (_s := {}.split(b"\\0", 1)[0].decode("utf-8", "backslashreplace"))'
         '.isprintable() else _esc(_s))')
_CSTR_RAW = '{}.split(b"\\0", 1)[0].decode("utf-8", "surrogateescape")'


def _bitfield(buf, off, boff, bits, signed):
    byte0 = off + boff // 8
    nbytes = (boff % 8 + bits + 7) // 8
    v = int.from_bytes(bytes(buf[byte0:byte0 + nbytes]), "little") >> (boff % 8)
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v
