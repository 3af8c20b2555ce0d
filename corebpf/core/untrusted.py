"""What other users control: their text on the operator's terminal, their
files read on a traced process's behalf.

The tools run as root and print what other users chose: file names,
command lines, comms, query texts, symbol names.  Two rules:

- Text: `text(b)` / `escape(s)` turn it into something a terminal cannot
  act on: C0 controls, DEL, C1 controls, line/paragraph separators and the
  bidirectional overrides become `\\xNN` / `\\uNNNN`; undecodable bytes are
  `\\xNN` too.  Records decoded from BPF (corebpf.core.btf) go through it,
  and the tools' stdout/stderr are `SafeStream`s (tools/_cli.py), which
  escape every control character but newline and tab, so nothing a tool
  prints can move the cursor, retitle the window or hide a line.  What a
  tool means to send (clear-screen) goes through `SafeStream.control()`.
- Files: `open_file()` applies perf's rule for files another user can
  plant (perf maps, debug files, binaries under /proc/PID/root): no
  symlink as the last component (where asked), never block (a FIFO), a
  regular file only, owned by root or by the traced process's user (where
  asked), the same inode as the one the process maps (where known), paths
  under a process's root resolved inside that root; `read_capped()` bounds
  what is read.  A refused file is skipped: `note()` says why once, with
  --verbose.
"""
from __future__ import annotations

import os
import stat
import sys

# C0, DEL, C1, U+2028/2029, bidi embeddings/overrides/isolates (Trojan Source),
# and lone surrogates (undecodable bytes of os.fsdecode'd paths); the stream's
# set keeps newline and tab (a tool's own output has them).  Compiled on first
# use: most runs never meet a control character (start-up stays lean).
_CLASS = "\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_RX = {}


def _rx(stream: bool):
    r = _RX.get(stream)
    if r is None:
        import re
        r = _RX[stream] = re.compile("[\x00-\x08" + _CLASS + "]" if stream else
                                     "[\x00-\x0a" + _CLASS + "]")
    return r


def _esc(m) -> str:
    c = ord(m.group())
    if 0xdc80 <= c <= 0xdcff:           # surrogateescape: the byte it stands for
        return "\\x%02x" % (c - 0xdc00)
    return "\\x%02x" % c if c < 0x100 else "\\u%04x" % c


def escape(s: str) -> str:
    """`s` with every control character (newline and tab included) as \\xNN."""
    if s.isprintable():             # the common case: one C-level scan
        return s
    return _rx(False).sub(_esc, s)


def text(b: bytes) -> str:
    """Bytes from another user (a file name, a comm, an argument) as safe text:
    UTF-8, undecodable bytes and control characters as \\xNN."""
    s = b.decode("utf-8", "backslashreplace")
    if s.isprintable():
        return s
    return _rx(False).sub(_esc, s)


def raw_text(b: bytes) -> str:
    """The same bytes decoded but not escaped (for output that escapes by
    construction, such as JSON): exact, bytes that are not UTF-8 as lone
    surrogates U+DC80..U+DCFF (surrogateescape: never dropped; JSON writes
    them as \\udcNN)."""
    return b.decode("utf-8", "surrogateescape")


_ASCII_CTRL = bytes(c for c in range(32) if c not in (9, 10)) + b"\x7f"


def escape_output(s: str) -> str:
    """What a SafeStream writes for `s`: newline and tab kept, other controls escaped."""
    if s.isascii():     # the common case, in C: ~5x faster than the regular expression
        b = s.encode("ascii")
        if len(b.translate(None, _ASCII_CTRL)) == len(b):
            return s
    elif _rx(True).search(s) is None:
        return s
    return _rx(True).sub(_esc, s)


class SafeStream:
    """A text stream whose writes cannot drive the terminal: every control
    character but newline and tab is written escaped.  `control(seq)` writes
    a sequence the program means (clear-screen) as it is."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, s) -> int:
        return self.stream.write(escape_output(s))

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def control(self, seq: str):
        """Write a control sequence the tool itself means to send."""
        self.stream.write(seq)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def write_control(stream, seq: str):
    """Write control sequence `seq` to `stream`, through control() if it is a SafeStream."""
    getattr(stream, "control", stream.write)(seq)


# -- files -------------------------------------------------------------------------

class Refused(OSError):
    """A file that must not be read on a traced process's behalf."""

    def __init__(self, path: str, why: str):
        super().__init__(0, why, path)
        self.why = why

    def __str__(self):
        return f"{self.filename}: {self.why}"


_SYS_OPENAT2 = 437              # the same on every architecture (the unified table)
_RESOLVE_NO_MAGICLINKS, _RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH, _RESOLVE_IN_ROOT = \
    0x02, 0x04, 0x08, 0x10
_openat2_ok = [None]


def _openat2(dirfd: int, rel: str, flags: int, resolve: int) -> int:
    """openat2(2) (5.6+); -1 with errno ENOSYS where the kernel or libc lacks it."""
    if _openat2_ok[0] is False:
        raise OSError(38, "openat2 unavailable")
    import struct
    from ._libbpf import ffi, libc
    how = ffi.new("char[]", struct.pack("=QQQ", flags, 0, resolve))
    path = ffi.new("char[]", os.fsencode(rel))
    fd = libc.syscall(ffi.cast("long", _SYS_OPENAT2), ffi.cast("long", dirfd), path, how,
                      ffi.cast("long", 24))
    if fd < 0:
        err = ffi.errno
        if err == 38:               # ENOSYS: an older kernel; plain openat from now on
            _openat2_ok[0] = False
        raise OSError(err, os.strerror(err), rel)
    _openat2_ok[0] = True
    return int(fd)


def _open_nofollow(path: str, root: str, follow: bool) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    if not follow:
        flags |= os.O_NOFOLLOW
    rel = path.lstrip("/") or "."
    dirfd = os.open(root or "/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # Inside a process's root, symlinks resolve inside that root (a container's
        # /tmp -> / must not lead to the host's /); elsewhere magic links are refused.
        resolve = (_RESOLVE_IN_ROOT if root else 0) | _RESOLVE_NO_MAGICLINKS
        try:
            return _openat2(dirfd, rel, flags, resolve)
        except OSError as e:
            if e.errno != 38:
                raise
        # No openat2 (before 5.6): walk the directories one by one, refusing
        # symlinks and "..", then open the last component from the last one.
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise OSError(40, "'..' in a path read on a process's behalf", path)
        cur = dirfd
        try:
            for comp in parts[:-1]:
                nxt = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC,
                              dir_fd=cur)
                if cur != dirfd:
                    os.close(cur)
                cur = nxt
            return os.open(parts[-1] if parts else ".", flags, dir_fd=cur)
        finally:
            if cur != dirfd:
                os.close(cur)
    finally:
        os.close(dirfd)


def open_file(path: str, root: str = None, follow: bool = False, owners=None,
              inode: int = None):
    """Open a file another user may control, for reading (binary).

    root: the traced process's root directory (/proc/PID/root): `path` is
    resolved inside it.  follow: allow a symlink as the last component.
    owners: uids allowed to own it (root and the process's user).  inode:
    the inode the process maps.  Raises Refused (or OSError) instead of
    opening a FIFO, a device, a directory or a file that fails a check.
    """
    shown = (root or "") + path
    try:
        fd = _open_nofollow(path, root, follow)
    except OSError as e:
        if e.errno in (40, 20) and os.path.lexists(shown):     # ELOOP, ENOTDIR: a symlink
            raise Refused(shown, "a symbolic link, not followed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else \
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else \
                "a directory" if stat.S_ISDIR(st.st_mode) else "a special file"
            raise Refused(shown, f"{kind}, not a regular file")
        if owners is not None and st.st_uid not in owners:
            raise Refused(shown, f"owned by uid {st.st_uid}, neither root nor the traced "
                                 "process's user")
        if inode is not None and st.st_ino != inode:
            raise Refused(shown, "not the file the process maps")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f


def open_regular(path: str, inode: int = None):
    """Open a regular file by a path that names it reliably (the operator's
    own, /proc/PID/map_files/... which the kernel resolves to the mapped
    file), never blocking on a FIFO; Refused for anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(path, "not a regular file")
        if inode is not None and st.st_ino != inode:
            raise Refused(path, "not the file the process maps")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(f, limit: int) -> bytes:
    """At most `limit` bytes of f (a file bigger than that is cut there)."""
    return f.read(limit)


def process_uid(pid: int):
    """The effective uid of process `pid`, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return int(line.split()[2])
    except (OSError, ValueError, IndexError):
        pass
    return None


_noted = set()


def note(message: str):
    """Say once, with --verbose (COREBPF_DEBUG), why a file was skipped."""
    from . import _log
    if message in _noted or not _log.verbose():
        return
    _noted.add(message)
    sys.stderr.write(f"corebpf: {escape(message)}\n")
