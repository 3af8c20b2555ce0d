"""The per-file cache of ELF symbol tables (corebpf.symbols.syms._TableCache,
kept through corebpf.core.kcache): a table loaded from it resolves every
address exactly as the file parsed (system libraries, the Python binary,
a test program plain, stripped with a debug file by build id, by
debuglink), a live process's frames come out the same with it, and an
entry that is damaged, unsafe, stale or inconsistent is not used but
rebuilt.  Root: the cache is root's (kcache.enabled())."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys

import pytest

from corebpf.core import kcache
from corebpf.symbols import syms

pytestmark = pytest.mark.usefixtures("root")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("COREBPF_CACHE_DIR", str(d))
    monkeypatch.delenv("COREBPF_CACHE", raising=False)
    monkeypatch.setattr(syms._TableCache, "_total", None)
    syms._ELF_CACHE.clear()
    yield d
    syms._ELF_CACHE.clear()


def _fresh():
    """As a new process: no file's table kept in this one (the vDSO's, read
    from memory and never cached on disk, is kept)."""
    for k in [k for k in syms._ELF_CACHE if k[0] != "image"]:
        del syms._ELF_CACHE[k]


def _entry_of(d, path, droot, root="", owners=None):
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
    return d / syms._TableCache._key(st, droot, os.path.dirname(path), root, owners)[0]


def _entries(d) -> list:
    return sorted(p for p in d.iterdir() if p.name.startswith(syms._TableCache.PREFIX)) \
        if d.exists() else []


class _Parses:
    """Counts the symbol tables read from ELF files (not from the cache)."""

    def __init__(self, monkeypatch):
        self.n = 0
        real = syms._read_symbols

        def counted(*a, **k):
            self.n += 1
            return real(*a, **k)
        monkeypatch.setattr(syms, "_read_symbols", counted)


def _addresses(es, rng, count=4000) -> list:
    """Every symbol's start, a byte inside and one past it, a random address
    in each load segment's range and below/above the table."""
    out = []
    for i in range(len(es)):
        s, z = es.starts[i], es.sizes[i]
        out += [s, s + 1, s + z, s - 1]
    for _off, size, vaddr in es.segments:
        out += [vaddr + rng.randrange(size) for _ in range(count // max(1, len(es.segments)))]
    out += [0, 1, (1 << 64) - 1]
    return out


def _same_tables(a, b, rng):
    assert b is not None
    assert (len(a), a.segments, a.build_id, a.debug_file) == \
        (len(b), b.segments, b.build_id, b.debug_file)
    assert a.names == b.names
    for addr in _addresses(a, rng):
        assert a.lookup(addr) == b.lookup(addr), hex(addr)
    for off in range(0, max((o + s for o, s, _ in a.segments), default=0), 4093):
        assert a.vaddr(off) == b.vaddr(off)


def _system_files() -> list:
    paths = [os.path.realpath(sys.executable)]
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and "x" in parts[1] and parts[5].strip().startswith("/") and \
                    ".so" in parts[5]:
                paths.append(parts[5].strip())
    return sorted(set(paths))


def _strip(src, dst, *args):
    shutil.copy(src, dst)
    subprocess.run(["objcopy", *args, str(dst)], check=True)


@pytest.fixture
def stripped(stackprog, tmp_path):
    """{name: (path, debug_root)}: the test program plain, stripped with its
    debug file under a debug root by build id, stripped with a
    .gnu_debuglink beside it (CRC), stripped with no debug file."""
    src = stackprog["pie"]
    debug = tmp_path / "stackprog.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(src), str(debug)], check=True)
    bid = syms.elf_symbols(str(debug)).build_id
    _fresh()
    droot = tmp_path / "debugroot"
    (droot / ".build-id" / bid[:2]).mkdir(parents=True)
    shutil.copy(debug, droot / ".build-id" / bid[:2] / f"{bid[2:]}.debug")
    (tmp_path / "b").mkdir()
    by_id = tmp_path / "b" / "stackprog"
    _strip(src, by_id, "--strip-all")
    (tmp_path / "l").mkdir()
    link = tmp_path / "l" / "stackprog"
    _strip(src, link, "--strip-all", "--remove-section=.note.gnu.build-id")
    shutil.copy(debug, tmp_path / "l" / "stackprog.dbg")
    subprocess.run(["objcopy", "--add-gnu-debuglink=stackprog.dbg", str(link)], check=True,
                   cwd=tmp_path / "l")
    return {"plain": (str(src), ""), "build-id": (str(by_id), str(droot)),
            "debuglink": (str(link), ""), "none": (str(by_id), "")}


def test_cached_tables_resolve_as_parsed(cache, stripped, monkeypatch):
    """Each file three ways: parsed with the cache off, parsed and stored,
    loaded (no ELF table read): the same symbols, segments, build id, debug
    file and answer for every address looked up."""
    rng = random.Random(17)
    files = [(p, syms.DEBUG_ROOT, "/proc/1/root", {0}) for p in _system_files()]
    files += [(p, droot, "", None) for p, droot in stripped.values()]
    parses = _Parses(monkeypatch)
    for path, droot, root, owners in files:
        monkeypatch.setenv("COREBPF_CACHE", "off")
        _fresh()
        plain = syms.elf_symbols(path, droot, root, owners=owners)
        assert plain is not None, path
        monkeypatch.delenv("COREBPF_CACHE")
        _fresh()
        stored = syms.elf_symbols(path, droot, root, owners=owners)
        _fresh()
        before = parses.n
        loaded = syms.elf_symbols(path, droot, root, owners=owners)
        assert parses.n == before, f"{path}: read again, not loaded from the cache"
        _same_tables(plain, stored, rng)
        _same_tables(plain, loaded, rng)
    assert len(_entries(cache)) >= len(files)
    # the debug files were found (the comparison covers their symbols)
    assert len(syms.elf_symbols(stripped["build-id"][0], stripped["build-id"][1])) > 5
    assert syms.elf_symbols(*stripped["debuglink"]).debug_file.endswith("stackprog.dbg")
    assert len(syms.elf_symbols(*stripped["none"])) == 0


def test_live_process_frames_same_with_the_cache(cache, stackprog, monkeypatch):
    """Every executable mapping of a running program (its binary, libc, ld.so,
    the vDSO): sampled addresses give the same text with offsets and modules
    with the cache off, cold (stored) and warm (loaded)."""
    t = subprocess.Popen([str(stackprog["pie"]), "addr"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        spin = int(t.stdout.readline().split()[0], 16)
        rng = random.Random(5)
        addrs = [spin, spin + 3]
        with open(f"/proc/{t.pid}/maps") as f:
            for line in f:
                parts = line.split()
                if "x" in parts[1]:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    addrs += [lo + rng.randrange(hi - lo) for _ in range(800)]

        def frames():
            _fresh()
            p = syms.SymbolCache().process(t.pid)
            return [p.sym(a, True, True) for a in addrs]
        monkeypatch.setenv("COREBPF_CACHE", "off")
        want = frames()
        monkeypatch.delenv("COREBPF_CACHE")
        assert frames() == want
        parses = _Parses(monkeypatch)
        assert frames() == want
        assert parses.n == 0                # all from the cache
        assert _entries(cache)
        assert "corebpf_spin_marker+0x3 [stackprog]" in want
        assert sum(w != "[unknown]" and "[libc" in w for w in want) > 100
    finally:
        t.stdin.close()
        t.wait(10)


def test_entry_root_only_and_refused_when_unsafe(cache, stripped, monkeypatch):
    """An entry is a root 0600 file in the 0700 directory; one that is damaged
    (CRC), truncated, readable by others, owned by another user or a
    symbolic link is not used: the file is read again and the entry
    replaced by a good one."""
    path, droot = stripped["build-id"]
    want = syms.elf_symbols(path, droot)
    entry = _entry_of(cache, path, droot)
    st = os.lstat(entry)
    assert st.st_uid == 0 and (st.st_mode & 0o777) == 0o600
    assert (os.lstat(cache).st_mode & 0o777) == 0o700
    good = entry.read_bytes()
    parses = _Parses(monkeypatch)

    def damage_crc():
        data = bytearray(good)
        data[-2] ^= 0x01
        entry.write_bytes(bytes(data))

    def truncate():
        entry.write_bytes(good[:len(good) // 2])

    def others():
        entry.write_bytes(good)
        os.chmod(entry, 0o644)

    def owner():
        entry.write_bytes(good)
        os.chown(entry, 1000, 1000)

    def symlink():
        other = cache.parent / "elsewhere"
        other.write_bytes(good)
        os.chmod(other, 0o600)
        entry.unlink()
        entry.symlink_to(other)

    rng = random.Random(3)
    for spoil in (damage_crc, truncate, others, owner, symlink):
        spoil()
        _fresh()
        before = parses.n
        got = syms.elf_symbols(path, droot)
        assert parses.n > before, f"{spoil.__name__}: the entry was used"
        _same_tables(want, got, rng)
        st = os.lstat(entry)                # replaced by a good one, which is used
        assert not os.path.islink(entry) and st.st_uid == 0 and \
            (st.st_mode & 0o777) == 0o600, spoil.__name__
        _fresh()
        before = parses.n
        syms.elf_symbols(path, droot)
        assert parses.n == before, spoil.__name__


def test_inconsistent_entry_is_data_not_trusted(cache, stripped, monkeypatch):
    """An entry with a valid CRC whose counts do not fit its length (or whose
    name offsets overrun) is refused: the file is parsed again."""
    path, droot = stripped["plain"]
    want = syms.elf_symbols(path, droot)
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
    name, key = syms._TableCache._key(st, droot, os.path.dirname(path), "", None)
    rng = random.Random(9)
    for payload in (b"", b"\xff" * 32, syms._TableCache._HEAD.pack(1 << 40, 0, 0, 0),
                    syms._TableCache._HEAD.pack(1, 0, 16, 5) + bytes(16) + bytes(8 * 4) +
                    b"abcde"):      # 4 empty strings, then offsets [0, 0] for 5 bytes
        assert kcache.store(name, key, payload)
        _fresh()
        parses = _Parses(monkeypatch)
        _same_tables(want, syms.elf_symbols(path, droot), rng)
        assert parses.n > 0


def test_stale_when_the_file_or_its_debug_file_changes(cache, stackprog, tmp_path,
                                                       monkeypatch):
    """A debug file installed after the entry was made is found; a changed
    binary (same size, mtime set back) is read again."""
    src = stackprog["pie"]
    debug = tmp_path / "stackprog.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(src), str(debug)], check=True)
    exe = tmp_path / "x" / "stackprog"
    exe.parent.mkdir()
    _strip(src, exe, "--strip-all")
    bid = syms.elf_symbols(str(debug)).build_id
    droot = tmp_path / "debugroot"
    _fresh()
    assert syms.elf_symbols(str(exe), str(droot)).lookup(0x1) is None
    assert len(syms.elf_symbols(str(exe), str(droot))) == 0
    (droot / ".build-id" / bid[:2]).mkdir(parents=True)
    shutil.copy(debug, droot / ".build-id" / bid[:2] / f"{bid[2:]}.debug")
    _fresh()
    es = syms.elf_symbols(str(exe), str(droot))
    assert "corebpf_spin_marker" in es.names
    assert es.debug_file.endswith(".debug")
    # a debug file removed: no longer used
    (droot / ".build-id" / bid[:2] / f"{bid[2:]}.debug").unlink()
    _fresh()
    assert len(syms.elf_symbols(str(exe), str(droot))) == 0
    # a binary rewritten in place, a name changed, the same size, its mtime put back
    plain = tmp_path / "y" / "stackprog"
    plain.parent.mkdir()
    shutil.copy(src, plain)
    assert "corebpf_spin_marker" in syms.elf_symbols(str(plain), "").names
    st = os.stat(plain)
    data = plain.read_bytes()
    assert data.count(b"corebpf_spin_marker\0") == 1
    plain.write_bytes(data.replace(b"corebpf_spin_marker\0", b"corebpf_spun_marker\0"))
    os.utime(plain, ns=(st.st_atime_ns, st.st_mtime_ns))
    _fresh()
    names = syms.elf_symbols(str(plain), "").names
    assert "corebpf_spun_marker" in names and "corebpf_spin_marker" not in names


def test_total_size_bounded_least_recently_used_evicted(cache, stripped, tmp_path,
                                                       monkeypatch):
    """Past MAX_BYTES in all, the least recently used entries go (a load
    counts as a use); the one just written stays."""
    paths = sorted({p for p, _ in stripped.values()})
    for p in paths:
        _fresh()
        syms.elf_symbols(p, "")
    entries = [_entry_of(cache, p, "") for p in paths]
    for i, e in enumerate(entries):             # written in this order, a second apart
        os.utime(e, ns=(0, (1_000_000 + i) * 10 ** 9))
    _fresh()
    syms.elf_symbols(paths[0], "")              # the oldest, used now
    total = sum(e.stat().st_size for e in _entries(cache))
    monkeypatch.setattr(syms._TableCache, "MAX_BYTES", total)      # full
    newest = tmp_path / "newest"
    shutil.copy(paths[0], newest)
    _fresh()
    syms.elf_symbols(str(newest), "")
    left = _entries(cache)
    assert sum(e.stat().st_size for e in left) <= total
    assert entries[0] in left and _entry_of(cache, str(newest), "") in left
    assert entries[1] not in left               # the least recently used
