"""A BPF object: open -> configure -> load -> attach -> close.

    with Object.open("biolatency") as obj:
        obj.rodata.targ_ms = True                # config, by variable name
        obj.programs["insert__btf"].autoload = False
        obj.load()                                # picks probe variants
        obj.attach()
        ...

Programs named HOOK__VARIANT are alternatives.  At load the Object keeps,
for the whole object, the best variant the running kernel can serve
(tp_btf, raw_tp, classic tracepoint, fentry, kprobe, in that order) and
disables the rest.  COREBPF_PROBE=<kind> (or Object(probe=...)) forces a
kind, or a variant by name.  If a variant fails to load (a kernel that
refuses fentry, say), the object is reopened with the configuration
replayed and the next variant tried.  Globals named __corebpf_nargs__TP
(TP_NARGS_DECLARE in corebpf.bpf.h) are set before load to the number of
arguments tracepoint TP passes on the running kernel.  The Object owns
every link made from its programs: closing it detaches everything;
dropping a Link never does.
"""
from __future__ import annotations

import errno
import os
import re
import struct

from . import _log, features, loadonly, privileges, umulti
from ._libbpf import LibbpfUnavailable, ffi, lib
from .btf import Btf, PTR
from .errors import (AttachError, ConfigError, LibbpfError, LoadError,
                     MissingFeature, NoAccess, check_int, check_ptr)
from .maps import Map
from .paths import OBJ_DIR, object_path, unsupported  # noqa: F401  (OBJ_DIR: re-exported)


# What a tp_btf/fentry variant needs and COREBPF_BTF cannot give: the kernel
# resolves their attach points in its own BTF.
_NO_KERNEL_BTF = "{} (they need the running kernel's own BTF, /sys/kernel/btf/vmlinux)"
# Programs of these kinds name their attach point by the kernel's BTF id.
_ATTACH_BTF_KINDS = ("tp_btf", "fentry")
# Read-only globals the library fills before load: __corebpf_nargs__TP is
# how many arguments tracepoint TP passes (TP_NARGS in corebpf.bpf.h).
_NARGS_PREFIX = "__corebpf_nargs__"

# Probe kinds, in the order a variant is preferred.
# usdt.bpf.h's struct __bpf_usdt_spec (libbpf 1.1-1.5): 12 argument specs of
# 16 bytes, the cookie, the argument count; the CPUs whose pt_regs offsets
# corebpf.user.usdt knows
USDT_SPEC_SIZE = 208
USDT_ARCHES = ("x86_64", "aarch64")
KIND_RANK = {"tp_btf": 0, "raw_tp": 1, "tracepoint": 2, "fentry": 3, "kprobe": 4}
_SECTION_KIND = (
    ("tp_btf/", "tp_btf"), ("raw_tp/", "raw_tp"), ("raw_tracepoint/", "raw_tp"),
    ("tracepoint/", "tracepoint"), ("tp/", "tracepoint"),
    ("fentry/", "fentry"), ("fexit/", "fentry"), ("fmod_ret/", "fentry"),
    ("fentry.s/", "fentry"), ("fexit.s/", "fentry"),
    ("kprobe/", "kprobe"), ("kretprobe/", "kprobe"), ("ksyscall/", "kprobe"),
    ("kretsyscall/", "kprobe"), ("kprobe.multi/", "kprobe"), ("kretprobe.multi/", "kprobe"),
    ("kprobe", "kprobe"), ("kretprobe", "kprobe"),      # no target: attached by the tool
    ("fentry", "fentry"), ("fexit", "fentry"),          # no target: set_attach_target()
    ("uprobe", "uprobe"), ("uretprobe", "uprobe"), ("usdt", "usdt"),
    ("perf_event", "perf_event"), ("iter/", "iter"), ("socket", "socket"),
)
AUTO_ATTACH = ("tp_btf", "raw_tp", "tracepoint", "fentry", "kprobe")
_KPROBE_KINDS = ("kprobe", "kretprobe")


_THREAD_LOAD_BYTES = 64 << 20   # maps this big load in a thread (see _load_interruptibly)
_abandoned = []                 # Objects whose load was interrupted (never freed)


def load_in_progress() -> bool:
    """True if a load was interrupted and its thread is still in the kernel:
    the process must then end with os._exit() (Python's finalization would
    free what the thread still uses); the kernel stops the load as the
    process dies."""
    return any(o._load_thread is not None and o._load_thread.is_alive() for o in _abandoned)


class _Cause(str):
    """Why a program cannot be used although the kernel may have its hook
    (tracefs hidden or unreadable); `error` is the exception class to raise."""
    error = None


# Sections that name no target: the program is attached where
# Program.set_attach_target() (or an attach_* call) says.
_BARE_KIND = {"tracepoint": "tracepoint", "tp": "tracepoint", "raw_tp": "raw_tp",
              "raw_tracepoint": "raw_tp", "tp_btf": "tp_btf", "fentry": "fentry",
              "fexit": "fentry", "fmod_ret": "fentry", "fentry.s": "fentry",
              "fexit.s": "fentry"}


def section_kind(section: str) -> str:
    """The probe kind of a program section (tp_btf, raw_tp, tracepoint, fentry,
    kprobe, uprobe, usdt, perf_event, ...; 'other' if unknown)."""
    bare = _BARE_KIND.get(section)
    if bare:
        return bare
    for prefix, kind in _SECTION_KIND:
        if section.startswith(prefix):
            return kind
    return "other"



def _libbpf():
    try:
        L = lib()
    except LibbpfUnavailable as e:
        raise LibbpfError(str(e)) from None
    _log.install()
    return L


class Link:
    """An attachment of a program to a hook, owned by its Object.

    `program` (name), `target` (what it is attached to, for messages) and
    `kind` say what it is; `destroy()` detaches early.  Dropping the Python
    reference never detaches: the Object does, when it is closed.  A libbpf
    `struct bpf_link`, or a bare link fd (uprobe_multi links, which libbpf
    1.1 cannot make).
    """

    __slots__ = ("_ptr", "_fd", "program", "target", "kind")

    def __init__(self, ptr, program: str, target: str, kind: str, fd: int = None):
        self._ptr = ptr
        self._fd = fd
        self.program = program
        self.target = target
        self.kind = kind

    @property
    def fd(self) -> int:
        """The link's file descriptor (-1 once destroyed)."""
        if self._ptr is not None:
            return lib().bpf_link__fd(self._ptr)
        return self._fd if self._fd is not None else -1

    def destroy(self):
        """Detach (idempotent)."""
        if self._ptr is not None:
            p, self._ptr = self._ptr, None
            lib().bpf_link__destroy(p)
        elif self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __repr__(self):
        return f"<Link {self.program} -> {self.target}>"


class Program:
    """A program of an Object: its section, kind, autoload flag, attach methods.

    `name` (the C function), `section` (its SEC() text), `kind` (tp_btf,
    raw_tp, tracepoint, fentry, kprobe, uprobe, usdt, perf_event, ...),
    `hook` and `variant` (a HOOK__VARIANT name split; variant None for other
    names).  Every attach method returns a Link that the Object owns.
    """

    def __init__(self, obj: "Object", ptr):
        L = lib()
        self._obj = obj
        self._ptr = ptr
        self._attach_target = None
        self._target_error = None
        self.name = ffi.string(L.bpf_program__name(ptr)).decode()
        self.section = ffi.string(L.bpf_program__section_name(ptr)).decode()
        self.kind = section_kind(self.section)
        hook, sep, variant = self.name.rpartition("__")
        self.hook, self.variant = (hook, variant) if sep and hook else (self.name, None)
        self.multi = False          # loaded for uprobe_multi links (see Object.load)
        self._attach_target = None

    @property
    def autoload(self) -> bool:
        """Whether load() loads this program (settable before load)."""
        return bool(lib().bpf_program__autoload(self._ptr))

    @autoload.setter
    def autoload(self, on: bool):
        self._obj._record("autoload", self.name, bool(on))
        check_int(lib().bpf_program__set_autoload(self._ptr, bool(on)),
                  "bpf_program__set_autoload", self.name)

    @property
    def fd(self) -> int:
        """The loaded program's file descriptor (negative before load)."""
        return lib().bpf_program__fd(self._ptr)

    @property
    def target(self) -> str:
        """What the program attaches to: the set_attach_target() value, else what
        the section names ('cat/name' of a tracepoint, a function); '' if neither."""
        if self._attach_target:
            return self._attach_target
        return self.section.split("/", 1)[1] if "/" in self.section else ""

    def set_attach_target(self, target: str):
        """Choose, before load, what a program whose SEC() names no target attaches to:
        a kernel function for fentry/fexit/kprobe/kretprobe, a tracepoint name for
        tp_btf/raw_tp, 'category/name' for a classic tracepoint.  attach() (and
        Object.attach()) then attach there, and load() only picks this program's
        variant when the kernel has that function or tracepoint.  For fentry and
        tp_btf the kernel's BTF resolves the name at once: a name it lacks raises
        BPFError and changes nothing.  Raises ConfigError after load."""
        if self._obj._loaded:
            raise ConfigError(f"{self._obj.name}: cannot set the target of {self.name} "
                              "after load")
        target = str(target)
        if self.kind == "tracepoint" and "/" not in target:
            target = target.replace(":", "/", 1)
        self._set_attach_target(target)                 # raises: not recorded
        self._obj._record("attach_target", self.name, target)

    def _set_attach_target(self, target: str):
        self._target_error = None
        if self.kind in ("fentry", "tp_btf"):
            check_int(lib().bpf_program__set_attach_target(self._ptr, 0, target.encode()),
                      "bpf_program__set_attach_target", f"{self.name} -> {target}")
        self._attach_target = target

    def insns(self) -> list:
        """The program's instructions as (code, dst, src, off, imm) tuples (before load:
        as compiled; after: as libbpf relocated them)."""
        L = lib()
        n = L.bpf_program__insn_cnt(self._ptr)
        raw = ffi.buffer(ffi.cast("char *", L.bpf_program__insns(self._ptr)), n * 8)[:]
        import struct
        out = []
        for i in range(n):
            code, regs, off, imm = struct.unpack_from("<BBhi", raw, i * 8)
            out.append((code, regs & 0xF, regs >> 4, off, imm))
        return out

    # -- attach ---------------------------------------------------------------
    def _link(self, ptr, target: str, kind: str, call: str) -> Link:
        if ptr != ffi.NULL:
            link = Link(ptr, self.name, target, kind)
            self._obj.links.append(link)
            _log.reraise()
            return link
        err = ffi.errno or errno.EINVAL
        _log.reraise()
        raise AttachError(err, call, f"{self.name} -> {target}", log=_log.take(),
                          hint=_attach_hint(kind, err))

    def attach(self) -> Link:
        """Attach where the section (or set_attach_target()) says: tracepoint, tp_btf,
        raw_tp, fentry/fexit, kprobe/kretprobe.  Raises AttachError."""
        tgt = self._attach_target
        if tgt and "/" not in self.section:
            if self.kind == "kprobe":
                return self.attach_kprobe(tgt, retprobe=self.section.startswith("kretprobe"))
            if self.kind == "tracepoint":
                cat, _, name = tgt.partition("/")
                return self.attach_tracepoint(cat, name)
            if self.kind == "raw_tp":
                return self.attach_raw_tracepoint(tgt)
        if self.kind in ("tracepoint", "kprobe", "uprobe", "usdt"):
            features.tracefs()
        return self._link(lib().bpf_program__attach(self._ptr), tgt or self.section, self.kind,
                          "bpf_program__attach")

    def attach_tracepoint(self, category: str, name: str) -> Link:
        """Attach to classic tracepoint category:name (SEC("tracepoint") programs)."""
        features.tracefs()
        return self._link(lib().bpf_program__attach_tracepoint(
            self._ptr, category.encode(), name.encode()), f"{category}:{name}",
            "tracepoint", "bpf_program__attach_tracepoint")

    def attach_raw_tracepoint(self, name: str) -> Link:
        """Attach a raw_tp program to tracepoint `name` (no category)."""
        return self._link(lib().bpf_program__attach_raw_tracepoint(self._ptr, name.encode()),
                          name, "raw_tp", "bpf_program__attach_raw_tracepoint")

    def attach_kprobe(self, func: str, retprobe: bool = False, offset: int = 0,
                      cookie: int = 0) -> Link:
        """Attach a kprobe (retprobe=True: kretprobe) program to kernel function `func`
        (+offset); `cookie` is what bpf_get_attach_cookie() returns.  Needs kprobes
        (CONFIG_KPROBES); AttachError names what is missing."""
        features.tracefs()
        opts = ffi.new("struct bpf_kprobe_opts *")
        opts.sz = ffi.sizeof("struct bpf_kprobe_opts")
        opts.bpf_cookie = cookie
        opts.offset = offset
        opts.retprobe = retprobe
        return self._link(lib().bpf_program__attach_kprobe_opts(self._ptr, func.encode(), opts),
                          func, "kprobe", "bpf_program__attach_kprobe_opts")

    def attach_uprobe(self, binary: str, func: str = None, offset: int = 0, pid: int = -1,
                      retprobe: bool = False, cookie: int = 0, ref_ctr_offset: int = 0) -> Link:
        """Attach to `binary` at symbol `func` (+offset) or at file offset `offset`
        (a program loaded for uprobe_multi links: by file offset only)."""
        if self.multi:
            if func:
                raise ConfigError(f"{self.name}: loaded for uprobe_multi links, which "
                                  "attach by file offset, not by symbol")
            target = f"{binary}:{offset:#x}"
            fd = umulti.link_create(self.fd, binary, [offset], [ref_ctr_offset], [cookie],
                                    umulti.UPROBE_MULTI_RETURN if retprobe else 0,
                                    pid if pid and pid > 0 else 0)
            if fd < 0:
                raise AttachError(-fd, "bpf_link_create(uprobe_multi)",
                                  f"{self.name} -> {target}",
                                  hint="no such process" if -fd == errno.ESRCH else
                                  _attach_hint("uprobe", -fd))
            link = Link(None, self.name, target, "uprobe", fd=fd)
            self._obj.links.append(link)
            return link
        if not features.uprobes_pmu():
            features.tracefs()          # legacy uprobes are made in tracefs
        opts = ffi.new("struct bpf_uprobe_opts *")
        opts.sz = ffi.sizeof("struct bpf_uprobe_opts")
        opts.retprobe = retprobe
        opts.bpf_cookie = cookie
        opts.ref_ctr_offset = ref_ctr_offset
        keep = ffi.new("char[]", func.encode()) if func else ffi.NULL
        opts.func_name = keep
        target = f"{binary}:{func or hex(offset)}"
        return self._link(lib().bpf_program__attach_uprobe_opts(
            self._ptr, pid, binary.encode(), offset, opts), target, "uprobe",
            "bpf_program__attach_uprobe_opts")

    def attach_usdt_multi(self, binary: str, target: str, offsets, ref_ctr_offset: int,
                          specs, pid: int = -1) -> Link:
        """Attach a SEC("usdt") program loaded for uprobe_multi links (see
        Object._prefer_uprobe_multi) to every location of one USDT probe in
        one link: file `offsets`, the semaphore's file offset (0: none) and
        each location's argument spec, the bytes of usdt.bpf.h's struct
        __bpf_usdt_spec (corebpf.user.usdt encodes them).  Each distinct spec
        is stored once in the object's __bpf_usdt_specs map; a location's
        BPF cookie is its spec's index there, as libbpf does."""
        if not self.multi:
            raise ConfigError(f"{self.name}: not loaded for uprobe_multi links")
        ids = [self._obj._usdt_spec_id(spec) for spec in specs]
        fd = umulti.link_create(self.fd, binary, list(offsets), [ref_ctr_offset or 0] * len(ids),
                                ids, 0, pid if pid and pid > 0 else 0)
        if fd < 0:
            raise AttachError(-fd, "bpf_link_create(uprobe_multi)", f"{self.name} -> {target}",
                              hint="no such process" if -fd == errno.ESRCH else
                              _attach_hint("usdt", -fd))
        link = Link(None, self.name, target, "usdt", fd=fd)
        self._obj.links.append(link)
        return link

    def attach_usdt(self, binary: str, provider: str, name: str, pid: int = -1,
                    cookie: int = 0) -> Link:
        """Attach a SEC("usdt") program to USDT probe provider:name of file `binary`
        (every location; libbpf sets semaphores), for process `pid` only if > 0."""
        if not features.uprobes_pmu():
            features.tracefs()          # legacy uprobes are made in tracefs
        opts = ffi.new("struct bpf_usdt_opts *")
        opts.sz = ffi.sizeof("struct bpf_usdt_opts")
        opts.usdt_cookie = cookie
        return self._link(lib().bpf_program__attach_usdt(
            self._ptr, pid, binary.encode(), provider.encode(), name.encode(), opts),
            f"{binary}:{provider}:{name}", "usdt", "bpf_program__attach_usdt")

    def attach_xdp(self, ifindex: int) -> Link:
        """Attach an XDP program to network device `ifindex` (a BPF link, 5.9+)."""
        return self._link(lib().bpf_program__attach_xdp(self._ptr, ifindex),
                          f"xdp ifindex {ifindex}", "xdp", "bpf_program__attach_xdp")

    def attach_perf_event(self, pfd: int) -> Link:
        """Attach to an open perf event fd (the link takes ownership of it)."""
        return self._link(lib().bpf_program__attach_perf_event(self._ptr, pfd),
                          f"perf_event fd {pfd}", "perf_event", "bpf_program__attach_perf_event")

    def attach_perf(self, ev_type: int, ev_config: int, sample_period: int = 0,
                    sample_freq: int = 0, pid: int = -1, cpu: int = -1) -> list:
        """Attach a SEC("perf_event") program to a perf event, as bcc's
        attach_perf_event(): ev_type/ev_config from PerfType and PerfSWConfig /
        PerfHWConfig, sampled every `sample_period` events or `sample_freq` times a
        second, on CPU `cpu` (-1: one event on each online CPU) and for thread `pid`
        (-1: every thread).  Returns the links.  Raises AttachError (ENOENT: no such
        event here, e.g. no hardware PMU)."""
        from . import perf
        cpus = None if cpu is None or cpu < 0 else [cpu]
        return perf.attach_event(self, ev_type, ev_config, freq=sample_freq,
                                 period=sample_period, cpus=cpus, pid=pid)

    def __repr__(self):
        return f"<Program {self.name} {self.section}>"


def _attach_hint(kind: str, err: int) -> str:
    if err in (errno.EPERM, errno.EACCES):
        return privileges.capability_hint(kind)
    if kind == "kprobe" and not features.kprobes():
        return "this kernel has no kprobes (CONFIG_KPROBES)"
    if err == errno.ENOENT:
        return "no such probe point on this kernel"
    return ""


class Section:
    """Globals of a data section (.rodata before load, .bss/.data after)."""

    def __init__(self, obj: "Object", secname: str):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_sec", secname)

    def _vars(self):
        return self._obj.btf.datasec(self._sec)

    def names(self) -> list:
        return list(self._vars())

    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value

    def __contains__(self, name):
        return name in self._vars()

    def _var(self, name):
        v = self._vars().get(name)
        if v is None:
            raise ConfigError(f"{self._obj.name}: no variable {name!r} in {self._sec}")
        return v

    def __getitem__(self, name):
        tid, off, size = self._var(name)
        data = self._obj._section_bytes(self._sec)
        return self._obj.btf.codec(tid).decode(data, off)

    def __setitem__(self, name, value):
        tid, off, size = self._var(name)
        try:
            data = self._obj.btf.codec(tid).encode(value)
        except OverflowError as e:      # a tool let an out-of-range number through
            raise ConfigError(f"{self._obj.name}: {name}: {e}") from None
        self._obj._write_section(self._sec, off, data, name)


class Object:
    """An opened BPF object; see the module docstring for the life cycle.

    `programs` and `maps` are dicts by C name; `rodata` (config, before load),
    `bss` and `data` give the globals by name; `links` holds every attachment;
    `variant` is the probe variant load() chose.  Use it as a context manager
    (or call close()): closing detaches everything.

    probe: force one kind of variant (COREBPF_PROBE); btf_path: kernel BTF to
    relocate against (COREBPF_BTF); only: names of the programs to load;
    prefer: probe kinds in the order this object prefers them (default
    tp_btf, raw_tp, tracepoint, fentry, kprobe).
    """

    _program_class = Program

    def __init__(self, path, name: str = None, probe: str = None, btf_path: str = None,
                 only=None, prefer=None):
        self.path = str(path)
        self.name = name or os.path.basename(self.path).split(".")[0]
        self.links = []
        self._consumers = []
        self.probe = probe if probe is not None else features.forced_probe()
        self.btf_path = btf_path or os.environ.get("COREBPF_BTF") or None
        self._ops = []              # configuration, replayed on reopen
        self._only = set(only) if only else None
        self._rank = dict(KIND_RANK)
        if prefer:
            unknown = [k for k in prefer if k not in KIND_RANK]
            if unknown:
                raise ConfigError(f"{self.name}: unknown probe kind {unknown[0]!r} "
                                  f"(one of {', '.join(KIND_RANK)})")
            order = list(prefer) + [k for k in KIND_RANK if k not in prefer]
            self._rank = {k: i for i, k in enumerate(order)}
        self._obj = None
        self._btf = None
        self._min_btf = None        # kcache.Entry: the object's minimal kernel BTF
        self.min_btf_error = None   # why a load against it failed (then the full BTF served)
        self._loaded = False
        self._closed = False
        self._excluded = set()      # variants that failed to load
        self.variant = None         # the variant chosen at load
        self._candidates = []
        self.programs = {}
        self.maps = {}
        self._usdt_spec_ids = {}        # USDT argument spec bytes -> index (attach_usdt_multi)
        self.rodata = Section(self, ".rodata")
        self.bss = Section(self, ".bss")
        self.data = Section(self, ".data")
        self._open()
        self._swapped = False
        if self._min_btf is not None and self._min_btf.path and not prefer and \
                self._rank["tp_btf"] < self._rank["raw_tp"]:
            # with a minimal BTF, raw_tp spares libbpf 1.1 its parse of the
            # kernel's whole BTF, which every tp_btf program needs at load
            # (for its attach point); the same hooks, arguments read with CO-RE
            self._rank["tp_btf"], self._rank["raw_tp"] = self._rank["raw_tp"], self._rank["tp_btf"]
            self._swapped = True

    @classmethod
    def open(cls, name: str, **kw) -> "Object":
        """Open an object file (a path, or a name ending in .o: `corebpf compile`'s
        output) or packaged object `name` (a tool's).  Keyword arguments as for
        Object().  Nothing touches the kernel until load().  Raises ConfigError
        (no such file), BPFError (not a BPF object), MissingFeature (no kernel BTF)."""
        p = object_path(str(name))
        if not os.path.exists(p) and unsupported():
            raise MissingFeature(unsupported())
        if not os.path.exists(p):
            if p == str(name):
                raise ConfigError(f"BPF object {p} not found (build it with: corebpf compile "
                                  f"{p[:-2] if p.endswith('.o') else p}.c)")
            raise ConfigError(f"BPF object {p} not found (package not built? run build.py)")
        return cls(p, name=kw.pop("name", None) or os.path.basename(str(name)).split(".")[0], **kw)

    # -- open / reopen ------------------------------------------------------------
    def _open(self):
        L = _libbpf()
        if self.btf_path:
            why = features.btf_problem(self.btf_path)
            if why:
                raise MissingFeature(f"kernel BTF {self.btf_path}: {why}")
        if not self.btf_path and not features.has_btf():
            raise MissingFeature("this kernel has no BTF (/sys/kernel/btf/vmlinux; "
                                 "CONFIG_DEBUG_INFO_BTF): give one with --btf PATH "
                                 "(or COREBPF_BTF)")
        opts = ffi.new("struct bpf_object_open_opts *")
        opts.sz = ffi.sizeof("struct bpf_object_open_opts")
        self._keep = [ffi.new("char[]", self.name.encode())]
        opts.object_name = self._keep[0]
        custom = self.btf_path
        if not custom and not privileges.has_cap(privileges.CAP_SYS_ADMIN):
            # CO-RE of a type vmlinux lacks (a `___old` flavour) makes libbpf
            # list the modules' BTF, which needs CAP_SYS_ADMIN; libbpf before
            # 1.3 then fails the load (EPERM).  The kernel's BTF given as the
            # custom one keeps CO-RE in vmlinux (CAP_BPF+CAP_PERFMON suffice).
            custom = features.DEFAULT_BTF
        if not self.btf_path and self.min_btf_error is None:
            if self._min_btf is not None:
                self._min_btf.close()
            from . import kcache
            self._min_btf = kcache.min_btf(self.path, self.name)
            if self._min_btf is not None and self._min_btf.path:
                custom = self._min_btf.path
        if custom:
            self._keep.append(ffi.new("char[]", custom.encode()))
            opts.btf_custom_path = self._keep[-1]
        _log.clear()
        ptr = L.bpf_object__open_file(self.path.encode(), opts)
        _log.reraise()
        self._obj = check_ptr(ptr, "bpf_object__open_file", str(self.path))
        progs = {}
        p = L.bpf_object__next_program(self._obj, ffi.NULL)
        while p != ffi.NULL:
            name = ffi.string(L.bpf_program__name(p)).decode()
            if name in self.programs:
                self.programs[name]._ptr = p
                progs[name] = self.programs[name]
            else:
                progs[name] = self._program_class(self, p)
            p = L.bpf_object__next_program(self._obj, p)
        self.programs = progs
        maps = {}
        m = L.bpf_object__next_map(self._obj, ffi.NULL)
        while m != ffi.NULL:
            if not L.bpf_map__is_internal(m):
                name = ffi.string(L.bpf_map__name(m)).decode()
                if name in self.maps:
                    self.maps[name]._ptr = m
                    maps[name] = self.maps[name]
                else:
                    maps[name] = Map(self, m, None)
            m = L.bpf_object__next_map(self._obj, m)
        self.maps = maps
        if self._only is not None:
            for pname, prog in self.programs.items():
                L.bpf_program__set_autoload(prog._ptr, pname in self._only)
        # replay configuration (after a failed variant)
        for op in self._ops:
            self._apply(op)

    def _record(self, op: str, target: str, value):
        if self._loaded:
            raise ConfigError(f"{self.name}: cannot change {op} of {target} after load")
        self._ops.append((op, target, value))

    def _apply(self, op):
        kind, target, value = op
        L = lib()
        if kind == "autoload":
            L.bpf_program__set_autoload(self.programs[target]._ptr, value)
        elif kind == "max_entries":
            L.bpf_map__set_max_entries(self.maps[target]._ptr, value)
        elif kind == "attach_target":
            self.programs[target]._set_attach_target(value)
        elif kind == "reuse_pinned":
            self.maps[target]._reuse_pinned(value)
        elif kind == "section":
            sec, off, data = target, value[0], value[1]
            self._write_section_raw(sec, off, data)

    # -- BTF and data sections ----------------------------------------------------
    @property
    def btf(self) -> Btf:
        """The object's own BTF (parsed lazily in Python; small)."""
        if self._btf is None:
            L = lib()
            b = L.bpf_object__btf(self._obj)
            if b == ffi.NULL:
                raise ConfigError(f"{self.name}: object has no BTF (built without -g?)")
            size = ffi.new("__u32 *")
            raw = L.btf__raw_data(b, size)
            self._btf = Btf(ffi.buffer(raw, size[0])[:])
        return self._btf

    def _internal_map(self, sec: str):
        m = lib().bpf_object__find_map_by_name(self._obj, sec.encode())
        if m == ffi.NULL:
            raise ConfigError(f"{self.name}: object has no {sec} section")
        return m

    def _section_bytes(self, sec: str) -> bytes:
        L = lib()
        m = self._internal_map(sec)
        if self._loaded:
            size = L.bpf_map__value_size(m)
            buf = ffi.new("char[]", size)
            key = ffi.new("__u32 *", 0)
            check_int(L.bpf_map_lookup_elem(L.bpf_map__fd(m), key, buf),
                      "bpf_map_lookup_elem", f"{self.name}{sec}")
            return ffi.buffer(buf)[:]
        size = ffi.new("size_t *")
        p = L.bpf_map__initial_value(m, size)
        return ffi.buffer(p, size[0])[:]

    def _write_section_raw(self, sec: str, off: int, data: bytes):
        L = lib()
        m = self._internal_map(sec)
        size = ffi.new("size_t *")
        p = L.bpf_map__initial_value(m, size)
        if p == ffi.NULL or off + len(data) > size[0]:
            raise ConfigError(f"{self.name}: cannot write {sec}+{off}")
        ffi.memmove(ffi.cast("char *", p) + off, data, len(data))

    def _write_section(self, sec: str, off: int, data: bytes, var: str):
        if self._loaded:
            if sec == ".rodata":
                raise ConfigError(f"{self.name}: .rodata is read-only after load ({var})")
            L = lib()
            m = self._internal_map(sec)
            cur = bytearray(self._section_bytes(sec))
            cur[off:off + len(data)] = data
            key = ffi.new("__u32 *", 0)
            check_int(L.bpf_map_update_elem(L.bpf_map__fd(m), key, bytes(cur), 0),
                      "bpf_map_update_elem", f"{self.name}{sec}")
            return
        self._record("section", sec, (off, data))
        self._write_section_raw(sec, off, data)

    def read_counter(self, var: str) -> int:
        """Value of a .bss integer (e.g. a loss counter) after load; 0 if absent."""
        if var not in self.bss:
            return 0
        return self.bss[var]

    # -- variants and load ----------------------------------------------------------
    def _variants(self) -> dict:
        """{variant: [programs]} among programs that are to be loaded."""
        out = {}
        for p in self.programs.values():
            if p.variant is not None and p.autoload:
                out.setdefault(p.variant, []).append(p)
        return out

    def _variant_kind(self, progs) -> str:
        return max((p.kind for p in progs), key=lambda k: self._rank.get(k, 9))

    def missing(self, variant: str) -> list:
        """What the running kernel lacks to serve `variant` (its programs that
        are to be loaded); empty if it can serve it."""
        progs = self._variants().get(variant, [])
        return [r for r in (self._program_viable(p) for p in progs) if r]

    def _program_viable(self, p: Program):
        """None if the kernel can serve program p, else the reason it cannot."""
        k, tgt = p.kind, p.target
        if k == "tracepoint":
            cat, _, name = tgt.partition("/")
            try:
                return None if features.tracepoint_exists(cat, name) else \
                    f"tracepoint {cat}:{name}"
            except OSError as e:        # tracefs hidden or unreadable: that is the cause
                c = _Cause(str(e))
                c.error = type(e) if isinstance(e, (MissingFeature, NoAccess)) else None
                return c
        if k == "tp_btf":
            if p._target_error or not features.raw_tracepoint_exists(tgt):
                return f"tracepoint {tgt}"
            if not features.kernel_btf():
                return _NO_KERNEL_BTF.format("BTF-typed tracepoints (tp_btf)")
            if not features.tracepoint_btf(tgt):
                return f"BTF for tracepoint {tgt} (a module's, before module BTF)"
            return None
        if k == "raw_tp":
            return None if features.raw_tracepoint_exists(tgt) else f"raw tracepoint {tgt}"
        if k == "fentry":
            if not features.fentry():
                if not features.kernel_btf():
                    return _NO_KERNEL_BTF.format("fentry/fexit")
                return "fentry/fexit (BPF trampolines)"
            if p._target_error:
                return p._target_error
            if tgt and not features.kernel_function_exists(tgt):
                return f"kernel function {tgt}"
            return None
        if k == "kprobe":
            if not features.kprobes():
                return "kprobes (CONFIG_KPROBES)"
            func = tgt.split("+")[0]
            if p.section.startswith(("ksyscall/", "kretsyscall/")):
                return None
            if func and not features.kernel_function_exists(func):
                return f"kernel function {func}"
            return None
        return None

    def _select(self):
        if self.probe and features.forced_probe_required():
            kinds = {p.kind for p in self.programs.values()}
            if self.probe not in features.PROBE_KINDS and self.probe not in self._variants():
                raise ConfigError(
                    f"COREBPF_PROBE: invalid choice: {self.probe!r} (choose from "
                    + ", ".join(repr(k) for k in features.PROBE_KINDS)
                    + "".join(f", {v!r}" for v in sorted(self._variants())) + ")")
            if self.probe in features.PROBE_KINDS and self.probe not in kinds:
                raise ConfigError(f"{self.name}: no {self.probe} probes to force with "
                                  f"--probe/COREBPF_PROBE (it has: {', '.join(sorted(kinds))})")
        variants = self._variants()
        if not variants:
            self.variant = None
            return
        order = sorted((v for v in variants if v not in self._excluded),
                       key=lambda v: (self._rank.get(self._variant_kind(variants[v]), 9), v))
        kind = {v: self._variant_kind(variants[v]) for v in variants}
        if self.probe and (self.probe in kind.values() or self.probe in kind):
            # a kind, or (tests) one variant by name
            order = [v for v in order if self.probe in (kind[v], v)]
            if not order:
                raise MissingFeature(f"{self.name}: the {self.probe} probes failed to load")
        missing = []
        chosen = None
        for v in order:
            reasons = [r for r in (self._program_viable(p) for p in variants[v]) if r]
            if not reasons:
                chosen = v
                break
            missing.extend(r for r in reasons if r not in missing)
        self._candidates = order
        if chosen is None:
            causes = [r for r in missing if isinstance(r, _Cause)]
            lacks = [r for r in missing if not isinstance(r, _Cause)]
            if causes:      # what keeps the tool from the probes it could use
                raise (causes[0].error or MissingFeature)(
                    f"{self.name}: {causes[0]}" +
                    (f" (and this kernel lacks {', '.join(lacks)})" if lacks else ""))
            raise MissingFeature(f"{self.name}: this kernel lacks " +
                                 (", ".join(missing) if missing else "a usable probe"))
        self.variant = chosen
        for v, progs in variants.items():
            if v != chosen:
                for p in progs:
                    lib().bpf_program__set_autoload(p._ptr, False)
        if _log.verbose():
            import sys
            print(f"corebpf: {self.name}: using {chosen} "
                  f"({self._variant_kind(variants[chosen])}) probes", file=sys.stderr)

    def select(self):
        """Choose the probe variant load() would, disabling the others, without
        loading (--ebpf); returns it (None: the object has no variants).
        Raises MissingFeature when the kernel can serve none."""
        self._select()
        return self.variant

    def load(self, select: bool = True):
        """Choose probe variants, then load into the kernel.

        Raises MissingFeature (nothing the kernel can serve), LoadError
        (verifier; `.log` has the verifier log).
        """
        L = lib()
        self._load_failures = []
        big = self._check_memory() > _THREAD_LOAD_BYTES
        while True:
            if select:
                try:
                    self._select()
                except MissingFeature as e:
                    if self._load_failures:
                        v, why = self._load_failures[0]
                        raise MissingFeature(f"{e}; the {v} variant failed to load: {why}") \
                            from None
                    raise
            self._fill_nargs()
            self._prefer_uprobe_multi()
            _log.clear()
            r = self._load_interruptibly(L) if big else L.bpf_object__load(self._obj)
            _log.reraise()
            if r == 0:
                self._loaded = True
                if self._min_btf is not None:
                    self._min_btf.close()       # libbpf has read it
                loadonly.stop(self.name, self.loaded_kinds(), self.variant)
                return self
            log = _log.take()
            if self._min_btf is not None and self._min_btf.path:
                # never worse than without the cache: a load that fails against
                # the minimal BTF is tried again against the kernel's own
                self.min_btf_error = LoadError(-r, "bpf_object__load", self.name, log=log)
                if _log.verbose():
                    import sys
                    print(f"corebpf: {self.name}: load against the cached minimal BTF "
                          f"failed ({self.min_btf_error}): the full BTF now", file=sys.stderr)
                self._min_btf.close()
                self._min_btf = None
                if self._swapped:
                    self._rank["tp_btf"], self._rank["raw_tp"] = \
                        self._rank["raw_tp"], self._rank["tp_btf"]
                    self._swapped = False
                L.bpf_object__close(self._obj)
                self._obj = None
                self._btf = None
                self._open()
                continue
            failed = _failed_program(log) or self._attach_btf_culprit(-r)
            prog = self.programs.get(failed) if failed else None
            if select and prog is not None and prog.variant == self.variant and \
                    len(self._candidates) > 1:
                # This variant cannot load here: reopen and try the next one,
                # remembering why (if no other can serve, the error says so).
                verifier_said = any("processed" in ln or "invalid" in ln for ln in log)
                why = LoadError(-r, "bpf_object__load", failed, log=log,
                                hint="rejected by the verifier" if verifier_said else None)
                self._load_failures.append((self.variant, why))
                self._excluded.add(self.variant)
                L.bpf_object__close(self._obj)
                self._obj = None
                self._btf = None
                self._open()
                continue
            if prog is not None and prog.kind in _ATTACH_BTF_KINDS and \
                    -r in (errno.ESRCH, errno.ENOENT):
                if not _failed_program(log):
                    raise MissingFeature(f"{self.name}: " + _NO_KERNEL_BTF.format(
                        f"{prog.kind} programs ({prog.name})"))
                # the attach point is not in the kernel's BTF (a module's
                # tracepoint before module BTF, 5.11)
                raise MissingFeature(f"{self.name}: no BTF for {prog.target} in this kernel "
                                     f"(needed by {prog.kind} program {prog.name})")
            if prog is not None and prog.kind == "fentry" and -r == errno.EPERM:
                raise MissingFeature(f"{self.name}: this kernel refuses fentry/fexit programs "
                                     f"(load of {prog.name} failed with EPERM)")
            verifier_said = any("processed" in ln or "invalid" in ln for ln in log)
            raise LoadError(-r, "bpf_object__load", failed or self.name, log=log,
                            hint="rejected by the verifier" if verifier_said else None)

    def _fill_nargs(self):
        """Set each __corebpf_nargs__TP global to tracepoint TP's argument count,
        when a raw_tp/tp_btf program is about to load (they read the arguments)."""
        if not any(p.autoload and p.kind in ("raw_tp", "tp_btf") for p in self.programs.values()):
            return
        try:
            names = [n for n in self.rodata.names() if n.startswith(_NARGS_PREFIX)]
        except ConfigError:
            return                              # no BTF
        for n in names:
            count = features.tracepoint_nargs(n[len(_NARGS_PREFIX):])
            if count is not None and self.rodata[n] != count:
                self.rodata[n] = count

    def _attach_btf_culprit(self, err: int) -> str:
        """The program behind a load failure libbpf reports for no program.

        Without the running kernel's BTF, libbpf fails the whole object (ESRCH,
        or ENOENT for a missing file) before any program, when one of them
        attaches by BTF id (tp_btf, fentry): that program is the culprit."""
        if err not in (errno.ESRCH, errno.ENOENT):
            return ""
        for p in self.programs.values():
            if p.autoload and p.kind in _ATTACH_BTF_KINDS:
                return p.name
        return ""

    def _check_memory(self) -> int:
        """Refuse (TooLarge, one line) maps bigger than a sane share of the
        memory available; return the kernel memory they will take."""
        from .maps import check_memory
        ncpus = features.possible_cpus()
        reused = {t for op, t, _ in self._ops if op == "reuse_pinned"}
        items = [(m.name, m.kernel_bytes(ncpus), m.sized_by) for m in self.maps.values()
                 if m.name not in reused]
        check_memory(items, self.name)
        return sum(b for _, b, _ in items)

    def _load_interruptibly(self, L) -> int:
        """bpf_object__load in a thread, so that a Ctrl-C/SIGTERM while the
        kernel fills large preallocated maps (seconds) ends the run at once:
        KeyboardInterrupt here; the thread dies with the process (the kernel
        stops allocating on the fatal signal of exit)."""
        import signal
        import threading
        done = []
        t = threading.Thread(target=lambda: done.append(L.bpf_object__load(self._obj)),
                             name="bpf_object__load", daemon=True)
        held = [s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                if s in signal.pthread_sigmask(signal.SIG_BLOCK, [])]
        self._load_thread = t
        t.start()
        try:
            while t.is_alive():
                if held:
                    if signal.sigtimedwait(held, 0.1) is not None:
                        raise KeyboardInterrupt
                else:
                    t.join(0.1)         # Python's handler raises KeyboardInterrupt here
        except BaseException:
            self._abandoned = True      # the thread still uses the object: never free it
            _abandoned.append(self)
            raise
        self._load_thread = None
        return done[0]

    def loaded_kinds(self) -> list:
        """The probe kinds of the programs loaded (or to be loaded), best first."""
        kinds = {p.kind for p in self.programs.values() if p.autoload}
        return sorted(kinds, key=lambda k: (KIND_RANK.get(k, 9), k))

    def _prefer_uprobe_multi(self):
        """Load the uprobes the tool attaches itself (SEC("uprobe")/"uretprobe")
        for uprobe_multi links where the kernel has them (6.6): they detach in
        parallel, perf-event uprobes one at a time (~0.1 s each).  USDT
        programs too (SEC("usdt"), attached through corebpf.user.usdt, which
        fills usdt.bpf.h's spec map as libbpf would) where that map has the
        layout of libbpf 1.1-1.5's header and the CPU's registers are known."""
        L = lib()
        multi = None
        usdt_ok = None
        for p in self.programs.values():
            p.multi = False
            if p.section == "usdt" and p.autoload:
                if usdt_ok is None:
                    m = self.maps.get("__bpf_usdt_specs")
                    usdt_ok = (m is not None and m.value_size == USDT_SPEC_SIZE
                               and os.uname().machine in USDT_ARCHES)
                if not usdt_ok:
                    continue
            elif p.section not in ("uprobe", "uretprobe") or not p.autoload:
                continue
            if multi is None:
                multi = umulti.available() and not os.environ.get("COREBPF_NO_UPROBE_MULTI")
            if multi:
                check_int(L.bpf_program__set_expected_attach_type(
                    p._ptr, umulti.ATTACH_UPROBE_MULTI),
                    "bpf_program__set_expected_attach_type", p.name)
                p.multi = True

    def _usdt_spec_id(self, spec: bytes) -> int:
        """The index of a USDT argument spec in __bpf_usdt_specs, stored there
        the first time it is seen."""
        ids = self._usdt_spec_ids
        sid = ids.get(spec)
        if sid is None:
            m = self.maps["__bpf_usdt_specs"]
            if len(ids) >= m.max_entries:
                raise AttachError(errno.E2BIG, "usdt", self.name,
                                  hint=f"more than {m.max_entries} distinct USDT argument specs")
            sid = len(ids)
            m.update(struct.pack("=i", sid), spec)
            ids[spec] = sid
        return sid

    # -- attach -----------------------------------------------------------------------
    def attach(self, *names):
        """Attach the named programs, or every loaded program whose section (or
        set_attach_target()) names its hook: tracepoints, tp_btf, raw_tp,
        fentry/fexit, kprobes.  uprobe, USDT and perf_event programs, and ones with
        no target, are attached by hand (Program.attach_*).  Returns the links."""
        if not self._loaded:
            raise ConfigError(f"{self.name}: load() before attach()")
        for n in names:
            if n not in self.programs:
                raise ConfigError(f"{self.name}: no program {n!r}")
        progs = [self.programs[n] for n in names] if names else [
            p for p in self.programs.values()
            if p.autoload and p.kind in AUTO_ATTACH and p.target]
        out = []
        for p in progs:
            out.append(p.attach())
        return out

    # -- events -------------------------------------------------------------------------
    def event_codec(self, map_name: str, raw_text: bool = False):
        """Codec of the records of ring/perf buffer `map_name` (declared with the
        EVENTS_RINGBUF / EVENTS_PERFBUF macros), or None: `.decode(bytes)` gives a
        record, `.record` is its namedtuple class; char[] text is escaped for a
        terminal unless raw_text."""
        var = f"__corebpf_event__{map_name}"
        for sec in (".bss", ".data"):
            v = self.btf.datasec(sec).get(var)
            if v:
                t = self.btf.types[v[0]]
                if t.kind == PTR:
                    return self.btf.codec(t.ref, raw_text)
        return None

    def ring_buffer(self, *maps_and_callbacks, raw: bool = False, raw_text: bool = False):
        """A RingBuffer over (map name, callback, map name, callback...): poll() calls
        callback(record) with each record decoded from BTF (raw=True: bytes; char[]
        text escaped for a terminal unless raw_text).  The Object closes it."""
        from .events import RingBuffer
        rb = RingBuffer(self)
        pairs = maps_and_callbacks
        self._consumers.append(rb)
        for i in range(0, len(pairs), 2):
            rb.add(pairs[i], pairs[i + 1], raw=raw, raw_text=raw_text)
        return rb

    def perf_buffer(self, map_name: str, callback, lost_callback=None, page_cnt: int = 64,
                    raw: bool = False, raw_text: bool = False):
        """A PerfBuffer over perf event array `map_name`: poll() calls callback(record)
        (raw=True: bytes; char[] text escaped for a terminal unless raw_text),
        lost_callback(cpu, count) for records the kernel dropped; page_cnt pages per
        CPU (a power of two).  The Object closes it."""
        from .events import PerfBuffer
        pb = PerfBuffer(self, map_name, callback, lost_callback, page_cnt, raw=raw,
                        raw_text=raw_text)
        self._consumers.append(pb)
        return pb

    # -- teardown -------------------------------------------------------------------------
    def detach(self):
        """Destroy every link; perf-event based ones in parallel (each waits for an RCU
        grace period in the kernel, ~60-100 ms per classic tracepoint)."""
        links, self.links = self.links, []
        slow = [ln for ln in links if ln.kind in ("tracepoint", "kprobe", "uprobe", "usdt",
                                                   "perf_event")]
        fast = [ln for ln in links if ln not in slow]
        for ln in fast:
            ln.destroy()
        if len(slow) > 1:
            import threading
            threads = [threading.Thread(target=ln.destroy, daemon=True) for ln in slow]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for ln in slow:
                ln.destroy()

    _abandoned = False
    _load_thread = None

    def close(self):
        """Detach everything and free the object (idempotent)."""
        if self._closed or self._abandoned:
            return
        self._closed = True
        for c in self._consumers:
            c.close()
        self._consumers = []
        try:
            self.detach()
        finally:
            if self._obj is not None:
                lib().bpf_object__close(self._obj)
                self._obj = None
            if self._min_btf is not None:
                self._min_btf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def loaded(self) -> bool:
        """True once load() succeeded."""
        return self._loaded

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return f"<Object {self.name} {'loaded' if self._loaded else 'opened'}>"


def _failed_program(log) -> str:
    """The program libbpf's log names as the one that failed to load."""
    for line in log:
        m = re.search(r"prog '([^']+)': (?:BPF program load failed|failed to)", line)
        if m:
            return m.group(1)
    return ""
