"""`corebpf skel FILE.bpf.o`: a Python module stub for a compiled object, the
Python counterpart of `bpftool gen skeleton`, read from the object's BTF.

    corebpf skel hello.bpf.o > hello_skel.py

The stub has one class named after the object with a property per program,
map and global variable (config in .rodata is settable before load), a
`NAME_buffer(callback)` method per ring/perf buffer with a declared record
type, and a typing.NamedTuple per record type with the fields (and names)
that corebpf decodes at run time.  It is plain Python to edit and keep.
Nothing here touches the kernel or libbpf: the ELF and BTF are read from the
file, so it runs anywhere, for objects of any architecture.
"""
from __future__ import annotations

import keyword
import os
import re
import struct
import sys

from .core import btf as B
from .toolchain import ElfObject, ToolchainError

MAP_TYPES = {
    1: "HASH", 2: "ARRAY", 3: "PROG_ARRAY", 4: "PERF_EVENT_ARRAY", 5: "PERCPU_HASH",
    6: "PERCPU_ARRAY", 7: "STACK_TRACE", 8: "CGROUP_ARRAY", 9: "LRU_HASH",
    10: "LRU_PERCPU_HASH", 11: "LPM_TRIE", 12: "ARRAY_OF_MAPS", 13: "HASH_OF_MAPS",
    14: "DEVMAP", 15: "SOCKMAP", 16: "CPUMAP", 17: "XSKMAP", 18: "SOCKHASH",
    19: "CGROUP_STORAGE", 20: "REUSEPORT_SOCKARRAY", 21: "PERCPU_CGROUP_STORAGE",
    22: "QUEUE", 23: "STACK", 24: "SK_STORAGE", 25: "DEVMAP_HASH", 26: "STRUCT_OPS",
    27: "RINGBUF", 28: "INODE_STORAGE", 29: "TASK_STORAGE", 30: "BLOOM_FILTER",
    31: "USER_RINGBUF", 32: "CGRP_STORAGE",
}
PERCPU = {"PERCPU_HASH", "PERCPU_ARRAY", "LRU_PERCPU_HASH", "PERCPU_CGROUP_STORAGE"}
_CLASS_MEMBERS = {"obj", "load", "attach", "close"}
STT_OBJECT = 1


class SkelError(ToolchainError):
    """The file is not a BPF object this can describe (one line)."""


def _camel(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Object"
    return "_" + out if out[0].isdigit() else out


def _ident(name: str, taken: set, suffix: str) -> str:
    n = re.sub(r"\W", "_", name) or "_"
    if n[0].isdigit():
        n = "_" + n
    if keyword.iskeyword(n) or n in taken or n in _CLASS_MEMBERS or n.startswith("__"):
        n = f"{n}_{suffix}"
    base, i = n, 2
    while n in taken:
        n = f"{base}{i}"
        i += 1
    taken.add(n)
    return n


def _global_objects(e: ElfObject) -> set:
    """Names of the object's global variables (static ones are not config)."""
    out = set()
    for s in e.sections:
        if s[1] != 2:           # SHT_SYMTAB
            continue
        stroff = e.sections[s[5]][3]
        for off in range(s[3], s[3] + s[4], s[6] or 24):
            name, info = struct.unpack_from("<IB", e.data, off)
            if info & 0xF == STT_OBJECT and info >> 4 in (1, 2):     # GLOBAL, WEAK
                out.add(e._cstr(stroff, name))
    return out


class Skeleton:
    """What `corebpf skel` reads from one object file."""

    def __init__(self, path: str):
        self.path = path
        self.elf = ElfObject(path)
        if self.elf.machine != 247:
            raise SkelError(f"{path}: not a BPF object (ELF machine {self.elf.machine})")
        raw = self.elf.section(".BTF")
        if raw is None:
            raise SkelError(f"{path}: no BTF (.BTF section): build it with corebpf compile")
        try:
            self.btf = B.Btf(raw)
        except B.BtfFormatError as e:
            raise SkelError(f"{path}: bad BTF: {e}") from None
        self.name = os.path.basename(path).split(".")[0]
        self.programs = self.elf.programs()
        self.events = {}            # map name -> record type id
        self.exported = []          # (tag, type id)
        self.globals = {}           # section -> [(name, type id)]
        names = _global_objects(self.elf)
        for sec in (".rodata", ".bss", ".data"):
            for var, (tid, _off, _size) in self.btf.datasec(sec).items():
                if var.startswith("__corebpf_event__"):
                    t = self.btf.resolve(tid)
                    if t.kind == B.PTR:
                        self.events[var[len("__corebpf_event__"):]] = t.ref
                elif var.startswith("__corebpf_type__"):
                    t = self.btf.resolve(tid)
                    if t.kind == B.PTR:
                        self.exported.append((var[len("__corebpf_type__"):], t.ref))
                elif not var.startswith("__corebpf") and var in names:
                    self.globals.setdefault(sec, []).append((var, tid))
        self.maps = [self._map(n, tid) for n, (tid, _o, _s) in self.btf.datasec(".maps").items()]

    def _map(self, name: str, tid: int) -> dict:
        m = {"name": name, "type": "?", "key": None, "value": None, "max_entries": None}
        t = self.btf.resolve(tid)
        if t.kind != B.STRUCT:
            return m
        for mname, mtype, _boff, _bits in t.extra:
            ptr = self.btf.resolve(mtype)
            if ptr.kind != B.PTR:
                continue
            target = self.btf.resolve(ptr.ref)
            if mname in ("type", "max_entries", "key_size", "value_size", "map_flags") and \
                    target.kind == B.ARRAY:
                n = target.extra[2]
                m[mname] = MAP_TYPES.get(n, str(n)) if mname == "type" else n
            elif mname in ("key", "value"):
                m[mname] = ptr.ref
        return m

    # -- Python types -------------------------------------------------------------------
    def record_types(self) -> dict:
        """{type id: class name} of every struct the stub declares, nested first."""
        order = {}
        taken = set()

        def visit(tid):
            if tid is None:
                return
            c = self.btf.codec(tid)
            if not isinstance(c, B.StructCodec):
                if isinstance(c, B.ArrayCodec):
                    t = self.btf.resolve(tid)
                    visit(t.extra[0])
                return
            key = self.btf.resolve(tid).id
            if key in order:
                return
            for fname, _b, _bits, fc in c.fields:
                for sub in self._struct_members(key, fname):
                    visit(sub)
            base = _camel(c.name or f"anon{key}")
            n, i = base, 2
            while n in taken:
                n = f"{base}{i}"
                i += 1
            taken.add(n)
            order[key] = n

        for m in self.maps:
            visit(m["key"])
            visit(m["value"])
        for tid in self.events.values():
            visit(tid)
        for _tag, tid in self.exported:
            visit(tid)
        for vs in self.globals.values():
            for _n, tid in vs:
                visit(tid)
        return order

    def _struct_members(self, struct_id: int, pyname: str):
        """Type ids of the struct members behind decoded field `pyname`."""
        c = self.btf.codec(struct_id)
        names = [f[0] for f in c.fields]
        members = list(B._flatten(self.btf, self.btf.resolve(struct_id)))
        if len(members) == len(names):
            i = names.index(pyname)
            return [members[i][1]]
        return []

    def py_type(self, tid, records: dict) -> str:
        """The annotation of what type `tid` decodes to."""
        if tid is None:
            return "bytes"
        t = self.btf.resolve(tid)
        c = self.btf.codec(tid)
        if isinstance(c, B.StructCodec):
            return records.get(t.id, "tuple")
        if isinstance(c, B.CharArrayCodec):
            return "str"
        if isinstance(c, (B.BytesCodec, B.OpaqueCodec)):
            return "bytes"
        if isinstance(c, B.ArrayCodec):
            return f"Tuple[{self.py_type(t.extra[0], records)}, ...]"
        if isinstance(c, B.ScalarCodec):
            return {"?": "bool", "f": "float", "d": "float"}.get(c.fmt, "int")
        return "int"

    # -- the module text ----------------------------------------------------------------
    def render(self, class_name: str = None) -> str:
        records = self.record_types()
        cls = class_name or _camel(self.name)
        obj_file = os.path.basename(self.path)
        L = []
        w = L.append
        summary = [f"Skeleton of {obj_file}, generated by `corebpf skel`: its programs, maps,",
                   "globals and record types by name, for editors and type checkers.  Records",
                   "decode at run time (from the object's BTF) into namedtuples with these",
                   "fields.", ""]
        summary.append("programs:")
        for p, sec in self.programs:
            summary.append(f"  {p:24} SEC(\"{sec}\")")
        if self.maps:
            summary.append("maps:")
            for m in self.maps:
                summary.append(f"  {m['name']:24} {self._map_text(m, records)}")
        for sec, vs in self.globals.items():
            summary.append(f"{sec}:")
            for n, tid in vs:
                summary.append(f"  {n:24} {self.btf.type_name(tid)}")
        w('"""' + "\n".join(summary).rstrip() + '\n"""')
        w("from __future__ import annotations")
        w("")
        w("import os")
        w("from typing import Callable, NamedTuple, Tuple  # noqa: F401")
        w("")
        w("import corebpf")
        w("")
        w(f"OBJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), {obj_file!r})")
        for tid, rname in records.items():
            c = self.btf.codec(tid)
            w("")
            w("")
            w(f"class {rname}(NamedTuple):")
            w(f'    """{self.btf.type_name(tid)} ({c.size} bytes)"""')
            if not c.fields:
                w("    pass")
            for fname, _boff, bits, _fc in c.fields:
                sub = self._struct_members(tid, fname)
                ann = self.py_type(sub[0], records) if sub else "int"
                ctype = self.btf.type_name(sub[0]) if sub else "?"
                if bits:
                    ctype += f" :{bits}"
                w(f"    {fname}: {ann}  # {ctype}")
        w("")
        w("")
        w(f"class {cls}:")
        w(f'    """{obj_file}: open -> set config -> load() -> attach() -> read maps;')
        w('    close() (or a with block) detaches everything."""')
        w("")
        w("    def __init__(self, path: str = OBJECT, **kw):")
        w('        """Open the object (keyword arguments: those of corebpf.Object)."""')
        w("        self.obj = corebpf.Object.open(path, **kw)")
        w("")
        w(f'    def load(self) -> "{cls}":')
        w('        """Load into the kernel (picks probe variants); returns self."""')
        w("        self.obj.load()")
        w("        return self")
        w("")
        w("    def attach(self) -> list:")
        w('        """Attach every program whose section names its hook; the links."""')
        w("        return self.obj.attach()")
        w("")
        w("    def close(self):")
        w('        """Detach everything and free the object."""')
        w("        self.obj.close()")
        w("")
        w(f'    def __enter__(self) -> "{cls}":')
        w("        return self")
        w("")
        w("    def __exit__(self, *exc):")
        w("        self.close()")
        taken = set()
        if self.programs:
            w("")
            w("    # -- programs " + "-" * 60)
        for p, sec in self.programs:
            ident = _ident(p, taken, "prog")
            w("")
            w("    @property")
            w(f"    def {ident}(self) -> corebpf.Program:")
            w(f'        """SEC("{sec}")"""')
            w(f"        return self.obj.programs[{p!r}]")
        if self.maps:
            w("")
            w("    # -- maps " + "-" * 64)
        for m in self.maps:
            ident = _ident(m["name"], taken, "map")
            w("")
            w("    @property")
            w(f"    def {ident}(self) -> corebpf.Map:")
            w(f'        """{self._map_text(m, records)}"""')
            w(f"        return self.obj.maps[{m['name']!r}]")
            rec = self.events.get(m["name"])
            if rec is not None and m["type"] in ("RINGBUF", "PERF_EVENT_ARRAY"):
                rt = self.py_type(rec, records)
                bident = _ident(m["name"] + "_buffer", taken, "map")
                w("")
                if m["type"] == "RINGBUF":
                    w(f"    def {bident}(self, callback: Callable[[{rt}], None]) "
                      "-> corebpf.RingBuffer:")
                    w(f'        """A RingBuffer calling callback({rt}) per record."""')
                    w(f"        return self.obj.ring_buffer({m['name']!r}, callback)")
                else:
                    w(f"    def {bident}(self, callback: Callable[[{rt}], None], **kw) "
                      "-> corebpf.PerfBuffer:")
                    w(f'        """A PerfBuffer calling callback({rt}) per record."""')
                    w(f"        return self.obj.perf_buffer({m['name']!r}, callback, **kw)")
        attr = {".rodata": "rodata", ".bss": "bss", ".data": "data"}
        for sec, vs in self.globals.items():
            w("")
            what = "config: set before load()" if sec == ".rodata" else "read/write after load()"
            w(f"    # -- {sec} ({what}) " + "-" * max(4, 58 - len(sec) - len(what)))
            for n, tid in vs:
                ident = _ident(n, taken, "var")
                ann = self.py_type(tid, records)
                w("")
                w("    @property")
                w(f"    def {ident}(self) -> {ann}:")
                w(f'        """{self.btf.type_name(tid)} {n}"""')
                w(f"        return self.obj.{attr[sec]}[{n!r}]")
                w("")
                w(f"    @{ident}.setter")
                w(f"    def {ident}(self, value: {ann}):")
                w(f"        self.obj.{attr[sec]}[{n!r}] = value")
        return "\n".join(L) + "\n"

    def _map_text(self, m: dict, records: dict) -> str:
        parts = [str(m["type"])]
        if m["key"] is not None:
            parts.append(f"key {self.py_type(m['key'], records)}")
        if m["value"] is not None:
            v = self.py_type(m["value"], records)
            parts.append(f"value [{v}] (one per CPU)" if m["type"] in PERCPU else f"value {v}")
        if m["max_entries"] is not None:
            parts.append(f"max_entries {m['max_entries']}")
        rec = self.events.get(m["name"])
        if rec is not None:
            parts.append(f"records {self.py_type(rec, records)}")
        return ", ".join(parts)


def main(argv=None, prog: str = "corebpf skel") -> int:
    """`corebpf skel`: print (or write, -o) the stub of an object."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise SkelError(message.replace("\n", " "))

    p = Parser(prog=prog, description="Print a Python module stub for a BPF object "
               "(programs, maps with key/value types, globals, record types), from its BTF.")
    p.add_argument("object", help="the .bpf.o file")
    p.add_argument("-o", "--output", help="write the module here instead of stdout")
    p.add_argument("--class-name", help="the class's name (default: from the file name)")
    try:
        a = p.parse_args(argv)
        if a.class_name is not None and not a.class_name.isidentifier():
            raise SkelError(f"--class-name {a.class_name!r} is not a Python identifier")
        text = Skeleton(a.object).render(a.class_name)
        if a.output:
            try:
                with open(a.output, "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as e:
                raise SkelError(f"{a.output}: {e.strerror}") from None
        else:
            sys.stdout.write(text)
    except ToolchainError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    return 0
