"""The running kernel's BTF, looked up one type at a time through libbpf.

libbpf parses /sys/kernel/btf/vmlinux in C (btf__load_vmlinux_btf); this
module only reads the few types an expression touches (a struct's members,
a function's parameters), so the multi-tools can resolve
`arg1->f_path.dentry->d_name.name` to offsets of *this* kernel without a
compiler and without parsing vmlinux BTF in Python.
"""
from __future__ import annotations

from ._libbpf import ffi, lib
from .errors import MissingFeature

# BTF kinds (uapi/linux/btf.h)
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, \
    FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(1, 20)
_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)


class KType:
    """A decoded BTF type of the kernel: kind, name, size/ref, and details."""

    __slots__ = ("id", "kind", "name", "vlen", "kflag", "size", "ref", "signed",
                 "bits", "members", "params", "elem", "nelems")

    def __repr__(self):
        return f"<ktype {self.id} kind={self.kind} {self.name!r}>"


class KernelBtf:
    """vmlinux BTF (or COREBPF_BTF), owned here and freed by close()."""

    def __init__(self, path: str = None):
        import os
        path = path or os.environ.get("COREBPF_BTF")
        L = lib()
        ptr = L.btf__parse(path.encode(), ffi.NULL) if path else L.btf__load_vmlinux_btf()
        if ptr == ffi.NULL:
            raise MissingFeature("kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)",
                                 "needed to resolve struct fields and function arguments")
        self._btf = ptr
        self._cache = {}

    def close(self):
        if self._btf is not None:
            lib().btf__free(self._btf)
            self._btf = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- lookups --------------------------------------------------------------
    def find(self, name: str, kind: int):
        """Id of the type `name` of `kind`, or None."""
        r = lib().btf__find_by_name_kind(self._btf, name.encode(), kind)
        return r if r > 0 else None

    def _name(self, off: int) -> str:
        p = lib().btf__name_by_offset(self._btf, off)
        return ffi.string(p).decode() if p != ffi.NULL else ""

    def type(self, tid: int) -> KType:
        """The decoded type `tid` (cached)."""
        t = self._cache.get(tid)
        if t is not None:
            return t
        L = lib()
        bt = L.btf__type_by_id(self._btf, tid)
        if bt == ffi.NULL:
            raise KeyError(tid)
        t = KType()
        t.id = tid
        info = bt.info
        t.kind = (info >> 24) & 0x1F
        t.vlen = info & 0xFFFF
        t.kflag = info >> 31
        t.name = self._name(bt.name_off)
        t.size = t.ref = bt.size_or_type
        t.signed = False
        t.bits = 0
        t.members = t.params = None
        t.elem = None
        t.nelems = 0
        extra = ffi.cast("char *", bt) + ffi.sizeof("struct btf_type")
        if t.kind == INT:
            enc = ffi.cast("__u32 *", extra)[0]
            t.signed = bool((enc >> 24) & 1)
            t.bits = enc & 0xFF
        elif t.kind in (STRUCT, UNION):
            ms = ffi.cast("struct btf_member *", extra)
            out = []
            for i in range(t.vlen):
                m = ms[i]
                if t.kflag:
                    out.append((self._name(m.name_off), m.type, m.offset & 0xFFFFFF,
                                m.offset >> 24))
                else:
                    out.append((self._name(m.name_off), m.type, m.offset, 0))
            t.members = out
        elif t.kind == FUNC_PROTO:
            ps = ffi.cast("struct btf_param *", extra)
            t.params = [(self._name(ps[i].name_off), ps[i].type) for i in range(t.vlen)]
        elif t.kind == ARRAY:
            a = ffi.cast("struct btf_array *", extra)[0]
            t.elem, t.nelems = a.type, a.nelems
        elif t.kind == ENUM:
            t.signed = bool(t.kflag)
        self._cache[tid] = t
        return t

    def resolve(self, tid: int) -> KType:
        """Skip typedefs and qualifiers."""
        t = self.type(tid)
        while t.kind in _MODIFIERS:
            t = self.type(t.ref)
        return t

    def sizeof(self, tid: int) -> int:
        r = lib().btf__resolve_size(self._btf, tid)
        if r < 0:
            raise KeyError(tid)
        return r

    def find_struct(self, name: str):
        """Id of `struct name` (or union), None if absent."""
        return self.find(name, STRUCT) or self.find(name, UNION)

    def find_typedef(self, name: str):
        return self.find(name, TYPEDEF)

    def member(self, tid: int, name: str):
        """(type id, byte offset, bitfield size) of member `name` of struct/union tid,
        searching anonymous members; None if absent."""
        t = self.resolve(tid)
        if t.kind not in (STRUCT, UNION):
            return None
        for mname, mtype, bitoff, bsize in t.members:
            if mname == name:
                if bsize or bitoff % 8:
                    return (mtype, bitoff // 8, bsize or 1, bitoff % 8)
                return (mtype, bitoff // 8, 0, 0)
            if not mname:
                sub = self.member(mtype, name)
                if sub is not None:
                    return (sub[0], bitoff // 8 + sub[1], sub[2], sub[3])
        return None

    def enum_has(self, enum: str, name: str) -> bool:
        """True if the kernel's `enum` has the enumerator `name`."""
        return self.enum_value(enum, name) is not None

    def enum_value(self, enum: str, name: str):
        """The value of enumerator `name` of the kernel's `enum` (a 32-bit
        BTF enum), None if absent."""
        tid = self.find(enum, ENUM)
        if tid is None:
            return None
        bt = lib().btf__type_by_id(self._btf, tid)
        vals = ffi.cast("__s32 *", ffi.cast("char *", bt) + ffi.sizeof("struct btf_type"))
        for i in range(bt.info & 0xFFFF):
            if self._name(vals[2 * i]) == name:
                return int(vals[2 * i + 1])
        return None

    def func_proto(self, func: str):
        """[(param name, type id)] of kernel function `func`, None if unknown."""
        fid = self.find(func, FUNC)
        if fid is None:
            return None
        proto = self.type(self.type(fid).ref)
        return proto.params if proto.kind == FUNC_PROTO else None

    def func_return(self, func: str):
        fid = self.find(func, FUNC)
        if fid is None:
            return None
        proto = self.type(self.type(fid).ref)
        return proto.ref

    def type_name(self, tid: int) -> str:
        """C spelling of a type, for messages and --ebpf listings."""
        if tid == 0:
            return "void"
        t = self.type(tid)
        if t.kind == PTR:
            return self.type_name(t.ref) + " *"
        if t.kind == ARRAY:
            return f"{self.type_name(t.elem)}[{t.nelems}]"
        if t.kind in (CONST, VOLATILE, RESTRICT, TYPE_TAG):
            return self.type_name(t.ref)
        prefix = {STRUCT: "struct ", UNION: "union ", ENUM: "enum ", ENUM64: "enum ",
                  FWD: "struct "}
        return prefix.get(t.kind, "") + (t.name or "(anon)")


_vmlinux = None


def vmlinux() -> KernelBtf:
    """The kernel BTF, loaded once per process."""
    global _vmlinux
    if _vmlinux is None:
        _vmlinux = KernelBtf()
    return _vmlinux


def attach_btf_id(name: str, kind: int):
    """BTF id of a kernel FUNC or TYPEDEF (tp_btf/fentry attach targets), or None."""
    return vmlinux().find(name, kind)
