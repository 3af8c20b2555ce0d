"""What the running kernel can do, probed once per process and cached.

Cheap checks read sysfs/tracefs; the two that only a real load can answer
(fentry, tp_btf) load a tiny program from the packaged `features` object.
Note: /proc/kallsyms lists functions even on kernels without kprobes, so
kprobe support is decided by the kprobe PMU or tracefs' kprobe_events.
"""
from __future__ import annotations

import errno
import functools
import os
import re

TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
DEFAULT_BTF = "/sys/kernel/btf/vmlinux"
PROBE_KINDS = ("tp_btf", "raw_tp", "tracepoint", "fentry", "kprobe")


class _Cache:
    tracefs = None
    events = None       # {tracepoint name: category} from available_events; False: unreadable
    kallsyms = None
    kbtf = None         # KernelBtf, for tracepoints when tracefs cannot be read; False: none
    strict_probe = False    # a forced probe kind an object lacks is an error (tools)


def btf_path() -> str:
    """The kernel BTF corebpf hands to libbpf (COREBPF_BTF overrides)."""
    return os.environ.get("COREBPF_BTF") or DEFAULT_BTF


def has_btf() -> bool:
    """True if the kernel BTF (or the COREBPF_BTF override) is a readable file."""
    p = btf_path()
    return os.path.isfile(p) and os.access(p, os.R_OK)


def btf_problem(path: str):
    """None if `path` looks like a BTF file (raw BTF or an ELF with .BTF),
    else what is wrong with it, in a few words."""
    import stat
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError:                  # a NUL in the name
        return "not a file name"
    except OSError as e:
        return e.strerror
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "a directory, not a BTF file" if os.path.isdir(path) else \
                "not a regular file"
        head = os.read(fd, 4)
    finally:
        os.close(fd)
    if not (head[:2] in (b"\x9f\xeb", b"\xeb\x9f") or head == b"\x7fELF"):
        return "not a BTF file"
    return None


@functools.lru_cache(maxsize=None)
def kernel_btf() -> bool:
    """True if the running kernel's own BTF is readable where libbpf looks
    first (/sys/kernel/btf/vmlinux).  tp_btf and fentry programs name their
    attach points by its type ids: an external BTF (COREBPF_BTF) cannot
    stand in for it.  A cheap check; tp_btf()/fentry() really load."""
    return os.access(DEFAULT_BTF, os.R_OK)


def tracefs(mount: bool = True) -> str:
    """Return the tracefs mount point, mounting it if absent (root).

    Raises MissingFeature if tracefs is not available.
    """
    if _Cache.tracefs:
        return _Cache.tracefs
    for d in TRACEFS_CANDIDATES:
        if os.path.isdir(os.path.join(d, "events")):
            _Cache.tracefs = d
            return d
    for d in TRACEFS_CANDIDATES:
        # mounted (and not hidden by another mount) but its files cannot be seen
        if os.path.isdir(d) and d in _mounts("tracefs"):
            raise _unreadable(d)
    if mount and os.path.isdir(TRACEFS_CANDIDATES[0]):
        from ._libbpf import ffi, libc
        r = libc.mount(b"nodev", TRACEFS_CANDIDATES[0].encode(), b"tracefs", 0, ffi.NULL)
        if r == 0 and os.path.isdir(os.path.join(TRACEFS_CANDIDATES[0], "events")):
            _Cache.tracefs = TRACEFS_CANDIDATES[0]
            return _Cache.tracefs
        err = ffi.errno
    else:
        err = errno.ENOENT
    from .errors import MissingFeature
    raise MissingFeature("tracefs is not mounted and could not be mounted at "
                         f"{TRACEFS_CANDIDATES[0]} ({os.strerror(err)})")


def _mounts(fstype: str) -> set:
    """Mount points of file systems of type `fstype` in this mount namespace."""
    try:
        with open("/proc/self/mounts", "rb") as f:
            rows = [line.split() for line in f]
    except OSError:
        return set()
    return {r[1].decode() for r in rows if len(r) > 2 and r[2] == fstype.encode()}


def _unreadable(d: str):
    from .errors import NoAccess
    try:
        st = os.stat(d)
        how = f"mode {st.st_mode & 0o7777:04o}, owner uid {st.st_uid}"
    except OSError as e:
        how = e.strerror
    return NoAccess(f"tracefs at {d} is not readable by uid {os.geteuid()} ({how}): "
                    "run as root or add CAP_DAC_READ_SEARCH")


def tracepoint_exists(category: str, name: str) -> bool:
    """True if tracepoint category:name exists.  Raises MissingFeature or
    NoAccess (naming the cause) when tracefs cannot be read: then nobody can
    tell, and classic tracepoints cannot be attached either."""
    return os.path.isdir(os.path.join(tracefs(), "events", category, name))


def _events():
    """{tracepoint name: category} from tracefs, or None if it cannot be read."""
    if _Cache.events is None:
        ev = {}
        try:
            with open(os.path.join(tracefs(), "available_events"), "rb") as f:
                for line in f:
                    cat, _, name = line.strip().partition(b":")
                    ev.setdefault(name.decode(), cat.decode())
        except OSError:
            ev = False
        _Cache.events = ev
    return _Cache.events or None


def _kernel_btf_type(name: str):
    """True/False: the kernel's BTF has (or lacks) typedef `name`; None if
    there is no kernel BTF to ask."""
    if _Cache.kbtf is None:
        from .kbtf import KernelBtf
        try:
            _Cache.kbtf = KernelBtf()
        except OSError:
            _Cache.kbtf = False
    if not _Cache.kbtf:
        return None
    from .kbtf import TYPEDEF
    return _Cache.kbtf.find(name, TYPEDEF) is not None


def raw_tracepoint_exists(name: str) -> bool:
    """True if a tracepoint called `name` exists in any category.

    Raw and BTF tracepoints are attached by name, without tracefs: where
    tracefs cannot be read (hidden, mode 0700 for a user with capabilities)
    the kernel's BTF answers (every tracepoint has a `btf_trace_NAME`
    typedef); with neither, the kernel is left to answer at attach.  What
    tracefs said is kept per kernel and loaded modules (corebpf.core.kcache):
    reading available_events costs ~2 ms of every start."""
    from . import kcache
    said = kcache.probed("tp " + name, lambda: _listed(name))
    if said is not None:
        return bool(said)
    known = _kernel_btf_type("btf_trace_" + name)
    return True if known is None else known


def _listed(name: str):
    """1/0: tracefs lists tracepoint `name` (or not); None: it cannot be read."""
    ev = _events()
    return None if ev is None else int(name in ev)


def tracepoint_category(name: str):
    """The category of tracepoint `name`, or None."""
    return (_events() or {}).get(name)


@functools.lru_cache(maxsize=None)
def kprobes() -> bool:
    """True if the kernel can create kprobes (kprobe PMU or kprobe_events)."""
    if os.path.exists("/sys/bus/event_source/devices/kprobe/type"):
        return True
    try:
        return os.path.exists(os.path.join(tracefs(), "kprobe_events"))
    except OSError:
        return False


def uprobes_pmu() -> bool:
    """True if uprobes are made through the uprobe PMU (4.17+), without tracefs."""
    return os.path.exists("/sys/bus/event_source/devices/uprobe/type")


@functools.lru_cache(maxsize=None)
def uprobes() -> bool:
    """True if the kernel can create uprobes."""
    if os.path.exists("/sys/bus/event_source/devices/uprobe/type"):
        return True
    try:
        return os.path.exists(os.path.join(tracefs(), "uprobe_events"))
    except OSError:
        return False


def kernel_function_exists(name: str) -> bool:
    """True if /proc/kallsyms has text symbol `name` (not proof it is probeable)."""
    pat = re.compile(rb"^[0-9a-f]+ [tTwW] " + re.escape(name.encode()) + rb"(?:\s|$)", re.M)
    return pat.search(_kallsyms()) is not None


def task_pt_regs() -> bool:
    """True if BPF programs can read a task's user registers (the
    bpf_task_pt_regs helper, 5.15): what --unwind dwarf needs."""
    return kernel_function_exists("bpf_task_pt_regs")


@functools.lru_cache(maxsize=None)
def bpf_helper(name: str) -> bool:
    """True if the running kernel has BPF helper `name` (BPF_FUNC_<name> in its
    BTF's enum bpf_func_id; False without kernel BTF).  A program calling a
    helper the kernel lacks does not load: e.g. get_func_ret (5.17) in
    fexit programs, where fentry itself works from 5.5."""
    if not kernel_btf():
        return False
    from . import kbtf
    return kbtf.vmlinux().enum_has("bpf_func_id", "BPF_FUNC_" + name)


def _kallsyms() -> bytes:
    if _Cache.kallsyms is None:
        try:
            with open("/proc/kallsyms", "rb") as f:
                _Cache.kallsyms = f.read()
        except OSError:
            _Cache.kallsyms = b""
    return _Cache.kallsyms


def kernel_function_matching(regex: str):
    """The first text symbol in /proc/kallsyms whose whole name matches
    `regex` (compilers rename static functions: .isra.0, .constprop.0), or None."""
    m = re.search(rb"^[0-9a-f]+ [tTwW] (" + regex.encode() + rb")(?:\s|$)", _kallsyms(), re.M)
    return m.group(1).decode() if m else None


@functools.lru_cache(maxsize=None)
def possible_cpus() -> int:
    """How many CPUs the kernel may ever bring up: the number of values a per-CPU
    map holds per key."""
    from ._libbpf import lib
    n = lib().libbpf_num_possible_cpus()
    return n if n > 0 else os.cpu_count() or 1


def _parse_cpulist(text: str) -> list:
    cpus = []
    for part in text.strip().split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        cpus.extend(range(int(a), int(b or a) + 1))
    return cpus


@functools.lru_cache(maxsize=None)
def online_cpus() -> tuple:
    """The CPU numbers that are online now (where per-CPU perf events go)."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return tuple(_parse_cpulist(f.read()))
    except OSError:
        return tuple(range(os.cpu_count() or 1))


@functools.lru_cache(maxsize=None)
def ringbuf() -> bool:
    """True if BPF ring buffers are available (kernel 5.8+)."""
    from ._libbpf import lib
    return lib().libbpf_probe_bpf_map_type(27, __import__("cffi").FFI().NULL) == 1


@functools.lru_cache(maxsize=None)
def bpf_cookie() -> bool:
    """True if BPF programs can read a per-attachment cookie (bpf_get_attach_cookie,
    5.15: perf links).  Without it libbpf finds a USDT location's argument
    spec by the probed address, which it can compute for a position-independent
    binary only in one given process (usdt.attach_probe)."""
    from ._libbpf import LibbpfUnavailable, ffi, lib
    try:
        # BPF_PROG_TYPE_KPROBE (2), BPF_FUNC_get_attach_cookie (174): libbpf's own check
        return lib().libbpf_probe_bpf_helper(2, 174, ffi.NULL) == 1
    except LibbpfUnavailable:
        return False


def _try_load(prog: str, attach: bool = False) -> bool:
    """Load program `prog` of the packaged `features` object alone (and,
    with `attach`, attach it where its section says and detach at once).

    Straight through the binding, not through Object: Object consults these
    probes when it picks variants, so using it here would be a cycle."""
    from . import _log
    from ._libbpf import LibbpfUnavailable, ffi, lib
    from .paths import object_path
    try:
        L = lib()
    except LibbpfUnavailable:
        return False
    _log.install()          # libbpf's complaints about the refused program stay in the log
    obj = L.bpf_object__open_file(object_path("features").encode(), ffi.NULL)
    if obj == ffi.NULL:
        return False
    try:
        p = L.bpf_object__next_program(obj, ffi.NULL)
        while p != ffi.NULL:
            L.bpf_program__set_autoload(p, ffi.string(L.bpf_program__name(p)).decode() == prog)
            p = L.bpf_object__next_program(obj, p)
        if L.bpf_object__load(obj) != 0:
            return False
        if not attach:
            return True
        link = L.bpf_program__attach(L.bpf_object__find_program_by_name(obj, prog.encode()))
        if link == ffi.NULL:
            return False
        L.bpf_link__destroy(link)
        return True
    finally:
        L.bpf_object__close(obj)


@functools.lru_cache(maxsize=None)
def fentry() -> bool:
    """True if fentry/fexit programs load and attach here (really tried: Debian's
    arm64 6.1 loads them but cannot attach, ENOTSUPP, no direct-call trampolines;
    without the running kernel's own BTF neither works, whatever COREBPF_BTF says)."""
    return kernel_btf() and _try_load("probe_fentry", attach=True)


@functools.lru_cache(maxsize=None)
def tp_btf() -> bool:
    """True if BTF-typed tracepoint programs load here (really tried; they need
    the running kernel's own BTF, which COREBPF_BTF does not replace)."""
    return kernel_btf() and _try_load("probe_tp_btf")


@functools.lru_cache(maxsize=None)
def tracepoint_btf(name: str) -> bool:
    """True if the running kernel's BTF describes tracepoint `name` (its
    btf_trace_NAME typedef), as a tp_btf program attached to it needs.

    A module's tracepoints (ext4's) are described by the module's BTF, which
    kernels have from 5.11 (/sys/kernel/btf/MODULE): where there is any, it
    is trusted; without, only vmlinux's BTF is (5.10: ext4's tracepoints have
    no BTF, the load would fail with ESRCH)."""
    if not kernel_btf():
        return False
    try:
        if any(f != "vmlinux" for f in os.listdir(os.path.dirname(DEFAULT_BTF))):
            return True
    except OSError:
        return False
    if not _modules_loaded():
        # every tracepoint is the kernel's own, which its BTF describes: no
        # second parse of vmlinux BTF (~6 MB, tens of ms) beside libbpf's
        return raw_tracepoint_exists(name)
    from .kbtf import TYPEDEF
    b = _running_btf()
    return b is not None and b.find("btf_trace_" + name, TYPEDEF) is not None


def _modules_loaded() -> bool:
    """True if any kernel module is loaded (or /proc/modules cannot tell)."""
    try:
        with open("/proc/modules", "rb") as f:
            return bool(f.read(1))
    except FileNotFoundError:
        return False                    # CONFIG_MODULES off
    except OSError:
        return True


@functools.lru_cache(maxsize=None)
def _running_btf():
    """The running kernel's own BTF (not COREBPF_BTF's file), or None."""
    from .errors import MissingFeature
    from .kbtf import KernelBtf
    try:
        return KernelBtf(DEFAULT_BTF)
    except MissingFeature:
        return None


@functools.lru_cache(maxsize=None)
def tracepoint_nargs(name: str):
    """How many arguments tracepoint `name` passes to raw_tp/tp_btf programs,
    None if there is no such tracepoint.  Probed once per kernel (kept in
    corebpf.core.kcache's features file, when the cache is on).
    """
    from . import kcache
    return kcache.probed("nargs " + name, lambda: _probe_nargs(name))


def _probe_nargs(name: str):
    """tracepoint_nargs(name), found by attaching.

    Arguments change over time (block_getrq lost its request_queue in 5.11,
    kfree_skb gained a reason in 5.17): the kernel refuses to attach a raw_tp
    program that reads beyond them (EINVAL, checked before the program is
    hooked in), so a tiny program reading the n-th argument is attached for
    n = 12, 11, ... until one is accepted: one real attach at most (each
    costs the kernel code patching, ~10 ms on a busy machine)."""
    from ._libbpf import LibbpfUnavailable, ffi, lib, libc
    import struct
    try:
        L = lib()
    except LibbpfUnavailable:
        return None
    for n in range(12, 0, -1):          # MAX_BPF_FUNC_ARGS
        insns = struct.pack("<BBhiBBhiBBhi",
                            0x79, 0x12, 8 * (n - 1), 0,     # r2 = *(u64 *)(r1 + 8(n-1))
                            0xb7, 0x00, 0, 0,               # r0 = 0
                            0x95, 0x00, 0, 0)               # exit
        fd = L.bpf_prog_load(17, b"corebpf_nargs", b"GPL", insns, 3, ffi.NULL)  # RAW_TRACEPOINT
        if fd < 0:
            return None
        try:
            link = L.bpf_raw_tracepoint_open(name.encode(), fd)
        finally:
            libc.close(fd)
        if link >= 0:
            libc.close(link)
            return n
        if -link != errno.EINVAL:
            return None                 # ENOENT: no such tracepoint
    return 0                            # it exists (EINVAL, not ENOENT), with no arguments


@functools.lru_cache(maxsize=None)
def raw_tp() -> bool:
    """True if raw tracepoint programs load here (really tried)."""
    return _try_load("probe_raw_tp")


def tracepoint_field(category: str, name: str, field: str) -> bool:
    """True if classic tracepoint category:name records field `field` (tracefs format)."""
    try:
        with open(os.path.join(tracefs(), "events", category, name, "format")) as f:
            text = f.read()
    except OSError:
        return False
    return re.search(r"\bfield:[^;]*[ *]" + re.escape(field) + r"(\[\d*\])?;", text) is not None


def filesystem(fstype: str) -> bool:
    """True if the kernel knows file system type `fstype` now (/proc/filesystems:
    built in, or its module loaded).  Not cached: modules come and go."""
    try:
        with open("/proc/filesystems") as f:
            return any(line.split()[-1:] == [fstype] for line in f)
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def hardware_pmu() -> bool:
    """True if the CPU's own PMU is registered (hardware events: cycles,
    cache references and misses).  The core PMU registers as
    PERF_TYPE_RAW (4); virtual machines without a virtual PMU have none."""
    base = "/sys/bus/event_source/devices"
    try:
        names = os.listdir(base)
    except OSError:
        return False
    for name in names:
        try:
            with open(os.path.join(base, name, "type")) as f:
                if f.read().strip() == "4":
                    return True
        except OSError:
            continue
    return False


def preemptirq() -> bool:
    """True if the preemptirq:irq_disable/irq_enable tracepoints exist
    (CONFIG_PREEMPTIRQ_TRACEPOINTS with CONFIG_TRACE_IRQFLAGS)."""
    return tracepoint_exists("preemptirq", "irq_disable") and \
        tracepoint_exists("preemptirq", "irq_enable")


def forced_probe():
    """The probe kind forced by COREBPF_PROBE (tracepoint, tp_btf, raw_tp, fentry,
    kprobe), or the name of one variant (tests: Object checks that it has it);
    ConfigError for anything else."""
    v = os.environ.get("COREBPF_PROBE", "").strip()
    if v and v not in PROBE_KINDS and not shipped_variant(v):
        from .errors import ConfigError
        raise ConfigError(f"COREBPF_PROBE: invalid choice: {v!r} (choose from "
                          + ", ".join(repr(k) for k in PROBE_KINDS) + ")")
    return v or None


def require_forced_probe(on: bool = True):
    """Make a forced probe kind that an object has no program of an error
    (ConfigError at load) instead of being ignored for that object.  A tool
    (one object, the user asked for the kind) turns it on; a process hosting
    many objects (the exporter) leaves it off: the kind applies where it can."""
    _Cache.strict_probe = on


def forced_probe_required() -> bool:
    """True if require_forced_probe() is on (a forced kind an object lacks
    is then an error)."""
    return _Cache.strict_probe


@functools.lru_cache(maxsize=None)
def shipped_variant(name: str) -> bool:
    """True if some packaged object has programs of variant `name` (PROG__name):
    COREBPF_PROBE=VARIANT, used by tests only, so the objects are read only then."""
    if not name.isidentifier():
        return False
    import glob
    from .paths import OBJ_DIR
    needle = b"__" + name.encode() + b"\0"        # a program's name in the symbol table
    for path in glob.glob(os.path.join(OBJ_DIR, "*.bpf.o")):
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    return True
        except OSError:
            pass
    return False


def summary() -> dict:
    """Every probe's answer, for `python -m corebpf features`."""
    return {
        "btf": has_btf(),
        "kernel_btf": kernel_btf(),
        "tracefs": _safe(tracefs),
        "kprobes": kprobes(),
        "uprobes": uprobes(),
        "ringbuf": ringbuf(),
        "tp_btf": tp_btf(),
        "raw_tp": raw_tp(),
        "fentry": fentry(),
        "task_pt_regs": task_pt_regs(),
        "hardware_pmu": hardware_pmu(),
        "preemptirq": preemptirq(),
        "possible_cpus": possible_cpus(),
    }


def _safe(fn):
    try:
        return fn()
    except OSError as e:
        return f"error: {e}"


def memory_cgroup():
    """(directory, version) of a cgroup hierarchy where a child cgroup gets a
    memory limit: cgroup v2 with the memory controller delegated from its
    root, else a v1 memory hierarchy; None if neither is mounted."""
    v1 = None
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    for dev, mnt, fstype, opts, *_ in mounts:
        if fstype == "cgroup2":
            try:
                with open(os.path.join(mnt, "cgroup.subtree_control")) as f:
                    if "memory" in f.read().split():
                        return mnt, 2
            except OSError:
                pass
        elif fstype == "cgroup" and "memory" in opts.split(",") and v1 is None:
            if os.path.exists(os.path.join(mnt, "memory.limit_in_bytes")):
                v1 = (mnt, 1)
    return v1

