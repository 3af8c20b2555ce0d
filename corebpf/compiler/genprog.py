"""Programs and maps made at run time (no ELF object): load, attach, own, close.

    with GenObject("funccount") as g:
        counts = g.create_map("counts", ARRAY, 4, 8, n)
        a = Asm(); ...; a.ld_map_fd(R1, counts.fd, "counts"); ...
        p = g.load_program("count_0", "tracepoint", a)
        g.attach_tracepoint(p, "syscalls", "sys_enter_openat")
        ...                                   # counts.items()
    # leaving the block detaches every link and closes every fd

The multi-tools (trace, argdist, funccount, funclatency, stackcount) compile
probe specs into instructions (corebpf.bpfasm) and load them through
libbpf's low-level API (bpf_map_create, bpf_prog_load, bpf_link_create,
bpf_raw_tracepoint_open).  Attach paths: classic tracepoints
(perf_event_open PERF_TYPE_TRACEPOINT), raw_tp, tp_btf and fentry/fexit
(attach_btf_id from vmlinux BTF through libbpf), kprobes/kretprobes and
uprobes/uretprobes through their perf PMUs (uprobes by file offset; symbol
resolution is the caller's).  Like corebpf.Object, a GenObject owns every
link made from its programs: close() (idempotent) detaches everything.
"""
from __future__ import annotations

import errno
import os

from ..core import _log, features, loadonly
from ..core._libbpf import LibbpfUnavailable, ffi, lib, libc
from ..core.btf import OpaqueCodec, ScalarCodec
from ..core.errors import AttachError, ConfigError, LibbpfError, LoadError, MapError, MissingFeature
from ..core.maps import Map
# uprobe_multi links (6.6) are made the same way for corebpf.Object
from ..core.umulti import ATTACH_UPROBE_MULTI, UPROBE_MULTI_RETURN  # noqa: F401
from ..core.umulti import available as uprobe_multi  # noqa: F401
from ..core.umulti import link_create as _uprobe_multi_link

# enum bpf_prog_type
# The license the kernel is told for generated programs: the shipped objects' (bpf_src/
# corebpf.bpf.h), GPL-compatible so that GPL-only helpers (bpf_probe_read_*) may be called.
LICENSE = "Dual BSD/GPL"
PROG_TYPES = {"kprobe": 2, "tracepoint": 5, "perf_event": 7, "raw_tp": 17, "tracing": 26}
# enum bpf_attach_type
ATTACH_TRACE_RAW_TP, ATTACH_FENTRY, ATTACH_FEXIT, ATTACH_PERF_EVENT = 23, 24, 25, 41
# enum bpf_map_type
HASH, ARRAY, PERF_EVENT_ARRAY, PERCPU_ARRAY, STACK_TRACE, CGROUP_ARRAY, RINGBUF = \
    1, 2, 4, 6, 7, 8, 27
# map flags
F_STACK_BUILD_ID = 1 << 5

# perf events (opened through corebpf.perf.perf_event_open)
PERF_TYPE_TRACEPOINT = 2
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408

LOG_BUF_SIZE = 1 << 22


def _libbpf():
    try:
        L = lib()
    except LibbpfUnavailable as e:
        raise LibbpfError(str(e)) from None
    _log.install()
    return L


def _raw_codec(size: int):
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}.get(size)
    return ScalarCodec(fmt, size) if fmt else OpaqueCodec(size)


class GenMap(Map):
    """A map created at run time; keys/values decode with the given codecs
    (raw integers or bytes by default)."""

    def __init__(self, owner, name, mtype, fd, key_size, value_size, max_entries,
                 key_codec=None, value_codec=None):
        self._obj = owner
        self._ptr = None
        self.name = name
        self._type = mtype
        self._fd = fd
        self._ks, self._vs, self._n = key_size, value_size, max_entries
        self._kc = key_codec or (_raw_codec(key_size) if key_size else None)
        self._vc = value_codec or (_raw_codec(value_size) if value_size else None)
        self._batch_ok = None

    type = property(lambda self: self._type)
    key_size = property(lambda self: self._ks)
    value_size = property(lambda self: self._vs)
    max_entries = property(lambda self: self._n)
    key_codec = property(lambda self: self._kc)
    value_codec = property(lambda self: self._vc)

    @property
    def fd(self) -> int:
        if self._fd < 0:
            raise MapError(errno.EBADF, "map", self.name, message="map is closed")
        return self._fd

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class GenProgram:
    """A loaded program: name, kind, fd, and the instructions it was made of."""

    def __init__(self, owner, name, kind, fd, asm):
        self._owner = owner
        self.name = name
        self.kind = kind
        self._fd = fd
        self.asm = asm
        self.expected_attach_type = 0

    @property
    def fd(self) -> int:
        return self._fd

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self):
        return f"<GenProgram {self.name} {self.kind}>"


class FdLink:
    """An attachment made of file descriptors (a BPF link and/or a perf event)."""

    __slots__ = ("fds", "program", "target", "kind")

    def __init__(self, fds, program, target, kind):
        self.fds = list(fds)
        self.program = program
        self.target = target
        self.kind = kind

    def destroy(self):
        """Detach (idempotent): the link first, then the perf event."""
        fds, self.fds = self.fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __repr__(self):
        return f"<FdLink {self.program} -> {self.target}>"


def _pmu_type(pmu: str) -> int:
    try:
        with open(f"/sys/bus/event_source/devices/{pmu}/type") as f:
            return int(f.read())
    except (OSError, ValueError):
        raise MissingFeature(f"{pmu}s (no {pmu} PMU in /sys/bus/event_source/devices; "
                             f"CONFIG_{pmu.upper()}S)") from None


def _retprobe_bit(pmu: str) -> int:
    try:
        with open(f"/sys/bus/event_source/devices/{pmu}/format/retprobe") as f:
            text = f.read().strip()           # "config:0"
        return 1 << int(text.split(":")[1])
    except (OSError, ValueError, IndexError):
        return 1


def tracepoint_id(category: str, name: str) -> int:
    """The perf id of tracepoint category:name (tracefs events/CAT/NAME/id)."""
    base = features.tracefs()
    try:
        with open(os.path.join(base, "events", category, name, "id")) as f:
            return int(f.read())
    except (OSError, ValueError):
        raise AttachError(errno.ENOENT, "tracepoint", f"{category}:{name}",
                          hint="no such tracepoint on this kernel") from None


class GenObject:
    """Owner of run-time programs, maps and links (see the module docstring)."""

    def __init__(self, name: str = "gen"):
        _libbpf()
        self.name = name
        self.maps = {}
        self.programs = {}
        self.links = []
        self._consumers = []
        self._counters = {}      # counter name -> (map, index)
        self._closed = False
        self._map_bytes = 0      # kernel memory of the maps created

    # -- maps ---------------------------------------------------------------------
    def create_map(self, name: str, mtype: int, key_size: int, value_size: int,
                   max_entries: int, flags: int = 0, key_codec=None,
                   value_codec=None, sized_by: str = None) -> GenMap:
        """Create a map; raise MapError (ConfigError for a name already used,
        TooLarge for one bigger than a sane share of the memory available:
        `sized_by` names the option that chose its size)."""
        if name in self.maps:
            raise ConfigError(f"{self.name}: a map named {name!r} exists already")
        if not 0 < max_entries < 2**32 or not 0 <= key_size < 2**32 or \
                not 0 <= value_size < 2**32:
            raise MapError(errno.EINVAL, "bpf_map_create", name, hint="",
                           message=f"{max_entries} entries of {key_size}+{value_size} "
                                   "bytes do not fit 32 bits")
        from ..core.maps import check_memory, kernel_bytes
        from ..core.features import possible_cpus
        need = kernel_bytes(mtype, key_size, value_size, max_entries, possible_cpus())
        check_memory([(name, need, sized_by)], self.name, already=self._map_bytes)
        self._map_bytes += need
        L = lib()
        opts = ffi.new("struct bpf_map_create_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_create_opts")
        opts.map_flags = flags
        _log.clear()
        fd = L.bpf_map_create(mtype, name[:15].encode(), key_size, value_size,
                              max_entries, opts)
        if fd < 0:
            raise MapError(-fd, "bpf_map_create", name, log=_log.take())
        m = GenMap(self, name, mtype, fd, key_size, value_size, max_entries,
                   key_codec, value_codec)
        self.maps[name] = m
        return m

    def add_counter(self, name: str, map_name: str, index: int):
        """Let read_counter(name) read u64 slot `index` of array map `map_name`
        (e.g. the count of records a program could not reserve)."""
        self._counters[name] = (map_name, index)

    def read_counter(self, name: str) -> int:
        spec = self._counters.get(name)
        if spec is None:
            return 0
        m = self.maps[spec[0]]
        v = m.get(spec[1], 0)
        return sum(v) if isinstance(v, list) else v

    # -- programs -------------------------------------------------------------------
    def load_program(self, name: str, kind: str, asm, attach_btf_id: int = 0,
                     expected_attach_type: int = 0,
                     license: str = None) -> GenProgram:
        """Load `asm` (a bpfasm.Asm or list of Insn) as program type `kind`
        (kprobe, tracepoint, raw_tp, tracing, perf_event); raise LoadError
        with the verifier log."""
        from .bpfasm import encode
        if name in self.programs:
            raise ConfigError(f"{self.name}: a program named {name!r} exists already")
        L = lib()
        insns = asm.assemble() if hasattr(asm, "assemble") else list(asm)
        code = encode(insns)
        buf = ffi.new("char[]", code)
        ptype = PROG_TYPES[kind]
        pname = "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:15]

        def attempt(log_level):
            opts = ffi.new("struct bpf_prog_load_opts *")
            opts.sz = ffi.sizeof("struct bpf_prog_load_opts")
            opts.expected_attach_type = expected_attach_type
            opts.attach_btf_id = attach_btf_id
            log = None
            if log_level:
                log = ffi.new("char[]", LOG_BUF_SIZE)
                opts.log_buf = log
                opts.log_size = LOG_BUF_SIZE
                opts.log_level = log_level
            _log.clear()
            fd = L.bpf_prog_load(ptype, pname.encode(), (license or LICENSE).encode(), buf,
                                 len(insns), opts)
            text = ffi.string(log).decode("utf-8", "replace") if log is not None else ""
            return fd, text

        fd, _ = attempt(0)
        if fd < 0:
            err = -fd
            fd, text = attempt(1)
            if fd < 0:
                log = text.splitlines() + _log.take()
                if kind == "tracing" and err == errno.EPERM:
                    raise MissingFeature(
                        f"{self.name}: this kernel refuses fentry/fexit programs "
                        f"(load of {name} failed with EPERM)")
                raise LoadError(err, "bpf_prog_load", name, log=log,
                                hint="rejected by the verifier" if text else None)
        p = GenProgram(self, name, kind, fd, asm)
        p.expected_attach_type = expected_attach_type
        self.programs[name] = p
        return p

    # -- attach -----------------------------------------------------------------------
    def _perf_event_open(self, ptype: int, config: int, config1: int = 0,
                         config2: int = 0, pid: int = -1, what: str = "") -> int:
        """A perf event for a BPF program (corebpf.perf.perf_event_open): on
        CPU 0 for every process (pid -1), or bound to process `pid`."""
        from ..core.perf import perf_event_open
        try:
            return perf_event_open(ptype, config, cpu=0 if pid == -1 else -1, pid=pid,
                                   config1=config1, config2=config2, what=what)
        except AttachError as e:
            raise AttachError(e.errno, "perf_event_open", what,
                              hint="no such probe point on this kernel"
                              if e.errno in (errno.ENOENT, errno.EINVAL) else None) from None

    def _attach_perf(self, prog: GenProgram, pfd: int, target: str, kind: str,
                     cookie: int = 0) -> FdLink:
        L = lib()
        opts = ffi.new("struct bpf_link_create_opts *")
        opts.sz = ffi.sizeof("struct bpf_link_create_opts")
        opts.perf_event.bpf_cookie = cookie
        lfd = L.bpf_link_create(prog.fd, pfd, ATTACH_PERF_EVENT, opts)
        fds = [pfd]
        if lfd >= 0:
            fds = [lfd, pfd]
        else:
            # kernels before 5.15: the ioctl interface (no cookies)
            if libc.ioctl(pfd, ffi.cast("unsigned long", PERF_EVENT_IOC_SET_BPF),
                          ffi.cast("int", prog.fd)) < 0:
                err = ffi.errno
                os.close(pfd)
                raise AttachError(err, "PERF_EVENT_IOC_SET_BPF", f"{prog.name} -> {target}")
        if libc.ioctl(pfd, ffi.cast("unsigned long", PERF_EVENT_IOC_ENABLE),
                      ffi.cast("int", 0)) < 0:
            err = ffi.errno
            for fd in fds:
                os.close(fd)
            raise AttachError(err, "PERF_EVENT_IOC_ENABLE", f"{prog.name} -> {target}")
        link = FdLink(fds, prog.name, target, kind)
        self.links.append(link)
        return link

    def attach_tracepoint(self, prog: GenProgram, category: str, name: str,
                          cookie: int = 0) -> FdLink:
        """Attach a tracepoint program to category:name."""
        loadonly.stop(self.name, ["tracepoint"])
        tid = tracepoint_id(category, name)
        pfd = self._perf_event_open(PERF_TYPE_TRACEPOINT, tid, what=f"{category}:{name}")
        return self._attach_perf(prog, pfd, f"{category}:{name}", "tracepoint", cookie)

    def attach_kprobe(self, prog: GenProgram, func: str, retprobe: bool = False,
                      offset: int = 0, cookie: int = 0) -> FdLink:
        """Attach a kprobe program at kernel function `func` (+offset), or its return."""
        if not features.kprobes():
            raise MissingFeature("kprobes (CONFIG_KPROBES): this kernel cannot probe "
                                 "kernel functions with kprobes")
        loadonly.stop(self.name, ["kprobe"])
        ptype = _pmu_type("kprobe")
        name = ffi.new("char[]", func.encode())
        config = _retprobe_bit("kprobe") if retprobe else 0
        pfd = self._perf_event_open(ptype, config, int(ffi.cast("uintptr_t", name)), offset,
                                    what=func)
        return self._attach_perf(prog, pfd, func, "kprobe", cookie)

    def attach_uprobe(self, prog: GenProgram, path: str, offset: int,
                      retprobe: bool = False, pid: int = -1, cookie: int = 0,
                      ref_ctr_offset: int = 0) -> FdLink:
        """Attach a kprobe-type program to file offset `offset` of binary `path`
        (the caller resolves symbols; pid -1 means every process).
        ref_ctr_offset: file offset of a USDT semaphore the kernel counts up
        while the probe is attached (Linux 4.20)."""
        loadonly.stop(self.name, ["uprobe"])
        if prog.expected_attach_type == ATTACH_UPROBE_MULTI:
            return self._attach_uprobe_multi(prog, path, offset, retprobe, pid, cookie,
                                             ref_ctr_offset)
        ptype = _pmu_type("uprobe")
        cpath = ffi.new("char[]", os.fsencode(path))
        config = _retprobe_bit("uprobe") if retprobe else 0
        if ref_ctr_offset:
            config |= ref_ctr_offset << 32          # format/ref_ctr_offset: config:32-63
        pfd = self._perf_event_open(ptype, config, int(ffi.cast("uintptr_t", cpath)), offset,
                                    pid=pid, what=f"{path}:{offset:#x}")
        return self._attach_perf(prog, pfd, f"{path}:{offset:#x}", "uprobe", cookie)

    def _attach_uprobe_multi(self, prog, path, offset, retprobe, pid, cookie,
                             ref_ctr_offset) -> FdLink:
        """A uprobe through a BPF uprobe_multi link (a program loaded with
        expected_attach_type ATTACH_UPROBE_MULTI): unlike a perf event, closing
        it does not wait for an RCU grace period under the kernel's global
        trace event lock, so many of them detach in parallel."""
        fd = _uprobe_multi_link(prog.fd, path, [offset], [ref_ctr_offset], [cookie],
                                UPROBE_MULTI_RETURN if retprobe else 0,
                                pid if pid and pid > 0 else 0)
        if fd < 0:
            raise AttachError(-fd, "bpf_link_create(uprobe_multi)",
                              f"{path}:{offset:#x}",
                              hint="no such process" if -fd == errno.ESRCH else None)
        link = FdLink([fd], prog.name, f"{path}:{offset:#x}", "uprobe")
        self.links.append(link)
        return link

    def attach_raw_tracepoint(self, prog: GenProgram, name: str = None) -> FdLink:
        """Attach a raw_tp program to tracepoint `name`, or a tracing program
        (tp_btf, fentry, fexit) to the target it was loaded for (name None)."""
        loadonly.stop(self.name, ["raw_tp" if name else
                                  "fentry" if prog.kind == "tracing" else prog.kind])
        L = lib()
        fd = L.bpf_raw_tracepoint_open(name.encode() if name else ffi.NULL, prog.fd)
        if fd < 0:
            raise AttachError(-fd, "bpf_raw_tracepoint_open", f"{prog.name} -> {name or ''}")
        link = FdLink([fd], prog.name, name or prog.name, "raw_tp" if name else "tracing")
        self.links.append(link)
        return link

    # -- events -------------------------------------------------------------------------
    def ring_buffer(self, map_name: str, callback):
        """A corebpf RingBuffer delivering raw record bytes of `map_name` to callback."""
        from ..core.events import RingBuffer
        rb = RingBuffer(self)
        self._consumers.append(rb)
        rb.add(map_name, callback, raw=True)
        return rb

    # -- teardown -------------------------------------------------------------------------
    def detach(self):
        """Destroy every link; perf-event ones in parallel (each waits for an RCU
        grace period in the kernel)."""
        links, self.links = self.links, []
        if len(links) > 1:
            import threading
            per = (len(links) + 31) // 32          # at most 32 threads

            def run(chunk):
                for ln in chunk:
                    ln.destroy()
            threads = [threading.Thread(target=run, args=(links[i:i + per],), daemon=True)
                       for i in range(0, len(links), per)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for ln in links:
                ln.destroy()

    def close(self):
        """Detach everything and close every program and map (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for c in self._consumers:
            c.close()
        self._consumers = []
        try:
            self.detach()
        finally:
            for p in self.programs.values():
                p.close()
            for m in self.maps.values():
                m.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return f"<GenObject {self.name} {len(self.programs)} programs>"
