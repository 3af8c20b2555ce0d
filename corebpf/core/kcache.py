"""A per-kernel cache of each packaged object's minimal kernel BTF (and of
other facts fixed until the next boot: load()/store(), e.g. the kernel's own
symbols for corebpf.symbols.syms; and of per-file ELF symbol tables, whose
entries touch() marks used and evict() keeps within a size).

libbpf parses the kernel's whole BTF (5+ MB, 20-70 ms here) for every
object it relocates; the types an object's CO-RE relocations touch fit in a
few KB (corebpf.core.minbtf computes them).  They are kept in
/var/cache/corebpf (COREBPF_CACHE_DIR), one file per object file, and handed to
libbpf as btf_custom_path.  Every file names what it was computed from (the
kernel's build id, its BTF's size and mtime; the object's size and mtime)
and carries a CRC-32 of its payload; a file from another kernel or object,
or damaged, is recomputed.

Trust: only a directory owned by this (root) user, mode 0700, in a parent
nobody else can write, is used; the directory is created so when missing,
and left alone (the cache is not used, the full BTF is) when it is not
safe.  A file is read only through O_NOFOLLOW and used only when it is a
regular file owned by this user, mode 0600 (no group/other bits), one link;
one that is not is replaced (atomically, by rename).  libbpf reads the
verified bytes themselves: a memfd holding them, /proc/self/fd/N.  COREBPF_CACHE=off turns the cache
off.  An object whose relocations a minimal BTF cannot serve is recorded as
such (an empty entry) and keeps the full BTF.

A miss is computed in a short-lived forked child (prepare(): several objects
with one parse of the kernel's BTF), which writes the file and exits: the
kernel's parsed BTF (~12 MB of Python objects) never raises the peak memory
of the process that loads the object (the exporter's cold start 52 -> 39 MB,
a tool's 29 -> 17 MB).  Where no child can run (fork fails, other threads)
or it fails, the miss is computed in the process itself.
"""
from __future__ import annotations

import os
import stat
import struct

from . import _log
from .paths import OBJ_DIR

CACHE_DIR = "/var/cache/corebpf"
KERNEL_BTF = "/sys/kernel/btf/vmlinux"
_MAGIC = b"CBPFMIN1"
_LEN = struct.Struct("<I")
_kernel = {}        # kernel identity -> minbtf.KernelTypes, when a miss was computed here


def cache_dir() -> str:
    return os.environ.get("COREBPF_CACHE_DIR") or CACHE_DIR


def enabled() -> bool:
    """The cache is on (not COREBPF_CACHE=off) and this process is root."""
    return os.environ.get("COREBPF_CACHE", "") not in ("off", "0", "no") and os.geteuid() == 0


def _note(msg: str):
    if _log.verbose():
        import sys
        print(f"corebpf: BTF cache: {msg}", file=sys.stderr)


def kernel_identity() -> bytes:
    """The running kernel's build id and its BTF file's size and mtime."""
    st = os.stat(KERNEL_BTF)
    bid = b""
    try:
        with open("/sys/kernel/notes", "rb") as f:
            notes = f.read(65536)
        pos = 0
        while pos + 12 <= len(notes):
            namesz, descsz, typ = struct.unpack_from("<III", notes, pos)
            name_end = pos + 12 + ((namesz + 3) & ~3)
            if typ == 3 and notes[pos + 12:pos + 12 + namesz] == b"GNU\0":
                bid = notes[name_end:name_end + descsz].hex().encode()
                break
            pos = name_end + ((descsz + 3) & ~3)
    except OSError:
        pass
    return b"kernel %s %d %d" % (bid, st.st_size, st.st_mtime_ns)


def dir_problem(path: str, create: bool = True):
    """None if `path` is a directory fit for the cache (creating it if
    missing and `create`), else why not, in a few words."""
    euid = os.geteuid()
    parent = os.path.dirname(os.path.abspath(path))
    try:
        pst = os.stat(parent)
    except OSError as e:
        return f"{parent}: {e.strerror}"
    if pst.st_uid not in (0, euid) or (pst.st_mode & 0o022 and not pst.st_mode & stat.S_ISVTX):
        return f"{parent} is writable by other users"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return "missing"
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            return e.strerror
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if st.st_uid != euid:
        return f"owned by uid {st.st_uid}, not {euid}"
    if st.st_mode & 0o077:
        return f"mode {stat.S_IMODE(st.st_mode):04o} (group/other access)"
    return None


def file_problem(st) -> str:
    """None if an opened cache file's fstat is safe to trust, else why not."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o077:
        return f"mode {stat.S_IMODE(st.st_mode):04o} (group/other access)"
    if st.st_nlink != 1:
        return f"{st.st_nlink} hard links"
    return None


def _key(obj_path: str) -> bytes:
    st = os.stat(obj_path)
    return kernel_identity() + b"|object %d %d" % (st.st_size, st.st_mtime_ns)


def _encode(key: bytes, payload: bytes) -> bytes:
    import zlib
    return _MAGIC + _LEN.pack(len(key)) + key + _LEN.pack(zlib.crc32(payload)) + \
        _LEN.pack(len(payload)) + payload


def _decode(data: bytes, key: bytes):
    """The payload of a cache file's bytes, or None (not ours, stale, damaged)."""
    import zlib
    n = len(_MAGIC)
    if data[:n] != _MAGIC or len(data) < n + 4:
        return None
    klen, = _LEN.unpack_from(data, n)
    pos = n + 4 + klen
    if data[n + 4:pos] != key or len(data) < pos + 8:
        return None
    crc, plen = struct.unpack_from("<II", data, pos)
    payload = data[pos + 8:]
    if len(payload) != plen or zlib.crc32(payload) != crc:
        return None
    return payload


class Entry:
    """A verified cache file, open: `path` names it for libbpf (None: the
    object keeps the full BTF); close() when libbpf has read it."""

    def __init__(self, fd, path):
        self.fd = fd
        self.path = path

    def close(self):
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def _open_verified(path: str, key: bytes):
    """(fd, payload) of a safe, current cache file, else (None, why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, "missing"
    except OSError as e:
        return None, "a symbolic link" if e.errno == 40 else e.strerror      # ELOOP
    try:
        st = os.fstat(fd)
        why = file_problem(st)
        if why is None:
            data = os.read(fd, st.st_size + 1)
            payload = _decode(data, key)
            if payload is not None:
                return fd, payload
            why = "stale or damaged"
    except OSError as e:
        why = e.strerror
    os.close(fd)
    return None, why


def _write(path: str, data: bytes):
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)        # replaces a bad file or link itself, never its target


def boot_identity() -> bytes:
    """This boot's id and the running kernel's identity: what stays true only
    until the next boot (kernel addresses: KASLR picks them at boot)."""
    with open("/proc/sys/kernel/random/boot_id", "rb") as f:
        boot = f.read(64).strip()
    return b"boot %s|" % boot + kernel_identity()


def load(name: str, key: bytes):
    """The payload of cache file `name` when the cache is on, the file safe
    and stored under `key`, else None (the caller computes it, and store()s)."""
    if not enabled():
        return None
    d = cache_dir()
    why = dir_problem(d, create=False)
    if why:
        _note(f"{d} not used: {why}")
        return None
    fd, payload = _open_verified(os.path.join(d, name), key)
    if fd is None:
        _note(f"{name}: {payload}")
        return None
    os.close(fd)
    return payload


def store(name: str, key: bytes, payload: bytes) -> bool:
    """Keep `payload` under `key` in cache file `name` (when the cache is on
    and its directory safe; a failure is only noted with --verbose).  True
    if it was written."""
    if not enabled():
        return False
    d = cache_dir()
    why = dir_problem(d)
    if why:
        _note(f"{d} not used: {why}")
        return False
    try:
        _write(os.path.join(d, name), _encode(key, payload))
    except OSError as e:
        _note(f"{name}: not written: {e.strerror}")
        return False
    return True


def touch(name: str):
    """Mark cache file `name` as just used (evict() keeps the recently used)."""
    try:
        os.utime(os.path.join(cache_dir(), name), follow_symlinks=False)
    except OSError:
        pass


def evict(prefix: str, max_bytes: int, keep: str = None):
    """Remove the least recently used cache files named `prefix`* (the
    oldest modification time first; load()ers touch() theirs) until those
    left hold at most `max_bytes`; never `keep`.  For caches with an entry
    per thing seen (corebpf.symbols.syms: one per ELF file), which would
    otherwise grow without end.  Returns the bytes left (None: not looked)."""
    if not enabled() or dir_problem(cache_dir(), create=False):
        return None
    d = cache_dir()
    files = []
    try:
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith(prefix) and e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    files.append((st.st_mtime_ns, st.st_size, e.name))
    except OSError as e:
        _note(f"{d}: {e.strerror}")
        return None
    total = sum(size for _, size, _ in files)
    for _, size, name in sorted(files):
        if total <= max_bytes:
            break
        if name == keep:
            continue
        try:
            os.unlink(os.path.join(d, name))
            total -= size
        except OSError as e:
            _note(f"{name}: not removed: {e.strerror}")
    return total


_probed = {}        # {"feature": value} of the cache's features file, once read


def _features_key():
    """The features file's key: the kernel's identity and its loaded modules
    (a module's tracepoints come and go, and change, with the module); None
    if the kernel's identity cannot be read."""
    try:
        key = kernel_identity()
    except OSError:
        return None
    import zlib
    try:
        with open("/proc/modules", "rb") as f:
            mods = b" ".join(b" ".join(ln.split()[:2]) for ln in f)
    except OSError:
        mods = b""
    return key + b"|modules %08x" % zlib.crc32(mods)


def probed(feature: str, probe):
    """A kernel feature's probed value, from the cache when it holds this
    kernel's (and loaded modules') answer, else probe() (stored when an int).
    Only for what the kernel's build fixes (a tracepoint's argument count)."""
    if not enabled():
        return probe()
    if "_loaded" not in _probed:
        _probed["_loaded"] = None
        key = _features_key()
        if key is None:
            return probe()
        _probed["_key"] = key
        payload = load("probed", key)
        if payload is not None:
            for line in payload.decode("ascii", "replace").splitlines():
                k, _, v = line.partition("=")
                _probed[k] = None if v == "-" else int(v) if v.lstrip("-").isdigit() else v
    if feature in _probed and feature[0] != "_":
        return _probed[feature]
    value = probe()
    if "_key" in _probed and isinstance(value, int) and "=" not in feature \
            and "\n" not in feature:     # None (no such tracepoint, no BPF) may change
        _probed[feature] = value
        text = "".join(f"{k}={'-' if v is None else v}\n" for k, v in sorted(_probed.items())
                       if k[0] != "_")
        store("probed", _probed["_key"], text.encode())
    return value


def forget():
    """Drop the parsed kernel BTF kept between misses computed in this process
    (~12 MB; only when no child could compute them): a process that loads many
    objects at once (the exporter) calls it when done loading, so a cold cache
    does not cost it that memory for good."""
    _kernel.clear()


def entry_path(d: str, obj_path: str, name: str) -> str:
    """The cache file of object file `obj_path` in cache directory `d`: one
    per object file, so checkouts side by side do not replace each other's."""
    import zlib
    return os.path.join(d, f"{name}.{zlib.crc32(os.path.abspath(obj_path).encode()):08x}.btf")


def _target(obj_path: str):
    """(key, object's name, cache file) of packaged object `obj_path`, or
    None when the cache cannot be used for it (noted with --verbose)."""
    if not enabled() or os.path.dirname(os.path.abspath(obj_path)) != OBJ_DIR:
        return None
    d = cache_dir()
    why = dir_problem(d)
    if why:
        _note(f"{d} not used: {why}")
        return None
    try:
        key = _key(obj_path)
    except OSError as e:
        _note(f"no kernel BTF identity: {e.strerror}")
        return None
    name = os.path.basename(obj_path).split(".")[0]        # not the caller's: a file name
    return key, name, entry_path(d, obj_path, name)


def _compute(obj_path: str, key: bytes, name: str, path: str) -> bool:
    """Compute and write the cache file of `obj_path` in this process (the
    kernel's parsed BTF kept in _kernel for the next one); False if not written."""
    from . import minbtf
    try:
        with open(obj_path, "rb") as f:
            obj = f.read()
        ident = key.partition(b"|")[0]
        if ident not in _kernel:
            with open(KERNEL_BTF, "rb") as f:
                _kernel.clear()
                _kernel[ident] = minbtf.KernelTypes(f.read())
        payload = minbtf.compute(obj, _kernel[ident])
    except minbtf.Unsupported as e:
        _note(f"{name}: full BTF ({e})")
        payload = b""
    except OSError as e:
        _note(f"{name}: {e.strerror}")
        return False
    try:
        _write(path, _encode(key, payload))
    except OSError as e:
        _note(f"{path}: not written: {e.strerror}")
        return False
    return True


def _in_child(targets) -> bool:
    """Compute the cache files of `targets` [(obj_path, key, name, path)] in
    a forked child that exits when done: the kernel's parsed BTF (~12 MB of
    Python objects) and the allocator's arenas it leaves behind are the
    child's, never this (possibly long-lived) process' peak.  True if the
    child ran and exited 0."""
    import sys
    import threading
    if threading.active_count() > 1:
        return False        # a lock another thread holds would be held for good in the child
    from . import minbtf  # noqa: F401  (imported here, not in the child)
    try:
        pid = os.fork()
    except OSError as e:
        _note(f"no child to compute in: {e.strerror}")
        return False
    if pid == 0:                                    # the child: compute, write, _exit
        code = 1
        try:
            ok = True
            for t in targets:
                ok = _compute(*t) and ok
            code = 0 if ok else 1
        except BaseException:                       # noqa: B036  (never back into the caller)
            pass
        finally:
            try:
                if _log.verbose():
                    sys.stderr.flush()
            finally:
                os._exit(code)
    # No time limit: the child does what this process would do otherwise
    # (a child killed after 60 s left a tool, 16 starting at once in a
    # one-vCPU emulated guest, to compute it all again in-process: its header
    # came 137-150 s after its start on Debian's 7.3 kernel).  An exception
    # here (Ctrl-C) kills it.
    done = 0
    try:
        done, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) == 0
    finally:
        if not done:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass


def prepare(obj_paths) -> int:
    """Compute the missing or stale cache files of packaged objects
    `obj_paths` at once, in a short-lived child process (one parse of the
    kernel's BTF for all of them): what a process about to load several
    objects (the exporter) calls first.  Returns how many were missing; an
    entry the child could not write is computed by min_btf() as before."""
    todo = []
    for p in dict.fromkeys(obj_paths):
        t = _target(p)
        if t is None:
            continue
        key, name, path = t
        fd, _why = _open_verified(path, key)
        if fd is not None:
            os.close(fd)
            continue
        todo.append((p, key, name, path))
    if todo:
        _note(f"computing {len(todo)} entries in a child process")
        _in_child(todo)
    return len(todo)


def min_btf(obj_path: str, name: str):
    """An Entry for packaged object `obj_path` (computed and stored on a
    miss: in a child process unless the parsed kernel BTF is already here,
    see _in_child), or None when the cache cannot be used (then nothing was
    written)."""
    t = _target(obj_path)
    if t is None:
        return None
    key, name, path = t
    fd, payload = _open_verified(path, key)
    if fd is None:
        _note(f"{path}: {payload}: computing")
        target = (obj_path, key, name, path)
        # here when the kernel's BTF is parsed here already (or no child ran)
        if (_kernel or not _in_child([target])) and not _compute(*target):
            return None
        fd, payload = _open_verified(path, key)
        if fd is None:
            _note(f"{path}: {payload} after writing it")
            return None
    if not payload:
        os.close(fd)
        return Entry(None, None)
    # libbpf is given the verified bytes (the raw BTF after our header), not
    # a path someone could change between our check and its read
    mfd = os.memfd_create(f"corebpf-{name}.btf", os.MFD_CLOEXEC)
    os.close(fd)
    os.write(mfd, payload)
    return Entry(mfd, f"/proc/self/fd/{mfd}")
