"""corebpf: bcc's tracing tools on libbpf and CO-RE, with no compiler at run time.

The library opens the CO-RE objects built by build.py, configures them,
lets libbpf relocate them against the running kernel's BTF, attaches them
and reads maps and event buffers with layouts decoded from the objects' BTF.
"""
from . import _early
_early.hold_signals_if_tool()
del _early

from .errors import (AttachError, BPFError, ConfigError, LibbpfError, LoadError,
                     MapError, MissingFeature)
from .object import Link, Object, Program
from .maps import Map
from .events import PerfBuffer, RingBuffer
from . import features
from .syms import KernelSymbols, ProcessSymbols, SymbolCache

__version__ = "0.1.0"

__all__ = ["Object", "Program", "Link", "Map", "RingBuffer", "PerfBuffer", "features",
           "BPFError", "LoadError", "AttachError", "MapError", "MissingFeature",
           "ConfigError", "LibbpfError", "KernelSymbols", "ProcessSymbols", "SymbolCache",
           "__version__"]
