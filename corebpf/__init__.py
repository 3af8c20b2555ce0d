"""corebpf: bcc's tracing tools on libbpf and CO-RE, with no compiler at run time.

The library opens the CO-RE objects built by build.py, configures them,
lets libbpf relocate them against the running kernel's BTF, attaches them
and reads maps and event buffers with layouts decoded from the objects' BTF.
"""
from . import _early
_early.hold_signals_if_tool()
del _early

from .core.errors import (AttachError, BPFError, ConfigError, LibbpfError, LoadError,
                          MapError, MissingFeature, NoAccess)
from .core.object import Link, Object, Program
from .core.maps import Map
from .core.events import PerfBuffer, RingBuffer
from .core import features

_LAZY = {"KernelSymbols": "syms", "ProcessSymbols": "syms", "SymbolCache": "syms"}


def __getattr__(name):
    # symbolization is needed by a few tools only: import it on first use
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'corebpf' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f".{mod}", __name__), name)

__version__ = "0.1.0"

__all__ = ["Object", "Program", "Link", "Map", "RingBuffer", "PerfBuffer", "features",
           "BPFError", "LoadError", "AttachError", "MapError", "MissingFeature", "NoAccess",
           "ConfigError", "LibbpfError", "KernelSymbols", "ProcessSymbols", "SymbolCache",
           "__version__"]
