"""BPF maps as Python mappings, keys and values decoded from the map's BTF.

`m[key]`, `m.get(key)`, `m[key] = value`, `del m[key]`, `m.items()`,
`m.keys()`, `m.values()`, `m.clear()`, `len(m)`.  Keys and values decode to
Python objects (ints, records, str for char arrays); per-CPU maps give a
list with one value per possible CPU (`m.sum(key)` adds them up).  Keys may
be given as the decoded form (int, record, dict, tuple) or as raw bytes.
`items()` uses one batched lookup per chunk where the kernel supports it
(5.6+), else walks the keys.  `print_log2_hist()` / `print_linear_hist()`
print bcc's histograms from a map of slot counts.
"""
from __future__ import annotations

import errno

from ._libbpf import ffi, lib
from .btf import (ArrayCodec, BytesCodec, CharArrayCodec, Codec, OpaqueCodec, ScalarCodec,
                  StructCodec)
from .errors import ConfigError, MapError, check_int

# enum bpf_map_type (uapi)
HASH, ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, PERCPU_HASH, PERCPU_ARRAY, \
    STACK_TRACE, CGROUP_ARRAY, LRU_HASH, LRU_PERCPU_HASH = range(1, 11)
RINGBUF = 27
_PERCPU = (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, 21)   # 21: percpu cgroup storage
_ARRAYS = (ARRAY, PERCPU_ARRAY)

BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2


# -- how much kernel memory a map takes -------------------------------------------
#
# Hash and stack maps are preallocated: creating one with 100M entries takes
# ~11 GB at once, and the process cannot act on Ctrl-C meanwhile.  So sizes
# are checked against the memory available before anything is created.

MAX_SHARE = 4           # a tool's maps may take at most 1/MAX_SHARE of what is available
_HTAB_ELEM = 48         # struct htab_elem (64-bit), before key and value
_STACK_BUCKET = 16      # struct stack_map_bucket, before the frames


def _r8(n: int) -> int:
    return (n + 7) & ~7


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def kernel_bytes(mtype: int, key_size: int, value_size: int, max_entries: int,
                 ncpus: int) -> int:
    """Roughly what the kernel allocates for such a map (its preallocated
    elements, per-CPU copies and bucket arrays; kernel/bpf/*.c)."""
    n = max(0, max_entries)
    if mtype in (HASH, LRU_HASH, PERCPU_HASH, LRU_PERCPU_HASH):
        percpu = mtype in (PERCPU_HASH, LRU_PERCPU_HASH)
        elem = _HTAB_ELEM + _r8(key_size) + (8 if percpu else _r8(value_size))
        total = elem * (n + ncpus) + 16 * _pow2(n)
        return total + (_r8(value_size) * n * ncpus if percpu else 0)
    if mtype in (ARRAY, PERCPU_ARRAY):
        return _r8(value_size) * n * (ncpus if mtype == PERCPU_ARRAY else 1)
    if mtype == STACK_TRACE:
        return (_STACK_BUCKET + value_size) * n + 8 * _pow2(n)
    if mtype == RINGBUF:
        return n
    if mtype == PERF_EVENT_ARRAY:
        return 8 * n
    return (_r8(key_size) + _r8(value_size) + 16) * n


def available_memory():
    """Bytes this process may still take: MemAvailable, or less if its cgroup
    (v2) has a lower limit; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/self/cgroup", "rb") as f:
            path = next((ln.strip()[3:] for ln in f if ln.startswith(b"0::")), None)
        if path is not None:
            base = b"/sys/fs/cgroup" + path.rstrip(b"/")
            with open(base + b"/memory.max", "rb") as f:
                lim = f.read().strip()
            if lim != b"max":
                with open(base + b"/memory.current", "rb") as f:
                    left = max(0, int(lim) - int(f.read()))
                avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def human(n: float) -> str:
    """A byte count for people: 11.2 GB, 640 MB, 12 KB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


_STOPPED = object()      # _snapshot(until): the read was abandoned

class TooLarge(MapError):
    """Maps (or buffers) that would take more kernel memory than is sane here."""

    def __init__(self, message: str):
        super().__init__(errno.ENOMEM, "map sizes", message=message)

    def __str__(self):
        return self.strerror


def check_memory(items, owner: str, already: int = 0):
    """Raise TooLarge if `items` [(name, bytes, option that sized it or
    None)] plus `already` bytes would take more than 1/MAX_SHARE of the
    memory available (said in one line, naming the option to lower)."""
    total = already + sum(b for _, b, _ in items)
    avail = available_memory()
    if avail is None or total * MAX_SHARE <= avail:
        return
    name, size, option = max(items, key=lambda it: it[1])
    fix = f"; use a smaller {option}" if option else ""
    raise TooLarge(f"{owner}: its maps would take {human(total)} of kernel memory "
                   f"({name}: {human(size)}), more than 1/{MAX_SHARE} of the "
                   f"{human(avail)} available{fix}")


def _raw_codec(size: int) -> Codec:
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}.get(size)
    return ScalarCodec(fmt, size) if fmt else OpaqueCodec(size)


class Map:
    """A map of an Object, as a Python mapping with keys and values decoded from BTF.

    `name`, `type` (BPF_MAP_TYPE_* number), `key_size`, `value_size`,
    `max_entries` (settable before load), `percpu`, `key_type`/`value_type`
    (the Python types keys and values decode to).  Element access needs the
    Object loaded; errors are MapError (KeyError for a missing key).
    """

    def __init__(self, obj, ptr, btf=None):
        L = lib()
        self._obj = obj
        self._ptr = ptr
        self.name = ffi.string(L.bpf_map__name(ptr)).decode()
        self._btf = btf
        self._kc = self._vc = None
        self._batch_ok = None

    # -- properties read from libbpf ----------------------------------------
    @property
    def type(self) -> int:
        """The map type (enum bpf_map_type: 1 hash, 2 array, 5 per-CPU hash, ...)."""
        return lib().bpf_map__type(self._ptr)

    @property
    def fd(self) -> int:
        """The map's file descriptor (MapError before load)."""
        fd = lib().bpf_map__fd(self._ptr)
        if fd < 0:
            raise MapError(errno.EBADF, "bpf_map__fd", self.name,
                           message="map is not created (object not loaded)")
        return fd

    @property
    def key_size(self) -> int:
        """Bytes per key."""
        return lib().bpf_map__key_size(self._ptr)

    @property
    def value_size(self) -> int:
        """Bytes per value (per CPU, for per-CPU maps)."""
        return lib().bpf_map__value_size(self._ptr)

    @property
    def max_entries(self) -> int:
        """Capacity (ring buffers: bytes); settable before load."""
        return lib().bpf_map__max_entries(self._ptr)

    @max_entries.setter
    def max_entries(self, n: int):
        """Resize before load (ring buffers: bytes, a power-of-two multiple of the page size)."""
        self.resize(n)

    def resize(self, n: int, option: str = None):
        """Set max_entries before load; `option` names the command-line option
        that chose the size (errors about the size name it)."""
        n = int(n)
        if not 0 < n < 2**32:
            fix = f" (lower {option})" if option else ""
            raise MapError(errno.EINVAL, "max_entries", self.name,
                           message=f"{n} entries do not fit 32 bits{fix}", hint="")
        self._obj._record("max_entries", self.name, n)
        check_int(lib().bpf_map__set_max_entries(self._ptr, n),
                  "bpf_map__set_max_entries", self.name, MapError)
        if option:
            self.sized_by = option

    sized_by = None         # the option that chose max_entries (for messages)

    def kernel_bytes(self, ncpus: int) -> int:
        """Roughly the kernel memory this map takes once created."""
        return kernel_bytes(self.type, self.key_size, self.value_size, self.max_entries, ncpus)

    def reuse_pinned(self, path: str):
        """Before load: make this map the one pinned at `path` (bpffs), so the
        programs share it with whoever pinned it (bcc's --cgroupmap maps)."""
        self._obj._record("reuse_pinned", self.name, path)
        self._reuse_pinned(path)

    def _reuse_pinned(self, path: str):
        import os
        L = lib()
        fd = check_int(L.bpf_obj_get(path.encode()), "bpf_obj_get", path, MapError)
        try:
            check_int(L.bpf_map__reuse_fd(self._ptr, fd), "bpf_map__reuse_fd", self.name,
                      MapError)
        finally:
            os.close(fd)

    @property
    def percpu(self) -> bool:
        """True for per-CPU maps (a value is a list, one entry per possible CPU)."""
        return self.type in _PERCPU

    # -- codecs ---------------------------------------------------------------
    @property
    def key_type(self) -> type:
        """What keys decode to: a record class (namedtuple) for structs, else int,
        float, bool, str (char arrays), bytes or tuple.  `m.key_type(pid=1, slot=2)`
        builds a struct key."""
        return _python_type(self.key_codec)

    @property
    def value_type(self) -> type:
        """What values decode to (per CPU, for per-CPU maps); see key_type."""
        return _python_type(self.value_codec)

    @property
    def key_codec(self) -> Codec:
        """The key's BTF codec (decode(bytes), encode(value))."""
        if self._kc is None:
            tid = lib().bpf_map__btf_key_type_id(self._ptr)
            btf = self._btf or self._obj.btf
            self._kc = btf.codec(tid) if tid else _raw_codec(self.key_size)
        return self._kc

    def raw_text(self, raw: bool = True):
        """char[] text in keys and values decodes exact from now on (bytes that
        are not UTF-8 as lone surrogates: what --json writes as \\udcNN), not
        escaped for a terminal; raw=False: escaped (the default).  Returns the map."""
        btf = self._btf or self._obj.btf
        kt = lib().bpf_map__btf_key_type_id(self._ptr)
        vt = lib().bpf_map__btf_value_type_id(self._ptr)
        self._kc = btf.codec(kt, raw) if kt else _raw_codec(self.key_size)
        self._vc = btf.codec(vt, raw) if vt else _raw_codec(self.value_size)
        return self

    @property
    def value_codec(self) -> Codec:
        """The value's BTF codec (one CPU's value for per-CPU maps)."""
        if self._vc is None:
            tid = lib().bpf_map__btf_value_type_id(self._ptr)
            btf = self._btf or self._obj.btf
            self._vc = btf.codec(tid) if tid else _raw_codec(self.value_size)
        return self._vc

    def _vstride(self) -> int:
        return (self.value_size + 7) & ~7

    def _vbuf_size(self) -> int:
        if self.percpu:
            from .features import possible_cpus
            return self._vstride() * possible_cpus()
        return self.value_size

    def _key_bytes(self, key) -> bytes:
        if isinstance(key, (bytes, bytearray)):
            if len(key) != self.key_size:
                raise MapError(errno.EINVAL, "key", self.name,
                               message=f"key is {len(key)} bytes, map wants {self.key_size}")
            return bytes(key)
        return self.key_codec.encode(key)

    def _decode_value(self, buf, off=0):
        vc = self.value_codec
        if self.percpu:
            from .features import possible_cpus
            st = self._vstride()
            return [vc.decode(buf, off + i * st) for i in range(possible_cpus())]
        return vc.decode(buf, off)

    def _value_bytes(self, value) -> bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if self.percpu:
            from .features import possible_cpus
            st = self._vstride()
            out = bytearray(st * possible_cpus())
            vals = value if isinstance(value, (list, tuple)) and len(value) == possible_cpus() \
                else [value] * possible_cpus()
            for i, v in enumerate(vals):
                self.value_codec.encode_into(out, i * st, v)
            return bytes(out)
        return self.value_codec.encode(value)

    # -- element operations ---------------------------------------------------
    def lookup(self, key):
        """Return the value for key, or raise KeyError."""
        v = ffi.new("char[]", self._vbuf_size())
        r = lib().bpf_map_lookup_elem(self.fd, self._key_bytes(key), v)
        if r == -errno.ENOENT:
            raise KeyError(key)
        check_int(r, "bpf_map_lookup_elem", self.name, MapError)
        return self._decode_value(ffi.buffer(v))

    __getitem__ = lookup

    def get(self, key, default=None):
        """Return the value for key, or default."""
        try:
            return self.lookup(key)
        except KeyError:
            return default

    def update(self, key, value, flags: int = BPF_ANY):
        """Set key to value (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST)."""
        check_int(lib().bpf_map_update_elem(self.fd, self._key_bytes(key),
                                            self._value_bytes(value), flags),
                  "bpf_map_update_elem", self.name, MapError)

    __setitem__ = update

    def delete(self, key):
        """Delete key; raise KeyError if absent."""
        r = lib().bpf_map_delete_elem(self.fd, self._key_bytes(key))
        if r == -errno.ENOENT:
            raise KeyError(key)
        check_int(r, "bpf_map_delete_elem", self.name, MapError)

    __delitem__ = delete

    def stack(self, stack_id: int) -> list:
        """Addresses of stack `stack_id` in a BPF_MAP_TYPE_STACK_TRACE map,
        innermost frame first; [] for a negative or absent id (see
        corebpf.Stacks for what negative ids mean)."""
        if stack_id < 0:
            return []
        import struct
        n = self.value_size // 8
        v = ffi.new("__u64[]", n)
        r = lib().bpf_map_lookup_elem(self.fd, ffi.new("__u32 *", stack_id), v)
        if r == -errno.ENOENT:
            return []
        check_int(r, "bpf_map_lookup_elem", self.name, MapError)
        ips = struct.unpack(f"{n}Q", ffi.buffer(v))
        try:
            return list(ips[:ips.index(0)])
        except ValueError:
            return list(ips)

    def walk(self, stack_id: int) -> list:
        """bcc's name for stack(): the addresses of a stack, innermost first."""
        return self.stack(stack_id)

    def __contains__(self, key):
        v = ffi.new("char[]", self._vbuf_size())
        return lib().bpf_map_lookup_elem(self.fd, self._key_bytes(key), v) == 0

    # -- iteration ------------------------------------------------------------
    def _raw_keys(self):
        if self.type in _ARRAYS:
            ks = self.key_size
            for i in range(self.max_entries):
                yield i.to_bytes(ks, "little")
            return
        L = lib()
        fd = self.fd
        ks = self.key_size
        cur = ffi.new("char[]", ks)
        nxt = ffi.new("char[]", ks)
        r = L.bpf_map_get_next_key(fd, ffi.NULL, nxt)
        while r == 0:
            k = ffi.buffer(nxt)[:]
            yield k
            ffi.memmove(cur, nxt, ks)
            r = L.bpf_map_get_next_key(fd, cur, nxt)
        if r != -errno.ENOENT:
            check_int(r, "bpf_map_get_next_key", self.name, MapError)

    def _items_batch(self, until=None):
        """Raw (key, value buffer, offset) of every element read in batches;
        None if unsupported, _STOPPED if until() said so between batches."""
        L = lib()
        fd = self.fd
        ks, vs = self.key_size, self._vbuf_size()
        chunk = max(1, min(self.max_entries, 4096))
        keys = ffi.new("char[]", ks * chunk)
        vals = ffi.new("char[]", vs * chunk)
        tok = max(ks, 8)
        in_b = ffi.new("char[]", tok)
        out_b = ffi.new("char[]", tok)
        count = ffi.new("__u32 *")
        first = True
        out = []
        while True:
            count[0] = chunk
            r = L.bpf_map_lookup_batch(fd, ffi.NULL if first else in_b, out_b,
                                       keys, vals, count, ffi.NULL)
            n = count[0]
            if r < 0 and r != -errno.ENOENT:
                if first and r in (-errno.EINVAL, -errno.ENOTSUP, -524, -errno.EPERM):
                    return None
                check_int(r, "bpf_map_lookup_batch", self.name, MapError)
            kb = ffi.buffer(keys, ks * n)[:]
            vb = ffi.buffer(vals, vs * n)[:]
            for i in range(n):
                out.append((kb[i * ks:(i + 1) * ks], vb, i * vs))
            if r == -errno.ENOENT:
                return out
            if until is not None and until():
                return _STOPPED
            ffi.memmove(in_b, out_b, tok)
            first = False

    def _snapshot(self, until=None):
        """[(raw key, key, value)] for every element; _STOPPED when until()
        (asked every 4096 elements read or decoded) says so."""
        if self._batch_ok is not False and self.type not in _ARRAYS:
            raw = self._items_batch(until)
            if raw is _STOPPED:
                return raw
            if raw is not None:
                self._batch_ok = True
                kd = self.key_codec.decode
                dv = self._decode_value
                out = []
                for i in range(0, len(raw), 4096):
                    if until is not None and until():
                        return _STOPPED
                    out += [(k, kd(k), dv(vb, off)) for k, vb, off in raw[i:i + 4096]]
                return out
            self._batch_ok = False
        out = []
        L = lib()
        fd = self.fd
        v = ffi.new("char[]", self._vbuf_size())
        vbuf = ffi.buffer(v)
        kd = self.key_codec.decode
        for n, k in enumerate(self._raw_keys(), 1):
            if L.bpf_map_lookup_elem(fd, k, v) == 0:
                out.append((k, kd(k), self._decode_value(vbuf[:])))
            if until is not None and n % 4096 == 0 and until():
                return _STOPPED
        return out

    def items(self, until=None):
        """Return [(key, value)], decoded: one snapshot of the map, read with
        batched lookups (4096 entries a call) where the kernel has them (5.6+).
        until: a callable asked every 4096 elements; when it returns true the
        read is abandoned and items() returns None (a tool's Ctrl-C while it
        reads a map of a million elements: memleak's outstanding allocations)."""
        snap = self._snapshot(until)
        if snap is _STOPPED:
            return None
        return [(k, v) for _, k, v in snap]

    def keys(self):
        """Return every key, decoded (arrays: 0 .. max_entries-1)."""
        kd = self.key_codec.decode
        return [kd(k) for k in self._raw_keys()]

    def values(self):
        """Return every value, decoded (one snapshot)."""
        return [v for _, v in self.items()]

    # -- per-CPU values -------------------------------------------------------
    def sum(self, key):
        """The value for key summed over CPUs (per-CPU maps; records field by
        field); other maps: the value itself.  KeyError if absent."""
        v = self.lookup(key)
        return _reduce(v, sum) if self.percpu else v

    def max(self, key):
        """The largest per-CPU value for key (records field by field)."""
        v = self.lookup(key)
        return _reduce(v, max) if self.percpu else v

    def sum_items(self):
        """[(key, value summed over CPUs)] for every element (other maps: items())."""
        if not self.percpu:
            return self.items()
        return [(k, _reduce(v, sum)) for k, v in self.items()]

    # -- histograms -----------------------------------------------------------
    def _hist(self, bucket_fn=None):
        """None and the slot counts of one histogram, or {bucket: slot counts}.

        Three shapes: values that are records with a `slots` array (corebpf.bpf.h's
        HIST_INC), one histogram per key (one in all for a 1-entry array); integer
        keys that are the slot with counts as values (bcc's BPF_HISTOGRAM); and
        record keys with a `slot` field, one histogram per value of their first
        field (bcc's BPF_HISTOGRAM(name, struct {bucket; slot})).
        """
        items = self.sum_items()
        vt, kt = self.value_codec, self.key_codec
        if isinstance(vt, StructCodec) and "slots" in vt.record._fields:
            if self.type in _ARRAYS and self.max_entries == 1 and not isinstance(kt, StructCodec):
                return None, list(items[0][1].slots) if items else []
            out = {}
            for k, v in items:
                b = bucket_fn(k) if bucket_fn else k
                cur = out.get(b)
                out[b] = list(v.slots) if cur is None else [a + c for a, c in zip(cur, v.slots)]
            return out, None
        if not isinstance(vt, ScalarCodec):
            raise ConfigError(f"map {self.name}: no histogram here (values must be counts, "
                              "or records with a slots array)")
        if isinstance(kt, StructCodec):
            fields = kt.record._fields
            if "slot" not in fields or len(fields) < 2:
                raise ConfigError(f"map {self.name}: histogram keys must be slot numbers or "
                                  "records with a bucket and a slot field")
            first = next(f for f in fields if f != "slot")
            out = {}
            for k, v in items:
                b = getattr(k, first)
                if bucket_fn:
                    b = bucket_fn(b)
                slots = out.setdefault(b, [])
                if k.slot >= len(slots):
                    slots.extend([0] * (k.slot + 1 - len(slots)))
                slots[k.slot] += v
            return out, None
        vals = []
        for k, v in items:
            if not isinstance(k, int) or k < 0:
                raise ConfigError(f"map {self.name}: histogram keys must be slot numbers")
            if k >= len(vals):
                vals.extend([0] * (k + 1 - len(vals)))
            vals[k] += v
        return None, vals

    def _print_hist(self, linear, val_type, section_header, section_print_fn, bucket_fn,
                    bucket_sort_fn, strip_leading_zero, file):
        import sys
        from .. import histogram
        out = file or sys.stdout
        sections, vals = self._hist(bucket_fn)
        if sections is None:
            out.write(histogram.format_linear(vals, val_type) if linear else
                      histogram.format_log2(vals, val_type, strip_leading_zero))
            return
        buckets = list(sections)
        if bucket_sort_fn:
            buckets = bucket_sort_fn(buckets)
        for b in buckets:
            shown = section_print_fn(b) if section_print_fn else repr(b)
            out.write("\n%s = %s\n" % (section_header, shown))
            out.write(histogram.format_linear(sections[b], val_type) if linear else
                      histogram.format_log2(sections[b], val_type, strip_leading_zero))

    def print_log2_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                        section_print_fn=None, bucket_fn=None, strip_leading_zero: bool = False,
                        bucket_sort_fn=None, file=None):
        """Print this map's log2 histogram(s) as bcc's Table.print_log2_hist does,
        byte for byte (see the map shapes in the module doc).  val_type labels the
        value column; with one histogram per bucket each gets a
        "<section_header> = <bucket>" line (section_print_fn(bucket) formats the
        bucket, bucket_fn(key) maps keys to buckets, bucket_sort_fn(list) orders
        them).  Writes to `file` (default sys.stdout)."""
        self._print_hist(False, val_type, section_header, section_print_fn, bucket_fn,
                         bucket_sort_fn, strip_leading_zero, file)

    def print_linear_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                          section_print_fn=None, bucket_fn=None, bucket_sort_fn=None,
                          file=None):
        """Print this map's linear histogram(s) as bcc's print_linear_hist: slot n
        counts the value n.  Arguments as for print_log2_hist()."""
        self._print_hist(True, val_type, section_header, section_print_fn, bucket_fn,
                         bucket_sort_fn, False, file)

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        if self.type in _ARRAYS:
            return self.max_entries
        return sum(1 for _ in self._raw_keys())

    def clear(self):
        """Delete every key (arrays: zero every value)."""
        L = lib()
        fd = self.fd
        if self.type in _ARRAYS:
            zero = bytes(self._vbuf_size())
            for k in self._raw_keys():
                L.bpf_map_update_elem(fd, k, zero, BPF_ANY)
            return
        for k in list(self._raw_keys()):
            r = L.bpf_map_delete_elem(fd, k)
            if r < 0 and r != -errno.ENOENT:
                check_int(r, "bpf_map_delete_elem", self.name, MapError)

    def pop_items(self):
        """Snapshot the items, then delete what was read (arrays: zero them): what
        interval tools print each interval."""
        snap = self._snapshot()
        if self.type in _ARRAYS:
            self.clear()
        else:
            self._delete_raw([raw for raw, _, _ in snap])
        return [(k, v) for _, k, v in snap]

    def pop_sum_items(self):
        """pop_items() with per-CPU values summed over CPUs (other maps: pop_items())."""
        items = self.pop_items()
        return [(k, _reduce(v, sum)) for k, v in items] if self.percpu else items

    def delete_batch(self, keys) -> int:
        """Delete these keys (decoded or raw) with batched deletes (5.6+; else one
        by one); keys already gone are skipped.  Returns how many were deleted."""
        return self._delete_raw([self._key_bytes(k) for k in keys])

    def _delete_raw(self, raws) -> int:
        L = lib()
        fd = self.fd
        if self._batch_ok is not False and len(raws) > 1 and self.type not in _ARRAYS:
            count = ffi.new("__u32 *", len(raws))
            r = L.bpf_map_delete_batch(fd, b"".join(raws), count, ffi.NULL)
            if r == 0:
                return len(raws)
            # a key gone meanwhile (ENOENT) stops the batch: finish one by one
            raws = raws[count[0]:] if r == -errno.ENOENT else raws
            done = count[0] if r == -errno.ENOENT else 0
        else:
            done = 0
        for raw in raws:
            r = L.bpf_map_delete_elem(fd, raw)
            if r == 0:
                done += 1
            elif r != -errno.ENOENT:
                check_int(r, "bpf_map_delete_elem", self.name, MapError)
        return done

    def __repr__(self):
        return f"<Map {self.name!r} type={self.type}>"


def _python_type(codec: Codec) -> type:
    if isinstance(codec, StructCodec):
        return codec.record
    if isinstance(codec, CharArrayCodec):
        return str
    if isinstance(codec, (BytesCodec, OpaqueCodec)):
        return bytes
    if isinstance(codec, ArrayCodec):
        return tuple
    if isinstance(codec, ScalarCodec):
        return {"?": bool, "f": float, "d": float}.get(codec.fmt, int)
    return int


def _reduce(values, op):
    """Combine per-CPU values: numbers with op, records and tuples field by field."""
    first = values[0]
    if isinstance(first, (int, float)):
        return op(values)
    if isinstance(first, tuple):
        parts = [_reduce([v[i] for v in values], op) for i in range(len(first))]
        return first._make(parts) if hasattr(first, "_fields") else tuple(parts)
    return first
