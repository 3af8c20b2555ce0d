"""corebpf: bcc's tracing tools on libbpf and CO-RE, with no compiler at run time.

The library opens CO-RE objects (the tools' own, built by build.py, or
yours, built by `corebpf compile`), configures them, lets libbpf relocate
them against the running kernel's BTF, attaches them and reads maps and
event buffers with layouts decoded from the objects' BTF.  docs/API.md is
the guide; every name in __all__ is public and stable, anything with a
leading underscore is not.
"""
from . import _early
_early.hold_signals_if_tool()
del _early

from .core.errors import (AttachError, BPFError, ConfigError, LibbpfError, LoadError,
                          MapError, MissingFeature, NoAccess)
from ._api import Object, Program
from .core.object import Link
from .core.maps import Map
from .core import features

# Imported on first use: most tools never need them, and start-up is measured.
# (The event buffers too: Object.ring_buffer()/perf_buffer() import them; the
# summary tools never do, and they bring mmap and select.)
_LAZY = {
    "RingBuffer": "core.events", "PerfBuffer": "core.events",
    "KernelSymbols": "symbols.syms", "ProcessSymbols": "symbols.syms",
    "SymbolCache": "symbols.syms", "ksym": "symbols.syms", "Stacks": "symbols.stacks",
    "ElfError": "symbols.elf",
    "trace_print": "core.tracepipe", "trace_fields": "core.tracepipe",
    "trace_readline": "core.tracepipe", "TraceFields": "core.tracepipe",
    "PerfType": "core.perf", "PerfSWConfig": "core.perf", "PerfHWConfig": "core.perf",
    "histogram": None,
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'corebpf' has no attribute {name!r}")
    import sys
    full = f"{__name__}.{_LAZY[name] or name}"
    __import__(full)                # not importlib: one package less at start
    mod = sys.modules[full]
    return mod if _LAZY[name] is None else getattr(mod, name)


def sym(addr: int, pid: int, show_offset: bool = False, show_module: bool = False) -> str:
    """The name of user address `addr` in process `pid` (bcc's BPF.sym()): the
    function, "+0x.." with show_offset, " [module]" with show_module;
    "[unknown]" when nothing maps it.  Uses one SymbolCache per process run."""
    return _symbol_cache().sym(addr, pid, show_offset=show_offset, show_module=show_module)


def unwind_user_stack(pid: int, dump) -> list:
    """The user stack in a dump made by ustack.bpf.h's ustack_capture(): its
    return addresses, innermost first, unwound with the Call Frame
    Information of each file mapped in process `pid` (which must still be
    running), as `--unwind dwarf` does in the tools.  `dump` is the record's
    decoded struct ustack_dump (fields regs, size, flags, data); [] if it
    holds no user context.  Name the addresses with sym(addr, pid).  Files'
    CFI and symbols are cached for the Python process."""
    global _unwinder
    if dump.flags or not dump.size:
        return []
    if _unwinder is None:
        from .symbols.unwind import Unwinder
        _unwinder = Unwinder(_symbol_cache())
    return _unwinder.unwind(pid, list(dump.regs), bytes(dump.data[:dump.size]))


def _symbol_cache():
    global _syms
    if _syms is None:
        from .symbols.syms import SymbolCache
        _syms = SymbolCache()
    return _syms


_syms = None
_unwinder = None

__version__ = "0.1.0"

__all__ = ["Object", "Program", "Link", "Map", "RingBuffer", "PerfBuffer", "features",
           "histogram", "BPFError", "LoadError", "AttachError", "MapError", "MissingFeature",
           "NoAccess", "ConfigError", "LibbpfError", "ElfError", "KernelSymbols",
           "ProcessSymbols", "SymbolCache", "Stacks", "ksym", "sym", "unwind_user_stack",
           "trace_print",
           "trace_fields", "trace_readline", "TraceFields", "PerfType", "PerfSWConfig",
           "PerfHWConfig",
           "__version__"]
