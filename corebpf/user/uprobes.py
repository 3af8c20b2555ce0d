"""uprobes/uretprobes by symbol name, the way bcc names them.

    uprobes.attach(prog, "c", "getaddrinfo", pid=1234)          # libc via ld.so.cache
    uprobes.attach(prog, "/bin/bash", "readline", retprobe=True)
    uprobes.attach_pattern(prog, "c", "gethostby*")             # every match; [Link]
    uprobes.functions("c", "pthread_*")                        # [(name, offset)]

`lib` is what bcc accepts as a uprobe's library: a path (absolute or
relative), a library name (`c`, `pthread`, `libssl.so.3`: mapped in `pid`,
then ld.so.cache, then the standard directories) or an executable on PATH.
The symbol is looked up in .symtab and .dynsym and turned into a file offset
(PIE executables and shared libraries alike); libbpf then attaches at that
offset, with the kernel's PID filter when `pid` > 0.
"""
from __future__ import annotations

import os

from ..symbols.elf import ElfError, check_pid, mapping, open_elf, resolve_binary
from .usdt import require_uprobes


def resolve(lib: str, pid: int = None) -> str:
    """Absolute path of `lib` (see the module doc); ElfError if not found."""
    return resolve_binary(lib, pid if pid and pid > 0 else None)


def offset(lib: str, symbol: str, pid: int = None) -> tuple:
    """(path, file offset) of function `symbol` in `lib`; ElfError if absent."""
    path = resolve(lib, pid)
    return path, open_elf(path).symbol_offset(symbol)


def function_site(lib: str, symbol: str, pid: int = None) -> tuple:
    """(path, file offset) where a uprobe on function `symbol` of `lib` fires on
    every call: the symbol itself, or for a GNU indirect function (strlen,
    memcpy...) the implementation its resolver picks on this machine (the
    resolver runs only once per process).  ElfError if absent."""
    path = resolve(lib, pid)
    e = open_elf(path)
    off = e.symbol_offset(symbol)
    hit = e.symbol(symbol)
    if hit is not None and hit[0] in e.ifunc_addresses():
        impl = ifunc_implementation(path, symbol)
        if impl is not None:
            return impl
    return path, off


def ifunc_implementation(path: str, name: str):
    """(path, file offset) of the function an indirect function `name` of
    shared object `path` resolves to here: dlopen + dlsym in this process run
    the same resolver, on the same CPU, as the traced programs.  None when the
    object cannot be loaded here (an executable, another architecture)."""
    import ctypes
    try:
        handle = ctypes.CDLL(path)
        addr = ctypes.cast(getattr(handle, name), ctypes.c_void_p).value
    except (OSError, AttributeError, ValueError):
        return None
    if not addr:
        return None
    m = mapping("self", addr)
    if m is None:
        return None
    mapped, off, _ = m
    return (path if _same_file(mapped, path) else mapped), off


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def functions(lib: str, pattern: str, pid: int = None, regex: bool = False) -> list:
    """[(name, file offset)] of the functions of `lib` matching a glob or regex."""
    return open_elf(resolve(lib, pid)).match_symbols(pattern, regex=regex)


def has_function(lib: str, symbol: str, pid: int = None) -> bool:
    try:
        return open_elf(resolve(lib, pid)).symbol(symbol) is not None
    except ElfError:
        return False


def attach(program, lib: str, symbol: str = None, pid: int = -1, retprobe: bool = False,
           addr: int = None, cookie: int = 0):
    """Attach `program` at function `symbol` (or file offset `addr`) of `lib`,
    for process `pid` only when pid > 0.  Returns the Link."""
    if pid and pid > 0:
        check_pid(pid)
    path = resolve(lib, pid)
    require_uprobes()
    site = path
    if addr is None:
        if not symbol:
            raise ElfError("a uprobe needs a symbol or an address")
        site, off = function_site(path, symbol, pid)
    else:
        off = addr
    link = program.attach_uprobe(site, offset=off, pid=pid if pid and pid > 0 else -1,
                                 retprobe=retprobe, cookie=cookie)
    link.target = f"{path}:{symbol or hex(off)}"
    return link


def attach_pattern(program, lib: str, pattern: str, pid: int = -1, retprobe: bool = False,
                   regex: bool = False, cookies=None) -> list:
    """Attach `program` to every function of `lib` matching `pattern`; the
    cookie of each link is its index in the returned list unless `cookies`
    maps names to cookies.  ElfError if nothing matches."""
    matches = functions(lib, pattern, pid, regex)
    if not matches:
        raise ElfError(f"{resolve(lib, pid)}: no function matches {pattern!r}")
    links = []
    seen = set()
    for i, (name, off) in enumerate(matches):
        if off in seen:             # aliases (e.g. __libc_malloc = malloc)
            continue
        seen.add(off)
        ck = cookies.get(name, 0) if cookies else i
        links.append(attach(program, lib, name, pid, retprobe, addr=off, cookie=ck))
        links[-1].target = f"{resolve(lib, pid)}:{name}"
    return links
